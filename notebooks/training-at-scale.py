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
# Large language models are trained on thousands of accelerators for weeks. Two kinds
# of knowledge make that possible: **scaling laws**, which say how loss falls with
# parameters and data and so how to spend a compute budget, and a handful of **exact
# tricks** that change a training loop without changing what it computes. Both can be
# seen on a CPU with the path's own GPT (`pathgpt`) at tiny sizes, and each trick is
# asserted to compute what it claims.
#
# **What you will build and check**
#
# 1. **Scaling**: loss against parameters and against tokens for four tiny GPTs on the
#    standard library, with power laws fitted (and an honest word on how little a
#    narrow range proves).
# 2. **The arithmetic of a 7B model**: FLOPs (the $6ND$ rule, checked against
#    PyTorch's FLOP counter on our model), Chinchilla's tokens, memory for weights,
#    gradients and Adam states in mixed precision, and days on a stated GPU.
# 3. **Gradient accumulation**, equal and unequal micro-batches, exact to $10^{-12}$.
# 4. **Mixed precision** with `torch.autocast` and `bfloat16`.
# 5. **Activation checkpointing**: saved activations measured, gradients unchanged.
# 6. **Data parallelism** over two real processes (`torch.distributed`, gloo on the
#    loopback interface): a hand-written all-reduce and `DistributedDataParallel`.
# 7. **Checkpoint and resume**, continuing the run bit for bit.

# %%
# The path's own GPT lives in the pathgpt package beside the notebooks; run alone (as in Colab), fetch it.
try:
    import pathgpt
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            file = member.partition("/notebooks/pathgpt/")[2]
            if file.endswith(".py") and "/" not in file:
                pathlib.Path("pathgpt").mkdir(exist_ok=True)
                pathlib.Path("pathgpt", file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import pathgpt

# %%
import copy
import dataclasses
import io
import math
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from pathgpt import GPT, GPTConfig, TrainConfig, learning_rate, load_pretrained, load_tokens, make_optimizer, sample_batch, train
from torch.utils.checkpoint import checkpoint
from torch.utils.flop_counter import FlopCounterMode

THREADS = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
torch.set_num_threads(THREADS)
torch.manual_seed(0)
started_cpu = time.process_time()

pretrained, tokenizer = load_pretrained()
train_tokens, validation_tokens = load_tokens("train"), load_tokens("validation")
V = tokenizer.vocab_size
print(f"{len(train_tokens):,d} training tokens of the standard library, vocabulary {V}, {THREADS} thread(s)")

# %% [markdown]
# ## 1. Scaling: loss against parameters and tokens
#
# Kaplan et al. (2020) found that a language model's loss falls as a power law in its
# non-embedding parameters $N$ and in the tokens $D$ it trains on, each over many
# orders of magnitude; Hoffmann et al. (2022, "Chinchilla") fitted
# $L(N, D) = E + A/N^{\alpha} + B/D^{\beta}$ and concluded that compute is best spent
# on about 20 tokens per parameter. We train four widths of a two-block modern GPT
# (context 64) on the same batches, evaluating the validation loss as they go, so each
# run gives a curve in $D$ and the final points a curve in $N$.

# %%
WIDTHS, SCALE_CONTEXT = (8, 16, 32, 64), 64
scale_config = TrainConfig(steps=250, batch_size=16, lr=1e-2, min_lr=1e-3, warmup_steps=25, eval_every=25, eval_windows=32)
scaling = {}
started = time.process_time()
for width in WIDTHS:
    torch.manual_seed(0)
    model = GPT(GPTConfig.modern(V, context=SCALE_CONTEXT, d_model=width, n_layers=2, n_heads=4))
    history = train(model, train_tokens, validation_tokens, scale_config)
    scaling[width] = (model.num_parameters(non_embedding=True), history)
print(f"{len(WIDTHS)} models trained in {time.process_time() - started:.0f} s of CPU")
for width, (n, history) in scaling.items():
    print(f"d_model {width:3d}: {n:7,d} non-embedding parameters, validation loss {history.validation_loss[-1]:.3f} after {history.eval_tokens[-1]:,d} tokens")

# %% [markdown]
# A power law $L = a\,x^{-\alpha}$ is a straight line on log-log axes,
# $\log L = \log a - \alpha \log x$, so an ordinary least-squares line through the
# logarithms fits it; NumPy's `lstsq` is the independent check of our closed form.


# %%
def power_law(x: np.ndarray, loss: np.ndarray) -> tuple[float, float]:
    """(a, alpha) of the least-squares line log L = log a - alpha log x."""
    lx, ly = np.log(x), np.log(loss)
    slope = ((lx - lx.mean()) * (ly - ly.mean())).sum() / ((lx - lx.mean()) ** 2).sum()
    return float(math.exp(ly.mean() - slope * lx.mean())), float(-slope)


params = np.array([n for n, _ in scaling.values()], dtype=float)
final_loss = np.array([h.validation_loss[-1] for _, h in scaling.values()])
a_n, alpha_n = power_law(params, final_loss)
design = np.stack([np.ones_like(params), np.log(params)], axis=1)
check = np.linalg.lstsq(design, np.log(final_loss), rcond=None)[0]
assert math.isclose(-check[1], alpha_n, rel_tol=1e-9) and math.isclose(math.exp(check[0]), a_n, rel_tol=1e-9)

token_fits = {}
for width, (n, history) in scaling.items():
    tokens_seen = np.array(history.eval_tokens[1:], dtype=float)  # the first evaluation is still in the warmup
    losses = np.array(history.validation_loss[1:])
    a_d, alpha_d = power_law(tokens_seen, losses)
    residual = np.log(losses) - np.log(a_d * tokens_seen**-alpha_d)
    r_squared = 1 - (residual**2).sum() / ((np.log(losses) - np.log(losses).mean()) ** 2).sum()
    token_fits[width] = (a_d, alpha_d, r_squared)
    print(f"d_model {width:3d}: L = {a_d:.2f} D^-{alpha_d:.3f} over D = {tokens_seen.min():,.0f} .. {tokens_seen.max():,.0f} (R^2 of the log-log fit {r_squared:.3f})")
print(f"loss against parameters at {scaling[WIDTHS[0]][1].eval_tokens[-1]:,d} tokens: L = {a_n:.2f} N^-{alpha_n:.3f} over N = {params.min():,.0f} .. {params.max():,.0f} (x{params.max() / params.min():.0f})")
print("Kaplan et al. report alpha_N = 0.076 and alpha_D = 0.095, each over about seven orders of magnitude")
assert all(alpha > 0 and r2 > 0.9 for _, alpha, r2 in token_fits.values()), "every model's loss falls with tokens like a power law"
assert (np.diff(final_loss) < 0).all() and alpha_n > 0, "at equal tokens, every wider model ends lower"

fig, (ax_n, ax_d) = plt.subplots(1, 2, figsize=(11, 3.8))
ax_n.loglog(params, final_loss, "o", label=f"validation loss after {scale_config.steps} steps")
ax_n.loglog(params, a_n * params**-alpha_n, "--", label=rf"fit $L = {a_n:.1f}\,N^{{-{alpha_n:.2f}}}$")
ax_n.set(xlabel="non-embedding parameters N", ylabel="validation loss (nats)", title="Loss against parameters")
ax_n.legend(fontsize=8)
for width, (n, history) in scaling.items():
    ax_d.loglog(history.eval_tokens, history.validation_loss, "o-", ms=3, label=f"d_model {width} ({n:,d} parameters)")
ax_d.set(xlabel="training tokens D", ylabel="validation loss (nats)", title="Loss against tokens")
ax_d.legend(fontsize=7)
plt.tight_layout()
plt.show()

# %% [markdown]
# What the fits say, and what they do not. At equal tokens each wider model ends
# lower, and every model's validation loss falls close to a straight line on log-log
# axes once the warmup is over, so a power law describes both directions over the
# small range we can afford. The fitted exponents are not Kaplan's: ours span a factor
# of about 50 in parameters and 5 in tokens, at losses far from convergence, where the
# curves still bend (the larger models fall faster late in training, so the
# loss-against-parameters exponent depends on when we stop). Two points of method
# matter more than the numbers: compare models at equal tokens (or equal compute),
# each at a learning rate that suits it, and fit $L(N, D)$ jointly over orders of
# magnitude before extrapolating; a factor of ten, as here, shows the shape, not the
# law.
#
# ## 2. The arithmetic of a 7B model
#
# **FLOPs.** A forward pass multiplies every weight once per token (2 FLOPs: a multiply
# and an add); the backward pass does it twice (gradients with respect to the inputs
# and to the weights). So training costs about $6N$ FLOPs per token, $6ND$ in all.
# PyTorch's `FlopCounterMode` counts the matrix multiplications of one training step of
# our pretrained model; it should find exactly 6 FLOPs per weight per token. Attention's
# own products (scores and weighted values, $12\,L\,T\,d$ per token by Kaplan et al.'s
# count) come on top; the counter does not see them inside the fused kernel, and we
# print how much they add.

# %%
counted_model = copy.deepcopy(pretrained).train()
x, y = sample_batch(train_tokens, 2, 256, torch.Generator().manual_seed(0))
with FlopCounterMode(display=False) as counter:
    _, loss = counted_model(x, y)
    loss.backward()
c = counted_model.config
matmul_weights = sum(m.weight.numel() for m in counted_model.modules() if isinstance(m, torch.nn.Linear))
per_token = counter.get_total_flops() / x.numel()
attention_extra = 12 * c.n_layers * c.context * c.d_model
print(f"counted {per_token:,.0f} FLOPs per token = {per_token / matmul_weights:.3f} x {matmul_weights:,d} weights in linear layers (the head tied to the embedding included)")
print(f"attention scores and values would add {attention_extra:,d} per token at context {c.context} ({attention_extra / per_token:.0%})")
assert per_token == 6 * matmul_weights

# %% [markdown]
# Now a 7-billion-parameter model, with every assumption printed. Mixed-precision
# training with Adam keeps, per parameter: the bf16 weights used in the forward and
# backward passes (2 bytes), bf16 gradients (2), an fp32 master copy of the weights (4)
# and Adam's two fp32 moments (8): 16 bytes, the accounting of the ZeRO paper
# (Rajbhandari et al., 2020). Activations come on top and depend on batch, sequence
# length and checkpointing.

# %%
N_7B = 7e9
TOKENS_PER_PARAMETER = 20  # Chinchilla's compute-optimal ratio
BYTES = {"bf16 weights": 2, "bf16 gradients": 2, "fp32 master weights": 4, "Adam first moment (fp32)": 4, "Adam second moment (fp32)": 4}
GPU, PEAK_FLOPS, UTILISATION, GPU_MEMORY = "H100 SXM", 989e12, 0.40, 80e9  # dense bf16 peak, model FLOPs utilisation, bytes
L_7B, D_7B, T_7B = 32, 4096, 4096  # Llama-2-7B's layers, width and context


def chinchilla_plan(n_params: float) -> dict[str, float]:
    tokens = TOKENS_PER_PARAMETER * n_params
    flops = 6 * n_params * tokens
    gpu_seconds = flops / (PEAK_FLOPS * UTILISATION)
    return {"tokens": tokens, "flops": flops, "gpu_days": gpu_seconds / 86400, "memory": sum(BYTES.values()) * n_params}


plan = chinchilla_plan(N_7B)
print(f"assumptions: N = {N_7B:.0e} parameters, {TOKENS_PER_PARAMETER} tokens per parameter, {GPU} at {PEAK_FLOPS / 1e12:.0f} TFLOP/s bf16 dense, {UTILISATION:.0%} utilisation")
print(f"tokens D = 20 N = {plan['tokens']:.2e}; FLOPs = 6 N D = {plan['flops']:.2e}")
for name, size in BYTES.items():
    print(f"  {name:28s} {size} bytes x N = {size * N_7B / 1e9:5.0f} GB")
print(f"  {'total (activations extra)':28s} {sum(BYTES.values())} bytes x N = {plan['memory'] / 1e9:5.0f} GB: at least {math.ceil(plan['memory'] / GPU_MEMORY)} GPUs of 80 GB, or ZeRO/FSDP sharding")
print(f"time: {plan['gpu_days']:,.0f} GPU-days, i.e. {plan['gpu_days'] / 256:.1f} days on 256 GPUs (if utilisation held at scale)")
print(f"attention's extra 12 L T d per token at {T_7B} tokens of context: {12 * L_7B * T_7B * D_7B / (6 * N_7B):.0%} more than 6 N")
assert math.isclose(plan["flops"], 6 * 20 * N_7B**2) and math.isclose(plan["memory"], 112e9)
assert 150 < plan["gpu_days"] < 200

# %% [markdown]
# Llama 2 7B was trained on 2 trillion tokens, about 290 per parameter, far past
# Chinchilla's optimum: a model that will serve billions of requests is cheaper
# overall if it is smaller and trained longer, since inference, not training, then
# dominates the bill. Llama 3 8B went to 15 trillion.
#
# ## 3. Gradient accumulation
#
# The batch that trains an LLM well (millions of tokens) does not fit in one device's
# memory. Gradient accumulation runs several micro-batches forward and backward in
# turn, lets `.backward()` **add** their gradients into `.grad`, and steps once. The
# loss is a *mean* over tokens, so each micro-batch loss must be weighted by its share
# of the tokens:
#
# $$\nabla \frac{1}{N}\sum_{i=1}^{N}\ell_i \;=\; \sum_{k} \frac{n_k}{N}\,\nabla\Big(\frac{1}{n_k}\sum_{i\in k}\ell_i\Big),$$
#
# where micro-batch $k$ holds $n_k$ of the $N$ tokens; for equal micro-batches the
# weight is $1/K$. In `float64` "equal" can be checked to 12 digits.

# %%
small = GPTConfig.modern(V, context=32, d_model=32, n_layers=2, n_heads=4)
torch.manual_seed(1)
base64 = GPT(small).double()
x_big, y_big = sample_batch(train_tokens, 8, 32, torch.Generator().manual_seed(1))


def gradients_of(model: GPT) -> list[torch.Tensor]:
    return [p.grad.clone() for p in model.parameters()]


def accumulated(micro_batches, weights) -> list[torch.Tensor]:
    model = copy.deepcopy(base64)
    for (x, y), weight in zip(micro_batches, weights, strict=True):
        (weight * model(x, y)[1]).backward()
    return gradients_of(model)


full = copy.deepcopy(base64)
full(x_big, y_big)[1].backward()
reference = gradients_of(full)
four = list(zip(x_big.chunk(4), y_big.chunk(4), strict=True))
uneven = [(x_big[:5], y_big[:5]), (x_big[5:], y_big[5:])]
for got, want in zip(accumulated(four, [1 / 4] * 4), reference, strict=True):
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
for got, want in zip(accumulated(uneven, [5 / 8, 3 / 8]), reference, strict=True):
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
naive_error = max((g - r).abs().max().item() for g, r in zip(accumulated(uneven, [1 / 2, 1 / 2]), reference, strict=True))
assert naive_error > 1e-6
print("4 micro-batches weighted 1/4, and 5 + 3 windows weighted 5/8 and 3/8: the full batch's gradient to 1e-12")
print(f"weighting the uneven micro-batches 1/2 each: off by up to {naive_error:.1e}")

# %% [markdown]
# With padding or instruction masks (targets `-100`) micro-batches hold different
# numbers of *counted* tokens even when they hold the same number of sequences; the
# weights must then count the tokens that are learned. Forgetting the weights is a
# silent bug: with SGD the step is $K$ times too large; Adam divides most of the scale
# away, but gradient clipping and weight decay do not.
#
# ## 4. Mixed precision: `bfloat16` under `torch.autocast`
#
# A float spends bits on an **exponent** (the range) and a **mantissa** (the
# precision). `float16` has 5 and 10; `bfloat16` keeps all 8 exponent bits of `float32`
# and only 7 mantissa bits: coarse (2-3 significant digits) but with `float32`'s range,
# which is why large models train in it without the loss scaling `float16` needs.

# %%
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):15} max={info.max:9.3e}  eps={info.eps:9.3e}  smallest normal={info.tiny:9.3e}")
assert torch.isinf(torch.tensor(70_000.0).to(torch.float16)) and torch.isfinite(torch.tensor(70_000.0).to(torch.bfloat16))
assert torch.tensor(1.001).to(torch.bfloat16).item() == 1.0 and torch.tensor(1.001).to(torch.float16).item() != 1.0

# %% [markdown]
# `torch.autocast` does not convert the model: parameters stay `float32` ("master
# weights"), and inside the context each operation runs in the type that suits it:
# matrix multiplications (`nn.Linear`) in `bfloat16`, precision-sensitive reductions
# such as the cross-entropy in `float32`. Forward hooks record what each layer returns.

# %%
torch.manual_seed(2)
mixed = GPT(small)
seen_types: dict[str, torch.dtype] = {}


def record_type(name: str):
    def hook(module, args, output) -> None:  # returning None keeps the output unchanged
        seen_types[name] = output.dtype

    return hook


watched = ("token_embedding", "blocks.0.attn_norm", "blocks.0.attn.qkv", "blocks.0.mlp.down", "head")
hooks = [module.register_forward_hook(record_type(name)) for name, module in mixed.named_modules() if name in watched]
with torch.autocast("cpu", dtype=torch.bfloat16):
    logits_bf16, loss_bf16 = mixed(x_big, y_big)
for hook in hooks:
    hook.remove()
print({name: str(dtype).replace("torch.", "") for name, dtype in seen_types.items()}, "| loss:", loss_bf16.dtype)
assert seen_types["blocks.0.attn.qkv"] == seen_types["head"] == torch.bfloat16 and loss_bf16.dtype == torch.float32
assert seen_types["token_embedding"] == torch.float32 and all(p.dtype == torch.float32 for p in mixed.parameters())

with torch.no_grad():
    logits32, loss32 = mixed(x_big, y_big)
print(f"bf16 forward: logits off by {(logits_bf16.float() - logits32).abs().max() / logits32.abs().max():.2%} of their scale, loss by {abs(loss_bf16.item() - loss32.item()) / loss32.item():.3%}")
assert abs(loss_bf16.item() - loss32.item()) < 0.01 * loss32.item()

# %% [markdown]
# Does it still train? The same model from the same start takes the same 80 AdamW steps
# on the same batches, in `float32` and under autocast; gradients land in the `float32`
# parameters, so the update itself is full precision.


# %%
def train_steps(model: GPT, steps: int, autocast: bool, seed: int = 3) -> list[float]:
    generator = torch.Generator().manual_seed(seed)
    optimizer = make_optimizer(model, 1e-2, weight_decay=0.1)
    losses = []
    for _ in range(steps):
        x, y = sample_batch(train_tokens, 8, 32, generator)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


losses32 = train_steps(copy.deepcopy(mixed), 80, autocast=False)
losses16 = train_steps(copy.deepcopy(mixed), 80, autocast=True)
end32, end16 = np.mean(losses32[-20:]), np.mean(losses16[-20:])
print(f"first loss {losses32[0]:.3f}; mean loss over the last 20 steps: float32 {end32:.3f}, bfloat16 autocast {end16:.3f}")
assert end32 < losses32[0] - 0.5 and end16 < losses16[0] - 0.5, "both train"
assert abs(end16 - end32) < 0.05 * end32, "bf16 training tracks float32 within 5%"

# %% [markdown]
# (With `float16` you would also need `torch.amp.GradScaler`, which multiplies the
# loss by a large factor before `backward` so small gradients do not underflow, and
# divides it out before the step. `bfloat16` does not: its range is `float32`'s.)
#
# ## 5. Activation checkpointing
#
# Backpropagation needs the intermediate activations of the forward pass; for a
# transformer they grow with batch x sequence x width x layers and are what usually
# runs out of memory. **Activation checkpointing** keeps only each block's input and
# recomputes the inside during the backward pass: less memory, about one extra
# forward of compute. We run the blocks of a GPT plainly and through
# `torch.utils.checkpoint.checkpoint`, count the bytes autograd saves with a
# `saved_tensors_hooks` pair (parameters excluded: they are in memory anyway), and
# count the blocks' forward calls.


# %%
def saved_bytes_and_calls(model: GPT, x: torch.Tensor, use_checkpoint: bool) -> tuple[int, int]:
    parameters = {p.data_ptr() for p in model.parameters()}
    saved, calls = 0, []
    hooks = [block.register_forward_pre_hook(lambda *_: calls.append(1)) for block in model.blocks]

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        if tensor.data_ptr() not in parameters:
            saved += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        h = model.embed(x)
        rope = (model.rope_cos, model.rope_sin)
        for block in model.blocks:
            h = checkpoint(block, h, rope, use_reentrant=False) if use_checkpoint else block(h, rope)
        loss = F.cross_entropy(model.head(model.norm(h)).flatten(0, 1), x.flatten())
    loss.backward()
    for hook in hooks:
        hook.remove()
    return saved, len(calls)


torch.manual_seed(5)
deep = GPT(GPTConfig.modern(V, context=128, d_model=64, n_layers=6, n_heads=4)).double()
x_deep = sample_batch(train_tokens, 4, 128, torch.Generator().manual_seed(5))[0]
plain, ckpt = copy.deepcopy(deep), copy.deepcopy(deep)
plain_bytes, plain_calls = saved_bytes_and_calls(plain, x_deep, use_checkpoint=False)
ckpt_bytes, ckpt_calls = saved_bytes_and_calls(ckpt, x_deep, use_checkpoint=True)
for p_plain, p_ckpt in zip(plain.parameters(), ckpt.parameters(), strict=True):
    torch.testing.assert_close(p_ckpt.grad, p_plain.grad, rtol=1e-12, atol=1e-12)
print(f"saved for backward: plain {plain_bytes / 2**20:.1f} MiB, checkpointed {ckpt_bytes / 2**20:.1f} MiB; block forwards {plain_calls} and {ckpt_calls}")
assert plain_calls == 6 and ckpt_calls == 12, "each checkpointed block runs forward twice"
assert ckpt_bytes < plain_bytes / 3

# %% [markdown]
# Same gradients to $10^{-12}$, a fraction of the stored activations, twice the block
# forwards. What remains is each block's input and what the embedding and the head
# keep; real systems choose which blocks to checkpoint to fit the memory they have.
#
# ## 6. Data parallelism with `torch.distributed`
#
# In **data parallelism** every worker (rank) holds a full copy of the model and
# processes its own slice of the batch. After `backward` the ranks **all-reduce** their
# gradients (sum, then divide by the number of ranks), so each holds the full batch's
# gradient, takes the same step, and the copies never drift apart: gradient
# accumulation across machines instead of across time.
#
# We run it for real: two Python processes connected by the `gloo` backend on the
# loopback interface (127.0.0.1). The worker is a small script in a temporary folder
# (a function defined in a notebook cannot be sent to a spawned process); it imports
# `pathgpt` like this notebook, and gets the model's configuration, weights and batches
# through a file. Each rank computes the gradient of its half of one batch, averaged
# with a hand-written `all_reduce`, then three SGD steps with `DistributedDataParallel`,
# which does the same all-reduce inside `backward` (in buckets, overlapped with it).

# %%
WORKER_SOURCE = textwrap.dedent(
    '''
    """One data-parallel rank: python worker.py RANK WORLD_SIZE WORKDIR."""
    import datetime
    import sys

    import torch
    import torch.distributed as dist
    from pathgpt import GPT, GPTConfig
    from torch.nn.parallel import DistributedDataParallel


    def fresh(payload):
        model = GPT(GPTConfig.from_dict(payload["config"])).double()
        model.load_state_dict(payload["state"])
        return model


    def main(rank, world_size, workdir):
        torch.set_num_threads(1)
        dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world_size,
                                timeout=datetime.timedelta(seconds=60))
        payload = torch.load(f"{workdir}/payload.pt")
        model = fresh(payload)
        x, y = payload["batches"][0]
        model(x.chunk(world_size)[rank], y.chunk(world_size)[rank])[1].backward()
        for parameter in model.parameters():
            dist.all_reduce(parameter.grad, op=dist.ReduceOp.SUM)
            parameter.grad /= world_size
        ddp = DistributedDataParallel(fresh(payload))
        optimizer = torch.optim.SGD(ddp.parameters(), lr=payload["lr"])
        for x, y in payload["batches"]:
            optimizer.zero_grad()
            ddp(x.chunk(world_size)[rank], y.chunk(world_size)[rank])[1].backward()
            optimizer.step()
        torch.save({"gradients": [p.grad for p in model.parameters()],
                    "parameters": [p.detach() for p in ddp.module.parameters()]}, f"{workdir}/rank{rank}.pt")
        dist.destroy_process_group()


    if __name__ == "__main__":
        main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
    '''
)


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch_ranks(workdir: Path, world_size: int, timeout_s: float = 120.0) -> list[dict]:
    """Run world_size worker processes; kill any still running at the deadline."""
    script = workdir / "worker.py"
    script.write_text(WORKER_SOURCE)
    package_parent = str(Path(pathgpt.__file__).resolve().parent.parent)
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_loopback_port()), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join(p for p in (package_parent, os.environ.get("PYTHONPATH", "")) if p))
    if sys.platform.startswith("linux"):
        env["GLOO_SOCKET_IFNAME"] = "lo"  # keep gloo's traffic on the loopback interface
    processes = [subprocess.Popen([sys.executable, str(script), str(rank), str(world_size), str(workdir)], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(world_size)]
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
dp_model = GPT(small).double()
dp_batches = [sample_batch(train_tokens, 8, 32, torch.Generator().manual_seed(60 + i)) for i in range(3)]
LR = 0.5
start = time.perf_counter()
with tempfile.TemporaryDirectory() as tmp:
    torch.save({"config": small.to_dict(), "state": dp_model.state_dict(), "batches": dp_batches, "lr": LR}, Path(tmp) / "payload.pt")
    rank_results = launch_ranks(Path(tmp), world_size=2)
print(f"two gloo ranks finished in {time.perf_counter() - start:.1f} s")

single = copy.deepcopy(dp_model)
single(*dp_batches[0])[1].backward()
single_gradients = gradients_of(single)
single = copy.deepcopy(dp_model)
optimizer = torch.optim.SGD(single.parameters(), lr=LR)
for x, y in dp_batches:
    optimizer.zero_grad()
    single(x, y)[1].backward()
    optimizer.step()
for result in rank_results:
    for g_rank, g_single in zip(result["gradients"], single_gradients, strict=True):
        torch.testing.assert_close(g_rank, g_single, rtol=1e-12, atol=1e-12)
    for p_rank, p_single in zip(result["parameters"], single.parameters(), strict=True):
        torch.testing.assert_close(p_rank, p_single.detach(), rtol=1e-10, atol=1e-12)
print("both ranks: all-reduced half-batch gradients == the full batch's; DDP's parameters after 3 steps == one process's SGD")

# %% [markdown]
# (The tied head and embedding are one parameter, so DDP reduces their gradient once.)
# Data parallelism splits only the *batch*. When the model does not fit on one device
# the same collectives split the *parameters*: ZeRO and FSDP shard parameters,
# gradients and optimizer state across ranks and all-gather them when needed (the
# 112 GB of section 2 spread over the ranks); tensor parallelism splits each matrix
# multiplication; pipeline parallelism gives each device a range of layers. All are
# built on the `all_reduce`, `all_gather` and `reduce_scatter` used here.
#
# ## 7. Checkpoint and resume
#
# Long runs get interrupted: preempted machines, crashed nodes, a bug found at step
# 40,000. A checkpoint must hold **everything** that decides the rest of the run: the
# weights, the optimizer state (AdamW's moments: without them the first steps after
# resuming are wrong), the step (the warmup-cosine schedule is a function of it) and
# the random-number generators (dropout masks and the order of the batches). We train
# a small GPT with dropout, interrupt it, resume in fresh objects, and compare with
# the run that was never interrupted: on the same machine and thread count every
# operation repeats exactly, so the resumed run must match **bit for bit**.

# %%
RESUME_CONFIG = dataclasses.replace(small, dropout=0.1)
TOTAL, RESUME_AT = 120, 40
SCHEDULE = TrainConfig(steps=TOTAL, lr=1e-2, min_lr=1e-3, warmup_steps=10)


def make_run(seed: int) -> tuple[GPT, torch.optim.Optimizer, torch.Generator]:
    torch.manual_seed(seed)
    model = GPT(RESUME_CONFIG)
    return model, make_optimizer(model, SCHEDULE.lr, weight_decay=0.1), torch.Generator().manual_seed(seed + 100)


def run_steps(model: GPT, optimizer: torch.optim.Optimizer, batches: torch.Generator, first: int, last: int) -> list[float]:
    """Steps [first, last): batches from `batches`, dropout from torch's global generator."""
    losses = []
    model.train()
    for step in range(first, last):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, SCHEDULE)
        _, loss = model(*sample_batch(train_tokens, 8, 32, batches))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def save_checkpoint(model, optimizer, batches, step) -> bytes:
    buffer = io.BytesIO()  # a file in real life, written atomically (a temporary file, then a rename)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                "torch_rng": torch.get_rng_state(), "batch_rng": batches.get_state()}, buffer)
    return buffer.getvalue()


model_a, optimizer_a, batches_a = make_run(seed=7)
uninterrupted = run_steps(model_a, optimizer_a, batches_a, 0, TOTAL)

model_b, optimizer_b, batches_b = make_run(seed=7)
first_half = run_steps(model_b, optimizer_b, batches_b, 0, RESUME_AT)
blob = save_checkpoint(model_b, optimizer_b, batches_b, RESUME_AT)
del model_b, optimizer_b, batches_b  # the "crash"

model_c, optimizer_c, batches_c = make_run(seed=12345)  # a new process: other weights, other generators
state = torch.load(io.BytesIO(blob))
model_c.load_state_dict(state["model"])
optimizer_c.load_state_dict(state["optimizer"])
torch.set_rng_state(state["torch_rng"])
batches_c.set_state(state["batch_rng"])
resumed = first_half + run_steps(model_c, optimizer_c, batches_c, state["step"], TOTAL)
assert resumed == uninterrupted, "every loss, bit for bit"
assert all(torch.equal(p, q) for p, q in zip(model_c.parameters(), model_a.parameters(), strict=True)), "every weight, bit for bit"
print(f"checkpoint {len(blob) / 1024:.0f} KiB; the resumed run equals the uninterrupted one bit for bit, losses and weights, over {TOTAL - RESUME_AT} steps")

broken = {}
for missing in ("optimizer", "torch_rng", "batch_rng"):
    model_d, optimizer_d, batches_d = make_run(seed=12345)
    model_d.load_state_dict(state["model"])
    if missing != "optimizer":
        optimizer_d.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["torch_rng"] if missing != "torch_rng" else torch.manual_seed(999).get_state())
    if missing != "batch_rng":
        batches_d.set_state(state["batch_rng"])
    broken[missing] = first_half + run_steps(model_d, optimizer_d, batches_d, RESUME_AT, TOTAL)
    gap = max(abs(a - b) for a, b in zip(broken[missing], uninterrupted, strict=True))
    print(f"without the {missing.replace('_', ' ')}: losses differ by up to {gap:.3f} nats after step {RESUME_AT}")
    assert gap > 1e-4

fig, ax = plt.subplots(figsize=(6.5, 3.8))
ax.plot(uninterrupted, lw=3, alpha=0.4, label="uninterrupted")
ax.plot(resumed, "--", label="resumed from the checkpoint")
for missing, losses in broken.items():
    ax.plot(range(RESUME_AT, TOTAL), losses[RESUME_AT:], ":", label=f"resumed without the {missing.replace('_', ' ')}")
ax.axvline(RESUME_AT, color="gray", lw=0.8)
ax.set(xlabel="step", ylabel="training loss", title="A complete checkpoint continues the same run")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# Bit-for-bit equality holds here because one process on one machine repeats the same
# operations in the same order. Across a different number of threads, another CPU or a
# GPU's non-deterministic kernels the sums are ordered differently and a resumed run
# matches only to rounding, which is why multi-GPU jobs compare resumed runs with a
# tolerance (and save each rank's generators, its optimizer shard and the data
# loader's position).
#
# **With more compute** a learner would fit the scaling law over three or more orders
# of magnitude (and both $N$ and $D$ at once, as Chinchilla did), train in bf16 on a
# GPU, and run FSDP over several devices.
#
# ## What to try next
#
# 1. **Training memory.** Write `my_training_bytes(n_params)`: the bytes of weights,
#    gradients and Adam states under this notebook's mixed-precision accounting.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_training_bytes(n_params):
#     return (2 + 2 + 4 + 4 + 4) * n_params
# ```
#
# bf16 weights and gradients, an fp32 master copy, two fp32 Adam moments: 16 bytes.
# </details>
#
# 2. **Chinchilla's budget.** Write `my_chinchilla(n_params)` returning
#    `(tokens, flops)` at 20 tokens per parameter and 6 FLOPs per parameter per token.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_chinchilla(n_params):
#     tokens = 20 * n_params
#     return tokens, 6 * n_params * tokens
# ```
# </details>
#
# 3. **Accumulation weights.** Write `my_accumulation_weights(counted_tokens)`: the
#    weight of each micro-batch's mean loss, given how many tokens each one counts.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_accumulation_weights(counted_tokens):
#     total = sum(counted_tokens)
#     return [n / total for n in counted_tokens]
# ```
# </details>
#
# 4. Without a check: add a width of 128 and 400 steps to the scaling runs and see
#    whether the fitted exponents hold; resume the checkpoint with
#    `torch.set_num_threads` changed and see bit-for-bit equality give way to rounding.
#
# Each check compares your function with the definition on test inputs; the asserts
# show that it accepts the solution and rejects a plausible mistake.


# %%
def report(ok: bool, message: str) -> bool:
    print(("correct: " if ok else "not yet: ") + message)
    return ok


def check_training_bytes(candidate) -> bool:
    cases = [(7e9, 112e9), (1e6, 16e6), (869_504, 16 * 869_504)]
    try:
        got = [candidate(n) for n, _ in cases]
        ok = all(g is not None and math.isclose(g, e) for g, (_, e) in zip(got, cases, strict=True))
    except Exception as error:  # a learner's unfinished function may fail in any way
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "16 bytes per parameter" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_training_bytes(n_params):
    ...  # your code here


assert check_training_bytes(lambda n: sum(BYTES.values()) * n)
assert not check_training_bytes(lambda n: (2 + 2 + 4 + 4) * n)  # one Adam moment forgotten
check_training_bytes(my_training_bytes)


# %%
def check_chinchilla(candidate) -> bool:
    try:
        got = [tuple(candidate(n)) for n in (7e9, 70e9)]
        ok = all(math.isclose(t, chinchilla_plan(n)["tokens"]) and math.isclose(f, chinchilla_plan(n)["flops"]) for (t, f), n in zip(got, (7e9, 70e9), strict=True))
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "D = 20 N and C = 6 N D" if ok else f"got {got}")


def my_chinchilla(n_params):
    ...  # your code here


assert check_chinchilla(lambda n: (20 * n, 6 * n * 20 * n))
assert not check_chinchilla(lambda n: (20 * n, 2 * n * 20 * n))  # the forward pass only
check_chinchilla(my_chinchilla)


# %%
def check_accumulation_weights(candidate) -> bool:
    cases = [([5, 3], [5 / 8, 3 / 8]), ([4, 4, 4, 4], [0.25] * 4), ([1, 0, 3], [0.25, 0.0, 0.75])]
    try:
        got = [list(candidate(n)) for n, _ in cases]
        ok = all(len(g) == len(e) and all(math.isclose(a, b) for a, b in zip(g, e, strict=True)) for g, (_, e) in zip(got, cases, strict=True))
    except Exception as error:
        return report(False, f"{type(error).__name__}: {error}")
    return report(ok, "each micro-batch weighted by its share of the counted tokens" if ok else f"got {got}")


def my_accumulation_weights(counted_tokens):
    ...  # your code here


assert check_accumulation_weights(lambda n: [k / sum(n) for k in n])
assert not check_accumulation_weights(lambda n: [1 / len(n)] * len(n))  # 1/K, right for equal micro-batches only
check_accumulation_weights(my_accumulation_weights)
print(f"this notebook used {time.process_time() - started_cpu:.0f} s of CPU in this process")
