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
# # Probability and information: language as a distribution
#
# A language model is a probability distribution over the next token given
# the previous ones. Everything we measure about it comes from information
# theory: it is trained by minimising **cross-entropy**, compared by
# **perplexity**, distilled and aligned with **KL divergence**, and the
# **entropy** of text says how much any model could ever predict. This
# notebook builds all four from counts, on text that ships with Python.
#
# **What you will build**
#
# 1. A character-level trigram language model trained on the docstrings of
#    the standard library, with add-$k$ and interpolated (Jelinek-Mercer)
#    smoothing.
# 2. Cross-entropy and perplexity from scratch, checked against
#    `torch.nn.functional.cross_entropy`.
# 3. The entropy of random, ordinary and repetitive text, and how it relates
#    to compression.
# 4. KL divergence from scratch, checked against PyTorch, and the difference
#    between forward and reverse KL when fitting a Gaussian to two bumps.

# %%
# The path's shared code lives in packages beside the notebooks; run alone (as in Colab), fetch them.
try:
    import exercises
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    packages = ("exercises",)
    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            package, _, file = member.partition("/notebooks/")[2].partition("/")
            if package in packages and file.endswith(".py") and "/" not in file:
                pathlib.Path(package).mkdir(exist_ok=True)
                pathlib.Path(package, file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import exercises

# %%
import importlib
import inspect
import math
import os
import re
import zlib
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. A corpus that is always there
#
# Every Python installation carries documentation: the docstrings of its
# modules, classes and functions. We gather them for a fixed list of
# standard-library modules, lower-case them, keep letters, spaces and full
# stops, and split the documents into three sets: **train** (to count),
# **dev** (to choose the smoothing) and **test** (to report, once). The exact
# text differs a little between Python versions, so the numbers below will
# too, but not the conclusions.

# %%
MODULES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
]  # fmt: skip
ALPHABET = "abcdefghijklmnopqrstuvwxyz ."
V = len(ALPHABET)
CHAR_TO_ID = {c: i for i, c in enumerate(ALPHABET)}


def module_docstrings(name: str) -> list[str]:
    """The module's docstring and those of the classes and functions it defines."""
    module = importlib.import_module(name)
    docs = [inspect.getdoc(module) or ""]
    for attribute, obj in sorted(vars(module).items()):
        defined_here = getattr(obj, "__module__", None) == name
        if attribute.startswith("_") or not defined_here:
            continue
        if inspect.isfunction(obj) or inspect.isclass(obj):
            docs.append(inspect.getdoc(obj) or "")
    return docs


def normalise(text: str) -> str:
    """Lower-case; anything outside the alphabet becomes a space; squeeze spaces."""
    text = re.sub(r"[^a-z.\s]", " ", text.lower())
    return re.sub(r"\s+", " ", text).strip()


def encode(text: str) -> np.ndarray:
    return np.array([CHAR_TO_ID[c] for c in text], dtype=np.int64)


documents = [normalise(doc) for name in MODULES for doc in module_docstrings(name)]
documents = [doc for doc in documents if doc]
train_text = " ".join(d for i, d in enumerate(documents) if i % 10 not in (0, 5))
dev_text = " ".join(d for i, d in enumerate(documents) if i % 10 == 5)
test_text = " ".join(d for i, d in enumerate(documents) if i % 10 == 0)
train, dev, test = encode(train_text), encode(dev_text), encode(test_text)
print(f"{len(documents)} docstrings; characters: train {len(train)}, ", end="")
print(f"dev {len(dev)}, test {len(test)}")
print("sample:", train_text[:120])

# %% [markdown]
# ## 2. Counting n-grams
#
# A trigram model predicts the next character from the two before it:
#
# $$P(c \mid a b) = \frac{C(abc)}{C(ab\,\cdot)},$$
#
# the **maximum-likelihood** estimate: of all the times we saw "ab", how
# often did "c" follow? We store the counts in a $V \times V \times V$ array,
# where $V = 28$ symbols.


# %%
def ngram_counts(ids: np.ndarray, n: int) -> np.ndarray:
    """Counts of every n-gram as an n-dimensional array of shape (V,) * n."""
    flat = np.zeros(len(ids) - n + 1, dtype=np.int64)
    for offset in range(n):
        flat = flat * V + ids[offset : len(ids) - n + 1 + offset]
    counts = np.bincount(flat, minlength=V**n)
    return counts.reshape((V,) * n).astype(np.float64)


def conditional(counts: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """Maximum-likelihood P(last | rest); unseen contexts use `fallback`."""
    totals = counts.sum(axis=-1, keepdims=True)
    fallback = np.broadcast_to(fallback, counts.shape)
    return np.where(totals > 0, counts / np.maximum(totals, 1), fallback)


C1, C2, C3 = (ngram_counts(train, n) for n in (1, 2, 3))
P1 = (C1 + 1) / (C1.sum() + V)  # add-one unigram: no character has probability 0
P2 = conditional(C2, fallback=P1)
P3 = conditional(C3, fallback=P2)

context = (CHAR_TO_ID["t"], CHAR_TO_ID["h"])
next_char = P3[context]
top = np.argsort(next_char)[::-1][:4]
print("P(next | 'th'):", ", ".join(f"{ALPHABET[i]!r} {next_char[i]:.2f}" for i in top))

# %% [markdown]
# ### Why smoothing is needed
#
# The maximum-likelihood model gives probability **zero** to every trigram it
# never saw, and the test text is full of them. A single zero makes the
# test likelihood zero and the cross-entropy infinite: the model is not
# just bad, it is unusable. Smoothing moves a little probability mass to
# the unseen events.

# %%
test_trigrams = (test[:-2], test[1:-1], test[2:])
unseen = int(np.sum(C3[test_trigrams] == 0))
print(f"test trigrams never seen in training: {unseen} of {len(test) - 2}")
assert unseen > 0, "the maximum-likelihood model would be fine without smoothing"

# %% [markdown]
# Two classic fixes:
#
# * **Add-$k$** (Laplace when $k = 1$): pretend every trigram was seen $k$
#   extra times, $P_k(c \mid ab) = \dfrac{C(abc) + k}{C(ab\,\cdot) + kV}$.
# * **Interpolation** (Jelinek-Mercer): mix the trigram, bigram and unigram
#   estimates,
#   $P(c \mid ab) = \lambda_3 P_3(c \mid ab) + \lambda_2 P_2(c \mid b) + \lambda_1 P_1(c)$
#   with $\lambda_3 + \lambda_2 + \lambda_1 = 1$. When the long context has
#   little evidence, the shorter ones fill in.
#
# Both must still be probability distributions: every row sums to one.


# %%
def add_k(k: float) -> np.ndarray:
    return (C3 + k) / (C3.sum(axis=-1, keepdims=True) + k * V)


def interpolated(lambda3: float, lambda2: float, lambda1: float) -> np.ndarray:
    assert math.isclose(lambda3 + lambda2 + lambda1, 1.0), "weights must sum to 1"
    return lambda3 * P3 + lambda2 * P2[None] + lambda1 * P1[None, None]


for model in [add_k(1.0), add_k(0.01), interpolated(0.6, 0.3, 0.1), P3]:
    np.testing.assert_allclose(model.sum(axis=-1), 1.0, rtol=1e-12)

# %% [markdown]
# ## 3. Cross-entropy and perplexity
#
# The **cross-entropy** of a model $q$ on a text $x_1 \dots x_N$ is the
# average surprise, in nats (natural log) or bits ($\log_2$):
#
# $$H = -\frac{1}{N} \sum_i \log q(x_i \mid x_{i-2} x_{i-1}).$$
#
# It is exactly the loss an LLM minimises during training. **Perplexity**
# $= e^{H}$ (or $2^{H}$ with bits) turns it into a number of choices: a
# perplexity of 7 means the model is, on average, as unsure as if it had to
# pick uniformly among 7 characters. A model that knows nothing (uniform)
# has perplexity $V$.


# %%
def cross_entropy(model: np.ndarray, ids: np.ndarray) -> float:
    """Mean negative log-probability, in nats, of each character given two before."""
    probabilities = model[ids[:-2], ids[1:-1], ids[2:]]
    return float(-np.mean(np.log(probabilities)))


def perplexity(model: np.ndarray, ids: np.ndarray) -> float:
    return math.exp(cross_entropy(model, ids))


uniform = np.full((V, V, V), 1.0 / V)
np.testing.assert_allclose(perplexity(uniform, test), V, rtol=1e-12)

# %% [markdown]
# PyTorch's `cross_entropy` takes **logits** and applies `log_softmax`
# itself. Feeding it the log-probabilities of our model (whose softmax is
# the model itself, since they already sum to one) must give the same
# number.

# %%
model = add_k(0.1)
ours = cross_entropy(model, test)
rows = torch.from_numpy(np.log(model[test[:-2], test[1:-1]]))  # (N, V) log-probs
targets = torch.from_numpy(test[2:])
theirs = F.cross_entropy(rows, targets).item()
print(f"cross-entropy: ours {ours:.6f} nats, torch {theirs:.6f} nats")
print(f"= {ours / math.log(2):.3f} bits per character, perplexity {math.exp(ours):.3f}")

np.testing.assert_allclose(ours, theirs, rtol=1e-12)
np.testing.assert_allclose(perplexity(model, test), math.exp(theirs), rtol=1e-12)
bits = ours / math.log(2)
np.testing.assert_allclose(perplexity(model, test), 2**bits, rtol=1e-12)

# %% [markdown]
# ### Choosing the smoothing on the dev set
#
# Too little smoothing ($k \to 0$) trusts rare counts too much; too much
# ($k$ large) flattens every prediction towards uniform. We sweep $k$ and
# the trigram weight $\lambda_3$ (splitting the rest 4:1 between bigram and
# unigram), pick the best on **dev**, and only then look at **test**.

# %%
ks = np.logspace(-3, 1.5, 28)
dev_add_k = np.array([perplexity(add_k(k), dev) for k in ks])
lambdas = np.linspace(0.05, 0.95, 19)


def jelinek_mercer(lambda3: float) -> np.ndarray:
    rest = 1.0 - lambda3
    return interpolated(lambda3, 0.8 * rest, 0.2 * rest)


dev_interp = np.array([perplexity(jelinek_mercer(lam), dev) for lam in lambdas])
best_k, best_lambda = ks[dev_add_k.argmin()], lambdas[dev_interp.argmin()]
unigram_test = perplexity(np.broadcast_to(P1, (V, V, V)), test)
add_k_test = perplexity(add_k(best_k), test)
interp_test = perplexity(jelinek_mercer(best_lambda), test)
print(f"test perplexity: unigram {unigram_test:.3f}, ", end="")
print(f"add-k (k = {best_k:.3f}) {add_k_test:.3f}, ", end="")
print(f"interpolated (lambda3 = {best_lambda:.2f}) {interp_test:.3f}")
train_perplexity = perplexity(add_k(best_k), train)
print(f"train perplexity, add-k: {train_perplexity:.3f}")

# %% [markdown]
# Left: dev perplexity against $k$ is U-shaped, with its best value well
# inside the sweep. Right: the same for the interpolation weight. On this
# corpus the two methods end close to each other (most two-character
# contexts have been seen); interpolation pulls ahead when contexts get
# longer and sparser, as with words.

# %%
fig, (ax_k, ax_l) = plt.subplots(1, 2, figsize=(10, 4))
ax_k.semilogx(ks, dev_add_k, "o-", markersize=3)
ax_k.axvline(best_k, color="grey", ls="--", label=f"best k = {best_k:.3f}")
ax_k.set(title="Add-k smoothing", xlabel="k (log scale)", ylabel="dev perplexity")
ax_k.legend()
ax_l.plot(lambdas, dev_interp, "o-", markersize=3, color="tab:orange")
best_label = f"best $\\lambda_3$ = {best_lambda:.2f}"
ax_l.axvline(best_lambda, color="grey", ls="--", label=best_label)
ax_l.set(title="Interpolated (Jelinek-Mercer) smoothing")
ax_l.set(xlabel=r"trigram weight $\lambda_3$", ylabel="dev perplexity")
ax_l.legend()
fig.tight_layout()
plt.show()

assert ks[0] < best_k < ks[-1], "the best k should lie inside the sweep"
assert max(add_k_test, interp_test) < 0.6 * unigram_test < V
assert train_perplexity < add_k_test, "a model fits its own training text best"

# %% [markdown]
# "Close to each other" on one split could be luck of the split. The split is
# by document number modulo 10, so there are ten ways to rotate it: each
# residue takes a turn as the test set (with the residue five further on as
# dev). For each rotation we count again, choose $k$ and $\lambda_3$ on its dev
# set, and measure its test set.


# %%
def evaluate_split(test_residue: int) -> tuple[float, float, float]:
    """Test perplexity of unigram, tuned add-k and tuned interpolation for one rotation of the split."""
    dev_residue = (test_residue + 5) % 10
    part = lambda keep: encode(" ".join(d for i, d in enumerate(documents) if keep(i % 10)))  # noqa: E731
    train_ids = part(lambda r: r not in (test_residue, dev_residue))
    dev_ids, test_ids = part(lambda r: r == dev_residue), part(lambda r: r == test_residue)
    c1, c2, c3 = (ngram_counts(train_ids, n) for n in (1, 2, 3))
    p1 = (c1 + 1) / (c1.sum() + V)
    p2 = conditional(c2, fallback=p1)
    p3 = conditional(c3, fallback=p2)
    add_k_models = [(c3 + k) / (c3.sum(axis=-1, keepdims=True) + k * V) for k in ks]
    jm_models = [lam * p3 + 0.8 * (1 - lam) * p2[None] + 0.2 * (1 - lam) * p1[None, None] for lam in lambdas]
    best_add_k = min(add_k_models, key=lambda m: perplexity(m, dev_ids))
    best_jm = min(jm_models, key=lambda m: perplexity(m, dev_ids))
    unigram_model = np.broadcast_to(p1, (V, V, V))
    return perplexity(unigram_model, test_ids), perplexity(best_add_k, test_ids), perplexity(best_jm, test_ids)


rotations = np.array([evaluate_split(r) for r in range(10)])
assert np.allclose(rotations[0], (unigram_test, add_k_test, interp_test), rtol=1e-12), "rotation 0 is the split above"
gap = (rotations[:, 1] - rotations[:, 2]) / rotations[:, 1]
print("test perplexity over the 10 rotations (mean +- standard deviation):")
for name, column in zip(["unigram", "add-k", "interpolated"], rotations.T, strict=True):
    print(f"  {name:>12}: {column.mean():.3f} +- {column.std(ddof=1):.3f}")
print(f"add-k minus interpolated, relative: mean {gap.mean():+.1%}, range {gap.min():+.1%} to {gap.max():+.1%}")
print(f"interpolation is lower on {int((gap > 0).sum())} of 10 rotations")
assert np.all(rotations[:, 1:].max(axis=1) < 0.6 * rotations[:, 0]), "both beat the unigram on every rotation"
assert np.all(np.abs(gap) < 0.1), "the two smoothings stay within 10% of each other on every rotation"

# %% [markdown]
# **What to notice.** Which documents land in the test set moves perplexity
# by about half a point, more than the gap between the two smoothings.
# Compared on the same rotation, interpolation comes out ahead more often
# than not, but by at most a few percent, and add-$k$ wins some rotations:
# for character trigrams on this corpus the two are practically tied. A
# single split could have shown either one "winning".

# %% [markdown]
# A language model can also *generate*: sample a character from
# $P(\cdot \mid ab)$, shift the context, repeat. A trigram model gets
# spelling fragments right and meaning wrong; the gap to a real LLM is the
# length and richness of the context.


# %%
def sample(model: np.ndarray, prompt: str, length: int, seed: int = 0) -> str:
    generator = np.random.default_rng(seed)
    ids = list(encode(prompt))
    for _ in range(length):
        ids.append(generator.choice(V, p=model[ids[-2], ids[-1]]))
    return "".join(ALPHABET[i] for i in ids)


print(sample(jelinek_mercer(best_lambda), "th", 150))

# %% [markdown]
# ## 4. Entropy: how much is there to predict?
#
# The **entropy** of a distribution, $H(p) = -\sum_x p(x) \log_2 p(x)$, is
# the average number of bits needed to encode a draw from it with the best
# possible code. For text we can measure it at several depths:
#
# * $H_0$: entropy of single characters (no context);
# * $H_2$: conditional entropy of a character given the two before it,
#   $H(X_3 \mid X_1 X_2)$, estimated from the counts;
# * the bits per character that `zlib` needs to compress the text. No
#   compressor can beat the true entropy of the source, so this is an upper
#   bound on it; zlib also exploits long repeats (whole words and phrases),
#   which is why it can beat a two-character context.
#
# We compare three texts of the same length: letters drawn uniformly at
# random, the docstrings, and one sentence repeated.


# %%
def entropy_bits(probabilities: np.ndarray) -> float:
    """Shannon entropy in bits, with 0 log 0 taken as 0."""
    p = probabilities[probabilities > 0]
    return float(-np.sum(p * np.log2(p)))


def conditional_entropy_bits(ids: np.ndarray, context_length: int) -> float:
    """H(next | previous context_length characters), from n-gram counts."""
    counts = ngram_counts(ids, context_length + 1).reshape(-1, V)
    totals = counts.sum(axis=1)
    seen = totals > 0
    weights = totals[seen] / totals.sum()
    per_context = [entropy_bits(row / row.sum()) for row in counts[seen]]
    return float(weights @ np.array(per_context))


def zlib_bits(text: str) -> float:
    return 8 * len(zlib.compress(text.encode(), 9)) / len(text)


n_chars = 50_000
texts = {
    "random letters": "".join(rng.choice(list(ALPHABET[:27]), size=n_chars)),
    "docstrings": train_text[:n_chars],
    "repeated sentence": ("the cat sat on the mat. " * n_chars)[:n_chars],
}
measures = {}
for name, text in texts.items():
    ids = encode(text)
    h0 = entropy_bits(np.bincount(ids, minlength=V) / len(ids))
    h2 = conditional_entropy_bits(ids, 2)
    measures[name] = (h0, h2, zlib_bits(text))
    print(f"{name:>17}: H0 {h0:.2f}, H2 {h2:.2f}, zlib {zlib_bits(text):.2f} bits/char")

# %% [markdown]
# Random letters carry about $\log_2 27 \approx 4.75$ bits each and nothing
# helps: no context, no compressor can predict them (zlib even adds
# overhead). Documentation has fewer bits per letter, and far fewer once
# the previous two letters are known: that drop is what a language model
# exploits. The repeated sentence is almost entirely predictable. (The
# $H_2$ of random letters comes out a little below 4.75: with 729 contexts
# in 50 000 characters each context is seen only about 70 times, and
# entropy estimated from few counts is biased low; the cell below the plot
# puts most of the missing bits back with the Miller-Madow correction.) A model's
# cross-entropy in bits is the size its predictions would compress the text
# to (with arithmetic coding): **predicting well and compressing well are
# the same thing.**

# %%
labels = ["$H_0$ (no context)", "$H_2$ (two characters)", "zlib"]
positions = np.arange(len(labels))
fig, ax = plt.subplots(figsize=(7, 4))
for offset, (name, values) in zip([-0.27, 0, 0.27], measures.items(), strict=True):
    ax.bar(positions + offset, values, width=0.27, label=name)
ax.axhline(math.log2(27), color="grey", ls=":", label="$\\log_2 27$")
ax.set_xticks(positions, labels)
ax.set(title="Information content of three texts", ylabel="bits per character")
ax.set_ylim(0, 6.2)
ax.legend(fontsize=8, ncol=2)
fig.tight_layout()
plt.show()

for column in range(3):
    random_, prose, repeated = (measures[name][column] for name in texts)
    assert random_ > prose > repeated, f"ordering broken for {labels[column]}"
assert measures["docstrings"][1] < measures["docstrings"][0] - 1.0, "context helps"
np.testing.assert_allclose(measures["random letters"][0], math.log2(27), atol=0.01)

# The low H2 of random letters is mostly the estimator's bias, not structure. Miller and
# Madow's first-order correction adds (m - 1) / (2 n ln 2) bits to an entropy estimated from
# n draws that hit m distinct symbols; weighted over the contexts, it removes most of the gap.
trigram_rows = ngram_counts(encode(texts["random letters"]), 3).reshape(-1, V)
seen_rows = trigram_rows[trigram_rows.sum(axis=1) > 0]
miller_madow = float(((seen_rows > 0).sum(axis=1) - 1).sum() / (2 * trigram_rows.sum() * math.log(2)))
raw_h2 = measures["random letters"][1]
print(f"random letters: H2 {raw_h2:.3f} + Miller-Madow correction {miller_madow:.3f} = {raw_h2 + miller_madow:.3f}")
assert abs(raw_h2 + miller_madow - math.log2(27)) < 0.25 * abs(raw_h2 - math.log2(27))

# %% [markdown]
# ## 5. KL divergence: the gap between two distributions
#
# $$D_\mathrm{KL}(p \,\|\, q) = \sum_x p(x) \log \frac{p(x)}{q(x)}$$
#
# is the number of extra nats we pay, on average, for coding data from $p$
# with a code built for $q$. It is never negative, it is zero only when
# $p = q$, and it is **not symmetric**. Three places it appears in LLM work:
# cross-entropy $= H(p) + D_\mathrm{KL}(p\,\|\,q)$, so minimising the training
# loss minimises the KL to the data; knowledge distillation matches a
# student to a teacher with KL; and RLHF keeps the tuned model close to the
# reference model with a KL penalty.


# %%
def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """D_KL(p || q) in nats; terms with p(x) = 0 contribute nothing."""
    support = p > 0
    return float(np.sum(p[support] * np.log(p[support] / q[support])))


def cross_entropy_of(p: np.ndarray, q: np.ndarray) -> float:
    support = p > 0
    return float(-np.sum(p[support] * np.log(q[support])))


p = np.array([0.90, 0.07, 0.02, 0.01])
q = np.array([0.25, 0.25, 0.25, 0.25])
p_t, q_t = torch.from_numpy(p), torch.from_numpy(q)

# F.kl_div expects log-probabilities as its input and probabilities as target.
kl_torch = F.kl_div(q_t.log(), p_t, reduction="sum").item()
kl_dist = torch.distributions.kl_divergence(
    torch.distributions.Categorical(probs=p_t),
    torch.distributions.Categorical(probs=q_t),
).item()
np.testing.assert_allclose(kl_divergence(p, q), kl_torch, rtol=1e-12)
np.testing.assert_allclose(kl_divergence(p, q), kl_dist, rtol=1e-12)

# Cross-entropy = entropy + KL (in nats).
entropy_nats = entropy_bits(p) * math.log(2)
np.testing.assert_allclose(cross_entropy_of(p, q), entropy_nats + kl_divergence(p, q), rtol=1e-12)

# Non-negative on many random pairs, and zero for identical distributions.
pairs = rng.dirichlet(np.ones(5), size=(2000, 2))
divergences = np.array([kl_divergence(a, b) for a, b in pairs])
assert divergences.min() >= 0
assert kl_divergence(p, p) == 0

forward, reverse = kl_divergence(p, q), kl_divergence(q, p)
print(f"KL(p || q) = {forward:.4f} nats, KL(q || p) = {reverse:.4f} nats")
assert abs(forward - reverse) > 0.1, "KL is not symmetric"

# %% [markdown]
# ### Forward vs reverse KL: covering modes or choosing one
#
# The asymmetry matters when the model family cannot match the target.
# Let $p$ be a mixture of two Gaussian bumps (weights 0.6 and 0.4) and fit a
# single Gaussian $q_{\mu,\sigma}$ by brute force over a grid of
# $(\mu, \sigma)$, once per direction, with the densities discretised on a
# grid of $x$ values:
#
# * **Forward** $D_\mathrm{KL}(p\,\|\,q)$ punishes $q \approx 0$ where $p > 0$,
#   so $q$ spreads out to **cover both modes**. (For a Gaussian $q$ the
#   optimum is known: match the mean and variance of $p$.) Maximum-likelihood
#   training, and hence LLM pre-training, minimises this direction.
# * **Reverse** $D_\mathrm{KL}(q\,\|\,p)$ punishes $q > 0$ where $p \approx 0$,
#   so $q$ **picks one mode** and fits it tightly. Variational inference and
#   the KL penalty of RLHF use this direction.

# %%
x_grid = np.linspace(-15, 15, 1201)


def log_normal(x: np.ndarray, mean, std) -> np.ndarray:
    return -0.5 * ((x - mean) / std) ** 2 - np.log(std) - 0.5 * math.log(2 * math.pi)


def normalise_log(log_weights: np.ndarray) -> np.ndarray:
    """Log-probabilities on the grid: subtract log-sum-exp along the last axis."""
    peak = log_weights.max(axis=-1, keepdims=True)
    shifted = log_weights - peak
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


log_p = normalise_log(
    np.logaddexp(
        math.log(0.6) + log_normal(x_grid, -2.5, 0.8),
        math.log(0.4) + log_normal(x_grid, 2.5, 0.8),
    )
)
p_grid = np.exp(log_p)
means = np.arange(-6, 6.001, 0.05)
stds = np.arange(0.2, 5.001, 0.05)
forward_kl = np.empty((len(means), len(stds)))
reverse_kl = np.empty_like(forward_kl)
for j, std in enumerate(stds):
    log_q = normalise_log(log_normal(x_grid[None, :], means[:, None], std))
    forward_kl[:, j] = np.sum(p_grid * (log_p - log_q), axis=1)
    reverse_kl[:, j] = np.sum(np.exp(log_q) * (log_q - log_p), axis=1)

i, j = np.unravel_index(forward_kl.argmin(), forward_kl.shape)
forward_fit = (means[i], stds[j])
i, j = np.unravel_index(reverse_kl.argmin(), reverse_kl.shape)
reverse_fit = (means[i], stds[j])
p_mean = float(p_grid @ x_grid)
p_std = float(np.sqrt(p_grid @ (x_grid - p_mean) ** 2))
print(f"forward KL fit: mean {forward_fit[0]:+.2f}, std {forward_fit[1]:.2f}", end="")
print(f"  (moments of p: mean {p_mean:+.2f}, std {p_std:.2f})")
print(f"reverse KL fit: mean {reverse_fit[0]:+.2f}, std {reverse_fit[1]:.2f}")

assert abs(forward_fit[0] - p_mean) <= 0.05 and abs(forward_fit[1] - p_std) <= 0.05
assert abs(reverse_fit[0] - (-2.5)) <= 0.1 and abs(reverse_fit[1] - 0.8) <= 0.1
assert forward_fit[1] > 2 * reverse_fit[1], "forward KL should give the wider fit"

# %% [markdown]
# Left: the forward fit sits between the bumps, wide enough to cover both,
# and puts much of its mass where $p$ has almost none. The reverse fit sits
# on the larger bump and ignores the other (it is taller than the bump
# because it is a whole distribution fitted to a bump that holds only 60% of
# the mass). Right: the best KL for each mean (minimised over $\sigma$). The
# forward KL has a single valley, at the mean of $p$. The reverse KL has a
# valley at **each** mode, and a shallow one in between (a wide $q$), so a
# gradient-based fit would end in whichever valley it started near.

# %%
fig, (ax_fit, ax_profile) = plt.subplots(1, 2, figsize=(11, 4))
density_scale = 1 / (x_grid[1] - x_grid[0])  # probabilities on the grid -> density
ax_fit.fill_between(x_grid, p_grid * density_scale, alpha=0.3, color="grey", label="p")
fits = {"forward KL(p || q)": forward_fit, "reverse KL(q || p)": reverse_fit}
for name, (mean, std) in fits.items():
    density = np.exp(log_normal(x_grid, mean, std))
    ax_fit.plot(x_grid, density, lw=2, label=f"fit by {name}")
ax_fit.set(xlim=(-7, 7), title="Fitting one Gaussian to two bumps")
ax_fit.set(xlabel="x", ylabel="density")
ax_fit.legend(fontsize=8)
ax_profile.plot(means, forward_kl.min(axis=1), label="forward KL(p || q)")
ax_profile.plot(means, reverse_kl.min(axis=1), label="reverse KL(q || p)")
ax_profile.set(title=r"Best KL for each mean (minimised over $\sigma$)")
ax_profile.set(xlabel=r"mean $\mu$ of q", ylabel="KL (nats)", ylim=(0, 3))
ax_profile.legend(fontsize=8)
fig.tight_layout()
plt.show()


def local_minima(values: np.ndarray) -> np.ndarray:
    """The means at which a profile is lower than both neighbours."""
    inner = values[1:-1]
    return means[1:-1][(inner < values[:-2]) & (inner < values[2:])]


reverse_valleys = local_minima(reverse_kl.min(axis=1))
forward_valleys = local_minima(forward_kl.min(axis=1))
print(f"reverse KL valleys at {reverse_valleys.round(2)}, forward at {forward_valleys}")
for mode in (-2.5, 2.5):
    assert np.any(np.abs(reverse_valleys - mode) <= 0.1), f"no valley at mode {mode}"
assert len(forward_valleys) == 1 and abs(forward_valleys[0] - p_mean) <= 0.05

# %% [markdown]
# ## What to try next
#
# Two exercises with checks, then more to explore. Each exercise gives a
# function stub that returns `None`; replace its body, run the check cell
# under it, and it prints a verdict. The solutions are folded away under
# each exercise. First, the helpers every check uses, from the `exercises`
# package beside the notebooks.


# %%
from exercises import array_mismatch, check_cases, run_check


# %% [markdown]
# ### Exercise 1: KL divergence between two Gaussians
#
# For one-dimensional Gaussians the KL divergence has a closed form. Work it
# out from the definition (the expectation under $p$ of $\log p - \log q$,
# using $\mathbb{E}_p[(x - \mu_q)^2] = \sigma_p^2 + (\mu_p - \mu_q)^2$) and
# write `kl_gaussians(mu_p, sigma_p, mu_q, sigma_q)` returning
# $D_\mathrm{KL}(p \,\|\, q)$ in nats. The check compares it with
# `torch.distributions.kl_divergence` on random parameters.


# %%
def kl_gaussians(mu_p: float, sigma_p: float, mu_q: float, sigma_q: float) -> float | None:
    """D_KL(N(mu_p, sigma_p^2) || N(mu_q, sigma_q^2)) in nats."""
    return None  # your code here


# %%
def check_kl_gaussians(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = [((0.0, 1.0, 0.0, 1.0), 0.0)]
    for _ in range(20):
        mu_p, mu_q = generator.normal(0, 2, size=2)
        sigma_p, sigma_q = generator.uniform(0.2, 3.0, size=2)
        reference = torch.distributions.kl_divergence(
            torch.distributions.Normal(torch.tensor(mu_p), torch.tensor(sigma_p)),
            torch.distributions.Normal(torch.tensor(mu_q), torch.tensor(sigma_q)),
        ).item()
        cases.append(((mu_p, sigma_p, mu_q, sigma_q), reference))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-10, atol=1e-12))


print("exercise 1:", run_check(check_kl_gaussians, kl_gaussians))

# %% [markdown]
# <details><summary>Solution</summary>
#
# $\log p(x) - \log q(x) = \log\frac{\sigma_q}{\sigma_p} - \frac{(x-\mu_p)^2}{2\sigma_p^2} + \frac{(x-\mu_q)^2}{2\sigma_q^2}$.
# Under $p$ the middle term averages to $\frac12$ and the last to
# $\frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2}$, so
#
# $$D_\mathrm{KL}(p\,\|\,q) = \log\frac{\sigma_q}{\sigma_p} + \frac{\sigma_p^2 + (\mu_p - \mu_q)^2}{2\sigma_q^2} - \frac12.$$
#
# It is the term that keeps a variational autoencoder's codes close to
# $\mathcal{N}(0, 1)$.
#
# ```python
# def kl_gaussians(mu_p, sigma_p, mu_q, sigma_q):
#     return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5
# ```
#
# </details>
#
# ### Exercise 2: mutual information
#
# The **mutual information** of two variables is how many bits knowing one
# saves on the other: $I(X; Y) = H(Y) - H(Y \mid X)$, which equals the KL
# divergence between their joint distribution and the product of its
# marginals. Write `mutual_information_bits(joint)` for a table
# `joint[x, y]` of probabilities. The check compares it with PyTorch's
# `F.kl_div` between the joint and the product of the marginals, on random
# tables (some with zeros) and on two you can do by hand: independent
# variables (0 bits) and a copy of a fair coin (1 bit).


# %%
def mutual_information_bits(joint: np.ndarray) -> float | None:
    """I(X; Y) in bits for a joint probability table joint[x, y]."""
    return None  # your code here


# %%
def check_mutual_information_bits(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = [((np.outer([0.2, 0.8], [0.5, 0.3, 0.2]),), 0.0), ((np.array([[0.5, 0.0], [0.0, 0.5]]),), 1.0)]
    for shape in [(2, 2), (3, 5), (6, 4)]:
        joint = generator.dirichlet(np.ones(shape[0] * shape[1])).reshape(shape)
        joint[0, 0] = 0.0  # a cell that never happens
        joint /= joint.sum()
        product = np.outer(joint.sum(axis=1), joint.sum(axis=0))
        nats = F.kl_div(torch.from_numpy(product).log(), torch.from_numpy(joint), reduction="sum").item()
        cases.append(((joint,), nats / math.log(2)))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-10, atol=1e-12))


print("exercise 2:", run_check(check_mutual_information_bits, mutual_information_bits))

# %% [markdown]
# <details><summary>Solution</summary>
#
# $I(X;Y) = \sum_{x,y} p(x,y)\log_2\frac{p(x,y)}{p(x)\,p(y)}$, skipping the
# cells with $p(x, y) = 0$ (they contribute $0 \log 0 = 0$). Equivalently
# $H(X) + H(Y) - H(X, Y)$.
#
# ```python
# def mutual_information_bits(joint):
#     product = np.outer(joint.sum(axis=1), joint.sum(axis=0))
#     seen = joint > 0
#     return float(np.sum(joint[seen] * np.log2(joint[seen] / product[seen])))
# ```
#
# </details>
#
# ### More to explore
#
# 1. Build a 4-gram model (the count array has $28^4 \approx 600\,000$
#    cells) and compare add-$k$ with interpolation again, over the ten
#    rotations: which one suffers more from the sparser contexts?
# 2. Tune all three interpolation weights on a grid instead of one, and see
#    how much dev perplexity improves.
# 3. Measure $H_0$, $H_1$, $H_2$, $H_3$ of the docstrings (conditional
#    entropy given 0-3 characters) and plot how fast the uncertainty falls.
#    Why does the estimate of $H_3$ become too optimistic on a small text?
# 4. Make the two bumps equal in weight, or move them closer together:
#    when does the reverse KL stop choosing one mode?
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_kl_gaussians(mu_p, sigma_p, mu_q, sigma_q):
    return math.log(sigma_q / sigma_p) + (sigma_p**2 + (mu_p - mu_q) ** 2) / (2 * sigma_q**2) - 0.5


def wrong_kl_gaussians(mu_p, sigma_p, mu_q, sigma_q):  # the two distributions swapped: KL is not symmetric
    return solution_kl_gaussians(mu_q, sigma_q, mu_p, sigma_p)


def solution_mutual_information_bits(joint):
    product = np.outer(joint.sum(axis=1), joint.sum(axis=0))
    seen = joint > 0
    return float(np.sum(joint[seen] * np.log2(joint[seen] / product[seen])))


def wrong_mutual_information_bits(joint):  # in nats, not bits
    return solution_mutual_information_bits(joint) * math.log(2)


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_kl_gaussians, solution_kl_gaussians, wrong_kl_gaussians),
    (check_mutual_information_bits, solution_mutual_information_bits, wrong_mutual_information_bits),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
