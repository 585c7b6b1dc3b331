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
# # PyTorch fundamentals
#
# Every modern LLM codebase is written against a tensor library, usually
# PyTorch. If you know NumPy, most of PyTorch will look familiar; what it
# adds is automatic differentiation, modules that own their parameters, data
# loading, and the conventions of a training loop. This notebook walks
# through each, checking every claim with an `assert`.
#
# **What you will build**
#
# 1. Tensors next to NumPy arrays: which conversions share memory and which
#    copy.
# 2. Broadcasting: the rule, written from scratch and checked against
#    `torch.broadcast_shapes`, including a shape pair that fails.
# 3. Data types and memory: what float32, float16, bfloat16 and int8 cost and
#    what they can represent.
# 4. Autograd: `requires_grad`, `backward`, gradient accumulation,
#    `zero_grad` and `no_grad`.
# 5. A small `nn.Module`, a custom `Dataset` and a seeded `DataLoader`.
# 6. A training loop with a validation split and early stopping, and a
#    checkpoint that resumes training exactly where it stopped.

# %%
import copy
import tempfile
from pathlib import Path

import numpy as np
import torch
from matplotlib import pyplot as plt
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split

torch.set_num_threads(2)
torch.manual_seed(0)

# %% [markdown]
# ## 1. Tensors and NumPy arrays
#
# A tensor is an n-dimensional array: rank 0 is a scalar, rank 1 a vector,
# rank 2 a matrix. The activations inside a transformer are rank 3:
# (batch, sequence position, feature).

# %%
scalar = torch.tensor(3.0)
vector = torch.tensor([1.0, 2.0, 3.0])
matrix = torch.ones(2, 3)
activations = torch.zeros(4, 16, 64)  # (batch, tokens, features)
for name, t in [("scalar", scalar), ("vector", vector), ("matrix", matrix)]:
    print(f"{name:>6}: rank {t.ndim}, shape {tuple(t.shape)}")
print(f"activations: rank {activations.ndim}, shape {tuple(activations.shape)}")
assert (scalar.ndim, vector.ndim, matrix.ndim, activations.ndim) == (0, 1, 2, 3)

# %% [markdown]
# ### Shared memory or a copy?
#
# `torch.from_numpy(a)` and `t.numpy()` do **not** copy: the tensor and the
# array are two views of the same buffer, so writing through one is visible
# through the other. `torch.tensor(a)` always **copies**. Sharing makes
# conversion free, and it also makes for surprising bugs when one side is
# modified in place.

# %%
array = np.arange(4, dtype=np.float64)
shared = torch.from_numpy(array)
copied = torch.tensor(array)

array[0] = 100.0  # write through NumPy...
shared[1] = -1.0  # ...and through torch
print("array: ", array)
print("shared:", shared.numpy())
print("copied:", copied.numpy())

assert shared[0].item() == 100.0, "from_numpy shares memory with the array"
assert array[1] == -1.0, "writing to the tensor changes the array"
assert copied[0].item() == 0.0 and copied[1].item() == 1.0, "torch.tensor copied"
assert shared.dtype == torch.float64, "from_numpy keeps NumPy's dtype"

back = shared.numpy()  # .numpy() shares too
back[2] = 42.0
assert shared[2].item() == 42.0 and array[2] == 42.0
assert np.shares_memory(back, array)
assert shared.data_ptr() == array.__array_interface__["data"][0]

# %% [markdown]
# In-place operations end in an underscore (`add_`, `zero_`, `copy_`) and
# modify the tensor itself; everything else returns a new tensor.

# %%
before = shared.clone()
result = shared + 1  # new tensor, `shared` unchanged
torch.testing.assert_close(shared, before)
shared.add_(1)  # in place: `shared` and `array` both change
torch.testing.assert_close(shared, result)
assert array[0] == 101.0

# %% [markdown]
# ## 2. Broadcasting
#
# Element-wise operations between tensors of different shapes work when the
# shapes are **broadcastable**. Align the shapes at their last dimension and
# walk left: each pair of sizes must be equal, or one of them must be 1, or
# one of them must be missing. The result takes the larger size in each
# position; size-1 and missing dimensions are repeated without copying data.
#
# This is how a bias of shape `(features,)` is added to activations of shape
# `(batch, tokens, features)`, and how one causal mask of shape
# `(1, 1, T, T)` applies to every batch element and attention head.


# %%
def broadcast_shape(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape that broadcasting produces, or ValueError if there is none."""
    ndim = max(len(shape) for shape in shapes)
    padded = [(1,) * (ndim - len(shape)) + tuple(shape) for shape in shapes]
    result = []
    for sizes in zip(*padded, strict=True):
        not_one = {size for size in sizes if size != 1}
        if len(not_one) > 1:
            raise ValueError(f"sizes {sizes} do not broadcast in shapes {shapes}")
        result.append(not_one.pop() if not_one else 1)
    return tuple(result)


examples = [
    ((4, 16, 64), (64,)),  # bias over (batch, tokens, features)
    ((8, 4, 10, 10), (1, 1, 10, 10)),  # one mask for every batch and head
    ((3, 1), (1, 4)),  # outer sum
    ((5, 1, 4), (3, 1)),
]
for a_shape, b_shape in examples:
    ours = broadcast_shape(a_shape, b_shape)
    assert ours == tuple(torch.broadcast_shapes(a_shape, b_shape))
    assert ours == (torch.zeros(a_shape) + torch.zeros(b_shape)).shape
    print(f"{a_shape!s:>14} + {b_shape!s:<14} -> {ours}")

# %% [markdown]
# A pair that does **not** broadcast: `(3, 4)` and `(3,)`. Aligned at the
# right, 4 meets 3. (Adding a per-row value needs shape `(3, 1)`.) Both our
# rule and PyTorch refuse.

# %%
a, b = torch.zeros(3, 4), torch.zeros(3)
try:
    a + b
    raise AssertionError("expected a broadcasting error")
except RuntimeError as error:
    print("torch:", str(error).splitlines()[0])
try:
    broadcast_shape((3, 4), (3,))
    raise AssertionError("expected a broadcasting error")
except ValueError as error:
    print("ours: ", error)
assert (a + b[:, None]).shape == (3, 4), "a trailing size-1 axis fixes it"

# %% [markdown]
# The opposite danger is a broadcast that *succeeds* when you did not mean
# it: subtracting a `(3, 1)` column from a `(3,)` vector gives a `(3, 3)`
# matrix, not three differences. A mean-squared error computed this way
# returns a number, just the wrong one. Check shapes.

# %%
predictions = torch.tensor([1.0, 2.0, 3.0])
targets = torch.tensor([[1.0], [2.0], [3.0]])
assert (predictions - targets).shape == (3, 3)
assert torch.mean((predictions - targets) ** 2).item() > 0  # should have been 0
assert torch.mean((predictions - targets.squeeze(1)) ** 2).item() == 0

# %% [markdown]
# ## 3. Data types and memory
#
# A tensor's memory is `element_size() * nelement()` bytes. The data type is
# a trade between memory, speed and what can be represented:
#
# * **float32**: the default; 4 bytes.
# * **float16**: 2 bytes, but the largest value is 65 504, so activations
#   and gradients overflow easily (mixed-precision training needs loss
#   scaling).
# * **bfloat16**: 2 bytes with float32's range and fewer mantissa bits; the
#   usual choice for training LLMs today.
# * **int8**: 1 byte; used for quantised weights at inference time.

# %%
expected_bytes = {torch.float32: 4, torch.float16: 2, torch.bfloat16: 2, torch.int8: 1}
n_params = 7e9  # a "7B" model
for dtype, size in expected_bytes.items():
    t = torch.zeros(1000, 1000, dtype=dtype)
    assert t.element_size() == size
    assert t.element_size() * t.nelement() == size * 1_000_000
    unit = "byte " if size == 1 else "bytes"
    print(f"{dtype!s:>15}: {size} {unit} per element, ", end="")
    print(f"7B parameters = {n_params * size / 2**30:5.1f} GiB")

# %% [markdown]
# `torch.finfo` tells what a floating type can hold: `max` is the largest
# finite value, `eps` the gap between 1 and the next representable number
# (the relative precision). bfloat16 trades precision for range.

# %%
for dtype in [torch.float32, torch.float16, torch.bfloat16]:
    info = torch.finfo(dtype)
    print(f"{dtype!s:>15}: max {info.max:.3g}, eps {info.eps:.3g}")
assert torch.finfo(torch.float16).max == 65504.0
assert torch.finfo(torch.float16).eps == 2.0**-10
assert torch.finfo(torch.bfloat16).eps == 2.0**-7
assert torch.finfo(torch.bfloat16).max > 1e38

assert torch.isinf(torch.tensor(70_000.0).to(torch.float16)), "float16 overflows"
assert torch.isfinite(torch.tensor(70_000.0).to(torch.bfloat16)), "bfloat16 does not"
assert torch.tensor(1.001).to(torch.bfloat16).item() == 1.0, "bfloat16 rounds to 1"
assert torch.tensor(1.001).to(torch.float16).item() != 1.0
assert torch.tensor(1e-8).to(torch.float16).item() == 0.0, "float16 underflows to 0"
assert torch.tensor(1e-8).to(torch.bfloat16).item() != 0.0

# %% [markdown]
# The plot stores values from $10^{-10}$ to $10^{6}$ in each type and reads
# them back. float32 and bfloat16 keep a constant relative error across the
# whole range (bfloat16's is larger: fewer mantissa bits). float16 is more
# precise than bfloat16 in its comfortable middle, but loses precision for
# small numbers (below about $6 \times 10^{-5}$), rounds tiny ones to zero
# (relative error 1) and overflows to infinity above 65 504 (drawn at the
# top edge).

# %%
values = torch.logspace(-10, 6, 800, dtype=torch.float64)
fig, ax = plt.subplots(figsize=(7, 4))
for dtype in [torch.float32, torch.bfloat16, torch.float16]:
    stored = values.to(dtype).to(torch.float64)
    relative_error = ((stored - values).abs() / values).nan_to_num(posinf=1.0)
    # The worst error among 16 neighbouring values: rounding error is jagged.
    envelope = relative_error.clamp(max=1.0).unfold(0, 16, 1).amax(dim=1)
    ax.loglog(values[: len(envelope)], envelope, label=str(dtype).replace("torch.", ""))
ax.set(title="Relative rounding error by data type", xlabel="value stored")
ax.set(ylabel="worst relative error nearby")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Autograd
#
# Mark a tensor with `requires_grad=True` and PyTorch records every
# operation on it. `backward()` then fills `.grad` with the derivative.
# For $y = x^3 + 2x$ the derivative is $3x^2 + 2$, so 14 at $x = 2$.

# %%
x = torch.tensor(2.0, requires_grad=True)
y = x**3 + 2 * x
y.backward()
assert x.grad.item() == 3 * 2.0**2 + 2 == 14.0
print("dy/dx at 2:", x.grad.item())

# %% [markdown]
# Gradients **accumulate**: a second `backward()` adds to `.grad` instead
# of replacing it. This is deliberate (it lets you sum gradients over several
# small batches before one optimiser step, "gradient accumulation"), and it
# is why every training step starts with `optimizer.zero_grad()`.

# %%
y = x**3 + 2 * x  # the graph is freed after backward, so rebuild it
y.backward()
assert x.grad.item() == 28.0, "the second backward added 14 to the first"
x.grad.zero_()
(x**3 + 2 * x).backward()
assert x.grad.item() == 14.0, "after zeroing, one backward gives 14 again"

# %% [markdown]
# Inside `torch.no_grad()` nothing is recorded: that is how evaluation and
# inference run, cheaper in memory and time. `detach()` does the same for a
# single tensor.

# %%
with torch.no_grad():
    z = x * 3
assert not z.requires_grad and z.grad_fn is None
assert not x.detach().requires_grad
assert (x * 3).requires_grad, "outside no_grad the graph is recorded again"

# %% [markdown]
# ## 5. `nn.Module`: a model that owns its parameters
#
# A module declares its layers in `__init__` and says how to combine them in
# `forward`. PyTorch finds every parameter of every sub-module, which is
# what `model.parameters()` hands to the optimiser and what `state_dict()`
# saves. A linear layer from $d_\text{in}$ to $d_\text{out}$ holds
# $d_\text{in} d_\text{out}$ weights and $d_\text{out}$ biases.


# %%
class MLP(nn.Module):
    """A small multilayer perceptron for regression."""

    def __init__(self, n_inputs: int, n_hidden: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, n_hidden),
            nn.ReLU(),
            nn.Linear(n_hidden, n_hidden),
            nn.ReLU(),
            nn.Linear(n_hidden, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def linear_parameters(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


N_INPUTS, N_HIDDEN = 8, 64
model = MLP(N_INPUTS, N_HIDDEN)
n_parameters = sum(p.numel() for p in model.parameters())
expected = (
    linear_parameters(N_INPUTS, N_HIDDEN)
    + linear_parameters(N_HIDDEN, N_HIDDEN)
    + linear_parameters(N_HIDDEN, 1)
)
print(f"{n_parameters} parameters in", [tuple(p.shape) for p in model.parameters()])
assert n_parameters == expected == 4801

# %% [markdown]
# ## 6. `Dataset` and `DataLoader`
#
# A `Dataset` answers two questions: how many examples (`__len__`) and what
# is example $i$ (`__getitem__`). A `DataLoader` turns it into shuffled
# mini-batches. Here the data is synthetic: 8 input features and a target
# that depends non-linearly on three of them, plus noise. With only 200
# examples, a 4801-parameter model can memorise the noise, which is what we
# want to see in the next section.


# %%
class SyntheticRegression(Dataset):
    """y = sin(2 x0) + x1 * x2 + noise, for x drawn from a standard normal."""

    def __init__(self, n_examples: int, noise: float, seed: int) -> None:
        generator = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n_examples, N_INPUTS, generator=generator)
        clean = torch.sin(2 * self.x[:, 0]) + self.x[:, 1] * self.x[:, 2]
        noise_term = noise * torch.randn(n_examples, generator=generator)
        self.y = (clean + noise_term).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[index], self.y[index]


dataset = SyntheticRegression(n_examples=200, noise=0.5, seed=0)
split_generator = torch.Generator().manual_seed(0)
train_set, val_set = random_split(dataset, [150, 50], generator=split_generator)
BATCH_SIZE = 32


def make_loader(generator_seed: int) -> DataLoader:
    generator = torch.Generator().manual_seed(generator_seed)
    return DataLoader(train_set, BATCH_SIZE, shuffle=True, generator=generator)


batches = list(make_loader(0))
print("batch shapes:", [tuple(xb.shape) for xb, _ in batches])
assert all(xb.shape == (BATCH_SIZE, N_INPUTS) for xb, _ in batches[:-1])
assert batches[0][1].shape == (BATCH_SIZE, 1)
assert len(batches[-1][0]) == 150 % BATCH_SIZE, "the last batch holds the rest"
assert len(batches) == -(-150 // BATCH_SIZE)

# The same seed gives the same order; another seed gives another.
assert torch.equal(next(iter(make_loader(0)))[0], batches[0][0])
assert not torch.equal(next(iter(make_loader(1)))[0], batches[0][0])

# %% [markdown]
# ## 7. A training loop with validation and early stopping
#
# Each epoch: switch to training mode, run over the shuffled batches
# (`zero_grad`, forward, loss, `backward`, `step`), then measure the loss on
# the validation set in evaluation mode under `no_grad`. The training loss
# keeps falling as the model memorises its 150 examples; the validation loss
# falls, bottoms out and then rises. **Early stopping** keeps a copy of the
# best weights and stops once the validation loss has not improved for
# `patience` epochs.


# %%
def evaluate(model: nn.Module, subset) -> float:
    """Mean squared error over a whole data set, without recording a graph."""
    model.eval()
    x, y = dataset[subset.indices]
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()


def train_one_epoch(model: nn.Module, loader: DataLoader, optimizer) -> float:
    model.train()
    total, count = 0.0, 0
    for xb, yb in loader:
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(xb), yb)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(xb)
        count += len(xb)
    return total / count


torch.manual_seed(0)
model = MLP(N_INPUTS, N_HIDDEN)
optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
train_loader = make_loader(0)
max_epochs, patience = 300, 10

history = {"train": [], "val": []}
initial_val = evaluate(model, val_set)
best_val, best_epoch, best_state = float("inf"), -1, None
for epoch in range(max_epochs):
    history["train"].append(train_one_epoch(model, train_loader, optimizer))
    history["val"].append(evaluate(model, val_set))
    if history["val"][-1] < best_val:
        best_val, best_epoch = history["val"][-1], epoch
        best_state = copy.deepcopy(model.state_dict())
    elif epoch - best_epoch >= patience:
        break
stopped_epoch = epoch
model.load_state_dict(best_state)
print(f"val loss: initial {initial_val:.3f}, best {best_val:.3f} at epoch {best_epoch}")
print(f"stopped at epoch {stopped_epoch}; final train loss {history['train'][-1]:.3f}")

assert stopped_epoch < max_epochs - 1, "early stopping should have triggered"
assert stopped_epoch - best_epoch == patience
assert best_val < 0.6 * initial_val, "the model learned something"
assert history["train"][-1] < 0.5 * best_val, "training loss fell far below validation"
assert evaluate(model, val_set) == best_val, "the best weights were restored"

# %% [markdown]
# The dashed line marks the epoch whose weights we keep. Everything after it
# is the model fitting noise in the training set: the gap between the two
# curves is overfitting.

# %%
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(history["train"], label="training loss")
ax.plot(history["val"], label="validation loss")
ax.axvline(best_epoch, color="grey", ls="--", label=f"best epoch ({best_epoch})")
ax.set(title="Training with early stopping", xlabel="epoch")
ax.set(ylabel="mean squared error (log scale)")
ax.set_yscale("log")
ax.legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 8. Checkpoints: stop, restart, continue exactly
#
# Long training runs get interrupted. A checkpoint must hold everything the
# next step depends on: the model weights, the **optimiser state** (Adam's
# running averages and step count), the epoch, and the state of any random
# generator (here, the one that shuffles the batches). We save one to a
# temporary directory, load it into a fresh model and optimiser, and check
# that the resumed run takes exactly the step the uninterrupted run takes.

# %%
checkpoint = {
    "epoch": stopped_epoch,
    "model": model.state_dict(),
    "optimizer": optimizer.state_dict(),
    "loader_generator": train_loader.generator.get_state(),
}
with tempfile.TemporaryDirectory() as directory:
    path = Path(directory) / "checkpoint.pt"
    torch.save(checkpoint, path)
    print(f"checkpoint: {path.stat().st_size / 1024:.0f} KiB")
    restored = torch.load(path, weights_only=True)

fresh_model = MLP(N_INPUTS, N_HIDDEN)
fresh_optimizer = torch.optim.Adam(fresh_model.parameters(), lr=3e-3)
fresh_model.load_state_dict(restored["model"])
fresh_optimizer.load_state_dict(restored["optimizer"])
resumed_rng = torch.Generator()
resumed_rng.set_state(restored["loader_generator"])
resumed_loader = DataLoader(train_set, BATCH_SIZE, shuffle=True, generator=resumed_rng)
assert restored["epoch"] == stopped_epoch

# Same outputs and the same optimiser state.
x_val, _ = dataset[val_set.indices]
model.eval()
fresh_model.eval()
with torch.no_grad():
    assert torch.equal(model(x_val), fresh_model(x_val))
for p_old, p_new in zip(model.parameters(), fresh_model.parameters(), strict=True):
    old_state, new_state = optimizer.state[p_old], fresh_optimizer.state[p_new]
    assert old_state.keys() == new_state.keys() == {"step", "exp_avg", "exp_avg_sq"}
    for key in old_state:
        assert torch.equal(old_state[key], new_state[key])

# %% [markdown]
# Now one more training step on both: the original model (the run that was
# never interrupted) and the restored one. Same next batch, same update,
# bit for bit. As a contrast, a model that restores its weights but starts
# Adam from scratch takes a different step.


# %%
def one_step(model: nn.Module, optimizer, batch) -> None:
    model.train()
    xb, yb = batch
    optimizer.zero_grad()
    nn.functional.mse_loss(model(xb), yb).backward()
    optimizer.step()


weights_only_model = MLP(N_INPUTS, N_HIDDEN)
weights_only_model.load_state_dict(restored["model"])
new_adam = torch.optim.Adam(weights_only_model.parameters(), lr=3e-3)

batch_uninterrupted = next(iter(train_loader))
batch_resumed = next(iter(resumed_loader))
assert all(map(torch.equal, batch_uninterrupted, batch_resumed)), "same next batch"

one_step(model, optimizer, batch_uninterrupted)
one_step(fresh_model, fresh_optimizer, batch_resumed)
one_step(weights_only_model, new_adam, batch_resumed)

for p_old, p_new in zip(model.parameters(), fresh_model.parameters(), strict=True):
    assert torch.equal(p_old, p_new), "the resumed step differs from the original"
pairs = zip(model.parameters(), weights_only_model.parameters(), strict=True)
differs = any(not torch.equal(p_old, p_other) for p_old, p_other in pairs)
assert differs, "without the optimiser state, Adam takes a different step"
print("resumed run matches the uninterrupted run exactly")

# %% [markdown]
# ## What to try next
#
# 1. Add `nn.Dropout(0.2)` to the model. What else must the checkpoint hold
#    for the resumed step to stay identical? (Hint: `torch.get_rng_state()`.)
# 2. Train the same model in bfloat16 (`model.to(torch.bfloat16)` and the
#    data too) and compare the loss curves with float32.
# 3. Replace early stopping with weight decay (`torch.optim.AdamW`) and see
#    whether the validation loss still rises.
# 4. Use gradient accumulation: call `backward()` on two half-batches before
#    each `step()`, and check the gradients equal those of the full batch.
