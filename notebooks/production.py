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
# # Serving a language model: KV cache, quantization, speculative decoding, a service
#
# Training produces a file of weights; serving turns it into answers, quickly and
# cheaply, for many users. Most of an LLM's lifetime cost is inference, and the main
# tricks are small ideas you can build in a page each. This notebook applies them to
# the path's own GPT (pretrained in the language-modelling notebook) and measures
# each one on this machine.
#
# **What you will build and check**
#
# - a **KV cache**: token-for-token the same greedy output as recomputing everything,
#   the work counted and the speed-up measured, the cache's size against its formula;
# - **int8** per-channel and **group-wise int4** weight quantization: error bounds
#   checked, bytes, output error, validation loss and speed measured, PyTorch's
#   low-bit CPU kernels checked against our dequantized weights;
# - **speculative decoding** with a small draft model: the same greedy output,
#   acceptance rate and speed-up measured, and the cost model that explains them;
# - a small **HTTP service** (FastAPI) with request validation and a response cache,
#   and latency percentiles from its own log.
#
# Timings come from whatever machine runs the notebook (the published one ran on a
# shared two-core CPU) and are printed, not asserted against fixed numbers: what is
# asserted is measured in the same run.

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
import math
import os
import statistics
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from fastapi import FastAPI
from pathgpt import GPT, KVCache, evaluate, load_pretrained, load_tokens, make_optimizer, sample_batch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # some starlette versions warn about their httpx-based client on import
    from fastapi.testclient import TestClient

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)
started_cpu = time.process_time()

model, tokenizer = load_pretrained()
model.requires_grad_(False)
validation_tokens = load_tokens("validation")
prompt = validation_tokens[1000:1032][None]
print(f"the pretrained GPT: {model.num_parameters():,d} parameters, {model.config.n_layers} layers, context {model.config.context}")
print(f"prompt: {tokenizer.decode(prompt[0].tolist())!r}")


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of a few runs, in seconds: the one least disturbed by other programs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# %% [markdown]
# ## 1. The KV cache
#
# To generate, the model predicts one token, appends it, and runs again. Without a
# cache, step $t$ feeds the whole sequence again: the keys and values of every earlier
# token are recomputed, although causal attention means they cannot have changed.
# With a cache each layer keeps the keys and values it has computed, and a step feeds
# only the new token. The first call, the **prefill**, processes the prompt at once.
# The package's `generate(..., use_cache=...)` does both; a forward hook counts the
# token positions each run feeds the model.

# %%
N_NEW = 200
fed: list[int] = []
hook = model.register_forward_pre_hook(lambda module, args, kwargs: fed.append(args[0].shape[1]), with_kwargs=True)
outputs, positions = {}, {}
for use_cache in (True, False):
    fed.clear()
    outputs[use_cache] = model.generate(prompt, N_NEW, temperature=0, use_cache=use_cache)
    positions[use_cache] = sum(fed)
hook.remove()
P = prompt.shape[1]
assert positions[True] == P + N_NEW - 1, "the prefill, then one position per new token"
assert positions[False] == sum(range(P, P + N_NEW)), "every step feeds the whole sequence"
same32 = torch.equal(outputs[True], outputs[False])

model64 = copy.deepcopy(model).double()
assert torch.equal(model64.generate(prompt, N_NEW, temperature=0, use_cache=True), model64.generate(prompt, N_NEW, temperature=0, use_cache=False))
print(f"greedy, {N_NEW} tokens: identical with and without the cache in float64 (asserted) and in float32: {same32}")
print(f"positions fed: {positions[False]:,d} without the cache, {positions[True]:,d} with it")
print(repr(tokenizer.decode(outputs[True][0, P:].tolist())[:300]))

t_plain = best_time(lambda: model.generate(prompt, N_NEW, temperature=0, use_cache=False))
t_cached = best_time(lambda: model.generate(prompt, N_NEW, temperature=0, use_cache=True))
kv_speedup = t_plain / t_cached
print(f"measured: {1000 * t_plain / N_NEW:.2f} ms per token without the cache, {1000 * t_cached / N_NEW:.2f} ms with it: {kv_speedup:.1f}x")
assert kv_speedup > 1, "the cache is faster, measured in this run"

# %% [markdown]
# In float64 the two paths agree token for token; in float32 they add the same numbers
# in different orders (a whole sequence at once against one token at a time), and a
# near-tie between two tokens could in principle go the other way, so float32 is
# reported rather than asserted. The speed-up is far below the ratio of positions fed,
# because at this size a step's fixed cost (Python, launching each operation) rivals
# its arithmetic; for a real model with thousands of tokens of context the cache is
# what makes generation affordable at all.
#
# The cache's size is what limits how many users a GPU serves at once: per sequence it
# holds $2 \times L \times H_{kv} \times d_\text{head} \times T$ numbers (keys and
# values, per layer, per key/value head, per position). Grouped-query attention
# (here 2 key/value heads for 4 query heads) halves it.

# %%
kv_cache = KVCache(model.config, batch_size=1)
c = model.config
formula = 2 * c.n_layers * c.kv_heads * c.head_dim * c.context * 4
assert kv_cache.nbytes == formula
mha = KVCache(replace(c, n_kv_heads=c.n_heads), batch_size=1)
print(f"cache for one sequence of {c.context} tokens: {kv_cache.nbytes / 1024:.0f} KiB (2 x {c.n_layers} layers x {c.kv_heads} heads x {c.head_dim} x {c.context} x 4 bytes);"
      f" multi-head attention would need {mha.nbytes / 1024:.0f} KiB")
llama_like = 2 * 32 * 8 * 128 * 8192 * 2
print(f"a Llama-3-8B-like model (32 layers, 8 key/value heads of 128, bf16) at 8,192 tokens: {llama_like / 2**30:.1f} GiB per sequence")

# %% [markdown]
# ## 2. Weight quantization: int8 and group-wise int4
#
# Each float32 weight takes 4 bytes. Generating one token reads every weight once, so
# on most hardware decoding speed is limited by memory bandwidth, and smaller weights
# are faster weights, if the kernels can use them.
#
# **int8, per output channel, symmetric.** Each row gets a scale
# $s = \max_j |W_{ij}| / 127$ and the weights become integers
# $q = \operatorname{round}(W/s) \in [-127, 127]$; the error per weight is at most $s/2$.
# A scale per row (not per tensor) keeps one large row from coarsening all the others.
#
# **int4, group-wise, asymmetric.** Sixteen levels are too few for a whole row, so each
# group of 32 consecutive weights of a row gets its own scale and offset:
# $s = (\max - \min)/15$, $q = \operatorname{round}((w - \min)/s) \in [0, 15]$, stored
# two to a byte, and $\hat w = (q - 8)s + z$ with $z = \min + 8s$. This is the layout of
# GPTQ and AWQ checkpoints and of PyTorch's int4 kernels, which we use below.


# %%
def quantize_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
    return torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def dequantize_int8(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale[:, None]


GROUP = 32


def quantize_int4(weight: torch.Tensor, group: int = GROUP) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Levels 0..15 (rows, cols) as int32, and a scale and an offset per group (rows, cols // group)."""
    rows, cols = weight.shape
    grouped = weight.reshape(rows, cols // group, group)
    low, high = grouped.amin(-1), grouped.amax(-1)
    scale = (high - low).clamp(min=1e-12) / 15
    q = torch.round((grouped - low[..., None]) / scale[..., None]).clamp(0, 15)
    return q.reshape(rows, cols).to(torch.int32), scale, low + 8 * scale


def dequantize_int4(q: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, group: int = GROUP) -> torch.Tensor:
    rows, cols = q.shape
    grouped = (q.reshape(rows, cols // group, group).float() - 8) * scale[..., None] + zero[..., None]
    return grouped.reshape(rows, cols)


def pack_nibbles(q: torch.Tensor) -> torch.Tensor:
    """Two 4-bit levels per byte: the storage an int4 checkpoint really uses."""
    return (q[:, 0::2] | (q[:, 1::2] << 4)).to(torch.uint8)


def unpack_nibbles(packed: torch.Tensor) -> torch.Tensor:
    low, high = (packed & 15).to(torch.int32), (packed >> 4).to(torch.int32)
    return torch.stack([low, high], dim=-1).reshape(packed.shape[0], -1)


weight = model.blocks[0].mlp.gate.weight
q8, s8 = quantize_int8(weight)
assert ((dequantize_int8(q8, s8) - weight).abs() <= s8[:, None] / 2 + 1e-7).all(), "int8: at most half a step off"
q4, s4, z4 = quantize_int4(weight)
step = s4.repeat_interleave(GROUP, dim=1)
assert ((dequantize_int4(q4, s4, z4) - weight).abs() <= step / 2 + 1e-7).all(), "int4: at most half a step off"
assert torch.equal(unpack_nibbles(pack_nibbles(q4)), q4) and pack_nibbles(q4).numel() == weight.numel() // 2
for name, restored in [("int8 per channel", dequantize_int8(q8, s8)), ("int4, groups of 32", dequantize_int4(q4, s4, z4))]:
    print(f"{name:18s}: relative error of blocks[0].mlp.gate {((restored - weight).norm() / weight.norm()).item():.2%}")

# %% [markdown]
# Real models have **outlier** rows far larger than the rest (Dettmers et al.,
# *LLM.int8()*, 2022). Multiply one row of a copy of the weight by 20 and compare a
# single scale for the tensor with a scale per row:

# %%
with_outlier = weight.clone()
with_outlier[7] *= 20
per_tensor_scale = with_outlier.abs().max() / 127
per_tensor = torch.round(with_outlier / per_tensor_scale).clamp(-127, 127) * per_tensor_scale
per_row = dequantize_int8(*quantize_int8(with_outlier))
row_error = {name: ((r - with_outlier).norm(dim=1) / with_outlier.norm(dim=1)) for name, r in [("per tensor", per_tensor), ("per row", per_row)]}
others = torch.arange(len(weight)) != 7
print(f"relative error of the other rows: one scale per tensor {row_error['per tensor'][others].mean():.1%}, a scale per row {row_error['per row'][others].mean():.2%}")
assert row_error["per row"][others].mean() < 0.2 * row_error["per tensor"][others].mean()

# %% [markdown]
# Now every linear layer of every block (attention's `qkv` and `proj`, the MLP's
# `gate`, `up` and `down`: 85% of the parameters). The tied embedding and output head
# stay in float32, as most int4 recipes keep them in higher precision. Each quantized
# layer runs on PyTorch's CPU kernels for int8 and int4 weights (`_weight_int8pack_mm`,
# `_weight_int4pack_mm_for_cpu`, what `torchao` calls on a CPU), checked first against a
# matrix multiplication with our own dequantized weights; where a build lacks them, the
# layer dequantizes and multiplies instead (same numbers, no speed-up).


# %%
class Int8Linear(nn.Module):
    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        q, scale = quantize_int8(layer.weight.detach())
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)
        self.use_kernel = hasattr(torch.ops.aten, "_weight_int8pack_mm")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_kernel:
            return F.linear(x, dequantize_int8(self.q, self.scale))
        flat = x.reshape(-1, x.shape[-1]).contiguous()
        return torch.ops.aten._weight_int8pack_mm(flat, self.q, self.scale).reshape(*x.shape[:-1], -1)

    def stored_bytes(self) -> int:
        return self.q.numel() + 4 * self.scale.numel()


class Int4Linear(nn.Module):
    def __init__(self, layer: nn.Linear) -> None:
        super().__init__()
        q, scale, zero = quantize_int4(layer.weight.detach())
        self.register_buffer("packed", pack_nibbles(q))
        self.register_buffer("scale", scale)
        self.register_buffer("zero", zero)
        self.use_kernel = hasattr(torch.ops.aten, "_weight_int4pack_mm_for_cpu")
        if self.use_kernel:
            self.register_buffer("kernel_weight", torch.ops.aten._convert_weight_to_int4pack_for_cpu(q, 1))
            self.register_buffer("scales_and_zeros", torch.stack([scale, zero], dim=-1).transpose(0, 1).contiguous())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.use_kernel:
            return F.linear(x, dequantize_int4(unpack_nibbles(self.packed), self.scale, self.zero))
        flat = x.reshape(-1, x.shape[-1]).contiguous()
        out = torch.ops.aten._weight_int4pack_mm_for_cpu(flat, self.kernel_weight, GROUP, self.scales_and_zeros)
        return out.reshape(*x.shape[:-1], -1)

    def stored_bytes(self) -> int:
        return self.packed.numel() + 4 * (self.scale.numel() + self.zero.numel())


def quantized(model: GPT, kind: type[nn.Module]) -> GPT:
    copy_ = copy.deepcopy(model)
    for block in copy_.blocks:
        for parent in (block.attn, block.mlp):
            for name, child in list(parent.named_children()):
                if isinstance(child, nn.Linear):
                    setattr(parent, name, kind(child))
    return copy_


x = torch.randn(5, weight.shape[1])
for kind, dequantized in [(Int8Linear, dequantize_int8(q8, s8)), (Int4Linear, dequantize_int4(q4, s4, z4))]:
    layer = kind(model.blocks[0].mlp.gate)
    torch.testing.assert_close(layer(x), x @ dequantized.T, rtol=1e-5, atol=1e-5)
    print(f"{kind.__name__}: {'PyTorch kernel' if layer.use_kernel else 'dequantize and multiply'}, equal to our dequantized weights")

# %% [markdown]
# The measurements: bytes of the block weights as stored, the error of the logits on
# validation text, how often the most likely next token changes, the validation loss,
# and the time per generated token (greedy, with the cache).

# %%
models = {"float32": model, "int8": quantized(model, Int8Linear), "int4 (g=32)": quantized(model, Int4Linear)}
windows = validation_tokens[: 8 * 256 + 1]
inputs = windows[:-1].reshape(8, 256)
with torch.no_grad():
    reference_logits = model(inputs)


def block_weight_bytes(m: GPT) -> int:
    total = 0
    for module in m.blocks.modules():
        if isinstance(module, nn.Linear):
            total += 4 * module.weight.numel()
        elif isinstance(module, Int8Linear | Int4Linear):
            total += module.stored_bytes()
    return total


quality = {}
print(f"{'weights':12s} {'block bytes':>12s} {'x smaller':>9s} {'logit error':>11s} {'same top-1':>10s} {'val. loss':>9s} {'ms/token':>9s}")
for name, m in models.items():
    with torch.no_grad():
        logits = m(inputs)
    error = ((logits - reference_logits).norm() / reference_logits.norm()).item()
    agreement = (logits.argmax(-1) == reference_logits.argmax(-1)).float().mean().item()
    loss = evaluate(m, validation_tokens, max_windows=16)
    seconds = best_time(lambda m=m: m.generate(prompt, 100, temperature=0))
    quality[name] = {"bytes": block_weight_bytes(m), "error": error, "agreement": agreement, "loss": loss, "ms": 10 * seconds}
    q = quality[name]
    print(f"{name:12s} {q['bytes']:12,d} {quality['float32']['bytes'] / q['bytes']:9.2f} {error:11.2%} {agreement:10.1%} {loss:9.3f} {q['ms']:9.2f}")
shapes = [m.weight.shape for m in model.blocks.modules() if isinstance(m, nn.Linear)]
assert quality["int8"]["bytes"] == sum(n * k + 4 * n for n, k in shapes), "one byte a weight, four a row scale"
assert quality["int4 (g=32)"]["bytes"] == sum(n * k // 2 + 8 * n * k // GROUP for n, k in shapes), "half a byte a weight, eight per group of 32"
assert quality["int8"]["error"] < quality["int4 (g=32)"]["error"] < 0.2, "int8 is closer than int4, and both are close"
assert abs(quality["int8"]["loss"] - quality["float32"]["loss"]) < 0.01, "int8 costs next to nothing in loss"
assert quality["int4 (g=32)"]["loss"] - quality["float32"]["loss"] < 0.15

# %% [markdown]
# What the table shows. **Size** is exact arithmetic and the asserts check it: int8
# stores the blocks' weights in about a quarter of the bytes (3.9x smaller, the row
# scales included) and group-wise int4 in about a fifth (5.3x: the two 4-byte numbers
# of every group of 32 cost almost as much as the nibbles save). **Error**: int8
# changes the logits by a fraction of a percent and leaves the validation loss
# unchanged to three decimals; int4 changes them by a few percent, the top-1 token at
# about one position in fifteen, and the loss by about 0.01 nats. **Speed** is where a
# CPU and a tiny model disagree with the usual story: here the quantized layers are
# *slower* per token than float32 (dequantizing costs more than the bytes it saves,
# since weights of under 3 MB sit in the CPU's cache anyway). Quantization speeds up
# decoding when generation is limited by reading weights from memory, a large model
# on a GPU at batch size 1, with kernels that fuse dequantization into the matrix
# multiplication. The timings are one run each on a shared machine: read the order of
# magnitude, not the digits.
#
# ## 3. Speculative decoding
#
# A large model generating one token at a time is slow, but *checking* several
# proposed tokens costs it about one forward pass: a single call with $k$ tokens
# returns its prediction after each of them. **Speculative decoding** (Leviathan et
# al., 2023; Chen et al., 2023) lets a small, fast **draft** model propose $k$ tokens;
# the large **target** model scores them in one call; the longest prefix of proposals
# that matches the target's own greedy choices is accepted, plus the target's token at
# the first mismatch (or after the last proposal). Every accepted token is one the
# target would have chosen itself, so the output is *exactly* the target's greedy
# output; only the number of target calls changes. (With sampling, a rejection rule
# keeps the target's distribution exactly; greedy is the simplest case.)
#
# **The draft.** It must share the tokenizer. We take a **truncated copy** of the
# target: its embedding, first block, final norm and tied head, so it costs about a
# quarter of a target call, then train it briefly to imitate the target's next-token
# distributions (distillation: the KL divergence from the target to the draft, on
# training text). A separate small model pretrained from scratch, a small `Recipe` of
# the package, would share the tokenizer too, but costs a pretraining run of its own;
# the truncated copy starts from the target's embeddings and costs seconds. (LayerSkip,
# Elhoushi et al. 2024, drafts with a model's own early layers in the same spirit.)


# %%
def truncated_copy(target: GPT, n_layers: int) -> GPT:
    """The target's embedding, first n_layers blocks, final norm and head, as a model of its own."""
    draft = GPT(replace(target.config, n_layers=n_layers))
    kept = {k: v for k, v in target.state_dict().items() if not k.startswith("blocks.") or int(k.split(".")[1]) < n_layers}
    draft.load_state_dict(kept)
    return draft


def distill(draft: GPT, target: GPT, steps: int, seed: int = 0) -> GPT:
    train_tokens = load_tokens("train")
    optimizer = make_optimizer(draft.train().requires_grad_(True), 2e-3, weight_decay=0.0)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        inputs, _ = sample_batch(train_tokens, 8, 128, generator)
        with torch.no_grad():
            teacher = target(inputs).log_softmax(-1)
        loss = F.kl_div(draft(inputs).log_softmax(-1), teacher, log_target=True, reduction="sum") / inputs.numel()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return draft.eval().requires_grad_(False)


started = time.process_time()
draft = distill(truncated_copy(model, 1), model, steps=100)
print(f"draft: {draft.num_parameters():,d} parameters ({draft.config.n_layers} block), distilled in {time.process_time() - started:.0f} s of CPU")


@torch.no_grad()
def speculative_greedy(target: GPT, draft: GPT, prompt: torch.Tensor, n_new: int, k: int) -> tuple[torch.Tensor, dict[str, int]]:
    """Greedy decoding of n_new tokens with k draft proposals per target call; returns the tokens and counts."""
    tokens = prompt[0].tolist()
    length = len(tokens)
    target_cache = KVCache(target.config, 1, dtype=target.head.weight.dtype)
    draft_cache = KVCache(draft.config, 1, dtype=draft.head.weight.dtype)
    target_done = draft_done = 0  # positions whose keys and values each cache holds
    counts = {"target_calls": 0, "proposed": 0, "accepted": 0}
    while len(tokens) - length < n_new:
        committed, proposals = len(tokens), []
        for _ in range(k):
            sequence = tokens + proposals
            logits = draft(torch.tensor([sequence[draft_done:]]), cache=draft_cache, start_pos=draft_done)
            draft_done = len(sequence)
            proposals.append(int(logits[0, -1].argmax()))
        logits = target(torch.tensor([(tokens + proposals)[target_done:]]), cache=target_cache, start_pos=target_done)
        choices = logits[0, -(k + 1) :].argmax(-1).tolist()  # the target's token after each proposal prefix
        accepted = 0
        while accepted < k and proposals[accepted] == choices[accepted]:
            accepted += 1
        tokens += proposals[:accepted] + [choices[accepted]]
        counts["target_calls"] += 1
        counts["proposed"] += k
        counts["accepted"] += accepted
        # Keys and values past the accepted tokens are stale; the next call overwrites them.
        target_done = committed + accepted
        draft_done = min(draft_done, committed + accepted)
    return torch.tensor([tokens[: length + n_new]]), counts


draft64, model64 = copy.deepcopy(draft).double(), copy.deepcopy(model).double()
spec_prompts = [validation_tokens[i : i + 32][None] for i in (1000, 20000, 60000, 120000)]
for p in spec_prompts:
    out64, _ = speculative_greedy(model64, draft64, p, N_NEW, k=2)
    assert torch.equal(out64, model64.generate(p, N_NEW, temperature=0)), "exactly the target's greedy output"
print(f"speculative output == the target's own greedy output on {len(spec_prompts)} prompts of {N_NEW} tokens (float64)")

spec_results = {}
for k in (1, 2, 3):
    counts = {"target_calls": 0, "proposed": 0, "accepted": 0}
    same = True
    for p in spec_prompts:
        out, c = speculative_greedy(model, draft, p, N_NEW, k)
        same &= torch.equal(out, model.generate(p, N_NEW, temperature=0))
        counts = {key: counts[key] + c[key] for key in counts}
    t_target = best_time(lambda: model.generate(spec_prompts[0], N_NEW, temperature=0))
    t_spec = best_time(lambda k=k: speculative_greedy(model, draft, spec_prompts[0], N_NEW, k))
    spec_results[k] = {"acceptance": counts["accepted"] / counts["proposed"], "tokens_per_call": len(spec_prompts) * N_NEW / counts["target_calls"],
                       "speedup": t_target / t_spec, "same": same}
    r = spec_results[k]
    print(f"k = {k}: {r['acceptance']:.0%} of proposals accepted, {r['tokens_per_call']:.2f} tokens per target call,"
          f" measured speed-up {r['speedup']:.2f}x (float32 output identical: {same})")
    assert r["tokens_per_call"] > 1.2, "fewer target calls than tokens"

# %% [markdown]
# Why is the speed-up what it is? Per target call the method spends $k$ draft calls
# and one verification call of $k + 1$ tokens, and gains the accepted tokens plus one.
# With $c$ the draft's cost and $v$ the verification's cost, both in units of one
# ordinary target step, the predicted speed-up is
#
# $$\text{speed-up} = \frac{\text{tokens per target call}}{k\,c + v}.$$
#
# We measure $c$ and $v$ here and compare the prediction with the measurement; then
# apply the same formula with the costs of a large model on a GPU, where a step is
# limited by reading the weights, so verifying a few tokens costs about one step
# ($v \approx 1$) and a draft a tenth the size costs about a tenth ($c \approx 0.1$).

# %%
def per_call(m: GPT, tokens_fed: int) -> float:
    """Seconds of one cached forward call feeding tokens_fed tokens at position 100."""
    cache = KVCache(m.config, 1)
    x = validation_tokens[:100][None]
    with torch.no_grad():
        m(x, cache=cache)
        new = validation_tokens[100 : 100 + tokens_fed][None]
        return best_time(lambda: [m(new, cache=cache, start_pos=100) for _ in range(50)]) / 50


step_cost = per_call(model, 1)
c_draft = per_call(draft, 1) / step_cost
print(f"one target step {1000 * step_cost:.2f} ms; draft step c = {c_draft:.2f} target steps")
for k, r in spec_results.items():
    v = per_call(model, k + 1) / step_cost
    predicted = r["tokens_per_call"] / (k * c_draft + v)
    gpu_like = r["tokens_per_call"] / (k * 0.1 + 1.0)
    print(f"k = {k}: verification v = {v:.2f}; predicted {predicted:.2f}x, measured {r['speedup']:.2f}x;"
          f" with c = 0.1 and v = 1 (assumed, not measured) the same acceptance would give {gpu_like:.2f}x")

# %% [markdown]
# The draft agrees with the target often (about 60% of single proposals accepted,
# fewer per token as $k$ grows, since each later proposal must survive all the earlier
# ones), and every target call yields 1.6 to 2.2 tokens; the output is the target's own,
# token for token. Yet the measured speed-up is below one: on this CPU a draft step
# costs about a third of a target step (the draft is small, but fixed per-call
# overheads are not), and verifying $k+1$ tokens costs about four single steps, where a
# GPU verifies them in roughly the time of one. The cost model
# $\text{tokens per call} / (k c + v)$ with the measured $c$ and $v$ predicts the measured
# figure closely, and with GPU-like costs ($c = 0.1$, $v = 1$, assumed) the same
# acceptance rates would give 1.5x to 1.7x. Speculative decoding pays when the target is
# memory-bound and the draft is much cheaper, as with a 70B target and a 1B draft on
# a GPU; measure $c$ and $v$ on your hardware before counting on it.
#
# ## 4. Serving over HTTP
#
# The service exposes `POST /generate`. A **pydantic** model declares the request;
# FastAPI validates every request against it and answers **422** with what is wrong,
# so the model never sees bad input. The prompt is encoded with `allow_special=False`,
# so a user cannot forge `<|endoftext|>` or chat markers, and its length is checked in
# *tokens* against the context window. Greedy decoding is deterministic, so identical
# requests are answered from a **response cache** (an in-memory LRU dictionary; in a
# deployment it would live in a shared store such as Redis, for every replica).

# %%
MAX_PROMPT_TOKENS, MAX_NEW_TOKENS = 96, 64


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    prompt: str = Field(min_length=1, max_length=2000)
    """Text to continue."""
    max_new_tokens: int = Field(default=32, ge=1, le=MAX_NEW_TOKENS)
    """How many tokens to generate."""

    @field_validator("prompt")
    @classmethod
    def fits_the_context(cls, prompt: str) -> str:
        n = len(tokenizer.encode(prompt, allow_special=False))
        if n > MAX_PROMPT_TOKENS:
            raise ValueError(f"the prompt is {n} tokens; at most {MAX_PROMPT_TOKENS} fit")
        return prompt


class GenerateResponse(BaseModel):
    completion: str
    cached: bool
    latency_ms: float


class LRUCache:
    """A bounded dictionary that evicts the least recently used entry."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self.entries: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def get(self, key: tuple) -> str | None:
        if key in self.entries:
            self.entries.move_to_end(key)
            self.hits += 1
            return self.entries[key]
        self.misses += 1
        return None

    def put(self, key: tuple, value: str) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        if len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)


def complete(prompt_text: str, max_new_tokens: int) -> str:
    ids = torch.tensor([tokenizer.encode(prompt_text, allow_special=False)])
    return tokenizer.decode(model.generate(ids, max_new_tokens, temperature=0)[0, ids.shape[1] :].tolist())


def create_app(cache_size: int = 256) -> FastAPI:
    app = FastAPI(title="pathgpt")
    app.state.cache = LRUCache(cache_size)
    app.state.latencies_ms = []

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/generate", response_model=GenerateResponse)
    def generate(request: GenerateRequest) -> GenerateResponse:
        start = time.perf_counter()
        key = (request.prompt, request.max_new_tokens)
        completion = app.state.cache.get(key)
        hit = completion is not None
        if completion is None:
            completion = complete(request.prompt, request.max_new_tokens)
            app.state.cache.put(key, completion)
        latency_ms = 1000 * (time.perf_counter() - start)
        app.state.latencies_ms.append(latency_ms)
        return GenerateResponse(completion=completion, cached=hit, latency_ms=latency_ms)

    return app


app = create_app()
client = TestClient(app)  # real HTTP requests to the app, in this process: no server, no network
assert client.get("/health").json() == {"status": "ok"}
first = client.post("/generate", json={"prompt": "def __init__(self", "max_new_tokens": 24})
again = client.post("/generate", json={"prompt": "def __init__(self", "max_new_tokens": 24})
assert first.status_code == again.status_code == 200
assert first.json()["cached"] is False and again.json()["cached"] is True
assert first.json()["completion"] == again.json()["completion"] == complete("def __init__(self", 24)
print(f"completion: {first.json()['completion']!r}")
bad_requests = {
    "empty prompt": {"prompt": ""},
    "too many tokens asked": {"prompt": "x", "max_new_tokens": 1000},
    "prompt too long": {"prompt": "x = 1\n" * 200},
    "unexpected field": {"prompt": "x", "temperature": 0.7},
    "wrong type": {"prompt": "x", "max_new_tokens": "many"},
}
for description, body in bad_requests.items():
    response = client.post("/generate", json=body)
    assert response.status_code == 422, description
    print(f"{description:22s} -> 422: {response.json()['detail'][0]['msg']}")
forged = tokenizer.encode("<|endoftext|>", allow_special=False)
assert tokenizer.eot_id not in forged, "user text cannot forge a special token"

# %% [markdown]
# **Monitoring.** A service is watched through its latency *distribution*: p50 (the
# typical request), p95 and p99 (the tail), on which service-level objectives are
# written. We send 60 requests drawn from 12 distinct prompts (so repeats hit the
# cache) and compute percentiles from the service's own log, with linear interpolation
# between order statistics, checked against `statistics.quantiles`.


# %%
def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


distinct = [tokenizer.decode(validation_tokens[i * 997 : i * 997 + 12].tolist()) for i in range(12)]
order = torch.randint(len(distinct), (60,), generator=torch.Generator().manual_seed(0))
for i in order.tolist():
    assert client.post("/generate", json={"prompt": distinct[i], "max_new_tokens": 32}).status_code == 200
latencies = app.state.latencies_ms
report = {q: percentile(latencies, q) for q in (50, 95, 99)}
reference_cuts = statistics.quantiles(latencies, n=100, method="inclusive")
for q, value in report.items():
    assert math.isclose(value, reference_cuts[q - 1], rel_tol=1e-12)
cache = app.state.cache
print(f"{len(latencies)} requests, cache hit rate {cache.hits / (cache.hits + cache.misses):.0%};"
      f" p50 {report[50]:.2f} ms, p95 {report[95]:.2f} ms, p99 {report[99]:.2f} ms, mean {statistics.fmean(latencies):.2f} ms")
assert cache.hits > cache.misses

fig, ax = plt.subplots(figsize=(6, 3.6))
ax.hist(latencies, bins=[10 ** (e / 8) for e in range(-16, 33)])
for q, style in [(50, "-"), (95, "--"), (99, ":")]:
    ax.axvline(report[q], color="black", linestyle=style, label=f"p{q}")
ax.set(xscale="log", xlabel="request latency (ms, log scale)", ylabel="requests", title="Two populations: cache hits and generations")
ax.legend()
plt.show()

# %% [markdown]
# The histogram has two humps, fractions of a millisecond for cache hits and tens of
# milliseconds for generations, and the median lands in whichever holds the majority:
# percentiles per route, per model version and per cache outcome are what make a
# dashboard readable. Production services also log tokens in and out per request (the
# basis of cost), error rates, queue length and accelerator memory.
#
# **With more compute** (or a GPU) a learner would serve a real open model with vLLM or
# SGLang (paged KV cache, continuous batching), quantize it with GPTQ, AWQ or `torchao`,
# draft with a model a tenth of its size, and measure time to first token and tokens
# per second under load.
#
# ## What to try next
#
# 1. **The KV cache's size.** Write `my_kv_cache_bytes(n_layers, n_kv_heads, head_dim, tokens, bytes_per_number)`
#    for one sequence.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_kv_cache_bytes(n_layers, n_kv_heads, head_dim, tokens, bytes_per_number):
#     return 2 * n_layers * n_kv_heads * head_dim * tokens * bytes_per_number
# ```
#
# The 2 is for keys and values; query heads do not count, which is the whole point
# of grouped-query attention.
# </details>
#
# 2. **Symmetric int4 per group.** Write `my_int4_symmetric(weight, group)`: levels
#    $-7..7$ with one scale $\max|w|/7$ per group of `group` weights of a row, returning
#    the *dequantized* weight. Compare its error with the asymmetric version above.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_int4_symmetric(weight, group):
#     rows, cols = weight.shape
#     grouped = weight.reshape(rows, cols // group, group)
#     scale = grouped.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 7
#     return (torch.round(grouped / scale).clamp(-7, 7) * scale).reshape(rows, cols)
# ```
# </details>
#
# 3. **The speculative speed-up formula.** Write `my_speedup(tokens_per_call, k, c, v)`.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_speedup(tokens_per_call, k, c, v):
#     return tokens_per_call / (k * c + v)
# ```
# </details>
#
# 4. Without a check: distil a two-block draft instead of one, or for 400 steps, and
#    see how acceptance and the measured speed-up move; then try `k = 4`.
#
# Each check compares your function with the definition on test inputs; the asserts
# show that it accepts the solution and rejects a plausible mistake.


# %%
def report_check(ok: bool, message: str) -> bool:
    print(("correct: " if ok else "not yet: ") + message)
    return ok


def check_kv_cache_bytes(candidate) -> bool:
    cases = [((4, 2, 32, 256, 4), kv_cache.nbytes), ((32, 8, 128, 8192, 2), llama_like), ((2, 1, 64, 10, 4), 2 * 2 * 64 * 10 * 4)]
    try:
        got = [candidate(*args) for args, _ in cases]
    except Exception as error:  # a learner's unfinished function may fail in any way
        return report_check(False, f"{type(error).__name__}: {error}")
    ok = got == [expected for _, expected in cases]
    return report_check(ok, "keys and values, per layer, head, position" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_kv_cache_bytes(n_layers, n_kv_heads, head_dim, tokens, bytes_per_number):
    ...  # your code here


assert check_kv_cache_bytes(lambda layers, heads, dim, tokens, size: 2 * layers * heads * dim * tokens * size)
assert not check_kv_cache_bytes(lambda layers, heads, dim, tokens, size: layers * heads * dim * tokens * size)  # keys only
check_kv_cache_bytes(my_kv_cache_bytes)


# %%
def check_int4_symmetric(candidate) -> bool:
    w = torch.randn(6, 64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    grouped = w.reshape(6, 2, 32)
    scale = grouped.abs().amax(-1, keepdim=True) / 7
    expected = (torch.round(grouped / scale).clamp(-7, 7) * scale).reshape(6, 64)
    try:
        got = candidate(w, 32)
        ok = got is not None and torch.allclose(torch.as_tensor(got, dtype=torch.float64), expected, rtol=0, atol=1e-12)
    except Exception as error:
        return report_check(False, f"{type(error).__name__}: {error}")
    return report_check(bool(ok), "symmetric int4, a scale per group" if ok else "the dequantized weights differ from the definition")


def my_int4_symmetric(weight, group):
    ...  # your code here


def int4_symmetric_reference(weight, group):
    rows, cols = weight.shape
    grouped = weight.reshape(rows, cols // group, group)
    scale = grouped.abs().amax(-1, keepdim=True).clamp(min=1e-12) / 7
    return (torch.round(grouped / scale).clamp(-7, 7) * scale).reshape(rows, cols)


assert check_int4_symmetric(int4_symmetric_reference)
assert not check_int4_symmetric(lambda w, g: int4_symmetric_reference(w, w.shape[1]))  # one scale per row
check_int4_symmetric(my_int4_symmetric)


# %%
def check_speedup(candidate) -> bool:
    cases = [((2.0, 2, 0.25, 1.5), 1.0), ((3.0, 4, 0.1, 1.0), 3.0 / 1.4), ((1.5, 1, 0.5, 1.0), 1.0)]
    try:
        got = [candidate(*args) for args, _ in cases]
        ok = all(g is not None and math.isclose(g, e, rel_tol=1e-12) for g, (_, e) in zip(got, cases, strict=True))
    except Exception as error:
        return report_check(False, f"{type(error).__name__}: {error}")
    return report_check(ok, "tokens per call over the cost of a call" if ok else f"got {got}, expected {[e for _, e in cases]}")


def my_speedup(tokens_per_call, k, c, v):
    ...  # your code here


assert check_speedup(lambda n, k, c, v: n / (k * c + v))
assert not check_speedup(lambda n, k, c, v: n / (k * c + 1))  # verification taken to be free of its extra tokens
check_speedup(my_speedup)
print(f"this notebook used {time.process_time() - started_cpu:.0f} s of CPU")
