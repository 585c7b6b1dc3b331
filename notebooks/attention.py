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
# # Attention from scratch
#
# Attention is the operation that lets every token of a sequence look at every
# other token and pull in the information it needs. It is the one genuinely new
# part of a transformer: everything else (embeddings, MLPs, layer norm,
# residuals) existed before. In this notebook we build it from a few lines of
# tensor algebra and check each piece against PyTorch.
#
# **What you will build**
#
# - scaled dot-product attention, and a numerical look at *why* the scores are
#   divided by $\sqrt{d_k}$;
# - the causal mask (a token sees only the past) and the padding mask (a token
#   never looks at padding);
# - multi-head attention, checked weight-for-weight against
#   `torch.nn.MultiheadAttention`;
# - attention heatmaps on a small sentence;
# - local (sliding-window), strided and block-sparse attention as masks, with
#   the number of scored pairs each one costs.

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

# Let idle worker threads sleep instead of spinning: much faster on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)
DTYPE = torch.float64  # float64 so that comparisons with PyTorch can be tight

# %% [markdown]
# ## 1. Scaled dot-product attention
#
# Each position $i$ has a **query** $q_i$ (what am I looking for?), a **key**
# $k_j$ (what do I contain?) and a **value** $v_j$ (what do I hand over if
# chosen?). The score of pair $(i, j)$ is the dot product $q_i \cdot k_j$: large
# when the query and key point the same way. A softmax over $j$ turns the
# scores of row $i$ into weights that sum to 1, and the output of position $i$
# is the weighted average of the values:
#
# $$\operatorname{Attention}(Q, K, V) = \operatorname{softmax}\!\left(\frac{Q K^\top}{\sqrt{d_k}}\right) V .$$
#
# With $T$ positions, $Q, K \in \mathbb{R}^{T \times d_k}$ and
# $V \in \mathbb{R}^{T \times d_v}$; the $T \times T$ matrix of weights is the
# *attention pattern*.
#
# ### Why divide by $\sqrt{d_k}$?
#
# If the entries of $q$ and $k$ are independent with mean 0 and variance 1,
# then $q \cdot k = \sum_{m=1}^{d_k} q_m k_m$ is a sum of $d_k$ terms of
# variance 1, so its variance is $d_k$. Scores spread wider as the head gets
# wider, the softmax puts nearly all its weight on the single largest score,
# and a saturated softmax has almost zero gradient: learning stalls. Dividing
# by $\sqrt{d_k}$ brings the variance back to 1 whatever the width. Let us
# measure it.

# %%
generator = torch.Generator().manual_seed(0)
widths = [4, 16, 64, 256, 1024]
n_pairs, n_keys = 20_000, 16
raw_variance, scaled_variance = [], []
raw_max_weight, scaled_max_weight = [], []
raw_gradient, scaled_gradient = [], []


def softmax_jacobian_norm(scores: Tensor) -> Tensor:
    """Frobenius norm of d softmax(s) / d s = diag(p) - p p^T, one per row of scores."""
    p = scores.softmax(dim=-1)
    jacobian = torch.diag_embed(p) - p[..., :, None] * p[..., None, :]
    return torch.linalg.matrix_norm(jacobian)


for d_k in widths:
    q = torch.randn(n_pairs, d_k, generator=generator, dtype=DTYPE)
    k = torch.randn(n_pairs, d_k, generator=generator, dtype=DTYPE)
    dots = (q * k).sum(dim=-1)
    raw_variance.append(dots.var().item())
    scaled_variance.append((dots / math.sqrt(d_k)).var().item())
    # 1000 queries, each scored against its own 16 keys: how much weight does the top key get?
    queries = torch.randn(1000, 1, d_k, generator=generator, dtype=DTYPE)
    keys = torch.randn(1000, n_keys, d_k, generator=generator, dtype=DTYPE)
    scores = (queries * keys).sum(dim=-1)
    raw_max_weight.append(scores.softmax(-1).max(-1).values.mean().item())
    scaled_max_weight.append((scores / math.sqrt(d_k)).softmax(-1).max(-1).values.mean().item())
    raw_gradient.append(softmax_jacobian_norm(scores).mean().item())
    scaled_gradient.append(softmax_jacobian_norm(scores / math.sqrt(d_k)).mean().item())

for d_k, raw, scaled in zip(widths, raw_variance, scaled_variance, strict=True):
    print(f"d_k={d_k:5d}  var(q.k)={raw:8.1f}  var(q.k/sqrt(d_k))={scaled:.3f}")
print(f"softmax gradient size at d_k=1024: {raw_gradient[-1]:.3f} unscaled, {scaled_gradient[-1]:.3f} scaled")

# %%
for d_k, raw, scaled in zip(widths, raw_variance, scaled_variance, strict=True):
    assert abs(raw / d_k - 1) < 0.1, f"variance of q.k should be close to d_k={d_k}, got {raw:.1f}"
    assert abs(scaled - 1) < 0.1, f"scaled variance should be close to 1, got {scaled:.3f}"
assert raw_max_weight[-1] > 0.9, "unscaled scores at d_k=1024 should make the softmax nearly one-hot"
assert max(scaled_max_weight) < 0.5, "scaled scores should keep the softmax spread out"
assert raw_gradient[-1] < 0.5 * scaled_gradient[-1], "a saturated softmax passes back much less gradient"

fig, (ax_var, ax_max) = plt.subplots(1, 2, figsize=(10, 4))
ax_var.loglog(widths, raw_variance, "o-", label=r"$q \cdot k$")
ax_var.loglog(widths, scaled_variance, "s-", label=r"$q \cdot k / \sqrt{d_k}$")
ax_var.set(title="Variance of the score", xlabel=r"$d_k$", ylabel="variance")
ax_var.legend()
ax_max.semilogx(widths, raw_max_weight, "o-", label="unscaled")
ax_max.semilogx(widths, scaled_max_weight, "s-", label="scaled")
ax_max.axhline(1 / n_keys, color="gray", ls=":", label="uniform (1/16)")
ax_max.set(
    title="Largest softmax weight over 16 keys",
    xlabel=r"$d_k$",
    ylabel="mean max weight",
)
ax_max.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The left panel is the arithmetic above: the raw variance grows exactly like
# $d_k$ (a straight line of slope 1 on log-log axes) while the scaled one stays
# at 1. The right panel is the consequence: without the scale, a 1024-wide head
# gives almost all of its weight to one key before it has learnt anything;
# with the scale, the weights stay spread out and trainable at every width.
# The printed line measures "trainable": the size of the softmax's Jacobian,
# which scales every gradient flowing back into the scores, is several times
# smaller for the saturated, unscaled softmax.
#
# Now the operation itself. A boolean `mask` says which pairs may attend
# (`True` = allowed); forbidden scores become $-\infty$, so the softmax gives
# them exactly zero weight.


# %%
def scaled_dot_product_attention(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Return (output, weights) of softmax(q k^T / sqrt(d_k)) v.

    q: (..., T_q, d_k), k: (..., T_k, d_k), v: (..., T_k, d_v).
    mask: boolean, broadcastable to (..., T_q, T_k); True means "may attend".
    """
    d_k = q.shape[-1]
    scores = q @ k.transpose(-2, -1) / math.sqrt(d_k)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)
    return weights @ v, weights


batch, seq_len, d_k, d_v = 2, 6, 8, 5
q = torch.randn(batch, seq_len, d_k, dtype=DTYPE)
k = torch.randn(batch, seq_len, d_k, dtype=DTYPE)
v = torch.randn(batch, seq_len, d_v, dtype=DTYPE)

output, weights = scaled_dot_product_attention(q, k, v)
torch.testing.assert_close(output, F.scaled_dot_product_attention(q, k, v), atol=1e-12, rtol=1e-12)
torch.testing.assert_close(weights.sum(-1), torch.ones(batch, seq_len, dtype=DTYPE))
print("output shape:", tuple(output.shape), "- matches F.scaled_dot_product_attention")

# %% [markdown]
# ## 2. Masks: causal and padding
#
# **Causal mask.** A language model predicts token $t+1$ from tokens
# $1..t$, and it trains on all positions of a sequence at once. If position
# $t$ could attend to position $t+1$ it would simply read the answer. The causal
# mask allows pair $(i, j)$ only when $j \le i$: a lower-triangular matrix.


# %%
def causal_mask(seq_len: int) -> Tensor:
    """Lower-triangular boolean matrix: position i may attend to j <= i."""
    return torch.ones(seq_len, seq_len, dtype=torch.bool).tril()


output_causal, weights_causal = scaled_dot_product_attention(q, k, v, causal_mask(seq_len))
torch.testing.assert_close(
    output_causal,
    F.scaled_dot_product_attention(q, k, v, is_causal=True),
    atol=1e-12,
    rtol=1e-12,
)
future = ~causal_mask(seq_len)
assert torch.all(weights_causal[:, future] == 0), "no weight may land on a future position"

# Changing the last position's query, key and value must leave earlier outputs untouched.
q2, k2, v2 = q.clone(), k.clone(), v.clone()
q2[:, -1], k2[:, -1], v2[:, -1] = 10.0, -10.0, 99.0
output_changed, _ = scaled_dot_product_attention(q2, k2, v2, causal_mask(seq_len))
torch.testing.assert_close(output_changed[:, :-1], output_causal[:, :-1])
print(causal_mask(seq_len).int())

# %% [markdown]
# **Padding mask.** Sequences in a batch have different lengths, so the short
# ones are padded to a common length. Padding is not text: no real token may
# attend to it. The mask is per sequence and per *key*: shape $(B, 1, T)$,
# broadcast over the queries. With it, a padded sequence must give exactly the
# same outputs as the same sequence processed alone, without padding.

# %%
lengths = torch.tensor([6, 4])
key_is_real = torch.arange(seq_len)[None, :] < lengths[:, None]  # (B, T)
padding_mask = key_is_real[:, None, :]  # (B, 1, T): same for every query

output_padded, weights_padded = scaled_dot_product_attention(q, k, v, padding_mask)
torch.testing.assert_close(
    output_padded,
    F.scaled_dot_product_attention(q, k, v, attn_mask=padding_mask),
    atol=1e-12,
    rtol=1e-12,
)
assert torch.all(weights_padded[1, :, 4:] == 0), "padded keys must get zero weight"

n = int(lengths[1])
output_alone, _ = scaled_dot_product_attention(q[1, :n], k[1, :n], v[1, :n])
torch.testing.assert_close(output_padded[1, :n], output_alone)

# Both at once: a decoder on a padded batch combines the two masks with a logical AND.
both = causal_mask(seq_len)[None] & padding_mask
output_both, _ = scaled_dot_product_attention(q, k, v, both)
torch.testing.assert_close(
    output_both,
    F.scaled_dot_product_attention(q, k, v, attn_mask=both),
    atol=1e-12,
    rtol=1e-12,
)
print("padding mask of the second sequence (1 = real key):", key_is_real[1].int().tolist())

# %% [markdown]
# The outputs at padded *query* positions (rows 4 and 5 of the second
# sequence) are still computed, but nothing downstream uses them: the loss
# ignores those positions too.
#
# ## 3. Looking at an attention pattern
#
# Real models learn $Q$, $K$ and $V$ from data. To see what the weights mean,
# let us write them by hand for a ten-word sentence. Every word gets a few
# features (animal, object, verb, pronoun, function word, adjective); its key
# is its features, and its query is the features it is *looking for*: the
# pronoun "it" looks for an animal, a verb looks for who did it, "was" looks
# for its subject pronoun, and so on. The value is again the features, so the
# output tells us what each word learnt from the words it attended to.

# %%
words = ["the", "cat", "sat", "on", "the", "mat", "because", "it", "was", "tired"]
feature_names = ["animal", "object", "verb", "pronoun", "function", "adjective"]
word_features = {
    "the": "function",
    "cat": "animal",
    "sat": "verb",
    "on": "function",
    "mat": "object",
    "because": "function",
    "it": "pronoun",
    "was": "verb",
    "tired": "adjective",
}
looks_for = {
    "the": ["animal", "object"],  # a determiner looks for its noun
    "cat": ["verb"],  # what did the cat do?
    "sat": ["animal"],  # who sat?
    "on": ["object"],
    "mat": ["verb"],
    "because": ["verb"],
    "it": ["animal"],  # what does "it" refer to?
    "was": ["pronoun"],
    "tired": ["animal", "pronoun"],  # who is tired?
}


def one_hot_features(names: list[str]) -> Tensor:
    """A feature vector with 1 at each named feature."""
    vector = torch.zeros(len(feature_names), dtype=DTYPE)
    for name in names:
        vector[feature_names.index(name)] = 1.0
    return vector


sharpness = 6.0  # how strongly a matching feature raises the score
keys = torch.stack([one_hot_features([word_features[w]]) for w in words])
queries = sharpness * torch.stack([one_hot_features(looks_for[w]) for w in words])
values = keys

sentence_output, sentence_weights = scaled_dot_product_attention(queries, keys, values)
_, sentence_weights_causal = scaled_dot_product_attention(queries, keys, values, causal_mask(len(words)))

it, cat = words.index("it"), words.index("cat")
assert sentence_weights[it].argmax() == cat, '"it" should attend most to "cat"'
assert sentence_output[it, feature_names.index("animal")] > 0.5, '"it" should now carry "animal"'
assert sentence_weights_causal[0, 0] == 1.0, "the first word can only attend to itself"
print(
    'after attention, "it" carries:',
    dict(zip(feature_names, sentence_output[it].round(decimals=2).tolist(), strict=True)),
)

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), layout="constrained")
for ax, pattern, title in [
    (axes[0], sentence_weights, "Full (bidirectional) attention"),
    (axes[1], sentence_weights_causal, "Causal attention"),
]:
    image = ax.imshow(pattern, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(words)), words, rotation=60)
    ax.set_yticks(range(len(words)), words)
    ax.set(title=title, xlabel="key (attended to)")
axes[0].set_ylabel("query (attending)")
fig.colorbar(image, ax=axes, label="attention weight")
plt.show()

# %% [markdown]
# Read each row as "where does this word look?". In the left panel the row of
# "it" is bright at "cat": the pronoun has resolved its reference, and its
# output now carries the *animal* feature. Rows of the two "the"s split their
# weight between "cat" and "mat", because nothing in our hand-made features
# says which noun belongs to which determiner: real models add position
# information for that (see the transformer notebook).
#
# The right panel is the same computation with the causal mask: the upper
# triangle is dark, and each row redistributes its weight over the past only.
# The first "the" has nothing to look at but itself. "it" still finds "cat",
# which came earlier; the first "the" can no longer see "cat", which comes
# later.
#
# ## 4. Multi-head attention
#
# One attention pattern per layer is limiting: a word may need to look at its
# subject *and* at the previous word at the same time. Multi-head attention
# runs $H$ attentions in parallel, each in its own subspace of size
# $d_{\text{head}} = d_{\text{model}} / H$:
#
# 1. project the input $X$ to $Q = X W_Q$, $K = X W_K$, $V = X W_V$
#    (one matrix multiplication with the stacked $[W_Q; W_K; W_V]$);
# 2. split the last dimension into $H$ heads of size $d_{\text{head}}$;
# 3. run scaled dot-product attention in every head independently;
# 4. concatenate the heads and mix them with an output projection $W_O$.
#
# The cost is the same as one wide head; the heads just get separate patterns.


# %%
class MultiHeadSelfAttention(torch.nn.Module):
    """Multi-head self-attention laid out like torch.nn.MultiheadAttention."""

    def __init__(self, embed_dim: int, num_heads: int) -> None:
        super().__init__()
        assert embed_dim % num_heads == 0, "embed_dim must be divisible by num_heads"
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.in_proj = torch.nn.Linear(embed_dim, 3 * embed_dim)  # W_Q, W_K, W_V stacked
        self.out_proj = torch.nn.Linear(embed_dim, embed_dim)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, E) -> (B, H, T, head_dim)."""
        batch, seq_len, _ = x.shape
        return x.view(batch, seq_len, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Return the output (B, T, E) and the per-head weights (B, H, T, T)."""
        batch, seq_len, embed_dim = x.shape
        q, k, v = self.in_proj(x).chunk(3, dim=-1)
        heads, weights = scaled_dot_product_attention(
            self.split_heads(q), self.split_heads(k), self.split_heads(v), mask
        )
        merged = heads.transpose(1, 2).reshape(batch, seq_len, embed_dim)
        return self.out_proj(merged), weights


embed_dim, num_heads = 16, 4
mine = MultiHeadSelfAttention(embed_dim, num_heads).to(DTYPE)
reference = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True, dtype=DTYPE)
with torch.no_grad():
    mine.in_proj.weight.copy_(reference.in_proj_weight)
    mine.in_proj.bias.copy_(reference.in_proj_bias)
    mine.out_proj.weight.copy_(reference.out_proj.weight)
    mine.out_proj.bias.copy_(reference.out_proj.bias)

x = torch.randn(batch, seq_len, embed_dim, dtype=DTYPE)
n_params = sum(p.numel() for p in mine.parameters())
assert n_params == 4 * embed_dim**2 + 4 * embed_dim, "Q, K, V, O: four E x E matrices and four biases"

# PyTorch's masks use the opposite convention: True means "blocked".
cases = {
    "no mask": (None, {}),
    "causal": (causal_mask(seq_len), {"attn_mask": ~causal_mask(seq_len)}),
    "causal + padding": (
        causal_mask(seq_len) & key_is_real[:, None, None, :],
        {"attn_mask": ~causal_mask(seq_len), "key_padding_mask": ~key_is_real},
    ),
}
with torch.no_grad():
    for name, (my_mask, torch_masks) in cases.items():
        my_output, my_weights = mine(x, my_mask)
        ref_output, ref_weights = reference(x, x, x, average_attn_weights=False, **torch_masks)
        torch.testing.assert_close(my_output, ref_output, atol=1e-12, rtol=1e-12)
        torch.testing.assert_close(my_weights, ref_weights, atol=1e-12, rtol=1e-12)
        print(f"{name:17s} outputs and per-head weights match nn.MultiheadAttention")

# %% [markdown]
# ## 5. Local and sparse attention
#
# Full attention scores every pair: $T^2$ scores per head per layer, which is
# what limits context length. Many variants keep only some pairs. Written as
# masks, they are one line each:
#
# - **local (sliding window)**, as in Longformer, the first Mistral 7B and the
#   local layers of Gemma 2 and 3: position $i$ sees
#   $j$ only if $|i - j| \le w$;
# - **strided**, from the Sparse Transformer: $i$ sees the $s - 1$ nearest
#   positions on each side and every $s$-th position before or after it, so information
#   crosses the sequence in two hops;
# - **block-sparse with a global token**, in the spirit of BigBird: $i$ sees its
#   own block of size $b$, and the first token sees and is seen by everyone.
#
# Each takes a `causal` flag: a decoder uses the pattern intersected with the
# causal mask.


# %%
def offsets(seq_len: int) -> tuple[Tensor, Tensor]:
    """Row (query) and column (key) index grids of a seq_len x seq_len matrix."""
    i = torch.arange(seq_len)[:, None]
    j = torch.arange(seq_len)[None, :]
    return i, j


def local_mask(seq_len: int, window: int, causal: bool = False) -> Tensor:
    i, j = offsets(seq_len)
    allowed = (i - j).abs() <= window
    return allowed & (j <= i) if causal else allowed


def strided_mask(seq_len: int, stride: int, causal: bool = False) -> Tensor:
    i, j = offsets(seq_len)
    allowed = ((i - j).abs() < stride) | ((i - j) % stride == 0)
    return allowed & (j <= i) if causal else allowed


def block_mask(seq_len: int, block: int, n_global: int = 1, causal: bool = False) -> Tensor:
    i, j = offsets(seq_len)
    allowed = (i // block == j // block) | (i < n_global) | (j < n_global)
    return allowed & (j <= i) if causal else allowed


T = 16
patterns = {
    "full": torch.ones(T, T, dtype=torch.bool),
    "local, w=2": local_mask(T, window=2),
    "strided, s=4": strided_mask(T, stride=4),
    "block, b=4 + global": block_mask(T, block=4),
}
fig, axes = plt.subplots(1, 4, figsize=(12, 3.4))
for ax, (name, pattern) in zip(axes, patterns.items(), strict=True):
    causal_pattern = pattern & causal_mask(T)
    # light grey: allowed pairs a causal decoder drops; dark: pairs it keeps
    ax.imshow(pattern.int() + causal_pattern.int(), cmap="Greys", vmin=0, vmax=2)
    ax.set(title=f"{name}\n{int(causal_pattern.sum())} causal pairs", xlabel="key j")
axes[0].set_ylabel("query i")
fig.suptitle("black: pairs a causal decoder scores; grey: pairs only the bidirectional version adds")
plt.tight_layout()
plt.show()

# %% [markdown]
# Dark cells are the pairs a causal decoder scores, light grey ones are the
# extra pairs the bidirectional (encoder) version adds. The local band hugs the
# diagonal; the strided pattern adds diagonal stripes every 4 positions; the
# block pattern is a chain of squares plus the global first row and column.
#
# A mask changes nothing else about attention: masked attention is full
# attention whose weights outside the pattern are deleted and whose rows are
# renormalised. And when the pattern covers the whole sequence (a window at
# least as long as the sequence) it *is* full attention. We check both for
# every pattern, bidirectional and causal, and against PyTorch's
# `attn_mask`.


# %%
def renormalised_full_attention(q: Tensor, k: Tensor, v: Tensor, mask: Tensor) -> Tensor:
    """Compute full attention, zero the weights outside `mask`, renormalise each row."""
    _, full_weights = scaled_dot_product_attention(q, k, v)
    kept = full_weights * mask
    return (kept / kept.sum(dim=-1, keepdim=True)) @ v


q = torch.randn(batch, T, d_k, dtype=DTYPE)
k = torch.randn(batch, T, d_k, dtype=DTYPE)
v = torch.randn(batch, T, d_v, dtype=DTYPE)
full_output, _ = scaled_dot_product_attention(q, k, v)
full_causal_output, _ = scaled_dot_product_attention(q, k, v, causal_mask(T))

mask_makers = {
    "local": lambda causal, size: local_mask(T, window=size, causal=causal),
    "strided": lambda causal, size: strided_mask(T, stride=size, causal=causal),
    "block": lambda causal, size: block_mask(T, block=size, causal=causal),
}
small_size = {"local": 2, "strided": 4, "block": 4}
covering_size = {"local": T - 1, "strided": T, "block": T}
for name, make_mask in mask_makers.items():
    for causal in (False, True):
        mask = make_mask(causal, small_size[name])
        output, _ = scaled_dot_product_attention(q, k, v, mask)
        torch.testing.assert_close(output, renormalised_full_attention(q, k, v, mask))
        torch.testing.assert_close(
            output,
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask),
            atol=1e-12,
            rtol=1e-12,
        )
        covering_output, _ = scaled_dot_product_attention(q, k, v, make_mask(causal, covering_size[name]))
        torch.testing.assert_close(covering_output, full_causal_output if causal else full_output)
print("every pattern = masked full attention; a covering window = full attention")

# %% [markdown]
# A mask by itself saves nothing: we still computed all $T^2$ scores and threw
# most of them away. The saving comes from computing only the allowed pairs.
# For the sliding window this is easy: pad the keys and values with $w$
# positions on each side, take for every query the $2w + 1$ keys around it
# (`Tensor.unfold`), and score only those. That is $T (2w+1)$ scores instead
# of $T^2$, and the result must equal the masked version.


# %%
def banded_local_attention(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor:
    """Local attention that only ever scores the 2*window + 1 keys around each query."""
    seq_len, d_k = q.shape[-2], q.shape[-1]
    width = 2 * window + 1
    k_windows = F.pad(k, (0, 0, window, window)).unfold(-2, width, 1)  # (..., T, d_k, width)
    v_windows = F.pad(v, (0, 0, window, window)).unfold(-2, width, 1)  # (..., T, d_v, width)
    scores = torch.einsum("...td,...tdw->...tw", q, k_windows) / math.sqrt(d_k)
    key_position = torch.arange(seq_len)[:, None] + torch.arange(-window, window + 1)[None, :]
    is_inside = (key_position >= 0) & (key_position < seq_len)  # padding is not a key
    weights = scores.masked_fill(~is_inside, float("-inf")).softmax(dim=-1)
    return torch.einsum("...tw,...tdw->...td", weights, v_windows)


for window in (1, 2, 5):
    banded = banded_local_attention(q, k, v, window)
    masked, _ = scaled_dot_product_attention(q, k, v, local_mask(T, window))
    torch.testing.assert_close(banded, masked)
print("banded local attention = masked local attention, with T*(2w+1) scores instead of T^2")

# %% [markdown]
# ### What each pattern costs
#
# Count the scored pairs (bidirectional versions; causal ones are about half).
# For a window $w$ the local count is exactly $T(2w+1) - w(w+1)$ (the rows near
# the edges lose part of their window). For blocks of size $b$ dividing $T$ and
# $g \le b$ global tokens it is $Tb + 2g(T - b)$. The strided pattern with
# stride $s$ scores at most $2s - 1$ neighbours plus about $2T/s$ strided
# positions per row; choosing $s \approx \sqrt{T}$ makes that $O(T\sqrt{T})$.
# We check the formulas against the masks, then plot how the counts grow.

# %%
window, block, n_global = 16, 32, 1
lengths_to_count = [64, 128, 256, 512, 1024, 2048]
pair_counts: dict[str, list[int]] = {
    "full": [],
    "local": [],
    "strided": [],
    "block": [],
}
for seq_len in lengths_to_count:
    stride = round(math.sqrt(seq_len))
    counts = {
        "full": seq_len**2,
        "local": int(local_mask(seq_len, window).sum()),
        "strided": int(strided_mask(seq_len, stride).sum()),
        "block": int(block_mask(seq_len, block, n_global).sum()),
    }
    assert counts["local"] == seq_len * (2 * window + 1) - window * (window + 1)
    assert counts["block"] == seq_len * block + 2 * n_global * (seq_len - block)
    assert counts["strided"] <= seq_len * (2 * stride - 1 + 2 * seq_len / stride + 1)
    for name, count in counts.items():
        pair_counts[name].append(count)

longest = lengths_to_count[-1]
for name, counts in pair_counts.items():
    print(f"T={longest}: {name:8s} {counts[-1]:>9,d} pairs ({counts[-1] / longest**2:6.1%} of full)")
assert pair_counts["local"][-1] < 0.05 * longest**2
assert pair_counts["block"][-1] < 0.05 * longest**2
assert pair_counts["strided"][-1] < 0.15 * longest**2

fig, ax = plt.subplots(figsize=(6, 4))
for name, counts in pair_counts.items():
    ax.loglog(lengths_to_count, counts, "o-", label=name)
ax.set(
    title="Scored pairs per head and layer",
    xlabel="sequence length T",
    ylabel="number of (query, key) pairs",
)
ax.legend(title=f"w={window}, b={block}, s=sqrt(T)")
plt.show()

# %% [markdown]
# On log-log axes the slope is the exponent: full attention has slope 2
# (quadrupling the cost when the context doubles), local and block attention
# have slope 1 (linear in $T$), and the strided pattern sits between, at 1.5.
# The price of the sparse patterns is reach: in one layer a local token sees
# only $w$ positions away, so distant information needs several layers (or a
# few global tokens) to arrive.
#
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
# ### Exercise 1: causal banded attention
#
# `banded_local_attention` scores the $2w + 1$ keys around each query. A
# decoder may only look back, so it needs only the $w + 1$ keys at or before
# each query: positions $i - w, \dots, i$. Write
# `causal_banded_attention(q, k, v, window)` that scores only those (pad the
# keys and values on the left, then `unfold`), for inputs of shape
# `(..., T, d)`. The check compares it with PyTorch's
# `F.scaled_dot_product_attention` given the causal sliding-window mask.


# %%
def causal_banded_attention(q: Tensor, k: Tensor, v: Tensor, window: int) -> Tensor | None:
    """Causal sliding-window attention that scores only the window + 1 keys at or before each query."""
    return None  # your code here


# %%
def check_causal_banded_attention(candidate) -> None:
    generator = torch.Generator().manual_seed(1)
    cases = []
    for shape, window in [((1, 6, 4), 0), ((2, 10, 8), 2), ((2, 3, 12, 4), 5), ((1, 5, 3), 9)]:
        q, k, v = (torch.randn(shape, generator=generator, dtype=DTYPE) for _ in range(3))
        mask = local_mask(shape[-2], window, causal=True)
        cases.append(((q, k, v, window), F.scaled_dot_product_attention(q, k, v, attn_mask=mask)))

    def mismatch(expected, got):
        if tuple(got.shape) != tuple(expected.shape):
            return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        worst = (got - expected).abs().max().item()
        return None if worst < 1e-12 else f"outputs differ from the masked reference by up to {worst:.3g}"

    check_cases(candidate, cases, mismatch)


print("exercise 1:", run_check(check_causal_banded_attention, causal_banded_attention))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Pad $w$ positions on the left only; window $t$ of the padded keys then
# holds keys $t - w, \dots, t$, and the padding (negative positions) is masked
# out. A window longer than the sequence (the last case) just means more
# padding.
#
# ```python
# def causal_banded_attention(q, k, v, window):
#     seq_len, d_k = q.shape[-2], q.shape[-1]
#     k_windows = F.pad(k, (0, 0, window, 0)).unfold(-2, window + 1, 1)  # (..., T, d_k, window + 1)
#     v_windows = F.pad(v, (0, 0, window, 0)).unfold(-2, window + 1, 1)
#     scores = torch.einsum("...td,...tdw->...tw", q, k_windows) / math.sqrt(d_k)
#     key_position = torch.arange(seq_len)[:, None] + torch.arange(-window, 1)[None, :]
#     weights = scores.masked_fill(key_position < 0, float("-inf")).softmax(dim=-1)
#     return torch.einsum("...tw,...tdw->...td", weights, v_windows)
# ```
#
# </details>
#
# ### Exercise 2: grouped-query attention
#
# Current open models (Llama 2 70B and Llama 3, Mistral, Qwen) cut the
# memory of their key-value cache with **grouped-query attention**: $H$
# query heads share $G < H$ key and value heads, each key-value head serving
# $H / G$ consecutive query heads. (Multi-query attention is the case
# $G = 1$.) Write `grouped_query_attention(q, k, v)` for causal
# self-attention with `q` of shape `(B, H, T, d)` and `k`, `v` of shape
# `(B, G, T, d)`: query head $h$ uses key-value head $h // (H / G)$. The
# check compares it with `F.scaled_dot_product_attention(..., enable_gqa=True)`.


# %%
def grouped_query_attention(q: Tensor, k: Tensor, v: Tensor) -> Tensor | None:
    """Causal attention where each group of H / G consecutive query heads shares one key-value head."""
    return None  # your code here


# %%
def check_grouped_query_attention(candidate) -> None:
    generator = torch.Generator().manual_seed(2)
    cases = []
    for batch_size, n_heads, n_groups, seq_len, head_dim in [(1, 2, 2, 4, 3), (2, 4, 2, 6, 8), (1, 8, 2, 5, 4), (2, 6, 1, 7, 4)]:
        q = torch.randn(batch_size, n_heads, seq_len, head_dim, generator=generator, dtype=DTYPE)
        k, v = (torch.randn(batch_size, n_groups, seq_len, head_dim, generator=generator, dtype=DTYPE) for _ in range(2))
        cases.append(((q, k, v), F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)))

    def mismatch(expected, got):
        if tuple(got.shape) != tuple(expected.shape):
            return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        worst = (got - expected).abs().max().item()
        return None if worst < 1e-12 else f"outputs differ from scaled_dot_product_attention by up to {worst:.3g}"

    check_cases(candidate, cases, mismatch)


print("exercise 2:", run_check(check_grouped_query_attention, grouped_query_attention))

# %% [markdown]
# <details><summary>Solution</summary>
#
# Repeat each key-value head $H / G$ times *in place* with
# `repeat_interleave` (heads 0 and 1 get group 0, heads 2 and 3 group 1, ...),
# then run ordinary causal attention. `k.repeat(1, H // G, 1, 1)` has the same
# shape but tiles the groups in the wrong order (head 1 would get group 1),
# a bug that raises no error. Efficient kernels never materialise the
# repeated tensors; the cache stores only the $G$ heads, which is the point.
#
# ```python
# def grouped_query_attention(q, k, v):
#     per_group = q.shape[1] // k.shape[1]
#     k, v = k.repeat_interleave(per_group, dim=1), v.repeat_interleave(per_group, dim=1)
#     return scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]))[0]
# ```
#
# </details>
#
# ### More to explore
#
# 1. Replace the $\sqrt{d_k}$ scale by $d_k$ or by 1 in the first experiment and
#    plot the mean *entropy* of the softmax instead of its largest weight.
# 2. In the sentence example, add two position features so that each "the"
#    attends to the noun right after it, and check it with an `assert`.
# 3. Time `banded_local_attention` against masked full attention for
#    $T = 4096$, $w = 64$: where does the banded version start to win?
# 4. Count the bytes of a key-value cache for a model with 32 layers, 32
#    query heads of size 128 and a context of 8192 tokens in bfloat16, with
#    multi-head attention, with 8 key-value groups and with one.
#
# ### The checks, checked
#
# A check that accepts anything is worse than none. This last cell runs each
# check on the reference solution (it must pass), on a plausible wrong answer
# (it must fail) and on an untouched stub (it must say so).



# %%
def solution_causal_banded_attention(q, k, v, window):
    seq_len, d_k = q.shape[-2], q.shape[-1]
    k_windows = F.pad(k, (0, 0, window, 0)).unfold(-2, window + 1, 1)
    v_windows = F.pad(v, (0, 0, window, 0)).unfold(-2, window + 1, 1)
    scores = torch.einsum("...td,...tdw->...tw", q, k_windows) / math.sqrt(d_k)
    key_position = torch.arange(seq_len)[:, None] + torch.arange(-window, 1)[None, :]
    weights = scores.masked_fill(key_position < 0, float("-inf")).softmax(dim=-1)
    return torch.einsum("...tw,...tdw->...td", weights, v_windows)


def wrong_causal_banded_attention(q, k, v, window):  # lets the padding (zero keys) take part in the softmax
    d_k = q.shape[-1]
    k_windows = F.pad(k, (0, 0, window, 0)).unfold(-2, window + 1, 1)
    v_windows = F.pad(v, (0, 0, window, 0)).unfold(-2, window + 1, 1)
    weights = (torch.einsum("...td,...tdw->...tw", q, k_windows) / math.sqrt(d_k)).softmax(dim=-1)
    return torch.einsum("...tw,...tdw->...td", weights, v_windows)


def solution_grouped_query_attention(q, k, v):
    per_group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(per_group, dim=1), v.repeat_interleave(per_group, dim=1)
    return scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]))[0]


def wrong_grouped_query_attention(q, k, v):  # tiles the groups instead of repeating each in place
    per_group = q.shape[1] // k.shape[1]
    k, v = k.repeat(1, per_group, 1, 1), v.repeat(1, per_group, 1, 1)
    return scaled_dot_product_attention(q, k, v, causal_mask(q.shape[-2]))[0]


def untouched(*args):
    return None


for check, solution, wrong in [
    (check_causal_banded_attention, solution_causal_banded_attention, wrong_causal_banded_attention),
    (check_grouped_query_attention, solution_grouped_query_attention, wrong_grouped_query_attention),
]:
    assert run_check(check, solution) == "passed", f"{check.__name__} rejects the reference solution"
    assert run_check(check, wrong).startswith("not yet"), f"{check.__name__} accepts a wrong answer"
    assert run_check(check, untouched).startswith("not attempted"), f"{check.__name__} does not recognise an untouched stub"
