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
# # Calculus and optimisation: the engine of training
#
# Training a language model means adjusting billions of numbers so that a
# loss goes down. Calculus tells us which way is down (the gradient) and how
# to compute it through many layers (the chain rule); an optimiser decides
# how far to step. This notebook builds each piece by hand and checks it
# against a numerical derivative or PyTorch.
#
# **What you will build**
#
# 1. Derivatives by hand, checked with central finite differences, and a look
#    at why the step size $h$ of a finite difference matters.
# 2. The chain rule through a small computation graph, by hand, checked
#    against `torch.autograd`, and drawn as a graph.
# 3. Gradient descent, momentum and Adam from scratch on the Rosenbrock
#    valley, each step for step identical to `torch.optim`.
# 4. A learning-rate sweep on a quadratic that shows the divergence bound
#    $\eta < 2/L$.

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

# %% [markdown]
# ## 1. Derivatives by hand, checked numerically
#
# The derivative $f'(x)$ is the slope of $f$ at $x$. For the functions a
# network is made of we know it in closed form:
#
# | function | derivative |
# |---|---|
# | $x^3 - 2x$ | $3x^2 - 2$ |
# | $\tanh x$ | $1 - \tanh^2 x$ |
# | $\sigma(x) = 1/(1+e^{-x})$ | $\sigma(x)\,(1 - \sigma(x))$ |
# | $\operatorname{softplus}(x) = \log(1 + e^x)$ | $\sigma(x)$ |
#
# The **central difference** $\frac{f(x+h) - f(x-h)}{2h}$ approximates
# $f'(x)$ with an error of order $h^2$, against $h$ for the one-sided
# forward difference $\frac{f(x+h) - f(x)}{h}$. It needs nothing but two
# evaluations of $f$, so it is the standard way to test a hand-written
# gradient ("gradient checking").


# %%
def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


FUNCTIONS = {
    "x^3 - 2x": (lambda x: x**3 - 2 * x, lambda x: 3 * x**2 - 2),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    "softplus": (lambda x: np.log1p(np.exp(x)), sigmoid),
}


def central_difference(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    return (f(x + h) - f(x - h)) / (2 * h)


def forward_difference(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    return (f(x + h) - f(x)) / h


points = np.linspace(-3, 3, 13)
for name, (f, f_prime) in FUNCTIONS.items():
    worst = np.max(np.abs(central_difference(f, points) - f_prime(points)))
    print(f"{name:>9}: largest |hand - numerical| = {worst:.1e}")
    np.testing.assert_allclose(
        central_difference(f, points),
        f_prime(points),
        atol=1e-8,
    )

# %% [markdown]
# ### Partial derivatives: the gradient of log-sum-exp is softmax
#
# With several inputs, the gradient $\nabla f$ collects one partial
# derivative per input. A key example for language models: the gradient of
# $\operatorname{lse}(z) = \log \sum_j e^{z_j}$ is the softmax
# $e^{z_i} / \sum_j e^{z_j}$. The cross-entropy loss of a next-token
# prediction is $\operatorname{lse}(z) - z_\text{target}$, so its gradient
# with respect to the logits is simply
# $\operatorname{softmax}(z) - \text{onehot}(\text{target})$. We check it one
# coordinate at a time.


# %%
def log_sum_exp(z: np.ndarray) -> float:
    shift = z.max()  # subtracting the max avoids overflow and changes nothing
    return float(shift + np.log(np.sum(np.exp(z - shift))))


def numerical_gradient(f, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Central difference along each coordinate axis in turn."""
    grad = np.zeros_like(z)
    for i in range(len(z)):
        step = np.zeros_like(z)
        step[i] = h
        grad[i] = (f(z + step) - f(z - step)) / (2 * h)
    return grad


logits = rng.normal(size=6)
softmax = np.exp(logits) / np.exp(logits).sum()
np.testing.assert_allclose(numerical_gradient(log_sum_exp, logits), softmax, atol=1e-9)

# %% [markdown]
# ### How small should $h$ be?
#
# Smaller is not always better. The truncation error shrinks like $h$
# (forward) or $h^2$ (central), but the round-off error of subtracting two
# nearly equal floating-point numbers grows like $\varepsilon / h$ with
# $\varepsilon \approx 10^{-16}$ in float64. The plot shows both effects as a
# "V": the best $h$ is around $10^{-8}$ for the forward difference and
# $10^{-5}$ for the central one, where the central difference is about a
# thousand times more accurate. (In float32, $\varepsilon \approx 10^{-7}$:
# this is why gradient checks are run in float64.)

# %%
steps_h = np.logspace(-14, -1, 60)
x0 = 1.0
exact = np.cos(x0)
forward_errors = np.abs([forward_difference(np.sin, x0, h) - exact for h in steps_h])
central_errors = np.abs([central_difference(np.sin, x0, h) - exact for h in steps_h])
# Clip at 1e-17: a log axis cannot show an error of exactly zero.
forward_errors = np.maximum(forward_errors, 1e-17)
central_errors = np.maximum(central_errors, 1e-17)

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps_h, forward_errors, label="forward difference")
ax.loglog(steps_h, central_errors, label="central difference")
ax.set(title=r"Error of the numerical derivative of $\sin x$ at $x = 1$")
ax.set(xlabel="step $h$")
ax.set(ylabel="absolute error")
ax.legend()
fig.tight_layout()
plt.show()

# Truncation error: f''(x) h / 2 for the forward, f'''(x) h^2 / 6 for the central one.
h = 1e-3
forward_truncation = abs(forward_difference(np.sin, x0, h) - exact)
central_truncation = abs(central_difference(np.sin, x0, h) - exact)
np.testing.assert_allclose(forward_truncation, np.sin(x0) * h / 2, rtol=0.01)
np.testing.assert_allclose(central_truncation, np.cos(x0) * h**2 / 6, rtol=0.01)


def typical_best(errors: np.ndarray) -> float:
    """Median of the five smallest errors: the floor of the V, minus lucky hits."""
    return float(np.median(np.sort(errors)[:5]))


print(f"best forward error ~ {typical_best(forward_errors):.0e}, ", end="")
print(f"best central error ~ {typical_best(central_errors):.0e}")
assert typical_best(central_errors) < typical_best(forward_errors) / 100

# %% [markdown]
# ## 2. The chain rule through a computation graph
#
# A network is a composition of simple functions. Take one hidden unit:
#
# $$z_1 = w_1 x + b_1,\quad a_1 = \tanh z_1,\quad y = w_2 a_1 + b_2,\quad
# L = \tfrac12 (y - t)^2.$$
#
# The chain rule says: the derivative of $L$ with respect to any quantity
# is the derivative with respect to the *next* quantity, times the local
# derivative of that step. So we walk the graph **backwards**, reusing each
# result once (this reuse is backpropagation):
#
# $$\frac{\partial L}{\partial y} = y - t,\quad
# \frac{\partial L}{\partial a_1} = \frac{\partial L}{\partial y} w_2,\quad
# \frac{\partial L}{\partial z_1} = \frac{\partial L}{\partial a_1}(1 - a_1^2),\quad
# \frac{\partial L}{\partial w_1} = \frac{\partial L}{\partial z_1} x.$$

# %%
values = {"x": 1.5, "t": 0.5, "w1": 0.8, "b1": -0.3, "w2": -1.2, "b2": 0.4}

# Forward pass: keep every intermediate value, the backward pass needs them.
x, t, w1, b1, w2, b2 = (values[k] for k in ["x", "t", "w1", "b1", "w2", "b2"])
z1 = w1 * x + b1
a1 = np.tanh(z1)
y = w2 * a1 + b2
loss = 0.5 * (y - t) ** 2

# Backward pass: one local derivative per edge, multiplied along the way.
grads = {}
grads["y"] = y - t
grads["w2"] = grads["y"] * a1
grads["b2"] = grads["y"]
grads["a1"] = grads["y"] * w2
grads["z1"] = grads["a1"] * (1 - a1**2)
grads["w1"] = grads["z1"] * x
grads["b1"] = grads["z1"]
grads["x"] = grads["z1"] * w1
print(f"loss = {loss:.5f}")
print("dL/d:", ", ".join(f"{k} = {v:+.5f}" for k, v in grads.items()))

# %% [markdown]
# PyTorch builds the same graph while the forward pass runs and walks it
# backwards in `loss.backward()`. In float64 the two agree to rounding error.

# %%
leaves = {name: torch.tensor(v, dtype=torch.float64) for name, v in values.items()}
for leaf in leaves.values():
    leaf.requires_grad_()
z1_t = leaves["w1"] * leaves["x"] + leaves["b1"]
y_t = leaves["w2"] * torch.tanh(z1_t) + leaves["b2"]
loss_t = 0.5 * (y_t - leaves["t"]) ** 2
loss_t.backward()

np.testing.assert_allclose(loss_t.item(), loss, rtol=1e-12)
for name in ["w1", "b1", "w2", "b2", "x"]:
    np.testing.assert_allclose(leaves[name].grad.item(), grads[name], rtol=1e-12)


# And a numerical check of one parameter, for good measure.
def loss_of_w1(w: float) -> float:
    return 0.5 * (w2 * np.tanh(w * x + b1) + b2 - t) ** 2


np.testing.assert_allclose(central_difference(loss_of_w1, w1), grads["w1"], rtol=1e-8)

# %% [markdown]
# The same computation as a picture: values flow left to right (black),
# gradients flow right to left (red). Each red number is the red number of
# the node to its right times the local derivative of the edge between them.

# %%
nodes = {
    "x": (0, 2.2, f"x = {x}", grads["x"]),
    "w1": (0, 1.0, f"w1 = {w1}", grads["w1"]),
    "b1": (0, -0.2, f"b1 = {b1}", grads["b1"]),
    "z1": (1.6, 1.0, f"z1 = w1 x + b1\n= {z1:.3f}", grads["z1"]),
    "a1": (3.2, 1.0, f"a1 = tanh z1\n= {a1:.3f}", grads["a1"]),
    "w2": (3.2, 2.4, f"w2 = {w2}", grads["w2"]),
    "b2": (3.2, -0.4, f"b2 = {b2}", grads["b2"]),
    "y": (4.8, 1.0, f"y = w2 a1 + b2\n= {y:.3f}", grads["y"]),
    "L": (6.4, 1.0, f"L = (y - t)^2 / 2\n= {loss:.4f}", 1.0),
}
edges = [("x", "z1"), ("w1", "z1"), ("b1", "z1"), ("z1", "a1"), ("a1", "y")]
edges += [("w2", "y"), ("b2", "y"), ("y", "L")]

fig, ax = plt.subplots(figsize=(10, 4))
for src, dst in edges:
    (x_src, y_src, *_), (x_dst, y_dst, *_) = nodes[src], nodes[dst]
    ax.annotate(
        "",
        xy=(x_dst - 0.45, y_dst),
        xytext=(x_src + 0.45, y_src),
        arrowprops={"arrowstyle": "->", "color": "grey"},
    )
box = {"boxstyle": "round", "facecolor": "white", "edgecolor": "black"}
for name, (px, py, label, grad) in nodes.items():
    ax.text(px, py, label, ha="center", va="center", fontsize=9, bbox=box)
    gradient_label = f"dL/d{name} = {grad:+.4f}"
    ax.text(px, py - 0.5, gradient_label, ha="center", color="red", fontsize=9)
ax.set(xlim=(-0.8, 7.3), ylim=(-1.2, 3.0))
ax.set_title("Forward values (black) and backward gradients (red)")
ax.axis("off")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Optimisers from scratch on the Rosenbrock valley
#
# The Rosenbrock function $f(x, y) = (1 - x)^2 + 100\,(y - x^2)^2$ has its
# minimum at $(1, 1)$ at the bottom of a long, curved, narrow valley: steep
# across, nearly flat along. Loss surfaces of real networks have the same
# trouble (directions with very different curvature), which is why plain
# gradient descent is rarely used as is.
#
# * **Gradient descent** (`torch.optim.SGD`): $w \leftarrow w - \eta\, g$.
#   It is "stochastic" when $g$ comes from a random mini-batch; here the
#   gradient is exact, but the update rule is the same.
# * **Momentum** (`SGD(momentum=mu)`): $v \leftarrow \mu v + g$,
#   $w \leftarrow w - \eta v$. The velocity $v$ adds up gradients that keep
#   pointing the same way (along the valley) and cancels those that flip sign
#   (across it).
# * **Adam**: running averages of $g$ and $g^2$, bias-corrected for their
#   zero start, $m_t = \beta_1 m + (1-\beta_1) g$,
#   $s_t = \beta_2 s + (1-\beta_2) g^2$,
#   $w \leftarrow w - \eta\, \hat m_t / (\sqrt{\hat s_t} + \epsilon)$ with
#   $\hat m_t = m_t/(1-\beta_1^t)$, $\hat s_t = s_t/(1-\beta_2^t)$. Each
#   coordinate gets its own step size. AdamW, its variant with decoupled
#   weight decay, trains most LLMs.
#
# We write the gradient by hand in NumPy and check it first.


# %%
def rosenbrock(w):
    """Works on NumPy arrays and on torch tensors alike."""
    return (1 - w[0]) ** 2 + 100 * (w[1] - w[0] ** 2) ** 2


def rosenbrock_grad(w: np.ndarray) -> np.ndarray:
    x, y = w
    return np.array([-2 * (1 - x) - 400 * x * (y - x**2), 200 * (y - x**2)])


for w in rng.uniform(-2, 2, size=(5, 2)):
    numerical = numerical_gradient(rosenbrock, w)
    np.testing.assert_allclose(rosenbrock_grad(w), numerical, rtol=1e-7, atol=1e-6)


# %%
def gradient_descent(
    grad_fn,
    w0: np.ndarray,
    lr: float,
    steps: int,
    momentum: float = 0.0,
) -> np.ndarray:
    """Trajectory of (heavy-ball) gradient descent; momentum=0 is plain GD."""
    w = np.array(w0, dtype=np.float64)
    velocity = np.zeros_like(w)
    trajectory = [w.copy()]
    for _ in range(steps):
        velocity = momentum * velocity + grad_fn(w)
        w = w - lr * velocity
        trajectory.append(w.copy())
    return np.array(trajectory)


def adam(
    grad_fn,
    w0: np.ndarray,
    lr: float,
    steps: int,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> np.ndarray:
    """Trajectory of Adam with PyTorch's defaults for betas and eps."""
    beta1, beta2 = betas
    w = np.array(w0, dtype=np.float64)
    mean, mean_square = np.zeros_like(w), np.zeros_like(w)
    trajectory = [w.copy()]
    for step in range(1, steps + 1):
        g = grad_fn(w)
        mean = beta1 * mean + (1 - beta1) * g
        mean_square = beta2 * mean_square + (1 - beta2) * g**2
        mean_hat = mean / (1 - beta1**step)
        mean_square_hat = mean_square / (1 - beta2**step)
        w = w - lr * mean_hat / (np.sqrt(mean_square_hat) + eps)
        trajectory.append(w.copy())
    return np.array(trajectory)


def torch_trajectory(make_optimizer, loss_fn, w0: np.ndarray, steps: int) -> np.ndarray:
    """The same descent with a torch.optim optimiser and autograd gradients."""
    w = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([w])
    trajectory = [w.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(w).backward()
        optimizer.step()
        trajectory.append(w.detach().clone())
    return torch.stack(trajectory).numpy()


# %% [markdown]
# Same start, same number of steps; the learning rates are chosen so that
# each optimiser is stable. Every from-scratch trajectory must match
# PyTorch's at every step, to $10^{-12}$ (float64 rounding, accumulated over 1000 steps).

# %%
start = np.array([-1.2, 1.0])
n_steps = 1000
runs = {
    "gradient descent, lr 1e-3": (
        gradient_descent(rosenbrock_grad, start, lr=1e-3, steps=n_steps),
        lambda params: torch.optim.SGD(params, lr=1e-3),
    ),
    "momentum 0.9, lr 1e-3": (
        gradient_descent(rosenbrock_grad, start, lr=1e-3, steps=n_steps, momentum=0.9),
        lambda params: torch.optim.SGD(params, lr=1e-3, momentum=0.9),
    ),
    "Adam, lr 0.1": (
        adam(rosenbrock_grad, start, lr=0.1, steps=n_steps),
        lambda params: torch.optim.Adam(params, lr=0.1),
    ),
}
for name, (ours, make_optimizer) in runs.items():
    reference = torch_trajectory(make_optimizer, rosenbrock, start, n_steps)
    np.testing.assert_allclose(ours, reference, rtol=0, atol=1e-12)
    gap = np.abs(ours - reference).max()
    end, end_loss = ours[-1].round(4), rosenbrock(ours[-1])
    print(f"{name:<26} end {end}  loss {end_loss:.1e}  max gap to torch {gap:.0e}")

# %% [markdown]
# Left: the paths on a contour map of the valley (contours on a log scale).
# Gradient descent must keep its step small enough for the steep walls, so
# it crawls along the flat valley floor and stops far short (big dots mark
# where each path ends after 1000 steps). Momentum swings across the valley
# at first, then builds up speed along the floor. Adam rescales each coordinate by its recent gradient size, so its
# first steps have about the same length whatever the steepness. Right: the
# loss along the way, on a log scale.

# %%
grid_x, grid_y = np.meshgrid(np.linspace(-1.6, 1.4, 300), np.linspace(-0.6, 1.6, 300))
surface = rosenbrock(np.stack([grid_x, grid_y]))

fig, (ax_map, ax_loss) = plt.subplots(1, 2, figsize=(11, 4.5))
ax_map.contour(grid_x, grid_y, surface, levels=np.logspace(-1, 3, 15), cmap="Greys")
for name, (trajectory, _) in runs.items():
    (line,) = ax_map.plot(*trajectory.T, ".-", markersize=2, lw=1, label=name)
    ax_map.plot(*trajectory[-1], "o", color=line.get_color(), markersize=8)
    ax_loss.semilogy(rosenbrock(trajectory.T), label=name)
ax_map.plot(*start, "ko", label="start")
ax_map.plot(1, 1, "r*", markersize=14, label="minimum (1, 1)")
ax_map.set(title="Optimiser paths on the Rosenbrock function")
ax_map.set(xlabel="$x$", ylabel="$y$")
ax_map.legend(fontsize=8, loc="lower right")
ax_loss.set(title="Loss per step", xlabel="step", ylabel="loss (log scale)")
ax_loss.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# One start is one sample. The cell below repeats the race from twelve random
# starts in $[-1.5, 1.5] \times [-0.5, 2]$, same learning rates and steps, and
# plots where each optimiser ends from each start.

# %%
starts = np.column_stack([rng.uniform(-1.5, 1.5, 12), rng.uniform(-0.5, 2.0, 12)])
optimisers = {
    "gradient descent": lambda w0: gradient_descent(rosenbrock_grad, w0, lr=1e-3, steps=n_steps)[-1],
    "momentum 0.9": lambda w0: gradient_descent(rosenbrock_grad, w0, lr=1e-3, steps=n_steps, momentum=0.9)[-1],
    "Adam": lambda w0: adam(rosenbrock_grad, w0, lr=0.1, steps=n_steps)[-1],
}
final = {name: np.array([rosenbrock(run(w0)) for w0 in starts]) for name, run in optimisers.items()}
for name, losses in final.items():
    low, median, high = np.percentile(losses, [0, 50, 100])
    print(f"{name:<17} final loss over 12 starts: median {median:.1e}, range {low:.1e} to {high:.1e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for column, (name, losses) in enumerate(final.items()):
    ax.semilogy(np.full(len(losses), column) + np.linspace(-0.15, 0.15, len(losses)), losses, "o", label=name)
ax.set_xticks(range(len(final)), list(final))
ax.set(title="Loss after 1000 steps, one dot per starting point", ylabel="final loss (log scale)")
fig.tight_layout()
plt.show()

for name in ["momentum 0.9", "Adam"]:
    ratios = final["gradient descent"] / final[name]
    print(f"GD's final loss / {name}'s: median {np.median(ratios):.0f}, range {ratios.min():.2g} to {ratios.max():.2g}")
ratio_momentum = np.median(final["gradient descent"] / final["momentum 0.9"])
ratio_adam = np.median(final["gradient descent"] / final["Adam"])
assert np.all(final["momentum 0.9"] < final["gradient descent"]), "momentum ends lower from every start"
assert np.all(final["Adam"] < final["gradient descent"]), "Adam ends lower from every start"
assert ratio_momentum > 100 and ratio_adam > 10

# %% [markdown]
# **What to notice.** From every start, both momentum and Adam end below plain
# gradient descent, but not by the same kind of margin: momentum by a factor
# of several hundred or more every time, Adam by anything from less than two
# to millions. With a fixed learning rate of 0.1, Adam keeps taking steps of
# roughly that size near the minimum and can end up bouncing around it;
# decaying the learning rate, as every LLM recipe does, fixes that. The
# single start above made the two look equally strong; twelve starts show
# that momentum's margin is reliable here and Adam's is not.

# %% [markdown]
# ## 4. How big a step? The $2/L$ bound
#
# Near a minimum every smooth loss looks like a quadratic
# $f(w) = \frac12 (w - w^*)^\top H (w - w^*)$. One gradient step gives
# $w_{t+1} - w^* = (I - \eta H)(w_t - w^*)$, so along the eigenvector of $H$
# with eigenvalue $\lambda_i$ the error is multiplied by $(1 - \eta\lambda_i)$
# every step. It shrinks only if $|1 - \eta \lambda_i| < 1$ for every $i$,
# that is
#
# $$\eta < \frac{2}{L}, \qquad L = \lambda_\text{max}(H).$$
#
# Beyond $2/L$ the steepest direction overshoots further each step and the
# loss explodes: the "loss spike to NaN" of a too-large learning rate. The
# fastest step balances the flattest and the steepest direction:
# $\eta^* = 2/(\lambda_\text{min} + \lambda_\text{max})$. (Training of real
# networks tends to hover near this edge: the curvature rises until it is
# about $2/\eta$, the "edge of stability".)

# %%
angle = np.pi / 6
rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
curvatures = np.array([1.0, 10.0])  # lambda_min and L
H = rotation @ np.diag(curvatures) @ rotation.T
w_star = np.array([1.0, -0.5])
L = np.linalg.eigvalsh(H).max()


def quadratic(w: np.ndarray) -> float:
    return float(0.5 * (w - w_star) @ H @ (w - w_star))


def quadratic_grad(w: np.ndarray) -> np.ndarray:
    return H @ (w - w_star)


def predicted_loss(w0: np.ndarray, lr: float, steps: int) -> float:
    """Loss after `steps` GD steps, from the eigen-decomposition alone."""
    error_in_eigenbasis = rotation.T @ (w0 - w_star)
    shrunk = (1 - lr * curvatures) ** steps * error_in_eigenbasis
    return float(0.5 * np.sum(curvatures * shrunk**2))


w_init = np.array([-1.0, 1.0])
sweep_steps = 60
learning_rates = np.linspace(0.01, 0.25, 80)
final_losses = []
for lr in learning_rates:
    trajectory = gradient_descent(quadratic_grad, w_init, lr=lr, steps=sweep_steps)
    final_losses.append(quadratic(trajectory[-1]))
    np.testing.assert_allclose(
        final_losses[-1], predicted_loss(w_init, lr, sweep_steps), rtol=1e-8, atol=1e-25
    )
final_losses = np.array(final_losses)
initial_loss = quadratic(w_init)

below, above = learning_rates < 2 / L - 1e-9, learning_rates > 2 / L + 1e-9
assert np.all(final_losses[below] < initial_loss), "a step below 2/L diverged"
assert np.all(final_losses[above] > initial_loss), "a step above 2/L converged"
best_lr = learning_rates[final_losses.argmin()]
optimal_lr = 2 / (curvatures.min() + L)
assert abs(best_lr - optimal_lr) < 0.01, "the best step should be near 2 / (l_min + L)"
print(f"L = {L:.0f}, 2/L = {2 / L:.3f}, 2/(l_min + L) = {optimal_lr:.3f}, ", end="")
print(f"best lr in the sweep = {best_lr:.3f}")

# %% [markdown]
# Left: loss curves for a few step sizes. Below $2/L = 0.2$ they all fall,
# just above it they climb without end. Right: the loss after 60 steps for
# every step size in the sweep; the measured values sit exactly on the
# prediction from the eigenvalues, and the curve crosses the starting loss
# at $2/L$. The best step in the sweep is close to
# $\eta^* = 2/11 \approx 0.18$ but a little below it: after a finite number of steps, how the
# starting error splits between the two directions also counts.

# %%
fig, (ax_curves, ax_sweep) = plt.subplots(1, 2, figsize=(11, 4))
for lr in [0.05, 0.15, 0.18, 0.195, 0.205, 0.22]:
    trajectory = gradient_descent(quadratic_grad, w_init, lr=lr, steps=sweep_steps)
    ax_curves.semilogy([quadratic(w) for w in trajectory], label=f"lr = {lr}")
ax_curves.set(title="Gradient descent on a quadratic (L = 10)", xlabel="step")
ax_curves.set(ylabel="loss (log scale)")
ax_curves.legend(fontsize=8, ncol=2)

predicted = [predicted_loss(w_init, lr, sweep_steps) for lr in learning_rates]
ax_sweep.semilogy(learning_rates, final_losses, "o", markersize=3, label="measured")
ax_sweep.semilogy(learning_rates, predicted, "-", lw=1, label="predicted")
ax_sweep.axvline(2 / L, color="red", ls="--", label="2 / L")
ax_sweep.axhline(initial_loss, color="grey", ls=":", label="starting loss")
ax_sweep.set(title=f"Loss after {sweep_steps} steps", xlabel="learning rate")
ax_sweep.set(ylabel="final loss (log scale)")
ax_sweep.legend(fontsize=8)
fig.tight_layout()
plt.show()

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
# ### Exercise 1: AdamW from scratch
#
# Write one step of AdamW (Loshchilov and Hutter), the optimiser that trains
# most LLMs: first shrink the weights, $w \leftarrow w - \eta\lambda w$
# (decoupled weight decay), then take the Adam step of section 3 with the
# gradient $g$. It returns the new `(w, m, s)`; `t` counts steps from 1. The
# check runs 25 of your steps on a random quadratic and compares every
# iterate with `torch.optim.AdamW` in float64.


# %%
def adamw_step(w, g, m, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    """One AdamW step: returns the new weights, first moment and second moment."""
    return None  # your code here


# %%
def adamw_trajectory(step_fn, w0, H, lr, weight_decay, steps=25):
    """Iterates of `step_fn` on the loss w^T H w / 2, or None if the step is not written yet."""
    w, m, s = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
    trajectory = []
    for t in range(1, steps + 1):
        result = step_fn(w, H @ w, m, s, t, lr, weight_decay=weight_decay)
        if result is None:
            return None
        w, m, s = result
        trajectory.append(np.array(w, dtype=np.float64))
    return np.array(trajectory)


def check_adamw_step(candidate) -> None:
    generator = np.random.default_rng(1)
    cases = []
    for lr, weight_decay in [(0.05, 0.01), (0.1, 0.3), (0.01, 0.0)]:
        a = generator.normal(size=(4, 4))
        H, w0 = a @ a.T + np.eye(4), generator.normal(size=4)
        w = torch.tensor(w0, requires_grad=True)
        optimizer = torch.optim.AdamW([w], lr=lr, weight_decay=weight_decay)
        reference = []
        for _ in range(25):
            optimizer.zero_grad()
            (0.5 * w @ torch.from_numpy(H) @ w).backward()
            optimizer.step()
            reference.append(w.detach().numpy().copy())
        cases.append(((w0, H, lr, weight_decay), np.array(reference)))
    check_cases(
        lambda *args: adamw_trajectory(candidate, *args),
        cases,
        partial(array_mismatch, rtol=1e-9, atol=1e-12),
    )


print("exercise 1:", run_check(check_adamw_step, adamw_step))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The decay multiplies the weights by $1 - \eta\lambda$ before the Adam step
# and never enters $m$ or $s$. Adding $\lambda w$ to the gradient instead (L2
# regularisation inside Adam) is not the same: the penalty's gradient would
# then be divided by $\sqrt{\hat s}$ like everything else, so weights with
# large gradients would barely be decayed. That difference is the point of
# AdamW.
#
# ```python
# def adamw_step(w, g, m, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
#     beta1, beta2 = betas
#     w = w * (1 - lr * weight_decay)
#     m = beta1 * m + (1 - beta1) * g
#     s = beta2 * s + (1 - beta2) * g**2
#     m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
#     return w - lr * m_hat / (np.sqrt(s_hat) + eps), m, s
# ```
#
# </details>
#
# ### Exercise 2: the gradient of the cross-entropy
#
# Write `cross_entropy_grad(logits, targets)`: the gradient, with respect to
# the logits of shape `(N, V)`, of the mean cross-entropy
# $\frac1N\sum_n \big(\operatorname{lse}(z_n) - z_{n, t_n}\big)$ for integer
# targets $t_n$. Section 1 found it for one row. It is the first step of the
# backward pass of every language model. The check compares it with autograd
# through `F.cross_entropy` on random logits, including large ones.


# %%
def cross_entropy_grad(logits: np.ndarray, targets: np.ndarray) -> np.ndarray | None:
    """d mean_n CE(logits[n], targets[n]) / d logits, shape (N, V)."""
    return None  # your code here


# %%
def check_cross_entropy_grad(candidate) -> None:
    generator = np.random.default_rng(2)
    cases = []
    for rows, vocab, scale in [(1, 5, 1.0), (8, 3, 2.0), (16, 50, 30.0)]:
        logits = generator.normal(size=(rows, vocab)) * scale
        targets = generator.integers(0, vocab, size=rows)
        z = torch.tensor(logits, requires_grad=True)
        torch.nn.functional.cross_entropy(z, torch.from_numpy(targets)).backward()
        cases.append(((logits, targets), z.grad.numpy()))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-9, atol=1e-12))


print("exercise 2:", run_check(check_cross_entropy_grad, cross_entropy_grad))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Softmax of each row (shifted by the row's maximum so that large logits do
# not overflow), minus 1 at the target, divided by $N$ because the loss is a
# mean over rows.
#
# ```python
# def cross_entropy_grad(logits, targets):
#     shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
#     grad = shifted / shifted.sum(axis=1, keepdims=True)
#     grad[np.arange(len(targets)), targets] -= 1
#     return grad / len(targets)
# ```
#
# </details>
#
# ### More to explore
#
# 1. Raise the momentum learning rate on Rosenbrock step by step. For a
#    quadratic the heavy-ball method is stable up to
#    $\eta < 2(1 + \mu)/L$: does the valley follow the same rule near the
#    minimum, where $L \approx 1000$?
# 2. Make the quadratic worse conditioned ($\lambda_\text{min} = 0.1$) and
#    count the steps gradient descent needs with the best $\eta^*$. How does
#    the count grow with $L/\lambda_\text{min}$?
# 3. Add Gaussian noise to the gradient (a stand-in for mini-batches) and
#    see how each optimiser's path near the minimum changes.
# 4. Give Adam a learning rate that decays from 0.1 to 0.001 over the 1000
#    steps and rerun the twelve starts: does its spread shrink?
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_adamw_step(w, g, m, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    beta1, beta2 = betas
    w = w * (1 - lr * weight_decay)
    m = beta1 * m + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g**2
    m_hat, s_hat = m / (1 - beta1**t), s / (1 - beta2**t)
    return w - lr * m_hat / (np.sqrt(s_hat) + eps), m, s


def wrong_adamw_step(w, g, m, s, t, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
    """Adam with L2 regularisation: the decay goes through the gradient, which AdamW avoids."""
    return solution_adamw_step(w, g + weight_decay * w, m, s, t, lr, betas, eps, weight_decay=0.0)


def solution_cross_entropy_grad(logits, targets):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    grad = shifted / shifted.sum(axis=1, keepdims=True)
    grad[np.arange(len(targets)), targets] -= 1
    return grad / len(targets)


def wrong_cross_entropy_grad(logits, targets):  # the gradient of the sum, not of the mean
    return solution_cross_entropy_grad(logits, targets) * len(targets)


def untouched(*args, **kwargs):
    return None


for check, solution, wrong in [
    (check_adamw_step, solution_adamw_step, wrong_adamw_step),
    (check_cross_entropy_grad, solution_cross_entropy_grad, wrong_cross_entropy_grad),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
