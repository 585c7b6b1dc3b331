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
import copy
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from matplotlib import pyplot as plt
from torch import nn
from torch.utils.data import DataLoader, Dataset, random_split

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
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
    """A small multilayer perceptron for regression, with optional dropout after each hidden layer."""

    def __init__(self, n_inputs: int, n_hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_inputs, n_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(n_hidden, n_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
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
# Two different files come out of a training run, and they must not be
# confused:
#
# * the **best weights**, `best_state` above: only the model, from the best
#   epoch, for evaluation and deployment;
# * the **resume checkpoint**: everything the next step depends on, all
#   taken *at the same step*: the model weights, the optimiser state (Adam's
#   running averages and step count), the learning-rate schedule's position,
#   the state of the generator that shuffles the batches, and the state of the
#   global generator that draws dropout masks.
#
# Saving the best-epoch weights with the optimiser state of the last epoch
# would "resume" a run that never existed. The test of a resume checkpoint
# is strict: a run interrupted after epoch 12 and resumed from its checkpoint
# in fresh objects must produce, bit for bit, the same losses and weights for
# every later epoch as the run that was never interrupted.
#
# To make the test demanding, this run has everything that carries state:
# dropout, AdamW, and a learning-rate schedule stepped every batch (linear
# warmup, then cosine decay, as in LLM training) through `LambdaLR`.

# %%
EPOCHS, INTERRUPT_AT = 30, 12
STEPS_PER_EPOCH = len(make_loader(0))
WARMUP_STEPS, TOTAL_STEPS = 15, EPOCHS * STEPS_PER_EPOCH


def warmup_cosine(step: int) -> float:
    """Learning-rate multiplier: linear warmup to 1, then cosine decay to 0.1."""
    if step < WARMUP_STEPS:
        return (step + 1) / WARMUP_STEPS
    progress = (step - WARMUP_STEPS) / (TOTAL_STEPS - WARMUP_STEPS)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))


@dataclass
class Run:
    """Everything a training run carries from one step to the next."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    shuffle: torch.Generator
    loader: DataLoader


def make_run(seed: int) -> Run:
    torch.manual_seed(seed)  # initial weights, and the global generator that dropout draws from
    model = MLP(N_INPUTS, N_HIDDEN, dropout=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine)
    shuffle = torch.Generator().manual_seed(seed)
    return Run(model, optimizer, scheduler, shuffle, DataLoader(train_set, BATCH_SIZE, shuffle=True, generator=shuffle))


def train_epoch(run: Run) -> float:
    """One epoch of mini-batch AdamW with the schedule stepped after every batch; the mean loss."""
    run.model.train()
    losses = []
    for xb, yb in run.loader:
        run.optimizer.zero_grad()
        loss = nn.functional.mse_loss(run.model(xb), yb)
        loss.backward()
        run.optimizer.step()
        run.scheduler.step()
        losses.append(loss.item())
    return float(np.mean(losses))


def flat_weights(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def save_checkpoint(run: Run, epoch: int, path: Path) -> None:
    """Write every piece of state at once; a temporary file and a rename keep an old checkpoint whole if this fails."""
    state = {
        "epoch": epoch,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "shuffle_rng": run.shuffle.get_state(),
        "global_rng": torch.get_rng_state(),
    }
    partial_path = path.with_suffix(".tmp")
    torch.save(state, partial_path)
    os.replace(partial_path, path)


def resume(path: Path, skip: frozenset[str] = frozenset()) -> tuple[Run, int]:
    """Fresh objects (from another seed, so nothing leaks from this process) filled from the checkpoint.

    `skip` names the parts to leave out, to see what each one is for.
    """
    run = make_run(seed=12345)
    state = torch.load(path, weights_only=True)
    run.model.load_state_dict(state["model"])
    if "optimizer" not in skip:
        run.optimizer.load_state_dict(state["optimizer"])
    if "scheduler" not in skip:
        run.scheduler.load_state_dict(state["scheduler"])
    if "random generators" not in skip:
        run.shuffle.set_state(state["shuffle_rng"])
        torch.set_rng_state(state["global_rng"])
    return run, state["epoch"]


# The run that is never interrupted.
uninterrupted = make_run(seed=0)
reference_losses, reference_weights = [], []
for _ in range(EPOCHS):
    reference_losses.append(train_epoch(uninterrupted))
    reference_weights.append(flat_weights(uninterrupted.model))

# The same run, stopped after INTERRUPT_AT epochs, then resumed from disk: once whole, then
# three times with one piece of the checkpoint left out.
resumed_losses, resumed_weights = {}, {}
with tempfile.TemporaryDirectory() as directory:
    path = Path(directory) / "checkpoint.pt"
    interrupted = make_run(seed=0)
    for _ in range(INTERRUPT_AT):
        train_epoch(interrupted)
    save_checkpoint(interrupted, INTERRUPT_AT, path)
    print(f"checkpoint after epoch {INTERRUPT_AT}: {path.stat().st_size / 1024:.0f} KiB")
    del interrupted
    for name, skip in [
        ("full checkpoint", frozenset()),
        ("without the optimiser state", frozenset({"optimizer"})),
        ("without the schedule", frozenset({"scheduler"})),
        ("without the random generators", frozenset({"random generators"})),
    ]:
        run, start = resume(path, skip)
        resumed_losses[name], resumed_weights[name] = [], []
        for _ in range(start, EPOCHS):
            resumed_losses[name].append(train_epoch(run))
            resumed_weights[name].append(flat_weights(run.model))

# %% [markdown]
# The full checkpoint must reproduce the uninterrupted run exactly, epoch by
# epoch, for all 18 remaining epochs (90 optimiser steps); each incomplete
# one must not. The plot shows how far each resumed run's weights drift from
# the uninterrupted run's.

# %%
exact = resumed_losses["full checkpoint"] == reference_losses[INTERRUPT_AT:]
assert exact, "the resumed losses differ from the uninterrupted run's"
for epoch, weights in enumerate(resumed_weights["full checkpoint"], start=INTERRUPT_AT):
    assert torch.equal(weights, reference_weights[epoch]), f"weights differ after epoch {epoch + 1}"
print(f"full checkpoint: {EPOCHS - INTERRUPT_AT} epochs of losses and weights identical to the uninterrupted run")

fig, ax = plt.subplots(figsize=(7, 4))
epochs_after = np.arange(INTERRUPT_AT + 1, EPOCHS + 1)
for name, weights in resumed_weights.items():
    drift = [float((w - r).abs().max()) for w, r in zip(weights, reference_weights[INTERRUPT_AT:], strict=True)]
    if name != "full checkpoint":
        assert drift[-1] > 1e-4, f"resuming {name} should change the run"
        print(f"{name}: largest weight difference after the last epoch {drift[-1]:.2g}")
    label = f"{name} (exactly 0, drawn at 1e-12)" if max(drift) == 0 else name
    ax.semilogy(epochs_after, np.maximum(drift, 1e-12), "o-", ms=3, label=label)
ax.set(title=f"Resumed after epoch {INTERRUPT_AT}: distance to the uninterrupted run", xlabel="epoch")
ax.set(ylabel="largest weight difference")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** The full checkpoint's line sits at zero: every loss
# and every weight after the restart equals the uninterrupted run's, to the
# last bit. Each missing piece breaks that in its own way. Without the
# optimiser state, AdamW restarts its running averages (and its bias
# correction) and takes different steps at once. Without the schedule, the
# learning rate jumps back to the start of its warmup. Without the random
# generators, the batches come in another order and dropout drops other
# units. None of these raises an error; only a comparison like this one
# shows them, which is why training frameworks test their resume logic the
# same way.

# %% [markdown]
# ## What to try next
#
# Two exercises with checks, then more to explore. Each exercise gives a
# function stub that returns `None`; replace its body, run the check cell
# under it, and it prints a verdict. The solutions are folded away under
# each exercise. First, the helpers every check uses, from the `exercises`
# package beside the notebooks.


# %%
from exercises import check_cases, run_check


# %% [markdown]
# ### Exercise 1: gradient accumulation
#
# When a batch does not fit in memory, split it into `n_micro` equal
# micro-batches, call `backward()` on each, and step once: the gradients
# add up in `.grad`. Write `accumulate_gradients(model, x, y, n_micro)` that
# leaves in each parameter's `.grad` exactly the gradient of the mean
# squared error over the whole batch (start from zeroed gradients), and
# returns the list of those gradients. The check compares them with one
# backward pass over the full batch, in float64.


# %%
def accumulate_gradients(model: nn.Module, x: torch.Tensor, y: torch.Tensor, n_micro: int) -> list | None:
    """Full-batch MSE gradients of model's parameters, from n_micro backward passes."""
    return None  # your code here


# %%
def check_accumulate_gradients(candidate) -> None:
    torch.manual_seed(1)
    cases = []
    for n_micro in (1, 2, 3, 6):
        model = MLP(N_INPUTS, 16).double()
        x, y = torch.randn(12, N_INPUTS, dtype=torch.float64), torch.randn(12, 1, dtype=torch.float64)
        model.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        full_batch = [p.grad.clone() for p in model.parameters()]
        model.zero_grad()
        cases.append(((model, x, y, n_micro), full_batch))

    def mismatch(expected, got):
        if len(got) != len(expected):
            return f"{len(got)} gradients, expected one per parameter ({len(expected)})"
        worst = max(float((g - e).abs().max()) for g, e in zip(got, expected, strict=True))
        return None if worst < 1e-12 else f"gradients differ from the full batch's by up to {worst:.3g}"

    check_cases(candidate, cases, mismatch)


print("exercise 1:", run_check(check_accumulate_gradients, accumulate_gradients))

# %% [markdown]
# <details><summary>Solution</summary>
#
# The mean over the batch is the mean of the micro-batch means (the
# micro-batches are equal in size), so each micro-batch's loss is divided by
# `n_micro` before `backward()`. Without that division the accumulated
# gradient is `n_micro` times too large, which is the same as silently
# multiplying the learning rate.
#
# ```python
# def accumulate_gradients(model, x, y, n_micro):
#     model.zero_grad()
#     for xb, yb in zip(x.chunk(n_micro), y.chunk(n_micro)):
#         (nn.functional.mse_loss(model(xb), yb) / n_micro).backward()
#     return [p.grad for p in model.parameters()]
# ```
#
# </details>
#
# ### Exercise 2: a `Dataset` of next-token windows
#
# A language model trains on windows of a long stream of token ids: the
# input is `context` consecutive ids and the target is the same window
# shifted by one, so that position `t` learns to predict token `t + 1`.
# Complete `TokenWindows(ids, context)` so that `len()` is the number of
# complete windows and item `i` is the pair `(ids[i : i + context], ids[i + 1 : i + context + 1])`.
# The check compares every item with that definition on random ids, and
# checks that a `DataLoader` stacks your items into batches of shape
# `(batch, context)`.


# %%
class TokenWindows(Dataset):
    """Every window of `context` ids from a 1-D tensor, paired with the window shifted by one."""

    def __init__(self, ids: torch.Tensor, context: int) -> None:
        self.ids, self.context = ids, context

    def __len__(self) -> int:
        return None  # your code here

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return None  # your code here


# %%
def windows_of(dataset_class, ids: torch.Tensor, context: int):
    """Every item of the dataset, or None while __len__ or __getitem__ is not written."""
    dataset = dataset_class(ids, context)
    length = dataset.__len__()
    if length is None or dataset[0] is None:
        return None
    batch_x, batch_y = next(iter(DataLoader(dataset, batch_size=4)))
    return length, [dataset[i] for i in range(length)], (tuple(batch_x.shape), tuple(batch_y.shape))


def check_token_windows(candidate) -> None:
    generator = torch.Generator().manual_seed(2)
    cases = []
    for n_ids, context in [(10, 3), (50, 8), (9, 8)]:
        ids = torch.randint(0, 1000, (n_ids,), generator=generator)
        items = [(ids[i : i + context], ids[i + 1 : i + context + 1]) for i in range(n_ids - context)]
        cases.append(((ids, context), (len(items), items, (min(4, len(items)), context))))

    def mismatch(expected, got):
        (length, items, batch_shape), (got_length, got_items, got_shapes) = expected, got
        if got_length != length:
            return f"len() is {got_length}, expected {length}"
        for i, ((x, y), (got_x, got_y)) in enumerate(zip(items, got_items, strict=True)):
            if not (torch.equal(got_x, x) and torch.equal(got_y, y)):
                return f"item {i} is ({got_x.tolist()}, {got_y.tolist()}), expected ({x.tolist()}, {y.tolist()})"
        if got_shapes != (batch_shape, batch_shape):
            return f"a DataLoader batch has shapes {got_shapes}, expected {batch_shape} twice"
        return None

    check_cases(lambda *args: windows_of(candidate, *args), cases, mismatch)


print("exercise 2:", run_check(check_token_windows, TokenWindows))

# %% [markdown]
# <details><summary>Solution</summary>
#
# A stream of $n$ ids holds $n - \text{context}$ complete (input, target)
# pairs: the last input window must leave one id for its target. Slicing a
# tensor returns a view, so the dataset costs no memory beyond the ids.
#
# ```python
# class TokenWindows(Dataset):
#     def __init__(self, ids, context):
#         self.ids, self.context = ids, context
#
#     def __len__(self):
#         return len(self.ids) - self.context
#
#     def __getitem__(self, index):
#         window = self.ids[index : index + self.context + 1]
#         return window[:-1], window[1:]
# ```
#
# </details>
#
# ### More to explore
#
# 1. Train the same model in bfloat16 (`model.to(torch.bfloat16)` and the
#    data too) and compare the loss curves with float32.
# 2. Save a checkpoint in the *middle* of an epoch, after batch 2 of 5. What
#    else must it hold for the resumed run to match, now that the shuffled
#    order of the current epoch has already been drawn? (Hint: save the
#    generator state at the start of the epoch and the number of batches
#    already done.)
# 3. Replace early stopping with stronger weight decay and see whether the
#    validation loss still rises.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_accumulate_gradients(model, x, y, n_micro):
    model.zero_grad()
    for xb, yb in zip(x.chunk(n_micro), y.chunk(n_micro), strict=True):
        (nn.functional.mse_loss(model(xb), yb) / n_micro).backward()
    return [p.grad for p in model.parameters()]


def wrong_accumulate_gradients(model, x, y, n_micro):  # sums the micro-batch means: n_micro times too large
    model.zero_grad()
    for xb, yb in zip(x.chunk(n_micro), y.chunk(n_micro), strict=True):
        nn.functional.mse_loss(model(xb), yb).backward()
    return [p.grad for p in model.parameters()]


class SolutionTokenWindows(Dataset):
    def __init__(self, ids, context):
        self.ids, self.context = ids, context

    def __len__(self):
        return len(self.ids) - self.context

    def __getitem__(self, index):
        window = self.ids[index : index + self.context + 1]
        return window[:-1], window[1:]


class WrongTokenWindows(SolutionTokenWindows):  # the target is the input itself: nothing to predict
    def __getitem__(self, index):
        window = self.ids[index : index + self.context]
        return window, window


class UntouchedTokenWindows(SolutionTokenWindows):
    def __len__(self):
        return None


def untouched(*args):
    return None


for check, solution, wrong, stub in [
    (check_accumulate_gradients, solution_accumulate_gradients, wrong_accumulate_gradients, untouched),
    (check_token_windows, SolutionTokenWindows, WrongTokenWindows, UntouchedTokenWindows),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, stub).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
