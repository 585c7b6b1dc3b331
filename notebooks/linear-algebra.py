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
# # Linear algebra for language models
#
# A language model turns words into vectors, pushes those vectors through
# long chains of matrix multiplications, and reads probabilities off the
# result. This notebook builds the handful of linear-algebra ideas that this
# needs, each from scratch, and checks each one against NumPy or PyTorch.
#
# **What you will build**
#
# 1. A tiny hand-made embedding table and word similarity with dot products
#    and cosine similarity (the operation behind attention scores).
# 2. A neural layer $y = xW^\top + b$ as a matrix multiplication, checked
#    against `torch.nn.Linear`.
# 3. The row picture and the column picture of a $2 \times 2$ system $Ax = b$.
# 4. Eigenvectors by power iteration, checked against `np.linalg.eigh`.
# 5. The singular value decomposition (SVD), low-rank approximation and the
#    Eckart-Young theorem, then PCA from scratch to draw the embeddings in 2-D.

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
from functools import partial

import numpy as np
import torch
from matplotlib import pyplot as plt

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)
rng = np.random.default_rng(0)
np.set_printoptions(precision=3, suppress=True)

# %% [markdown]
# ## 1. Vectors as meaning: a hand-made embedding table
#
# An embedding gives every token a vector. In a trained model the dimensions
# are learned and have no names; here we write a table by hand with six
# readable dimensions so that we can predict the answers before computing
# them. Related words get similar rows on purpose.

# %%
DIMENSIONS = ["royal", "masculine", "feminine", "young", "animal", "edible"]
EMBEDDINGS = {
    "king": [0.95, 0.90, 0.05, 0.10, 0.00, 0.00],
    "queen": [0.95, 0.05, 0.92, 0.10, 0.00, 0.00],
    "prince": [0.85, 0.88, 0.04, 0.80, 0.00, 0.00],
    "princess": [0.86, 0.03, 0.90, 0.82, 0.00, 0.00],
    "man": [0.05, 0.93, 0.03, 0.15, 0.05, 0.00],
    "woman": [0.04, 0.02, 0.95, 0.15, 0.05, 0.00],
    "boy": [0.03, 0.90, 0.02, 0.90, 0.05, 0.00],
    "girl": [0.02, 0.04, 0.91, 0.92, 0.05, 0.00],
    "cat": [0.02, 0.05, 0.15, 0.25, 0.95, 0.02],
    "dog": [0.03, 0.15, 0.05, 0.30, 0.90, 0.10],
    "apple": [0.00, 0.00, 0.00, 0.10, 0.00, 0.96],
    "banana": [0.00, 0.00, 0.00, 0.02, 0.05, 0.93],
}
WORDS = list(EMBEDDINGS)
E = np.array([EMBEDDINGS[w] for w in WORDS], dtype=np.float64)  # (12 words, 6 dims)
print("embedding table shape:", E.shape)

# %% [markdown]
# ### Dot product and cosine similarity
#
# The dot product $u \cdot v = \sum_i u_i v_i$ is large when two vectors point
# the same way *and* are long. Cosine similarity divides out the lengths,
#
# $$\cos(u, v) = \frac{u \cdot v}{\lVert u \rVert\, \lVert v \rVert} \in [-1, 1],$$
#
# so it measures direction only. Attention in a transformer scores every pair
# of tokens with a dot product of a query and a key vector; the length of
# those vectors is part of the signal, which is why attention divides by
# $\sqrt{d}$ instead of normalising fully.


# %%
def dot(u: np.ndarray, v: np.ndarray) -> float:
    """Sum of element-wise products, written as a loop to show what it is."""
    return float(sum(a * b for a, b in zip(u, v, strict=True)))


def norm(u: np.ndarray) -> float:
    return dot(u, u) ** 0.5


def cosine(u: np.ndarray, v: np.ndarray) -> float:
    return dot(u, v) / (norm(u) * norm(v))


def most_similar(
    query: np.ndarray,
    exclude: set[str],
    top: int = 3,
) -> list[tuple[str, float]]:
    """The `top` words whose embedding has the highest cosine with `query`."""
    scores = [(w, cosine(query, E[i])) for i, w in enumerate(WORDS) if w not in exclude]
    return sorted(scores, key=lambda pair: -pair[1])[:top]


row = {w: i for i, w in enumerate(WORDS)}
for word in ["king", "cat", "apple"]:
    neighbours = most_similar(E[row[word]], exclude={word})
    print(f"{word:>6} ->", ", ".join(f"{w} ({s:.2f})" for w, s in neighbours))

# %% [markdown]
# Check the loop version against NumPy and PyTorch, and check what the table
# was designed to show: a cat is closer to a dog than to an apple, and a
# king's nearest neighbours are royal or male.

# %%
u, v = E[row["cat"]], E[row["dog"]]
np.testing.assert_allclose(dot(u, v), u @ v, rtol=1e-12)
u_t, v_t = torch.from_numpy(u), torch.from_numpy(v)
cos_torch = torch.nn.functional.cosine_similarity(u_t, v_t, dim=0)
np.testing.assert_allclose(cosine(u, v), cos_torch.item(), rtol=1e-12)

assert cosine(E[row["cat"]], E[row["dog"]]) > cosine(E[row["cat"]], E[row["apple"]])
assert cosine(E[row["apple"]], E[row["banana"]]) > 0.99
# By hand from the table: cos(king, prince) = 1.6815 / (1.3134 * 1.4624) = 0.875, above man (0.726) and queen (0.576).
nearest_to_king = most_similar(E[row["king"]], exclude={"king"}, top=1)[0][0]
assert nearest_to_king == "prince"
np.testing.assert_allclose(cosine(E[row["king"]], E[row["prince"]]), 1.6815 / (1.3134 * 1.4624), rtol=1e-4)

# %% [markdown]
# ### Analogies are vector arithmetic
#
# If "royal" and "feminine" are directions, then
# $\text{king} - \text{man} + \text{woman}$ should land near "queen". Real
# word2vec embeddings show the same effect, less cleanly.

# %%
analogy = E[row["king"]] - E[row["man"]] + E[row["woman"]]
best = most_similar(analogy, exclude={"king", "man", "woman"}, top=2)
print("king - man + woman ->", ", ".join(f"{w} ({s:.2f})" for w, s in best))
assert best[0][0] == "queen"

# %% [markdown]
# ### All pairs at once: a similarity matrix
#
# Normalise every row to unit length, then one matrix product
# $\hat{E}\hat{E}^\top$ gives every cosine at once. This is exactly the shape
# of the attention score matrix $QK^\top$: one product, all pairs. In the
# heatmap, look for the bright squares of animals and of food, and for the
# checkerboard among the eight people: the same gender counts for more than
# being royal or young in this table.

# %%
E_unit = E / np.linalg.norm(E, axis=1, keepdims=True)
similarity = E_unit @ E_unit.T
np.testing.assert_allclose(similarity[row["cat"], row["dog"]], cosine(u, v), rtol=1e-12)
np.testing.assert_allclose(np.diag(similarity), 1.0, rtol=1e-12)

fig, ax = plt.subplots(figsize=(6.5, 5.5))
image = ax.imshow(similarity, cmap="viridis", vmin=0, vmax=1)
ax.set_xticks(range(len(WORDS)), WORDS, rotation=60)
ax.set_yticks(range(len(WORDS)), WORDS)
ax.set_title("Cosine similarity between word embeddings")
fig.colorbar(image, ax=ax, label="cosine similarity")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. A neural layer is a matrix multiplication
#
# A fully connected layer maps an input $x \in \mathbb{R}^{d_\text{in}}$ to
# $y \in \mathbb{R}^{d_\text{out}}$ with a weight matrix
# $W \in \mathbb{R}^{d_\text{out} \times d_\text{in}}$ and a bias $b$:
#
# $$y = x W^\top + b.$$
#
# Each output is one dot product: $y_j = W_j \cdot x + b_j$, the similarity
# between the input and the $j$-th row of $W$. Stack a batch of inputs as the
# rows of $X$ and the whole batch is one matrix product $XW^\top + b$, with
# $b$ broadcast over the rows. PyTorch stores `nn.Linear.weight` as
# $(d_\text{out}, d_\text{in})$ for this reason.


# %%
def linear_loops(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """One input vector through a layer: one dot product per output unit."""
    return np.array([dot(weight[j], x) + bias[j] for j in range(weight.shape[0])])


def linear_matmul(X: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A batch of inputs (rows of X) through the same layer in one product."""
    return X @ weight.T + bias


d_in, d_out = E.shape[1], 4
W = rng.normal(size=(d_out, d_in))
b = rng.normal(size=d_out)

layer = torch.nn.Linear(d_in, d_out).double()
with torch.no_grad():
    layer.weight.copy_(torch.from_numpy(W))
    layer.bias.copy_(torch.from_numpy(b))

Y_scratch = linear_matmul(E, W, b)
Y_torch = layer(torch.from_numpy(E)).detach().numpy()
print("batch of 12 words, 6 dims ->", Y_scratch.shape)

np.testing.assert_allclose(linear_loops(E[0], W, b), Y_scratch[0], rtol=1e-12)
np.testing.assert_allclose(Y_scratch, Y_torch, rtol=1e-12, atol=1e-12)

# %% [markdown]
# ## 3. Two pictures of $Ax = b$
#
# Take the system (from Gilbert Strang's first 18.06 lecture)
#
# $$2x - y = 0, \qquad -x + 2y = 3, \qquad
# A = \begin{pmatrix} 2 & -1 \\ -1 & 2 \end{pmatrix},\;
# b = \begin{pmatrix} 0 \\ 3 \end{pmatrix}.$$
#
# * **Row picture**: each row of $A$ is one equation, a line in the plane. The
#   solution is the point where the lines meet. Computing $Ax$ row by row is
#   one dot product per row.
# * **Column picture**: $Ax = x_1 a_1 + x_2 a_2$ is a *linear combination of
#   the columns* $a_1, a_2$. Solving means finding how much of each column to
#   take to reach $b$. A neural layer does the same: its output $Wx$ is a
#   sum of the columns of $W$, weighted by the input features.
#
# We solve it with Gaussian elimination written from scratch, then check both
# ways of multiplying against NumPy.


# %%
def solve_gaussian(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Solve Ax = b by elimination with partial pivoting, then back substitution."""
    M = np.hstack([A.astype(np.float64), b.reshape(-1, 1).astype(np.float64)])
    n = len(b)
    for col in range(n):
        pivot = col + int(np.argmax(np.abs(M[col:, col])))
        if abs(M[pivot, col]) < 1e-12:
            raise ValueError("matrix is singular: zero pivot")
        M[[col, pivot]] = M[[pivot, col]]
        for r in range(col + 1, n):
            M[r] -= M[r, col] / M[col, col] * M[col]
    x = np.zeros(n)
    for r in range(n - 1, -1, -1):
        x[r] = (M[r, -1] - M[r, r + 1 : n] @ x[r + 1 :]) / M[r, r]
    return x


A = np.array([[2.0, -1.0], [-1.0, 2.0]])
b_vec = np.array([0.0, 3.0])
x_solution = solve_gaussian(A, b_vec)
print("solution x =", x_solution)

np.testing.assert_allclose(x_solution, np.linalg.solve(A, b_vec), rtol=1e-12)
row_way = np.array([A[0] @ x_solution, A[1] @ x_solution])  # one dot product per row
column_way = x_solution[0] * A[:, 0] + x_solution[1] * A[:, 1]  # combination of columns
np.testing.assert_allclose(row_way, b_vec, atol=1e-12)
np.testing.assert_allclose(column_way, b_vec, atol=1e-12)

# %% [markdown]
# Left: the two lines of the row picture cross at the solution $(1, 2)$.
# Right: the column picture walks $1 \times a_1$ and then $2 \times a_2$, tip to
# tail, and arrives exactly at $b$. If the two columns were parallel (a
# singular $A$), their combinations would only cover a line, and most $b$
# could not be reached: that is when elimination meets a zero pivot.

# %%
fig, (ax_row, ax_col) = plt.subplots(1, 2, figsize=(10, 4.5))

xs = np.linspace(-1, 3, 50)
ax_row.plot(xs, 2 * xs, label="row 1: $2x - y = 0$")
ax_row.plot(xs, (3 + xs) / 2, label="row 2: $-x + 2y = 3$")
ax_row.scatter(*x_solution, color="black", zorder=3, label="solution (1, 2)")
ax_row.set(title="Row picture: lines meet at the solution", xlabel="$x$", ylabel="$y$")
ax_row.set_aspect("equal")
ax_row.grid(alpha=0.3)
ax_row.legend(loc="upper left", fontsize=8)

a1, a2 = A[:, 0], A[:, 1]
step1 = x_solution[0] * a1
arrow = {"angles": "xy", "scale_units": "xy", "scale": 1, "width": 0.012}
step2 = x_solution[1] * a2
faint = {**arrow, "alpha": 0.35}
ax_col.quiver(0, 0, *a1, color="tab:blue", **faint, label="column $a_1 = (2, -1)$")
ax_col.quiver(0, 0, *a2, color="tab:orange", **faint, label="column $a_2 = (-1, 2)$")
ax_col.quiver(0, 0, *step1, color="tab:blue", **arrow, label="$1 \\times a_1$")
ax_col.quiver(*step1, *step2, color="tab:orange", **arrow, label="$+\\, 2 \\times a_2$")
ax_col.scatter(*b_vec, color="black", zorder=3, label="$b = (0, 3)$")
ax_col.set(xlim=(-2, 3), ylim=(-1.5, 3.5), title="Column picture: columns combine to b")
ax_col.set(xlabel="first component", ylabel="second component")
ax_col.set_aspect("equal")
ax_col.grid(alpha=0.3)
ax_col.legend(loc="upper right", fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Eigenvectors: directions a matrix only stretches
#
# An eigenvector $v$ of $A$ keeps its direction: $Av = \lambda v$. For a
# symmetric matrix (a covariance matrix, a Hessian) the eigenvectors are
# orthogonal and the eigenvalues are real, and `np.linalg.eigh` finds them.
#
# **Power iteration** finds the dominant one with nothing but matrix-vector
# products: multiply by $A$ and renormalise, again and again. Components
# along the other eigenvectors shrink by $|\lambda_2 / \lambda_1|$ per step, so
# the vector turns towards $v_1$. The Rayleigh quotient
# $v^\top A v$ estimates $\lambda_1$.


# %%
def power_iteration(
    A: np.ndarray,
    steps: int,
    seed: int = 0,
) -> tuple[float, np.ndarray, list[float]]:
    """Dominant eigenpair (lambda, v) of a symmetric matrix, and every estimate."""
    v = np.random.default_rng(seed).normal(size=A.shape[0])
    v /= np.linalg.norm(v)
    estimates = []
    for _ in range(steps):
        v = A @ v
        v /= np.linalg.norm(v)
        estimates.append(float(v @ A @ v))
    return estimates[-1], v, estimates


S = np.array([[2.0, 1.0], [1.0, 2.0]])  # a small symmetric matrix to look at
eigenvalues, eigenvectors = np.linalg.eigh(S)  # ascending order
print("eigenvalues of S:", eigenvalues)
for lam, vec in zip(eigenvalues, eigenvectors.T, strict=True):
    np.testing.assert_allclose(S @ vec, lam * vec, atol=1e-12)  # A v = lambda v

# The covariance of the embedding table: 6 x 6, symmetric.
E_centered = E - E.mean(axis=0)
C = E_centered.T @ E_centered / (len(E) - 1)
lambdas, V = np.linalg.eigh(C)
np.testing.assert_allclose(C @ V, V * lambdas, atol=1e-12)  # every eigenpair at once
# The eigenvectors are orthonormal.
np.testing.assert_allclose(V.T @ V, np.eye(len(C)), atol=1e-12)

lam_top, v_top, estimates = power_iteration(C, steps=150)
print(f"power iteration: {lam_top:.6f}   eigh: {lambdas[-1]:.6f}")
np.testing.assert_allclose(lam_top, lambdas[-1], rtol=1e-10)
# Same direction as eigh's eigenvector, up to sign.
np.testing.assert_allclose(abs(v_top @ V[:, -1]), 1.0, atol=1e-8)

# %% [markdown]
# Left: the unit circle (grey) and its image under $S$ (an ellipse). Most
# vectors change direction when multiplied, but the two eigenvectors only
# stretch, by 3 and by 1. Right: the power-iteration error falls in a
# straight line on a log scale; its slope is set by the ratio of the two
# largest eigenvalues (for a symmetric matrix the Rayleigh quotient error
# shrinks like $(\lambda_2/\lambda_1)^{2k}$).

# %%
theta = np.linspace(0, 2 * np.pi, 200)
circle = np.stack([np.cos(theta), np.sin(theta)])
ellipse = S @ circle

fig, (ax_eig, ax_pow) = plt.subplots(1, 2, figsize=(10, 4.5))
ax_eig.plot(*circle, color="grey", label="unit circle")
ax_eig.plot(*ellipse, color="tab:green", label="image under $S$")
for angle in np.linspace(0.3, 2.8, 4):
    x_vec = np.array([np.cos(angle), np.sin(angle)])
    grey_arrow = {"arrowstyle": "->", "color": "grey"}
    ax_eig.annotate("", xy=S @ x_vec, xytext=x_vec, arrowprops=grey_arrow)
colours = ["purple", "red"]
for lam, vec, colour in zip(eigenvalues, eigenvectors.T, colours, strict=True):
    label = f"eigenvector times $\\lambda = {lam:.0f}$"
    ax_eig.quiver(0, 0, *(lam * vec), color=colour, **arrow, label=label)
ax_eig.set(title="Eigenvectors keep their direction", xlabel="$x_1$", ylabel="$x_2$")
ax_eig.set_aspect("equal")
ax_eig.legend(fontsize=8, loc="lower right")

# Clip at 1e-17: a log axis cannot show an error of exactly zero.
errors = np.maximum(np.abs(np.array(estimates) - lambdas[-1]), 1e-17)
steps = np.arange(1, len(errors) + 1)
ax_pow.semilogy(steps, errors, "o-", markersize=3, label="|estimate - eigh|")
ratio = lambdas[-2] / lambdas[-1]
predicted = errors[0] * ratio ** (2 * (steps - 1))
ax_pow.semilogy(steps, predicted, "--", label=r"slope of $(\lambda_2/\lambda_1)^{2k}$")
ax_pow.set(title="Power iteration on the embedding covariance", xlabel="step $k$")
ax_pow.set(ylabel="error of the eigenvalue estimate")
ax_pow.set_ylim(1e-17, None)
ax_pow.legend()
fig.tight_layout()
plt.show()

assert errors[-1] < 1e-10 * lambdas[-1], "power iteration did not converge"

# %% [markdown]
# ## 5. The singular value decomposition
#
# Every matrix, square or not, factors as $M = U \Sigma V^\top$: orthonormal
# columns in $U$ and $V$, non-negative singular values
# $\sigma_1 \ge \sigma_2 \ge \dots$ on the diagonal of $\Sigma$. Geometrically:
# rotate, stretch along the axes, rotate. Keeping only the $k$ largest
# singular values gives the rank-$k$ matrix
# $M_k = \sum_{i \le k} \sigma_i u_i v_i^\top$, and the **Eckart-Young
# theorem** says no rank-$k$ matrix is closer to $M$:
#
# $$\lVert M - M_k \rVert_F^2 = \sum_{i > k} \sigma_i^2, \qquad
# \lVert M - M_k \rVert_2 = \sigma_{k+1}.$$
#
# This is the idea behind LoRA (weight updates as low-rank products), model
# compression, and PCA.

# %%
U, sigma, Vt = np.linalg.svd(E, full_matrices=False)
# U diag(sigma) V^T rebuilds E exactly; U and V have orthonormal columns.
np.testing.assert_allclose(U @ np.diag(sigma) @ Vt, E, atol=1e-12)
np.testing.assert_allclose(U.T @ U, np.eye(len(sigma)), atol=1e-12)
np.testing.assert_allclose(Vt @ Vt.T, np.eye(len(sigma)), atol=1e-12)


def rank_k(M: np.ndarray, k: int) -> np.ndarray:
    """Best rank-k approximation: keep the k largest singular triplets."""
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return (U[:, :k] * s[:k]) @ Vt[:k]


frobenius_errors = []
for k in range(1, len(sigma)):
    residual = E - rank_k(E, k)
    frobenius_errors.append(np.linalg.norm(residual, "fro"))
    squared_error = np.linalg.norm(residual, "fro") ** 2
    np.testing.assert_allclose(squared_error, np.sum(sigma[k:] ** 2), rtol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(residual, 2), sigma[k], rtol=1e-10)

# Eckart-Young, tested: project E onto 500 random rank-2 row spaces; none beats the SVD.
k = 2
best_error = np.linalg.norm(E - rank_k(E, k), "fro")
random_errors = []
for _ in range(500):
    Q, _ = np.linalg.qr(rng.normal(size=(E.shape[1], k)))  # random k-dim subspace
    random_errors.append(np.linalg.norm(E - E @ Q @ Q.T, "fro"))
print(f"rank-2 error: SVD {best_error:.4f}, best random {min(random_errors):.4f}")
assert best_error <= min(random_errors) + 1e-12

# %% [markdown]
# Left: the singular values of the embedding table. The first stands out:
# the table is not centred (every entry is positive), so the first direction
# is roughly the "average word" that all rows share. The others fall off
# gradually, because each of our six hand-made dimensions carries its own
# theme. Right: the rank-$k$ error measured directly equals the size of the
# singular values we threw away.

# %%
fig, (ax_s, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
ax_s.bar(range(1, len(sigma) + 1), sigma)
ax_s.set(title="Singular values of the embedding table", xlabel="index $i$")
ax_s.set(ylabel=r"singular value $\sigma_i$")
ks = np.arange(1, len(sigma))
ax_err.plot(ks, frobenius_errors, "o-", label=r"measured $\|E - E_k\|_F$")
discarded = [np.sqrt(np.sum(sigma[k:] ** 2)) for k in ks]
ax_err.plot(ks, discarded, "x--", label=r"$\sqrt{\sum_{i>k}\sigma_i^2}$")
ax_err.set(title="Low-rank approximation error", xlabel="rank $k$", xticks=ks)
ax_err.set(ylabel="Frobenius norm of the error")
ax_err.legend()
fig.tight_layout()
plt.show()

assert sigma[0] > 1.5 * sigma[1], "the shared 'average word' direction stands out"

# %% [markdown]
# ## 6. PCA from scratch: the embeddings in 2-D
#
# Principal component analysis finds the orthogonal directions along which
# the (centred) data varies most: the top eigenvectors of the covariance
# $C = X_c^\top X_c / (n-1)$. We get them with power iteration plus
# **deflation** (remove the found component, $C \leftarrow C - \lambda v v^\top$,
# and iterate again). The SVD of the centred data gives the same directions
# as the rows of $V^\top$, with variances $\sigma_i^2/(n-1)$, so we can check
# every step.


# %%
def pca_power(
    X: np.ndarray,
    n_components: int,
    steps: int = 500,
) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions (rows) and their variances: power iteration, deflation."""
    X_centered = X - X.mean(axis=0)
    cov = X_centered.T @ X_centered / (len(X) - 1)
    directions, variances = [], []
    for i in range(n_components):
        lam, v, _ = power_iteration(cov, steps=steps, seed=i)
        directions.append(v)
        variances.append(lam)
        cov = cov - lam * np.outer(v, v)  # deflate: remove the component just found
    return np.array(directions), np.array(variances)


components, variances = pca_power(E, n_components=2)
projected = (E - E.mean(axis=0)) @ components.T

_, sigma_c, Vt_c = np.linalg.svd(E_centered, full_matrices=False)
np.testing.assert_allclose(variances, sigma_c[:2] ** 2 / (len(E) - 1), rtol=1e-8)
for i in range(2):
    # The same axis as the SVD's; the sign of an eigenvector is arbitrary.
    np.testing.assert_allclose(abs(components[i] @ Vt_c[i]), 1.0, atol=1e-8)
projected_svd = E_centered @ Vt_c[:2].T
np.testing.assert_allclose(np.abs(projected), np.abs(projected_svd), atol=1e-8)

explained = variances / np.sum(sigma_c**2 / (len(E) - 1))
print("variance explained by the first two components:", explained.round(3))

# %% [markdown]
# Nobody told PCA what the dimensions mean, yet its axes are readable: the
# second component separates masculine from feminine words (checked below),
# and the first runs from food and animals to people and royals. Near
# duplicates (cat and dog, apple and banana) land almost on top of each
# other. The 2-D projection keeps only the share of the variance printed
# above, so some distances are distorted (the "young" dimension is partly
# lost): that is the price of drawing a 6-D (or 4096-D) space on paper.

# %%
groups = {
    "royal": ["king", "queen", "prince", "princess"],
    "person": ["man", "woman", "boy", "girl"],
    "animal": ["cat", "dog"],
    "food": ["apple", "banana"],
}
fig, ax = plt.subplots(figsize=(6.5, 5))
for group, members in groups.items():
    idx = [row[w] for w in members]
    ax.scatter(projected[idx, 0], projected[idx, 1], s=60, label=group)
    for i in idx:
        offset = (5, -12) if WORDS[i] in {"cat", "banana"} else (5, 5)
        ax.annotate(WORDS[i], projected[i], textcoords="offset points", xytext=offset)
ax.set(title="Word embeddings projected on the first two principal components")
ax.set(xlabel=f"PC 1 ({explained[0]:.0%} of variance)")
ax.set(ylabel=f"PC 2 ({explained[1]:.0%} of variance)")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
plt.show()

masculine = projected[[row[w] for w in ["king", "prince", "man", "boy"]], 1]
feminine = projected[[row[w] for w in ["queen", "princess", "woman", "girl"]], 1]
# The sign of a component is arbitrary, so orient it before comparing.
orientation = np.sign(masculine.mean())
assert np.all(orientation * masculine > 0) and np.all(orientation * feminine < 0)
# PC 1 puts food and animals at one end and royals at the other.
things = projected[[row[w] for w in ["apple", "banana", "cat", "dog"]], 0]
royals = projected[[row[w] for w in groups["royal"]], 0]
assert np.all(np.sign(things) == -np.sign(royals.mean()))
assert np.all(np.sign(royals) == np.sign(royals.mean()))

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
# ### Exercise 1: Gram-Schmidt
#
# Write `gram_schmidt(A)` for a matrix with independent columns: it returns
# `Q` with orthonormal columns such that column $j$ of $A$ is a combination of
# the first $j$ columns of $Q$ (so $R = Q^\top A$ is upper triangular), each
# $q_j$ oriented so that $q_j \cdot a_j > 0$. Walk the columns in order:
# remove from $a_j$ its components along $q_1, \dots, q_{j-1}$, then
# normalise what is left. The check compares your `Q` with NumPy's QR
# factorisation, whose columns it first orients the same way.


# %%
def gram_schmidt(A: np.ndarray) -> np.ndarray | None:
    """Orthonormal Q spanning the columns of A in order, with positive q_j . a_j."""
    return None  # your code here


# %%
def check_gram_schmidt(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = []
    for rows, cols in [(3, 3), (6, 2), (8, 5), (5, 1)]:
        A = generator.normal(size=(rows, cols))
        Q, R = np.linalg.qr(A)
        cases.append(((A,), Q * np.sign(np.diag(R))))  # flip columns so that diag(R) > 0
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-8, atol=1e-8))


print("exercise 1:", run_check(check_gram_schmidt, gram_schmidt))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Subtract the projections onto the $q$'s already found, not onto the
# original columns: the $a$'s are not orthogonal, so projecting on them
# removes the wrong amounts. Subtracting one projection at a time from the
# running vector (the "modified" Gram-Schmidt below) is also more accurate in
# floating point than subtracting them all from $a_j$ at once.
#
# ```python
# def gram_schmidt(A):
#     Q = np.zeros_like(A, dtype=float)
#     for j in range(A.shape[1]):
#         v = A[:, j].astype(float)
#         for i in range(j):
#             v = v - (Q[:, i] @ v) * Q[:, i]
#         Q[:, j] = v / np.linalg.norm(v)
#     return Q
# ```
#
# </details>
#
# ### Exercise 2: store a matrix as two thin factors
#
# LoRA and low-rank compression store an $m \times n$ matrix as a product
# $BA$ of an $m \times k$ and a $k \times n$ matrix: $k(m + n)$ numbers instead
# of $mn$. Write `low_rank_factors(M, k)` returning the pair `(B, A)` whose
# product is the best rank-$k$ approximation of $M$ (Eckart-Young: it keeps
# the $k$ largest singular triplets). The check compares `B @ A` with a
# reference built from the SVD and checks the shapes.


# %%
def low_rank_factors(M: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(B, A) of shapes (m, k) and (k, n) with B @ A the best rank-k approximation of M."""
    return None  # your code here


# %%
def factors_mismatch(expected: tuple[np.ndarray, int], got) -> str | None:
    best, k = expected
    B, A = (np.asarray(factor) for factor in got)
    if B.shape != (best.shape[0], k) or A.shape != (k, best.shape[1]):
        return f"factor shapes {B.shape} and {A.shape}, expected {(best.shape[0], k)} and {(k, best.shape[1])}"
    return array_mismatch(best, B @ A, rtol=1e-9, atol=1e-9)


def check_low_rank_factors(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = []
    for rows, cols, k in [(6, 4, 2), (5, 9, 1), (8, 8, 3), (4, 3, 3)]:
        M = generator.normal(size=(rows, cols))
        U, s, Vt = np.linalg.svd(M)
        best = sum(s[i] * np.outer(U[:, i], Vt[i]) for i in range(k))
        cases.append(((M, k), (best, k)))
    check_cases(candidate, cases, factors_mismatch)


print("exercise 2:", run_check(check_low_rank_factors, low_rank_factors))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Keep the first $k$ columns of $U$ and rows of $V^\top$, and fold the
# singular values into one side (or split them as $\sqrt{\sigma_i}$ on each
# side, which keeps both factors on the same scale).
#
# ```python
# def low_rank_factors(M, k):
#     U, s, Vt = np.linalg.svd(M, full_matrices=False)
#     return U[:, :k] * s[:k], Vt[:k]
# ```
#
# </details>
#
# ### More to explore
#
# 1. Add "kitten" and "puppy" to the table. Where do they land in the PCA
#    plot, and does $\text{puppy} - \text{dog} + \text{cat}$ find "kitten"?
# 2. Make $A$ nearly singular (e.g. second row $(-1, 0.51)$) and redraw both
#    pictures: what happens to the lines, the columns and the solution?
# 3. Give $C$ two nearly equal top eigenvalues (e.g. scale one feature) and
#    watch power iteration slow down, as $(\lambda_2/\lambda_1)^{2k}$ predicts.
# 4. Compress a random $64 \times 64$ weight matrix with `low_rank_factors` and
#    plot the error against the number of stored numbers $k(64 + 64)$. Then do
#    the same for a matrix that really is close to low rank (a product of two
#    thin random matrices plus a little noise): where does the curve bend?
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_gram_schmidt(A):
    Q = np.zeros_like(A, dtype=float)
    for j in range(A.shape[1]):
        v = A[:, j].astype(float)
        for i in range(j):
            v = v - (Q[:, i] @ v) * Q[:, i]
        Q[:, j] = v / np.linalg.norm(v)
    return Q


def wrong_gram_schmidt(A):  # projects on the original columns instead of the q's
    Q = np.zeros_like(A, dtype=float)
    for j in range(A.shape[1]):
        v = A[:, j].astype(float)
        for i in range(j):
            v = v - (A[:, i] @ A[:, j]) / (A[:, i] @ A[:, i]) * A[:, i]
        Q[:, j] = v / np.linalg.norm(v)
    return Q


def solution_low_rank_factors(M, k):
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return U[:, :k] * s[:k], Vt[:k]


def wrong_low_rank_factors(M, k):  # keeps the k smallest singular triplets
    U, s, Vt = np.linalg.svd(M, full_matrices=False)
    return U[:, -k:] * s[-k:], Vt[-k:]


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_gram_schmidt, solution_gram_schmidt, wrong_gram_schmidt),
    (check_low_rank_factors, solution_low_rank_factors, wrong_low_rank_factors),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
