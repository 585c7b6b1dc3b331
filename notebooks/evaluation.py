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
# A change to a model is an improvement only if a measurement says so, and a
# measurement is useful only if you know exactly what it computes and how sure it is.
# This notebook evaluates the path's own GPT (pretrained in the language-modelling
# notebook on the Python standard library) the way benchmark papers evaluate large
# models, and checks every metric against an independent reference.
#
# **What you will build and check**
#
# 1. **Perplexity** and bits per byte from the model's log-probabilities, checked
#    against PyTorch's cross-entropy, on training and validation text, and by position
#    in the context.
# 2. A **multiple-choice benchmark** made from held-out code (which line comes next?)
#    scored by log-likelihood, summed and **length-normalised**, with
#    **bootstrap confidence intervals**, checked against the normal approximation.
# 3. A **contamination check**: 13-gram overlap between the benchmark and the
#    pretraining corpus, verified token by token, with planted leaks it must find.
# 4. **Calibration** of the model's next-token probabilities: a reliability diagram,
#    the expected calibration error, and temperature scaling.
# 5. The metrics for generated text: **precision, recall and F1**, **BLEU** (checked
#    against `sacrebleu`) and **ROUGE-L** (checked against brute force).

# %%
# The path's own GPT lives in the pathgpt package beside the notebooks; run alone (as in Colab), fetch it.
try:
    import pathgpt
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            file = member.partition("/notebooks/pathgpt/")[2]
            if file.endswith(".py") and "/" not in file:
                pathlib.Path("pathgpt").mkdir(exist_ok=True)
                pathlib.Path("pathgpt", file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import pathgpt

# %%
import math
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import matplotlib.pyplot as plt
import numpy as np
import sacrebleu
import torch
import torch.nn.functional as F
from pathgpt import RECIPE, evaluate, evaluation_windows, load_pretrained, load_tokens, stdlib_corpus

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)
started_cpu = time.process_time()

model, tokenizer = load_pretrained()
model.requires_grad_(False)
train_tokens, validation_tokens = load_tokens("train"), load_tokens("validation")
print(f"the pretrained GPT: {model.num_parameters():,d} parameters; {len(train_tokens):,d} training and {len(validation_tokens):,d} validation tokens")

# %% [markdown]
# ## 1. Perplexity
#
# A language model gives each next token a probability. Over $N$ tokens, the mean
# negative log-likelihood (the training loss) and its exponential are
#
# $$\mathcal{L} = -\frac{1}{N}\sum_{i=1}^{N} \log p(x_i \mid x_{<i}), \qquad \text{PPL} = e^{\mathcal{L}}.$$
#
# A uniform model over $V$ tokens has perplexity exactly $V$; a model that gave three
# tokens probabilities $\tfrac12, \tfrac14, \tfrac18$ has mean negative log-likelihood
# $\tfrac{1}{3}(1+2+3)\ln 2 = 2\ln 2$ and perplexity 4. Perplexity compares models only
# on the same text with the same tokenizer: per token it rewards a tokenizer with long
# tokens. **Bits per byte**, the total negative log-likelihood in bits divided by the
# UTF-8 bytes of the text, does not depend on the tokenizer.


# %%
def perplexity(token_log_probs: torch.Tensor) -> float:
    """exp of the mean negative log-likelihood; natural logs."""
    return math.exp(-token_log_probs.double().mean().item())


assert math.isclose(perplexity(torch.full((7,), math.log(1 / 50), dtype=torch.float64)), 50, rel_tol=1e-12)
assert math.isclose(perplexity(torch.log(torch.tensor([1 / 2, 1 / 4, 1 / 8], dtype=torch.float64))), 4.0, rel_tol=1e-12)

WINDOWS, CONTEXT = 48, model.config.context


@torch.no_grad()
def window_log_probs(tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (float64), targets and target log-probabilities of WINDOWS non-overlapping windows spread over tokens."""
    inputs, targets = evaluation_windows(tokens, CONTEXT, WINDOWS)
    logits = model(inputs).double()
    return logits, targets, logits.log_softmax(-1).gather(-1, targets[..., None]).squeeze(-1)


logits, targets, log_probs = window_log_probs(validation_tokens)
ours = perplexity(log_probs)
torch_ppl = math.exp(F.cross_entropy(logits.flatten(0, 1), targets.flatten()).item())
assert math.isclose(ours, torch_ppl, rel_tol=1e-12), "the same number as exp(cross-entropy)"
assert math.isclose(math.log(ours), evaluate(model, validation_tokens, WINDOWS), rel_tol=1e-5), "and as the package's evaluate"
train_ppl = perplexity(window_log_probs(train_tokens)[2])

token_bytes = torch.tensor([len(tokenizer.token_bytes(i)) if i not in tokenizer.special_tokens.values() else 0 for i in range(tokenizer.vocab_size)])
bits_per_byte = -log_probs.sum().item() / math.log(2) / token_bytes[targets].sum().item()
print(f"perplexity per token: validation {ours:.2f}, training {train_ppl:.2f} (uniform: {tokenizer.vocab_size});"
      f" {bits_per_byte:.2f} bits per byte on validation ({WINDOWS} windows of {CONTEXT} tokens)")
assert train_ppl < ours < 0.1 * tokenizer.vocab_size

# %% [markdown]
# The training text scores a little better than the validation text: the gap is what
# the model has fitted of its own training documents, small here because it has read
# them only about once and a half. Evaluating in non-overlapping windows gives early
# tokens of each window little context, so per-position losses show how much context
# is worth:

# %%
by_position = -log_probs.mean(0)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, CONTEXT + 1), by_position.numpy())
ax.set(xscale="log", xlabel="position in the window (tokens of context + 1)", ylabel="mean loss (nats)", title="More context, better predictions")
plt.show()
print(f"loss at the first position {by_position[0]:.2f}, positions 2-16 {by_position[1:16].mean():.2f}, the last 64 {by_position[-64:].mean():.2f}")
assert by_position[0] > by_position[1:16].mean() > by_position[-64:].mean()

# %% [markdown]
# Benchmarks of long-context models therefore score with a **sliding window** (each
# token predicted with as much context as fits), which lowers perplexity compared with
# non-overlapping chunks; always say which one a number uses.
#
# ## 2. A multiple-choice benchmark
#
# Benchmarks such as MMLU, HellaSwag and ARC are multiple-choice; on a base model they
# are usually run the way EleutherAI's `lm-evaluation-harness` runs them: score each
# option by the log-likelihood the model gives it as a continuation of the question,
# and pick the highest. We build such a benchmark from the **validation** documents:
# the question is 48 tokens of code, the options are the line that really comes next
# and three lines from other validation documents, all indented like the true line (so
# that indentation gives nothing away).
#
# **Length normalisation.** A summed log-likelihood falls with every extra token, so it
# favours short options whatever they say. The harness's `acc_norm` divides each
# option's log-likelihood by its length in bytes (we also try per token). A hand case:
# option A has 2 tokens of log-probability $-1$ each (sum $-2$, mean $-1$), option B 5
# tokens of $-0.5$ (sum $-2.5$, mean $-0.5$): the sum picks A, the mean picks B.


# %%
@dataclass(frozen=True)
class Question:
    context: list[int]
    options: list[list[int]]
    answer: int
    document: str


def choose(log_likelihoods: Sequence[float], lengths: Sequence[int], normalise: bool) -> int:
    scores = [ll / n if normalise else ll for ll, n in zip(log_likelihoods, lengths, strict=True)]
    return max(range(len(scores)), key=scores.__getitem__)


assert choose([-2.0, -2.5], [2, 5], normalise=False) == 0 and choose([-2.0, -2.5], [2, 5], normalise=True) == 1


def code_lines(document_text: str) -> list[str]:
    return [line for line in document_text.splitlines() if len(line.strip()) >= 8]


def make_questions(documents, count: int, seed: int, context_tokens: int = 48) -> list[Question]:
    """count questions from random line starts of the documents: 48 tokens before a line, that line and three others."""
    rng = random.Random(seed)
    pool = [line.strip() for d in documents for line in code_lines(d.text)]
    questions = []
    while len(questions) < count:
        document = rng.choice(documents)
        lines = document.text.split("\n")
        i = rng.randrange(1, len(lines))
        if len(lines[i].strip()) < 8:
            continue
        before = "\n".join(lines[:i])
        context = tokenizer.encode(before, allow_special=False)[-context_tokens:]
        if len(context) < context_tokens:
            continue
        indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
        others = [line for line in rng.sample(pool, 10) if line != lines[i].strip()][:3]
        texts = ["\n" + indent + lines[i].strip()] + ["\n" + indent + other for other in others]
        order = list(range(4))
        rng.shuffle(order)
        options = [tokenizer.encode(texts[j], allow_special=False) for j in order]
        questions.append(Question(context, options, order.index(0), document.name))
    return questions


corpus = stdlib_corpus(RECIPE.corpus_bytes, validation_fraction=RECIPE.validation_fraction)
questions = make_questions(corpus.validation, 240, seed=0)
q = questions[0]
print("context:", repr(tokenizer.decode(q.context)[-120:]))
for j, option in enumerate(q.options):
    print(f"  {'*' if j == q.answer else ' '} {tokenizer.decode(option)!r}")

# %% [markdown]
# The scorer feeds every context-plus-option sequence of a batch at once, padded on
# the right (a causal model never looks right, so padding changes nothing before it),
# and sums the log-probabilities of the option's tokens. It is checked against scoring
# a few options one at a time, without padding. Context and option are tokenized
# apart; each option starts with the line break, where the tokenizer's pre-split cuts
# anyway, so the tokens are those the text would get as a whole.


# %%
@torch.no_grad()
def option_log_likelihoods(context: list[int], options: list[list[int]]) -> list[float]:
    length = len(context) + max(map(len, options))
    ids = torch.full((len(options), length), tokenizer.special_tokens["<|pad|>"])
    for row, option in enumerate(options):
        ids[row, : len(context) + len(option)] = torch.tensor(context + option)
    log_probs = model(ids[:, :-1]).double().log_softmax(-1)
    scores = []
    for row, option in enumerate(options):
        positions = torch.arange(len(context) - 1, len(context) - 1 + len(option))
        scores.append(log_probs[row, positions, torch.tensor(option)].sum().item())
    return scores


@torch.no_grad()
def one_at_a_time(context: list[int], option: list[int]) -> float:
    ids = torch.tensor([context + option])
    log_probs = model(ids[:, :-1]).double().log_softmax(-1)[0]
    return sum(log_probs[len(context) - 1 + t, token].item() for t, token in enumerate(option))


started = time.process_time()
scored = [option_log_likelihoods(q.context, q.options) for q in questions]
for q, scores in list(zip(questions, scored, strict=True))[:5]:
    for option, score in zip(q.options, scores, strict=True):
        assert math.isclose(score, one_at_a_time(q.context, option), rel_tol=1e-5, abs_tol=1e-4)
print(f"{len(questions)} questions x 4 options scored in {time.process_time() - started:.1f} s of CPU; batched scores match one-at-a-time scoring")

option_bytes = [[len(tokenizer.decode(o).encode()) for o in q.options] for q in questions]
rules = {
    "sum of log-probabilities": lambda q, s, b: choose(s, [1] * 4, normalise=False),
    "per token": lambda q, s, b: choose(s, [len(o) for o in q.options], normalise=True),
    "per byte (acc_norm)": lambda q, s, b: choose(s, b, normalise=True),
}
correct = {name: np.array([float(rule(q, s, b) == q.answer) for q, s, b in zip(questions, scored, option_bytes, strict=True)]) for name, rule in rules.items()}
shortest = {name: np.mean([rule(q, s, b) == int(np.argmin(b)) for q, s, b in zip(questions, scored, option_bytes, strict=True)]) for name, rule in rules.items()}
true_is_shortest = np.mean([q.answer == int(np.argmin(b)) for q, b in zip(questions, option_bytes, strict=True)])

# %% [markdown]
# ### How sure are we? The bootstrap
#
# The benchmark is one sample of the questions we could have asked. Resampling the
# questions with replacement many times and recomputing the accuracy shows how much it
# would move with another sample; the 2.5th and 97.5th percentiles give a 95%
# interval. For an accuracy, the normal approximation $\hat p \pm 1.96\sqrt{\hat p(1-\hat p)/n}$
# is an independent check: for a few hundred questions the two agree closely. To
# compare two scoring rules, resample the *same* questions for both (a paired
# bootstrap) and look at the interval of the difference.


# %%
def bootstrap_interval(values: np.ndarray, n_resamples: int = 10_000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of values."""
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    return float(np.quantile(means, (1 - level) / 2)), float(np.quantile(means, (1 + level) / 2))


print(f"chance: 25%; the true line is the shortest option in {true_is_shortest:.0%} of the questions")
print(f"{'scoring':26s} {'accuracy':>8s}  {'95% bootstrap':>16s}  {'normal approx.':>16s}  picks the shortest")
intervals = {}
for name, values in correct.items():
    p, n = values.mean(), len(values)
    intervals[name] = bootstrap_interval(values)
    wald = (p - 1.96 * math.sqrt(p * (1 - p) / n), p + 1.96 * math.sqrt(p * (1 - p) / n))
    print(f"{name:26s} {p:8.1%}  [{intervals[name][0]:.3f}, {intervals[name][1]:.3f}]  [{wald[0]:.3f}, {wald[1]:.3f}]  {shortest[name]:.0%}")
    assert abs(intervals[name][0] - wald[0]) < 0.015 and abs(intervals[name][1] - wald[1]) < 0.015, "bootstrap and normal approximation agree"
    assert intervals[name][0] > 0.25, "above chance"
difference = correct["per byte (acc_norm)"] - correct["sum of log-probabilities"]
paired = bootstrap_interval(difference)
print(f"per byte minus sum: {difference.mean():+.3f}, paired 95% interval [{paired[0]:+.3f}, {paired[1]:+.3f}]")
assert shortest["sum of log-probabilities"] > shortest["per byte (acc_norm)"], "the sum leans to short options"

# %% [markdown]
# What the benchmark says. All three scorings are well above chance (25%), and their
# bootstrap intervals agree with the normal approximation to about a point, as they
# should for a mean of 240 zeros and ones. They do *not* separate from one another: the
# three accuracies lie within a few points, and the paired interval of "per byte minus
# sum" straddles zero, so on 240 questions we cannot say which scoring is better. What
# we can say is *how* they fail: the plain sum picks the shortest option about twice
# as often as the shortest option is right (a shorter text has fewer tokens to pay
# for), while per-token and per-byte scores pick it about as often as it is right.
# That bias is why benchmark harnesses report a length-normalised accuracy
# (`acc_norm`) beside the plain one, and why any difference of a few points between
# two models needs an interval (paired, on the same questions) before it is news.
#
# ## 3. Contamination: is the test in the training data?
#
# A test item that leaked into the training data measures memory, not skill, and
# inflates the score. The standard check (GPT-3's paper used 13-grams) looks for long
# n-grams of each test item in the training corpus. We hash every 13-gram of the
# 1.97 million training tokens into one 62-bit number (a polynomial hash modulo two
# primes), keep the sorted unique hashes, and look up (binary search) each test item's 13-grams: those
# spanning the end of the context and the correct option. Every hit is then verified
# token by token against the corpus, so a hash collision can never count as a leak.
#
# Our questions come from the validation documents, split from training by document:
# what overlap is there? Code repeats itself across files (licence headers, common
# idioms), so some is expected. To see that the detector finds real leaks we plant some:
# 60 questions built the same way from *training* documents.

# %%
N_GRAM, PRIMES, BASE = 13, (2_147_483_647, 2_147_483_629), 1_000_003


def ngram_hashes(tokens: torch.Tensor, n: int = N_GRAM) -> torch.Tensor:
    """One int64 per n-gram of tokens: two polynomial hashes modulo 31-bit primes, combined."""
    parts = []
    for prime in PRIMES:
        h = torch.zeros(len(tokens) - n + 1, dtype=torch.int64)
        for j in range(n):
            h = (h * (BASE % prime) + tokens[j : len(tokens) - n + 1 + j]) % prime
        parts.append(h)
    return parts[0] * PRIMES[1] + parts[1]


started = time.process_time()
every_hash = ngram_hashes(train_tokens)
train_hashes = torch.unique(every_hash)
print(f"{len(train_hashes):,d} distinct training 13-grams hashed in {time.process_time() - started:.1f} s of CPU")


def overlap(q: Question) -> tuple[int, list[torch.Tensor]]:
    """How many of the item's 13-grams (ending inside the correct option) occur in the training tokens, and those 13-grams."""
    item = torch.tensor(q.context[-(N_GRAM - 1) :] + q.options[q.answer])
    hashes = ngram_hashes(item)
    hits = train_hashes[torch.searchsorted(train_hashes, hashes).clamp(max=len(train_hashes) - 1)] == hashes
    grams = item.unfold(0, N_GRAM, 1)
    return int(hits.sum()), [grams[i] for i in torch.nonzero(hits).flatten().tolist()]


def verified(gram: torch.Tensor) -> bool:
    """Whether the training tokens hold exactly these tokens at one of the places with the same hash."""
    places = torch.nonzero(every_hash == ngram_hashes(gram)[0]).flatten()
    return any(torch.equal(train_tokens[i : i + N_GRAM], gram) for i in places.tolist())


leaked_questions = make_questions(corpus.train, 60, seed=1)
contaminated = np.array([overlap(q)[0] > 0 for q in questions])
planted = np.array([overlap(q)[0] > 0 for q in leaked_questions])
checked = [gram for q in questions + leaked_questions[:10] for gram in overlap(q)[1][:2]][:40]
assert all(verified(gram) for gram in checked), "every hash hit is a real 13-gram of the training tokens"
print(f"{len(checked)} hash hits verified token by token")
print(f"validation questions with a training 13-gram: {contaminated.mean():.1%} ({contaminated.sum()} of {len(questions)})")
print(f"planted leaks found: {planted.mean():.0%} of {len(leaked_questions)}")
assert planted.mean() > 0.9, "the detector finds text that is in the training data"
assert contaminated.mean() < 0.5 * planted.mean()

leaked_scored = [option_log_likelihoods(q.context, q.options) for q in leaked_questions]
leaked_correct = np.array([float(choose(s, [len(tokenizer.decode(o).encode()) for o in q.options], True) == q.answer) for q, s in zip(leaked_questions, leaked_scored, strict=True)])
clean = correct["per byte (acc_norm)"][~contaminated]
rng = np.random.default_rng(1)
gaps = [leaked_correct[rng.integers(0, len(leaked_correct), len(leaked_correct))].mean() - clean[rng.integers(0, len(clean), len(clean))].mean() for _ in range(5000)]
print(f"accuracy per byte: clean validation questions {clean.mean():.1%} (n={len(clean)}), flagged ones {correct['per byte (acc_norm)'][contaminated].mean() if contaminated.any() else float('nan'):.1%} (n={contaminated.sum()}),"
      f" planted leaks {leaked_correct.mean():.1%} (n={len(leaked_correct)}); leaked minus clean, 95% bootstrap [{np.quantile(gaps, 0.025):+.3f}, {np.quantile(gaps, 0.975):+.3f}]")

# %% [markdown]
# The detector works where we know the answer: it flags almost every planted leak,
# and every hash hit is a real 13-gram of the training tokens. It also flags about one
# validation question in five, although the split is by document: the standard
# library repeats itself (licence headers, idioms such as `if __name__ == "__main__":`,
# docstring boilerplate), so an overlap of 13 tokens is not proof of a leak, only a
# reason to look. Did contamination inflate the score here? The flagged and the
# planted questions score within noise of the clean ones (the bootstrap interval of
# the difference is wide and contains zero): a model of under a million parameters
# barely memorises single lines. Large models do, which is why reports of their
# benchmark scores now give contamination analyses, and why the clean subset's score
# is the one to trust.
#
# ## 4. Calibration: can we trust the model's probabilities?
#
# A model is **calibrated** if, among predictions made with confidence 0.8, about 80%
# are right. A **reliability diagram** bins predictions by confidence and plots
# accuracy against confidence; the **expected calibration error** sums the gaps,
# weighted by bin size:
#
# $$\text{ECE} = \sum_{b} \frac{|B_b|}{N}\,\big|\text{acc}(B_b) - \text{conf}(B_b)\big|.$$
#
# Hand check: confidences 0.9, 0.9, 0.6, 0.6 where the first is right, the second
# wrong and the last two right: the 0.9 bin has accuracy 0.5 (gap 0.4), the 0.6 bin
# accuracy 1.0 (gap 0.4), so ECE = 0.4. We apply it to the model's next-token
# predictions on the validation windows (confidence: the probability of its top token).


# %%
def expected_calibration_error(confidences: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    """ECE with equal-width confidence bins (a bin holds confidences in (lo, hi])."""
    bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
    return float(sum((bins == b).mean() * abs(correct[bins == b].mean() - confidences[bins == b].mean()) for b in range(n_bins) if (bins == b).any()))


assert math.isclose(expected_calibration_error(np.array([0.9, 0.9, 0.6, 0.6]), np.array([1.0, 0.0, 1.0, 1.0]), n_bins=10), 0.4)


def confidence_and_correct(logits: torch.Tensor, targets: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    probs = logits.softmax(-1)
    return probs.max(-1).values.flatten().numpy(), (probs.argmax(-1) == targets).flatten().double().numpy()


def fitted_temperature(logits: torch.Tensor, targets: torch.Tensor, low: float = 0.5, high: float = 4.0) -> float:
    """The T minimising the negative log-likelihood of logits / T: a golden-section search (the loss is convex in 1/T)."""
    flat, labels = logits.flatten(0, 1), targets.flatten()
    nll = lambda t: F.cross_entropy(flat / t, labels).item()  # noqa: E731
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(30):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        low, high = (low, b) if nll(a) < nll(b) else (a, high)
    return (low + high) / 2


fit, test = slice(0, WINDOWS // 2), slice(WINDOWS // 2, None)
sharpened = 2.0 * logits  # an overconfident copy: the same ranking, probabilities too sharp
calibration = {}
for name, these in [("the pretrained model", logits), ("its logits x 2 (overconfident)", sharpened)]:
    temperature = fitted_temperature(these[fit], targets[fit])
    before = expected_calibration_error(*confidence_and_correct(these[test], targets[test]))
    after = expected_calibration_error(*confidence_and_correct(these[test] / temperature, targets[test]))
    calibration[name] = (temperature, before, after)
    print(f"{name:32s}: ECE {before:.4f}; fitted T = {temperature:.2f}; ECE after dividing by T {after:.4f}")
assert calibration["the pretrained model"][1] < 0.05, "pretraining on cross-entropy leaves next-token probabilities calibrated"
assert 0.8 < calibration["the pretrained model"][0] < 1.25
assert 1.6 < calibration["its logits x 2 (overconfident)"][0] < 2.5 and calibration["its logits x 2 (overconfident)"][2] < 0.3 * calibration["its logits x 2 (overconfident)"][1]

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
for ax, (name, these) in zip(axes, [("pretrained model", logits[test]), ("logits x 2", sharpened[test])], strict=True):
    confidences, hits = confidence_and_correct(these, targets[test])
    bins = np.clip(np.ceil(confidences * 15).astype(int) - 1, 0, 14)
    accuracy = [hits[bins == b].mean() if (bins == b).any() else 0 for b in range(15)]
    ax.bar(np.arange(15) / 15, accuracy, width=1 / 15, align="edge", edgecolor="black", alpha=0.7, label="accuracy in bin")
    ax.plot([0, 1], [0, 1], "r--", label="calibrated")
    ax.set(title=f"{name}: ECE {expected_calibration_error(confidences, hits):.3f}", xlabel="confidence (top-token probability)", ylabel="accuracy")
    ax.legend(loc="upper left", fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# A model pretrained with cross-entropy is close to calibrated on text like its
# training text: the loss itself rewards honest probabilities. Fine-tuning, and above
# all preference tuning, usually makes chat models overconfident (GPT-4's technical
# report shows its calibration worsening after RLHF). Dividing the logits by one fitted
# number, **temperature scaling** (Guo et al., 2017), repairs much of it without
# changing a single prediction, as it does for the sharpened copy. Calibration matters
# whenever a probability decides something: abstaining when unsure, routing to a human,
# reporting a confidence.
#
# ## 5. Metrics for generated text
#
# Perplexity needs the model's probabilities; generated text is graded against references
# instead. Three metrics cover most reports, each built from its definition.
#
# ### Precision, recall and F1
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
# ### BLEU
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
# ### ROUGE-L
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
# **With more compute** a learner would run a real open model through
# `lm-evaluation-harness` on MMLU, HellaSwag or ARC (and compare with published
# numbers), score code by running it against unit tests (pass@k), check contamination
# against the model's actual pretraining data, and read an LLM judge's agreement with
# people before trusting it.
#
# ## What to try next
#
# 1. **Length-normalised choice.** Write `my_acc_norm(log_likelihoods, n_bytes)`: the
#    index of the option with the highest log-likelihood per byte.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_acc_norm(log_likelihoods, n_bytes):
#     scores = [ll / b for ll, b in zip(log_likelihoods, n_bytes)]
#     return max(range(len(scores)), key=scores.__getitem__)
# ```
# </details>
#
# 2. **n-gram overlap.** Write `my_overlap(item, corpus, n)`: the fraction of the
#    item's n-grams (lists of token ids) that occur anywhere in the corpus (a list).
#
# <details><summary>Solution</summary>
#
# ```python
# def my_overlap(item, corpus, n):
#     seen = {tuple(corpus[i : i + n]) for i in range(len(corpus) - n + 1)}
#     grams = [tuple(item[i : i + n]) for i in range(len(item) - n + 1)]
#     return sum(g in seen for g in grams) / len(grams)
# ```
# </details>
#
# 3. **Expected calibration error.** Write `my_ece(confidences, correct, n_bins)` with
#    equal-width bins, a confidence of exactly `hi` belonging to the bin `(lo, hi]`.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_ece(confidences, correct, n_bins):
#     bins = np.clip(np.ceil(confidences * n_bins).astype(int) - 1, 0, n_bins - 1)
#     return sum((bins == b).mean() * abs(correct[bins == b].mean() - confidences[bins == b].mean())
#                for b in range(n_bins) if (bins == b).any())
# ```
# </details>
#
# 4. Without a check: score the benchmark with a sliding window of context instead
#    of 48 tokens, or with 8, and see how accuracy moves; then give the options of the
#    planted-leak questions a different indentation and see whether the detector
#    still finds them.
#
# Each check compares your function with the definition on test inputs; the asserts
# show that it accepts the solution and rejects a plausible mistake.


# %%
def report(ok: bool, message: str) -> bool:
    print(("correct: " if ok else "not yet: ") + message)
    return ok


def check_acc_norm(candidate) -> bool:
    cases = [(([-2.0, -2.5], [2, 5]), 1), (([-10.0, -12.0, -30.0], [10, 10, 40]), 2), (([-1.0, -4.0], [1, 2]), 0)]
    try:
        got = [candidate(*args) for args, _ in cases]
    except Exception as error:  # a learner's unfinished function may fail in any way
        return report(False, f"{type(error).__name__}: {error}")
    ok = got == [e for _, e in cases]
    return report(ok, "the best log-likelihood per byte" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_acc_norm(log_likelihoods, n_bytes):
    ...  # your code here


assert check_acc_norm(lambda ll, b: choose(ll, b, normalise=True))
assert not check_acc_norm(lambda ll, b: choose(ll, b, normalise=False))  # the plain sum
check_acc_norm(my_acc_norm)


# %%
def check_overlap(candidate) -> bool:
    corpus_ids = [1, 2, 3, 4, 5, 1, 2, 9]
    cases = [(([1, 2, 3], 2), 1.0), (([2, 9, 7], 2), 0.5), (([4, 5, 1, 9], 3), 0.5), (([7, 7, 7], 1), 0.0)]
    try:
        got = [candidate(item, corpus_ids, n) for (item, n), _ in cases]
        ok = all(g is not None and math.isclose(g, e) for g, (_, e) in zip(got, cases, strict=True))
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "the share of the item's n-grams found in the corpus" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_overlap(item, corpus, n):
    ...  # your code here


def overlap_reference(item, corpus_ids, n):
    hashes = torch.unique(ngram_hashes(torch.tensor(corpus_ids), n))
    return torch.isin(ngram_hashes(torch.tensor(item), n), hashes).double().mean().item()


assert check_overlap(overlap_reference)
assert not check_overlap(lambda item, corpus_ids, n: float(any(tuple(item[i : i + n]) in {tuple(corpus_ids[j : j + n]) for j in range(len(corpus_ids))} for i in range(len(item)))))  # any hit, not the share
check_overlap(my_overlap)


# %%
def check_ece(candidate) -> bool:
    cases = [((np.array([0.9, 0.9, 0.6, 0.6]), np.array([1.0, 0.0, 1.0, 1.0]), 10), 0.4), ((np.array([0.5, 1.0, 0.2]), np.array([1.0, 1.0, 0.0]), 5), 0.5 / 3 + 0.2 / 3)]
    try:
        got = [candidate(*args) for args, _ in cases]
        ok = all(g is not None and math.isclose(g, e, abs_tol=1e-12) for g, (_, e) in zip(got, cases, strict=True))
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "expected calibration error" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_ece(confidences, correct, n_bins):
    ...  # your code here


assert check_ece(expected_calibration_error)
assert not check_ece(lambda c, k, n: float(abs(k.mean() - c.mean())))  # one bin for everything
check_ece(my_ece)
print(f"this notebook used {time.process_time() - started_cpu:.0f} s of CPU")
