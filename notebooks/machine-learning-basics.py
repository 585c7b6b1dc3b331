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
# # Machine learning basics
#
# A large language model is, at heart, the same object as the models in this
# notebook: a function with parameters, a loss that measures its mistakes on
# data, and an optimiser that lowers the loss by following the gradient. Its
# quality is judged on data it never trained on. Everything here scales up
# directly: linear layers, the cross-entropy loss, gradient descent, held-out
# evaluation, and the tension between fitting the training data and
# generalising.
#
# **What you will build**
#
# - linear regression by gradient descent, checked against the closed-form
#   least-squares solution, and a look at why feature scaling speeds it up;
# - logistic regression with the cross-entropy loss, its gradient checked
#   numerically, trained by gradient descent and checked against Newton's
#   method (IRLS) and a PyTorch model trained the same way;
# - a train/validation/test split and a polynomial-degree sweep that shows
#   underfitting and overfitting;
# - k-fold cross-validation from scratch;
# - the confusion matrix, precision, recall and F1 from scratch.

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
import math
import os
from functools import partial
from itertools import pairwise

import matplotlib.pyplot as plt
import numpy as np
import torch

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Linear regression: gradient descent vs the closed form
#
# Data: $n$ examples with $d$ features in a matrix $X$ and targets $y$. The
# model predicts $\hat y = Xw + b$, and the **mean squared error** is
#
# $$L(w, b) = \frac{1}{n}\lVert Xw + b - y\rVert^2, \qquad
# \nabla_w L = \frac{2}{n} X^\top (Xw + b - y), \quad
# \frac{\partial L}{\partial b} = \frac{2}{n}\sum_i (\hat y_i - y_i).$$
#
# Gradient descent repeats $w \leftarrow w - \eta \nabla_w L$. Because this loss
# is a convex quadratic, there is also a closed-form minimiser, the
# least-squares solution, which `np.linalg.lstsq` computes stably (via the
# SVD, without forming $X^\top X$). Both must give the same answer.
#
# The features below have very different scales (think of raw inputs such as
# a count, a length and a ratio).

# %%
n_samples = 200
scales = np.array([1.0, 10.0, 100.0])
x_raw = rng.standard_normal((n_samples, 3)) * scales + np.array([0.0, 50.0, -20.0])
true_w = np.array([2.0, -0.3, 0.05])
y_reg = 3.0 + x_raw @ true_w + 0.5 * rng.standard_normal(n_samples)


def mse_and_grad(w: np.ndarray, b: float, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, float]:
    """Mean squared error and its gradient with respect to w and b."""
    residual = x @ w + b - y
    return float(np.mean(residual**2)), 2 * x.T @ residual / len(y), float(2 * residual.mean())


def gradient_descent(
    x: np.ndarray, y: np.ndarray, lr: float, steps: int
) -> tuple[np.ndarray, float, list[float]]:
    w, b, losses = np.zeros(x.shape[1]), 0.0, []
    for _ in range(steps):
        loss, grad_w, grad_b = mse_and_grad(w, b, x, y)
        losses.append(loss)
        w, b = w - lr * grad_w, b - lr * grad_b
    return w, b, losses


# Closed form on the raw features: append a column of ones for the bias.
design = np.column_stack([np.ones(n_samples), x_raw])
coef_lstsq = np.linalg.lstsq(design, y_reg, rcond=None)[0]
coef_normal = np.linalg.solve(design.T @ design, design.T @ y_reg)
# The normal equations square the condition number: expect agreement to about kappa(X)^2 eps.
kappa_design = np.linalg.cond(design)
np.testing.assert_allclose(coef_normal, coef_lstsq, rtol=kappa_design**2 * np.finfo(float).eps)
best_loss = float(np.mean((design @ coef_lstsq - y_reg) ** 2))
print(f"least squares: b = {coef_lstsq[0]:.3f}, w = {np.round(coef_lstsq[1:], 4)}")

# %% [markdown]
# **Scaling matters.** Gradient descent converges at a rate set by the
# condition number of $X^\top X$ (see the previous notebook): the learning rate
# must be small enough for the steepest direction, so the flattest direction
# crawls. **Standardising** each feature to mean 0 and standard deviation 1
# makes all directions similarly steep.
#
# How large may the step be? This loss is a quadratic with Hessian
# $H = \frac{2}{n}X^\top X$ (with the column of ones for the bias), and the
# calculus notebook showed that gradient descent on a quadratic converges
# from every start exactly when $\eta < 2/\lambda_{\max}(H)$; the flattest
# direction then shrinks by $1 - \eta\lambda_{\min}$ per step. We give both
# runs the same relative step, $\eta = 1/\lambda_{\max}$: half the divergence
# bound, the step that removes the error along the steepest direction in one
# go. The next cell checks the bound itself. Finally we map the standardised
# solution back to raw units.

# %%
mean, std = x_raw.mean(axis=0), x_raw.std(axis=0)
x_std = (x_raw - mean) / std


def hessian_eigenvalues(x: np.ndarray) -> np.ndarray:
    """Eigenvalues, ascending, of the MSE Hessian 2 X^T X / n (with the bias column included)."""
    with_bias = np.column_stack([np.ones(len(x)), x])
    return np.linalg.eigvalsh(2 * with_bias.T @ with_bias / len(x))


curvature_std, curvature_raw = hessian_eigenvalues(x_std), hessian_eigenvalues(x_raw)
for name, eigenvalues in [("standardised", curvature_std), ("raw", curvature_raw)]:
    print(f"{name:>12}: lambda_max {eigenvalues[-1]:.3g}, condition number {eigenvalues[-1] / eigenvalues[0]:.3g}")
steps = 500
w_std, b_std, losses_std = gradient_descent(x_std, y_reg, lr=1 / curvature_std[-1], steps=steps)
w_raw, b_raw, losses_raw = gradient_descent(x_raw, y_reg, lr=1 / curvature_raw[-1], steps=steps)

w_back = w_std / std  # undo the standardisation: w_std * (x - mean) / std = w_back * x - ...
b_back = b_std - np.sum(w_std * mean / std)
np.testing.assert_allclose(np.r_[b_back, w_back], coef_lstsq, rtol=1e-8, atol=1e-8)
excess_std, excess_raw = losses_std[-1] - best_loss, losses_raw[-1] - best_loss
print(f"after {steps} steps, loss above the optimum: standardised {excess_std:.1e}, raw {excess_raw:.1e}")
assert excess_raw > 1e3 * max(excess_std, 1e-12), "raw features converge far more slowly"

fig, ax = plt.subplots(figsize=(6, 4))
ax.semilogy(np.array(losses_std) - best_loss + 1e-16, label="standardised features")
ax.semilogy(np.array(losses_raw) - best_loss + 1e-16, label="raw features")
ax.set_xlabel("gradient descent step")
ax.set_ylabel("loss minus optimal loss")
ax.set_title("Linear regression: feature scaling and convergence")
ax.legend()
plt.show()

# %% [markdown]
# The bound $2/\lambda_{\max}$, measured: the same standardised problem with
# steps of $1.0$, $1.9$, $2.0$ and $2.1$ times $1/\lambda_{\max}$. At $1.9$ the
# steepest direction overshoots and flips sign every step but still shrinks
# (by $|1 - 1.9| = 0.9$); at $2.0$ it neither shrinks nor grows; at $2.1$ it
# grows by $1.1$ per step and the loss explodes. Nothing special happens at
# $1/\lambda_{\max}$: it is a comfortable choice, not the largest safe one.

# %%
fig, ax = plt.subplots(figsize=(6, 4))
final_excess = {}
for factor in (1.0, 1.9, 2.0, 2.1):
    _, _, losses = gradient_descent(x_std, y_reg, lr=factor / curvature_std[-1], steps=300)
    final_excess[factor] = losses[-1] - best_loss
    ax.semilogy(np.maximum(np.array(losses) - best_loss, 1e-16), label=f"lr = {factor} / lambda_max")
ax.axhline(losses_std[0] - best_loss, color="grey", ls=":", label="starting excess loss")
ax.set_xlabel("gradient descent step")
ax.set_ylabel("loss minus optimal loss")
ax.set_title("Standardised features: below and above 2 / lambda_max")
ax.legend(fontsize=8)
plt.show()
print({factor: f"{excess:.2g}" for factor, excess in final_excess.items()})
assert final_excess[1.0] < 1e-12 and final_excess[1.9] < 1e-9, "below 2 / lambda_max it converges"
assert final_excess[2.1] > 1e6 * (losses_std[0] - best_loss), "above 2 / lambda_max it diverges"

# %% [markdown]
# **What to notice.** With standardised features the excess loss falls in a
# straight line on the log scale (geometric convergence) to rounding level
# within a few dozen steps, and the weights match `lstsq` to eight digits. With
# raw features the loss first drops fast (the steep direction), then stalls on
# a plateau: the flat directions barely move at the learning rate the steep one
# allows. Normalisation layers and adaptive optimisers in deep networks attack
# the same problem.
#
# ## 2. Logistic regression and the cross-entropy loss
#
# For a binary label $y \in \{0, 1\}$, the model outputs a **logit**
# $z = w^\top x + b$ and a probability $p = \sigma(z) = 1/(1 + e^{-z})$. The
# loss is the **binary cross-entropy**, the negative log-likelihood of the
# labels:
#
# $$L = \frac1n\sum_i -\big[y_i\log p_i + (1-y_i)\log(1-p_i)\big]
#     = \frac1n\sum_i \big[\log(1 + e^{z_i}) - y_i z_i\big].$$
#
# The second form works directly from logits and, written with
# `np.logaddexp(0, z)`, never overflows. Its gradient is strikingly simple:
# $\nabla_w L = \frac1n X^\top(p - y)$. A language model's loss is the same
# thing with a softmax over the vocabulary instead of a sigmoid over two
# classes.
#
# The data: two overlapping Gaussian clouds in 2-D. They must overlap: on
# perfectly separable data the loss keeps decreasing as $\lVert w\rVert \to \infty$
# and there is no finite optimum.


# %%
def make_blobs(n: int, generator: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points, half from each class, centred at (-1, -0.5) and (1, 0.5)."""
    labels = np.repeat([0.0, 1.0], n // 2)
    centres = np.where(labels[:, None] == 1.0, [1.0, 0.5], [-1.0, -0.5])
    points = centres + generator.standard_normal((n, 2))
    order = generator.permutation(n)
    return points[order], labels[order]


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def bce_loss(params: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Binary cross-entropy from logits; params = [b, w_1, ..., w_d]."""
    z = params[0] + x @ params[1:]
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def bce_grad(params: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    error = sigmoid(params[0] + x @ params[1:]) - y
    return np.r_[error.mean(), x.T @ error / len(y)]


x_train, y_train = make_blobs(200, rng)
x_test, y_test = make_blobs(1000, rng)

# %% [markdown]
# **Gradient check.** An analytic gradient is easy to get wrong; a central
# difference $\frac{L(\theta + h e_j) - L(\theta - h e_j)}{2h}$ approximates
# each component with error $O(h^2)$ and needs no calculus. In float64 with
# $h = 10^{-6}$ the two should agree to about eight digits. Every autograd
# library is tested this way (`torch.autograd.gradcheck`).


# %%
def numerical_grad(loss_fn, params: np.ndarray, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros_like(params)
    for j in range(len(params)):
        step = np.zeros_like(params)
        step[j] = h
        grad[j] = (loss_fn(params + step) - loss_fn(params - step)) / (2 * h)
    return grad


probe = rng.standard_normal(3)
analytic = bce_grad(probe, x_train, y_train)
numeric = numerical_grad(lambda p: bce_loss(p, x_train, y_train), probe)
np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)
print("analytic gradient:", analytic.round(6), " matches the central difference")

# %% [markdown]
# Now three ways to fit the same model:
#
# 1. **gradient descent** from scratch, 3000 steps with learning rate 1;
# 2. **Newton's method**, known for this model as *iteratively reweighted least
#    squares* (IRLS): $\theta \leftarrow \theta - H^{-1}\nabla L$ with Hessian
#    $H = \frac1n X^\top \mathrm{diag}(p(1-p)) X$; it converges quadratically
#    to the exact optimum in a handful of steps;
# 3. **PyTorch**: `nn.Linear` + `BCEWithLogitsLoss` + `optim.SGD`, same
#    initialisation and learning rate, in float64. Run for the same number of
#    steps as our gradient descent, it must follow exactly the same path; we
#    compare the two after 300 steps, where they are still far from converged,
#    so the check tests every step rather than just the common destination.


# %%
def fit_gradient_descent(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> np.ndarray:
    params = np.zeros(x.shape[1] + 1)
    for _ in range(steps):
        params = params - lr * bce_grad(params, x, y)
    return params


def fit_newton(x: np.ndarray, y: np.ndarray, steps: int = 15) -> np.ndarray:
    design = np.column_stack([np.ones(len(y)), x])
    params = np.zeros(design.shape[1])
    for _ in range(steps):
        p = sigmoid(design @ params)
        hessian = design.T @ (design * (p * (1 - p))[:, None]) / len(y)
        params = params - np.linalg.solve(hessian, bce_grad(params, x, y))
    return params


def fit_torch(x: np.ndarray, y: np.ndarray, lr: float, steps: int) -> np.ndarray:
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 1, dtype=torch.float64)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    optimiser = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.BCEWithLogitsLoss()
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y).unsqueeze(1)
    for _ in range(steps):
        optimiser.zero_grad()
        loss_fn(model(inputs), targets).backward()
        optimiser.step()
    return np.r_[model.bias.detach().numpy(), model.weight.detach().numpy().ravel()]


params_gd = fit_gradient_descent(x_train, y_train, lr=1.0, steps=3000)
params_newton = fit_newton(x_train, y_train)
params_gd_300 = fit_gradient_descent(x_train, y_train, lr=1.0, steps=300)
params_torch_300 = fit_torch(x_train, y_train, lr=1.0, steps=300)

assert np.abs(bce_grad(params_newton, x_train, y_train)).max() < 1e-12, "Newton reached the optimum"
np.testing.assert_allclose(params_gd, params_newton, atol=1e-6)
np.testing.assert_allclose(params_torch_300, params_gd_300, rtol=0, atol=1e-12)
assert np.abs(params_gd_300 - params_newton).max() > 1e-4, "300 steps is not yet converged"
test_accuracy = np.mean((params_gd[0] + x_test @ params_gd[1:] > 0) == y_test)
# The best any classifier can do on these clouds (the Bayes accuracy): the optimal boundary is the
# perpendicular bisector of the two centres, each class lands on the wrong side with probability
# Phi(-d / 2), where d is the distance between the centres.
centre_distance = math.dist([-1.0, -0.5], [1.0, 0.5])
bayes_accuracy = 0.5 * (1 + math.erf(centre_distance / 2 / math.sqrt(2)))
sampling_sd = math.sqrt(bayes_accuracy * (1 - bayes_accuracy) / len(y_test))
print(f"b, w = {params_newton.round(4)} (all three fits agree); test accuracy {test_accuracy:.3f}")
print(f"Bayes accuracy {bayes_accuracy:.3f}, give or take {sampling_sd:.3f} on 1000 test points")
assert abs(test_accuracy - bayes_accuracy) < 3 * sampling_sd, "logistic regression is as good as it gets here"

# %% [markdown]
# The fitted model's **decision boundary** is the line where the logit is
# zero ($p = 0.5$); the background shows the predicted probability.

# %%
grid_1, grid_2 = np.meshgrid(np.linspace(-4, 4, 200), np.linspace(-4, 4, 200))
grid_logits = params_gd[0] + params_gd[1] * grid_1 + params_gd[2] * grid_2

fig, ax = plt.subplots(figsize=(6, 4))
shading = ax.contourf(grid_1, grid_2, sigmoid(grid_logits), levels=20, cmap="RdBu_r", alpha=0.5)
ax.contour(grid_1, grid_2, grid_logits, levels=[0.0], colors="k")
for label, marker in [(0.0, "o"), (1.0, "^")]:
    chosen = y_train == label
    ax.scatter(x_train[chosen, 0], x_train[chosen, 1], marker=marker, s=16, edgecolors="k",
               linewidths=0.3, label=f"class {int(label)}")  # fmt: skip
fig.colorbar(shading, ax=ax, label="predicted P(class 1)")
ax.set_xlabel("feature 1")
ax.set_ylabel("feature 2")
ax.set_title("Logistic regression: boundary where the logit is 0")
ax.legend(loc="upper left")
plt.show()

# %% [markdown]
# **What to notice.** The boundary is a straight line (the model is linear in
# its inputs) and the probability changes smoothly across it: points near the
# line get probabilities near 0.5. Some points of each class fall on the wrong
# side, and no classifier can do better: for two Gaussian clouds with the same
# covariance the best possible boundary is itself a straight line, and the
# test accuracy above sits within sampling noise of the Bayes accuracy.
#
# ## 3. Generalisation: train, validation and test sets
#
# A model is useful only if it predicts **new** data well. We therefore split
# the data:
#
# - the **training set** fits the parameters;
# - the **validation set** chooses among models and settings (hyperparameters);
# - the **test set** is touched once, at the end, to report performance; if we
#   chose anything using it, its score would be optimistic.
#
# The experiment: noisy samples of $\sin(\pi x)$, fitted by polynomials of
# degree 0 to 14 with least squares. Higher degree means more capacity. The
# features are Legendre polynomials, which are far better conditioned on
# $[-1, 1]$ than the powers $1, x, x^2, \dots$ and span the same functions.

# %%
noise = 0.25
x_all = rng.uniform(-1, 1, 300)
y_all = np.sin(np.pi * x_all) + noise * rng.standard_normal(300)
x_tr, y_tr = x_all[:20], y_all[:20]
x_val, y_val = x_all[20:60], y_all[20:60]
x_te, y_te = x_all[60:], y_all[60:]


def fit_polynomial(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    return np.linalg.lstsq(np.polynomial.legendre.legvander(x, degree), y, rcond=None)[0]


def poly_mse(coef: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean((np.polynomial.legendre.legval(x, coef) - y) ** 2))


degrees = list(range(15))
fits = {d: fit_polynomial(x_tr, y_tr, d) for d in degrees}
train_err = [poly_mse(fits[d], x_tr, y_tr) for d in degrees]
val_err = [poly_mse(fits[d], x_val, y_val) for d in degrees]
best_degree = degrees[int(np.argmin(val_err))]

assert all(b <= a + 1e-12 for a, b in pairwise(train_err)), (
    "more capacity never raises the training error of least squares"
)
assert val_err[best_degree] < 0.5 * val_err[1], "a line underfits"
assert val_err[best_degree] < 0.1 * val_err[-1], "degree 14 overfits badly"
assert train_err[-1] < noise**2 < val_err[-1], "degree 14 fits the noise of its training points"
assert 3 <= best_degree <= 8
test_best = poly_mse(fits[best_degree], x_te, y_te)
print(
    f"validation picks degree {best_degree}; its test MSE is {test_best:.3f} (noise variance {noise**2:.4f})"
)

fig, (ax_err, ax_fit) = plt.subplots(1, 2, figsize=(10, 4))
ax_err.semilogy(degrees, train_err, "o-", label="training error")
ax_err.semilogy(degrees, val_err, "s-", label="validation error")
ax_err.axhline(noise**2, color="grey", ls=":", label="noise variance")
ax_err.axvline(best_degree, color="k", lw=0.8, ls="--")
ax_err.set_ylim(0.02, 20)  # the highest degrees' validation errors run off the top
ax_err.set_xlabel("polynomial degree")
ax_err.set_ylabel("mean squared error")
ax_err.set_title("Underfitting (left) and overfitting (right)")
ax_err.legend()

x_plot = np.linspace(-1, 1, 400)
ax_fit.scatter(x_tr, y_tr, color="k", s=16, zorder=3, label="training points")
ax_fit.plot(x_plot, np.sin(np.pi * x_plot), "k:", label=r"truth $\sin(\pi x)$")
for degree in (1, best_degree, 14):
    ax_fit.plot(x_plot, np.polynomial.legendre.legval(x_plot, fits[degree]), label=f"degree {degree}")
ax_fit.set_ylim(-2, 2)
ax_fit.set_xlabel("x")
ax_fit.set_ylabel("y")
ax_fit.set_title("Three fits to 20 points")
ax_fit.legend(fontsize=8)
plt.show()

# %% [markdown]
# **What to notice.** Training error only goes down as the degree grows, and
# eventually falls *below* the noise variance: the model is memorising noise.
# Validation error falls while the model gains the capacity to bend like a
# sine (degree 1 is a straight line: **high bias**), reaches a minimum, then
# rises as the fit starts chasing individual points (degree 14 swings wildly
# between them: **high variance**). This is the bias-variance trade-off.
#
# LLMs live in a somewhat different regime (huge models that still generalise,
# trained for about one pass over the data), but the practice is identical: a
# held-out validation loss is what you watch during training, and a rising
# validation loss with a falling training loss means overfitting.
#
# ## 4. k-fold cross-validation
#
# With little data, one validation split is noisy: 40 points can favour the
# wrong degree by luck. **k-fold cross-validation** splits the non-test data
# into $k$ folds, trains $k$ times, each time validating on one fold and
# training on the rest, and averages the $k$ validation errors. Every point is
# used for validation exactly once.


# %%
def k_fold_indices(n: int, k: int, generator: np.random.Generator) -> list[np.ndarray]:
    """Shuffle 0..n-1 and cut it into k folds whose sizes differ by at most one."""
    return np.array_split(generator.permutation(n), k)


def cross_validate(x: np.ndarray, y: np.ndarray, degree: int, folds: list[np.ndarray]) -> list[float]:
    errors = []
    for held_out in folds:
        train_mask = np.ones(len(x), dtype=bool)
        train_mask[held_out] = False
        coef = fit_polynomial(x[train_mask], y[train_mask], degree)
        errors.append(poly_mse(coef, x[held_out], y[held_out]))
    return errors


x_dev, y_dev = x_all[:60], y_all[:60]  # everything except the test set
folds = k_fold_indices(len(x_dev), k=5, generator=rng)
all_indices = np.sort(np.concatenate(folds))
assert np.array_equal(all_indices, np.arange(len(x_dev))), "folds partition the data"
assert max(len(f) for f in folds) - min(len(f) for f in folds) <= 1

cv_degrees = list(range(11))
cv_errors = np.array([cross_validate(x_dev, y_dev, d, folds) for d in cv_degrees])
cv_mean = cv_errors.mean(axis=1)
cv_degree = cv_degrees[int(np.argmin(cv_mean))]
final_coef = fit_polynomial(x_dev, y_dev, cv_degree)  # refit on all development data
test_cv = poly_mse(final_coef, x_te, y_te)
print(f"5-fold CV picks degree {cv_degree}; refit on 60 points, test MSE {test_cv:.3f}")
assert 3 <= cv_degree <= 8
assert test_cv < 1.5 * noise**2, "within 50% of the irreducible noise"

fig, ax = plt.subplots(figsize=(6, 4))
for fold in range(cv_errors.shape[1]):
    ax.scatter(
        cv_degrees,
        cv_errors[:, fold],
        s=10,
        color="tab:blue",
        alpha=0.35,
        label="single fold" if fold == 0 else None,
    )
ax.plot(cv_degrees, cv_mean, "o-", color="tab:orange", label="mean over the 5 folds")
ax.axhline(noise**2, color="grey", ls=":", label="noise variance")
ax.set_yscale("log")
ax.set_xlabel("polynomial degree")
ax.set_ylabel("mean squared error")
ax.set_title("Cross-validation error vs model capacity")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The mean curve has the same U shape as before. The
# faint dots, one per fold, show how much a single fold's estimate varies (by
# a factor of two or more at the same degree), which is exactly the noise a
# single validation split suffers from. After choosing the degree
# we refit on all development data and only then look at the test set. (For
# LLMs, training k times is unaffordable, so one large held-out set is used
# instead; cross-validation remains the tool for small models and small data.)
#
# **Does averaging over folds choose better?** One data set cannot say. We
# draw 100 fresh data sets of 60 development points (and 240 test points)
# and, on each, choose the degree twice from the same 60 points: once with a
# single split (the first fold of 12 points validates, the other 48 train),
# once with 5-fold cross-validation. Either way the chosen degree is refitted
# on all 60 points and scored on the test points.


# %%
def choose_degree(x: np.ndarray, y: np.ndarray, folds: list[np.ndarray], degrees: list[int]) -> int:
    return degrees[int(np.argmin([np.mean(cross_validate(x, y, d, folds)) for d in degrees]))]


comparison = []
for draw in range(100):
    generator = np.random.default_rng(1000 + draw)
    x_draw = generator.uniform(-1, 1, 300)
    y_draw = np.sin(np.pi * x_draw) + noise * generator.standard_normal(300)
    draw_folds = k_fold_indices(60, k=5, generator=generator)
    by_one_fold = choose_degree(x_draw[:60], y_draw[:60], draw_folds[:1], cv_degrees)
    by_five_folds = choose_degree(x_draw[:60], y_draw[:60], draw_folds, cv_degrees)
    comparison.append(
        [by_one_fold, by_five_folds]
        + [poly_mse(fit_polynomial(x_draw[:60], y_draw[:60], d), x_draw[60:], y_draw[60:]) for d in (by_one_fold, by_five_folds)]
    )
comparison = np.array(comparison)
test_one, test_five = comparison[:, 2], comparison[:, 3]
for name, column in [("one fold", test_one), ("5-fold CV", test_five)]:
    q25, q50, q75 = np.percentile(column, [25, 50, 75])
    print(f"{name:>9}: test MSE median {q50:.4f} (quartiles {q25:.4f}-{q75:.4f}), mean {column.mean():.4f}, worst {column.max():.3f}")
wins, losses = int((test_five < test_one).sum()), int((test_five > test_one).sum())
print(f"cross-validation's choice is better on {wins} draws, worse on {losses}, the same on {100 - wins - losses}")

fig, (ax_degree, ax_mse) = plt.subplots(1, 2, figsize=(10, 4))
counts_one = np.bincount(comparison[:, 0].astype(int), minlength=len(cv_degrees))
counts_five = np.bincount(comparison[:, 1].astype(int), minlength=len(cv_degrees))
ax_degree.bar(np.array(cv_degrees) - 0.2, counts_one, width=0.4, label="one fold (12 points)")
ax_degree.bar(np.array(cv_degrees) + 0.2, counts_five, width=0.4, label="5-fold CV")
ax_degree.set(xlabel="chosen degree", ylabel="number of data sets (of 100)", title="Which degree gets chosen")
ax_degree.legend()
ax_mse.boxplot([test_one, test_five], showfliers=True)
ax_mse.set_xticks([1, 2], ["one fold", "5-fold CV"])
ax_mse.axhline(noise**2, color="grey", ls=":", label="noise variance")
ax_mse.set(yscale="log", ylabel="test MSE of the refitted choice", title="What the choice costs on new data")
ax_mse.legend()
fig.tight_layout()
plt.show()

assert test_five.mean() < test_one.mean() and wins > losses, "averaging over folds chooses better on average"

# %% [markdown]
# **What to notice.** A single fold of 12 points spreads its choices over
# more degrees, including high ones; averaging over five folds concentrates
# them. On new data that is a modest gain: the cross-validated choice has the
# lower test error on about half of the data sets, the higher one on about a
# sixth, and the same on the rest, and the mean test error improves by a few
# percent. Neither choice is ever far above the noise floor here, because
# every degree from 3 to 10 fits a sine tolerably once refitted on 60 points.
# The claim these numbers support is "more reliable on average", not "better
# every time".
#
# ## 5. Classification metrics: confusion matrix, precision, recall
#
# Accuracy hides which mistakes a classifier makes. The **confusion matrix**
# counts each (true class, predicted class) pair. For a binary task with
# positive class 1:
#
# - **precision** $= \frac{TP}{TP + FP}$: of the items flagged positive, how many are;
# - **recall** $= \frac{TP}{TP + FN}$: of the positive items, how many were found;
# - **F1** $= \frac{2PR}{P + R}$, their harmonic mean.
#
# First a tiny example we can count by hand: 4 positives and 6 negatives. The
# classifier finds 3 of the 4 positives (1 false negative) and wrongly flags 2
# negatives (2 false positives), so TP = 3, FN = 1, FP = 2, TN = 4, precision
# 3/5, recall 3/4, F1 = 2/3 and accuracy 7/10.


# %%
def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = 2) -> np.ndarray:
    """counts[t, p] = number of items of true class t predicted as class p."""
    counts = np.zeros((n_classes, n_classes), dtype=int)
    for t, p in zip(y_true, y_pred, strict=True):
        counts[int(t), int(p)] += 1
    return counts


def precision_recall_f1(counts: np.ndarray) -> tuple[float, float, float]:
    tp, fp, fn = counts[1, 1], counts[0, 1], counts[1, 0]
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return float(precision), float(recall), float(f1)


y_true_toy = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
y_pred_toy = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 1])
counts_toy = confusion_matrix(y_true_toy, y_pred_toy)
assert counts_toy.tolist() == [[4, 2], [1, 3]], "rows: true 0/1, columns: predicted 0/1"
precision, recall, f1 = precision_recall_f1(counts_toy)
assert (precision, recall) == (3 / 5, 3 / 4) and np.isclose(f1, 2 / 3)
assert np.trace(counts_toy) / counts_toy.sum() == 0.7
print(
    "confusion matrix [[TN, FP], [FN, TP]] =",
    counts_toy.tolist(),
    f"precision {precision}, recall {recall}, F1 {f1:.3f}",
)

# %% [markdown]
# A probabilistic classifier turns into a decision only with a **threshold**:
# predict 1 when $p \ge t$. Raising $t$ flags fewer items. Recall can then only
# fall or stay equal (the flagged set shrinks), while precision usually rises.
# Here is the trade-off for our logistic regression on its test set.

# %%
test_probs = sigmoid(params_gd[0] + x_test @ params_gd[1:])
thresholds = np.linspace(0.05, 0.95, 19)
curves = np.array([precision_recall_f1(confusion_matrix(y_test, test_probs >= t)) for t in thresholds])

# An independent reference: the same counts with vectorised boolean algebra, all thresholds at once.
flagged = test_probs[None, :] >= thresholds[:, None]
positive = y_test[None, :] == 1
tp, fp, fn = ((flagged & positive).sum(1), (flagged & ~positive).sum(1), (~flagged & positive).sum(1))
np.testing.assert_allclose(curves[:, 0], tp / (tp + fp), rtol=1e-12)
np.testing.assert_allclose(curves[:, 1], tp / (tp + fn), rtol=1e-12)
np.testing.assert_allclose(curves[:, 2], 2 * tp / (2 * tp + fp + fn), rtol=1e-12)

fig, ax = plt.subplots(figsize=(6, 4))
for column, name in enumerate(["precision", "recall", "F1"]):
    ax.plot(thresholds, curves[:, column], "o-", ms=3, label=name)
ax.set_xlabel("decision threshold t (predict 1 if p >= t)")
ax.set_ylabel("score on the test set")
ax.set_title("Precision-recall trade-off")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** Recall falls steadily as the threshold rises, from
# almost 1 for a lax threshold; precision climbs; F1 is highest in the middle,
# where neither is sacrificed (the two classes are balanced here). With rare positives (toxic outputs, say) accuracy would
# look excellent for a model that never flags anything, which is why filters
# and evaluation of LLM outputs report precision and recall.
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
# ### Exercise 1: ridge regression in closed form
#
# Ridge regression adds $\lambda\lVert w\rVert^2$ to the squared error,
# $\lVert Xw - y\rVert^2 + \lambda\lVert w\rVert^2$ (here without a bias, on
# centred data). Set its gradient to zero and write `ridge(X, y, lam)`
# returning the minimiser. The check compares it with an independent route:
# ridge is ordinary least squares on $X$ stacked over $\sqrt{\lambda} I$, with
# zeros appended to $y$, solved by `np.linalg.lstsq`.


# %%
def ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray | None:
    """argmin_w ||X w - y||^2 + lam ||w||^2."""
    return None  # your code here


# %%
def check_ridge(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = []
    for n, d, lam in [(30, 3, 0.1), (10, 8, 1.0), (5, 12, 0.5), (50, 4, 100.0)]:
        X, y = generator.normal(size=(n, d)), generator.normal(size=n)
        augmented = np.vstack([X, math.sqrt(lam) * np.eye(d)])
        reference = np.linalg.lstsq(augmented, np.r_[y, np.zeros(d)], rcond=None)[0]
        cases.append(((X, y, lam), reference))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-8, atol=1e-10))


print("exercise 1:", run_check(check_ridge, ridge))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The gradient is $2X^\top(Xw - y) + 2\lambda w$; setting it to zero gives
# $(X^\top X + \lambda I)\,w = X^\top y$. The added $\lambda I$ makes the
# system solvable even with more features than examples (the third case), and
# it improves the conditioning: the smallest eigenvalue is at least $\lambda$.
#
# ```python
# def ridge(X, y, lam):
#     return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)
# ```
#
# </details>
#
# ### Exercise 2: the gradient of softmax regression
#
# With $K$ classes, softmax (multinomial logistic) regression computes logits
# $Z = XW$ with $W$ of shape `(d, K)` and the mean cross-entropy
# $L = \frac1n\sum_i \big(\log\sum_k e^{Z_{ik}} - Z_{i, y_i}\big)$. A language
# model's output layer is exactly this, with $K$ the vocabulary size. Write
# `softmax_regression_grad(W, X, y)` returning $\partial L/\partial W$. The
# check compares it with PyTorch's autograd through `F.cross_entropy`.


# %%
def softmax_regression_grad(W: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Gradient of the mean cross-entropy of softmax(X W) with integer labels y, shape (d, K)."""
    return None  # your code here


# %%
def check_softmax_regression_grad(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = []
    for n, d, k in [(1, 2, 3), (20, 4, 3), (64, 6, 10)]:
        W, X, y = generator.normal(size=(d, k)), generator.normal(size=(n, d)), generator.integers(0, k, n)
        W_t = torch.tensor(W, requires_grad=True)
        torch.nn.functional.cross_entropy(torch.from_numpy(X) @ W_t, torch.from_numpy(y)).backward()
        cases.append(((W, X, y), W_t.grad.numpy()))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-9, atol=1e-12))


print("exercise 2:", run_check(check_softmax_regression_grad, softmax_regression_grad))

# %% [markdown]
# <details><summary>Solution</summary>
#
# By the chain rule through $Z = XW$: $\partial L/\partial Z = (P - Y)/n$, with
# $P$ the row-wise softmax of $Z$ and $Y$ the one-hot labels, and then
# $\partial L/\partial W = X^\top(P - Y)/n$: the two-class formula of section 2
# with one column per class.
#
# ```python
# def softmax_regression_grad(W, X, y):
#     Z = X @ W
#     P = np.exp(Z - Z.max(axis=1, keepdims=True))
#     P /= P.sum(axis=1, keepdims=True)
#     P[np.arange(len(y)), y] -= 1
#     return X.T @ P / len(y)
# ```
#
# </details>
#
# ### More to explore
#
# 1. Replace the constant learning rate of the raw-feature linear regression
#    by a per-feature one (divide each gradient component by a running average
#    of its square, as Adam and RMSProp do) and compare convergence.
# 2. Use `ridge` on the degree-14 Legendre features (centre $y$ first, or keep
#    the constant column unpenalised) and choose $\lambda$ by
#    cross-validation. How does the validation curve change?
# 3. Make the classes imbalanced (10% positives) and compare accuracy, F1 and
#    the precision-recall curve.
# 4. Train the three-class softmax regression of exercise 2 on three Gaussian
#    clouds with gradient descent and draw its decision regions.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_ridge(X, y, lam):
    return np.linalg.solve(X.T @ X + lam * np.eye(X.shape[1]), X.T @ y)


def wrong_ridge(X, y, lam):  # the penalty doubled: a factor of 2 slipped into the gradient
    return np.linalg.solve(X.T @ X + 2 * lam * np.eye(X.shape[1]), X.T @ y)


def solution_softmax_regression_grad(W, X, y):
    Z = X @ W
    P = np.exp(Z - Z.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    P[np.arange(len(y)), y] -= 1
    return X.T @ P / len(y)


def wrong_softmax_regression_grad(W, X, y):  # forgets the softmax: treats the logits as probabilities
    P = X @ W
    P[np.arange(len(y)), y] -= 1
    return X.T @ P / len(y)


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_ridge, solution_ridge, wrong_ridge),
    (check_softmax_regression_grad, solution_softmax_regression_grad, wrong_softmax_regression_grad),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
