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
# # Python and NumPy for machine learning
#
# Every model in this course, from linear regression to a transformer, is a
# short chain of array operations. Writing those operations well in NumPy (and
# in PyTorch, whose tensor API copies NumPy's) decides whether your code is fast,
# correct and numerically safe. This notebook walks through the five habits that
# matter most, each checked against a reference.
#
# **What you will build**
#
# - the same matrix product as Python loops and as one vectorised call, with a
#   timing plot that shows why loops are avoided;
# - the broadcasting rule, written from scratch and checked against NumPy;
# - experiments that tell views (shared memory) from copies;
# - small demonstrations of float32 vs float64 rounding and integer overflow;
# - a numerically stable softmax and log-sum-exp, checked against PyTorch;
# - batched matrix products and attention scores with `einsum`.

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
import os
import time
from functools import partial

import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Vectorisation: let compiled code run the loops
#
# A Python loop pays for interpreting bytecode, boxing every number into a
# Python object and dispatching `*` and `+` dynamically, once per element.
# A NumPy call does the same arithmetic in compiled code over a contiguous
# buffer (and, for `@`, in an optimised BLAS routine). The results are the same
# up to rounding; the speed is not.
#
# Below, a matrix product $C_{ik} = \sum_j A_{ij} B_{jk}$ is written as a
# triple loop over Python lists and compared with `A @ B`.


# %%
def matmul_loops(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    """Matrix product with plain Python loops (the slow way, on purpose)."""
    rows, inner, cols = len(a), len(b), len(b[0])
    out = [[0.0] * cols for _ in range(rows)]
    for i in range(rows):
        for k in range(cols):
            total = 0.0
            for j in range(inner):
                total += a[i][j] * b[j][k]
            out[i][k] = total
    return out


def best_time(fn, repeats: int = 3) -> float:
    """Best wall-clock time of `repeats` calls: the least noisy estimate."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


a = rng.standard_normal((40, 30))
b = rng.standard_normal((30, 20))
c_loops = np.array(matmul_loops(a.tolist(), b.tolist()))
c_numpy = a @ b
np.testing.assert_allclose(c_loops, c_numpy, rtol=1e-12, atol=1e-12)
print("loops and @ agree on a (40, 30) @ (30, 20) product")

# %% [markdown]
# The two agree to about twelve significant digits: only the order of the
# additions differs. Now the timing, for square matrices of growing size $n$.
# Timings depend on the machine, so they are printed and plotted, never
# asserted.

# %%
sizes = [8, 16, 32, 48, 64, 96]
loop_times, numpy_times = [], []
for n in sizes:
    x = rng.standard_normal((n, n))
    y = rng.standard_normal((n, n))
    x_list, y_list = x.tolist(), y.tolist()
    loop_times.append(best_time(partial(matmul_loops, x_list, y_list), repeats=2))
    numpy_times.append(best_time(partial(np.matmul, x, y), repeats=20))

print(f"n = {sizes[-1]}: loops are about {loop_times[-1] / numpy_times[-1]:,.0f}x slower")

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(sizes, loop_times, "o-", label="Python loops")
ax.loglog(sizes, numpy_times, "s-", label="NumPy  a @ b")
ax.loglog(sizes, loop_times[-1] * (np.array(sizes) / sizes[-1]) ** 3, "k:", label=r"slope 3: $\propto n^3$")
ax.set_xlabel("matrix size n (n x n)")
ax.set_ylabel("seconds (best of several runs)")
ax.set_title("Matrix product: loops vs vectorised")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
plt.show()

# %% [markdown]
# **What to notice.** On a log-log plot a power law $t \propto n^p$ is a
# straight line of slope $p$. The loop line climbs with slope close to 3 (the
# $n^3$ multiply-adds, parallel to the dotted guide), and the gap to the
# NumPy line widens with $n$ to several hundred times or more. For small $n$ the NumPy line is almost flat: the fixed cost of
# one call dominates the arithmetic. The lesson for ML code: never loop over
# elements, batch items or tokens in Python when one array call can do it.

# %% [markdown]
# ## 2. Broadcasting: how shapes combine
#
# When two arrays of different shapes meet in an element-wise operation, NumPy
# (and PyTorch) **broadcast** them:
#
# 1. align the shapes on the right (trailing dimensions first);
# 2. a missing leading dimension counts as size 1;
# 3. two sizes are compatible if they are equal or one of them is 1; a size 1
#    is stretched (without copying) to match the other.
#
# Here is that rule from scratch, checked against `np.broadcast_shapes`.


# %%
def broadcast_shape(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> tuple[int, ...]:
    """Result shape of broadcasting two shapes, or ValueError if incompatible."""
    ndim = max(len(shape_a), len(shape_b))
    padded_a = (1,) * (ndim - len(shape_a)) + tuple(shape_a)
    padded_b = (1,) * (ndim - len(shape_b)) + tuple(shape_b)
    result = []
    for size_a, size_b in zip(padded_a, padded_b, strict=True):
        if size_a != size_b and 1 not in (size_a, size_b):
            raise ValueError(f"cannot broadcast {shape_a} with {shape_b}")
        result.append(max(size_a, size_b))
    return tuple(result)


cases = [
    ((4, 3), (3,)),
    ((8, 1, 5), (7, 1)),
    ((2, 10, 16), (2, 1, 16)),
    ((5,), (5, 1)),
    ((), (3, 4)),
]
for shape_a, shape_b in cases:
    assert broadcast_shape(shape_a, shape_b) == np.broadcast_shapes(shape_a, shape_b)
    print(f"{shape_a!s:>12} with {shape_b!s:<10} -> {broadcast_shape(shape_a, shape_b)}")

for shape_a, shape_b in [((4, 3), (4,)), ((2, 3, 4), (3, 3))]:
    for fn in (broadcast_shape, np.broadcast_shapes):
        try:
            fn(shape_a, shape_b)
        except ValueError:
            continue
        raise AssertionError(f"{fn.__name__} accepted {shape_a} with {shape_b}")
print("(4, 3) with (4,) is rejected by both: trailing sizes 3 and 4 differ")

# %% [markdown]
# Two everyday uses in a language model, each checked against an explicit loop:
#
# - **adding a bias**: activations of shape (batch, tokens, features) plus a
#   bias of shape (features,);
# - **centring per sequence**: subtracting the mean over tokens, kept as shape
#   (batch, 1, features) by `keepdims=True`, so it broadcasts back over tokens.
#
# And the classic trap: a vector of shape `(n,)` minus a column of shape
# `(n, 1)` is not an element-wise difference but an `(n, n)` table of all
# pairwise differences.

# %%
batch, tokens, features = 2, 5, 4
activations = rng.standard_normal((batch, tokens, features))
bias = rng.standard_normal(features)

with_bias = activations + bias
centred = activations - activations.mean(axis=1, keepdims=True)

expected_bias = np.empty_like(activations)
expected_centred = np.empty_like(activations)
for b_idx in range(batch):
    token_mean = sum(activations[b_idx, t] for t in range(tokens)) / tokens
    for t in range(tokens):
        expected_bias[b_idx, t] = activations[b_idx, t] + bias
        expected_centred[b_idx, t] = activations[b_idx, t] - token_mean

np.testing.assert_allclose(with_bias, expected_bias, rtol=1e-15)
np.testing.assert_allclose(centred, expected_centred, atol=1e-12)
np.testing.assert_allclose(centred.mean(axis=1), 0.0, atol=1e-12)

v = np.arange(4.0)
trap = v - v.reshape(-1, 1)
assert trap.shape == (4, 4), "(n,) - (n, 1) broadcasts to (n, n)"
assert trap[0, 3] == 3.0 and trap[3, 0] == -3.0
print("bias and centring match the loops; (4,) - (4, 1) has shape", trap.shape)

# %% [markdown]
# ## 3. Views and copies
#
# A NumPy array is a pointer to a buffer plus a shape and **strides** (how many
# bytes to step along each axis). Basic slicing (`a[1:, ::2]`), `reshape` of a
# contiguous array and `.T` only change shape and strides: they return a
# **view** that shares the buffer. Writing through a view changes the original.
# **Fancy indexing** (an integer list or array) and boolean masks can pick an
# arbitrary set of elements, which no stride pattern describes, so they return
# a **copy**. The same rules hold for PyTorch tensors, where an in-place write
# through a view can silently corrupt a tensor you meant to keep.

# %%
base = np.arange(12.0).reshape(3, 4)

strided_view = base[:, ::2]
transposed = base.T
reshaped = base.reshape(4, 3)
fancy = base[[0, 2]]
masked = base[base > 5]

assert np.shares_memory(base, strided_view)
assert np.shares_memory(base, transposed)
assert np.shares_memory(base, reshaped)
assert not np.shares_memory(base, fancy)
assert not np.shares_memory(base, masked)
print("strides of base:", base.strides, " of base[:, ::2]:", strided_view.strides)

strided_view[0, 0] = -1.0
assert base[0, 0] == -1.0, "writing through a view changes the original"
fancy[0, 0] = 100.0
assert base[0, 0] == -1.0, "writing into a copy leaves the original alone"

assert base.flags["C_CONTIGUOUS"] and not transposed.flags["C_CONTIGUOUS"]
safe = strided_view.copy()
assert not np.shares_memory(base, safe)
print("slices, .T and reshape are views; fancy and boolean indexing are copies")

# %% [markdown]
# The transpose is a view but no longer C-contiguous (rows are not adjacent in
# memory). That is why PyTorch asks for `.contiguous()` before `.view()` on a
# transposed tensor, e.g. when attention heads are merged back together.
# Here is the PyTorch version of the same facts.

# %%
t = torch.arange(12.0).reshape(3, 4)
assert t.T.data_ptr() == t.data_ptr() and not t.T.is_contiguous()
assert t.T.contiguous().data_ptr() != t.data_ptr()
try:
    t.T.view(12)
    raise AssertionError("view of a non-contiguous tensor should fail")
except RuntimeError:
    print("torch: t.T.view(12) fails; t.T.reshape(12) copies; t.T.contiguous().view(12) works")

# %% [markdown]
# ## 4. Dtypes: precision and overflow
#
# A float32 number keeps 24 significant bits (about 7 decimal digits), a
# float64 53 bits (about 16 digits). Machine epsilon, the gap between 1 and the
# next representable number, is $2^{-23} \approx 1.2\times10^{-7}$ for float32
# and $2^{-52} \approx 2.2\times10^{-16}$ for float64. Anything smaller than
# half that gap vanishes when added to 1. Models are trained in float32, bfloat16
# or float16 because they are faster and smaller; knowing where they round is
# how you avoid bugs such as losses that stop changing or accumulators that
# stall.

# %%
assert np.float32(1.0) + np.float32(1e-8) == np.float32(1.0), "1e-8 is lost in float32"
assert np.float64(1.0) + np.float64(1e-8) != np.float64(1.0), "but kept in float64"
assert np.finfo(np.float32).eps == 2.0**-23 and np.finfo(np.float64).eps == 2.0**-52

# Accumulating many small numbers: float32 drifts, float64 stays close.
steps = 100_000
acc32, acc64 = np.float32(0.0), 0.0
for _ in range(steps):
    acc32 += np.float32(0.1)
    acc64 += 0.1
err32, err64 = abs(float(acc32) - 10_000.0), abs(acc64 - 10_000.0)
print(f"sum of 100,000 x 0.1: float32 error {err32:.3g}, float64 error {err64:.3g}")
assert err32 > 1e4 * err64, "float32 accumulation error dwarfs float64's"

# %% [markdown]
# The float32 running sum is off by a visible amount: once the total is large,
# each added 0.1 is rounded to the coarse grid of numbers near the total. This
# is why mixed-precision training keeps sums and optimizer state in float32 or
# wider. The spacing of that grid grows with magnitude, as the plot shows.

# %%
magnitudes = np.logspace(-3, 6, 50)
fig, ax = plt.subplots(figsize=(6, 4))
for dtype in (np.float16, np.float32, np.float64):
    finite = magnitudes[magnitudes < np.finfo(dtype).max]
    ax.loglog(
        finite,
        np.spacing(finite.astype(dtype)).astype(np.float64),
        label=dtype.__name__,
    )
ax.set_xlabel("magnitude |x|")
ax.set_ylabel("gap to the next representable number")
ax.set_title("Floating-point spacing grows with magnitude")
ax.legend()
ax.grid(True, which="both", alpha=0.3)
plt.show()

# %% [markdown]
# **What to notice.** Each line has slope 1: the *relative* spacing is
# constant (that is what "floating" point means), so the absolute gap grows in
# proportion to $|x|$. float16 stops at 65504 (its largest finite value) and,
# above 2048, cannot even represent every integer.
#
# Integers have no rounding but they wrap around: a fixed-width integer keeps
# only its low bits. Token ids stored as `int16` or pixel values as `uint8` hit
# this silently.

# %%
int8_values = np.array([120, 127], dtype=np.int8)
wrapped = int8_values + np.int8(10)
assert wrapped.tolist() == [-126, -119], "int8 wraps modulo 256"
pixels = np.array([250], dtype=np.uint8)
assert (pixels + 10).tolist() == [4], "uint8: 260 mod 256 = 4"
vocab_ids = np.array([40_000], dtype=np.int64)
assert vocab_ids.astype(np.int16).tolist() == [40_000 - 65_536], "int16 cannot hold id 40000"
with np.errstate(over="ignore"):
    assert np.isinf(np.float16(300.0) ** 2), "float16 overflows above 65504"
print(
    "int8 120+10 ->",
    wrapped[0],
    "| uint8 250+10 ->",
    (pixels + 10)[0],
    "| float16 300**2 -> inf",
)

# %% [markdown]
# ## 5. A numerically stable softmax and log-sum-exp
#
# A language model's last layer produces a vector of **logits** $z$ over the
# vocabulary; softmax turns them into probabilities and the loss needs their
# logarithm:
#
# $$\mathrm{softmax}(z)_i = \frac{e^{z_i}}{\sum_j e^{z_j}}, \qquad
# \log\mathrm{softmax}(z)_i = z_i - \log\sum_j e^{z_j}.$$
#
# Computed literally, $e^{z_i}$ overflows to `inf` as soon as a logit exceeds
# about 710 in float64 (89 in float32, 11 in float16), and `inf / inf` is
# `nan`. The fix is an identity: for any constant $m$,
#
# $$\log\sum_j e^{z_j} = m + \log\sum_j e^{z_j - m}.$$
#
# Choosing $m = \max_j z_j$ makes every exponent $\le 0$, so nothing overflows,
# and the largest term is exactly $e^0 = 1$, so the sum is at least 1 and its
# logarithm never underflows to $-\infty$.


# %%
def softmax_naive(z: np.ndarray) -> np.ndarray:
    """Softmax as written in the formula: overflows for large logits."""
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def logsumexp(z: np.ndarray) -> np.ndarray:
    """log(sum(exp(z))) over the last axis, shifted by the max for stability."""
    m = z.max(axis=-1, keepdims=True)
    return (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True))).squeeze(-1)


def softmax_stable(z: np.ndarray) -> np.ndarray:
    """Softmax over the last axis; subtracting the max changes nothing but the rounding."""
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Log-probabilities without ever forming a probability that could underflow."""
    return z - logsumexp(z)[..., None]


big_logits = np.array([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]])
with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
    naive = softmax_naive(big_logits)
    naive_lse = np.log(np.exp(big_logits).sum(axis=-1))
assert np.isnan(naive[0]).all(), "exp(1000) = inf, and inf / inf = nan"
assert np.isinf(naive_lse).all(), "naive log-sum-exp gives +inf and -inf"
print("naive softmax of [1000, 1001, 1002]:", naive[0])

stable = softmax_stable(big_logits)
reference = torch.softmax(torch.tensor(big_logits, dtype=torch.float64), dim=-1).numpy()
np.testing.assert_allclose(stable, reference, rtol=1e-12)
np.testing.assert_allclose(stable.sum(axis=-1), 1.0, rtol=1e-12)
np.testing.assert_allclose(
    logsumexp(big_logits),
    torch.logsumexp(torch.tensor(big_logits), dim=-1).numpy(),
    rtol=1e-12,
)
print("stable softmax of [1000, 1001, 1002]:", stable[0].round(4))

# %% [markdown]
# Shifting by the max is exact in real arithmetic, so the two formulas must
# agree wherever the naive one does not overflow. The next cell checks that on
# ordinary logits of a small vocabulary, and checks `log_softmax` against
# `torch.log_softmax` on logits spread wide enough that some probabilities
# underflow to 0 in float32: the log-space version still returns finite
# values.

# %%
logits = rng.standard_normal((4, 50)) * 3.0
np.testing.assert_allclose(softmax_stable(logits), softmax_naive(logits), rtol=1e-12)

wide = (rng.standard_normal((4, 50)) * 40.0).astype(np.float32)
with np.errstate(divide="ignore"):
    log_of_probs = np.log(softmax_stable(wide))
assert np.isneginf(log_of_probs).any(), "log(softmax) hits log(0) = -inf in float32"
ours = log_softmax(wide)
assert np.isfinite(ours).all()
torch.testing.assert_close(torch.from_numpy(ours), torch.log_softmax(torch.from_numpy(wide), dim=-1))
print("log_softmax stays finite where log(softmax) gives -inf; matches torch.log_softmax")

# %% [markdown]
# This is why PyTorch's `cross_entropy` takes logits, not probabilities: it
# applies `log_softmax` internally and never forms the tiny probabilities that
# would underflow.
#
# ## 6. `einsum`: index notation as code
#
# `np.einsum` (and `torch.einsum`) takes the index expression you would write
# on paper. Letters that appear in the inputs but not in the output are summed
# over. It is the clearest way to write the batched products inside attention:
#
# - batched matrix product: `"bij,bjk->bik"` is $C_{bik} = \sum_j A_{bij} B_{bjk}$;
# - attention scores for every head: `"bhqd,bhkd->bhqk"` is
#   $S_{bhqk} = \sum_d Q_{bhqd} K_{bhkd}$, i.e. $QK^\top$ per batch item and head.

# %%
a = rng.standard_normal((3, 4, 5))
b = rng.standard_normal((3, 5, 2))
np.testing.assert_allclose(np.einsum("bij,bjk->bik", a, b), a @ b, rtol=1e-12, atol=1e-12)

batch, heads, seq, dim = 2, 4, 6, 8
q = rng.standard_normal((batch, heads, seq, dim))
k = rng.standard_normal((batch, heads, seq, dim))
scores = np.einsum("bhqd,bhkd->bhqk", q, k) / np.sqrt(dim)
np.testing.assert_allclose(scores, q @ k.swapaxes(-1, -2) / np.sqrt(dim), rtol=1e-12, atol=1e-12)
torch_scores = torch.einsum("bhqd,bhkd->bhqk", torch.from_numpy(q), torch.from_numpy(k)) / dim**0.5
np.testing.assert_allclose(scores, torch_scores.numpy(), rtol=1e-12, atol=1e-12)

m = rng.standard_normal((5, 5))
u, w = rng.standard_normal(5), rng.standard_normal(3)
assert np.isclose(np.einsum("ii->", m), np.trace(m))
np.testing.assert_allclose(np.einsum("i,j->ij", u, w), np.outer(u, w))
np.testing.assert_allclose(np.einsum("ij->ji", m), m.T)
print(
    "einsum matches @, q @ k^T, torch.einsum, trace, outer and transpose; scores shape",
    scores.shape,
)

# %% [markdown]
# ## Summary
#
# - Vectorised calls beat Python loops by orders of magnitude; the results are
#   the same up to the order of additions.
# - Broadcasting aligns shapes from the right and stretches size-1 axes;
#   `keepdims=True` keeps reductions broadcastable, and `(n,)` vs `(n, 1)` is
#   the most common shape bug.
# - Slices, transposes and reshapes are views; fancy and boolean indexing copy.
# - float32 keeps about 7 digits and float16 overflows above 65504; fixed-width
#   integers wrap around.
# - Softmax and log-sum-exp must subtract the max; work in log space.
# - `einsum` writes batched products exactly as the maths reads.
#
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
# ### Exercise 1: pairwise squared distances without a loop
#
# Write `pairwise_sq_dists(x, y)` for points `x` of shape `(n, d)` and `y` of
# shape `(m, d)`, returning the `(n, m)` array
# $D_{ij} = \lVert x_i - y_j\rVert^2$, with no Python loop. (Retrieval,
# k-means and k-nearest neighbours all start with this table.) The check
# compares it with a double loop on random shapes, including $d = 1$ and a
# single point.


# %%
def pairwise_sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """(n, m) table of squared Euclidean distances between the rows of x and of y."""
    return None  # your code here


# %%
def check_pairwise_sq_dists(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = []
    for n, m, d in [(4, 3, 2), (1, 5, 3), (6, 6, 1), (7, 2, 8)]:
        x, y = generator.standard_normal((n, d)), generator.standard_normal((m, d))
        loops = np.array([[sum((x[i, k] - y[j, k]) ** 2 for k in range(d)) for j in range(m)] for i in range(n)])
        cases.append(((x, y), loops))
    check_cases(candidate, cases, array_mismatch)


print("exercise 1:", run_check(check_pairwise_sq_dists, pairwise_sq_dists))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Broadcasting `(n, 1, d) - (1, m, d)` gives the `(n, m, d)` differences; sum
# their squares over the last axis. It needs $n m d$ memory. The expansion
# $\lVert x\rVert^2 - 2x\cdot y + \lVert y\rVert^2$ needs only $n m$ and one matrix
# product, at the price of cancellation when two points are very close
# (clip tiny negative results to 0).
#
# ```python
# def pairwise_sq_dists(x, y):
#     return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)
#
#
# def pairwise_sq_dists_expanded(x, y):
#     squared = (x**2).sum(1)[:, None] - 2 * x @ y.T + (y**2).sum(1)[None, :]
#     return np.maximum(squared, 0.0)
# ```
#
# </details>
#
# ### Exercise 2: split attention heads
#
# Multi-head attention stores the heads side by side in the last axis:
# activations of shape `(B, T, H * D)` hold, for each token, head 0's `D`
# features, then head 1's, and so on. Write `split_heads(x, n_heads)`
# returning shape `(B, H, T, D)`, so that `out[b, h, t]` is head `h`'s slice
# of token `t`. Careful: `x.reshape(B, H, T, D)` has the right shape and the
# wrong values.


# %%
def split_heads(x: np.ndarray, n_heads: int) -> np.ndarray | None:
    """(B, T, H * D) -> (B, H, T, D): one (T, D) block per head."""
    return None  # your code here


# %%
def check_split_heads(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = []
    for batch, tokens, n_heads, head_dim in [(2, 5, 3, 4), (1, 7, 2, 1), (3, 1, 4, 2)]:
        x = generator.standard_normal((batch, tokens, n_heads * head_dim))
        expected = np.empty((batch, n_heads, tokens, head_dim))
        for b in range(batch):
            for h in range(n_heads):
                for t in range(tokens):
                    expected[b, h, t] = x[b, t, h * head_dim : (h + 1) * head_dim]
        cases.append(((x, n_heads), expected))
    check_cases(candidate, cases, partial(array_mismatch, rtol=0, atol=0))


print("exercise 2:", run_check(check_split_heads, split_heads))

# %% [markdown]
# <details><summary>Solution</summary>
#
# First cut the last axis into `(H, D)`, which keeps every head's features
# together, then swap the token and head axes. Both steps are views (check
# with `np.shares_memory`); the copy comes only when a later operation needs
# contiguous memory, which is why PyTorch code calls `.contiguous()` before
# merging the heads back with `.view`.
#
# ```python
# def split_heads(x, n_heads):
#     batch, tokens, width = x.shape
#     return x.reshape(batch, tokens, n_heads, width // n_heads).transpose(0, 2, 1, 3)
# ```
#
# </details>
#
# ### More to explore
#
# 1. Implement `softmax_stable` in float16 and find the largest logit spread for
#    which the naive version still works.
# 2. Time `np.einsum` against `@` for the batched product, with and without
#    `optimize=True`.
# 3. Time the two versions of `pairwise_sq_dists` from the solution above for
#    $n = m = 2000$, $d = 64$, and measure the largest error of the expanded one
#    against the broadcast one when some points are duplicates.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).


# %%
def solution_pairwise_sq_dists(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(axis=-1)


def wrong_pairwise_sq_dists(x, y):  # forgets the factor 2 of the cross term
    return (x**2).sum(1)[:, None] - x @ y.T + (y**2).sum(1)[None, :]


def solution_split_heads(x, n_heads):
    batch, tokens, width = x.shape
    return x.reshape(batch, tokens, n_heads, width // n_heads).transpose(0, 2, 1, 3)


def wrong_split_heads(x, n_heads):  # the right shape, the wrong values
    batch, tokens, width = x.shape
    return x.reshape(batch, n_heads, tokens, width // n_heads)


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_pairwise_sq_dists, solution_pairwise_sq_dists, wrong_pairwise_sq_dists),
    (check_split_heads, solution_split_heads, wrong_split_heads),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
