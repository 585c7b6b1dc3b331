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
# # Efficient inference: tiled attention, paged caches, continuous batching, prefix caching and quantization formats
#
# Serving a language model is a different problem from training one. Training
# runs large, regular batches through the whole model; serving answers many
# requests that arrive at different times, with prompts and answers of
# different lengths, one token at a time, and its cost is dominated by memory:
# the weights, and the keys and values of every token every request has seen.
# The engines that serve open models today (vLLM, SGLang, llama.cpp, TensorRT-LLM)
# are built from a handful of ideas, and this notebook builds each of them from
# scratch around the path's own pretrained GPT:
#
# 1. **Tiled attention with an online softmax**, the idea of FlashAttention:
#    exact attention computed tile by tile without ever storing the
#    $T \times T$ score matrix, checked against PyTorch's
#    `scaled_dot_product_attention`.
# 2. A **paged KV cache**: keys and values stored in fixed-size blocks handed out
#    on demand (vLLM's PagedAttention), with a small serving engine that runs the
#    shared model on it and gives exactly the outputs of the contiguous cache.
# 3. **Continuous batching**: new requests join the running batch at every
#    step instead of waiting for the whole batch to finish; throughput measured
#    against static batching over several workloads.
# 4. **Prefix caching**: requests that share a prompt prefix share its cached
#    blocks, so the prefix is computed once.
# 5. **Quantization formats**: GGUF's block formats (checked byte for byte
#    against the `gguf` package of the llama.cpp project, and written to a real
#    `.gguf` file), and the ideas of GPTQ and AWQ, measured on the model.
# 6. **Local inference tools**: what llama.cpp, Ollama and vLLM are each for.
#
# Everything runs on a CPU in about a minute.

# %%
# The path's shared code lives in packages beside the notebooks; run alone (as in Colab), fetch them.
try:
    import exercises
    import pathgpt
except ModuleNotFoundError:
    import importlib, io, pathlib, urllib.request, zipfile

    packages = ("exercises", "pathgpt")
    url = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"
    with zipfile.ZipFile(io.BytesIO(urllib.request.urlopen(url, timeout=60).read())) as archive:
        for member in archive.namelist():
            package, _, file = member.partition("/notebooks/")[2].partition("/")
            if package in packages and file.endswith(".py") and "/" not in file:
                pathlib.Path(package).mkdir(exist_ok=True)
                pathlib.Path(package, file).write_bytes(archive.read(member))
    importlib.invalidate_caches()
    import exercises
    import pathgpt

# %% [markdown]
# Besides PyTorch, NumPy and matplotlib, the quantization section uses `gguf`,
# the llama.cpp project's own Python package for the GGUF file format (it
# holds NumPy versions of the block quantizers, which we use as the reference
# for ours). The next cell installs it if it is missing, for example on Colab.

# %%
import importlib.util
import subprocess
import sys

if importlib.util.find_spec("gguf") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "gguf>=0.10"], check=True)

# %%
import hashlib
import math
import os
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import gguf
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter
from pathgpt import apply_rope, evaluate, load_pretrained, load_tokens

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)

model, tokenizer = load_pretrained()
config = model.config
validation = load_tokens("validation")
print(f"the shared model: {model.num_parameters():,d} parameters, {config.n_layers} layers,")
print(f"{config.n_heads} query heads sharing {config.kv_heads} key/value heads of size {config.head_dim}")

# %% [markdown]
# ## 1. Attention without the attention matrix
#
# Attention for one query $q$ over keys $k_1..k_S$ and values $v_1..v_S$ is
# $o = \sum_j p_j v_j$ with $p_j = e^{s_j} / \sum_i e^{s_i}$ and
# $s_j = q \cdot k_j / \sqrt{d}$. Written naively, all $T \times S$ scores of a
# sequence are stored, then normalised, then multiplied by $V$: for a 32k-token
# context that is a billion numbers per head, read and written from slow
# memory several times. FlashAttention (Dao et al., 2022) never stores them. It
# walks over the keys in tiles and keeps, for each query, three running
# quantities: the largest score seen so far $m$, the sum of exponentials
# $\ell = \sum_j e^{s_j - m}$, and the unnormalised output
# $a = \sum_j e^{s_j - m} v_j$. When a new tile raises the maximum from $m$ to
# $m'$, everything accumulated so far is rescaled by $e^{m - m'}$:
#
# $$m' = \max(m, \max_j s_j), \quad \ell' = e^{m - m'} \ell + \sum_j e^{s_j - m'}, \quad a' = e^{m - m'} a + \sum_j e^{s_j - m'} v_j,$$
#
# and at the end $o = a / \ell$. This is the **online softmax** (Milakov and
# Gimelshein, 2018). It is exact, not an approximation: the rescaling undoes
# the choice of a different maximum. First the identity on one vector.


# %%
def online_softmax_stats(scores: torch.Tensor, tile: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Running max and sum of exponentials over a 1-D tensor, tile by tile."""
    m = torch.tensor(float("-inf"), dtype=scores.dtype)
    total = torch.tensor(0.0, dtype=scores.dtype)
    for start in range(0, len(scores), tile):
        block = scores[start : start + tile]
        new_m = torch.maximum(m, block.max())
        total = total * torch.exp(m - new_m) + torch.exp(block - new_m).sum()
        m = new_m
    return m, total


scores = torch.randn(1000, dtype=torch.float64) * 5
m, total = online_softmax_stats(scores, tile=64)
assert m == scores.max()
assert torch.allclose(m + torch.log(total), torch.logsumexp(scores, 0), rtol=0, atol=1e-12)
print(f"log-sum-exp online {float(m + torch.log(total)):.12f}, torch {float(torch.logsumexp(scores, 0)):.12f}")

# %% [markdown]
# Now the whole forward pass, for a batch of heads, with a causal mask. The
# queries are split into tiles too, and a query tile skips every key tile that
# lies entirely in its future: with causal masking only about half the tiles
# are computed. Real kernels do this in a GPU's on-chip memory; here each tile
# is a small tensor and the point is the arithmetic, which we check against
# PyTorch's own fused kernel.


# %%
def tiled_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, tile_q: int = 32, tile_k: int = 32, causal: bool = True
) -> tuple[torch.Tensor, dict]:
    """softmax(q k^T / sqrt(d)) v over (..., T, d) tensors, one (tile_q, tile_k) block of scores at a time.

    Returns the output and counts: the key tiles computed and the largest block of scores ever held.
    """
    *lead, length, dim = q.shape
    keys = k.shape[-2]
    scale = 1.0 / math.sqrt(dim)
    out = torch.empty_like(q)
    stats = {"tiles": 0, "tiles_total": 0, "largest_block": 0}
    for qs in range(0, length, tile_q):
        qe = min(qs + tile_q, length)
        qt = q[..., qs:qe, :] * scale
        m = torch.full((*lead, qe - qs, 1), float("-inf"), dtype=q.dtype)
        ell = torch.zeros((*lead, qe - qs, 1), dtype=q.dtype)
        acc = torch.zeros((*lead, qe - qs, dim), dtype=q.dtype)
        query_pos = torch.arange(qs, qe)[:, None] + (keys - length)  # queries sit at the end of the keys
        for ks in range(0, keys, tile_k):
            stats["tiles_total"] += 1
            ke = min(ks + tile_k, keys)
            if causal and ks > query_pos.max():
                continue  # the whole tile is in the future of every query of this tile
            stats["tiles"] += 1
            s = qt @ k[..., ks:ke, :].transpose(-2, -1)
            stats["largest_block"] = max(stats["largest_block"], s.shape[-2] * s.shape[-1])
            if causal:
                s = s.masked_fill(torch.arange(ks, ke)[None, :] > query_pos, float("-inf"))
            new_m = torch.maximum(m, s.amax(-1, keepdim=True))
            correction = torch.exp(m - new_m)
            p = torch.exp(s - new_m)
            ell = ell * correction + p.sum(-1, keepdim=True)
            acc = acc * correction + p @ v[..., ks:ke, :]
            m = new_m
        out[..., qs:qe, :] = acc / ell
    return out, stats


for dtype, tolerance in [(torch.float64, 1e-12), (torch.float32, 2e-6)]:
    for length, tile in [(200, 32), (64, 64), (37, 8)]:
        q, k, v = (torch.randn(2, 3, length, 16, dtype=dtype) for _ in range(3))
        ours, stats = tiled_attention(q, k, v, tile, tile)
        reference = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        error = (ours - reference).abs().max().item()
        assert error < tolerance, (dtype, length, error)
    ours, _ = tiled_attention(q, k, v, 8, 8, causal=False)
    assert (ours - F.scaled_dot_product_attention(q, k, v)).abs().max() < tolerance
print("tiled attention equals scaled_dot_product_attention (float64 to 1e-12, float32 to 2e-6)")

# %% [markdown]
# What does tiling save? The naive computation holds all $T^2$ scores of a head
# at once; the tiled one holds one $t_q \times t_k$ block whatever the length,
# and with causal masking skips the tiles above the diagonal. Below, the largest
# block of scores each holds, and the share of tiles computed, as the sequence
# grows (counted by the function itself, not by a formula).

# %%
lengths = [128, 256, 512, 1024, 2048]
held, computed = [], []
for length in lengths:
    q = torch.randn(1, 1, length, 8)
    _, stats = tiled_attention(q, q, q, 64, 64)
    held.append(stats["largest_block"])
    computed.append(stats["tiles"] / stats["tiles_total"])
    assert stats["largest_block"] == 64 * 64
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
axes[0].loglog(lengths, [t * t for t in lengths], "o-", label="naive: the whole $T \\times T$ matrix")
axes[0].loglog(lengths, held, "s-", label="tiled: one 64 x 64 block")
axes[0].set(xlabel="sequence length T", ylabel="scores held at once", title="Memory for scores, per head")
axes[0].legend()
axes[1].plot(lengths, computed, "o-")
axes[1].axhline(0.5, color="grey", ls=":")
axes[1].set(xlabel="sequence length T", ylabel="share of tiles computed", title="Causal tile skipping")
axes[1].set_ylim(0, 1)
plt.tight_layout()
plt.show()
n_tiles = lengths[-1] // 64
assert abs(computed[-1] - (n_tiles + 1) / (2 * n_tiles)) < 1e-12  # the diagonal and everything below it
print(f"at T={lengths[-1]}: {computed[-1]:.1%} of the tiles computed, (n+1)/2n for n={n_tiles} tiles a side")

# %% [markdown]
# The same number of multiply-adds is done either way (a little more for the
# rescaling); what FlashAttention saves is memory traffic, which is what
# limits attention on a GPU, and memory, which is what limits context length.
# Its backward pass recomputes the score tiles from $Q$, $K$ and the saved
# $m$ and $\ell$ instead of storing them. PyTorch's
# `scaled_dot_product_attention`, which the shared model calls, dispatches to
# kernels of this kind.
#
# ## 2. A paged KV cache and a small serving engine
#
# The shared model's `KVCache` is contiguous: each sequence reserves room for
# `max_len` positions up front. A server does not know how long an answer will
# be, so it must reserve the maximum, and most of that memory sits empty.
# vLLM's **PagedAttention** (Kwon et al., 2023) borrows the operating system's
# answer: memory is cut into fixed-size **blocks** of, say, 16 positions; each
# sequence has a **block table** listing its blocks in order; a new block is
# taken from a free list only when the last one is full, and returned when the
# sequence ends. A sequence wastes at most one partly filled block.
#
# Below: the allocator (a free list with reference counts, which prefix
# caching will need), and the cache (one pool of blocks per layer for keys and
# values).


# %%
class BlockAllocator:
    """Fixed-size blocks handed out from a free list; a block is free again when its last user lets go."""

    def __init__(self, n_blocks: int) -> None:
        self.free = deque(range(n_blocks))
        self.refs = [0] * n_blocks

    def take(self) -> int:
        if not self.free:
            raise MemoryError("out of KV-cache blocks")
        block = self.free.popleft()
        self.refs[block] = 1
        return block

    def share(self, block: int) -> None:
        self.refs[block] += 1

    def release(self, block: int) -> None:
        self.refs[block] -= 1
        if self.refs[block] == 0:
            self.free.append(block)

    @property
    def used(self) -> int:
        return sum(r > 0 for r in self.refs)


class PagedKVCache:
    """Keys and values in blocks of block_size positions: pools (layers, blocks, kv_heads, block_size, head_dim)."""

    def __init__(self, config, n_blocks: int, block_size: int = 16) -> None:
        self.block_size = block_size
        shape = (config.n_layers, n_blocks, config.kv_heads, block_size, config.head_dim)
        self.keys, self.values = torch.zeros(shape), torch.zeros(shape)
        self.allocator = BlockAllocator(n_blocks)
        self.tables: dict[int, list[int]] = {}
        self.lengths: dict[int, int] = {}

    def add_sequence(self, seq: int, shared_blocks: list[int] = (), shared_length: int = 0) -> None:
        self.tables[seq] = list(shared_blocks)
        self.lengths[seq] = shared_length

    def reserve(self, seq: int, count: int) -> None:
        """Make room for count more positions, taking blocks only as the last one fills."""
        needed = -(-(self.lengths[seq] + count) // self.block_size)
        while len(self.tables[seq]) < needed:
            self.tables[seq].append(self.allocator.take())

    def slots(self, seq: int, start: int, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The (block, offset) of positions start .. start + count - 1 of a sequence."""
        positions = torch.arange(start, start + count)
        table = torch.tensor(self.tables[seq])
        return table[positions // self.block_size], positions % self.block_size

    def write(self, layer: int, blocks: torch.Tensor, offsets: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
        """k and v are (tokens, kv_heads, head_dim), one row per (block, offset)."""
        self.keys[layer, blocks, :, offsets] = k
        self.values[layer, blocks, :, offsets] = v

    def gather(self, layer: int, seq: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first length keys and values of a sequence, as contiguous (kv_heads, length, head_dim)."""
        table = self.tables[seq][: -(-length // self.block_size)]
        k = self.keys[layer, table].transpose(0, 1).flatten(1, 2)[:, :length]
        v = self.values[layer, table].transpose(0, 1).flatten(1, 2)[:, :length]
        return k, v

    def table_tensor(self, seqs: list[int], width: int) -> torch.Tensor:
        """The block tables of several sequences as one (sequences, blocks) tensor, padded with block 0."""
        n_blocks = -(-width // self.block_size)
        tables = torch.zeros(len(seqs), n_blocks, dtype=torch.long)
        for i, seq in enumerate(seqs):
            table = self.tables[seq][:n_blocks]
            tables[i, : len(table)] = torch.tensor(table)
        return tables

    def gather_batch(self, layer: int, tables: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of several sequences at once, (sequences, kv_heads, width, head_dim).

        Positions past a sequence's length hold whatever their block holds; the attention mask hides them.
        """
        k = self.keys[layer, tables].permute(0, 2, 1, 3, 4).flatten(2, 3)[:, :, :width]
        v = self.values[layer, tables].permute(0, 2, 1, 3, 4).flatten(2, 3)[:, :, :width]
        return k, v

    def free_sequence(self, seq: int) -> None:
        for block in self.tables.pop(seq):
            self.allocator.release(block)
        del self.lengths[seq]


# %% [markdown]
# The engine's forward pass runs the shared model's own layers (its
# embeddings, norms, projections, MLPs and head, with their pretrained weights)
# on a **ragged batch**: the new tokens of every sequence in the step, laid end
# to end, each with its own position. A sequence being prefilled contributes its
# whole prompt, a sequence being decoded one token. Only attention needs to know
# which tokens belong together: each sequence's queries attend to its own keys,
# gathered from its blocks. We pad the sequences of a step to the longest and
# mask, so that one attention call serves them all.


# %%
def engine_forward(model, cache: PagedKVCache, batch: list[tuple[int, torch.Tensor]]) -> list[torch.Tensor]:
    """Run the new tokens of each (sequence, token ids) through the model; return each sequence's logits."""
    cfg = model.config
    assert cfg.positions == "rope" and cfg.dropout == 0
    seqs = [seq for seq, _ in batch]
    starts = [cache.lengths[seq] for seq in seqs]
    counts = [len(ids) for _, ids in batch]
    for seq, count in zip(seqs, counts):
        cache.reserve(seq, count)
    positions = torch.cat([torch.arange(s, s + n) for s, n in zip(starts, counts)])
    where = [cache.slots(seq, s, n) for seq, s, n in zip(seqs, starts, counts)]
    blocks, offsets = torch.cat([b for b, _ in where]), torch.cat([o for _, o in where])
    cos, sin = model.rope_cos[positions], model.rope_sin[positions]
    total, longest, width = sum(counts), max(counts), max(s + n for s, n in zip(starts, counts))
    # Row i of the padded batch holds sequence i's new tokens; mask[i, t, j]: query t may read key j.
    pad_index = torch.cat([i * longest + torch.arange(n) for i, n in enumerate(counts)])
    query_pos = torch.full((len(batch), longest), -1)
    query_pos.view(-1)[pad_index] = positions
    key_pos = torch.arange(width)
    mask = (key_pos[None, None, :] <= query_pos[:, :, None]) & (query_pos[:, :, None] >= 0)
    tables = cache.table_tensor(seqs, width)
    x = model.token_embedding(torch.cat([ids for _, ids in batch]))
    for layer, block in enumerate(model.blocks):
        attn = block.attn
        sizes = [cfg.n_heads * cfg.head_dim, *2 * [cfg.kv_heads * cfg.head_dim]]
        q, k, v = attn.qkv(block.attn_norm(x)).split(sizes, dim=-1)
        q = apply_rope(q.view(total, cfg.n_heads, cfg.head_dim).transpose(0, 1), cos, sin)
        k = apply_rope(k.view(total, cfg.kv_heads, cfg.head_dim).transpose(0, 1), cos, sin)
        v = v.view(total, cfg.kv_heads, cfg.head_dim)
        cache.write(layer, blocks, offsets, k.transpose(0, 1), v)
        keys, values = cache.gather_batch(layer, tables, width)
        queries = torch.zeros(len(batch) * longest, cfg.n_heads, cfg.head_dim)
        queries[pad_index] = q.transpose(0, 1)
        queries = queries.view(len(batch), longest, cfg.n_heads, cfg.head_dim).transpose(1, 2)
        heads = F.scaled_dot_product_attention(queries, keys, values, attn_mask=mask[:, None], enable_gqa=True)
        heads = heads.transpose(1, 2).reshape(len(batch) * longest, -1)[pad_index]
        x = x + attn.proj(heads)
        x = x + block.mlp(block.mlp_norm(x))
    for seq, count in zip(seqs, counts):
        cache.lengths[seq] += count
    logits = model.head(model.norm(x))
    return list(logits.split(counts))


# %% [markdown]
# The check that matters: the engine, with its paged cache and ragged batches,
# must compute what the model computes. Three prompts of different lengths are
# prefilled together and then decoded greedily together; each must produce,
# token for token, what `model.generate` produces for it alone with the
# contiguous `KVCache`, and its prompt logits must match the model's forward
# pass.

# %%
prompts = [validation[start : start + n] for start, n in [(0, 37), (5000, 12), (9000, 70)]]
new_tokens = 24
with torch.no_grad():
    expected = [model.generate(p[None], new_tokens, temperature=0)[0, len(p) :] for p in prompts]
    cache = PagedKVCache(config, n_blocks=64, block_size=16)
    for seq in range(len(prompts)):
        cache.add_sequence(seq)
    outputs = engine_forward(model, cache, list(enumerate(prompts)))
    for p, logits in zip(prompts, outputs):
        assert torch.allclose(logits, model(p[None])[0], atol=1e-4), "prefill logits"
    generated = [[int(logits[-1].argmax())] for logits in outputs]
    for _ in range(new_tokens - 1):
        step = [(seq, torch.tensor(generated[seq][-1:])) for seq in range(len(prompts))]
        for seq, logits in zip(range(len(prompts)), engine_forward(model, cache, step)):
            generated[seq].append(int(logits[-1].argmax()))
for seq, tokens in enumerate(generated):
    assert tokens == expected[seq].tolist(), f"sequence {seq} differs"
print("paged engine == model.generate with the contiguous cache, token for token, for all three prompts")
print(repr(tokenizer.decode(prompts[1].tolist())), "->", repr(tokenizer.decode(generated[1])))
blocks_used = cache.allocator.used
lengths_now = [len(p) + new_tokens - 1 for p in prompts]
assert blocks_used == sum(-(-n // 16) for n in lengths_now)
contiguous = len(prompts) * config.context
print(f"blocks in use: {blocks_used} x 16 = {blocks_used * 16} positions for {sum(lengths_now)} tokens;")
print(f"a contiguous cache reserving the model's context for each would hold {contiguous} positions")
for seq in range(len(prompts)):
    cache.free_sequence(seq)
assert cache.allocator.used == 0 and len(cache.allocator.free) == 64

# %% [markdown]
# ## 3. Continuous batching
#
# Decoding one token for one sequence reads every weight of the model to do a
# few multiply-adds per weight: the hardware is starved. Decoding one token for
# each of 16 sequences reads the weights once for all of them, so a step costs
# nearly the same and produces 16 tokens. Batching is how servers get their
# throughput. The question is *when* requests join the batch.
#
# * **Static batching** takes a batch of requests, runs it until the last one is
#   finished, then takes the next batch. Requests that finish early leave their
#   slot empty until the longest one is done.
# * **Continuous batching** (iteration-level scheduling, from the Orca paper,
#   Yu et al., 2022) decides at every step: finished sequences leave, waiting
#   requests are prefilled and join. The slots stay full.
#
# Output lengths vary a lot in practice, and that variance is what static
# batching pays for. Our workload: 48 requests, prompts of 8 to 64 tokens of
# real validation text, answers of a length drawn from a geometric
# distribution (mean 32, capped at 128), since a small base model has no
# reason to stop. Both schedulers use the same engine, the same four slots and
# the same greedy decoding; static batching is even given the advantage that
# finished sequences stop costing compute. We measure generated tokens per
# second, for three workloads.


# %%
@dataclass
class Request:
    prompt: torch.Tensor
    max_new: int
    output: list[int] = field(default_factory=list)
    margins: list[float] = field(default_factory=list)
    """The gap between the two largest logits at each step: how close greedy decoding came to a tie."""


def make_workload(seed: int, n: int = 48) -> list[Request]:
    generator = torch.Generator().manual_seed(seed)
    requests = []
    for _ in range(n):
        length = int(torch.randint(8, 65, (1,), generator=generator))
        start = int(torch.randint(0, len(validation) - length, (1,), generator=generator))
        uniform = float(torch.rand((), generator=generator))
        max_new = min(128, 1 + int(math.log1p(-uniform) / math.log1p(-1 / 32)))  # geometric, mean 32
        requests.append(Request(validation[start : start + length], max_new))
    return requests


def serve(requests: list[Request], slots: int, continuous: bool, block_size: int = 16) -> dict:
    """Run every request to its length; return wall time, steps and the batch occupancy."""
    torch.manual_seed(0)
    cache = PagedKVCache(config, n_blocks=slots * (-(-(64 + 128) // block_size)), block_size=block_size)
    waiting = deque(range(len(requests)))
    running: list[int] = []
    steps = occupied = 0
    started = time.perf_counter()
    with torch.no_grad():
        while waiting or running:
            joining = []
            if continuous or not running:
                while waiting and len(running) + len(joining) < slots:
                    joining.append(waiting.popleft())
            batch = [(r, torch.tensor(requests[r].output[-1:])) for r in running]
            for r in joining:
                cache.add_sequence(r)
                batch.append((r, requests[r].prompt))
            running += joining
            for (r, _), logits in zip(batch, engine_forward(model, cache, batch)):
                top = logits[-1].topk(2).values
                requests[r].output.append(int(logits[-1].argmax()))
                requests[r].margins.append(float(top[0] - top[1]))
            steps += 1
            occupied += len(running)
            for r in [r for r in running if len(requests[r].output) == requests[r].max_new]:
                running.remove(r)
                cache.free_sequence(r)
    seconds = time.perf_counter() - started
    tokens = sum(len(r.output) for r in requests)
    return {"seconds": seconds, "steps": steps, "tokens": tokens, "occupancy": occupied / (steps * slots)}


results = {"static": [], "continuous": []}
served = {"static": [], "continuous": []}
for seed in range(3):
    for name in results:
        served[name].append(make_workload(seed))
        results[name].append(serve(served[name][-1], slots=4, continuous=name == "continuous"))
    static, cont = results["static"][-1], results["continuous"][-1]
    print(
        f"workload {seed}: {cont['tokens']} tokens; static {static['steps']} steps, "
        f"{static['tokens'] / static['seconds']:.0f} tokens/s, occupancy {static['occupancy']:.0%}; "
        f"continuous {cont['steps']} steps, {cont['tokens'] / cont['seconds']:.0f} tokens/s, "
        f"occupancy {cont['occupancy']:.0%}"
    )

# %% [markdown]
# Both schedulers generate the same number of tokens. Do they generate the same
# tokens? Greedy decoding is deterministic, but a sequence batched with
# different neighbours goes through attention calls of different shapes, whose
# floating-point sums are ordered differently: its logits move by about
# $10^{-6}$. That flips the argmax only where the two best tokens were tied to
# that precision, and from there the two runs continue differently. (Making an
# engine *batch-invariant*, bit for bit, takes kernels written for it.) So the
# check is: the two runs agree until they first differ, and where they differ the
# top two logits were within $10^{-3}$ of each other. The same holds against
# `model.generate` on each request alone.


# %%
def first_difference(a: list[int], b: list[int]) -> int | None:
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)


diverged = 0
for static_run, continuous_run in zip(served["static"], served["continuous"]):
    for a, b in zip(static_run, continuous_run):
        assert len(a.output) == len(b.output) == a.max_new
        i = first_difference(a.output, b.output)
        if i is not None:
            diverged += 1
            assert min(a.margins[i], b.margins[i]) < 1e-3, f"a real difference, margin {a.margins[i]:.4f}"
for r in served["continuous"][0][:4]:
    alone = model.generate(r.prompt[None], r.max_new, temperature=0)[0, len(r.prompt) :].tolist()
    i = first_difference(alone, r.output)
    assert i is None or r.margins[i] < 1e-3, "the engine's output differs from model.generate"
print(f"{diverged} of {sum(map(len, served['static']))} requests diverged between the schedulers, each at a tie")

speedups = np.array(
    [
        (c["tokens"] / c["seconds"]) / (s["tokens"] / s["seconds"])
        for s, c in zip(results["static"], results["continuous"])
    ]
)
step_ratio = np.array([s["steps"] / c["steps"] for s, c in zip(results["static"], results["continuous"])])
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for i, name in enumerate(results):
    rates = [r["tokens"] / r["seconds"] for r in results[name]]
    axes[0].bar(i, np.mean(rates), yerr=np.std(rates), capsize=6, color=["tab:grey", "tab:blue"][i])
    axes[1].bar(i, np.mean([r["occupancy"] for r in results[name]]), color=["tab:grey", "tab:blue"][i])
for ax, label in zip(axes, ["generated tokens per second", "mean share of slots busy"]):
    ax.set_xticks([0, 1], list(results))
    ax.set_ylabel(label)
axes[0].set_title("Throughput, 3 workloads (mean and sd)")
axes[1].set_title("Batch occupancy")
plt.tight_layout()
plt.show()
print(f"continuous / static: {step_ratio.mean():.2f}x fewer steps, {speedups.mean():.2f}x the throughput")
print(f"(throughput ratios per workload: {np.round(speedups, 2)}; timed on a shared CPU)")
assert (step_ratio > 1.3).all(), step_ratio
assert np.median(speedups) > 1.1, speedups

# %% [markdown]
# On a GPU the effect is larger still, because a decoding step there costs
# almost the same for 1 or 64 sequences; here a step's cost grows a little
# with the batch. Real engines add **chunked prefill** (a long prompt is
# split across steps so it does not stall the decoding sequences), a limit on
# the tokens per step, and **preemption** (when blocks run out, a sequence is
# evicted and recomputed later).
#
# ## 4. Prefix caching
#
# Many requests start the same way: a system prompt, a few-shot template, the
# document a user asks several questions about, the conversation so far in a
# chat. Their keys and values for that prefix are identical, so they can share
# blocks. vLLM names each *full* block by a hash of its tokens chained with the
# hash of the block before it (the same tokens at a different place in a
# different prefix are a different block), keeps a table from hash to block,
# and lets a new request start from the longest chain of blocks it finds.
# SGLang's RadixAttention keeps the same information in a radix tree.
# Only full blocks are shared, so a sequence never writes into a shared block.


# %%
class PrefixCache:
    """Full blocks named by a hash chained over the tokens before them, so equal prefixes share blocks."""

    def __init__(self, cache: PagedKVCache) -> None:
        self.cache = cache
        self.blocks: dict[str, int] = {}

    def chain(self, tokens: torch.Tensor) -> list[str]:
        size, names, parent = self.cache.block_size, [], ""
        for start in range(0, len(tokens) - size + 1, size):
            parent = hashlib.sha256((parent + str(tokens[start : start + size].tolist())).encode()).hexdigest()
            names.append(parent)
        return names

    def admit(self, seq: int, prompt: torch.Tensor) -> int:
        """Start a sequence from the cached blocks of its prompt; return how many prompt tokens are cached."""
        names = self.chain(prompt[:-1])  # keep one token to compute: its logits give the first output
        shared = []
        for name in names:
            if name not in self.blocks:
                break
            shared.append(self.blocks[name])
            self.cache.allocator.share(self.blocks[name])
        self.cache.add_sequence(seq, shared, len(shared) * self.cache.block_size)
        return len(shared) * self.cache.block_size

    def publish(self, seq: int, prompt: torch.Tensor) -> None:
        """After prefill, offer the sequence's full prompt blocks to later requests (the cache holds a reference)."""
        for name, block in zip(self.chain(prompt), self.cache.tables[seq]):
            if name not in self.blocks:
                self.blocks[name] = block
                self.cache.allocator.share(block)


def answer_all(prompts: list[torch.Tensor], use_prefix_cache: bool, new: int = 8) -> tuple[list, int, float]:
    """Serve the prompts one after another; return outputs, prompt tokens computed, and seconds."""
    cache = PagedKVCache(config, n_blocks=256)
    prefix = PrefixCache(cache)
    outputs, computed = [], 0
    started = time.perf_counter()
    with torch.no_grad():
        for seq, prompt in enumerate(prompts):
            if use_prefix_cache:
                cached = prefix.admit(seq, prompt)
            else:
                cache.add_sequence(seq)
                cached = 0
            computed += len(prompt) - cached
            logits = engine_forward(model, cache, [(seq, prompt[cached:])])[0]
            if use_prefix_cache:
                prefix.publish(seq, prompt)
            tokens = [int(logits[-1].argmax())]
            for _ in range(new - 1):
                tokens.append(int(engine_forward(model, cache, [(seq, torch.tensor(tokens[-1:]))])[0][-1].argmax()))
            outputs.append(tokens)
            cache.free_sequence(seq)
    return outputs, computed, time.perf_counter() - started


system_prompt = validation[20000:20160]  # 160 tokens of real text shared by every request
questions = [validation[s : s + 12] for s in range(30000, 30000 + 10 * 500, 500)]
prompts = [torch.cat([system_prompt, q]) for q in questions]
plain, plain_computed, plain_seconds = answer_all(prompts, use_prefix_cache=False)
shared, shared_computed, shared_seconds = answer_all(prompts, use_prefix_cache=True)
assert plain == shared, "prefix caching changed the outputs"
expected_computed = len(prompts[0]) + (len(prompts) - 1) * (len(prompts[0]) - len(system_prompt))
assert shared_computed == expected_computed, (shared_computed, expected_computed)
print(f"prompt tokens computed: {plain_computed} without the prefix cache, {shared_computed} with it")
print(f"time for 10 requests: {plain_seconds:.2f} s without, {shared_seconds:.2f} s with (same outputs)")

# %% [markdown]
# The first request computes the 160-token prefix and publishes its ten full
# blocks; each later one finds them and computes only its own 12 tokens. The
# outputs are identical because the cached keys and values are the very ones
# the request would have computed. A real server also evicts cached blocks
# (least recently used first) when memory runs short, and a request that
# shares a prefix with a running one can share its blocks at once.
#
# ## 5. Quantization formats
#
# The production topic quantized weights to int8 and int4 with one scale per
# row or group. The formats people download are refinements of that idea.
#
# **GGUF** is the file format of llama.cpp (and of Ollama, LM Studio and the
# many tools built on it): a header of key-value metadata (architecture,
# context length, the tokenizer itself), a table of tensors with name, shape,
# type and offset, then the tensor data, aligned. Its quantization types work
# on **blocks** of 32 weights (or super-blocks of 256 for the "K-quants" such as
# `Q4_K`): `Q8_0` stores 32 signed bytes and one fp16 scale, 8.5 bits per
# weight; `Q4_0` stores 32 four-bit values and one fp16 scale, 4.5 bits per
# weight. We write `Q4_0` and `Q8_0` from their definitions and compare, byte
# for byte, with the `gguf` package's implementation:
#
# * `Q8_0`: $d = \max|x| / 127$, $q = \operatorname{round}(x / d)$ (halves away from zero).
# * `Q4_0`: take the weight of largest magnitude *with its sign*, $x_{\max}$;
#   $d = x_{\max} / (-8)$; $q = \min(15, \lfloor x / d + 8.5 \rfloor)$, so
#   the extreme weight lands exactly on $-8 d$ and 16 levels cover
#   $[-8d, 7d]$. Two 4-bit values share a byte: the first half of the block in
#   the low nibbles, the second half in the high ones.


# %%
def q8_0(weights: torch.Tensor) -> bytes:
    blocks = weights.reshape(-1, 32).float()
    d = blocks.abs().amax(-1, keepdim=True) / 127
    inverse = torch.where(d == 0, 0, 1 / d)
    scaled = blocks * inverse
    whole = torch.floor(scaled.abs())
    q = torch.sign(scaled) * (whole + torch.floor(2 * (scaled.abs() - whole)))  # halves away from zero, like roundf
    rows = torch.cat([d.half().view(torch.uint8), q.to(torch.int8).view(torch.uint8)], dim=-1)
    return rows.numpy().tobytes()


def q4_0(weights: torch.Tensor) -> bytes:
    blocks = weights.reshape(-1, 32).float()
    extreme = blocks.gather(-1, blocks.abs().argmax(-1, keepdim=True))
    d = extreme / -8
    inverse = torch.where(d == 0, 0, 1 / d)
    q = torch.trunc(blocks * inverse + 8.5).clamp(0, 15).to(torch.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    rows = torch.cat([d.half().view(torch.uint8), packed], dim=-1)
    return rows.numpy().tobytes()


def dequantize_q4_0(data: bytes, shape: tuple[int, ...]) -> torch.Tensor:
    rows = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(-1, 18)
    d = rows[:, :2].contiguous().view(torch.float16).float()
    low, high = rows[:, 2:] & 0x0F, rows[:, 2:] >> 4
    q = torch.cat([low, high], dim=-1).float() - 8
    return (q * d).reshape(shape)


weight = model.blocks[0].mlp.up.weight.detach()
for name, ours, qtype in [("Q8_0", q8_0, GGMLQuantizationType.Q8_0), ("Q4_0", q4_0, GGMLQuantizationType.Q4_0)]:
    theirs = gguf.quants.quantize(weight.numpy(), qtype)
    assert ours(weight) == theirs.tobytes(), f"{name} differs from gguf's"
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    print(f"{name}: byte for byte equal to gguf.quants; {type_size} bytes per {block_size} weights = {8 * type_size / block_size} bits per weight")
reference = torch.from_numpy(gguf.quants.dequantize(gguf.quants.quantize(weight.numpy(), GGMLQuantizationType.Q4_0), GGMLQuantizationType.Q4_0))
assert torch.equal(dequantize_q4_0(q4_0(weight), weight.shape), reference.reshape(weight.shape))

# %% [markdown]
# A real `.gguf` file of the whole model: its configuration and tokenizer size
# as metadata, the embedding kept in fp16 (as llama.cpp usually keeps some
# tensors at higher precision) and every other matrix in `Q4_0`. Read back
# with `GGUFReader`, the metadata and tensors come out as written.

# %%
folder = Path(tempfile.mkdtemp())
path = folder / "pathgpt-q4_0.gguf"
writer = GGUFWriter(str(path), arch="pathgpt")
writer.add_context_length(config.context)
writer.add_embedding_length(config.d_model)
writer.add_block_count(config.n_layers)
writer.add_head_count(config.n_heads)
writer.add_head_count_kv(config.kv_heads)
writer.add_uint32("pathgpt.vocab_size", config.vocab_size)
state = {name: p.detach() for name, p in model.named_parameters()}
for name, tensor in state.items():
    if tensor.ndim == 2 and name != "token_embedding.weight":
        data = gguf.quants.quantize(tensor.numpy(), GGMLQuantizationType.Q4_0)
        writer.add_tensor(name, data, raw_dtype=GGMLQuantizationType.Q4_0)
    else:
        writer.add_tensor(name, tensor.numpy().astype(np.float16 if tensor.ndim == 2 else np.float32))
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_tensors_to_file()
writer.close()

reader = GGUFReader(str(path))
fields = {name: field.parts[field.data[0]] for name, field in reader.fields.items() if field.data}
assert int(fields["pathgpt.block_count"][0]) == config.n_layers
assert int(fields["pathgpt.vocab_size"][0]) == config.vocab_size
read = {t.name: t for t in reader.tensors}
assert set(read) == set(state)
up = read["blocks.0.mlp.up.weight"]
assert up.tensor_type == GGMLQuantizationType.Q4_0
restored = gguf.quants.dequantize(up.data, up.tensor_type).reshape(weight.shape)
assert np.array_equal(restored, reference.reshape(weight.shape).numpy())
fp32_bytes = sum(t.numel() * 4 for t in state.values())
print(f"{path.name}: {path.stat().st_size / 1e6:.2f} MB against {fp32_bytes / 1e6:.2f} MB of float32 weights")
for t in list(reader.tensors)[:4]:
    print(f"  {t.name:32s} {t.tensor_type.name:5s} shape {[int(n) for n in t.shape]}")

# %% [markdown]
# Round-to-nearest treats every weight alike. Two methods, both used to make
# the 4-bit checkpoints people run, do better by looking at data: the
# activations a layer actually receives on calibration text.
#
# **GPTQ** (Frantar et al., 2022) quantizes a layer's input columns one at a
# time and, after each, adjusts the columns not yet quantized to cancel the
# error it made on the calibration inputs $X$. With $H = X^\top X$ (the
# Hessian of the layer's squared output error), the update after quantizing
# column $j$ with error $e_j = (w_j - \hat w_j) / [H^{-1}]_{jj}$ is
# $w_{j+1:} \mathrel{-}= e_j [H^{-1}]_{j, j+1:}$. The rows of the Cholesky factor
# of $H^{-1}$ give these coefficients for every step at once.
#
# **AWQ** (Lin et al., 2023) observes that a few input channels carry much
# larger activations than the rest, and the weights that meet them matter
# most. It multiplies those weight columns by a factor $s_j > 1$ before
# rounding (and divides the activations by it, folded into the previous
# operation) so that they lose less precision, with
# $s_j = \overline{|x_j|}^{\alpha}$ and $\alpha$ chosen on calibration data.
#
# We quantize every linear layer of the model's blocks to 4 bits with one scale
# per output row (a hard setting that shows the differences; groups of 32 or
# 128 soften them) three ways and compare the model's validation loss, with
# three different calibration sets.


# %%
def quantize_rows(w: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """Symmetric round-to-nearest with one scale per output row, dequantized."""
    top = 2 ** (bits - 1) - 1
    scale = w.abs().amax(1, keepdim=True).clamp_min(1e-12) / top
    return (w / scale).round().clamp(-top - 1, top) * scale


def gptq(w: torch.Tensor, h: torch.Tensor, bits: int = 4, damp: float = 0.01) -> torch.Tensor:
    """GPTQ for one layer: columns quantized in order, each error spread over the later columns."""
    w = w.clone().double()
    h = h.double() + damp * h.diagonal().mean() * torch.eye(len(h), dtype=torch.float64)
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    top = 2 ** (bits - 1) - 1
    scale = w.abs().amax(1, keepdim=True).clamp_min(1e-12) / top  # the grid is fixed before any update
    out = torch.zeros_like(w)
    for j in range(w.shape[1]):
        out[:, j] = (w[:, j : j + 1] / scale).round().clamp(-top - 1, top).squeeze(1) * scale.squeeze(1)
        error = (w[:, j] - out[:, j]) / u[j, j]
        w[:, j + 1 :] -= error[:, None] * u[j, j + 1 :][None, :]
    return out.float()


def awq(w: torch.Tensor, x: torch.Tensor, bits: int = 4) -> torch.Tensor:
    """AWQ's scale search: columns scaled by mean|x|^alpha before rounding, the alpha with least output error."""
    magnitude = x.abs().mean(0).clamp_min(1e-8)
    target = x @ w.T
    best, best_error = None, float("inf")
    for alpha in torch.linspace(0, 1, 11):
        s = magnitude**alpha
        s = s / (s.max() * s.min()).sqrt()
        candidate = quantize_rows(w * s, bits) / s
        error = (x @ candidate.T - target).pow(2).mean().item()
        if error < best_error:
            best, best_error = candidate, error
    return best


def calibration_inputs(seed: int, windows: int = 8, length: int = 128) -> dict[str, torch.Tensor]:
    """What every linear layer of the blocks receives on random windows from the first half of the validation split."""
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, len(validation) // 2 - length, (windows,), generator=generator)
    batch = torch.stack([validation[s : s + length] for s in starts])
    inputs, hooks = {}, []
    for name, module in model.named_modules():
        if isinstance(module, torch.nn.Linear) and name.startswith("blocks."):
            hooks.append(module.register_forward_hook(lambda m, a, o, name=name: inputs.__setitem__(name, a[0].flatten(0, 1))))
    with torch.no_grad():
        model(batch)
    for hook in hooks:
        hook.remove()
    return inputs


held_out = validation[len(validation) // 2 :]  # calibration windows come from the first half only
original = {name: p.detach().clone() for name, p in model.named_parameters()}
baseline_loss = evaluate(model, held_out, max_windows=24)


def loss_with(method: str, inputs: dict[str, torch.Tensor]) -> float:
    with torch.no_grad():
        for name, x in inputs.items():
            w = original[name + ".weight"]
            if method == "round to nearest":
                q = quantize_rows(w)
            elif method == "GPTQ":
                q = gptq(w, x.T @ x)
            else:
                q = awq(w, x)
            model.get_parameter(name + ".weight").copy_(q)
        loss = evaluate(model, held_out, max_windows=24)
        for name in inputs:
            model.get_parameter(name + ".weight").copy_(original[name + ".weight"])
    return loss


methods = ["round to nearest", "GPTQ", "AWQ"]


def quantized(method: str, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if method == "GPTQ":
        return gptq(w, x.T @ x)
    return awq(w, x) if method == "AWQ" else quantize_rows(w)


def relative_error(w: torch.Tensor, q: torch.Tensor, x: torch.Tensor) -> float:
    return ((x @ q.T - x @ w.T).pow(2).mean() / (x @ w.T).pow(2).mean()).item()


increase = {m: [] for m in methods}
layer_error = {m: [] for m in methods}
for seed in range(3):
    inputs = calibration_inputs(seed)
    unseen = calibration_inputs(100 + seed)  # other windows, for the per-layer errors
    for method in methods:
        weights = {name: quantized(method, original[name + ".weight"], x) for name, x in inputs.items()}
        errors = [relative_error(original[name + ".weight"], q, unseen[name]) for name, q in weights.items()]
        layer_error[method].append(float(np.mean(errors)))
        with torch.no_grad():
            for name, q in weights.items():
                model.get_parameter(name + ".weight").copy_(q)
            increase[method].append(evaluate(model, held_out, max_windows=24) - baseline_loss)
            for name in weights:
                model.get_parameter(name + ".weight").copy_(original[name + ".weight"])
assert all(torch.equal(p, original[name]) for name, p in model.named_parameters())
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for i, method in enumerate(methods):
    axes[0].bar(i, np.mean(increase[method]), yerr=np.std(increase[method]), capsize=6)
    axes[1].bar(i, np.mean(layer_error[method]), yerr=np.std(layer_error[method]), capsize=6)
for ax in axes:
    ax.set_xticks(range(3), methods)
axes[0].set(ylabel="validation loss increase (nats)", title="Whole model, 4-bit weights, one scale per row")
axes[1].set(ylabel="relative output error", title=f"Mean over the {len(inputs)} layers, unseen inputs")
plt.tight_layout()
plt.show()
print(f"float32 validation loss {baseline_loss:.4f}; with every block's weights in 4 bits (3 calibration sets):")
for method in methods:
    print(
        f"  {method:17s} loss {np.mean(increase[method]):+.4f} +- {np.std(increase[method]):.4f} nats,"
        f" layer output error {np.mean(layer_error[method]):.5f} +- {np.std(layer_error[method]):.5f}"
    )
assert all(g < r for g, r in zip(layer_error["GPTQ"], layer_error["round to nearest"]))
assert all(a < r for a, r in zip(layer_error["AWQ"], layer_error["round to nearest"]))
assert np.mean(increase["GPTQ"]) < np.mean(increase["round to nearest"])

# %% [markdown]
# AWQ's premise is that a few input channels carry far larger activations than
# the rest, which is what Dettmers et al. (2022) found in models of billions
# of parameters. How spread out are the channels our layers see?

# %%
spread = {name: (x.abs().mean(0).max() / x.abs().mean(0).median()).item() for name, x in calibration_inputs(0).items()}
print("largest channel's mean |x| over the median channel's, per layer input:")
print("  " + ", ".join(f"{name.removeprefix('blocks.')}: {ratio:.1f}" for name, ratio in list(spread.items())[:10]))

# %% [markdown]
# Both data-aware methods beat plain rounding on inputs they were not
# calibrated on, GPTQ by far more: it compensates each rounding error with the
# weights not yet rounded, at the price of a pass over calibration data per
# layer. AWQ only rescales and rounds, so it is quick, and its gain grows with
# the outlier channels, which our small model has in a few layers only (the
# ratios above), so here its gain is small; each layer is also tuned on the
# inputs of the unquantized model, so a gain per layer need not fully survive
# into the whole model's loss. The two combine with group-wise
# scales (the usual 4-bit checkpoints use groups of 128 weights), which shrink
# every method's error.
#
# ## 6. Local inference tools
#
# What you would use instead of this notebook's engine:
#
# | tool | what it is | when to use it |
# |---|---|---|
# | **llama.cpp** | a C/C++ inference engine with its own tensor library (ggml), running GGUF models on CPUs, Apple silicon and GPUs, with a command line, an OpenAI-compatible `llama-server` and conversion and quantization tools | running a quantized model on a laptop, a phone or a CPU server, with few dependencies |
# | **Ollama** | a friendly wrapper around llama.cpp: `ollama run <model>` downloads a GGUF model from its library and serves it through a local REST API; models are described by a `Modelfile` | trying models locally and wiring them into applications with the least effort |
# | **vLLM** | a Python serving engine for GPUs built on PagedAttention, continuous batching, prefix caching, speculative decoding and quantized kernels (GPTQ, AWQ, FP8), with an OpenAI-compatible server | serving many users at high throughput on data-centre GPUs |
#
# SGLang (RadixAttention, a structured-generation front end) and NVIDIA's
# TensorRT-LLM play vLLM's role; MLX does llama.cpp's on Apple silicon.
#
# ## What to try next
#
# 1. **Merging partial softmaxes.** FlashAttention's parallel variants (and
#    FlashDecoding, which splits a long cache across threads) compute partial
#    results over disjoint key sets and merge them. Write
#    `merge(m1, l1, a1, m2, l2, a2)` that returns the merged `(m, l, a)` of two
#    partial states as defined in section 1 (each `m`, `l` of shape `(n, 1)`,
#    `a` of shape `(n, d)`), so that `a / l` is the attention output over both
#    key sets.
#
# <details><summary>Solution</summary>
#
# ```python
# def merge(m1, l1, a1, m2, l2, a2):
#     m = torch.maximum(m1, m2)
#     c1, c2 = torch.exp(m1 - m), torch.exp(m2 - m)
#     return m, c1 * l1 + c2 * l2, c1 * a1 + c2 * a2
# ```
#
# Both states are brought to the common maximum before adding, exactly as a
# new tile is folded in; the merge is associative, so any number of parts can
# be combined in any tree.
# </details>
#
# 2. **GGUF's Q4_1.** `Q4_1` stores, per block of 32 weights, an fp16 scale
#    $d = (\max - \min) / 15$, an fp16 minimum, and $q = \min(15, \lfloor (x - \min) / d + 0.5 \rfloor)$
#    packed like `Q4_0`: 20 bytes per block. Write `q4_1(weights) -> bytes`
#    (layout: `d`, then `min`, then the 16 packed bytes) and check it
#    against `gguf.quants`.
#
# <details><summary>Solution</summary>
#
# ```python
# def q4_1(weights):
#     blocks = weights.reshape(-1, 32).float()
#     low, high = blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)
#     d = (high - low) / 15
#     inverse = torch.where(d == 0, 0, 1 / d)
#     q = torch.trunc((blocks - low) * inverse + 0.5).clamp(0, 15).to(torch.uint8)
#     packed = q[:, :16] | (q[:, 16:] << 4)
#     parts = [d.half().view(torch.uint8), low.half().view(torch.uint8), packed]
#     return torch.cat(parts, dim=-1).numpy().tobytes()
# ```
#
# One more fp16 per block buys an asymmetric range, which suits blocks whose
# weights are not centred on zero: 5 bits per weight instead of 4.5.
# </details>
#
# 3. **Preemption.** Give `serve` fewer blocks than the workload needs, and when
#    `take` fails, evict the most recently admitted sequence (free its blocks,
#    put it back at the front of the queue with its output so far as part of
#    its prompt). Check that every output is unchanged.
#
# Write your answers to exercises 1 and 2 in the next cell and run the check
# after it.


# %%
def merge(m1, l1, a1, m2, l2, a2):
    raise NotImplementedError  # exercise 1


def q4_1(weights: torch.Tensor) -> bytes:
    raise NotImplementedError  # exercise 2


# %%
from exercises import run_check


def check_merge(candidate) -> None:
    generator = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(5, 40, 8, generator=generator, dtype=torch.float64) for _ in range(3))

    def partial(keys, values):
        s = q[0] @ keys.T / math.sqrt(8)
        m = s.amax(-1, keepdim=True)
        return m, torch.exp(s - m).sum(-1, keepdim=True), torch.exp(s - m) @ values

    m, ell, a = candidate(*partial(k[0, :13], v[0, :13]), *partial(k[0, 13:], v[0, 13:]))
    reference = torch.softmax(q[0] @ k[0].T / math.sqrt(8), -1) @ v[0]
    assert torch.allclose(a / ell, reference, atol=1e-12), "a / l is not the attention over both key sets"
    assert torch.allclose(m, (q[0] @ k[0].T / math.sqrt(8)).amax(-1, keepdim=True)), "m should be the overall max"


def check_q4_1(candidate) -> None:
    for seed in range(3):
        w = torch.randn(8, 64, generator=torch.Generator().manual_seed(seed)) + seed
        expected = gguf.quants.quantize(w.numpy(), GGMLQuantizationType.Q4_1).tobytes()
        assert candidate(w) == expected, "bytes differ from gguf.quants' Q4_1"


print("exercise 1:", run_check(check_merge, merge))
print("exercise 2:", run_check(check_q4_1, q4_1))

# %% [markdown]
# The checks are tested too: they must pass the solutions above, reject a
# wrong answer, and report an untouched stub as not attempted.


# %%
def solution_merge(m1, l1, a1, m2, l2, a2):
    m = torch.maximum(m1, m2)
    c1, c2 = torch.exp(m1 - m), torch.exp(m2 - m)
    return m, c1 * l1 + c2 * l2, c1 * a1 + c2 * a2


def wrong_merge(m1, l1, a1, m2, l2, a2):
    return torch.maximum(m1, m2), l1 + l2, a1 + a2  # forgets to rescale


def solution_q4_1(weights):
    blocks = weights.reshape(-1, 32).float()
    low, high = blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)
    d = (high - low) / 15
    inverse = torch.where(d == 0, 0, 1 / d)
    q = torch.trunc((blocks - low) * inverse + 0.5).clamp(0, 15).to(torch.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    parts = [d.half().view(torch.uint8), low.half().view(torch.uint8), packed]
    return torch.cat(parts, dim=-1).numpy().tobytes()


def wrong_q4_1(weights):
    blocks = weights.reshape(-1, 32).float()
    low, high = blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)
    d = (high - low) / 15
    q = torch.round((blocks - low) / d).clamp(0, 15).to(torch.uint8)
    packed = q[:, 0::2] | (q[:, 1::2] << 4)  # neighbours packed together: not GGUF's layout
    return torch.cat([d.half().view(torch.uint8), low.half().view(torch.uint8), packed], dim=-1).numpy().tobytes()


assert run_check(check_merge, solution_merge) == "passed"
assert run_check(check_q4_1, solution_q4_1) == "passed"
assert run_check(check_merge, wrong_merge).startswith("not yet")
assert run_check(check_q4_1, wrong_q4_1).startswith("not yet")
assert run_check(check_merge, merge).startswith("not attempted")
assert run_check(check_q4_1, q4_1).startswith("not attempted")
