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
# # Mixture of experts: routing, balancing, capacity, and what sparsity costs
#
# A dense transformer uses every one of its parameters for every token. A
# **mixture-of-experts** (MoE) layer replaces the MLP of a block with several
# MLPs, the *experts*, and a small *router* that sends each token to only $k$
# of them. Parameters grow with the number of experts; the computation per
# token grows only with $k$. Most frontier open models of 2025-2026 are built
# this way (Mixtral, DeepSeek-V3, Qwen3's MoE models, Llama 4, gpt-oss), because
# for a fixed training budget a sparse model reaches a lower loss than a dense
# one that costs the same per token.
#
# **What you will build**
#
# 1. **Top-k routing** and an MoE layer that dispatches tokens to experts,
#    checked against a dense reference that runs every expert on every token.
# 2. The **load-balancing loss** of the Switch Transformer, checked on an
#    example worked out by hand, and what its gradient does.
# 3. **Capacity factor and token dropping**, with the dropped share measured
#    against its exact value under a binomial model.
# 4. **Expert parallelism on paper**: Mixtral 8x7B's total and active
#    parameters from its configuration, and what moves between GPUs.
# 5. **An MoE layer in the shared model**: upcycled from the pretrained
#    checkpoint's MLPs (and checked equal to it), its cost against a dense
#    layer at equal active parameters (FLOPs counted two ways, time measured),
#    and small models trained with and without the balancing loss over three
#    seeds.
#
# It runs on a CPU in about a minute.

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

# %%
import copy
import math
import os
import time
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from pathgpt import GPT, GPTConfig, SwiGLU, evaluate, learning_rate, load_pretrained, load_tokens, make_optimizer
from pathgpt import TrainConfig, sample_batch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))
torch.manual_seed(0)

# %% [markdown]
# ## 1. Top-k routing and the MoE layer
#
# The router is one linear map from the token's hidden vector $x$ to one logit
# per expert, $z = W_r x$. The token goes to the $k$ experts with the largest
# logits, and their outputs are mixed with weights from a softmax over those
# $k$ logits (Mixtral's choice; the Switch Transformer used $k = 1$ and scaled
# the output by the full softmax's probability):
#
# $$y = \sum_{e \in \operatorname{top}_k(z)} g_e(x) \, E_e(x), \qquad g_e(x) = \frac{e^{z_e}}{\sum_{j \in \operatorname{top}_k(z)} e^{z_j}}.$$
#
# The gate weights carry the router's gradient: a token's loss tells the router
# which of its chosen experts should have weighed more. Experts that were not
# chosen get nothing from that token.
#
# An efficient layer does not run every expert on every token. It sorts the
# (token, expert) assignments by expert, runs each expert once on its own
# tokens, and adds the weighted results back into place. The experts here are
# the shared model's own `SwiGLU` MLP, built from a config whose `d_mlp` is the
# expert's width.


# %%
def top_k_route(logits: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Router probabilities (N, E), the chosen experts (N, k) and their gate weights (N, k)."""
    top_logits, chosen = logits.topk(top_k, dim=-1)
    return logits.softmax(-1), chosen, top_logits.softmax(-1)


def dispatch(x: torch.Tensor, experts: nn.ModuleList, chosen: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Each expert runs once, on its own tokens; the weighted results are added back in place."""
    top_k = chosen.shape[1]
    flat_expert, flat_gate = chosen.flatten(), gates.flatten()
    order = flat_expert.argsort(stable=True)
    counts = torch.bincount(flat_expert, minlength=len(experts)).tolist()
    out = torch.zeros_like(x)
    for expert, assignments in zip(experts, order.split(counts)):
        if len(assignments):
            tokens = assignments // top_k
            out.index_add_(0, tokens, flat_gate[assignments, None] * expert(x[tokens]))
    return out


def dense_reference(x: torch.Tensor, experts: nn.ModuleList, chosen: torch.Tensor, gates: torch.Tensor) -> torch.Tensor:
    """Every expert on every token, mixed with a gate matrix that is zero outside each token's top k."""
    mix = torch.zeros(len(x), len(experts), dtype=x.dtype).scatter(1, chosen, gates)
    return sum(mix[:, e : e + 1] * expert(x) for e, expert in enumerate(experts))


base = GPTConfig.modern(256, d_model=32, d_mlp=48)
for dtype, tolerance in [(torch.float64, 1e-12), (torch.float32, 1e-5)]:
    experts = nn.ModuleList(SwiGLU(base) for _ in range(6)).to(dtype)
    router = nn.Linear(32, 6, bias=False).to(dtype)
    x = torch.randn(300, 32, dtype=dtype)
    for top_k in (1, 2, 3):
        probs, chosen, gates = top_k_route(router(x), top_k)
        assert torch.allclose(gates.sum(-1), torch.ones(300, dtype=dtype))
        assert (dispatch(x, experts, chosen, gates) - dense_reference(x, experts, chosen, gates)).abs().max() < tolerance
print("dispatching to experts equals the dense reference for k = 1, 2, 3 (float64 to 1e-12)")

# %% [markdown]
# ## 2. The load-balancing loss
#
# Left alone, routing tends to collapse: an expert that happens to be chosen
# more early on is trained more, becomes better, and is chosen even more, while
# the others starve. The Switch Transformer (Fedus et al., 2021) adds an
# auxiliary loss. With $f_e$ the share of tokens sent to expert $e$ and $P_e$
# the router's mean probability for $e$ over the batch,
#
# $$L_{\text{balance}} = \frac{E}{k} \sum_{e=1}^{E} f_e P_e ,$$
#
# which is 1 when routing is uniform and grows as tokens and probability pile
# onto the same experts. The counts $f_e$ have no gradient; $P_e$ does, and its
# gradient $\partial L / \partial P_e = E f_e / k$ pushes probability hardest
# away from the busiest experts. It is added to the language-modelling loss
# with a small weight ($\alpha = 0.01$ in Switch). (Hugging Face's
# implementation leaves out the $1/k$, so its minimum is $k$.)
#
# **By hand.** Four tokens, two experts, top-1, router probabilities
# $(0.9, 0.1)$, $(0.8, 0.2)$, $(0.6, 0.4)$ and $(0.3, 0.7)$. Three tokens go to
# expert 0 and one to expert 1: $f = (3/4, 1/4)$. The mean probabilities are
# $P = (0.65, 0.35)$. So
# $L = 2 \, (0.75 \cdot 0.65 + 0.25 \cdot 0.35) = 2 \cdot 0.575 = 1.15$.


# %%
def balancing_loss(probs: torch.Tensor, chosen: torch.Tensor, n_experts: int) -> torch.Tensor:
    """(E / k) sum_e f_e P_e: f from the chosen experts (no gradient), P the mean router probabilities."""
    share = F.one_hot(chosen, n_experts).sum(1).float().mean(0)
    return n_experts / chosen.shape[1] * (share * probs.mean(0)).sum()


probs = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]], dtype=torch.float64)
logits = probs.log().requires_grad_()
loss = balancing_loss(logits.softmax(-1), logits.argmax(-1, keepdim=True), 2)
assert abs(loss.item() - 1.15) < 1e-12, loss.item()
loss.backward()
after = (logits - 1.0 * logits.grad).softmax(-1).mean(0)
print(f"L = {loss.item():.4f} (by hand: 1.15); one gradient step moves P from (0.65, 0.35) to ({after[0]:.3f}, {after[1]:.3f})")
assert after[0] < 0.65

uniform = torch.full((1000, 8), 1 / 8)
assert abs(balancing_loss(uniform, torch.arange(1000)[:, None] % 8, 8).item() - 1) < 1e-12
collapsed = F.one_hot(torch.zeros(1000, dtype=torch.long), 8).float()
assert abs(balancing_loss(collapsed, torch.zeros(1000, 1, dtype=torch.long), 8).item() - 8) < 1e-12
print("uniform routing gives 1, everything on one expert gives E = 8")

# %% [markdown]
# DeepSeek-V3 balances without this loss: it adds a per-expert bias to the
# logits used for *choosing* experts (not for weighting them), raised for
# underloaded experts and lowered for overloaded ones after each step. ST-MoE
# adds a **router z-loss**, the mean squared log-sum-exp of the router logits,
# which keeps the logits small and training stable.
#
# ## 3. Capacity factor and token dropping
#
# On accelerators every expert gets a buffer of fixed size, so that the
# computation has static shapes and an expert on an overloaded device cannot
# stall the others. With $N$ tokens, $E$ experts and $k$ choices per token, the
# **capacity** is
#
# $$C = \left\lfloor c \cdot \frac{N k}{E} \right\rfloor,$$
#
# where the **capacity factor** $c$ is typically 1 to 1.25. Assignments beyond
# an expert's capacity are **dropped**: that expert's contribution is missing
# for the token, which still passes through the block's residual connection.
# Assignments are served in token order.
#
# **By hand.** Six tokens choose experts $(0, 0, 1, 0, 2, 0)$ with top-1 among
# three experts at $c = 1$, so $C = \lfloor 6 / 3 \rfloor = 2$. Expert 0 takes
# tokens 0 and 1, and drops tokens 3 and 5.


# %%
def capacity(n_tokens: int, n_experts: int, top_k: int, factor: float) -> int:
    return int(factor * n_tokens * top_k / n_experts)


def within_capacity(chosen: torch.Tensor, n_experts: int, limit: int) -> torch.Tensor:
    """(N, k) booleans: whether each assignment is among the first `limit` of its expert, in token order."""
    one_hot = F.one_hot(chosen.flatten(), n_experts)
    position = (one_hot.cumsum(0) * one_hot).sum(-1) - 1  # rank of the assignment within its expert
    return (position < limit).view(chosen.shape)


choices = torch.tensor([0, 0, 1, 0, 2, 0])[:, None]
keep = within_capacity(choices, 3, capacity(6, 3, 1, 1.0))
assert keep.flatten().tolist() == [True, True, True, False, True, False]


# %% [markdown]
# How many assignments are dropped? If each token's expert is an independent
# draw with probabilities $p_e$, the load of expert $e$ is binomial,
# $X_e \sim \operatorname{Bin}(N, p_e)$, and the expected number dropped is
# $\sum_e \mathbb{E}[\max(0, X_e - C)]$, which we compute exactly from the
# binomial distribution and compare with the layer's own count, for a balanced
# router and for one whose experts are chosen with skewed probabilities.


# %%
def expected_dropped(n_tokens: int, p: np.ndarray, limit: int) -> float:
    """Exact E[sum_e max(0, X_e - limit)] / N for X_e ~ Binomial(N, p_e)."""
    counts = np.arange(n_tokens + 1)
    total = 0.0
    for pe in p:
        log_pmf = [
            math.lgamma(n_tokens + 1) - math.lgamma(c + 1) - math.lgamma(n_tokens - c + 1)
            + c * math.log(pe) + (n_tokens - c) * math.log1p(-pe)
            for c in counts
        ]
        total += float(np.sum(np.exp(log_pmf) * np.maximum(0, counts - limit)))
    return total / n_tokens


n_tokens, n_experts = 512, 8
skewed = np.array([0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.05])
factors = [0.75, 1.0, 1.25, 1.5, 2.0, 3.0]
measured = {"balanced": [], "skewed": []}
exact = {"balanced": [], "skewed": []}
generator = torch.Generator().manual_seed(0)
for factor in factors:
    for name, p in [("balanced", np.full(n_experts, 1 / n_experts)), ("skewed", skewed)]:
        drops = []
        for _ in range(200):
            chosen = torch.multinomial(torch.tensor(p), n_tokens, replacement=True, generator=generator)[:, None]
            drops.append(1 - within_capacity(chosen, n_experts, capacity(n_tokens, n_experts, 1, factor)).float().mean().item())
        measured[name].append(np.mean(drops))
        exact[name].append(expected_dropped(n_tokens, p, capacity(n_tokens, n_experts, 1, factor)))
        standard_error = np.std(drops) / np.sqrt(len(drops))
        assert abs(measured[name][-1] - exact[name][-1]) < 4 * standard_error + 1e-4, (name, factor)

plt.figure(figsize=(6, 3.6))
for name, colour in [("balanced", "tab:blue"), ("skewed", "tab:red")]:
    plt.plot(factors, exact[name], "-", color=colour, label=f"{name}: exact (binomial)")
    plt.plot(factors, measured[name], "o", color=colour, label=f"{name}: measured, 200 batches")
plt.xlabel("capacity factor c")
plt.ylabel("share of assignments dropped")
plt.title(f"Token dropping, {n_tokens} tokens, {n_experts} experts, top-1")
plt.legend()
plt.tight_layout()
plt.show()
print("dropped at c = 1.0 / 1.25:", {k: [round(v[1], 3), round(v[2], 3)] for k, v in measured.items()})

# %% [markdown]
# Even a perfectly balanced router drops a few percent at $c = 1$, because
# random loads fluctuate around their mean; a skewed router drops much more,
# whatever capacity is affordable. That is the second reason for balancing. Many
# recent systems avoid dropping altogether ("dropless" MoE, MegaBlocks'
# block-sparse kernels), paying with variable-size work per expert.
#
# ## 4. Expert parallelism, on paper
#
# Mixtral 8x7B (Jiang et al., 2024) has the shape of Mistral 7B with each
# MLP replaced by 8 SwiGLU experts and top-2 routing: hidden size 4096, 32
# layers, MLP width 14336, 32 query heads and 8 key/value heads of size 128,
# a vocabulary of 32000, untied embeddings. From these numbers alone:


# %%
def mixtral_parameters(experts_used: int) -> float:
    d, layers, width, heads, kv_heads, head, vocab, experts = 4096, 32, 14336, 32, 8, 128, 32000, 8
    attention = d * heads * head * 2 + d * kv_heads * head * 2  # q and o, k and v
    expert = 3 * d * width
    norms = 2 * d
    per_layer = attention + experts_used * expert + d * experts + norms
    return (layers * per_layer + 2 * vocab * d + d) / 1e9


total, active = mixtral_parameters(8), mixtral_parameters(2)
print(f"Mixtral 8x7B: {total:.1f}B parameters in all, {active:.1f}B used per token")
assert round(total, 1) == 46.7 and round(active, 1) == 12.9  # the figures Mistral AI published

# %% [markdown]
# The names mislead: it is not 8 x 7 = 56B, because attention, embeddings and
# norms are shared; and each token uses the compute of a 13B dense model while
# all 46.7B parameters (93 GB in bf16) must sit in memory. MoE saves compute,
# not memory.
#
# With **expert parallelism**, the experts of a layer are spread over $D$
# devices (8 GPUs, one expert each, for Mixtral). Each MoE layer then costs two
# **all-to-all** exchanges: every device sends each of its tokens' hidden
# vectors to the devices that hold the chosen experts, and receives the results
# back. Per layer and per token that is $2 k d$ numbers in flight (a share
# $1/D$ of them stays local):

# %%
d, k, tokens_per_step, layers, bytes_per_number = 4096, 2, 4096 * 256, 32, 2
exchanged = 2 * k * d * tokens_per_step * layers * bytes_per_number * (1 - 1 / 8)
print(f"a training step over {tokens_per_step:,} tokens moves {exchanged / 1e12:.2f} TB through all-to-alls")

# %% [markdown]
# (Forward only; the backward pass sends as much again.) That traffic is why MoE
# training wants fast interconnects, why DeepSeek-V3 limits each token to
# experts on at most four nodes, and why experts are often combined with data,
# tensor and pipeline parallelism.
#
# ## 5. An MoE layer in the shared model
#
# **Upcycling.** A cheap way to start an MoE is from a trained dense model
# (Komatsuzaki et al., 2022): every expert begins as a copy of the dense MLP.
# With top-2 routing and gates that sum to 1, a layer whose experts are all
# the same MLP computes exactly that MLP, whatever the router says. So an
# upcycled model must reproduce the pretrained model's logits: a strong check
# that the layer is wired into the shared model correctly. Training then lets
# the experts drift apart.

# %%
class MoE(nn.Module):
    """A mixture of SwiGLU experts with top-k routing, a drop-in replacement for a block's `mlp`.

    After each forward it holds `aux_loss` (the balancing loss), `load` (the share of tokens sent to
    each expert) and `dropped` (the share of assignments over capacity, when capacity_factor is set).
    """

    def __init__(
        self, config: GPTConfig, n_experts: int, top_k: int, expert_width: int, capacity_factor: float | None = None
    ) -> None:
        super().__init__()
        self.n_experts, self.top_k, self.capacity_factor = n_experts, top_k, capacity_factor
        self.router = nn.Linear(config.d_model, n_experts, bias=False)
        self.experts = nn.ModuleList(SwiGLU(replace(config, d_mlp=expert_width)) for _ in range(n_experts))
        self.aux_loss = torch.tensor(0.0)
        self.load = torch.zeros(n_experts)
        self.dropped = 0.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        probs, chosen, gates = top_k_route(self.router(x), self.top_k)
        self.load = F.one_hot(chosen, self.n_experts).sum(1).float().mean(0).detach()
        self.aux_loss = balancing_loss(probs, chosen, self.n_experts)
        if self.capacity_factor is not None:
            limit = capacity(len(x), self.n_experts, self.top_k, self.capacity_factor)
            keep = within_capacity(chosen, self.n_experts, limit)
            self.dropped = 1 - keep.float().mean().item()
            gates = gates * keep
        return dispatch(x, self.experts, chosen, gates).reshape(shape)


# %%
model, tokenizer = load_pretrained()
config = model.config
validation = load_tokens("validation")
upcycled = copy.deepcopy(model)
for block in upcycled.blocks:
    moe = MoE(config, n_experts=4, top_k=2, expert_width=config.mlp_width)
    for expert in moe.experts:
        expert.load_state_dict(block.mlp.state_dict())
    block.mlp = moe
sample = validation[:4 * 128].view(4, 128)
with torch.no_grad():
    difference = (upcycled(sample) - model(sample)).abs().max().item()
assert difference < 1e-4, difference
print(f"upcycled model: {upcycled.num_parameters():,d} parameters against {model.num_parameters():,d};"
      f" logits equal to the pretrained model's (max difference {difference:.1e})")

# %% [markdown]
# **Cost at equal active parameters.** Now the comparison that decides whether
# MoE pays: a dense SwiGLU of width $w$ against 8 experts of width $w/2$ with
# top-2 routing. Both spend the same multiply-adds on MLP work per token; the
# MoE adds a router and holds four times the MLP parameters. We count the
# floating-point operations of a forward pass by formula and with PyTorch's
# `FlopCounterMode` (which counts what the matrix multiplications actually
# did), and time forward and backward passes of the layer on 2048 tokens.


# %%
width = config.mlp_width
dense_layer = SwiGLU(config)
moe_layer = MoE(config, n_experts=8, top_k=2, expert_width=width // 2)
tokens = torch.randn(2048, config.d_model)


def counted_flops(layer: nn.Module, x: torch.Tensor) -> int:
    with FlopCounterMode(display=False) as counter:
        layer(x)
    return counter.get_total_flops()


n, d_model = len(tokens), config.d_model
dense_formula = 2 * n * 3 * d_model * width
moe_formula = 2 * n * d_model * 8 + 2 * n * 2 * 3 * d_model * (width // 2)
assert counted_flops(dense_layer, tokens) == dense_formula
assert counted_flops(moe_layer, tokens) == moe_formula
parameters = {name: sum(p.numel() for p in layer.parameters()) for name, layer in [("dense", dense_layer), ("moe", moe_layer)]}
print(f"forward FLOPs on {n} tokens: dense {dense_formula / 1e6:.1f} M, MoE {moe_formula / 1e6:.1f} M"
      f" ({moe_formula / dense_formula - 1:+.1%}, the router); parameters {parameters['dense']:,d} against {parameters['moe']:,d}")


def step_seconds(layer: nn.Module, x: torch.Tensor, repeats: int) -> float:
    """Median wall time of a forward and backward pass, after two warm-up passes."""
    times = []
    for _ in range(repeats + 2):
        started = time.perf_counter()
        layer(x).square().mean().backward()
        times.append(time.perf_counter() - started)
    return float(np.median(times[2:]))


sizes = [32, 256, 2048]
ratios = []
for size in sizes:
    x = torch.randn(size, config.d_model)
    repeats = max(3, 2048 // size)
    pairs = [(step_seconds(moe_layer, x, repeats), step_seconds(dense_layer, x, repeats)) for _ in range(3)]
    ratios.append(float(np.median([m / d for m, d in pairs])))
    print(
        f"{size:5d} tokens: dense {np.median([d for _, d in pairs]) * 1e3:6.2f} ms,"
        f" MoE {np.median([m for m, _ in pairs]) * 1e3:6.2f} ms, ratio {ratios[-1]:.2f}"
    )
plt.figure(figsize=(6, 3.4))
plt.semilogx(sizes, ratios, "o-", base=2)
plt.axhline(moe_formula / dense_formula, color="grey", ls=":", label="ratio of FLOPs")
plt.xlabel("tokens in the batch")
plt.ylabel("MoE time / dense time")
plt.title("Forward + backward at equal active parameters (shared CPU)")
plt.legend()
plt.tight_layout()
plt.show()
assert ratios[0] > 1.5 * moe_formula / dense_formula, ratios

# %% [markdown]
# Equal FLOPs, unequal time, and most unequal for small batches: the MoE
# sorts assignments, gathers each expert's tokens, runs eight small matrix
# multiplications instead of one large one and scatters the results back, and
# with few tokens per expert those steps dominate. That is why MoE inference
# is least efficient when decoding one sequence at a time, and why MoE training
# and serving want many tokens per step. On GPUs the same overheads are
# attacked with grouped GEMM kernels that run all experts in one launch. The
# FLOPs saving is real only when the hardware stays busy.
#
# **Training with and without the balancing loss.** Three small models with
# the shared model's block (two layers, width 64), trained for the same steps
# on the same batches of the standard-library corpus: dense; MoE with 8 experts of
# half the width, top-2, at equal active parameters, with the balancing loss
# ($\alpha = 0.01$); and the same MoE without it. Three seeds each. We record the
# validation loss and how unevenly the experts are used: the coefficient of
# variation of the load, $\operatorname{sd}(f) / \operatorname{mean}(f)$, 0 when
# every expert gets the same share.


# %%
train_tokens = load_tokens("train")
small = replace(config, context=64, d_model=64, n_layers=2, n_heads=4, n_kv_heads=2, d_mlp=None)
schedule = TrainConfig(steps=100, batch_size=8, lr=3e-3, min_lr=3e-4, warmup_steps=10)


def build(kind: str, seed: int) -> GPT:
    torch.manual_seed(seed)
    net = GPT(small)
    if kind != "dense":
        for block in net.blocks:
            block.mlp = MoE(small, n_experts=8, top_k=2, expert_width=small.mlp_width // 2)
            for name, p in block.mlp.named_parameters():
                std = 0.02 / math.sqrt(2 * small.n_layers) if name.endswith("down.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
    return net


def train_small(kind: str, seed: int, alpha: float) -> dict:
    net = build(kind, seed)
    optimizer = make_optimizer(net, schedule.lr, schedule.weight_decay, schedule.betas)
    generator = torch.Generator().manual_seed(seed)
    started = time.perf_counter()
    for step in range(schedule.steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, schedule)
        inputs, targets = sample_batch(train_tokens, schedule.batch_size, small.context, generator)
        _, loss = net(inputs, targets)
        moes = [b.mlp for b in net.blocks if isinstance(b.mlp, MoE)]
        if alpha and moes:
            loss = loss + alpha * sum(m.aux_loss for m in moes) / len(moes)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), schedule.grad_clip)
        optimizer.step()
    seconds = time.perf_counter() - started
    result = {"loss": evaluate(net, validation, max_windows=64), "seconds": seconds}
    if moes:
        loads = torch.stack([m.load for m in moes])
        result["imbalance"] = (loads.std(-1) / loads.mean(-1)).mean().item()
    return result


runs = {"dense": [], "MoE, balanced": [], "MoE, no balancing loss": []}
for seed in range(3):
    runs["dense"].append(train_small("dense", seed, 0.0))
    runs["MoE, balanced"].append(train_small("moe", seed, 0.01))
    runs["MoE, no balancing loss"].append(train_small("moe", seed, 0.0))
for name, results in runs.items():
    losses = [r["loss"] for r in results]
    shown = f"validation loss {np.mean(losses):.3f} +- {np.std(losses):.3f}"
    if "imbalance" in results[0]:
        shown += f", load imbalance {np.mean([r['imbalance'] for r in results]):.2f}"
    print(f"{name:24s} {shown}, {np.mean([r['seconds'] for r in results]):.1f} s to train")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
names = list(runs)
for i, name in enumerate(names):
    axes[0].bar(i, np.mean([r["loss"] for r in runs[name]]), yerr=np.std([r["loss"] for r in runs[name]]), capsize=6)
for i, name in enumerate(names[1:]):
    values = [r["imbalance"] for r in runs[name]]
    axes[1].bar(i, np.mean(values), yerr=np.std(values), capsize=6, color=["tab:orange", "tab:green"][i])
axes[0].set_xticks(range(3), ["dense", "MoE\nbalanced", "MoE\nno balancing"])
axes[0].set(ylabel="validation loss (nats)", title="Equal active parameters, 100 steps, 3 seeds")
axes[0].set_ylim(min(r["loss"] for rs in runs.values() for r in rs) - 0.2, None)
axes[1].set_xticks(range(2), ["balanced", "no balancing loss"])
axes[1].set(ylabel="sd / mean of expert load", title="How unevenly experts are used")
plt.tight_layout()
plt.show()
balanced = [r["imbalance"] for r in runs["MoE, balanced"]]
unbalanced = [r["imbalance"] for r in runs["MoE, no balancing loss"]]
assert max(balanced) < min(unbalanced), (balanced, unbalanced)

# %% [markdown]
# The balancing loss does its job in every seed: the experts are used more
# evenly than without it. Whether the sparse model beats the dense one at
# equal active parameters depends on training long enough for the extra
# parameters to matter; at 100 steps of a tiny model the difference is at most
# small, while the papers that report it (Switch, Mixtral, DeepSeekMoE) train for
# hundreds of billions of tokens. The time column shows what section 5
# measured: on a CPU, the MoE is slower per step for the same FLOPs.
#
# ## What to try next
#
# 1. **The router z-loss.** ST-MoE's z-loss is the mean over tokens of the
#    squared log-sum-exp of the router logits. Write `z_loss(logits)` for
#    logits of shape `(N, E)`.
#
# <details><summary>Solution</summary>
#
# ```python
# def z_loss(logits):
#     return torch.logsumexp(logits, dim=-1).square().mean()
# ```
#
# It penalises large logits without caring which expert wins, which keeps the
# router's softmax out of the range where rounding errors grow (ST-MoE used a
# weight of 0.001).
# </details>
#
# 2. **Capacity by hand.** Write `dropped_tokens(choices, n_experts, factor)`
#    that returns the sorted list of token indices dropped under top-1 routing,
#    where `choices` is a list of expert ids in token order and the capacity is
#    $\lfloor c N / E \rfloor$. Use plain Python, not `within_capacity`.
#
# <details><summary>Solution</summary>
#
# ```python
# def dropped_tokens(choices, n_experts, factor):
#     limit = int(factor * len(choices) / n_experts)
#     used, dropped = [0] * n_experts, []
#     for token, expert in enumerate(choices):
#         if used[expert] < limit:
#             used[expert] += 1
#         else:
#             dropped.append(token)
#     return dropped
# ```
# </details>
#
# 3. **Shared experts.** DeepSeekMoE adds one or two *shared* experts that
#    every token uses, beside the routed ones. Add a `shared` SwiGLU to `MoE`,
#    train the small model again at equal active parameters, and compare.
#
# Write your answers to exercises 1 and 2 in the next cell and run the check
# after it.


# %%
def z_loss(logits: torch.Tensor) -> torch.Tensor:
    raise NotImplementedError  # exercise 1


def dropped_tokens(choices: list[int], n_experts: int, factor: float) -> list[int]:
    raise NotImplementedError  # exercise 2


# %%
from exercises import run_check


def check_z_loss(candidate) -> None:
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]], dtype=torch.float64)
    expected = (math.log(2.0) ** 2 + math.log(4.0) ** 2) / 2  # log(e^0 + e^0), log(3 + 1)
    assert abs(float(candidate(logits)) - expected) < 1e-12, "mean of squared log-sum-exp over tokens"
    shifted = logits + 5
    assert float(candidate(shifted)) > float(candidate(logits)), "larger logits must cost more"


def check_dropped_tokens(candidate) -> None:
    assert candidate([0, 0, 1, 0, 2, 0], 3, 1.0) == [3, 5]
    assert candidate([0, 0, 1, 0, 2, 0], 3, 2.0) == [], "capacity 4: nothing dropped"
    assert candidate([0, 0, 0, 1, 1], 2, 1.0) == [2], "capacity 5 / 2 rounds down to 2"
    generator = torch.Generator().manual_seed(3)
    for factor in (0.5, 1.0, 1.1, 1.25):
        chosen = torch.randint(0, 4, (64,), generator=generator)
        keep = within_capacity(chosen[:, None], 4, capacity(64, 4, 1, factor)).flatten()
        assert candidate(chosen.tolist(), 4, factor) == torch.nonzero(~keep).flatten().tolist(), factor


print("exercise 1:", run_check(check_z_loss, z_loss))
print("exercise 2:", run_check(check_dropped_tokens, dropped_tokens))

# %% [markdown]
# The checks are tested too: they must pass the solutions above, reject a
# wrong answer, and report an untouched stub as not attempted.


# %%
def solution_z_loss(logits):
    return torch.logsumexp(logits, dim=-1).square().mean()


def wrong_z_loss(logits):
    return logits.square().mean()  # squares the logits, not their log-sum-exp


def solution_dropped_tokens(choices, n_experts, factor):
    limit = int(factor * len(choices) / n_experts)
    used, dropped = [0] * n_experts, []
    for token, expert in enumerate(choices):
        if used[expert] < limit:
            used[expert] += 1
        else:
            dropped.append(token)
    return dropped


def wrong_dropped_tokens(choices, n_experts, factor):
    limit = math.ceil(factor * len(choices) / n_experts)  # rounds the capacity up
    used, dropped = [0] * n_experts, []
    for token, expert in enumerate(choices):
        used[expert] += 1
        if used[expert] > limit:
            dropped.append(token)
    return dropped


assert run_check(check_z_loss, solution_z_loss) == "passed"
assert run_check(check_dropped_tokens, solution_dropped_tokens) == "passed"
assert run_check(check_z_loss, wrong_z_loss).startswith("not yet")
assert run_check(check_dropped_tokens, wrong_dropped_tokens).startswith("not yet")
assert run_check(check_z_loss, z_loss).startswith("not attempted")
assert run_check(check_dropped_tokens, dropped_tokens).startswith("not attempted")
