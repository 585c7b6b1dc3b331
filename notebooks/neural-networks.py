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
# # Neural networks from scratch
#
# "You should get to a point where you can code up any of the main
# architectures in plain NumPy, forward and backward passes." This notebook
# does exactly that for the multilayer perceptron (MLP), the building block
# that sits in every transformer layer as its feed-forward network.
#
# **What you will build**
#
# 1. Four activation functions (sigmoid, tanh, ReLU, GELU) and their
#    derivatives, checked against PyTorch.
# 2. An MLP with a forward and a backward pass (backpropagation) in NumPy,
#    with L2 weight decay and dropout.
# 3. A gradient check against central finite differences (relative error
#    below $10^{-6}$) and a comparison with PyTorch's autograd.
# 4. Training on a spiral data set, with a decision-boundary plot and a
#    comparison of activation functions.
# 5. Overfitting on purpose, and two cures: weight decay and dropout.

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

# Our matrices are tiny: a second BLAS thread costs more in synchronisation than
# it saves, and on a busy machine far more. This overrides the runner's share
# on purpose, and must run before NumPy is imported (afterwards it changes nothing).
os.environ["OPENBLAS_NUM_THREADS"] = "1"

import numpy as np
import torch
import torch.nn.functional as F
from matplotlib import pyplot as plt

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Activation functions
#
# Without a non-linearity between them, two linear layers collapse into one
# ($W_2(W_1 x) = (W_2 W_1) x$), and depth buys nothing. The activation
# function is what lets a network bend its decision boundaries.
#
# * **sigmoid** $\sigma(z) = 1/(1+e^{-z})$, derivative $\sigma(1-\sigma)$,
#   at most $1/4$: every sigmoid layer scales the gradient passing back
#   through it by a quarter or less (before the weights act on it).
# * **tanh**, derivative $1 - \tanh^2$: zero-centred, but also saturates.
# * **ReLU** $\max(0, z)$, derivative 0 or 1: cheap and does not saturate
#   for positive inputs.
# * **GELU** $z\,\Phi(z)$, a smooth ReLU used by BERT and GPT-2. We use the
#   tanh approximation that GPT-2 uses:
#   $\tfrac12 z\,(1 + \tanh(\sqrt{2/\pi}\,(z + 0.044715 z^3)))$.
# * **SiLU** (or swish) $z\,\sigma(z)$, another smooth ReLU. Llama, Mistral
#   and Qwen use it inside a *gated* feed-forward layer, SwiGLU, which
#   exercise 1 at the end builds (Gemma gates with GELU instead: GeGLU).

# %%
GELU_SCALE = np.sqrt(2 / np.pi)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def gelu(z: np.ndarray) -> np.ndarray:
    return 0.5 * z * (1 + np.tanh(GELU_SCALE * (z + 0.044715 * z * z * z)))


def gelu_derivative(z: np.ndarray) -> np.ndarray:
    """Product rule on z * s(z), where s is the smooth step 0.5 (1 + tanh(u))."""
    t = np.tanh(GELU_SCALE * (z + 0.044715 * z * z * z))
    du_dz = GELU_SCALE * (1 + 3 * 0.044715 * z * z)
    return 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du_dz


ACTIVATIONS = {
    # name: (function, derivative)
    "sigmoid": (sigmoid, lambda z: sigmoid(z) * (1 - sigmoid(z))),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype)),
    "gelu": (gelu, gelu_derivative),
}
TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "gelu": lambda z: F.gelu(z, approximate="tanh"),
}

z = np.linspace(-4, 4, 161)
for name, (f, f_prime) in ACTIVATIONS.items():
    z_t = torch.tensor(z, requires_grad=True)
    out = TORCH_ACTIVATIONS[name](z_t)
    out.sum().backward()  # d(sum)/dz_i = f'(z_i): all derivatives in one call
    np.testing.assert_allclose(f(z), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(f_prime(z), z_t.grad.numpy(), rtol=1e-10, atol=1e-12)

exact_gelu = F.gelu(torch.tensor(z)).numpy()  # z * Phi(z), with the error function
approximation_gap = np.abs(gelu(z) - exact_gelu).max()
print(f"largest gap, tanh-approximate vs exact GELU: {approximation_gap:.1e}")
assert approximation_gap < 1e-3
assert ACTIVATIONS["sigmoid"][1](z).max() <= 0.25

# %% [markdown]
# Left: the functions. Right: their derivatives, which is what
# backpropagation multiplies by at every layer. Notice how small the
# sigmoid's derivative is everywhere, how tanh and sigmoid go flat for large
# $|z|$ (saturation: almost no gradient passes), and how GELU dips slightly
# below zero for negative inputs instead of cutting off sharply like ReLU.

# %%
fig, (ax_f, ax_d) = plt.subplots(1, 2, figsize=(10, 4))
for name, (f, f_prime) in ACTIVATIONS.items():
    ax_f.plot(z, f(z), label=name)
    ax_d.plot(z, f_prime(z), label=name)
ax_f.set(title="Activation functions", xlabel="$z$", ylabel="$f(z)$", ylim=(-1.5, 4))
ax_d.set(title="Their derivatives", xlabel="$z$", ylabel="$f'(z)$", ylim=(-0.2, 1.2))
for ax in (ax_f, ax_d):
    ax.grid(alpha=0.3)
    ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. An MLP in NumPy: forward and backward
#
# Layer $\ell$ computes $Z_\ell = A_{\ell-1} W_\ell + b_\ell$ and
# $A_\ell = f(Z_\ell)$, for a batch of inputs stacked as the rows of
# $A_0 = X$. (We store $W_\ell$ as (inputs, outputs); `nn.Linear` stores the
# transpose.) The last layer outputs **logits**, and the loss is the softmax
# cross-entropy, averaged over the batch.
#
# **Backpropagation** is the chain rule applied layer by layer from the
# loss backwards, each step reusing the one after it:
#
# $$\frac{\partial L}{\partial Z_\text{out}} = \frac{\operatorname{softmax}(Z_\text{out}) - Y}{N},\quad
# \frac{\partial L}{\partial W_\ell} = A_{\ell-1}^\top \frac{\partial L}{\partial Z_\ell},\quad
# \frac{\partial L}{\partial b_\ell} = \sum_\text{rows} \frac{\partial L}{\partial Z_\ell},$$
#
# $$\frac{\partial L}{\partial Z_{\ell-1}} = \Big(\frac{\partial L}{\partial Z_\ell} W_\ell^\top\Big)
# \odot f'(Z_{\ell-1}).$$
#
# Two regularisers are built in. **L2 weight decay** adds
# $\frac{\lambda}{2}\sum_\ell \lVert W_\ell \rVert^2$ to the loss, so each
# weight gradient gains $\lambda W_\ell$. **Dropout** zeroes each hidden unit
# with probability $p$ during training and scales the survivors by
# $1/(1-p)$ ("inverted dropout"), so nothing changes at evaluation time; the
# backward pass multiplies by the same mask.

# %%
Params = dict[str, np.ndarray]


def init_params(layer_sizes: list[int], seed: int) -> Params:
    """He initialisation: weights ~ N(0, 2 / fan_in), biases 0."""
    generator = np.random.default_rng(seed)
    params = {}
    for layer in range(1, len(layer_sizes)):
        n_in, n_out = layer_sizes[layer - 1], layer_sizes[layer]
        params[f"W{layer}"] = generator.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out))
        params[f"b{layer}"] = np.zeros(n_out)
    return params


def forward(
    params: Params,
    X: np.ndarray,
    activation: str,
    dropout: float = 0.0,
    generator: np.random.Generator | None = None,
) -> tuple[np.ndarray, dict]:
    """Logits for a batch, and the intermediate values backward() needs."""
    f, _ = ACTIVATIONS[activation]
    n_layers = len(params) // 2
    cache = {"A0": X}
    A = X
    for layer in range(1, n_layers + 1):
        Z = A @ params[f"W{layer}"] + params[f"b{layer}"]
        if layer == n_layers:
            return Z, cache
        A = f(Z)
        if dropout > 0:
            keep = generator.random(A.shape) >= dropout
            cache[f"mask{layer}"] = keep / (1 - dropout)
            A = A * cache[f"mask{layer}"]
        cache[f"Z{layer}"], cache[f"A{layer}"] = Z, A
    raise ValueError("a network needs at least one layer")


def softmax_cross_entropy(
    logits: np.ndarray,
    y: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of integer labels y, and its gradient w.r.t. the logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    d_logits = np.exp(log_probs)
    d_logits[rows, y] -= 1
    return float(-log_probs[rows, y].mean()), d_logits / len(y)


def backward(
    params: Params,
    cache: dict,
    d_logits: np.ndarray,
    activation: str,
) -> Params:
    """Gradients of the loss for every parameter, from the output layer back."""
    _, f_prime = ACTIVATIONS[activation]
    n_layers = len(params) // 2
    grads = {}
    dZ = d_logits
    for layer in range(n_layers, 0, -1):
        grads[f"W{layer}"] = cache[f"A{layer - 1}"].T @ dZ
        grads[f"b{layer}"] = dZ.sum(axis=0)
        if layer > 1:
            dA = dZ @ params[f"W{layer}"].T
            if f"mask{layer - 1}" in cache:
                dA = dA * cache[f"mask{layer - 1}"]
            dZ = dA * f_prime(cache[f"Z{layer - 1}"])
    return grads


def loss_and_grads(
    params: Params,
    X: np.ndarray,
    y: np.ndarray,
    activation: str,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    seed: int = 0,
) -> tuple[float, Params]:
    """Loss (with the L2 term) and its gradients; `seed` fixes the dropout masks."""
    generator = np.random.default_rng(seed)
    logits, cache = forward(params, X, activation, dropout, generator)
    loss, d_logits = softmax_cross_entropy(logits, y)
    grads = backward(params, cache, d_logits, activation)
    for name in params:
        if name.startswith("W"):
            loss += 0.5 * weight_decay * np.sum(params[name] ** 2)
            grads[name] = grads[name] + weight_decay * params[name]
    return loss, grads


# %% [markdown]
# ## 3. Is the backward pass right? Gradient checking
#
# Nudge every single parameter by $\pm h$, recompute the loss, and compare
# the slope with the backward pass. Per parameter tensor we report the
# relative error
# $\lVert g - \hat g \rVert / (\lVert g \rVert + \lVert \hat g \rVert)$;
# in float64 a correct backward pass gives about $10^{-9}$ or less,
# and a bug gives something near 1. We check smooth activations (ReLU's
# kink at 0 can fool finite differences), with weight decay and dropout
# switched on, since they have backward code too. Fixing the seed gives
# every loss evaluation the same dropout mask.


# %%
def numerical_grads(params: Params, h: float = 1e-6, **loss_kwargs) -> Params:
    grads = {}
    for name, value in params.items():
        grads[name] = np.zeros_like(value)
        for index in np.ndindex(value.shape):
            original = value[index]
            value[index] = original + h
            loss_plus, _ = loss_and_grads(params, **loss_kwargs)
            value[index] = original - h
            loss_minus, _ = loss_and_grads(params, **loss_kwargs)
            value[index] = original
            grads[name][index] = (loss_plus - loss_minus) / (2 * h)
    return grads


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.linalg.norm(a) + np.linalg.norm(b)
    return float(np.linalg.norm(a - b) / max(scale, 1e-300))


X_small = rng.normal(size=(7, 2))
y_small = rng.integers(0, 3, size=7)
for activation in ["tanh", "gelu", "sigmoid"]:
    small_params = init_params([2, 5, 4, 3], seed=1)
    kwargs = {"X": X_small, "y": y_small, "activation": activation}
    kwargs |= {"weight_decay": 0.1, "dropout": 0.3, "seed": 3}
    _, analytic = loss_and_grads(small_params, **kwargs)
    numeric = numerical_grads(small_params, **kwargs)
    worst = max(relative_error(analytic[k], numeric[k]) for k in analytic)
    print(f"{activation:>7}: worst relative error of any parameter tensor {worst:.1e}")
    assert worst < 1e-6, f"backward disagrees with finite differences ({activation})"

# %% [markdown]
# ### The same gradients from PyTorch
#
# Build the same network in PyTorch (float64, same weights, transposed into
# `nn.Linear`'s layout), run the same batch through `F.cross_entropy` and
# let autograd do the backward pass. Every gradient must match ours, here
# with ReLU.

# %%
sizes = [2, 64, 64, 3]
params = init_params(sizes, seed=0)
X_batch, y_batch = rng.normal(size=(32, 2)), rng.integers(0, 3, size=32)
loss_np, grads_np = loss_and_grads(params, X_batch, y_batch, "relu")

layers = []
for i in range(len(sizes) - 1):
    linear = torch.nn.Linear(sizes[i], sizes[i + 1]).double()
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(params[f"W{i + 1}"].T))
        linear.bias.copy_(torch.from_numpy(params[f"b{i + 1}"]))
    layers += [linear, torch.nn.ReLU()]
torch_model = torch.nn.Sequential(*layers[:-1])  # no activation after the output
logits_t = torch_model(torch.from_numpy(X_batch))
loss_t = F.cross_entropy(logits_t, torch.from_numpy(y_batch))
loss_t.backward()

np.testing.assert_allclose(loss_np, loss_t.item(), rtol=1e-12)
for i, linear in enumerate(torch_model[::2], start=1):
    weight_grad, bias_grad = linear.weight.grad.numpy(), linear.bias.grad.numpy()
    np.testing.assert_allclose(grads_np[f"W{i}"], weight_grad.T, atol=1e-12)
    np.testing.assert_allclose(grads_np[f"b{i}"], bias_grad, atol=1e-12)
print(f"loss {loss_np:.6f}: NumPy and PyTorch gradients agree for all 6 tensors")

# %% [markdown]
# ## 4. Training on spirals
#
# Three interleaved spiral arms: no straight line separates them, so the
# network has to learn curved boundaries. We train with full-batch gradient
# descent with momentum (written out here, as in the optimisation notebook)
# on half of the points and measure accuracy on the other half.


# %%
def make_spirals(
    n_per_class: int,
    n_classes: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    points, labels = [], []
    for k in range(n_classes):
        radius = np.linspace(0.05, 1, n_per_class)
        angle = np.linspace(4 * k, 4 * (k + 1), n_per_class)
        angle = angle + generator.normal(0, 0.2, n_per_class)
        points.append(np.column_stack([radius * np.sin(angle), radius * np.cos(angle)]))
        labels.append(np.full(n_per_class, k))
    return np.concatenate(points), np.concatenate(labels)


def train(
    X: np.ndarray,
    y: np.ndarray,
    layer_sizes: list[int],
    activation: str,
    steps: int,
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    dropout: float = 0.0,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    log_every: int = 50,
    seed: int = 0,
) -> tuple[Params, dict[str, list]]:
    """Full-batch gradient descent with momentum; logs losses without dropout."""
    params = init_params(layer_sizes, seed)
    velocity = {name: np.zeros_like(value) for name, value in params.items()}
    history = {"step": [], "train": [], "val": []}
    for step in range(steps + 1):
        if step % log_every == 0:
            history["step"].append(step)
            logits_train = forward(params, X, activation)[0]
            history["train"].append(softmax_cross_entropy(logits_train, y)[0])
            if validation is not None:
                X_val, y_val = validation
                logits_val = forward(params, X_val, activation)[0]
                history["val"].append(softmax_cross_entropy(logits_val, y_val)[0])
        if step == steps:
            break
        mask_seed = seed * 100_000 + step  # a fresh dropout mask at every step
        _, grads = loss_and_grads(
            params,
            X,
            y,
            activation,
            weight_decay=weight_decay,
            dropout=dropout,
            seed=mask_seed,
        )
        for name in params:
            velocity[name] = momentum * velocity[name] + grads[name]
            params[name] -= lr * velocity[name]
    return params, history


def accuracy(params: Params, X: np.ndarray, y: np.ndarray, activation: str) -> float:
    return float(np.mean(forward(params, X, activation)[0].argmax(axis=1) == y))


X_spiral, y_spiral = make_spirals(n_per_class=200, n_classes=3, seed=0)
order = np.random.default_rng(1).permutation(len(X_spiral))
train_idx, test_idx = order[:300], order[300:]
X_train, y_train = X_spiral[train_idx], y_spiral[train_idx]
X_test, y_test = X_spiral[test_idx], y_spiral[test_idx]

spiral_runs = {}
for activation in ACTIVATIONS:
    spiral_runs[activation] = train(
        X_train, y_train, [2, 32, 32, 3], activation, steps=800, lr=0.08, log_every=20
    )
    params_trained, history = spiral_runs[activation]
    test_accuracy = accuracy(params_trained, X_test, y_test, activation)
    print(f"{activation:>7}: final train loss {history['train'][-1]:.4f}, ", end="")
    print(f"test accuracy {test_accuracy:.3f}")

# %% [markdown]
# Left: the decision regions of the ReLU network, with the test points on
# top. Right: the training loss of the same architecture with each
# activation. ReLU, tanh and GELU all fit the spirals quickly. The sigmoid
# network crawls for hundreds of steps: its derivative is at most $1/4$,
# and its outputs are all positive, so the gradient signal is weak and
# poorly scaled by the time it reaches the first layer.

# %%
relu_params = spiral_runs["relu"][0]
grid_x, grid_y = np.meshgrid(np.linspace(-1.2, 1.2, 250), np.linspace(-1.2, 1.2, 250))
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
regions = forward(relu_params, grid, "relu")[0].argmax(axis=1).reshape(grid_x.shape)

fig, (ax_b, ax_l) = plt.subplots(1, 2, figsize=(11, 4.5))
class_levels = [-0.5, 0.5, 1.5, 2.5]
ax_b.contourf(grid_x, grid_y, regions, levels=class_levels, alpha=0.3, cmap="brg")
ax_b.scatter(*X_test.T, c=y_test, cmap="brg", s=12, edgecolors="k", linewidths=0.3)
ax_b.set(title="ReLU MLP: decision regions and test points")
ax_b.set(xlabel="$x_1$", ylabel="$x_2$")
ax_b.set_aspect("equal")
for activation, (_, history) in spiral_runs.items():
    ax_l.semilogy(history["step"], history["train"], label=activation)
ax_l.set(title="Training loss by activation", xlabel="step")
ax_l.set(ylabel="cross-entropy (log scale)")
ax_l.legend()
fig.tight_layout()
plt.show()

assert accuracy(relu_params, X_test, y_test, "relu") > 0.9
for activation, (_, history) in spiral_runs.items():
    first, last = history["train"][0], history["train"][-1]
    assert last < 0.5 * first, f"{activation} learned nothing"

# %% [markdown]
# That was one initialisation on one draw of the spirals. The same race with
# four more seeds, each drawing new spirals, a new split and new initial
# weights:

# %%
spiral_seeds = {name: [(history["train"][-1], accuracy(params_, X_test, y_test, name))]
                for name, (params_, history) in spiral_runs.items()}  # fmt: skip
for seed in range(1, 5):
    X_s, y_s = make_spirals(n_per_class=200, n_classes=3, seed=seed)
    order_s = np.random.default_rng(seed + 1).permutation(len(X_s))
    for activation in ACTIVATIONS:
        params_s, history_s = train(
            X_s[order_s[:300]], y_s[order_s[:300]], [2, 32, 32, 3], activation,
            steps=800, lr=0.08, log_every=800, seed=seed,
        )  # fmt: skip
        test_accuracy_s = accuracy(params_s, X_s[order_s[300:]], y_s[order_s[300:]], activation)
        spiral_seeds[activation].append((history_s["train"][-1], test_accuracy_s))
spiral_seeds = {name: np.array(runs) for name, runs in spiral_seeds.items()}
print("over 5 seeds:        final train loss (median, range)      test accuracy (median, range)")
for name, runs in spiral_seeds.items():
    loss, acc = runs[:, 0], runs[:, 1]
    print(f"{name:>7}: {np.median(loss):.4f} ({loss.min():.4f}-{loss.max():.4f})"
          f"{np.median(acc):>24.3f} ({acc.min():.3f}-{acc.max():.3f})")  # fmt: skip
for name in ["tanh", "relu", "gelu"]:
    assert np.all(spiral_seeds["sigmoid"][:, 0] > 10 * spiral_seeds[name][:, 0].max()), f"sigmoid lags {name}"
    assert spiral_seeds[name][:, 1].min() > 0.95, f"{name} fits the spirals on every seed"

# %% [markdown]
# The ranking holds on every seed: the sigmoid network's training loss after
# 800 steps is about a hundred times that of the others, and its test
# accuracy varies the most from seed to seed, while ReLU, tanh and GELU are
# indistinguishable at this size.

# %% [markdown]
# ## 5. Overfitting and regularisation
#
# Now the opposite problem: too much capacity for too little data. A
# network with two hidden layers of 128 units (about 17 000 weights) gets
# only 40 noisy points of the "two moons" data set. Left alone it memorises
# them: the training loss goes to zero while the loss on 1000 fresh
# validation points climbs, because the network becomes very confident
# about a boundary that bends around individual noisy points.
#
# * **Weight decay** (L2, $\lambda = 0.01$) pulls every weight towards zero,
#   which keeps the function smooth. (AdamW, the optimiser of most LLMs,
#   applies the same idea, decoupled from the gradient.)
# * **Dropout** ($p = 0.5$) trains a different random sub-network at each
#   step, so no unit can rely on a few specific others.
#
# First, two checks of the dropout mask: it keeps the expected activation
# unchanged, and evaluation (no `dropout` argument) applies no mask at all.


# %%
def make_moons(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    generator = np.random.default_rng(seed)
    angle = generator.uniform(0, np.pi, n)
    labels = generator.integers(0, 2, n)
    upper = np.column_stack([np.cos(angle), np.sin(angle)])
    lower = np.column_stack([1 - np.cos(angle), 0.5 - np.sin(angle)])
    points = np.where(labels[:, None] == 0, upper, lower)
    return points + generator.normal(0, noise, points.shape), labels


ones = np.ones((1, 1000))
mask_check = init_params([1000, 1000, 2], seed=0)
mask_rng = np.random.default_rng(0)
_, cache = forward(mask_check, ones, "relu", dropout=0.5, generator=mask_rng)
kept = cache["mask1"]
assert set(np.unique(kept)) == {0.0, 2.0}, "survivors are scaled by 1 / (1 - p)"
assert abs(kept.mean() - 1.0) < 0.1, "the mask keeps the mean activation"
_, eval_cache = forward(mask_check, ones, "relu")
assert not any(key.startswith("mask") for key in eval_cache)

# %%
X_few, y_few = make_moons(40, noise=0.35, seed=1)
X_val, y_val = make_moons(1000, noise=0.35, seed=2)
settings = {
    "no regularisation": {},
    "weight decay 0.01": {"weight_decay": 0.01},
    "dropout 0.5": {"dropout": 0.5},
}
moon_runs = {
    name: train(
        X_few,
        y_few,
        [2, 128, 128, 2],
        "relu",
        steps=1200,
        lr=0.05,
        validation=(X_val, y_val),
        **options,
    )
    for name, options in settings.items()
}
for name, (params_trained, history) in moon_runs.items():
    val_accuracy = accuracy(params_trained, X_val, y_val, "relu")
    print(f"{name:>18}: train loss {history['train'][-1]:.3f}, ", end="")
    lowest = min(history["val"])
    print(f"val loss {history['val'][-1]:.3f} (lowest {lowest:.3f}), ", end="")
    print(f"val accuracy {val_accuracy:.3f}")

# %% [markdown]
# Left: training loss (dashed) and validation loss (solid). Without
# regularisation the two curves split apart: training loss heads to zero,
# validation loss rises after an early minimum. Weight decay keeps them
# together at the price of a higher training loss. In this run dropout slows
# the memorisation, reaches a lower validation minimum than no
# regularisation and ends with a better validation accuracy, but on its own
# it does not stop the network from becoming over-confident late in
# training: in practice it is paired with early stopping or weight decay.
# (Whether those differences survive other seeds is checked below.) Right:
# the decision boundaries (where the two classes are
# equally likely) of the unregularised network and the one with weight
# decay, over the 40 training points (large dots) and the validation points
# (faint), which show the two moons the data comes from.

# %%
fig, (ax_curves, ax_bounds) = plt.subplots(1, 2, figsize=(11, 4.5))
colours = ["C0", "C1", "C2"]
for (name, (_, history)), colour in zip(moon_runs.items(), colours, strict=True):
    ax_curves.plot(history["step"], history["val"], color=colour, label=f"{name} (val)")
    ax_curves.plot(history["step"], history["train"], color=colour, ls="--", lw=1)
ax_curves.set(title="Train (dashed) and validation (solid) loss", xlabel="step")
ax_curves.set(ylabel="cross-entropy", ylim=(0, 2.0))
ax_curves.legend(fontsize=8)

grid_x, grid_y = np.meshgrid(np.linspace(-1.7, 2.7, 200), np.linspace(-1.4, 1.9, 200))
grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
for name, colour in [("no regularisation", "C0"), ("weight decay 0.01", "C1")]:
    logits = forward(moon_runs[name][0], grid, "relu")[0]
    margin = (logits[:, 1] - logits[:, 0]).reshape(grid_x.shape)
    ax_bounds.contour(grid_x, grid_y, margin, levels=[0], colors=colour)
    # A contour set makes no legend entry, so add an empty line that does.
    ax_bounds.plot([], [], color=colour, label=name)
ax_bounds.scatter(*X_val.T, c=y_val, cmap="coolwarm", s=4, alpha=0.2)
ax_bounds.scatter(*X_few.T, c=y_few, cmap="coolwarm", edgecolors="k", s=30)
ax_bounds.set(title="Decision boundaries (training points; validation faint)")
ax_bounds.set(xlabel="$x_1$")
ax_bounds.set(ylabel="$x_2$")
ax_bounds.legend(fontsize=8)
fig.tight_layout()
plt.show()

plain = moon_runs["no regularisation"][1]
assert plain["train"][-1] < 0.05, "the unregularised network memorises its 40 points"
assert plain["val"][-1] > 2 * min(plain["val"]), "its validation loss climbs again"

# %% [markdown]
# Forty points are a very small sample, so one run says little about which
# regulariser helps. The cell below repeats the comparison on five draws of
# the data (seed 0 is the run above), each with its own initialisation, and
# draws each seed's three results joined by a line: a comparison is only
# convincing if it holds seed by seed, not just on average.


# %%
def moons_data(seed: int) -> tuple[np.ndarray, ...]:
    """40 training and 1000 validation points; seed 0 is the draw used above."""
    return (*make_moons(40, noise=0.35, seed=1 + 2 * seed), *make_moons(1000, noise=0.35, seed=2 + 2 * seed))


moon_seeds = {name: [] for name in settings}
for seed in range(5):
    X_tr, y_tr, X_va, y_va = moons_data(seed)
    for name, options in settings.items():
        if seed == 0:
            params_m, history_m = moon_runs[name]
        else:
            params_m, history_m = train(
                X_tr, y_tr, [2, 128, 128, 2], "relu", steps=1200, lr=0.05,
                validation=(X_va, y_va), seed=seed, **options,
            )  # fmt: skip
        moon_seeds[name].append(
            (history_m["train"][-1], history_m["val"][-1], min(history_m["val"]), accuracy(params_m, X_va, y_va, "relu"))
        )
moon_seeds = {name: np.array(runs) for name, runs in moon_seeds.items()}

fig, (ax_val, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
for seed in range(5):
    ax_val.plot(range(3), [moon_seeds[name][seed, 1] for name in settings], "o-", color="grey", alpha=0.6)
    ax_acc.plot(range(3), [moon_seeds[name][seed, 3] for name in settings], "o-", color="grey", alpha=0.6)
for ax, title in [(ax_val, "final validation loss"), (ax_acc, "validation accuracy")]:
    ax.set_xticks(range(3), list(settings), fontsize=8)
    ax.set(title=f"{title}, one line per seed")
fig.tight_layout()
plt.show()

print("over 5 seeds (median and range): train loss | final val loss | lowest val loss | val accuracy")
for name, runs in moon_seeds.items():
    cells = [f"{np.median(c):.3f} ({c.min():.3f}-{c.max():.3f})" for c in runs.T]
    print(f"{name:>18}: " + " | ".join(cells))
plain_s, decay_s, drop_s = (moon_seeds[name] for name in settings)
assert np.all(plain_s[:, 0] < 0.05), "without regularisation the 40 points are memorised on every seed"
assert np.all(decay_s[:, 1] < 0.5 * plain_s[:, 1]), "weight decay: far lower final validation loss, every seed"
assert np.all(decay_s[:, 0] > plain_s[:, 0]), "at the price of a higher training loss"
assert np.all(drop_s[:, 0] > plain_s[:, 0]), "dropout slows the memorisation"
assert np.all(drop_s[:, 3] > plain_s[:, 3]), "dropout ends with better validation accuracy, every seed"
lower_minimum = int((drop_s[:, 2] < plain_s[:, 2]).sum())
print(f"dropout's lowest validation loss beats no regularisation's on {lower_minimum} of 5 seeds")

# %% [markdown]
# **What to notice.** Without regularisation the network memorises its 40
# points on every seed, and its validation loss ends several times above its
# own minimum. Weight decay lowers the final validation loss on every seed,
# by a factor of three or more, and raises the validation accuracy on every
# seed too. Dropout slows memorisation and raises the accuracy on every seed,
# but sometimes by less than a point, and its lowest validation loss beats
# no regularisation's only on some seeds (printed above). So the single run's
# "dropout reaches a lower minimum" was partly luck: with this little data,
# weight decay is the dependable cure and dropout a weaker one.

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
# ### Exercise 1: the SwiGLU feed-forward layer
#
# GPT-2's feed-forward layer is $\mathrm{GELU}(xW_1)W_2$ with a hidden width
# of $4d$. Llama and most current open models use a gated version,
#
# $$\mathrm{SwiGLU}(x) = \big(\mathrm{SiLU}(x W_{\text{gate}}) \odot x W_{\text{up}}\big)\, W_{\text{down}}, \qquad \mathrm{SiLU}(z) = z\,\sigma(z),$$
#
# with no biases. It has three matrices instead of two, so to keep the
# parameter count of a $4d$ MLP the hidden width is about $\tfrac{8}{3}d$
# (Llama 2 7B: $d = 4096$, hidden width 11008). Write
# `swiglu(x, w_gate, w_up, w_down)` in NumPy for `x` of shape `(N, d)`, with
# the weights stored as (inputs, outputs) like the MLP above. The check compares it with the
# same layer built from `torch.nn.functional.silu` in float64.


# %%
def swiglu(x: np.ndarray, w_gate: np.ndarray, w_up: np.ndarray, w_down: np.ndarray) -> np.ndarray | None:
    """(SiLU(x W_gate) * (x W_up)) W_down for a batch of row vectors x."""
    return None  # your code here


# %%
def check_swiglu(candidate) -> None:
    generator = np.random.default_rng(11)
    cases = []
    for n, d, hidden in [(1, 3, 8), (5, 6, 16), (7, 12, 32)]:
        x = generator.normal(size=(n, d))
        weights = [generator.normal(size=shape) / 2 for shape in [(d, hidden), (d, hidden), (hidden, d)]]
        x_t, (gate, up, down) = torch.from_numpy(x), (torch.from_numpy(w) for w in weights)
        reference = (F.silu(x_t @ gate) * (x_t @ up)) @ down
        cases.append(((x, *weights), reference.numpy()))
    check_cases(candidate, cases, partial(array_mismatch, rtol=1e-10, atol=1e-12))


print("exercise 1:", run_check(check_swiglu, swiglu))

# %% [markdown]
# <details><summary>Solution</summary>
#
# One projection goes through SiLU and acts as a gate on the other, element
# by element; the product is projected back to width $d$. Parameter count:
# $3 d h$ against $2 \cdot d \cdot 4d = 8d^2$ for the GELU MLP, equal when
# $h = \tfrac{8}{3}d$.
#
# ```python
# def swiglu(x, w_gate, w_up, w_down):
#     gate = x @ w_gate
#     return (gate * sigmoid(gate) * (x @ w_up)) @ w_down
# ```
#
# </details>
#
# ### Exercise 2: the backward pass of layer normalisation
#
# Layer normalisation rescales each row of $X$ (one token's features) to mean
# 0 and variance 1, then applies a learned per-feature gain $\gamma$ and bias
# $\beta$:
#
# $$\hat x = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}, \qquad y = \gamma \odot \hat x + \beta,$$
#
# with $\mu$ and $\sigma^2$ the mean and (biased) variance of the row. Given
# the upstream gradient `dy` ($\partial L / \partial y$), write
# `layer_norm_backward(x, gamma, dy, eps)` returning the triple
# $(\partial L/\partial x, \partial L/\partial\gamma, \partial L/\partial\beta)$.
# The tricky part is $\partial L/\partial x$: every output of a row depends on
# every input of that row through $\mu$ and $\sigma$. The check compares
# your gradients with autograd through `torch.nn.functional.layer_norm`.


# %%
def layer_norm_backward(x: np.ndarray, gamma: np.ndarray, dy: np.ndarray, eps: float = 1e-5):
    """Gradients (dx, dgamma, dbeta) of layer normalisation over the last axis."""
    return None  # your code here


# %%
def gradients_mismatch(expected, got) -> str | None:
    for name, reference, answer in zip(["dx", "dgamma", "dbeta"], expected, got, strict=True):
        problem = array_mismatch(reference, answer, rtol=1e-9, atol=1e-11)
        if problem is not None:
            return f"{name}: {problem}"
    return None


def check_layer_norm_backward(candidate) -> None:
    generator = np.random.default_rng(12)
    cases = []
    for n, d in [(1, 4), (6, 5), (3, 16)]:
        x, gamma, beta, dy = (generator.normal(size=shape) for shape in [(n, d), d, d, (n, d)])
        x_t, gamma_t, beta_t = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
        y_t = F.layer_norm(x_t, (d,), gamma_t, beta_t, eps=1e-5)
        y_t.backward(torch.from_numpy(dy))
        cases.append(((x, gamma, dy, 1e-5), (x_t.grad.numpy(), gamma_t.grad.numpy(), beta_t.grad.numpy())))
    check_cases(candidate, cases, gradients_mismatch)


print("exercise 2:", run_check(check_layer_norm_backward, layer_norm_backward))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The gain and bias are easy: $\partial L/\partial\gamma = \sum_\text{rows} dy \odot \hat x$
# and $\partial L/\partial\beta = \sum_\text{rows} dy$. For the input, write
# $g = dy \odot \gamma$ (the gradient reaching $\hat x$). Differentiating
# through the mean and the variance leaves, per row,
#
# $$\frac{\partial L}{\partial x} = \frac{1}{\sqrt{\sigma^2 + \epsilon}}\Big(g - \operatorname{mean}(g) - \hat x \odot \operatorname{mean}(g \odot \hat x)\Big):$$
#
# the gradient with its mean removed and its component along $\hat x$
# removed, because shifting or scaling a row does not change its normalised
# output.
#
# ```python
# def layer_norm_backward(x, gamma, dy, eps=1e-5):
#     mean = x.mean(axis=-1, keepdims=True)
#     inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
#     x_hat = (x - mean) * inv_std
#     g = dy * gamma
#     dx = inv_std * (g - g.mean(-1, keepdims=True) - x_hat * (g * x_hat).mean(-1, keepdims=True))
#     return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)
# ```
#
# </details>
#
# ### More to explore
#
# 1. Add a third hidden layer to the sigmoid network and compare how fast
#    the first layer's weights change with ReLU's: you are watching the
#    vanishing gradient.
# 2. Combine dropout with a little weight decay, or stop early on the
#    validation loss: which gives the lowest validation loss on the moons,
#    over the five seeds?
# 3. Replace gradient descent with the Adam update from the optimisation
#    notebook and compare the number of steps the spirals need.
# 4. RMSNorm, which current LLMs use instead of LayerNorm, skips the mean:
#    $y = \gamma \odot x / \sqrt{\operatorname{mean}(x^2) + \epsilon}$. Derive
#    its backward pass the same way and check it against
#    `torch.nn.functional.rms_norm`.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_swiglu(x, w_gate, w_up, w_down):
    gate = x @ w_gate
    return (gate * sigmoid(gate) * (x @ w_up)) @ w_down


def wrong_swiglu(x, w_gate, w_up, w_down):  # gates with a sigmoid instead of SiLU (that is GLU, not SwiGLU)
    return (sigmoid(x @ w_gate) * (x @ w_up)) @ w_down


def solution_layer_norm_backward(x, gamma, dy, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - mean) * inv_std
    g = dy * gamma
    dx = inv_std * (g - g.mean(-1, keepdims=True) - x_hat * (g * x_hat).mean(-1, keepdims=True))
    return dx, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


def wrong_layer_norm_backward(x, gamma, dy, eps=1e-5):  # treats the mean and variance as constants
    inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
    x_hat = (x - x.mean(axis=-1, keepdims=True)) * inv_std
    return dy * gamma * inv_std, (dy * x_hat).sum(axis=0), dy.sum(axis=0)


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_swiglu, solution_swiglu, wrong_swiglu),
    (check_layer_norm_backward, solution_layer_norm_backward, wrong_layer_norm_backward),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
