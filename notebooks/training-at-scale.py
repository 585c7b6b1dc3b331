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
# # Training at scale, on a laptop
#
# Large language models are trained on thousands of accelerators for weeks. The tricks that
# make this possible are not magic: each one is a small, exact change to an ordinary training
# loop, and each can be checked on a CPU with a model of a few thousand parameters. That is
# what this notebook does: every trick is built from scratch and then *asserted* to compute
# what it claims to compute.
#
# **What you will build**
#
# 1. **Gradient accumulation**: several small micro-batches that give exactly the gradient of
#    one large batch, including micro-batches of unequal size.
# 2. **Mixed precision** with `torch.autocast` and `bfloat16`: which tensors change dtype, how
#    large the error is, and why `bfloat16` keeps `float32`'s range while `float16` does not.
# 3. **Activation checkpointing**: trade computation for memory, with the saved activations
#    measured and the gradients checked against a plain run.
# 4. **Data parallelism** over two real processes talking through `torch.distributed` (gloo
#    backend, on the loopback interface): a hand-written gradient all-reduce and
#    `DistributedDataParallel`, both checked against single-process training.
# 5. **Checkpoint and resume**: save model, optimizer, scheduler, random-number state and step
#    so that a resumed run continues *identically* to one that was never interrupted.
#
# The model throughout is a tiny character-level language model (a "Bengio-style" MLP that
# predicts the next character from the previous eight), trained on the docstrings of Python's
# standard library, so everything runs offline in well under a minute.

# %%
import copy
import importlib
import inspect
import io
import os
import socket
import string
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.checkpoint import checkpoint

torch.set_num_threads(1)  # tiny tensors: a second thread costs more in synchronisation than it saves
torch.manual_seed(0)

# %% [markdown]
# ## A tiny language model and its data
#
# The corpus is the documentation that ships with every Python install. We keep a fixed
# alphabet of printable ASCII characters (so the vocabulary does not depend on the Python
# version) and turn the text into pairs *(eight characters of context, next character)*.

# %%
MODULE_NAMES = [
    "collections",
    "itertools",
    "functools",
    "json",
    "re",
    "string",
    "textwrap",
    "typing",
    "pathlib",
    "argparse",
    "datetime",
    "random",
    "statistics",
    "fractions",
    "decimal",
    "heapq",
    "bisect",
    "csv",
    "logging",
    "unittest",
]
ALPHABET = string.ascii_letters + string.digits + string.punctuation + " \n"
CHAR_TO_ID = {char: index for index, char in enumerate(ALPHABET)}
CONTEXT = 8


def gather_docstrings(module_names: list[str]) -> str:
    """Concatenate the docstrings of the modules and of the classes and functions they define."""
    parts = []
    for name in module_names:
        module = importlib.import_module(name)
        parts.append(inspect.getdoc(module) or "")
        for _, obj in sorted(vars(module).items()):
            is_own = getattr(obj, "__module__", None) == name
            if is_own and (inspect.isclass(obj) or inspect.isfunction(obj)):
                parts.append(inspect.getdoc(obj) or "")
    return "\n\n".join(part for part in parts if part)


def encode(text: str) -> torch.Tensor:
    """Map text to character ids, dropping characters outside the alphabet."""
    return torch.tensor([CHAR_TO_ID[c] for c in text if c in CHAR_TO_ID], dtype=torch.long)


def make_windows(ids: torch.Tensor, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """All (context, next-character) pairs of a sequence of ids."""
    windows = ids.unfold(0, context + 1, 1)
    return windows[:, :context].contiguous(), windows[:, context].contiguous()


corpus = gather_docstrings(MODULE_NAMES)
inputs_all, targets_all = make_windows(encode(corpus), CONTEXT)
print(f"{len(corpus):,} characters of docstrings -> {len(targets_all):,} training pairs")
print(repr(corpus[:120]))

# %% [markdown]
# The model is an `nn.Sequential` of standard layers: embed each of the eight characters,
# concatenate, one hidden layer, and a linear read-out to logits over the alphabet. Using
# only standard layers lets us later send the model to worker processes by pickling it.


# %%
def make_model(hidden: int = 128, embed: int = 16, dropout: float = 0.0) -> nn.Sequential:
    """A next-character MLP: embed the context, one tanh hidden layer, logits over the alphabet."""
    return nn.Sequential(
        nn.Embedding(len(ALPHABET), embed),
        nn.Flatten(),
        nn.Linear(CONTEXT * embed, hidden),
        nn.Tanh(),
        nn.Dropout(dropout),
        nn.Linear(hidden, len(ALPHABET)),
    )


def lm_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the next character."""
    return F.cross_entropy(model(x), y)


def gradients(model: nn.Module) -> list[torch.Tensor]:
    """Copies of the current .grad of every parameter."""
    return [p.grad.detach().clone() for p in model.parameters()]


def sample_batch(size: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A random batch of (context, next character) pairs."""
    index = torch.randint(len(targets_all), (size,), generator=generator)
    return inputs_all[index], targets_all[index]


model = make_model()
print(f"{sum(p.numel() for p in model.parameters()):,} parameters")

# %% [markdown]
# ## 1. Gradient accumulation
#
# The batch size that trains an LLM well (millions of tokens) does not fit in one device's
# memory. Gradient accumulation runs several micro-batches forward and backward one after
# another, lets `.backward()` **add** their gradients into `.grad`, and calls the optimizer
# once. Because the loss is a *mean* over the batch, each micro-batch loss must be scaled so
# that the sum of scaled gradients equals the gradient of the full-batch mean:
#
# $$\nabla \frac{1}{N}\sum_{i=1}^{N}\ell_i \;=\; \sum_{k} \frac{n_k}{N}\,\nabla\Big(\frac{1}{n_k}\sum_{i\in k}\ell_i\Big),$$
#
# where micro-batch $k$ holds $n_k$ examples. With equal micro-batches the weight is simply
# $1/K$. We work in `float64` so that "equal" can be checked to 12 digits.


# %%
def accumulate(model: nn.Module, micro_batches: list, weights: list[float]) -> None:
    """Backpropagate each micro-batch loss times its weight; .grad sums the contributions."""
    model.zero_grad()
    for (x, y), weight in zip(micro_batches, weights, strict=True):
        (weight * lm_loss(model, x, y)).backward()


torch.manual_seed(1)
base = make_model().double()
x_big, y_big = sample_batch(64)

full = copy.deepcopy(base)
lm_loss(full, x_big, y_big).backward()

micro = list(zip(x_big.chunk(4), y_big.chunk(4), strict=True))
accumulated = copy.deepcopy(base)
accumulate(accumulated, micro, [1 / 4] * 4)
unscaled = copy.deepcopy(base)
accumulate(unscaled, micro, [1.0] * 4)

for g_full, g_acc, g_raw in zip(gradients(full), gradients(accumulated), gradients(unscaled), strict=True):
    torch.testing.assert_close(g_acc, g_full, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(g_raw, 4 * g_full, rtol=1e-12, atol=1e-12)
print("4 micro-batches of 16, each loss scaled by 1/4 == one batch of 64")
print("forgetting the 1/4 gives exactly 4x the gradient")

# %% [markdown]
# Equal gradients mean equal updates: one optimizer step from the same state leaves the two
# models with the same parameters. (Forgetting the scaling is a silent bug: with SGD the step
# is $K$ times too large; Adam mostly divides the scale away, but gradient clipping and
# weight decay do not.)

# %%
for net in (full, accumulated):
    torch.optim.AdamW(net.parameters(), lr=1e-2).step()
for p_full, p_acc in zip(full.parameters(), accumulated.parameters(), strict=True):
    torch.testing.assert_close(p_acc, p_full, rtol=1e-12, atol=1e-12)
print("parameters after one AdamW step are identical")

# %% [markdown]
# In language modelling micro-batches rarely hold the same number of tokens (sequences have
# different lengths, padding is masked). Then $1/K$ is wrong and the weight must be
# $n_k/N$. Below: micro-batches of 40 and 24 examples.

# %%
uneven = [(x_big[:40], y_big[:40]), (x_big[40:], y_big[40:])]
weighted = copy.deepcopy(base)
accumulate(weighted, uneven, [40 / 64, 24 / 64])
naive = copy.deepcopy(base)
accumulate(naive, uneven, [1 / 2, 1 / 2])

reference = copy.deepcopy(base)
lm_loss(reference, x_big, y_big).backward()
for g_ref, g_weighted in zip(gradients(reference), gradients(weighted), strict=True):
    torch.testing.assert_close(g_weighted, g_ref, rtol=1e-12, atol=1e-12)
naive_error = max(
    (g_n - g_r).abs().max().item() for g_n, g_r in zip(gradients(naive), gradients(reference), strict=True)
)
assert naive_error > 1e-6, "averaging uneven micro-batches with 1/K should be visibly wrong"
print(f"weights n_k/N: exact.  weights 1/K: max gradient error {naive_error:.1e}")

# %% [markdown]
# ## 2. Mixed precision: `bfloat16` under `torch.autocast`
#
# A float has a sign, an **exponent** (which sets the *range*) and a **mantissa** (which sets
# the *precision*). `float16` spends 5 bits on the exponent and 10 on the mantissa;
# `bfloat16` ("brain float") keeps all 8 exponent bits of `float32` and only 7 mantissa bits.
# So `bfloat16` is coarse (about 2-3 significant decimal digits) but covers the same range
# as `float32`, which is why large models train in it without the loss scaling `float16`
# needs.

# %%
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):15} max={info.max:9.3e}  eps={info.eps:9.3e}  smallest normal={info.tiny:9.3e}")

big = torch.tensor(70_000.0)
assert torch.isinf(big.to(torch.float16)), "70000 is above float16's max of 65504"
assert torch.isfinite(big.to(torch.bfloat16)), "bfloat16 reaches ~3.4e38 like float32"
one_plus = torch.tensor(1.0 + 1e-3)
assert one_plus.to(torch.bfloat16).item() == 1.0, "bfloat16 eps is 2^-7: 1.001 rounds to 1"
assert one_plus.to(torch.float16).item() != 1.0, "float16 eps is 2^-10: 1.001 survives"
print("70000 -> float16:", big.to(torch.float16).item(), "| bfloat16:", big.to(torch.bfloat16).item())

# %% [markdown]
# The picture below casts numbers from $10^{-10}$ to $10^{6}$ to each format and plots the
# relative rounding error (a value that becomes 0 or infinity counts as error 1). Notice the
# two cliffs of `float16`: below $6\times10^{-5}$ values lose digits (they become "subnormal")
# and below $6\times10^{-8}$ they underflow to zero (gradients of deep networks are often
# $10^{-6}$ to $10^{-9}$), while values above 65504 overflow. `bfloat16` is flat across
# the whole range: never precise, never out of range.

# %%
magnitudes = torch.logspace(-10, 6, 400, dtype=torch.float64)


def relative_rounding_error(values: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """|round(x) - x| / x after a round trip through dtype; 1 where the value is lost."""
    rounded = values.to(dtype).to(torch.float64)
    error = ((rounded - values).abs() / values).clamp(max=1.0)
    return torch.where(torch.isfinite(rounded) & (rounded != 0), error, torch.ones_like(error))


fig, ax = plt.subplots(figsize=(6, 4))
for dtype, style in [(torch.float32, "-"), (torch.float16, "--"), (torch.bfloat16, "-.")]:
    error = relative_rounding_error(magnitudes, dtype).clamp(min=1e-10)
    ax.loglog(magnitudes, error, style, label=str(dtype).replace("torch.", ""))
ax.set_xlabel("magnitude of the value")
ax.set_ylabel("relative rounding error (1 = lost)")
ax.set_title("Range vs precision of 16-bit formats")
ax.legend()
plt.show()

# %% [markdown]
# `torch.autocast` does not convert the model. Parameters stay `float32` ("master weights");
# inside the context, each op runs in the dtype that suits it: matrix multiplications
# (`Linear`) in `bfloat16`, where the speed is, and precision-sensitive reductions such as
# `cross_entropy` in `float32`. We record the output dtype of every layer with forward hooks.

# %%
torch.manual_seed(2)
model_fp32 = make_model()
x_eval, y_eval = sample_batch(512)

layer_dtypes: dict[str, torch.dtype] = {}


def record_dtype(name: str):
    def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
        layer_dtypes[name] = output.dtype

    return hook


handles = [
    layer.register_forward_hook(record_dtype(f"{i}:{type(layer).__name__}"))
    for i, layer in enumerate(model_fp32)
]
with torch.autocast("cpu", dtype=torch.bfloat16):
    logits_bf16 = model_fp32(x_eval)
    loss_bf16 = F.cross_entropy(logits_bf16, y_eval)
for handle in handles:
    handle.remove()

print({name: str(dtype).replace("torch.", "") for name, dtype in layer_dtypes.items()})
assert layer_dtypes["2:Linear"] == torch.bfloat16 and layer_dtypes["5:Linear"] == torch.bfloat16
assert layer_dtypes["0:Embedding"] == torch.float32, "embedding lookups are not autocast"
assert loss_bf16.dtype == torch.float32, "cross_entropy runs in float32 under autocast"
assert all(p.dtype == torch.float32 for p in model_fp32.parameters())

# %% [markdown]
# How far is the `bfloat16` forward pass from the `float32` one? With 7 mantissa bits each
# rounding is off by up to $2^{-8}\approx 0.4\%$; errors partly cancel in sums. We state the
# tolerance: logits within 5% of their scale, the loss within 1%.

# %%
with torch.no_grad():
    logits_fp32 = model_fp32(x_eval)
    loss_fp32 = F.cross_entropy(logits_fp32, y_eval)
logit_error = (logits_bf16.float() - logits_fp32).abs().max() / logits_fp32.abs().max()
loss_error = (loss_bf16 - loss_fp32).abs() / loss_fp32
print(f"max logit error {logit_error:.2%} of the logit scale, loss error {loss_error:.3%}")
assert logit_error < 0.05 and loss_error < 0.01

# %% [markdown]
# Does training still work? Two copies of the same model take the same 300 AdamW steps on the
# same batches, one in plain `float32`, one under autocast. Gradients land in the `float32`
# parameters, so the optimizer update itself is full precision.


# %%
def train(model: nn.Module, steps: int, use_bf16: bool, seed: int = 3) -> list[float]:
    """AdamW on random batches; the batch sequence depends only on the seed."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        x, y = sample_batch(128, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            loss = lm_loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


torch.manual_seed(4)
initial = make_model()
losses_fp32 = train(copy.deepcopy(initial), 300, use_bf16=False)
bf16_model = copy.deepcopy(initial)
losses_bf16 = train(bf16_model, 300, use_bf16=True)

final_fp32, final_bf16 = np.mean(losses_fp32[-50:]), np.mean(losses_bf16[-50:])
print(f"loss over the last 50 steps: float32 {final_fp32:.3f}, bfloat16 autocast {final_bf16:.3f}")
assert final_fp32 < 0.75 * losses_fp32[0] and final_bf16 < 0.75 * losses_bf16[0]
assert abs(final_bf16 - final_fp32) < 0.05 * final_fp32, "bf16 training tracks float32 within 5%"
assert all(p.dtype == torch.float32 for p in bf16_model.parameters()), "master weights stay fp32"

fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(losses_fp32, label="float32", alpha=0.8)
ax.plot(losses_bf16, label="bfloat16 autocast", alpha=0.8)
ax.set_xlabel("step")
ax.set_ylabel("training loss (nats per character)")
ax.set_title("Mixed precision trains like full precision")
ax.legend()
plt.show()

# %% [markdown]
# The two curves lie on top of each other. (With `float16` you would also need
# `torch.amp.GradScaler`, which multiplies the loss by a large factor before `backward` so
# small gradients do not underflow, then divides it out before the step. `bfloat16` does not
# need it: its range is `float32`'s.)
#
# ## 3. Activation checkpointing
#
# Backpropagation needs the intermediate activations of the forward pass. For a transformer
# they grow with batch × sequence length × width × layers, and they, not the weights, are what
# usually runs out of memory. **Activation checkpointing** keeps only each block's *input*
# and recomputes the inside of the block during the backward pass: less memory, about one
# extra forward pass of compute.
#
# We build a residual stack of transformer-style MLP blocks (256 → 1024 → 256), run it plainly
# and with `torch.utils.checkpoint.checkpoint`, and count the bytes autograd saves with a
# `saved_tensors_hooks` pair (parameters excluded: they are in memory anyway).


# %%
class CountingBlock(nn.Module):
    """Linear-GELU-Linear, counting how often its forward runs (recomputation shows up here)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))
        self.forward_calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.forward_calls += 1
        return self.mlp(x)


def run_stack(blocks: nn.ModuleList, x: torch.Tensor, use_checkpoint: bool) -> int:
    """Forward + backward through the residual stack; returns activation bytes saved for backward."""
    parameter_pointers = {p.data_ptr() for p in blocks.parameters()}
    saved_bytes = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved_bytes
        if tensor.data_ptr() not in parameter_pointers:
            saved_bytes += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        h = x
        for block in blocks:
            h = h + (checkpoint(block, h, use_reentrant=False) if use_checkpoint else block(h))
        loss = h.square().mean()
    loss.backward()
    return saved_bytes


torch.manual_seed(5)
stack = nn.ModuleList([CountingBlock(256) for _ in range(6)]).double()
x_stack = torch.randn(128, 256, dtype=torch.float64)

plain_stack, ckpt_stack = copy.deepcopy(stack), copy.deepcopy(stack)
plain_bytes = run_stack(plain_stack, x_stack, use_checkpoint=False)
ckpt_bytes = run_stack(ckpt_stack, x_stack, use_checkpoint=True)

for p_plain, p_ckpt in zip(plain_stack.parameters(), ckpt_stack.parameters(), strict=True):
    torch.testing.assert_close(p_ckpt.grad, p_plain.grad, rtol=1e-12, atol=1e-12)
plain_calls = sum(block.forward_calls for block in plain_stack)
ckpt_calls = sum(block.forward_calls for block in ckpt_stack)
print(f"saved activations: plain {plain_bytes / 2**20:.1f} MiB, checkpointed {ckpt_bytes / 2**20:.1f} MiB")
print(f"block forward calls: plain {plain_calls}, checkpointed {ckpt_calls}")
assert ckpt_bytes < plain_bytes / 4, "checkpointing keeps only the block inputs"
assert plain_calls == 6 and ckpt_calls == 12, "each checkpointed block runs forward twice"

# %% [markdown]
# Same gradients, a fraction of the stored activations, twice the block forwards. Plain
# training stores, per block, the input, the 1024-wide hidden pre-activation and the GELU
# output; checkpointing stores only the 256-wide input. Real systems choose *which* blocks to
# checkpoint to fit the memory they have.
#
# ## 4. Data parallelism with `torch.distributed`
#
# In **data parallelism** every worker ("rank") holds a full copy of the model and processes
# its own slice of the batch. After `backward`, the ranks **all-reduce** their gradients
# (sum across ranks, divide by the number of ranks), so each rank holds the gradient of the
# full batch, takes the same optimizer step, and the copies never drift apart. It is gradient
# accumulation across machines instead of across time.
#
# We run it for real: two Python processes on this machine, connected by the `gloo` backend
# over the loopback interface (127.0.0.1). A function defined in a notebook cannot be sent to
# a spawned process (it lives in `__main__`, which the child cannot import), so the worker is
# a small script written to a temporary folder. The model and the batches travel through a
# file. Each rank computes
#
# 1. gradients on its half of one batch, averaged with a hand-written `all_reduce`, and
# 2. three SGD steps with `DistributedDataParallel`, which does the same all-reduce for us
#    (in buckets, overlapped with the backward pass).

# %%
WORKER_SOURCE = textwrap.dedent(
    '''
    """One data-parallel rank: python worker.py RANK WORLD_SIZE WORKDIR."""
    import copy
    import datetime
    import sys

    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
    from torch.nn.parallel import DistributedDataParallel


    def main(rank: int, world_size: int, workdir: str) -> None:
        torch.set_num_threads(1)
        dist.init_process_group(
            "gloo",
            init_method="env://",  # MASTER_ADDR and MASTER_PORT come from the environment
            rank=rank,
            world_size=world_size,
            timeout=datetime.timedelta(seconds=60),
        )
        payload = torch.load(f"{workdir}/payload.pt", weights_only=False)

        # 1. Manual data parallelism: local gradient, then average over ranks.
        model = copy.deepcopy(payload["model"])
        x, y = payload["batches"][0]
        F.cross_entropy(model(x.chunk(world_size)[rank]), y.chunk(world_size)[rank]).backward()
        for parameter in model.parameters():
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= world_size
        manual_gradients = [p.grad for p in model.parameters()]

        # 2. DistributedDataParallel: the same all-reduce, done inside backward().
        ddp_model = DistributedDataParallel(copy.deepcopy(payload["model"]))
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=payload["lr"])
        for x, y in payload["batches"]:
            optimizer.zero_grad()
            loss = F.cross_entropy(ddp_model(x.chunk(world_size)[rank]), y.chunk(world_size)[rank])
            loss.backward()
            optimizer.step()

        torch.save(
            {
                "manual_gradients": manual_gradients,
                "ddp_parameters": [p.detach() for p in ddp_model.module.parameters()],
            },
            f"{workdir}/rank{rank}.pt",
        )
        dist.destroy_process_group()


    if __name__ == "__main__":
        main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    '''
)


def free_loopback_port() -> int:
    """Ask the OS for a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_ranks(workdir: Path, world_size: int, timeout_s: float = 120.0) -> list[dict]:
    """Run world_size worker processes; kill them all if they exceed the timeout."""
    script = workdir / "worker.py"
    script.write_text(WORKER_SOURCE)
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_loopback_port()))
    env["OMP_NUM_THREADS"] = "1"
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # keep gloo's traffic on the loopback interface
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), str(rank), str(world_size), str(workdir)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(world_size)
    ]
    deadline = time.monotonic() + timeout_s
    try:
        for rank, process in enumerate(processes):
            _, stderr = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
            if process.returncode != 0:
                raise RuntimeError(f"rank {rank} failed:\n{stderr[-2000:]}")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [torch.load(workdir / f"rank{rank}.pt") for rank in range(world_size)]


torch.manual_seed(6)
dp_model = make_model().double()
dp_batches = [sample_batch(64) for _ in range(3)]
LEARNING_RATE = 0.5

start = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    workdir = Path(tmp)
    torch.save({"model": dp_model, "batches": dp_batches, "lr": LEARNING_RATE}, workdir / "payload.pt")
    rank_results = launch_ranks(workdir, world_size=2)
print(f"two gloo ranks finished in {time.perf_counter() - start:.1f} s")

# %% [markdown]
# Now the same computation in this single process, on full batches: the gradient of batch 0,
# and three SGD steps. Data parallelism must reproduce both.

# %%
single = copy.deepcopy(dp_model)
lm_loss(single, *dp_batches[0]).backward()
single_gradients = gradients(single)

single = copy.deepcopy(dp_model)
optimizer = torch.optim.SGD(single.parameters(), lr=LEARNING_RATE)
for x, y in dp_batches:
    optimizer.zero_grad()
    lm_loss(single, x, y).backward()
    optimizer.step()

for result in rank_results:
    for g_rank, g_single in zip(result["manual_gradients"], single_gradients, strict=True):
        torch.testing.assert_close(g_rank, g_single, rtol=1e-12, atol=1e-12)
    for p_rank, p_single in zip(result["ddp_parameters"], single.parameters(), strict=True):
        torch.testing.assert_close(p_rank, p_single.detach(), rtol=1e-10, atol=1e-12)
print("both ranks: all-reduced half-batch gradients == full-batch gradient")
print("both ranks: DDP parameters after 3 steps == single-process SGD")

# %% [markdown]
# Data parallelism only splits the *batch*. When the model itself does not fit on one device,
# the same collective operations split the *parameters* instead: ZeRO/FSDP shard parameters,
# gradients and optimizer state across ranks and all-gather them when needed; tensor
# parallelism splits each matrix multiplication; pipeline parallelism gives each device a
# range of layers. All of them are built on the `all_reduce`, `all_gather` and
# `reduce_scatter` you just used.
#
# ## 5. Checkpoint and resume
#
# Long runs get interrupted: preempted machines, crashed nodes, a bug found at step 40,000.
# A checkpoint must hold **everything** that determines the future of the run:
#
# - the model parameters,
# - the optimizer state (Adam's moment estimates: without them the first steps after resuming
#   are wrong),
# - the learning-rate scheduler state,
# - the random-number generator state (dropout masks and batch sampling), and
# - the step counter.
#
# We train with dropout and a cosine learning-rate schedule, so all of these matter.

# %%
TOTAL_STEPS, RESUME_AT = 300, 150


Scheduler = torch.optim.lr_scheduler.LRScheduler


def make_run(seed: int) -> tuple[nn.Module, torch.optim.Optimizer, Scheduler]:
    """Model, optimizer and schedule, initialised from a seed."""
    torch.manual_seed(seed)
    model = make_model(dropout=0.1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=TOTAL_STEPS)
    return model, optimizer, scheduler


def train_steps(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Scheduler,
    first_step: int,
    last_step: int,
) -> list[float]:
    """Steps [first_step, last_step); batches and dropout draw from torch's global RNG."""
    losses = []
    model.train()
    for _ in range(first_step, last_step):
        x, y = sample_batch(64)
        loss = lm_loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    return losses


def save_checkpoint(
    model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Scheduler, step: int
) -> bytes:
    """Everything that determines the rest of the run, serialised."""
    buffer = io.BytesIO()  # a file on disk in real life; written atomically (tmp file + rename)
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "step": step,
        },
        buffer,
    )
    return buffer.getvalue()


# The reference: one uninterrupted run.
model_a, optimizer_a, scheduler_a = make_run(seed=7)
torch.manual_seed(100)
uninterrupted = train_steps(model_a, optimizer_a, scheduler_a, 0, TOTAL_STEPS)

# The interrupted run: same start, checkpoint at RESUME_AT, then a "crash".
model_b, optimizer_b, scheduler_b = make_run(seed=7)
torch.manual_seed(100)
first_half = train_steps(model_b, optimizer_b, scheduler_b, 0, RESUME_AT)
blob = save_checkpoint(model_b, optimizer_b, scheduler_b, RESUME_AT)
del model_b, optimizer_b, scheduler_b

# A new process would start from scratch: other weights, another RNG state.
model_c, optimizer_c, scheduler_c = make_run(seed=12345)
state = torch.load(io.BytesIO(blob))
model_c.load_state_dict(state["model"])
optimizer_c.load_state_dict(state["optimizer"])
scheduler_c.load_state_dict(state["scheduler"])
torch.set_rng_state(state["torch_rng"])
resumed = first_half + train_steps(model_c, optimizer_c, scheduler_c, state["step"], TOTAL_STEPS)

torch.testing.assert_close(torch.tensor(resumed), torch.tensor(uninterrupted), rtol=1e-6, atol=1e-6)
for p_resumed, p_reference in zip(model_c.parameters(), model_a.parameters(), strict=True):
    torch.testing.assert_close(p_resumed, p_reference, rtol=1e-6, atol=1e-6)
print(f"checkpoint size {len(blob) / 1024:.0f} KiB; resumed run == uninterrupted run, step for step")

# %% [markdown]
# What if the checkpoint forgot the RNG state (a common omission)? The weights and optimizer
# are right, but from step 150 on the run sees different batches and different dropout masks.
# It still trains, yet it is a *different* run, so a bug can no longer be reproduced and a
# comparison between two runs is no longer like for like.

# %%
model_d, optimizer_d, scheduler_d = make_run(seed=12345)
model_d.load_state_dict(state["model"])
optimizer_d.load_state_dict(state["optimizer"])
scheduler_d.load_state_dict(state["scheduler"])
torch.manual_seed(999)  # whatever state the new process happens to have
forgot_rng = first_half + train_steps(model_d, optimizer_d, scheduler_d, RESUME_AT, TOTAL_STEPS)
divergence = np.abs(np.array(forgot_rng) - np.array(uninterrupted))[RESUME_AT:].max()
assert divergence > 1e-3, "without the RNG state the resumed run follows another trajectory"
print(f"without RNG state: losses differ by up to {divergence:.2f} nats after step {RESUME_AT}")


def smooth(values: list[float], width: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Trailing moving average (steps, values), so noisy mini-batch losses compare by eye."""
    averaged = np.convolve(values, np.ones(width) / width, mode="valid")
    return np.arange(width - 1, len(values)), averaged


fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(*smooth(uninterrupted), label="uninterrupted", linewidth=3, alpha=0.5)
ax.plot(*smooth(resumed), "--", label="resumed from checkpoint")
ax.plot(*smooth(forgot_rng), ":", label="resumed, RNG state not saved")
ax.axvline(RESUME_AT, color="gray", linewidth=0.8)
ax.text(RESUME_AT + 3, ax.get_ylim()[1] * 0.95, "resume", color="gray", va="top")
ax.set_xlabel("step")
ax.set_ylabel("training loss (10-step moving average)")
ax.set_title("A complete checkpoint continues the run exactly")
ax.legend()
plt.show()

# %% [markdown]
# The dashed curve sits exactly on the thick one; the dotted curve departs at the resume
# line. For multi-process jobs each rank saves its own RNG state (and, with sharded
# optimizers, its own shard), and the data loader's position must be saved too.
#
# ## What to try next
#
# 1. Accumulate over 8 micro-batches with gradient clipping (`clip_grad_norm_`) and check
#    that clipping must happen *after* the last micro-batch, not per micro-batch.
# 2. Run the autocast comparison with `dtype=torch.float16` (on CPU this works too) and
#    multiply the loss by $10^{-6}$: which gradients underflow to zero, and how does
#    `torch.amp.GradScaler` fix it?
# 3. Checkpoint only every second block of the stack and measure memory and forward calls
#    again. Where is the best trade for a fixed memory budget?
# 4. Change the worker to `world_size=4` (each rank gets a quarter of the batch) and check the
#    DDP result still matches; then add a `torch.distributed.all_gather` that collects every
#    rank's loss.
