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
# # A decoder-only transformer from scratch
#
# GPT-style language models are a stack of identical blocks, each made of
# causal self-attention and a small MLP, wrapped in residual connections and
# layer normalisation. In this notebook we write every piece ourselves in
# PyTorch, check the pieces against PyTorch's own, and train the result on a
# task small enough for a laptop CPU but hard enough to need attention:
# **reversing a sequence of digits**.
#
# **What you will build**
#
# - layer normalisation and the GELU activation, checked against `torch.nn`;
# - sinusoidal positional encodings (checked against the formula) and learned
#   ones;
# - a pre-norm decoder block: causal multi-head self-attention, MLP, residuals;
# - the full model, with its parameter count derived by hand and checked;
# - a training loop that teaches it to reverse 8 digits, with held-out
#   exact-match accuracy;
# - a look inside: which positions its heads attend to, and a proof that the
#   causal mask keeps the future out.

# %%
import math
import os
from dataclasses import dataclass

# Let idle worker threads sleep instead of spinning: much faster on a shared CPU.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import Tensor, nn

torch.set_num_threads(2)
torch.manual_seed(0)

# %% [markdown]
# ## 1. Layer normalisation and GELU
#
# **LayerNorm** rescales each token's vector on its own: subtract its mean,
# divide by its standard deviation, then apply a learned per-feature scale
# $\gamma$ and shift $\beta$:
#
# $$\operatorname{LN}(x) = \gamma \odot \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,
# \qquad \mu = \frac1d \sum_m x_m, \quad \sigma^2 = \frac1d \sum_m (x_m - \mu)^2 .$$
#
# It keeps the activations at a predictable scale however deep the stack is,
# which is what lets transformers train stably. Note the *biased* variance
# (divide by $d$, not $d - 1$), as in PyTorch.
#
# **GELU** is the smooth activation used in GPT and BERT MLPs:
# $\operatorname{GELU}(x) = x \, \Phi(x)$, where $\Phi$ is the standard normal
# cumulative distribution function. It behaves like ReLU for large $|x|$ but
# lets small negative values through a little.


# %%
class LayerNorm(nn.Module):
    """Normalise the last dimension to mean 0 and variance 1, then scale and shift."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        mean = x.mean(dim=-1, keepdim=True)
        variance = x.var(dim=-1, keepdim=True, unbiased=False)
        return self.weight * (x - mean) / torch.sqrt(variance + self.eps) + self.bias


def gelu(x: Tensor) -> Tensor:
    """x times the standard normal CDF of x."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


x = 3.0 * torch.randn(4, 7, 32, dtype=torch.float64) + 1.5
mine, reference = LayerNorm(32).double(), nn.LayerNorm(32).double()
with torch.no_grad():  # random affine parameters, so that they are tested too
    for parameter in (mine.weight, mine.bias):
        parameter.copy_(torch.randn(32))
    reference.weight.copy_(mine.weight)
    reference.bias.copy_(mine.bias)
torch.testing.assert_close(mine(x), reference(x))
normalised = LayerNorm(32).double()(x)
torch.testing.assert_close(normalised.mean(-1), torch.zeros(4, 7, dtype=torch.float64))
torch.testing.assert_close(
    normalised.std(-1, unbiased=False), torch.ones(4, 7, dtype=torch.float64), atol=1e-4, rtol=0
)
torch.testing.assert_close(gelu(x), F.gelu(x))
print("LayerNorm matches nn.LayerNorm; gelu matches F.gelu")

# %% [markdown]
# ## 2. Positional encodings
#
# Attention treats its input as a *set*: permute the tokens and the outputs
# are permuted the same way, nothing else changes. Word order has to be added
# to the input. Two classic ways:
#
# - **learned**: a table of one trainable vector per position
#   (`nn.Embedding(max_len, d)`), as in GPT-2;
# - **sinusoidal**, from *Attention Is All You Need*: a fixed table
#
# $$PE_{p,\,2i} = \sin\!\left(\frac{p}{10000^{2i/d}}\right), \qquad
#   PE_{p,\,2i+1} = \cos\!\left(\frac{p}{10000^{2i/d}}\right).$$
#
# Each pair of dimensions $(2i, 2i+1)$ is a point turning on a circle at its own
# frequency $\omega_i = 10000^{-2i/d}$: fast in the first dimensions, slow in the
# last ones, like the hands of a clock. Moving $k$ positions forward rotates
# every pair by the angle $k\omega_i$, a linear map that does not depend on
# $p$, so relative offsets are easy for attention to pick up.


# %%
def sinusoidal_positions(max_len: int, dim: int) -> Tensor:
    """The (max_len, dim) table of sinusoidal positional encodings."""
    positions = torch.arange(max_len, dtype=torch.float64)[:, None]
    frequencies = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(max_len, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies)
    return table


dim = 64
table = sinusoidal_positions(100, dim)
# Hand-computed values from the formula.
assert torch.equal(table[0, 0::2], torch.zeros(dim // 2)) and torch.equal(
    table[0, 1::2], torch.ones(dim // 2)
)
assert math.isclose(table[1, 0], math.sin(1.0)) and math.isclose(table[1, 1], math.cos(1.0))
assert math.isclose(table[5, 2], math.sin(5 / 10000 ** (2 / dim)))
assert math.isclose(table[37, 21], math.cos(37 / 10000 ** (20 / dim)))

# Shifting by k positions is the same rotation for every starting position p.
k, pair = 3, 4
angle = k * 10000.0 ** (-2 * pair / dim)
rotation = torch.tensor(
    [[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]], dtype=torch.float64
)
for p in (0, 10, 50):
    torch.testing.assert_close(
        table[p + k, 2 * pair : 2 * pair + 2], table[p, 2 * pair : 2 * pair + 2] @ rotation
    )

fig, (ax_map, ax_dims) = plt.subplots(1, 2, figsize=(11, 4))
image = ax_map.imshow(table, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
ax_map.set(title="Sinusoidal positional encoding", xlabel="dimension", ylabel="position")
fig.colorbar(image, ax=ax_map)
for dimension in (0, 10, 20, 30):
    period = 2 * math.pi * 10000 ** (dimension / dim)
    ax_dims.plot(table[:, dimension], label=f"dim {dimension} (period {period:.0f})")
ax_dims.set(title="A few sine columns of the table", xlabel="position", ylabel="value")
ax_dims.legend(loc="lower left")
plt.tight_layout()
plt.show()

# %% [markdown]
# Each row of the heatmap is the vector added to the token at that position.
# The first columns flip sign every few positions (dimension 0 has a period of
# $2\pi \approx 6$ positions); the last columns hardly change over 100
# positions (dimension 30 has a period of about 470). Together they give every position a distinct
# code, and nearby positions similar codes.
#
# ## 3. The decoder block and the model
#
# The model, bottom to top:
#
# 1. **token embedding** plus **positional encoding**: one vector of size
#    $d$ per position;
# 2. $L$ **pre-norm blocks**, each
#    $x \leftarrow x + \operatorname{Attn}(\operatorname{LN}_1(x))$ then
#    $x \leftarrow x + \operatorname{MLP}(\operatorname{LN}_2(x))$.
#    The residual stream $x$ is passed through untouched and each sub-layer only
#    *adds* to it, which gives gradients a straight path to the bottom;
#    normalising the input of each sub-layer (pre-norm, as in GPT-2) rather
#    than its output (post-norm, the original transformer) trains more
#    reliably without warm-up tricks;
# 3. a **final LayerNorm** and a linear **output head** producing one logit per
#    vocabulary entry. The head may be **tied** to the embedding (the same
#    matrix used both ways, as in GPT-2), which saves $V d$ parameters.
#
# The attention is the multi-head causal self-attention of the attention
# notebook; it keeps its last weights so we can look at them after training.


# %%
@dataclass
class TransformerConfig:
    vocab_size: int
    max_len: int
    d_model: int = 64
    n_heads: int = 4
    n_layers: int = 2
    d_mlp: int = 256
    positional: str = "learned"  # "learned" or "sinusoidal"
    tie_weights: bool = True


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.n_heads = config.n_heads
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model)
        self.out = nn.Linear(config.d_model, config.d_model)
        self.last_weights: Tensor | None = None  # (B, H, T, T), kept for inspection

    def forward(self, x: Tensor) -> Tensor:
        batch, seq_len, d_model = x.shape
        head_dim = d_model // self.n_heads
        q, k, v = (
            part.view(batch, seq_len, self.n_heads, head_dim).transpose(1, 2)
            for part in self.qkv(x).chunk(3, dim=-1)
        )
        scores = q @ k.transpose(-2, -1) / math.sqrt(head_dim)
        causal = torch.ones(seq_len, seq_len, dtype=torch.bool, device=x.device).tril()
        weights = scores.masked_fill(~causal, float("-inf")).softmax(dim=-1)
        self.last_weights = weights.detach()
        heads = (weights @ v).transpose(1, 2).reshape(batch, seq_len, d_model)
        return self.out(heads)


class MLP(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, config.d_mlp)
        self.down = nn.Linear(config.d_mlp, config.d_model)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(gelu(self.up(x)))


class Block(nn.Module):
    """Pre-norm decoder block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.norm_attention = LayerNorm(config.d_model)
        self.attention = CausalSelfAttention(config)
        self.norm_mlp = LayerNorm(config.d_model)
        self.mlp = MLP(config)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attention(self.norm_attention(x))
        return x + self.mlp(self.norm_mlp(x))


class DecoderTransformer(nn.Module):
    def __init__(self, config: TransformerConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        if config.positional == "learned":
            self.position_embedding = nn.Embedding(config.max_len, config.d_model)
        else:  # a buffer: saved with the model but not trained
            table = sinusoidal_positions(config.max_len, config.d_model).float()
            self.register_buffer("position_table", table)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.final_norm = LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.token_embedding.weight

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (B, T) -> logits (B, T, vocab_size) for the next token at every position."""
        seq_len = tokens.shape[1]
        if self.config.positional == "learned":
            positions = self.position_embedding.weight[:seq_len]
        else:
            positions = self.position_table[:seq_len]
        x = self.token_embedding(tokens) + positions
        for block in self.blocks:
            x = block(x)
        return self.head(self.final_norm(x))


# %% [markdown]
# ### Counting parameters by hand
#
# With vocabulary $V$, context $T$, width $d$, MLP width $d_{\text{mlp}}$ and
# $L$ blocks:
#
# | part | parameters |
# |---|---|
# | token embedding | $V d$ |
# | learned positions (none if sinusoidal) | $T d$ |
# | per block: two LayerNorms | $2 \cdot 2d$ |
# | per block: $W_{QKV}$ and $W_O$ with biases | $3d^2 + 3d + d^2 + d$ |
# | per block: MLP with biases | $d\,d_{\text{mlp}} + d_{\text{mlp}} + d_{\text{mlp}}\,d + d$ |
# | final LayerNorm | $2d$ |
# | output head (none if tied) | $V d$ |
#
# The count is dominated by $L (4d^2 + 2 d\, d_{\text{mlp}}) = 12 L d^2$ for the
# usual $d_{\text{mlp}} = 4d$: this is the formula behind "GPT-3 has 175B
# parameters" ($L = 96$, $d = 12288$). We check the table against PyTorch's
# own count for all four variants.


# %%
def count_parameters_by_formula(config: TransformerConfig) -> int:
    d, d_mlp, vocab = config.d_model, config.d_mlp, config.vocab_size
    per_block = 2 * 2 * d + (3 * d * d + 3 * d + d * d + d) + (d * d_mlp + d_mlp + d_mlp * d + d)
    total = vocab * d + config.n_layers * per_block + 2 * d
    if config.positional == "learned":
        total += config.max_len * d
    if not config.tie_weights:
        total += vocab * d
    return total


for positional in ("learned", "sinusoidal"):
    for tie_weights in (True, False):
        config = TransformerConfig(vocab_size=11, max_len=16, positional=positional, tie_weights=tie_weights)
        counted = sum(p.numel() for p in DecoderTransformer(config).parameters())
        assert counted == count_parameters_by_formula(config), (positional, tie_weights)
        print(f"{positional:10s} tied={tie_weights!s:5s}: {counted:,d} parameters")

# %% [markdown]
# ## 4. The task: reverse eight digits
#
# A training example is eight random digits, a separator `|`, then the same
# digits reversed, e.g. `3 1 4 1 5 9 2 6 | 6 2 9 5 1 4 1 3`. The model reads
# the sequence left to right and at every position predicts the next token,
# exactly like a language model. Only the predictions after the separator can
# be right every time (the first eight digits are random), so the loss counts
# only those eight positions.
#
# Reversal is a good first task for a transformer: it is impossible without
# looking back at a specific earlier position (the $k$-th output digit is input
# digit $9 - k$), it is checkable exactly, and it trains in seconds. The test
# set is 1000 sequences that are kept out of training.

# %%
N_DIGITS = 8
SEPARATOR = 10
VOCAB_SIZE = 11
SEQ_LEN = 2 * N_DIGITS + 1


def make_reversal_batch(n: int, generator: torch.Generator) -> Tensor:
    """n sequences of digits, separator, reversed digits: shape (n, 17)."""
    digits = torch.randint(0, 10, (n, N_DIGITS), generator=generator)
    return torch.cat([digits, torch.full((n, 1), SEPARATOR), digits.flip(1)], dim=1)


def show(sequence: Tensor) -> str:
    return " ".join("|" if t == SEPARATOR else str(int(t)) for t in sequence)


test_set = make_reversal_batch(1000, torch.Generator().manual_seed(1234))
test_inputs = {tuple(row) for row in test_set[:, :N_DIGITS].tolist()}
print(show(test_set[0]))

# %% [markdown]
# One detail before training: **initialisation**. PyTorch's `nn.Embedding`
# starts from $\mathcal{N}(0, 1)$ entries. With a tied head, the same large
# vectors produce the logits: a token's logit for itself is about
# $\lVert e \rVert^2 \approx d = 64$, so the untrained model is confidently
# wrong and its first loss is far above the $\ln 11 \approx 2.4$ of a uniform
# guess. GPT-2 ties its weights and therefore starts its embeddings at standard
# deviation 0.02. We simply leave the head untied for this small model.

# %%
initial_loss = {}
for tie_weights in (True, False):
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=SEQ_LEN, tie_weights=tie_weights)
    batch = test_set[:256]
    with torch.no_grad():
        logits = DecoderTransformer(config)(batch[:, :-1])
    initial_loss[tie_weights] = F.cross_entropy(
        logits.reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1)
    ).item()
print(f"loss before training: tied {initial_loss[True]:.1f}, untied {initial_loss[False]:.2f}")
assert initial_loss[True] > 10, "a tied head on N(0, 1) embeddings starts overconfident"
assert initial_loss[False] < 1.5 * math.log(VOCAB_SIZE), "an untied head starts near a uniform guess"

# %% [markdown]
# The training loop: sample a fresh batch, compute the logits, take the
# cross-entropy on the answer positions, step AdamW. Input position $t$
# predicts token $t + 1$, so the answers sit at input positions
# $8, \dots, 15$ (from the separator on). A one-cycle learning-rate schedule
# (warm up, then decay) makes the short run reliable. Batches are fresh random
# sequences, minus any that are in the test set. We train two models, one per
# kind of positional encoding.


# %%
def train_reversal(
    config: TransformerConfig, excluded: set[tuple], steps: int = 120, batch_size: int = 128, seed: int = 0
):
    """Train on fresh random batches, skipping inputs in `excluded`; return the model, losses, inputs seen."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = DecoderTransformer(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps, pct_start=0.1)
    losses, seen = [], set()
    for _ in range(steps):
        batch = make_reversal_batch(batch_size, generator)
        is_allowed = [tuple(row) not in excluded for row in batch[:, :N_DIGITS].tolist()]
        batch = batch[torch.tensor(is_allowed)]
        seen.update(map(tuple, batch[:, :N_DIGITS].tolist()))
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)[:, N_DIGITS:]  # predictions from the separator on
        loss = F.cross_entropy(logits.reshape(-1, VOCAB_SIZE), targets[:, N_DIGITS:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    return model, losses, seen


@torch.no_grad()
def reverse_greedily(model: DecoderTransformer, digits_and_separator: Tensor) -> Tensor:
    """Generate the 8 answer digits one at a time, feeding each prediction back in."""
    model.eval()
    sequence = digits_and_separator
    for _ in range(N_DIGITS):
        next_token = model(sequence)[:, -1].argmax(dim=-1, keepdim=True)
        sequence = torch.cat([sequence, next_token], dim=1)
    return sequence[:, N_DIGITS + 1 :]


models, histories, accuracies = {}, {}, {}
for positional in ("learned", "sinusoidal"):
    config = TransformerConfig(
        vocab_size=VOCAB_SIZE, max_len=SEQ_LEN, positional=positional, tie_weights=False
    )
    model, losses, seen = train_reversal(config, excluded=test_inputs)
    assert not test_inputs & seen, "test sequences must be unseen in training"
    predicted = reverse_greedily(model, test_set[:, : N_DIGITS + 1])
    accuracies[positional] = (predicted == test_set[:, N_DIGITS + 1 :]).all(dim=1).float().mean().item()
    models[positional], histories[positional] = model, losses
    print(f"{positional:10s}: final loss {losses[-1]:.4f}, held-out exact match {accuracies[positional]:.1%}")

for positional, losses in histories.items():
    assert min(losses[:10]) > 0.8 * math.log(10), (
        f"{positional}: the first steps should be no better than guessing"
    )
    assert losses[-1] < 0.01 * losses[0], f"{positional}: the loss should fall by two orders of magnitude"
    assert accuracies[positional] > 0.9, f"{positional}: exact-match accuracy {accuracies[positional]:.3f}"

fig, ax = plt.subplots(figsize=(6, 4))
for positional, losses in histories.items():
    ax.semilogy(losses, label=f"{positional} positions")
ax.axhline(math.log(10), color="gray", ls=":", label="guessing a digit: ln 10")
ax.set(title="Training loss on digit reversal", xlabel="step", ylabel="cross-entropy (log scale)")
ax.legend()
plt.show()

# %% [markdown]
# The loss starts a little above $\ln 10 \approx 2.3$, the cost of guessing
# one of ten digits (the untrained model also gives some probability to the
# separator), stays there for the first ten to twenty steps, then drops by
# more than two orders of magnitude once the model has found *where* to look. Both positional encodings work;
# "exact match" means all eight digits right, so one wrong digit fails the
# whole sequence.
#
# ## 5. What do the heads look at?
#
# To output the $k$-th answer digit the model must read input digit $9 - k$.
# Plot the attention weights for one test sequence (rows: the position doing
# the looking; columns: the positions looked at). For each layer we show the
# head that puts the most weight on the correct source digit: its rows after
# the separator should light up along an **anti-diagonal**.


# %%
def source_weight(weights: Tensor) -> Tensor:
    """Mean weight that answer-predicting positions put on the digit they must copy, per head.

    weights: (B, H, T, T). Input position 8 + k predicts answer digit k, which is digit 7 - k.
    """
    rows = torch.arange(N_DIGITS, 2 * N_DIGITS)
    return weights[:, :, rows, 2 * N_DIGITS - 1 - rows].mean(dim=(0, 2))


model = models["learned"]
with torch.no_grad():
    model(test_set[:200, :-1])
best_heads = [int(source_weight(block.attention.last_weights).argmax()) for block in model.blocks]
for positional, trained in models.items():
    with torch.no_grad():
        trained(test_set[:200, :-1])
    per_layer = [source_weight(block.attention.last_weights).max().item() for block in trained.blocks]
    print(
        f"{positional:10s}: best head's weight on the source digit, per layer:",
        [round(s, 2) for s in per_layer],
    )
    assert max(per_layer) > 0.5, "some head should attend mainly to the digit being copied"

example = test_set[:1, :-1]
with torch.no_grad():
    model(example)
labels = show(example[0]).split()
fig, axes = plt.subplots(1, len(model.blocks), figsize=(11, 4.8), layout="constrained")
for layer, (ax, block) in enumerate(zip(axes, model.blocks, strict=True)):
    head = best_heads[layer]
    image = ax.imshow(block.attention.last_weights[0, head], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_yticks(range(len(labels)), labels)
    ax.set(title=f"layer {layer}, head {head}", xlabel="attended position")
axes[0].set_ylabel("attending position (predicts the next token)")
fig.colorbar(image, ax=axes, label="attention weight")
plt.show()

# %% [markdown]
# The upper-left part (the random input digits) has no pattern worth learning:
# nothing there can be predicted. From the separator row down, the weight
# concentrates on one input digit per row, moving *left* as the row moves
# down: the anti-diagonal. The separator looks at the last digit (the first to
# output), the next row at the second-to-last, and so on. Nobody programmed
# this; it is the cheapest way gradient descent found to cut the loss. With
# sinusoidal positions the printout shows the same mechanism, often only in
# the second layer: the first layer is then busy building position
# information that the second one uses.
#
# ## 6. The causal mask really hides the future
#
# If a logit at position $t$ depended on a token after $t$, training would
# leak the answer and generation (which has no future) would break. Changing a
# late token must therefore leave every earlier logit exactly as it was, and
# may change the logits from that position on.

# %%
model.eval()
sequence = test_set[:1, :-1].clone()
changed = sequence.clone()
position = 12
changed[0, position] = (changed[0, position] + 1) % 10
with torch.no_grad():
    logits, logits_changed = model(sequence), model(changed)
torch.testing.assert_close(logits[:, :position], logits_changed[:, :position])
assert not torch.allclose(logits[:, position:], logits_changed[:, position:]), "later logits should react"
print(f"changing token {position}: logits before it unchanged, logits from it on changed")

# %% [markdown]
# ## What to try next
#
# 1. Replace reversal by **sorting** the eight digits. Which attention
#    pattern do you expect, and does one layer suffice?
# 2. Switch to post-norm blocks (`x = norm(x + attn(x))`) and remove the
#    learning-rate schedule: does training still work as reliably?
# 3. Train on 8 digits with `max_len` large enough for 12, then test on 12:
#    which positional encoding generalises to unseen lengths (hint: neither
#    does well, which is one reason RoPE and ALiBi exist)?
# 4. Remove the positional encoding entirely. The causal mask still leaks
#    position (token $t$ averages over exactly $t + 1$ tokens): does the model
#    still learn to reverse, and how many more steps does it need?
