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
# # Maths beyond the basics: information, numerics and discrete structures
#
# Linear algebra, calculus and probability carry most of deep learning, but
# three other corners of mathematics show up every day around language models:
#
# - **information theory**: a language model's loss is measured in bits (or
#   nats) per token, and a good predictor is a good compressor;
# - **numerical methods**: models run in finite-precision arithmetic, where
#   subtraction can destroy digits, sums drift, and badly conditioned problems
#   amplify every rounding error;
# - **discrete mathematics**: counting tells you why a table of all token
#   sequences is impossible, and graphs order computations (autograd) and
#   curricula (this one).
#
# **What you will build**
#
# - Huffman coding from scratch on character frequencies of real text, checked
#   against the source coding theorem $H \le L < H + 1$;
# - machine epsilon from scratch, catastrophic cancellation, and Kahan
#   summation against `math.fsum`;
# - the error of solving Hilbert systems as their condition number explodes;
# - Newton's method vs bisection, with quadratic vs linear convergence
#   measured;
# - counting token sequences, and a topological sort (Kahn's algorithm) with
#   cycle detection on a prerequisite graph of topics.

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
import graphlib
import heapq
import importlib
import inspect
import math
from collections import Counter
from fractions import Fraction
from functools import partial
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np

rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Information theory: entropy and Huffman codes
#
# Our text is offline and reproducible: the docstrings of twenty modules of the
# Python standard library. We count how often each character appears and turn
# the counts into probabilities $p_i$.
#
# The **entropy** of that distribution,
#
# $$H = -\sum_i p_i \log_2 p_i \quad \text{bits per character},$$
#
# is the average surprise of a character. Shannon's **source coding theorem**
# says no code that writes each character as its own bit string can use fewer
# than $H$ bits per character on average, and that an optimal such code uses
# fewer than $H + 1$.

# %%
MODULE_NAMES = [
    "collections", "itertools", "functools", "json", "re", "string", "textwrap",
    "typing", "pathlib", "argparse", "datetime", "random", "statistics",
    "fractions", "decimal", "heapq", "bisect", "csv", "logging", "unittest",
]  # fmt: skip


def load_docstrings(module_names: list[str]) -> list[str]:
    """Docstrings of each module and of its public classes, functions and methods."""
    docs: list[str] = []
    seen: set[str] = set()

    def add(doc: str | None) -> None:
        if doc and doc not in seen:  # classes without a docstring inherit one
            seen.add(doc)
            docs.append(doc)

    for name in module_names:
        module = importlib.import_module(name)
        add(inspect.getdoc(module))
        for attr_name, obj in sorted(vars(module).items()):
            if attr_name.startswith("_") or not (inspect.isclass(obj) or inspect.isroutine(obj)):
                continue
            add(inspect.getdoc(obj))
            if inspect.isclass(obj):
                for member_name, member in sorted(vars(obj).items()):
                    if not member_name.startswith("_") and inspect.isroutine(member):
                        add(inspect.getdoc(member))
    return docs


docs = load_docstrings(MODULE_NAMES)
text = "\n".join(docs)
char_counts = Counter(text)
total_chars = sum(char_counts.values())
probs = {ch: n / total_chars for ch, n in char_counts.items()}
entropy = -sum(p * math.log2(p) for p in probs.values())
print(f"{len(docs)} docstrings, {total_chars:,} characters, {len(char_counts)} distinct")
print(f"entropy H = {entropy:.3f} bits per character (ASCII uses 8)")
print("most common:", [(repr(ch), n) for ch, n in char_counts.most_common(6)])

# %% [markdown]
# **Huffman's algorithm** builds an optimal prefix code greedily: put every
# symbol in a priority queue keyed by its count, then repeatedly take the two
# least frequent items and merge them under a new node whose count is their
# sum. The finished tree gives each symbol a code: the path from the root,
# `0` for left and `1` for right. Frequent symbols end up near the root and get
# short codes. Because symbols sit only at leaves, no code is a prefix of
# another, so a bit stream decodes without separators.


# %%
def huffman_code(counts: dict[str, int]) -> dict[str, str]:
    """Map each symbol to its Huffman code word (a string of '0' and '1')."""
    # Heap items: (count, tie-breaker, tree); a tree is a symbol or a (left, right) pair.
    # The tie-breaker keeps comparisons away from the trees and makes the result reproducible.
    heap = [(n, i, sym) for i, (sym, n) in enumerate(sorted(counts.items()))]
    heapq.heapify(heap)
    next_id = len(heap)
    while len(heap) > 1:
        n_left, _, left = heapq.heappop(heap)
        n_right, _, right = heapq.heappop(heap)
        heapq.heappush(heap, (n_left + n_right, next_id, (left, right)))
        next_id += 1

    codes: dict[str, str] = {}

    def walk(tree: object, prefix: str) -> None:
        if isinstance(tree, tuple):
            walk(tree[0], prefix + "0")
            walk(tree[1], prefix + "1")
        else:
            codes[tree] = prefix or "0"  # a one-symbol alphabet still needs one bit

    walk(heap[0][2], "")
    return codes


def decode(bits: str, codes: dict[str, str]) -> str:
    """Read bits left to right; a prefix-free code lets us emit a symbol as soon as one matches."""
    by_word = {word: sym for sym, word in codes.items()}
    out, word = [], ""
    for bit in bits:
        word += bit
        if word in by_word:
            out.append(by_word[word])
            word = ""
    assert word == "", "bit stream ended inside a code word"
    return "".join(out)


codes = huffman_code(char_counts)
avg_length = sum(probs[ch] * len(code) for ch, code in codes.items())
print(f"H = {entropy:.4f}  <=  L = {avg_length:.4f}  <  H + 1 = {entropy + 1:.4f}")
print(f"fixed-length code needs {math.ceil(math.log2(len(codes)))} bits per character")
print("codes:", {repr(ch): codes[ch] for ch in [" ", "e", "t", "q", "Z"] if ch in codes})

# %% [markdown]
# Now the checks. The source coding theorem bounds the average length. The
# prefix-free property is checked by brute force over all pairs. The **Kraft
# sum** $\sum_i 2^{-\ell_i}$ is at most 1 for every prefix code and exactly 1
# for a Huffman code (its tree is full: every internal node has two children).
# Finally, encoding then decoding a passage must give the passage back.

# %%
assert entropy <= avg_length < entropy + 1, "source coding theorem"
words = list(codes.values())
assert all(not other.startswith(word) for word in words for other in words if other is not word), (
    "no code word may be a prefix of another"
)
assert math.isclose(sum(2.0 ** -len(w) for w in words), 1.0), "Kraft sum of a full tree is 1"

passage = text[:3000]
bits = "".join(codes[ch] for ch in passage)
assert decode(bits, codes) == passage
print(f"passage: {len(passage)} chars -> {len(bits):,} bits ({len(bits) / len(passage):.2f} bits/char)")

# %% [markdown]
# The next plot puts each character's code length next to its **information
# content** $-\log_2 p_i$, the length an ideal code would give it.

# %%
symbols = sorted(codes, key=lambda ch: -probs[ch])
info = np.array([-math.log2(probs[ch]) for ch in symbols])
lengths = np.array([len(codes[ch]) for ch in symbols])

fig, ax = plt.subplots(figsize=(6, 4))
ax.scatter(info, lengths, s=14, label="Huffman code length")
grid = np.linspace(info.min(), info.max(), 10)
ax.plot(grid, grid, "k--", lw=1, label=r"ideal: $-\log_2 p$")
ax.plot(grid, grid + 1, "k:", lw=1, label=r"$-\log_2 p + 1$")
ax.set_xlabel(r"information content $-\log_2 p$ (bits)")
ax.set_ylabel("code length (bits)")
ax.set_title("Huffman code lengths track information content")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The points hug the diagonal: frequent characters (space,
# `e`, `t`) cost 3 or 4 bits, rare ones 12 or more. Code lengths are whole
# numbers, so each point is rounded to an integer near its ideal value; that
# rounding is the gap between $H$ and $L$. Arithmetic coding removes it by
# coding whole messages, and gets within a few bits of $H$ per message.
#
# **Why this matters for LLMs.** A language model's loss is the **cross-entropy**
# $H(p, q) = -\sum_i p_i \log q_i$ between the data distribution $p$ and the
# model's predictions $q$. Coding data with a code built for $q$ costs $H(p, q)$
# bits per symbol, and Gibbs' inequality says $H(p, q) \ge H(p)$, with equality
# only when $q = p$. Lowering the loss is literally learning to compress the
# text. We check the inequality with $q$ estimated from the first half of the
# docstrings (add-one smoothed, so no character has probability 0) and $p$
# from the second half.

# %%
half = len(docs) // 2
counts_first = Counter("\n".join(docs[:half]))
counts_second = Counter("\n".join(docs[half:]))
alphabet = sorted(set(counts_first) | set(counts_second))
n_first = sum(counts_first.values()) + len(alphabet)
n_second = sum(counts_second.values())
p = {ch: counts_second[ch] / n_second for ch in alphabet}
q = {ch: (counts_first[ch] + 1) / n_first for ch in alphabet}
entropy_p = -sum(p[ch] * math.log2(p[ch]) for ch in alphabet if p[ch] > 0)
cross_entropy = -sum(p[ch] * math.log2(q[ch]) for ch in alphabet if p[ch] > 0)
print(f"H(p) = {entropy_p:.4f} bits, H(p, q) = {cross_entropy:.4f} bits")
print(f"KL(p || q) = {cross_entropy - entropy_p:.4f} bits, perplexity 2^H(p,q) = {2**cross_entropy:.1f}")
assert cross_entropy > entropy_p, "Gibbs' inequality: a mismatched model costs extra bits"

# %% [markdown]
# ## 2. Floating point: epsilon, cancellation and summation
#
# **Machine epsilon** is the gap between 1 and the next representable number.
# We find it the way the definition reads: keep halving a candidate until
# adding half of it to 1 no longer changes 1.


# %%
def machine_epsilon(dtype: type) -> float:
    """Smallest power of two eps with 1 + eps != 1 in the given floating type."""
    one, eps, two = dtype(1), dtype(1), dtype(2)
    while one + eps / two != one:
        eps = eps / two
    return float(eps)


for dtype in (np.float16, np.float32, np.float64):
    eps = machine_epsilon(dtype)
    assert eps == float(np.finfo(dtype).eps)
    print(f"{dtype.__name__:>8}: eps = 2^{math.log2(eps):.0f} = {eps:.3g}")

# %% [markdown]
# Each arithmetic operation is exact up to a relative error of at most
# $\varepsilon/2$. That is harmless until we **subtract two nearly equal
# numbers**: their leading digits cancel, and what remains is mostly the
# rounding error they already carried. This is *catastrophic cancellation*.
#
# Example: $f(x) = \dfrac{1 - \cos x}{x^2} \to \dfrac12$ as $x \to 0$. For small
# $x$, $\cos x$ is so close to 1 that $1 - \cos x$ keeps few correct digits.
# The identity $1 - \cos x = 2\sin^2(x/2)$ computes the same quantity with no
# subtraction. The Taylor series $\tfrac12 - \tfrac{x^2}{24} + \tfrac{x^4}{720}$
# is an independent reference for small $x$.

# %%
xs = np.logspace(-9, 0, 200)
naive = (1 - np.cos(xs)) / xs**2
stable = 2 * np.sin(xs / 2) ** 2 / xs**2
small = xs < 1e-3
taylor = 0.5 - xs[small] ** 2 / 24 + xs[small] ** 4 / 720
np.testing.assert_allclose(stable[small], taylor, rtol=1e-14)

rel_err_naive = np.abs(naive - stable) / stable
at = lambda x: int(np.argmin(np.abs(xs - x)))  # noqa: E731
assert rel_err_naive[at(1e-5)] > 1e-7, "half the digits are gone at x = 1e-5"
assert naive[at(1e-8)] == 0.0, "at x = 1e-8, cos(x) rounds to exactly 1"

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(xs, np.maximum(rel_err_naive, 1e-17), label=r"naive $(1-\cos x)/x^2$")
ax.loglog(xs, np.finfo(float).eps / xs**2, "k--", lw=1, label=r"$\varepsilon / x^2$")
ax.set_ylim(1e-17, 10)
ax.set_xlabel("x")
ax.set_ylabel("relative error")
ax.set_title("Catastrophic cancellation")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The error of the naive formula follows
# $\varepsilon/x^2$: the absolute rounding error of $1-\cos x$ is about
# $\varepsilon$, while the quantity itself is only about $x^2/2$. At
# $x = 10^{-8}$, the result is 0, a 100% error. (The stable formula agrees with
# the Taylor series to 14 digits and is not drawn: its error is at the level of
# rounding.)
#
# The same trap appears in statistics that ML code computes constantly: the
# variance as $\mathbb{E}[x^2] - \mathbb{E}[x]^2$ subtracts two huge, nearly
# equal numbers when the mean is large compared with the spread. The two-pass
# formula $\mathbb{E}[(x - \bar x)^2]$ (what `np.var` and LayerNorm
# implementations use) does not. Below, the one-pass formula even returns a
# negative variance.

# %%
data = 1e9 + rng.standard_normal(1000)
var_one_pass = np.mean(data**2) - np.mean(data) ** 2
var_two_pass = np.mean((data - data.mean()) ** 2)
var_shifted = np.var(data - 1e9)  # shifting by a constant changes nothing mathematically
print(f"one-pass {var_one_pass:.3f}, two-pass {var_two_pass:.6f}, shifted data {var_shifted:.6f}")
assert abs(var_two_pass - var_shifted) < 1e-6 * var_shifted
assert abs(var_one_pass - var_shifted) > 0.1, "the one-pass formula loses all the digits"

# %% [markdown]
# **Summation.** Adding a small number to a large running total rounds away
# the small number's low bits, and over many terms the losses add up.
# **Kahan (compensated) summation** keeps a second variable with the part that
# was rounded away and feeds it back into the next addition. `math.fsum`
# computes the exactly rounded sum and serves as the reference.


# %%
def naive_sum(values: list[float]) -> float:
    total = 0.0
    for v in values:
        total += v
    return total


def kahan_sum(values: list[float]) -> float:
    """Compensated summation: `compensation` holds the low-order bits lost so far."""
    total, compensation = 0.0, 0.0
    for v in values:
        y = v - compensation
        t = total + y
        compensation = (t - total) - y  # what actually got added, minus what we wanted
        total = t
    return total


values = [1.0] + [1e-16] * 1_000_000
print(f"naive {naive_sum(values)!r}, kahan {kahan_sum(values)!r}, fsum {math.fsum(values)!r}")
assert naive_sum(values) == 1.0, "each 1e-16 is below half an ulp of 1.0 and vanishes"
assert kahan_sum(values) == math.fsum(values)

# %% [markdown]
# Each $10^{-16}$ is less than half the spacing of floats near 1, so the naive
# loop never moves; Kahan recovers all of them. The effect matters most in low
# precision. Next we sum 100,000 random numbers in **float32**, the precision
# of most model weights, and follow the error as the sum grows.


# %%
def running_sums_float32(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Running naive and Kahan sums, every operation rounded to float32."""
    naive_out = np.empty(len(values), dtype=np.float32)
    kahan_out = np.empty(len(values), dtype=np.float32)
    naive_total = kahan_total = compensation = np.float32(0.0)
    for i, v in enumerate(values):
        naive_total = naive_total + v
        y = v - compensation
        t = kahan_total + y
        compensation = (t - kahan_total) - y
        kahan_total = t
        naive_out[i], kahan_out[i] = naive_total, kahan_total
    return naive_out, kahan_out


values32 = rng.uniform(0.0, 1.0, 100_000).astype(np.float32)
naive_run, kahan_run = running_sums_float32(values32)
exact_run = np.cumsum(values32.astype(np.float64))  # float64 is exact enough here
exact_total = math.fsum(values32.astype(np.float64))
err_naive = abs(float(naive_run[-1]) - exact_total)
err_kahan = abs(float(kahan_run[-1]) - exact_total)
err_numpy = abs(float(np.sum(values32)) - exact_total)
print(
    f"float32 sum of 1e5 values: naive error {err_naive:.3g}, Kahan {err_kahan:.3g}, np.sum {err_numpy:.3g}"
)
assert err_kahan < err_naive / 10

# One draw of random numbers is one sample: repeat with other seeds. The naive error is a
# random walk of roundings, so it varies a lot between draws; Kahan's stays within one
# float32 spacing of the exact sum every time.
errors_by_seed, spacings = [], []
for seed in range(1, 9):
    draw = np.random.default_rng(seed).uniform(0.0, 1.0, 100_000).astype(np.float32)
    naive_total, kahan_total = (float(run[-1]) for run in running_sums_float32(draw))
    reference = math.fsum(draw.astype(np.float64))
    errors_by_seed.append((abs(naive_total - reference), abs(kahan_total - reference)))
    spacings.append(float(np.spacing(np.float32(reference))))
errors_by_seed = np.array(errors_by_seed)
print(f"over 8 more seeds: naive error median {np.median(errors_by_seed[:, 0]):.3g}, ", end="")
print(f"range {errors_by_seed[:, 0].min():.2g} to {errors_by_seed[:, 0].max():.2g}; ", end="")
print(f"Kahan at most {errors_by_seed[:, 1].max():.2g} (one float32 spacing: {max(spacings):.2g})")
assert np.all(errors_by_seed[:, 1] <= spacings), "Kahan is within one spacing of the exact sum on every seed"
assert np.median(errors_by_seed[:, 0]) > 10 * np.median(errors_by_seed[:, 1])

checkpoints = np.unique(np.logspace(0, 5, 80).astype(int)) - 1  # log-spaced term counts
half_ulp = np.spacing(exact_run[checkpoints].astype(np.float32)).astype(np.float64) / 2
fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(checkpoints + 1, np.abs(naive_run - exact_run)[checkpoints] + 1e-9, label="naive float32")
ax.loglog(checkpoints + 1, np.abs(kahan_run - exact_run)[checkpoints] + 1e-9, label="Kahan float32")
ax.loglog(checkpoints + 1, half_ulp, "k:", lw=1, label="half the float32 spacing at the sum")
ax.set_xlabel("number of terms added")
ax.set_ylabel("absolute error of the running sum")
ax.set_title("Compensated summation in float32")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The naive error grows with the number of terms (roughly
# like $n \cdot \varepsilon \cdot |\text{sum}|$ in the worst case), while Kahan's
# stays at about the dotted line: half the gap between neighbouring float32
# numbers at the size of the sum, the best any float32 result can do. `np.sum` does well too: it
# uses *pairwise* summation, which adds numbers of similar size together. GPU
# kernels use the same ideas (tree reductions, float32 accumulators for
# bfloat16 data).
#
# ## 3. Conditioning: when the problem itself amplifies errors
#
# Some problems are sensitive no matter how carefully we compute. For a linear
# system $Ax = b$, the **condition number** $\kappa(A) = \sigma_{\max}/\sigma_{\min}$
# (ratio of largest to smallest singular value) bounds how much a relative
# perturbation of the data can grow in the solution:
#
# $$\frac{\lVert \hat x - x\rVert}{\lVert x\rVert} \lesssim \kappa(A)\,\varepsilon.$$
#
# The **Hilbert matrix** $H_{ij} = 1/(i + j + 1)$ is the classic ill-conditioned
# matrix; its $\kappa$ grows roughly like $e^{3.5n}$. We solve $Hx = b$ with the
# known answer $x = (1, \dots, 1)$ and measure the error.
#
# Computing $\kappa$ itself is a trap here: the smallest singular value of an
# ill-conditioned matrix is as hard to compute as the solution. Luckily the
# inverse of a Hilbert matrix is known exactly, with integer entries
# (1-based indices):
#
# $$(H^{-1})_{ij} = (-1)^{i+j}(i+j-1)\binom{n+i-1}{n-j}\binom{n+j-1}{n-i}\binom{i+j-2}{i-1}^2 .$$
#
# We check $H H^{-1} = I$ in exact rational arithmetic (`fractions`), then get
# $\kappa_2 = \lVert H\rVert_2\,\lVert H^{-1}\rVert_2$ from two largest singular
# values, which float64 computes accurately, and compare it with the ratio of
# the SVD's largest and smallest singular values.


# %%
def hilbert(n: int) -> np.ndarray:
    i = np.arange(n)
    return 1.0 / (i[:, None] + i[None, :] + 1)


def condition_number(a: np.ndarray) -> float:
    singular_values = np.linalg.svd(a, compute_uv=False)
    return float(singular_values[0] / singular_values[-1])


def hilbert_inverse(n: int) -> list[list[int]]:
    """The exact inverse of the n x n Hilbert matrix, by the closed form above."""
    return [
        [
            (-1) ** (i + j) * (i + j - 1) * math.comb(n + i - 1, n - j) * math.comb(n + j - 1, n - i)
            * math.comb(i + j - 2, i - 1) ** 2
            for j in range(1, n + 1)
        ]
        for i in range(1, n + 1)
    ]  # fmt: skip


eps64 = np.finfo(np.float64).eps
sizes = list(range(2, 13))
conds, svd_conds, errors = [], [], []
for n in sizes:
    h = hilbert(n)
    inverse = hilbert_inverse(n)
    exact_h = [[Fraction(1, i + j + 1) for j in range(n)] for i in range(n)]
    assert all(
        sum(exact_h[i][k] * inverse[k][j] for k in range(n)) == (i == j) for i in range(n) for j in range(n)
    ), "H times the closed-form inverse is exactly the identity"
    conds.append(float(np.linalg.norm(h, 2) * np.linalg.norm(np.array(inverse, dtype=np.float64), 2)))
    svd_conds.append(condition_number(h))
    x_true = np.ones(n)
    x_hat = np.linalg.solve(h, h @ x_true)
    errors.append(np.linalg.norm(x_hat - x_true) / np.linalg.norm(x_true))
    assert errors[-1] <= n * conds[-1] * eps64, "error within the kappa * eps rule of thumb"
    svd_error = abs(svd_conds[-1] - conds[-1]) / conds[-1]
    assert svd_error <= conds[-1] * eps64, "the SVD's kappa is off by at most about kappa * eps"
print(f"kappa(H_12): exact {conds[-1]:.4e}, from the SVD's singular values {svd_conds[-1]:.4e}")

assert errors[sizes.index(3)] < 1e-12 and errors[sizes.index(12)] > 1e-4
print(
    f"n = 3: kappa {conds[1]:.1e}, error {errors[1]:.1e};  n = 12: kappa {conds[-1]:.1e}, error {errors[-1]:.1e}"
)

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(sizes, errors, "o-", label="relative error of the solution")
ax.semilogy(sizes, np.array(conds) * eps64, "s--", label=r"$\kappa(H)\,\varepsilon$")
ax.axhline(1.0, color="grey", lw=0.8)
ax.set_xlabel("Hilbert matrix size n")
ax.set_ylabel("relative error")
ax.set_title("Error grows with the condition number")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** Both lines climb by about a factor of 30 per step, and
# the actual error stays below $\kappa\varepsilon$. By $n = 12$ the error is
# tens of percent (printed above): not one digit of the answer is reliable, even though `np.linalg.solve` is a
# backward-stable algorithm: the loss comes from the problem, not the solver.
# The same goes for the condition number itself: the ratio of the SVD's
# singular values is off by up to about $\kappa\varepsilon$ (checked in the
# loop), so at $n = 12$ it is wrong in the second digit (printed above):
# $\sigma_{\min} \approx 10^{-16}$ is at the level of the SVD's own rounding
# error. The exact inverse avoids that.
#
# One consequence used in the next notebook: forming the **normal equations**
# $X^\top X w = X^\top y$ for least squares *squares* the condition number, so
# library solvers (`np.linalg.lstsq`) work on $X$ directly with QR or the SVD.
# In optimisation, an ill-conditioned loss surface (a Hessian with very
# different curvatures) is exactly what makes plain gradient descent slow and
# motivates feature normalisation and adaptive optimizers like Adam.

# %%
x_features = rng.standard_normal((200, 5)) * np.array([1.0, 3.0, 10.0, 30.0, 100.0])
kappa_x = condition_number(x_features)
kappa_gram = condition_number(x_features.T @ x_features)
print(f"kappa(X) = {kappa_x:.1f}, kappa(X^T X) = {kappa_gram:.1f} = kappa(X)^2")
assert math.isclose(kappa_gram, kappa_x**2, rel_tol=1e-12)

# %% [markdown]
# ## 4. Root finding: bisection vs Newton's method
#
# To solve $f(x) = 0$:
#
# - **bisection** keeps an interval $[a, b]$ with a sign change and halves it
#   each step. The error bound halves every step: *linear* convergence, about
#   one bit per iteration, but guaranteed.
# - **Newton's method** follows the tangent: $x_{k+1} = x_k - f(x_k)/f'(x_k)$.
#   Near a simple root the error is squared each step,
#   $e_{k+1} \approx C e_k^2$ with $C = \left|\frac{f''(r)}{2 f'(r)}\right|$:
#   *quadratic* convergence, the number of correct digits doubles.
#
# We solve $x^2 - 2 = 0$, whose root $\sqrt 2$ is known exactly, so the error
# of every iterate can be measured. Here $C = 2 / (2 \cdot 2\sqrt2) = 1/(2\sqrt2) \approx 0.354$.
# (Hardware and libraries compute square roots and reciprocals with Newton
# steps like these.)


# %%
def bisection(f, lo: float, hi: float, steps: int) -> tuple[list[float], list[float]]:
    """Midpoints and bracket widths of `steps` bisection steps; f(lo), f(hi) differ in sign."""
    assert f(lo) * f(hi) < 0, "bisection needs a sign change"
    mids, widths = [], []
    for _ in range(steps):
        mid = (lo + hi) / 2
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
        mids.append(mid)
        widths.append(hi - lo)
    return mids, widths


def newton(f, f_prime, x0: float, steps: int) -> list[float]:
    iterates = [x0]
    for _ in range(steps):
        x = iterates[-1]
        iterates.append(x - f(x) / f_prime(x))
    return iterates


def f(x: float) -> float:
    return x * x - 2.0


def f_prime(x: float) -> float:
    return 2.0 * x


root = math.sqrt(2.0)
mids, widths = bisection(f, 1.0, 2.0, steps=50)
iterates = newton(f, f_prime, 2.0, steps=6)
err_bisect = [abs(m - root) for m in mids]
err_newton = [abs(x - root) for x in iterates]

assert all(w_next == w / 2 for w, w_next in pairwise(widths)), "bracket halves exactly"
assert all(e <= w for e, w in zip(err_bisect, widths, strict=True)), "the root stays inside the bracket"
newton_c = 1 / (2 * math.sqrt(2))
ratios = [e1 / e0**2 for e0, e1 in pairwise(err_newton) if 1e-7 < e0 < 1e-2]
assert len(ratios) >= 2 and all(abs(r / newton_c - 1) < 0.1 for r in ratios), ratios
steps_to = lambda errs: next(k for k, e in enumerate(errs) if e < 1e-12)  # noqa: E731
assert steps_to(err_newton) <= 5 and steps_to(err_bisect) >= 35
print(f"Newton ratios e_(k+1)/e_k^2: {[round(r, 4) for r in ratios]} (theory {newton_c:.4f})")
print(f"iterations to reach error 1e-12: Newton {steps_to(err_newton)}, bisection {steps_to(err_bisect)}")

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(range(len(err_bisect)), np.maximum(err_bisect, 1e-17), ".-", label="bisection")
ax.semilogy(range(len(err_newton)), np.maximum(err_newton, 1e-17), "o-", label="Newton")
ax.semilogy(range(len(widths)), widths, "k:", lw=1, label="bisection bracket width")
ax.set_xlabel("iteration")
ax.set_ylabel(r"error $|x_k - \sqrt{2}|$")
ax.set_title("Linear vs quadratic convergence")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** Bisection's error bound is a straight line on a log
# scale (a constant factor 1/2 per step); its actual error jumps around under
# the line. Newton's curve bends downward ever faster: 1, 2, 5, 11, then 16
# correct digits, after which it sits at the rounding floor. Newton needs the
# derivative and a good start; bisection needs only a sign change. Optimizers
# face the same trade-off: second-order methods converge in few steps but need
# curvature, which is too expensive for billions of parameters, so LLMs train
# with first-order methods.
#
# ## 5. Discrete mathematics: counting and graphs
#
# **Counting.** With a vocabulary of $V$ tokens there are $V^T$ sequences of
# length $T$. For GPT-2 ($V = 50257$, $T = 1024$) that number has thousands of
# digits, which is why a model cannot store a probability per context and must
# *generalise* from shared structure. Python integers are exact, so we can
# check the digit count against $\lfloor T \log_{10} V \rfloor + 1$.

# %%
vocab_size, context = 50_257, 1024
n_sequences = vocab_size**context  # an exact integer
digits = math.floor(context * math.log10(vocab_size)) + 1
assert 10 ** (digits - 1) <= n_sequences < 10**digits, "exact check of the digit count"
print(f"{vocab_size}^{context} has {digits:,} digits")

bigram_table_bytes = vocab_size**2 * 4
print(f"a float32 table of all bigram counts: {bigram_table_bytes / 1e9:.1f} GB")
assert bigram_table_bytes > 10e9

# %% [markdown]
# Two more counts that appear in transformers. A **causal attention mask** of
# length $T$ lets token $i$ attend to tokens $0..i$: that is $T(T+1)/2$
# allowed pairs, which we count by brute force. And masked language modelling
# (BERT) hides 15% of the tokens: there are $\binom{T}{k}$ ways to choose which
# ones. We build binomial coefficients from Pascal's rule
# $\binom{n}{k} = \binom{n-1}{k-1} + \binom{n-1}{k}$ and compare with
# `math.comb`.


# %%
def pascal_row(n: int) -> list[int]:
    """Row n of Pascal's triangle: [C(n, 0), ..., C(n, n)], by additions only."""
    row = [1]
    for _ in range(n):
        row = [1] + [a + b for a, b in pairwise(row)] + [1]
    return row


for t in (1, 5, 16):
    allowed = sum(1 for i in range(t) for j in range(t) if j <= i)
    assert allowed == t * (t + 1) // 2

row = pascal_row(512)
assert all(row[k] == math.comb(512, k) for k in range(513))
assert sum(row) == 2**512, "every subset is counted once"
print(f"ways to mask 77 of 512 tokens: about 10^{math.log10(math.comb(512, 77)):.0f}")

# %% [markdown]
# **Graphs.** A directed acyclic graph (DAG) describes "must come before".
# Autograd records the computation as a DAG and runs backpropagation in reverse
# topological order; this course orders its topics by prerequisites. Below is a
# small prerequisite graph written inline (each topic lists what it needs).
#
# **Kahn's algorithm** produces a topological order: repeatedly output a node
# with no remaining incoming edges and delete its outgoing edges. If nodes are
# left over that all still have incoming edges, the graph has a cycle. A heap
# picks the alphabetically smallest ready node, so the order is reproducible.

# %%
PREREQUISITES = {
    "linear-algebra": [],
    "calculus": [],
    "probability": [],
    "python-numpy": [],
    "maths-beyond-basics": ["probability", "python-numpy"],
    "machine-learning-basics": ["linear-algebra", "calculus", "probability", "python-numpy"],
    "neural-networks": ["machine-learning-basics"],
    "nlp-foundations": ["machine-learning-basics", "maths-beyond-basics"],
    "rnns-lstms": ["neural-networks", "nlp-foundations"],
    "attention": ["rnns-lstms"],
    "transformers": ["attention", "neural-networks"],
    "tokenization": ["nlp-foundations"],
    "pretraining": ["transformers", "tokenization"],
    "fine-tuning": ["pretraining"],
}


class CycleFoundError(ValueError):
    """The graph has a cycle, so no topological order exists."""


def topological_sort(prerequisites: dict[str, list[str]]) -> list[str]:
    """Kahn's algorithm; raises CycleFoundError naming the nodes on or after a cycle."""
    dependents: dict[str, list[str]] = {node: [] for node in prerequisites}
    in_degree = {node: len(needs) for node, needs in prerequisites.items()}
    for node, needs in prerequisites.items():
        for need in needs:
            dependents[need].append(node)
    ready = [node for node, degree in in_degree.items() if degree == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for dependent in dependents[node]:
            in_degree[dependent] -= 1
            if in_degree[dependent] == 0:
                heapq.heappush(ready, dependent)
    if len(order) < len(prerequisites):
        stuck = sorted(node for node, degree in in_degree.items() if degree > 0)
        raise CycleFoundError(f"no order exists: {stuck} wait on a cycle")
    return order


def is_valid_order(order: list[str], prerequisites: dict[str, list[str]]) -> bool:
    position = {node: i for i, node in enumerate(order)}
    return set(order) == set(prerequisites) and all(
        position[need] < position[node] for node, needs in prerequisites.items() for need in needs
    )


order = topological_sort(PREREQUISITES)
assert is_valid_order(order, PREREQUISITES)
reference_order = list(graphlib.TopologicalSorter(PREREQUISITES).static_order())
assert is_valid_order(reference_order, PREREQUISITES)
print(" -> ".join(order))

# %% [markdown]
# A DAG usually has many valid orders: ours and the standard library's
# `graphlib` may differ, but both satisfy every edge, which is what the check
# tests. Now we break the graph on purpose: if "linear-algebra" required
# "transformers", there would be a cycle. Kahn's algorithm gets stuck, and a
# depth-first search (colouring nodes *in progress* and *done*) can name the
# cycle: reaching a node that is still in progress means we walked in a loop.


# %%
def find_cycle(prerequisites: dict[str, list[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a] where each node requires the next, or None."""
    in_progress, done = set(), set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        in_progress.add(node)
        path.append(node)
        for need in prerequisites[node]:
            if need in in_progress:
                return [*path[path.index(need) :], need]
            if need not in done and (cycle := visit(need)):
                return cycle
        in_progress.discard(node)
        done.add(node)
        path.pop()
        return None

    for start in sorted(prerequisites):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


cyclic = {**PREREQUISITES, "linear-algebra": ["transformers"]}
try:
    topological_sort(cyclic)
    raise AssertionError("a cyclic graph must not be sorted")
except CycleFoundError as error:
    print("Kahn:", error)

cycle = find_cycle(cyclic)
assert cycle is not None and cycle[0] == cycle[-1]
assert all(b in cyclic[a] for a, b in pairwise(cycle)), "every step is a real edge"
assert find_cycle(PREREQUISITES) is None
try:
    list(graphlib.TopologicalSorter(cyclic).static_order())
    raise AssertionError("graphlib should reject the cycle too")
except graphlib.CycleError:
    pass
print("DFS cycle:", " requires ".join(cycle))

# %% [markdown]
# Kahn's algorithm reports every topic it could not place: those on the cycle
# and those that depend on it. The depth-first search names the loop itself.
#
# Finally, a picture of the prerequisite graph, laid out by **depth**: the
# length of the longest chain of prerequisites below each topic. Depths come
# from one pass over the topological order, since every prerequisite is
# placed before the topics that need it.

# %%
depth: dict[str, int] = {}
for node in order:
    depth[node] = 1 + max((depth[need] for need in PREREQUISITES[node]), default=-1)
assert all(depth[need] < depth[node] for node, needs in PREREQUISITES.items() for need in needs)

positions = {}
for level in range(max(depth.values()) + 1):
    layer = [node for node in order if depth[node] == level]
    for index, node in enumerate(layer):
        positions[node] = (2.6 * (index - (len(layer) - 1) / 2), -level)

fig, ax = plt.subplots(figsize=(10, 5))
labels = {}
for node, (x, y) in positions.items():
    labels[node] = ax.text(
        x, y, node, ha="center", va="center", fontsize=8,
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "tab:blue"},
    )  # fmt: skip
for node, needs in PREREQUISITES.items():
    for need in needs:  # patchA/patchB clip the arrow at the label boxes
        ax.annotate(
            "", xy=positions[node], xytext=positions[need],
            arrowprops={"arrowstyle": "-|>", "color": "grey",
                        "patchA": labels[need].get_bbox_patch(),
                        "patchB": labels[node].get_bbox_patch()},
        )  # fmt: skip
ax.set_xlim(-5.2, 5.2)
ax.set_ylim(-max(depth.values()) - 0.5, 0.5)
ax.set_ylabel("depth (longest chain of prerequisites)")
ax.set_yticks(range(0, -max(depth.values()) - 1, -1), [str(d) for d in range(max(depth.values()) + 1)])
ax.set_xticks([])
ax.set_title("Topic prerequisite graph in topological layers")
plt.show()

# %% [markdown]
# **What to notice.** Every arrow points downward: reading the layers top to
# bottom is itself a topological order. Topics in the same row do not depend
# on each other and could be studied in parallel, just as operations in the
# same layer of a computation graph can run in parallel.
#
# ## What to try next
#
# Two exercises with checks, then more to explore. Each exercise gives a
# function stub that returns `None`; replace its body, run the check cell
# under it, and it prints a verdict. The solutions are folded away under
# each exercise. First, the helpers every check uses, from the `exercises`
# package beside the notebooks.


# %%
from exercises import array_mismatch, check_cases, run_check, value_mismatch


# %% [markdown]
# ### Exercise 1: softplus without overflow or cancellation
#
# $\operatorname{softplus}(x) = \log(1 + e^x)$ is a smooth ReLU and the loss of
# logistic regression written in logits. Computed as written, $e^x$
# overflows for $x > 709$, and for very negative $x$ the sum $1 + e^x$
# rounds away most of the digits of $e^x$. Write `softplus(x)` for a float64
# array that is accurate everywhere. The check compares it with
# `np.logaddexp(0, x)` from $x = -800$ to $800$, to 12 significant digits.


# %%
def softplus(x: np.ndarray) -> np.ndarray | None:
    """log(1 + exp(x)) for every element, without overflow or loss of precision."""
    return None  # your code here


# %%
def check_softplus(candidate) -> None:
    generator = np.random.default_rng(1)
    grids = [np.linspace(-800, 800, 1601), np.array([-745.0, -40.0, -1e-9, 0.0, 1e-9, 40.0, 710.0])]
    grids.append(generator.normal(0, 50, size=200))
    cases = [((x,), np.logaddexp(0.0, x)) for x in grids]
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-12, atol=1e-300))


print("exercise 1:", run_check(check_softplus, softplus))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Split off the large part: $\log(1 + e^x) = \max(x, 0) + \log(1 + e^{-|x|})$.
# The exponent is never positive, so nothing overflows, and `np.log1p`
# computes $\log(1 + u)$ accurately for tiny $u$, which is exactly the
# cancellation that `np.log(1 + u)` suffers.
#
# ```python
# def softplus(x):
#     return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))
# ```
#
# </details>
#
# ### Exercise 2: counting the pairs of causal sliding-window attention
#
# In causal attention with a window of $w$, token $i$ attends to the tokens
# $j$ with $i - w \le j \le i$ (and $j \ge 0$). Find a closed form for the
# number of such pairs in a sequence of $T$ tokens, and write
# `causal_window_pairs(T, w)` with it, in integer arithmetic. It is how a
# sliding-window model's attention cost grows with $T$. The check compares
# it with a brute-force count for many $(T, w)$, including windows longer
# than the sequence.


# %%
def causal_window_pairs(T: int, w: int) -> int | None:
    """Number of (i, j) with 0 <= j <= i < T and i - j <= w, by a closed form."""
    return None  # your code here


# %%
def check_causal_window_pairs(candidate) -> None:
    generator = np.random.default_rng(2)
    shapes = [(1, 0), (5, 0), (5, 4), (5, 9), (64, 16)]
    shapes += [(int(t), int(w)) for t, w in generator.integers(1, 60, size=(20, 2))]
    cases = [((T, w), sum(1 for i in range(T) for j in range(T) if 0 <= i - j <= w)) for T, w in shapes]
    check_cases(candidate, cases, value_mismatch)


print("exercise 2:", run_check(check_causal_window_pairs, causal_window_pairs))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Token $i$ sees $\min(i, w) + 1$ tokens. Once the window fits ($i \ge w$),
# that is $w + 1$ each; the first $w$ tokens see $1, 2, \dots, w$. So with
# $w < T$ the count is $(w + 1)T - \frac{w(w+1)}{2}$, linear in $T$; a window
# at least as long as the sequence gives full causal attention,
# $\frac{T(T+1)}{2}$.
#
# ```python
# def causal_window_pairs(T, w):
#     w = min(w, T - 1)
#     return (w + 1) * T - w * (w + 1) // 2
# ```
#
# </details>
#
# ### More to explore
#
# 1. Build the Huffman code on *words* instead of characters and compare its
#    bits per character with the character-level code. Why is the word-level
#    entropy per character lower?
# 2. Solve the Hilbert systems again with `np.linalg.lstsq` and with the normal
#    equations, and plot both errors against $\kappa$ and $\kappa^2$.
# 3. Use Newton's method to compute $1/a$ using only multiplication and
#    subtraction ($x_{k+1} = x_k(2 - a x_k)$) and measure its convergence order.
#    Show that $1 - a x_{k+1} = (1 - a x_k)^2$ exactly: when must $x_0$ lie in
#    $(0, 2/a)$?
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def wrong_softplus(x):  # overflows above 709 and loses digits far below 0
    with np.errstate(over="ignore"):
        return np.log(1.0 + np.exp(x))


def solution_causal_window_pairs(T, w):
    w = min(w, T - 1)
    return (w + 1) * T - w * (w + 1) // 2


def wrong_causal_window_pairs(T, w):  # forgets that the first tokens have fewer predecessors
    return (min(w, T - 1) + 1) * T


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_softplus, solution_softplus, wrong_softplus),
    (check_causal_window_pairs, solution_causal_window_pairs, wrong_causal_window_pairs),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
