# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Evaluation and benchmarking: measuring what a language model can do
#
# A change to a model is only an improvement if a measurement says so, and a
# measurement is only useful if you know exactly what it computes. This notebook
# builds the standard automatic metrics from their definitions, checks each one
# against numbers worked out by hand and against a reference implementation, and
# then asks the two questions every benchmark result should answer: *how sure are
# we of this number?* and *can we trust the model's own confidence?*
#
# **What you will build**
#
# 1. **Perplexity** from token log-probabilities, checked against PyTorch's
#    cross-entropy, and used to pick the smoothing of a tiny character model.
# 2. **Precision, recall and F1**, for classification and for the token-overlap
#    F1 used to grade question answering.
# 3. **BLEU** (clipped n-gram precision, brevity penalty, geometric mean,
#    smoothing), checked against `sacrebleu` to 1e-9.
# 4. **ROUGE-L** from the longest common subsequence, checked against brute force.
# 5. A **multiple-choice benchmark harness** that scores options by
#    log-likelihood, with accuracy and a **bootstrap confidence interval**.
# 6. **Calibration**: a reliability diagram, the **expected calibration error**,
#    and **temperature scaling** to repair an overconfident model.
#
# Everything runs on the CPU in well under a minute, and every claim below is
# checked by an `assert`. Besides NumPy, matplotlib and PyTorch, it uses
# `sacrebleu` as the reference BLEU implementation (`pip install sacrebleu` if
# your environment lacks it).

# %%
import importlib
import inspect
import math
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(2)

# %% [markdown]
# ## 1. Perplexity
#
# A language model assigns a probability to each next token. Over a text of $N$
# tokens, the average negative log-likelihood (the cross-entropy loss used in
# training) is
#
# $$\mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N} \log p(x_i \mid x_{<i}),
# \qquad \text{PPL} = e^{\mathcal{L}}.$$
#
# Perplexity reads as "the model is as unsure as if it chose uniformly among PPL
# tokens at every step": a uniform model over $V$ tokens has perplexity exactly
# $V$, and a perfect model has perplexity 1. Two hand-checkable cases first: a
# uniform model, and a model that gave the three observed tokens probabilities
# $\tfrac12, \tfrac14, \tfrac18$, whose mean negative log-likelihood is
# $\tfrac{1}{3}(1+2+3)\ln 2 = 2\ln 2$, so its perplexity is $e^{2\ln 2} = 4$.


# %%
def perplexity(token_log_probs: Sequence[float]) -> float:
    """Perplexity = exp(mean negative log-likelihood); log-probs are natural logs."""
    log_probs = np.asarray(token_log_probs, dtype=np.float64)
    return float(np.exp(-log_probs.mean()))


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax over the last axis (subtract the max first)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


vocab_size = 50
assert math.isclose(perplexity([math.log(1 / vocab_size)] * 7), vocab_size)
assert math.isclose(perplexity(np.log([1 / 2, 1 / 4, 1 / 8])), 4.0)

# The same number from PyTorch: perplexity is exp(cross-entropy).
rng = np.random.default_rng(0)
logits = rng.normal(size=(12, vocab_size))
targets = rng.integers(0, vocab_size, size=12)
ours = perplexity(log_softmax(logits)[np.arange(12), targets])
reference = math.exp(F.cross_entropy(torch.from_numpy(logits), torch.from_numpy(targets)).item())
assert math.isclose(ours, reference, rel_tol=1e-12)
print(f"perplexity of random logits: ours {ours:.6f}, torch {reference:.6f}")

# %% [markdown]
# ### Perplexity on held-out text selects the model
#
# Perplexity is only meaningful on text the model did **not** train on, and only
# between models that share a tokenizer (a per-character perplexity and a
# per-word perplexity are different units). To see the first point, we fit a
# character trigram model, $p(c_i \mid c_{i-2} c_{i-1})$, by counting, with
# add-$k$ smoothing:
#
# $$p(c \mid h) = \frac{\text{count}(h, c) + k}{\text{count}(h) + kV}.$$
#
# The corpus is the docstrings of standard-library modules, so it is on every
# Python install. Whole modules are held out, so the test text is genuinely new.

# %%
MODULES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
]  # fmt: skip
HELD_OUT_MODULES = {"json", "textwrap", "fractions", "csv"}
ALPHABET = string.ascii_lowercase + string.digits + " .,;:()'\"-_=*[]\n"


def module_docstrings(module_name: str) -> str:
    """All public docstrings of a module, lowercased, characters outside ALPHABET -> ' '."""
    module = importlib.import_module(module_name)
    parts = [inspect.getdoc(module) or ""]
    for name, obj in inspect.getmembers(module):
        if not name.startswith("_") and (inspect.isroutine(obj) or inspect.isclass(obj)):
            parts.append(inspect.getdoc(obj) or "")
    text = "\n".join(parts).lower()
    return "".join(ch if ch in ALPHABET else " " for ch in text)


train_text = "".join(module_docstrings(m) for m in MODULES if m not in HELD_OUT_MODULES)
test_text = "".join(module_docstrings(m) for m in MODULES if m in HELD_OUT_MODULES)
char_to_id = {ch: i for i, ch in enumerate(ALPHABET)}
V = len(ALPHABET)
print(f"train {len(train_text):,} chars, held-out {len(test_text):,} chars, V = {V}")


def trigram_counts(text: str) -> np.ndarray:
    """counts[a, b, c] = how often character c followed the pair (a, b)."""
    ids = np.array([char_to_id[ch] for ch in text])
    counts = np.zeros((V, V, V))
    np.add.at(counts, (ids[:-2], ids[1:-1], ids[2:]), 1)
    return counts


def trigram_log_probs(counts: np.ndarray, text: str, k: float) -> np.ndarray:
    """Log-probability of every character of `text` after its two predecessors."""
    ids = np.array([char_to_id[ch] for ch in text])
    a, b, c = ids[:-2], ids[1:-1], ids[2:]
    return np.log((counts[a, b, c] + k) / (counts[a, b].sum(axis=-1) + k * V))


counts = trigram_counts(train_text)
ks = np.logspace(-4, 1, 11)
train_ppl = [perplexity(trigram_log_probs(counts, train_text, k)) for k in ks]
test_ppl = [perplexity(trigram_log_probs(counts, test_text, k)) for k in ks]
best_k = ks[int(np.argmin(test_ppl))]
print(f"best k = {best_k:.3g}: held-out perplexity {min(test_ppl):.2f} (uniform model: {V})")

# %%
fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogx(ks, train_ppl, "o-", label="training text")
ax.semilogx(ks, test_ppl, "s-", label="held-out modules")
ax.axvline(best_k, color="grey", linestyle=":", label=f"best k on held-out = {best_k:.2g}")
ax.set_xlabel("add-k smoothing constant k")
ax.set_ylabel("perplexity per character")
ax.set_title("Character trigram model: perplexity vs smoothing")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** On its own training text the model looks best with almost
# no smoothing: it has memorised those counts. On held-out modules, tiny $k$ is
# punished because unseen trigrams get almost zero probability, and large $k$
# flattens every distribution towards uniform. Judged on training text you would
# pick the wrong model; this is why every LLM paper reports *validation*
# perplexity. The best held-out model is far better than uniform guessing.

# %%
assert min(test_ppl) < 0.5 * V, "the trigram model should beat uniform guessing by far"
assert train_ppl[0] < test_ppl[0], "with almost no smoothing the model overfits its training text"
assert 0 < np.argmin(test_ppl) < len(ks) - 1, "the best smoothing is in the interior of the sweep"

# %% [markdown]
# ## 2. Precision, recall and F1
#
# For a yes/no decision (is this email spam? is this answer toxic?), count true
# positives (TP), false positives (FP) and false negatives (FN):
#
# $$P = \frac{TP}{TP+FP},\qquad R = \frac{TP}{TP+FN},\qquad
# F_1 = \frac{2PR}{P+R}.$$
#
# Precision asks "when the model says yes, is it right?", recall asks "of all
# the real yeses, how many did it find?". $F_1$ is their harmonic mean, so it is
# low whenever either one is low.
#
# Question-answering benchmarks (SQuAD and many LLM evaluations) reuse the same
# formula on **tokens**: the predicted answer's tokens are the "positives", the
# gold answer's tokens are the "truth", and overlap counts as TP.


# %%
def precision_recall_f1(predicted: Sequence[int], actual: Sequence[int]) -> tuple[float, float, float]:
    """Binary precision, recall and F1 (label 1 is the positive class)."""
    pairs = list(zip(predicted, actual, strict=True))
    tp = sum(p == 1 and a == 1 for p, a in pairs)
    fp = sum(p == 1 and a == 0 for p, a in pairs)
    fn = sum(p == 0 and a == 1 for p, a in pairs)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style F1: overlap of the two answers' token multisets."""
    pred_tokens, gold_tokens = prediction.lower().split(), gold.lower().split()
    overlap = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


# Ten emails: the model flags 4 as spam (3 correctly) and misses 2 real spams.
predicted = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
actual = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]
p, r, f1 = precision_recall_f1(predicted, actual)
print(f"precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}")
# By hand: TP=3, FP=1, FN=2 -> P=3/4, R=3/5, F1 = 2*(0.45)/(1.35) = 2/3.
assert (p, r) == (3 / 4, 3 / 5) and math.isclose(f1, 2 / 3)

# "cat" and "sat" overlap: P = 2/3, R = 2/4, F1 = 2*(1/3)/(7/6) = 4/7.
assert math.isclose(token_f1("the cat sat", "a cat sat down"), 4 / 7)
assert token_f1("Paris", "paris") == 1.0 and token_f1("London", "Paris") == 0.0

# %% [markdown]
# ## 3. BLEU
#
# BLEU (Papineni et al., 2002) scores a candidate text against one or more
# reference texts. Its four ingredients:
#
# 1. **Modified n-gram precision.** For each n-gram of the candidate, credit at
#    most as many occurrences as the *most* any single reference contains
#    ("clipping"). Without clipping, the candidate `the the the the the the the`
#    would get unigram precision 7/7 against `the cat is on the mat`.
# 2. Precisions $p_1,\dots,p_4$ are combined by a **geometric mean**, so a single
#    zero makes the whole score zero.
# 3. Precision alone rewards short outputs, so a **brevity penalty** applies when
#    the candidate length $c$ is below the reference length $r$ (the closest
#    reference length, ties going to the shorter):
#    $\text{BP} = \min(1, e^{1 - r/c})$.
# 4. At **corpus** level, clipped counts and lengths are summed over all
#    sentences *before* dividing; the corpus score is not the average of sentence
#    scores.
#
# $$\text{BLEU} = \text{BP}\cdot\exp\Big(\frac{1}{4}\sum_{n=1}^{4}\log p_n\Big)$$


# %%
def ngrams(tokens: Sequence[str], n: int) -> Counter:
    """Multiset of the n-grams (as tuples) of a token sequence."""
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def clipped_matches(candidate: Sequence[str], references: Sequence[Sequence[str]], n: int) -> tuple[int, int]:
    """(clipped matching n-grams, total candidate n-grams) for one sentence."""
    cand_counts = ngrams(candidate, n)
    max_ref_counts: Counter = Counter()
    for ref in references:
        max_ref_counts |= ngrams(ref, n)  # `|` keeps the maximum count per n-gram
    clipped = sum(min(count, max_ref_counts[gram]) for gram, count in cand_counts.items())
    return clipped, sum(cand_counts.values())


def closest_reference_length(candidate_length: int, reference_lengths: Sequence[int]) -> int:
    """The reference length nearest to the candidate's; ties go to the shorter one."""
    return min(reference_lengths, key=lambda r: (abs(r - candidate_length), r))


def brevity_penalty(candidate_length: int, reference_length: int) -> float:
    if candidate_length >= reference_length:
        return 1.0
    return math.exp(1 - reference_length / candidate_length) if candidate_length > 0 else 0.0


def bleu(
    candidates: Sequence[str],
    references: Sequence[Sequence[str]],
    max_n: int = 4,
    smooth: str = "none",
) -> float:
    """Corpus BLEU in [0, 1]. references[i] lists the references of candidates[i].

    smooth="exp" is the NIST/mteval smoothing: the k-th order with zero matches
    gets precision 1 / (2**k * total) instead of 0. Orders for which the candidates
    have no n-grams at all are left out of the mean (sacrebleu's "effective order").
    """
    matches, totals = [0] * max_n, [0] * max_n
    cand_len = ref_len = 0
    for cand, refs in zip(candidates, references, strict=True):
        cand_tokens, ref_tokens = cand.split(), [r.split() for r in refs]
        cand_len += len(cand_tokens)
        ref_len += closest_reference_length(len(cand_tokens), [len(r) for r in ref_tokens])
        for n in range(1, max_n + 1):
            m, t = clipped_matches(cand_tokens, ref_tokens, n)
            matches[n - 1] += m
            totals[n - 1] += t
    log_precisions, zero_orders = [], 0
    for m, t in zip(matches, totals, strict=True):
        if t == 0:
            break
        if m == 0 and smooth == "none":
            return 0.0
        if m == 0:
            zero_orders += 1
            log_precisions.append(-math.log(2**zero_orders * t))
        else:
            log_precisions.append(math.log(m / t))
    if not log_precisions:
        return 0.0
    return brevity_penalty(cand_len, ref_len) * math.exp(sum(log_precisions) / len(log_precisions))


# %% [markdown]
# Hand checks. The degenerate candidate gets clipped unigram precision 2/7
# ("the" appears at most twice in a reference). For `the cat sat on the mat`
# against `the cat is on the mat`, count by hand: 5/6 unigrams, 3/5 bigrams
# (*the cat, on the, the mat*), 1/4 trigrams (*on the mat*) and 0/3 four-grams
# match. Unsmoothed BLEU is therefore **0**, even though the sentence is nearly
# right; that is why sentence-level BLEU needs smoothing. With exp smoothing the
# four-gram precision becomes $1/(2\cdot3)$ and the score is
# $(\tfrac56\cdot\tfrac35\cdot\tfrac14\cdot\tfrac16)^{1/4} \approx 0.380$.

# %%
refs_cat = ["the cat is on the mat", "there is a cat on the mat"]
assert clipped_matches("the the the the the the the".split(), [r.split() for r in refs_cat], 1) == (2, 7)
assert closest_reference_length(7, [6, 7]) == 7 and closest_reference_length(5, [4, 6]) == 4
assert math.isclose(brevity_penalty(4, 6), math.exp(-0.5))

hyp, ref = "the cat sat on the mat", "the cat is on the mat"
assert [clipped_matches(hyp.split(), [ref.split()], n) for n in (1, 2, 3, 4)] == [
    (5, 6),
    (3, 5),
    (1, 4),
    (0, 3),
]
assert bleu([hyp], [[ref]]) == 0.0
hand_value = (5 / 6 * 3 / 5 * 1 / 4 * 1 / 6) ** 0.25
assert math.isclose(bleu([hyp], [[ref]], smooth="exp"), hand_value)

sacre = sacrebleu.sentence_bleu(hyp, [ref], smooth_method="exp", tokenize="none")
print(f"sentence BLEU: ours {100 * bleu([hyp], [[ref]], smooth='exp'):.6f}, sacrebleu {sacre.score:.6f}")
assert math.isclose(100 * hand_value, sacre.score, rel_tol=1e-9)

# %% [markdown]
# Now a small corpus with two references per sentence, including a short
# candidate (brevity penalty) and one with no four-gram match. `sacrebleu` takes
# the references as *streams* (all first references, then all second
# references). We pass `tokenize="none"` because our BLEU splits on spaces; the
# default `13a` tokenizer would also split punctuation, which is the setting to
# use when you report BLEU in a paper, so that numbers are comparable.

# %%
corpus_candidates = [
    "the cat sat on the mat",
    "a quick brown fox jumps over the lazy dog",
    "it is raining",
    "the model predicts the next token given the previous tokens",
    "attention lets every token look at every other token",
]
corpus_references = [
    ["the cat is on the mat", "there is a cat on the mat"],
    ["the quick brown fox jumps over the lazy dog", "a fast brown fox leaps over a lazy dog"],
    ["it is raining heavily today", "today it rains a lot"],
    [
        "the model predicts the next token from the previous tokens",
        "given previous tokens the model predicts the next one",
    ],
    [
        "with attention every token can look at all other tokens",
        "attention allows each token to attend to every other token",
    ],
]
ours_corpus = bleu(corpus_candidates, corpus_references)
reference_streams = [list(stream) for stream in zip(*corpus_references, strict=True)]
sacre_corpus = sacrebleu.corpus_bleu(
    corpus_candidates, reference_streams, smooth_method="none", tokenize="none"
)
print(f"corpus BLEU: ours {100 * ours_corpus:.9f}, sacrebleu {sacre_corpus.score:.9f}")
assert math.isclose(100 * ours_corpus, sacre_corpus.score, rel_tol=1e-9)

mean_sentence_bleu = np.mean(
    [bleu([c], [r], smooth="exp") for c, r in zip(corpus_candidates, corpus_references, strict=True)]
)
print(f"mean of smoothed sentence BLEUs: {100 * mean_sentence_bleu:.2f} (a different number)")
assert abs(100 * mean_sentence_bleu - sacre_corpus.score) > 0.5

# %% [markdown]
# ## 4. ROUGE-L
#
# ROUGE was designed for summarisation, where *recall* of the reference's content
# matters most. ROUGE-L uses the **longest common subsequence** (LCS): the
# longest sequence of tokens appearing in both texts in the same order, not
# necessarily adjacent. With $m$ reference and $n$ candidate tokens,
# $R = \text{LCS}/m$, $P = \text{LCS}/n$ and $F = 2PR/(P+R)$.
#
# The LCS comes from a dynamic programme: `table[i][j]` is the LCS length of the
# first `i` tokens of one text and the first `j` of the other. The example from
# Lin (2004): against `police killed the gunman`, the candidate
# `police kill the gunman` shares *police the gunman* (LCS 3, F = 3/4), while
# `the gunman kill police` only shares *the gunman* (LCS 2, F = 1/2). Both have
# the same unigrams; only word order separates them.


# %%
def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence, O(len(a) * len(b))."""
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, token_a in enumerate(a, start=1):
        for j, token_b in enumerate(b, start=1):
            if token_a == token_b:
                table[i][j] = table[i - 1][j - 1] + 1
            else:
                table[i][j] = max(table[i - 1][j], table[i][j - 1])
    return table[-1][-1]


def rouge_l(candidate: str, reference: str) -> tuple[float, float, float]:
    """ROUGE-L (precision, recall, F1) on whitespace tokens."""
    cand, ref = candidate.split(), reference.split()
    lcs = lcs_length(cand, ref)
    if lcs == 0:
        return 0.0, 0.0, 0.0
    precision, recall = lcs / len(cand), lcs / len(ref)
    return precision, recall, 2 * precision * recall / (precision + recall)


def lcs_brute_force(a: str, b: str) -> int:
    """Reference LCS: try every subsequence of `a`, longest first (tiny inputs only)."""
    for size in range(len(a), 0, -1):
        for idx in combinations(range(len(a)), size):
            sub = iter(b)
            if all(a[i] in sub for i in idx):  # `in` on an iterator consumes it: an order-preserving match
                return size
    return 0


assert rouge_l("police kill the gunman", "police killed the gunman") == (0.75, 0.75, 0.75)
assert rouge_l("the gunman kill police", "police killed the gunman") == (0.5, 0.5, 0.5)
_, recall_short, _ = rouge_l("the cat", "the cat sat on the mat")
assert math.isclose(recall_short, 2 / 6)  # a short summary is precise but recalls little

rng = np.random.default_rng(0)
for _ in range(200):
    a = "".join(rng.choice(list("abc"), size=rng.integers(0, 9)))
    b = "".join(rng.choice(list("abc"), size=rng.integers(0, 9)))
    assert lcs_length(a, b) == lcs_brute_force(a, b), (a, b)
print("ROUGE-L hand examples and 200 random LCS checks passed")

# %% [markdown]
# ## 5. A multiple-choice benchmark harness
#
# Benchmarks such as MMLU, HellaSwag or ARC are multiple-choice. A common way to
# run them on a base model (used by EleutherAI's `lm-evaluation-harness`) is to
# score each option by the **log-likelihood** the model assigns to it as a
# continuation of the question, and pick the highest. The harness below knows
# nothing about the model: it takes any `scorer(context, continuation) -> float`.
#
# To have a model whose knowledge we control, we invent a small world of 120
# countries and their capitals, and write a training text that states a
# fraction of the facts. A word trigram model (interpolated with bigram and
# unigram estimates, so unseen contexts still get a sensible probability) is
# trained on it. Model **A** reads 40% of the facts, model **B** reads 80%.
# The benchmark asks about all 120 countries, so each model meets questions on
# facts it has read and on facts it has never seen.


# %%
@dataclass(frozen=True)
class MultipleChoiceQuestion:
    question: str
    context: str  # what the model is asked to continue
    options: tuple[str, ...]
    answer_index: int


def make_name(rng: np.random.Generator, n_syllables: int) -> str:
    syllables = [
        "ka",
        "lo",
        "mir",
        "ta",
        "vel",
        "du",
        "sen",
        "ra",
        "bo",
        "zi",
        "qu",
        "ne",
        "tor",
        "pa",
        "li",
        "gar",
    ]
    return "".join(rng.choice(syllables, size=n_syllables))


rng = np.random.default_rng(0)
names: list[str] = []
while len(names) < 240:  # unique names: 120 countries, then 120 capitals
    name = make_name(rng, 3)
    if name not in names:
        names.append(name)
countries, capitals = names[:120], names[120:]
fact_order = rng.permutation(120)


def training_text(fraction_of_facts: float) -> list[list[str]]:
    """Sentences stating the first `fraction` of the facts, each said 1-3 times."""
    n_seen = int(fraction_of_facts * len(countries))
    sentences = []
    for i in fact_order[:n_seen]:
        for _ in range(rng.integers(1, 4)):
            sentences.append(f"the capital of {countries[i]} is {capitals[i]} .".split())
    return sentences


class InterpolatedTrigramModel:
    """p(w | u v) = 0.7 p3 + 0.2 p2 + 0.1 p1, each level add-0.01 smoothed."""

    def __init__(self, sentences: list[list[str]], vocabulary: list[str]) -> None:
        self.vocab_size = len(vocabulary)
        self.uni, self.bi, self.tri = Counter(), Counter(), Counter()
        self.bi_ctx, self.tri_ctx = Counter(), Counter()
        for sentence in sentences:
            tokens = ["<s>", "<s>", *sentence]
            for u, v, w in zip(tokens, tokens[1:], tokens[2:], strict=False):
                self.uni[w] += 1
                self.bi[v, w] += 1
                self.bi_ctx[v] += 1
                self.tri[u, v, w] += 1
                self.tri_ctx[u, v] += 1
        self.total = sum(self.uni.values())

    def log_prob(self, u: str, v: str, w: str, k: float = 0.01) -> float:
        p1 = (self.uni[w] + k) / (self.total + k * self.vocab_size)
        p2 = (self.bi[v, w] + k) / (self.bi_ctx[v] + k * self.vocab_size)
        p3 = (self.tri[u, v, w] + k) / (self.tri_ctx[u, v] + k * self.vocab_size)
        return math.log(0.7 * p3 + 0.2 * p2 + 0.1 * p1)

    def score(self, context: str, continuation: str) -> float:
        """Sum of log p(token | two previous tokens) over the continuation's tokens."""
        tokens = ["<s>", "<s>", *context.split()]
        total = 0.0
        for token in continuation.split():
            total += self.log_prob(tokens[-2], tokens[-1], token)
            tokens.append(token)
        return total


vocabulary = ["the", "capital", "of", "is", ".", *countries, *capitals]
model_a = InterpolatedTrigramModel(training_text(0.4), vocabulary)
model_b = InterpolatedTrigramModel(training_text(0.8), vocabulary)

benchmark = []
for i in range(len(countries)):
    distractors = rng.choice([c for j, c in enumerate(capitals) if j != i], size=3, replace=False)
    options = [capitals[i], *distractors]
    order = rng.permutation(4)  # shuffle, so "always pick A" cannot score above chance
    benchmark.append(
        MultipleChoiceQuestion(
            question=f"What is the capital of {countries[i]}?",
            context=f"the capital of {countries[i]} is",
            options=tuple(options[o] for o in order),
            answer_index=int(np.argwhere(order == 0)[0, 0]),
        )
    )
q = benchmark[0]
print(q.question, "options:", ", ".join(f"{'ABCD'[j]}) {o}" for j, o in enumerate(q.options)))

# %% [markdown]
# The harness returns one 0/1 correctness value per question, not just the mean:
# the per-question results are what the confidence interval is built from.
#
# **Bootstrap confidence interval.** The benchmark is one sample of the
# questions we could have asked. Resampling the questions with replacement many
# times, and recomputing accuracy each time, shows how much the number would move
# with a different sample; the 2.5th and 97.5th percentiles give a 95% interval.
# To compare two models, resample the *same* questions for both (a paired
# bootstrap) and look at the interval of the difference.


# %%
def run_benchmark(
    questions: Sequence[MultipleChoiceQuestion], scorer: Callable[[str, str], float]
) -> np.ndarray:
    """Per-question correctness (1.0 or 0.0): pick the option with the highest score."""
    correct = []
    for question in questions:
        scores = [scorer(question.context, option) for option in question.options]
        correct.append(float(int(np.argmax(scores)) == question.answer_index))
    return np.array(correct)


def bootstrap_interval(
    values: np.ndarray, n_resamples: int = 5000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of `values`."""
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(values), size=(n_resamples, len(values)))
    means = values[indices].mean(axis=1)
    alpha = (1 - level) / 2
    return float(np.quantile(means, alpha)), float(np.quantile(means, 1 - alpha))


correct_a = run_benchmark(benchmark, model_a.score)
correct_b = run_benchmark(benchmark, model_b.score)
ci_a, ci_b = bootstrap_interval(correct_a), bootstrap_interval(correct_b)
ci_diff = bootstrap_interval(correct_b - correct_a)
print(f"model A accuracy {correct_a.mean():.3f}  95% CI [{ci_a[0]:.3f}, {ci_a[1]:.3f}]")
print(f"model B accuracy {correct_b.mean():.3f}  95% CI [{ci_b[0]:.3f}, {ci_b[1]:.3f}]")
print(
    f"B - A            {(correct_b - correct_a).mean():+.3f}  95% CI [{ci_diff[0]:+.3f}, {ci_diff[1]:+.3f}]"
)

# %%
assert ci_a[0] > 0.25 and ci_b[0] > 0.25, "both models are above chance (1 in 4)"
assert ci_a[0] <= correct_a.mean() <= ci_a[1]
assert ci_diff[0] > 0, "B's advantage over A is larger than resampling noise"

rng_plot = np.random.default_rng(1)
resample = rng_plot.integers(0, len(benchmark), size=(5000, len(benchmark)))
bins = (np.arange(0, len(benchmark) + 2, 2) - 0.5) / len(benchmark)  # accuracy moves in steps of 1/120
fig, ax = plt.subplots(figsize=(6, 4))
ax.hist(correct_a[resample].mean(axis=1), bins=bins, alpha=0.6, label="model A (40% of facts)")
ax.hist(correct_b[resample].mean(axis=1), bins=bins, alpha=0.6, label="model B (80% of facts)")
ax.axvline(0.25, color="black", linestyle="--", label="chance")
ax.set_xlabel("accuracy on a bootstrap resample of the 120 questions")
ax.set_ylabel("number of resamples")
ax.set_title("Bootstrap distribution of benchmark accuracy")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** With 120 questions, each accuracy is uncertain by several
# points either way. A leaderboard gap of one or two points on a benchmark of
# this size says nothing; here the gap is large enough that the paired interval
# excludes zero. Real harnesses also care about the prompt format, the few-shot
# examples, and whether option scores are normalised by length: scoring a long
# option by its summed log-probability penalises it for every extra token.

# %% [markdown]
# A single accuracy hides *where* a model fails. Splitting model A's results by
# whether the fact was in its training text shows something a mean cannot: on
# unseen facts it does **worse than chance**. With no trigram evidence, its
# probabilities fall back to how often each capital appeared in training, so it
# prefers a distractor it has read about over a correct answer it has never
# seen. Real models show the same bias towards frequent answers, which is why
# benchmark reports break results down by category.

# %%
seen_by_a = np.zeros(len(countries), dtype=bool)
seen_by_a[fact_order[: int(0.4 * len(countries))]] = True
acc_seen, acc_unseen = correct_a[seen_by_a].mean(), correct_a[~seen_by_a].mean()
print(
    f"model A: accuracy {acc_seen:.3f} on the {seen_by_a.sum()} facts it read, {acc_unseen:.3f} on the rest"
)
assert acc_seen > 0.9, "facts stated in the training text are answered correctly"
assert acc_unseen < 0.25, "unseen facts: the frequency prior beats the right answer"

# %% [markdown]
# ## 6. Calibration: can we trust the model's confidence?
#
# A model is **calibrated** if, among predictions made with confidence 0.8, about
# 80% are right. A **reliability diagram** bins predictions by confidence and
# plots accuracy against confidence; a calibrated model lies on the diagonal. The
# **expected calibration error** summarises the gaps, weighted by bin size:
#
# $$\text{ECE} = \sum_{b} \frac{|B_b|}{N}\,\big|\text{acc}(B_b) - \text{conf}(B_b)\big|.$$
#
# Hand check: four predictions with confidences 0.9, 0.9, 0.6, 0.6, where the
# first is right, the second wrong and the last two right. The 0.9 bin has
# accuracy 0.5 (gap 0.4), the 0.6 bin accuracy 1.0 (gap 0.4), each holds half the
# predictions, so ECE = 0.4.


# %%
def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins (a bin holds confidences in (lo, hi])."""
    bin_ids = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        in_bin = bin_ids == b
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - confidences[in_bin].mean())
    return float(ece)


assert math.isclose(
    expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1.0, 0.0, 1.0, 1.0]), n_bins=10), 0.4
)

# %% [markdown]
# **Synthetic predictions.** We draw logits for 20,000 ten-class examples and
# then draw each true label *from the softmax of those logits*. By construction,
# a model that outputs exactly that softmax is calibrated. An overconfident model
# is simulated by multiplying the same logits by 2.5 before the softmax: it ranks
# the classes identically (same accuracy) but its probabilities are too sharp,
# the typical failure of large networks trained long on cross-entropy.

# %%
rng = np.random.default_rng(0)
n_examples, n_classes, sharpening = 20_000, 10, 2.5
true_logits = rng.normal(0.0, 1.5, size=(n_examples, n_classes))
true_probs = np.exp(log_softmax(true_logits))
labels = (rng.random(n_examples)[:, None] > np.cumsum(true_probs, axis=1)).sum(axis=1)  # inverse-CDF sampling
overconfident_logits = sharpening * true_logits


def confidence_and_correct(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    probs = np.exp(log_softmax(logits))
    return probs.max(axis=1), (probs.argmax(axis=1) == labels).astype(float)


conf_cal, correct_cal = confidence_and_correct(true_logits, labels)
conf_over, correct_over = confidence_and_correct(overconfident_logits, labels)
ece_cal = expected_calibration_error(conf_cal, correct_cal)
ece_over = expected_calibration_error(conf_over, correct_over)
print(
    f"accuracy {correct_cal.mean():.3f} (both models); ECE calibrated {ece_cal:.4f}, overconfident {ece_over:.4f}"
)
assert np.array_equal(correct_cal, correct_over), "scaling logits does not change the predicted class"
assert ece_cal < 0.02 and ece_over > 5 * ece_cal

# %% [markdown]
# **Temperature scaling** (Guo et al., 2017) divides all logits by one number
# $T$, fitted on held-out data by minimising the negative log-likelihood. It
# cannot change which class is predicted, only how confident the model is. We fit
# $T$ on the first half of the examples by a grid search (a one-parameter problem
# needs nothing fancier) and measure ECE on the second half. Since the
# overconfidence was a factor of 2.5, we expect $T \approx 2.5$.


# %%
def mean_nll(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean())


fit_half, test_half = slice(0, n_examples // 2), slice(n_examples // 2, None)
temperatures = np.linspace(0.5, 5.0, 451)
nll_curve = [mean_nll(overconfident_logits[fit_half] / t, labels[fit_half]) for t in temperatures]
best_temperature = float(temperatures[int(np.argmin(nll_curve))])

conf_before, correct_before = confidence_and_correct(overconfident_logits[test_half], labels[test_half])
conf_after, correct_after = confidence_and_correct(
    overconfident_logits[test_half] / best_temperature, labels[test_half]
)
ece_before = expected_calibration_error(conf_before, correct_before)
ece_after = expected_calibration_error(conf_after, correct_after)
print(f"fitted T = {best_temperature:.2f}; test ECE {ece_before:.4f} -> {ece_after:.4f}")

assert abs(best_temperature - sharpening) < 0.3
assert ece_after < 0.3 * ece_before, "temperature scaling removes most of the calibration error"
assert np.array_equal(correct_before, correct_after), "temperature scaling keeps accuracy unchanged"


# %%
def plot_reliability(
    ax: plt.Axes, confidences: np.ndarray, correct: np.ndarray, title: str, n_bins: int = 15
) -> None:
    edges = np.linspace(0, 1, n_bins + 1)
    bin_ids = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    accuracy = [correct[bin_ids == b].mean() if (bin_ids == b).any() else 0.0 for b in range(n_bins)]
    ax.bar(
        edges[:-1],
        accuracy,
        width=1 / n_bins,
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="accuracy in bin",
    )
    ax.plot([0, 1], [0, 1], "r--", label="perfect calibration")
    ece = expected_calibration_error(confidences, correct, n_bins)
    ax.set_title(f"{title}\nECE = {ece:.3f}")
    ax.set_xlabel("confidence (max probability)")
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left", fontsize=8)


fig, axes = plt.subplots(1, 3, figsize=(12, 4))
plot_reliability(axes[0], conf_cal[test_half], correct_cal[test_half], "calibrated model")
plot_reliability(axes[1], conf_before, correct_before, "overconfident (logits x 2.5)")
plot_reliability(axes[2], conf_after, correct_after, f"after temperature scaling, T = {best_temperature:.2f}")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** The overconfident model's bars sit *below* the diagonal:
# when it says 95%, it is right far less often. Dividing its logits by the fitted
# temperature puts the bars back on the diagonal without changing a single
# prediction. Calibration matters for LLM products whenever a probability is
# used to decide something: abstaining when unsure, routing to a human, or
# reporting a confidence score to a user.
#
# ## What to try next
#
# 1. Replace add-$k$ in the character model by interpolation with the bigram
#    and unigram estimates (as in section 5), and compare held-out perplexity.
# 2. Compute BLEU with `sacrebleu`'s default `13a` tokenizer on sentences with
#    punctuation, and see how much the score moves with tokenization alone.
# 3. Give the benchmark options of different lengths (e.g. two-word capitals)
#    and compare summed log-likelihood with length-normalised log-likelihood.
# 4. Make the synthetic model *underconfident* (multiply the logits by 0.5) and
#    check that temperature scaling now finds $T < 1$.
