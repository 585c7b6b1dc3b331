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
# # The decoder-only transformer, 2019 and today
#
# GPT-style language models are a stack of identical blocks, each made of
# causal self-attention and a small MLP, wrapped in residual connections and
# normalisation. The plan has not changed since GPT-2 (2019), but almost every
# part inside the block has: the open models a learner meets today (Llama 3,
# Qwen, Mistral, Gemma, OLMo) normalise with **RMSNorm**, encode positions with
# **RoPE**, use a gated MLP (**SwiGLU** in most of them) and share keys and values
# between heads with **grouped-query attention**.
#
# All the LLM notebooks of this path share one model, the `pathgpt` package that
# sits beside them: `GPT` with a `GPTConfig` that switches every part between
# the 2019 recipe (`GPTConfig.gpt2_style`) and today's (`GPTConfig.modern`). In
# this notebook we open it up part by part, read its code, check each part
# against an independent reference, count what each change buys, and train both
# blocks on a task small enough for a laptop CPU but impossible without
# attention: **reversing a sequence of digits**.
#
# **What you will build and check**
#
# - RMSNorm, checked against `torch.nn.RMSNorm` and against LayerNorm;
# - rotary position embeddings (RoPE), checked against complex multiplication
#   and for the property that makes them work: scores depend only on the
#   distance between tokens;
# - causal attention written out, checked against PyTorch's fused
#   `scaled_dot_product_attention`, then multi-query and grouped-query
#   attention, and what they save in the KV cache;
# - the SwiGLU MLP, checked by hand, and why it is $\frac{8}{3}d$ wide;
# - the whole model against a plain implementation written here from the
#   weights, its parameter count by formula, its initialisation;
# - both blocks trained on digit reversal, and a look at their attention.

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
import inspect
import math
import os
from dataclasses import fields

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from pathgpt import GPT, GPTConfig, KVCache, RMSNorm, apply_rope, attention_weights, causal_attention, rope_tables
from pathgpt import TrainConfig, learning_rate, make_optimizer
from pathgpt.model import SwiGLU
from torch import Tensor

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)
F64 = torch.float64


def show_source(obj: object) -> None:
    """Print the package's code for obj: what the notebooks import is what you read here."""
    print(inspect.getsource(obj))


# %% [markdown]
# ## 1. Two presets of one model
#
# A `GPTConfig` holds every choice. The two presets differ in exactly the parts
# this notebook is about; everything else (pre-norm residual blocks, a tied
# output head, GPT-2's initialisation) they share.

# %%
old = GPTConfig.gpt2_style(vocab_size=4096, d_model=768, n_heads=12, n_layers=12, context=1024)
new = GPTConfig.modern(vocab_size=4096, d_model=768, n_heads=12, n_layers=12, context=1024)
print(f"{'field':12s} {'gpt2_style':>12s} {'modern':>12s}")
for field in fields(GPTConfig):
    before, after = getattr(old, field.name), getattr(new, field.name)
    if before != after:
        print(f"{field.name:12s} {before!s:>12s} {after!s:>12s}")
print(f"{'mlp_width':12s} {old.mlp_width:>12d} {new.mlp_width:>12d}")
assert (old.kv_heads, new.kv_heads) == (12, 6) and (old.mlp_width, new.mlp_width) == (3072, 2048)

# %% [markdown]
# Each block computes, with a residual stream $x$ of width $d$:
#
# $$x \leftarrow x + \operatorname{Attention}(\operatorname{Norm}(x)), \qquad
#   x \leftarrow x + \operatorname{MLP}(\operatorname{Norm}(x)).$$
#
# The stream passes through untouched and each sub-layer only *adds* to it,
# which gives gradients a straight path to the bottom. Normalising the input of
# each sub-layer (pre-norm, GPT-2 and every model since) rather than its output
# (post-norm, the original 2017 transformer) trains reliably without delicate
# warm-up tricks. Let us go through the parts in the order the data meets them.
#
# ## 2. Normalisation: LayerNorm, then RMSNorm
#
# **LayerNorm** rescales each token's vector on its own: subtract its mean,
# divide by its standard deviation, then apply a learned per-feature gain
# $\gamma$ and shift $\beta$:
#
# $$\operatorname{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta .$$
#
# **RMSNorm** (Zhang and Sennrich, 2019) drops the centring and the shift and
# divides by the root mean square instead:
#
# $$\operatorname{RMSNorm}(x) = \gamma \odot \frac{x}{\sqrt{\frac1d \sum_m x_m^2 + \epsilon}} .$$
#
# One reduction instead of two, $d$ parameters instead of $2d$, and in practice
# the same quality: the re-scaling, not the re-centring, is what keeps deep
# stacks stable. This is the package's implementation:

# %%
show_source(RMSNorm)

# %%
x = 3.0 * torch.randn(4, 7, 32, dtype=F64) + 1.5
mine, reference = RMSNorm(32, eps=1e-6).double(), torch.nn.RMSNorm(32, eps=1e-6).double()
with torch.no_grad():  # a random gain, so that it is tested too
    mine.weight.copy_(torch.randn(32))
    reference.weight.copy_(mine.weight)
torch.testing.assert_close(mine(x), reference(x), rtol=1e-12, atol=1e-12)

# On vectors whose mean is already zero, RMSNorm and LayerNorm (without its shift) agree exactly.
centred = x - x.mean(-1, keepdim=True)
layer_norm = torch.nn.LayerNorm(32, eps=1e-6, bias=False).double()
torch.testing.assert_close(RMSNorm(32, eps=1e-6).double()(centred), layer_norm(centred), rtol=1e-12, atol=1e-12)
assert not torch.allclose(RMSNorm(32).double()(x), torch.nn.LayerNorm(32).double()(x), atol=0.1)

normalised = RMSNorm(32).double()(x)
torch.testing.assert_close(normalised.pow(2).mean(-1), torch.ones(4, 7, dtype=F64), rtol=1e-4, atol=0)
print("RMSNorm matches torch.nn.RMSNorm, equals LayerNorm on centred inputs, and gives unit RMS")

# %% [markdown]
# ## 3. Positions: learned tables, then rotations
#
# Attention treats its input as a *set*: permute the tokens and the outputs
# are permuted the same way. Word order has to come from somewhere. GPT-2
# *added* a learned vector per position to each token embedding (a table of
# $T \times d$ parameters, 786,432 for its 1024 positions of width 768), and
# the original transformer added a fixed table of sines and cosines. Both
# attach an *absolute* position to each token, and neither says anything
# useful about positions beyond the table.
#
# **Rotary position embeddings** (RoPE; Su et al., 2021) add nothing to the
# embeddings. Instead, inside every attention layer, each query and key vector
# is cut into $d_h/2$ pairs of coordinates, and pair $i$ of the vector at
# position $p$ is rotated by the angle $p\,\theta_i$, with
# $\theta_i = b^{-2i/d_h}$ (base $b = 10000$): fast turns for the first pairs,
# slow ones for the last. Seen as a complex number $z_i = x_i + \mathrm{i}\,x_{i+d_h/2}$,
# the rotation is a multiplication: $z_i \mapsto z_i\,e^{\mathrm{i} p \theta_i}$.
#
# Why it works: the score between a query at position $m$ and a key at
# position $n$ is
#
# $$\operatorname{Re} \sum_i q_i e^{\mathrm{i} m\theta_i}\,\overline{k_i e^{\mathrm{i} n\theta_i}}
#   = \operatorname{Re} \sum_i q_i \overline{k_i}\, e^{\mathrm{i}(m-n)\theta_i},$$
#
# a function of the content and of the **offset** $m - n$ only. Attention sees
# how far apart two tokens are, wherever they are. This is the package's code
# (it pairs coordinate $i$ with $i + d_h/2$, the layout of Hugging Face's
# Llama; Meta's original code pairs neighbours, which is the same rotation after
# a fixed permutation of the weights):

# %%
show_source(rope_tables)
show_source(apply_rope)

# %% [markdown]
# Two independent checks: against a complex-number implementation, and the
# relative-position property itself (shift both positions by the same amount:
# the score does not move; the rotation keeps each vector's length).


# %%
def rope_by_complex_numbers(x: Tensor, base: float = 10000.0) -> Tensor:
    """Pair (x_i, x_{i+d/2}) as the complex number x_i + i x_{i+d/2}, times e^{i p theta_i}."""
    half = x.shape[-1] // 2
    theta = base ** (-2 * torch.arange(half, dtype=F64) / x.shape[-1])
    angles = torch.arange(x.shape[-2], dtype=F64)[:, None] * theta
    z = torch.complex(x[..., :half], x[..., half:]) * torch.polar(torch.ones_like(angles), angles)
    return torch.cat([z.real, z.imag], dim=-1)


head_dim, length = 16, 64
cos, sin = (table.double() for table in rope_tables(head_dim, length))
vectors = torch.randn(3, length, head_dim, dtype=F64)
torch.testing.assert_close(apply_rope(vectors, cos, sin), rope_by_complex_numbers(vectors), rtol=1e-6, atol=1e-6)


def rotated(vector: Tensor, position: int) -> Tensor:
    return apply_rope(vector[None], cos[position : position + 1], sin[position : position + 1])[0]


q, k = torch.randn(head_dim, dtype=F64), torch.randn(head_dim, dtype=F64)
for m, n in [(5, 2), (9, 9), (3, 11)]:
    scores = [float(rotated(q, m + shift) @ rotated(k, n + shift)) for shift in (0, 7, 40)]
    assert max(scores) - min(scores) < 1e-6, (m, n, scores)
    torch.testing.assert_close(rotated(q, m).norm(), q.norm())
assert abs(float(rotated(q, 5) @ rotated(k, 2)) - float(rotated(q, 6) @ rotated(k, 2))) > 1e-3
print("RoPE equals complex multiplication; scores depend on the offset only; lengths are kept")

# %% [markdown]
# What does the offset do to a score? Take a query and a key that point the
# same way (all ones) and move them apart: the score is largest at offset 0 and
# tends to fall as they move apart, with ripples from the fast pairs. With a
# larger base the angles turn more slowly and the decay stretches over longer
# distances, which is what "RoPE scaling" for long contexts plays with.

# %%
offsets = torch.arange(0, 1024)
fig, ax = plt.subplots(figsize=(7, 3.5))
for base in (10000.0, 500000.0):
    cos_b, sin_b = (t.double() for t in rope_tables(64, 1024, base))
    ones = torch.ones(1024, 64, dtype=F64)
    keys_at = apply_rope(ones, cos_b, sin_b)
    ax.plot(offsets, (keys_at[0] @ keys_at.T) / 64, label=f"base {base:,.0f}")
ax.set(xlabel="offset between query and key (positions)", ylabel="score / d_h", title="RoPE score of two identical vectors")
ax.legend()
plt.show()

# %% [markdown]
# Base 500,000 is what Llama 3 uses for its 8,192-token context (Llama 3.1
# stretches that to 128K positions by rescaling the frequencies).
#
# ## 4. Attention, and heads that share keys
#
# Causal self-attention, per head: scores $q_t \cdot k_s / \sqrt{d_h}$, minus
# infinity for every future position $s > t$, a softmax over each row, then a
# weighted average of the values. The package writes it out in
# `attention_weights` (and `causal_attention` multiplies by the values):

# %%
show_source(attention_weights)

# %% [markdown]
# The model itself runs PyTorch's fused kernel,
# `torch.nn.functional.scaled_dot_product_attention`, which computes the same
# thing without ever storing the $T \times T$ weights (FlashAttention's idea).
# Our written-out version must agree with it, and each row of weights must be a
# distribution over the past only:

# %%
q, k, v = (torch.randn(2, 4, 9, 16, dtype=F64) for _ in range(3))
torch.testing.assert_close(
    causal_attention(q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True), rtol=1e-12, atol=1e-12
)
weights = attention_weights(q, k)
torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 9, dtype=F64))
assert torch.equal(weights.triu(1), torch.zeros_like(weights)), "no weight on the future"
print("written-out attention matches scaled_dot_product_attention")

# %% [markdown]
# **Multi-query and grouped-query attention.** During generation a model keeps
# the keys and values of every past token (the *KV cache*, section 7), for
# every layer and every head. Shazeer (2019) noticed that the heads can share
# keys and values with little loss: **multi-query attention** keeps one
# key/value head for all query heads. **Grouped-query attention** (Ainslie et
# al., 2023) is the middle ground: $H$ query heads in $G$ groups, each group
# sharing one key/value head. Query head $h$ reads key/value head
# $\lfloor h / (H/G) \rfloor$. The check: our attention with fewer key/value
# heads equals SDPA's `enable_gqa=True`, and equals ordinary multi-head
# attention on keys and values whose heads are repeated.

# %%
q = torch.randn(2, 8, 10, 16, dtype=F64)
for kv_heads, name in [(8, "multi-head"), (2, "grouped-query"), (1, "multi-query")]:
    k, v = torch.randn(2, kv_heads, 10, 16, dtype=F64), torch.randn(2, kv_heads, 10, 16, dtype=F64)
    ours = causal_attention(q, k, v)
    by_sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    groups = 8 // kv_heads
    repeated = F.scaled_dot_product_attention(
        q, k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1), is_causal=True
    )
    torch.testing.assert_close(ours, by_sdpa, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours, repeated, rtol=1e-12, atol=1e-12)
    print(f"{name:14s} ({kv_heads} key/value heads for 8 query heads) matches SDPA")

# %% [markdown]
# What it saves. Per token, the cache holds keys and values for every layer
# and key/value head: $2 \cdot L \cdot G \cdot d_h$ numbers. For two published
# shapes in 16-bit numbers, one sequence filling the context:
#
# - Llama 2 7B: 32 layers, 32 heads of width 128, multi-head, 4,096 positions;
# - Llama 3 8B: the same layers and heads but 8 key/value heads, 8,192 positions.
#
# We check the formula against the package's `KVCache`, which allocates exactly
# those tensors (in float32, 4 bytes).


# %%
def kv_cache_bytes(layers: int, kv_heads: int, head_dim: int, positions: int, bytes_per_number: int) -> int:
    return 2 * layers * kv_heads * head_dim * positions * bytes_per_number


llama2 = kv_cache_bytes(32, 32, 128, 4096, 2)
llama3 = kv_cache_bytes(32, 8, 128, 8192, 2)
llama3_if_mha = kv_cache_bytes(32, 32, 128, 8192, 2)
print(f"Llama 2 7B, full context:        {llama2 / 2**30:.2f} GiB per sequence")
print(f"Llama 3 8B, full context:        {llama3 / 2**30:.2f} GiB per sequence")
print(f"Llama 3 8B if it were multi-head: {llama3_if_mha / 2**30:.2f} GiB per sequence")
assert llama3_if_mha == 4 * llama3 and llama2 == 2 * 2**30

small = GPTConfig.modern(4096, context=256, d_model=192, n_layers=4, n_heads=6, n_kv_heads=2)
assert KVCache(small, batch_size=3).nbytes == 3 * kv_cache_bytes(4, 2, 32, 256, 4)

# %% [markdown]
# Four times less memory per sequence means four times more sequences in the
# same memory, and, since decoding one token reads the whole cache, up to four
# times less memory traffic per token, which is why nearly every open model since
# Llama 2 70B (2023) uses grouped-query attention. It also trims the
# parameters: $W_K$ and $W_V$ shrink from $d \times d$ to $d \times G d_h$.
#
# ## 5. The MLP: GELU, then SwiGLU
#
# GPT-2's feed-forward layer widens each token's vector to $4d$, applies GELU,
# and projects back: $W_2\,\operatorname{GELU}(W_1 x)$, two matrices of
# $4d^2$. **SwiGLU** (Shazeer, 2020) multiplies two projections, one of them
# through SiLU ($z\,\sigma(z)$), before projecting back:
#
# $$\operatorname{SwiGLU}(x) = W_{\text{down}}\,\big(\operatorname{SiLU}(W_{\text{gate}} x) \odot W_{\text{up}} x\big).$$
#
# The gate lets each hidden unit switch the other's signal on or off
# multiplicatively; it measured better in Shazeer's experiments, and PaLM, Llama
# and most open models since adopted it. Three matrices instead of two: to keep the parameter count
# of the $4d$ GELU layer, the hidden width becomes $\frac{2}{3} \cdot 4d = \frac{8}{3}d$, rounded up to a multiple of 32 here (Llama 2 7B: $\frac83 \cdot 4096 = 10923$, rounded up to a multiple of 256: 11,008).

# %%
show_source(SwiGLU)

# %%
layer = SwiGLU(GPTConfig.modern(10, d_model=48, n_heads=4)).double()
x = torch.randn(3, 5, 48, dtype=F64)
z = x @ layer.gate.weight.T
by_hand = (z / (1 + torch.exp(-z)) * (x @ layer.up.weight.T)) @ layer.down.weight.T
torch.testing.assert_close(layer(x), by_hand, rtol=1e-12, atol=1e-12)

for d in (192, 768, 4096):
    gelu_params = 2 * d * (4 * d)
    swiglu_params = 3 * d * GPTConfig.modern(10, d_model=d, n_heads=4).mlp_width
    print(f"d={d:5d}: GELU MLP {gelu_params:>11,d} parameters, SwiGLU {swiglu_params:>11,d} ({swiglu_params / gelu_params:.3f}x)")
    assert abs(swiglu_params / gelu_params - 1) < 0.05
assert math.ceil(8 / 3 * 4096 / 256) * 256 == 11008

# %% [markdown]
# ## 6. The whole model, and a plain reference for it
#
# `GPT` puts the parts together: token embedding (plus a position table for
# the 2019 preset), `n_layers` blocks, a final norm, and a linear head that
# reuses the embedding matrix (**weight tying**, as in GPT-2 and many small
# models since). Its initialisation is GPT-2's: weights from $\mathcal{N}(0, 0.02)$, and the two projections that write into the residual stream in each
# block scaled down by $1/\sqrt{2L}$, so the stream's variance does not grow with
# depth.

# %%
show_source(GPT.reset_parameters)

# %%
config = GPTConfig.modern(4096, d_model=256, n_layers=8, n_heads=8)
model = GPT(config)
stds = {
    "attention qkv": model.blocks[0].attn.qkv.weight.std().item(),
    "attention output (residual)": model.blocks[0].attn.proj.weight.std().item(),
    "MLP down (residual)": model.blocks[0].mlp.down.weight.std().item(),
}
print({name: round(std, 4) for name, std in stds.items()}, "expected residual:", round(0.02 / math.sqrt(16), 4))
assert abs(stds["attention qkv"] - 0.02) < 0.001
assert abs(stds["MLP down (residual)"] - 0.02 / 4) < 0.0005 and abs(stds["attention output (residual)"] - 0.005) < 0.0005
assert model.head.weight is model.token_embedding.weight

# %% [markdown]
# **Counting parameters by hand.** With vocabulary $V$, context $T$, width $d$,
# $L$ blocks, MLP width $f$, $G$ key/value heads of width $d_h$:
#
# | part | 2019 (biases, LayerNorm, learned positions, MHA) | modern |
# |---|---|---|
# | token embedding (tied head) | $Vd$ | $Vd$ |
# | position table | $Td$ | none |
# | attention | $3d^2 + 3d + d^2 + d$ | $d(d + 2Gd_h) + d^2$ |
# | MLP | $2df + f + d$ | $3df$ |
# | two norms per block, one final | $4d$ per block, $2d$ | $2d$ per block, $d$ |
#
# For GPT-2 small's shape ($d = 768$, $L = 12$, $T = 1024$) we check the
# formula against the model's own count, for both presets.


# %%
def parameters_by_formula(c: GPTConfig) -> int:
    d, f, g = c.d_model, c.mlp_width, c.kv_heads * c.head_dim
    if c.positions == "learned":  # the 2019 preset
        block = (3 * d * d + 3 * d) + (d * d + d) + (2 * d * f + f + d) + 4 * d
        return c.vocab_size * d + c.context * d + c.n_layers * block + 2 * d
    block = d * (d + 2 * g) + d * d + 3 * d * f + 2 * d
    return c.vocab_size * d + c.n_layers * block + d


counts = {}
for preset in (GPTConfig.gpt2_style, GPTConfig.modern):
    c = preset(50257, context=1024, d_model=768, n_layers=12, n_heads=12)
    counts[preset.__name__] = GPT(c).num_parameters()
    assert counts[preset.__name__] == parameters_by_formula(c), preset.__name__
    print(f"{preset.__name__:10s}: {counts[preset.__name__]:,d} parameters")
assert counts["gpt2_style"] == 124_439_808, "GPT-2 small's published count"
print(f"the modern preset is {1 - counts['modern'] / counts['gpt2_style']:.1%} smaller")

# %% [markdown]
# The 2019 count is exactly GPT-2 small's 124,439,808. The modern preset at
# the same width is about 6% smaller: half the key and value projections, no
# position table, no biases.
#
# Now the strongest check of all: a **plain implementation written here**,
# from nothing but the model's weight tensors and the formulas above, one head
# at a time, must give the same logits as the package's model, for both
# presets and for multi-query attention.


# %%
def plain_forward(model: GPT, idx: Tensor) -> Tensor:
    """Logits for one sequence from the weights alone, with explicit formulas and a loop over heads."""
    c, w = model.config, model.state_dict()
    T, hd, H, G = idx.shape[1], c.head_dim, c.n_heads, c.kv_heads

    def norm(x: Tensor, name: str) -> Tensor:
        if c.norm == "rmsnorm":
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + c.norm_eps) * w[name + ".weight"]
        centred = x - x.mean(-1, keepdim=True)
        out = centred / torch.sqrt((centred**2).mean(-1, keepdim=True) + c.norm_eps) * w[name + ".weight"]
        return out + w[name + ".bias"] if c.bias else out

    def linear(x: Tensor, name: str) -> Tensor:
        return x @ w[name + ".weight"].T + (w[name + ".bias"] if c.bias else 0)

    def rope(x: Tensor) -> Tensor:
        return rope_by_complex_numbers(x[None], c.rope_base)[0]

    x = w["token_embedding.weight"][idx[0]]
    if c.positions == "learned":
        x = x + w["position_embedding.weight"][:T]
    mask = torch.full((T, T), -math.inf, dtype=x.dtype).triu(1)
    for i in range(c.n_layers):
        b = f"blocks.{i}."
        qkv = linear(norm(x, b + "attn_norm"), b + "attn.qkv")
        q, k, v = qkv[:, : H * hd], qkv[:, H * hd : (H + G) * hd], qkv[:, (H + G) * hd :]
        heads = []
        for h in range(H):
            g = h // (H // G)
            qh, kh, vh = q[:, h * hd : (h + 1) * hd], k[:, g * hd : (g + 1) * hd], v[:, g * hd : (g + 1) * hd]
            if c.positions == "rope":
                qh, kh = rope(qh), rope(kh)
            heads.append(torch.softmax(qh @ kh.T / math.sqrt(hd) + mask, dim=-1) @ vh)
        x = x + linear(torch.cat(heads, dim=-1), b + "attn.proj")
        h_in = norm(x, b + "mlp_norm")
        if c.mlp == "swiglu":
            gate = linear(h_in, b + "mlp.gate")
            hidden = gate * torch.sigmoid(gate) * linear(h_in, b + "mlp.up")
        else:
            hidden = F.gelu(linear(h_in, b + "mlp.up"))
        x = x + linear(hidden, b + "mlp.down")
    return (norm(x, "norm") @ w["token_embedding.weight"].T)[None]


checked = {
    "2019": GPTConfig.gpt2_style(60, context=16, d_model=32, n_layers=2, n_heads=4),
    "modern": GPTConfig.modern(60, context=16, d_model=32, n_layers=2, n_heads=4),
    "multi-query": GPTConfig.modern(60, context=16, d_model=32, n_layers=2, n_heads=4, n_kv_heads=1),
}
for name, c in checked.items():
    torch.manual_seed(1)
    m = GPT(c).double()
    with torch.no_grad():  # norms and biases away from 1 and 0, so that they are tested too
        for parameter_name, parameter in m.named_parameters():
            if "norm" in parameter_name or parameter_name.endswith("bias"):
                parameter.add_(0.3 * torch.randn_like(parameter))
    tokens = torch.randint(0, 60, (1, 13))
    torch.testing.assert_close(m(tokens), plain_forward(m, tokens), rtol=1e-9, atol=1e-9)
    print(f"{name:12s}: the package's logits equal the plain implementation's")

# %% [markdown]
# ## 7. The causal mask hides the future, and the KV cache changes nothing
#
# If a logit at position $t$ depended on a token after $t$, training would leak
# the answer and generation (which has no future) would break. Changing a late
# token must leave every earlier logit exactly as it was.
#
# And since each position's keys and values depend only on the tokens up to
# it, a generator need not recompute them: the **KV cache** keeps them, and each
# new token costs one position instead of the whole sequence. The package's
# `generate(..., use_cache=True)` does this; greedy decoding must give the same
# tokens either way.

# %%
torch.manual_seed(0)
m = GPT(GPTConfig.modern(60, context=32, d_model=32, n_layers=2, n_heads=4)).eval()
sequence = torch.randint(0, 60, (1, 20))
changed = sequence.clone()
changed[0, 12] = (changed[0, 12] + 1) % 60
with torch.no_grad():
    logits, logits_changed = m(sequence), m(changed)
torch.testing.assert_close(logits[:, :12], logits_changed[:, :12], rtol=0, atol=0)
assert not torch.allclose(logits[:, 12:], logits_changed[:, 12:])

prompt = torch.randint(0, 60, (4, 6))
cached = m.generate(prompt, 40, temperature=0, use_cache=True)
recomputed = m.generate(prompt, 40, temperature=0, use_cache=False)
assert torch.equal(cached, recomputed) and cached.shape == (4, 46)
print("earlier logits untouched by a later change; cached and uncached greedy generation identical (40 tokens, past the context)")

# %% [markdown]
# ## 8. The task: reverse eight digits
#
# A training example is eight random digits, a separator `|`, then the same
# digits reversed, e.g. `3 1 4 1 5 9 2 6 | 6 2 9 5 1 4 1 3`. The model reads
# the sequence left to right and at every position predicts the next token,
# exactly like a language model. Only the predictions after the separator can
# be right every time, so the loss counts only those eight positions: the
# package's loss skips targets equal to $-100$, the convention we will use again
# for instruction tuning.
#
# Reversal needs attention: the $k$-th output digit is input digit $7 - k$, a
# specific earlier position. The test set is 1000 sequences kept out of
# training. We train the 2019 block and the modern one, same width, same steps,
# same optimiser (the package's AdamW and warmup-cosine schedule).

# %%
N_DIGITS, SEPARATOR, VOCAB = 8, 10, 11
SEQ_LEN = 2 * N_DIGITS + 1


def reversal_batch(n: int, generator: torch.Generator) -> Tensor:
    digits = torch.randint(0, 10, (n, N_DIGITS), generator=generator)
    return torch.cat([digits, torch.full((n, 1), SEPARATOR), digits.flip(1)], dim=1)


def show(sequence: Tensor) -> str:
    return " ".join("|" if t == SEPARATOR else str(int(t)) for t in sequence)


test_set = reversal_batch(1000, torch.Generator().manual_seed(1234))
test_inputs = {tuple(row) for row in test_set[:, :N_DIGITS].tolist()}
print(show(test_set[0]))


def train_reversal(config: GPTConfig, steps: int = 150, batch_size: int = 128, seed: int = 0):
    """Fresh random batches, test inputs left out; the loss only on the eight answer positions."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = GPT(config)
    schedule = TrainConfig(steps=steps, lr=3e-3, min_lr=1e-4, warmup_steps=15)
    optimizer = make_optimizer(model, schedule.lr, weight_decay=0.01)
    losses, seen = [], set()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, schedule)
        batch = reversal_batch(batch_size, generator)
        batch = batch[torch.tensor([tuple(r) not in test_inputs for r in batch[:, :N_DIGITS].tolist()])]
        seen.update(map(tuple, batch[:, :N_DIGITS].tolist()))
        inputs, targets = batch[:, :-1], batch[:, 1:].clone()
        targets[:, :N_DIGITS] = -100  # the digits and the separator: nothing to learn there
        _, loss = model(inputs, targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    assert not seen & test_inputs, "no test sequence was trained on"
    return model.eval(), losses


def exact_match(model: GPT) -> float:
    answers = model.generate(test_set[:, : N_DIGITS + 1], N_DIGITS, temperature=0)[:, N_DIGITS + 1 :]
    return (answers == test_set[:, N_DIGITS + 1 :]).all(dim=1).float().mean().item()


variants = {
    "2019 block": GPTConfig.gpt2_style(VOCAB, context=SEQ_LEN, d_model=64, n_layers=2, n_heads=4),
    "modern block": GPTConfig.modern(VOCAB, context=SEQ_LEN, d_model=64, n_layers=2, n_heads=4),
    "modern, learned positions": GPTConfig.modern(VOCAB, context=SEQ_LEN, d_model=64, n_layers=2, n_heads=4, positions="learned"),
}
SEEDS, STEPS = (0, 1, 2), 120
accuracy = {name: [] for name in variants}
histories, first_seed = {}, {}
for name, c in variants.items():
    for seed in SEEDS:
        model, losses = train_reversal(c, steps=STEPS, seed=seed)
        accuracy[name].append(exact_match(model))
        histories.setdefault(name, losses)
        first_seed.setdefault(name, model)
    mean = sum(accuracy[name]) / len(SEEDS)
    print(f"{name:26s} {model.num_parameters():,d} parameters; exact match after {STEPS} steps, seeds {SEEDS}: "
          + ", ".join(f"{a:.0%}" for a in accuracy[name]) + f" (mean {mean:.0%})")

long_model, long_losses = train_reversal(variants["modern block"], steps=4 * STEPS, seed=0)
long_accuracy = exact_match(long_model)
print(f"modern block, {4 * STEPS} steps: exact match {long_accuracy:.1%}")

for name in ("2019 block", "modern, learned positions"):
    assert min(accuracy[name]) > 0.9, f"{name}: {accuracy[name]}"
    assert histories[name][-1] < 0.02 * histories[name][0], f"{name}: the loss should fall a hundredfold"
assert max(accuracy["modern block"]) < 0.5, f"with RoPE, {STEPS} steps are not enough: {accuracy['modern block']}"
assert long_accuracy > 0.9, f"with four times the steps RoPE gets there: {long_accuracy:.3f}"
for losses in histories.values():
    assert min(losses[:5]) > 0.8 * math.log(10), "the first steps cannot beat guessing"

fig, ax = plt.subplots(figsize=(6.5, 4))
for name, losses in histories.items():
    ax.semilogy(losses, label=f"{name} (seed 0)")
ax.semilogy(long_losses, color="C1", ls="--", alpha=0.6, label=f"modern block, {4 * STEPS} steps")
ax.axhline(math.log(10), color="gray", ls=":", label="guessing a digit: ln 10")
ax.set(title="Digit reversal: training loss on the answer digits", xlabel="step", ylabel="cross-entropy (log scale)")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# A surprise worth a second look. The 2019 block learns the task in 120 steps
# on every seed; the modern block does not, and yet it does as well as the
# 2019 block as soon as we give it learned positions back. RoPE is the
# difference: it only tells attention how far apart two tokens are. Reversal is
# a task about *absolute* places (answer digit $k$ copies input digit $7-k$): a
# RoPE model must first work out which answer digit it is writing, from its
# distance to the separator, before it can look up the right digit. It gets
# there, with four times the steps. On language, where what matters is mostly
# how far back a word was, relative positions are the better prior; that is a
# claim for the language-modelling notebook to measure. "Exact match" means all
# eight digits right.
#
# **What do the heads look at?** Set `keep_weights` on the attention layers and
# the model computes the written-out weights and keeps them. For the $k$-th
# answer digit the model must read input digit $7-k$: the rows after the
# separator should light up along an **anti-diagonal**. First the 2019 block,
# then the RoPE model trained four times longer.

# %%
def weight_on_source(model: GPT) -> list[Tensor]:
    """Per layer and head: the mean weight answer positions put on the digit they must copy."""
    for block in model.blocks:
        block.attn.keep_weights = True
    with torch.no_grad():
        model(test_set[:200, :-1])
    rows = torch.arange(N_DIGITS, 2 * N_DIGITS)
    return [block.attn.last_weights[:, :, rows, 2 * N_DIGITS - 1 - rows].mean(dim=(0, 2)) for block in model.blocks]


strongest = {}
for name, m in [("2019 block", first_seed["2019 block"]), ("modern block, 4x steps", long_model)]:
    per_layer = [round(float(s.max()), 2) for s in weight_on_source(m)]
    strongest[name] = max(per_layer)
    print(f"{name}: best head's weight on the digit to copy, per layer:", per_layer)
assert strongest["2019 block"] > 0.5, "some head attends mainly to the digit being copied"
assert strongest["modern block, 4x steps"] < strongest["2019 block"]
model = first_seed["2019 block"]
on_source = weight_on_source(model)
best = [int(s.argmax()) for s in on_source]

with torch.no_grad():
    model(test_set[:1, :-1])
labels = show(test_set[0, :-1]).split()
fig, axes = plt.subplots(1, len(model.blocks), figsize=(11, 4.8), layout="constrained")
for layer, (ax, block) in enumerate(zip(axes, model.blocks, strict=True)):
    image = ax.imshow(block.attn.last_weights[0, best[layer]], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(title=f"layer {layer}, head {best[layer]}", xlabel="attended position")
axes[0].set_ylabel("attending position")
fig.colorbar(image, ax=axes, label="attention weight")
plt.show()
for block in model.blocks:
    block.attn.keep_weights = False

# %% [markdown]
# From the separator row down, the weight concentrates on one input digit per
# row, moving *left* as the row moves down. Nobody programmed this; it is the
# cheapest way gradient descent found to cut the loss. The RoPE model's best
# heads put less weight on the source digit: it spreads the lookup over its two
# layers and several heads, one more sign that it solved the task another way.
#
# ## 9. What changed since GPT-2, in numbers
#
# At GPT-2 small's shape ($d = 768$, 12 layers, 12 heads, 1,024 positions), per
# model:
#
# | change | 2019 | today | what it buys |
# |---|---|---|---|
# | LayerNorm → RMSNorm | $2d$ per norm, 2 reductions | $d$, 1 reduction | the same stability, simpler and a little faster |
# | learned positions → RoPE | 786,432 parameters, absolute | none, relative in every layer | offsets instead of absolute positions; contexts can be stretched |
# | GELU $4d$ → SwiGLU $\frac83 d$ | $8d^2$ per block | $\approx 8d^2$ per block | better loss at equal parameters (Shazeer, 2020) |
# | multi-head → grouped-query (half the heads here, a quarter in Llama 3 8B) | KV cache $2Ld$ numbers per token | $2Ld \cdot G/H$ | 2-4x less cache memory and traffic when serving |
#
# Whether the modern block also *learns better* at our tiny scale is a claim to
# measure, not to state: the language-modelling notebook pretrains both on real
# text, over several seeds, with error bars.
#
# ## What to try next
#
# 1. **Write RMSNorm yourself.** Fill in `my_rms_norm(x, weight, eps)` below and
#    run the check cell.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_rms_norm(x, weight, eps=1e-5):
#     return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight
# ```
#
# The mean of the squares is taken over the last dimension only (one token at a
# time), and `eps` goes inside the square root.
# </details>
#
# 2. **Grouped-query attention by repetition.** Write `my_gqa(q, k, v)` for $q$
#    of shape (B, H, T, d) and $k, v$ of shape (B, G, T, d): repeat the key and
#    value heads so that query head $h$ meets key/value head $\lfloor h/(H/G)\rfloor$,
#    then call causal attention. Careful: `Tensor.repeat` and
#    `Tensor.repeat_interleave` put the copies in different orders.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_gqa(q, k, v):
#     groups = q.shape[1] // k.shape[1]
#     k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
#     return F.scaled_dot_product_attention(q, k, v, is_causal=True)
# ```
#
# `repeat_interleave` gives heads `0 0 1 1 ...` (each group's copies side by
# side, as query heads are grouped); `repeat` would give `0 1 0 1 ...` and pair
# query head 1 with the wrong keys.
# </details>
#
# 3. **KV-cache memory.** Write `my_cache_bytes(config, batch_size, positions)`
#    for the bytes of float32 keys and values a `GPTConfig` needs.
#
# <details><summary>Solution</summary>
#
# ```python
# def my_cache_bytes(config, batch_size, positions):
#     return 2 * config.n_layers * batch_size * config.kv_heads * positions * config.head_dim * 4
# ```
#
# Two tensors (keys and values), and only the key/value heads count.
# </details>
#
# 4. Without checks: train the reversal task with the modern preset but
#    `positions="learned"`, and with `positions="sinusoidal"`; then train on 8
#    digits and test on 12 (set `context` large enough). Which encoding copes
#    with the longer sequences?
#
# Each check below returns `True` when your function agrees with the package's
# reference on random inputs; the asserts show that the checks themselves accept
# the right answer and reject a plausible wrong one.


# %%
def check_rms_norm(candidate) -> bool:
    """Compare candidate(x, weight, eps) with torch.nn.RMSNorm on random inputs."""
    x, weight = 2 * torch.randn(3, 5, 24, dtype=F64) + 1, torch.randn(24, dtype=F64)
    reference = torch.nn.RMSNorm(24, eps=1e-5).double()
    with torch.no_grad():
        reference.weight.copy_(weight)
    try:
        result = candidate(x, weight, 1e-5)
        if result is None:
            print("not yet: the function returns None; write its body first")
            return False
        torch.testing.assert_close(result, reference(x), rtol=1e-9, atol=1e-9)
    except Exception as error:  # a learner's unfinished function may fail in any way
        print(f"not yet: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        return False
    print("correct: matches torch.nn.RMSNorm")
    return True


def my_rms_norm(x, weight, eps=1e-5):
    ...  # your code here


assert check_rms_norm(lambda x, w, eps: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w)
assert not check_rms_norm(lambda x, w, eps: (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=False) + eps) * w)
check_rms_norm(my_rms_norm)


# %%
def check_gqa(candidate) -> bool:
    """Compare candidate(q, k, v) with SDPA's grouped-query attention, 8 query heads over 2 key/value heads."""
    q, k, v = torch.randn(2, 8, 7, 16, dtype=F64), torch.randn(2, 2, 7, 16, dtype=F64), torch.randn(2, 2, 7, 16, dtype=F64)
    try:
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        result = candidate(q, k, v)
        if result is None:
            print("not yet: the function returns None; write its body first")
            return False
        torch.testing.assert_close(result, expected, rtol=1e-9, atol=1e-9)
    except Exception as error:
        print(f"not yet: {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}")
        return False
    print("correct: matches scaled_dot_product_attention(enable_gqa=True)")
    return True


def my_gqa(q, k, v):
    ...  # your code here


assert check_gqa(causal_attention)
assert not check_gqa(lambda q, k, v: causal_attention(q, k.repeat(1, 4, 1, 1), v.repeat(1, 4, 1, 1)))
check_gqa(my_gqa)


# %%
def check_cache_bytes(candidate) -> bool:
    """Compare candidate(config, batch_size, positions) with what KVCache allocates, for a few shapes."""
    shapes = [
        (GPTConfig.modern(100, context=64, d_model=64, n_layers=3, n_heads=8, n_kv_heads=2), 2, 64),
        (GPTConfig.gpt2_style(100, context=32, d_model=48, n_layers=2, n_heads=6), 5, 32),
    ]
    for config, batch_size, positions in shapes:
        expected = KVCache(config, batch_size, positions).nbytes
        try:
            got = candidate(config, batch_size, positions)
        except Exception as error:
            print(f"not yet: {type(error).__name__}: {error}")
            return False
        if got is None:
            print("not yet: the function returns None; write its body first")
            return False
        if got != expected:
            print(f"not yet: {got} bytes for {config.n_layers} layers, {config.kv_heads} key/value heads; expected {expected}")
            return False
    print("correct: matches KVCache")
    return True


def my_cache_bytes(config, batch_size, positions):
    ...  # your code here


assert check_cache_bytes(lambda c, b, p: 2 * c.n_layers * b * c.kv_heads * p * c.head_dim * 4)
assert not check_cache_bytes(lambda c, b, p: 2 * c.n_layers * b * c.n_heads * p * c.head_dim * 4)
check_cache_bytes(my_cache_bytes)
