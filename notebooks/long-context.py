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
# # Long context, and beyond attention
#
# The path's shared GPT was pretrained on windows of 256 tokens. What happens
# when it reads 1024? This notebook takes that question from both ends. First
# the attention end: why a RoPE model breaks past its training length, the
# three ways of rescaling its rotation angles that let it read further without
# retraining (**position interpolation**, **NTK-aware** scaling and **YaRN**),
# **sliding-window attention**, which caps how far back each token looks, and
# where in a long context a model actually finds what it needs (**lost in the
# middle**). Then the other end: layers whose memory does not grow with the
# context at all, a **selective state-space** recurrence (the Mamba layer) and
# **linear attention**, each written three ways (a loop, a parallel scan and a
# masked matrix product, the attention-like form) and checked equal.
#
# **What you will build and check**
#
# - the shared model run on 1024-token documents, checked to give exactly its
#   own logits on the first 256 positions, and its loss position by position;
# - RoPE tables rescaled by position interpolation, NTK-aware scaling and YaRN,
#   each checked against the unscaled tables where it must agree with them and
#   against the relative-position property, then measured past the training
#   length with intervals over documents;
# - sliding-window attention plugged into the shared model, checked against the
#   full model and against a window written out query by query;
# - which stretch of its context the model uses: a span hidden from attention
#   at every depth, the loss rise with an interval over windows, and the first
#   tokens (an attention sink?);
# - a selective scan computed as a recurrence, as a log-depth parallel scan and
#   as a masked matrix product, all three equal; linear attention as a
#   quadratic form, as a recurrence and as the same scan.

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
import math
import os
import time
import types
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from pathgpt import GPT, KVCache, apply_rope, load_pretrained, load_tokens, rope_tables
from torch import Tensor

torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1))
torch.manual_seed(0)
F64 = torch.float64
started = time.perf_counter()

model, tokenizer = load_pretrained()
config = model.config
TRAINED = config.context
LONG = 4 * TRAINED
validation = load_tokens("validation")
cuts = (validation == tokenizer.eot_id).nonzero().flatten().tolist()
documents = [validation[a + 1 : b] for a, b in zip([-1, *cuts[:-1]], cuts)]
long_documents = [d for d in documents if len(d) > LONG]
sample = torch.stack([d[: LONG + 1] for d in long_documents[:24]])
inputs, targets = sample[:, :-1], sample[:, 1:]
print(
    f"the shared model: {model.num_parameters():,d} parameters, trained on {TRAINED}-token windows,"
    f" head size {config.head_dim} ({config.head_dim // 2} RoPE pairs), rope base {config.rope_base:g}"
)
print(f"{len(long_documents)} validation documents longer than {LONG} tokens; measuring on the first {len(sample)}")

# %% [markdown]
# ## 1. Past the training length
#
# A learned position table simply has no row 256. RoPE has no table to run
# out of: it rotates each pair $i$ of a query or key by the angle $p\,\theta_i$
# with $\theta_i = b^{-2i/d}$ ($b$ the base, $d$ the head size), so any position
# can be computed, and pathgpt derives the tables from the config rather than
# saving them. A copy of the model with `context=1024` loads the same weights
# and reads four times as far; on the first 256 positions it must give exactly
# the original model's logits, since causal attention never looks ahead.

# %%
long_model = GPT(replace(config, context=LONG)).eval()
long_model.load_state_dict(model.state_dict())
original_tables = (long_model.rope_cos.clone(), long_model.rope_sin.clone())
with torch.no_grad():
    short_logits = model(inputs[:4, :TRAINED])
    long_logits = long_model(inputs[:4])
assert torch.allclose(long_logits[:, :TRAINED], short_logits, atol=1e-4), "the first 256 positions do not change"


def position_losses(net: GPT, batch: int = 8) -> Tensor:
    """Cross-entropy at each position of the sample, (documents, LONG)."""
    losses = []
    with torch.no_grad():
        for i in range(0, len(inputs), batch):
            logits = net(inputs[i : i + batch])
            losses.append(F.cross_entropy(logits.transpose(1, 2), targets[i : i + batch], reduction="none"))
    return torch.cat(losses)


def band_means(losses: Tensor, width: int = 64) -> np.ndarray:
    return losses.mean(0).view(-1, width).mean(-1).numpy()


unscaled = position_losses(long_model)
inside, outside = unscaled[:, :TRAINED].mean().item(), unscaled[:, TRAINED:].mean().item()
print(f"no scaling: loss {inside:.3f} on positions 0-{TRAINED - 1}, {outside:.3f} on positions {TRAINED}-{LONG - 1}")

# %% [markdown]
# Why it breaks: the fast pairs (small $i$) turn through many full circles
# within 256 positions, so the model has seen every angle they can take; the
# slow pairs do not complete one turn, and past position 256 they reach angles,
# and therefore relative rotations between a query and a key, that training
# never produced. The plot shows how far each pair turns within the training
# window (a value above 1 means it completed a full turn).

# %%
pairs = torch.arange(config.head_dim // 2)
theta = config.rope_base ** (-2 * pairs.to(F64) / config.head_dim)
turns = TRAINED * theta / (2 * math.pi)
plt.figure(figsize=(6, 3.2))
plt.semilogy(pairs, turns, "o-", label=f"turns within {TRAINED} positions")
plt.semilogy(pairs, LONG * theta / (2 * math.pi), "s--", label=f"turns within {LONG} positions")
plt.axhline(1, color="grey", ls=":")
plt.xlabel("RoPE pair i")
plt.ylabel("full turns")
plt.title("Which rotations the model has seen")
plt.legend()
plt.tight_layout()
plt.show()
unseen = int((turns < 1).sum())
print(f"{unseen} of {len(pairs)} pairs never complete a turn inside the training window")

# %% [markdown]
# ## 2. Rescaling RoPE: interpolation, NTK-aware, YaRN
#
# Three answers, each a new set of frequencies $\theta_i'$ for a scale factor
# $s$ (the new length over the trained one; here $s = 4$):
#
# - **Position interpolation** (Chen et al., 2023) divides every frequency by
#   $s$: position 1000 looks like position 250. No angle is new, but neighbouring
#   tokens are now $s$ times closer together than the model ever saw, which
#   blurs the fast pairs that encode local order.
# - **NTK-aware scaling** (bloc97, 2023) raises the base instead,
#   $b' = b\,s^{d/(d-2)}$: the fastest pair is untouched and the slowest is
#   divided by exactly $s$, with a geometric blend between.
# - **YaRN** (Peng et al., 2023) decides per pair from its wavelength
#   $\lambda_i = 2\pi/\theta_i$: pairs that turn more than $\beta = 32$ times
#   within the trained length keep their frequency, pairs that turn less than
#   $\alpha = 1$ times are interpolated by $s$, those between are blended
#   linearly; and it sharpens attention by multiplying both queries and keys by
#   $0.1 \ln s + 1$, since interpolated scores are flatter.
#
# All three only change the `rope_cos` and `rope_sin` buffers of the long model.
# In practice each is followed by a short fine-tune on long documents (a few
# hundred steps for PI and YaRN in their papers); here we measure them as they
# are, with no training at all.


# %%
def scaled_rope(kind: str, scale: float, length: int = LONG, alpha: float = 1.0, beta: float = 32.0) -> tuple[Tensor, Tensor]:
    """cos and sin tables (length, head_dim // 2) for 'none', 'pi', 'ntk' or 'yarn' at the given scale."""
    d, base = config.head_dim, config.rope_base
    exponents = torch.arange(0, d, 2, dtype=F64) / d
    frequencies = base**-exponents
    magnitude = 1.0
    if kind == "pi":
        frequencies = frequencies / scale
    elif kind == "ntk":
        frequencies = (base * scale ** (d / (d - 2))) ** -exponents
    elif kind == "yarn":
        rotations = TRAINED * frequencies / (2 * math.pi)  # turns within the trained length
        keep = ((rotations - alpha) / (beta - alpha)).clamp(0, 1)
        frequencies = keep * frequencies + (1 - keep) * frequencies / scale
        magnitude = 0.1 * math.log(scale) + 1
    elif kind != "none":
        raise ValueError(kind)
    angles = torch.arange(length, dtype=F64)[:, None] * frequencies
    return (angles.cos() * magnitude).float(), (angles.sin() * magnitude).float()


def use_rope(net: GPT, tables: tuple[Tensor, Tensor]) -> None:
    net.rope_cos.copy_(tables[0])
    net.rope_sin.copy_(tables[1])


# The checks, against pathgpt's own tables:
reference_cos, reference_sin = rope_tables(config.head_dim, LONG, config.rope_base)
assert torch.equal(scaled_rope("none", 4)[0], reference_cos) and torch.equal(scaled_rope("none", 4)[1], reference_sin)
pi_cos, _ = scaled_rope("pi", 4)
assert torch.allclose(pi_cos[::4], reference_cos[: LONG // 4], atol=1e-6), "PI: position 4p is the old position p"
ntk = scaled_rope("ntk", 4)
ntk_angle = torch.atan2(ntk[1][1], ntk[0][1]).to(F64)  # the angles of position 1
assert abs(ntk_angle[0] - theta[0]) < 1e-6, "NTK: the fastest pair keeps its frequency"
assert abs(ntk_angle[-1] - theta[-1] / 4) < 1e-7, "NTK: the slowest pair is interpolated by exactly s"
yarn = scaled_rope("yarn", 4)
yarn_angle = torch.atan2(yarn[1][1], yarn[0][1]).to(F64)
yarn_magnitude = (yarn[0] ** 2 + yarn[1] ** 2).sqrt()
assert torch.allclose(yarn_magnitude, torch.full_like(yarn_magnitude, 0.1 * math.log(4) + 1), atol=1e-5)
assert torch.allclose(yarn_angle[turns > 32], theta[turns > 32], atol=1e-6), "YaRN keeps the fast pairs"
assert torch.allclose(yarn_angle[turns < 1], theta[turns < 1] / 4, atol=1e-7), "YaRN interpolates the slow ones"

# Every variant is still a rotation by position times frequency: scores depend on the distance only.
generator = torch.Generator().manual_seed(0)
q, k = torch.randn(2, 1, config.head_dim, generator=generator)
for kind in ["pi", "ntk", "yarn"]:
    cos, sin = scaled_rope(kind, 4)
    score = lambda m, n: (apply_rope(q, cos[m : m + 1], sin[m : m + 1]) * apply_rope(k, cos[n : n + 1], sin[n : n + 1])).sum()
    assert torch.allclose(score(700, 650), score(60, 10), atol=1e-4), kind
    assert not torch.allclose(score(700, 650), score(700, 600), atol=1e-2), kind

plt.figure(figsize=(6, 3.2))
for kind in ["pi", "ntk", "yarn"]:
    cos, sin = scaled_rope(kind, 4)
    plt.plot(pairs, torch.atan2(sin[1], cos[1]) / theta, "o-", label=kind)
plt.axhline(1 / 4, color="grey", ls=":")
plt.xlabel("RoPE pair i")
plt.ylabel(r"$\theta_i' / \theta_i$")
plt.title("How each method rescales the frequencies (s = 4)")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Now the loss at every position of the 1024-token documents, for each method,
# averaged over bands of 64 positions.

# %%
losses = {"no scaling": unscaled}
for kind, name in [("pi", "position interpolation"), ("ntk", "NTK-aware"), ("yarn", "YaRN")]:
    use_rope(long_model, scaled_rope(kind, 4))
    losses[name] = position_losses(long_model)
use_rope(long_model, original_tables)


def paired_interval(a: Tensor, b: Tensor, draws: int = 2000) -> tuple[float, float, float]:
    """Mean of a - b over documents with a 95% bootstrap interval (documents resampled, 2000 draws)."""
    difference = (a - b).to(F64)
    generator = torch.Generator().manual_seed(0)
    picks = torch.randint(0, len(difference), (draws, len(difference)), generator=generator)
    means = difference[picks].mean(1)
    return difference.mean().item(), means.quantile(0.025).item(), means.quantile(0.975).item()


summary = {}
for name, loss in losses.items():
    summary[name] = (loss[:, :TRAINED].mean(1), loss[:, TRAINED:].mean(1))
    print(f"{name:>24}: positions < {TRAINED}: {summary[name][0].mean():.3f};   {TRAINED}-{LONG - 1}: {summary[name][1].mean():.3f}")

# %% [markdown]
# ## 3. Sliding-window attention
#
# Another way to stay within what the model knows: let each token attend to
# the last $w$ tokens only. Mistral 7B used a window of 4096 in every layer;
# Gemma 2 and 3 and GPT-OSS alternate local sliding-window layers with global
# ones. A window bounds the KV cache at $w$ positions per layer (a ring buffer),
# and with RoPE it means no query ever meets a key further away than distances
# seen in training. Information still travels further than $w$: each layer
# can pass it on by $w - 1$ positions, so $L$ layers reach $L(w - 1)$ back.
#
# It plugs into pathgpt by replacing each attention layer's `forward` with a
# copy that adds the band to the causal mask. The replacement is checked
# against the model itself (with no window it must give the same logits) and
# against a window written out one query at a time.


# %%
def sliding_window(window: int):
    """A mask rule: query p may see keys p - window + 1 .. p (the causal mask adds the upper end)."""
    return lambda query_pos, key_pos: key_pos > query_pos - window


def masked_attention(q: Tensor, k: Tensor, v: Tensor, rule=None, start_pos: int = 0) -> Tensor:
    """Causal attention, narrowed by rule(query positions (T, 1), key positions (1, S)) -> allowed if given."""
    query_pos = torch.arange(start_pos, start_pos + q.shape[2])[:, None]
    key_pos = torch.arange(k.shape[2])[None, :]
    allowed = key_pos <= query_pos
    if rule is not None:
        allowed &= rule(query_pos, key_pos)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, enable_gqa=q.shape[1] != k.shape[1])


def masked_forward(rule):
    """An Attention.forward for pathgpt's attention layers, with the causal mask narrowed by a rule."""

    def forward(self, x, rope=None, cache=None, layer=0, start_pos=0):
        batch, length, _ = x.shape
        sizes = [self.n_heads * self.head_dim, *2 * [self.n_kv_heads * self.head_dim]]
        q, k, v = self.qkv(x).split(sizes, dim=-1)
        q = q.view(batch, length, self.n_heads, self.head_dim).transpose(1, 2)
        k = k.view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(batch, length, self.n_kv_heads, self.head_dim).transpose(1, 2)
        if rope is not None:
            cos, sin = (table[start_pos : start_pos + length] for table in rope)
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.update(layer, start_pos, k, v)
        heads = masked_attention(q, k, v, rule, start_pos)
        return self.proj(heads.transpose(1, 2).reshape(batch, length, self.n_heads * self.head_dim))

    return forward


def set_mask(net: GPT, rule) -> None:
    """Narrow every attention layer's mask by `rule`; None puts the class's own forward back."""
    for block in net.blocks:
        if rule is None and "forward" in vars(block.attn):
            del block.attn.forward
        elif rule is not None:
            block.attn.forward = types.MethodType(masked_forward(rule), block.attn)


def set_window(net: GPT, window: int | None) -> None:
    set_mask(net, None if window is None else sliding_window(window))


# The window written out: each query's softmax over its last `window` keys, one query at a time.
generator = torch.Generator().manual_seed(1)
q, k, v = (torch.randn(2, 4, 40, 8, generator=generator, dtype=F64) for _ in range(3))
by_hand = torch.zeros_like(q)
for p in range(40):
    first = max(0, p - 7 + 1)
    weights = (q[:, :, p : p + 1] @ k[:, :, first : p + 1].transpose(-2, -1) / math.sqrt(8)).softmax(-1)
    by_hand[:, :, p] = (weights @ v[:, :, first : p + 1])[:, :, 0]
assert torch.allclose(masked_attention(q, k, v, sliding_window(7)), by_hand, atol=1e-10)
assert torch.allclose(masked_attention(q, k, v, sliding_window(40)), F.scaled_dot_product_attention(q, k, v, is_causal=True), atol=1e-10)

# Plugged into the shared model: no window reproduces it, a window changes it, removing it restores it.
with torch.no_grad():
    reference = long_model(inputs[:2])
    set_window(long_model, LONG)
    assert torch.allclose(long_model(inputs[:2]), reference, atol=1e-4)
    set_window(long_model, 64)
    assert not torch.allclose(long_model(inputs[:2]), reference, atol=1e-2)
    set_window(long_model, None)
    assert torch.equal(long_model(inputs[:2]), reference)

# Also with the KV cache: decoding token by token through the windowed layers matches the full pass.
set_window(long_model, 64)
with torch.no_grad():
    full = long_model(inputs[:1, :300])
    cache = KVCache(long_model.config, 1)
    stepped = torch.cat([long_model(inputs[:1, p : p + 1], cache=cache, start_pos=p) for p in range(300)], dim=1)
assert torch.allclose(stepped, full, atol=1e-4), "windowed decoding with a cache equals the full windowed pass"
set_window(long_model, None)

set_window(long_model, TRAINED)
losses["sliding window 256"] = position_losses(long_model)
set_window(long_model, None)
summary["sliding window 256"] = (losses["sliding window 256"][:, :TRAINED].mean(1), losses["sliding window 256"][:, TRAINED:].mean(1))

fig, ax = plt.subplots(figsize=(8, 4))
centres = np.arange(32, LONG, 64)
for name, loss in losses.items():
    ax.plot(centres, band_means(loss), "o-" if name != "no scaling" else "k--", label=name, ms=3)
ax.axvline(TRAINED, color="grey", ls=":")
ax.set(xlabel="position in the document", ylabel="loss (nats), mean over 64 positions", title=f"The shared model past its {TRAINED}-token training length, no fine-tuning")
ax.legend()
plt.tight_layout()
plt.show()

print(f"loss on positions {TRAINED}-{LONG - 1} against no scaling (mean over {len(sample)} documents, 95% bootstrap interval):")
for name in losses:
    if name != "no scaling":
        mean, low, high = paired_interval(summary[name][1], summary["no scaling"][1])
        print(f"  {name:>24}: {mean:+.3f} [{low:+.3f}, {high:+.3f}]")
mean, low, high = paired_interval(summary["YaRN"][1], summary["sliding window 256"][1])
print(f"YaRN against the sliding window, positions {TRAINED}-{LONG - 1}: {mean:+.3f} [{low:+.3f}, {high:+.3f}]")

# %% [markdown]
# What the measurement says, on this model and these documents (see the
# intervals above; the assert below states the part that must hold). Without
# scaling, the loss climbs once the slow pairs leave the angles they were
# trained on. Position interpolation costs loss *inside* the trained length,
# where it squeezes the fast pairs, and is the one method that most needs
# fine-tuning. NTK-aware scaling and YaRN keep the fast pairs as they were and
# change little before position 256. The sliding window cannot fail past the
# training length by construction, and it is a strong baseline: a model that
# does not use tokens more than 256 back loses nothing by not seeing them. That
# is the real test of a longer context: not a flat loss curve, but a lower one
# than the window's, or a fact fetched from far away, which is what the next
# section is about.

# %%
assert paired_interval(summary["no scaling"][1], summary["sliding window 256"][1])[1] > 0, "unscaled RoPE past 256 is worse than the window"
best = min((n for n in losses if n not in ("no scaling", "sliding window 256")), key=lambda n: summary[n][1].mean())
assert paired_interval(summary[best][1], summary["no scaling"][1])[2] < 0, "the best rescaling beats no scaling past 256"
print(f"best rescaling past {TRAINED}: {best}")

# %% [markdown]
# ## 4. Lost in the middle: which part of the context does the model use?
#
# Liu et al. (2023) put the one document that answers a question at different
# places among many others and found a U shape: models use what is at the
# start and at the end of their context best and lose what is in the middle.
# Needle-in-a-haystack tests and RULER (Hsieh et al., 2024) ask the same of a
# fact hidden at a chosen depth. Those tests need a model that can copy from its
# context, and ours cannot: a sequence of random tokens seen once is not
# predicted any better the second time, so it has not learned **induction
# heads**, the circuit that copies (Olsson et al., 2022).

# %%
generator = torch.Generator().manual_seed(0)
random_tokens = torch.randint(len(tokenizer.special_tokens), config.vocab_size, (16, 60), generator=generator)
repeated = torch.cat([random_tokens, random_tokens], 1)
with torch.no_grad():
    repeat_losses = F.cross_entropy(model(repeated[:, :-1]).transpose(1, 2), repeated[:, 1:], reduction="none")
first_copy, second_copy = repeat_losses[:, :59].mean().item(), repeat_losses[:, 60:].mean().item()
print(f"random tokens: loss {first_copy:.2f} the first time, {second_copy:.2f} the second (uniform: {math.log(config.vocab_size):.2f})")
assert second_copy > first_copy - 0.5, "this model copies: the needle test the text says is impossible would work; measure it"

# %% [markdown]
# So we ask the question the U shape is about directly: how much does the
# prediction at the end of a window depend on each stretch of the context? We
# hide a 32-token span from every token after it (in every layer, so no later
# position can relay what it said) and measure how much the loss of the last 32
# positions of each 256-token window rises. Hiding the very first tokens is a
# case worth its own bar: many models park attention they do not need on the
# first token (an **attention sink**, Xiao et al., 2023), and hiding it hurts
# far more than its content explains, which is why StreamingLLM keeps the
# first few tokens in its sliding window.


# %%
def hide_span(first: int, end: int):
    """A mask rule: queries at or after `end` may not see keys first .. end - 1."""
    return lambda query_pos, key_pos: ~((key_pos >= first) & (key_pos < end) & (query_pos >= end))


windows = torch.stack([d[: TRAINED + 1] for d in documents if len(d) > TRAINED][:48])
window_inputs, window_targets = windows[:, :-1], windows[:, 1:]


def tail_losses(rule=None) -> Tensor:
    """Loss on the last 32 positions of each window, (windows,), with an optional extra mask rule."""
    set_mask(model, rule)
    with torch.no_grad():
        logits = model(window_inputs)
    set_mask(model, None)
    return F.cross_entropy(logits[:, -32:].transpose(1, 2), window_targets[:, -32:], reduction="none").mean(1)


clean_tail = tail_losses()
assert torch.allclose(tail_losses(hide_span(0, 0)), clean_tail, atol=1e-4), "hiding nothing changes nothing"
span_starts = list(range(0, TRAINED - 32, 32))
rises = {first: tail_losses(hide_span(first, first + 32)) - clean_tail for first in span_starts}
sink_rise = tail_losses(hide_span(0, 4)) - clean_tail
rises_interval = {f: 1.96 * r.std().item() / math.sqrt(len(r)) for f, r in rises.items()}

plt.figure(figsize=(7, 3.6))
plt.bar([f + 16 for f in span_starts], [r.mean().item() for r in rises.values()], width=28, yerr=list(rises_interval.values()), capsize=3, label="32-token span hidden")
plt.bar([2], [sink_rise.mean().item()], width=4, color="C3", label="first 4 tokens hidden")
plt.xlabel("position of the hidden span in the 256-token window")
plt.ylabel("loss rise on the last 32 positions (nats)")
plt.title("Which part of the context the prediction at the end uses")
plt.legend()
plt.tight_layout()
plt.show()
for first, rise in rises.items():
    print(f"span {first:3d}-{first + 31:3d} hidden: loss {rise.mean():+.4f} +- {rises_interval[first]:.4f}")
print(f"first 4 tokens hidden: loss {sink_rise.mean():+.4f} +- {1.96 * sink_rise.std() / math.sqrt(len(sink_rise)):.4f}")
nearest, farthest = rises[span_starts[-1]].mean().item(), min(r.mean().item() for r in rises.values())
assert nearest - rises_interval[span_starts[-1]] > farthest + max(rises_interval.values()), "the nearest span matters more than the least used one"

# %% [markdown]
# Read the bars from the right: the span just before the predicted tokens
# matters most, and the use of the context falls off quickly with distance; in
# this small model, hardly anything more than about 64 tokens back changes the
# prediction measurably, and hiding the first tokens costs nothing, so it has
# no attention sink. That also explains section 3: a model that does not use
# its far context loses nothing to a sliding window, while every rescaling
# perturbs the positions it does use. For a long-context model the same plot at
# 100,000 tokens is the honest picture of its effective context, and it is
# rarely flat: that is the practical meaning of "lost in the middle". A longer
# context helps only where the loss falls, or the answer improves, when the
# far tokens are visible, which is what long-context evaluations measure.
#
# ## 5. Beyond attention: a selective state-space layer
#
# Attention keeps every past key and value: memory grows with the context and
# each new token costs time proportional to it. A **state-space model** keeps a
# fixed-size state instead. The Mamba layer (Gu and Dao, 2023), per channel $c$
# with a state of $n$ numbers, reads
#
# $$h_t = \bar A_t \odot h_{t-1} + \bar B_t\, x_t, \qquad y_t = C_t^\top h_t + D x_t, \qquad \bar A_t = e^{\Delta_t A}, \quad \bar B_t = \Delta_t B_t,$$
#
# where $A$ is a fixed negative diagonal and the step size $\Delta_t$, the input
# map $B_t$ and the output map $C_t$ are computed from the input $x_t$: that is
# the *selection*. With them fixed (S4) the layer is a convolution; with them
# input-dependent it can decide per token what to remember and what to forget
# (a large $\Delta_t$ resets the state towards the current input, a small one
# keeps it), but it is no longer a convolution. It is still a **linear
# recurrence** $h_t = a_t h_{t-1} + b_t$, and composing two such steps gives
# another, $(a_1, b_1)$ then $(a_2, b_2)$ is $(a_1 a_2,\ a_2 b_1 + b_2)$: an
# associative operation, so all $h_t$ can be computed by a **parallel scan** in
# $\log_2 T$ rounds instead of $T$ sequential steps. Unrolled, the recurrence
# is also a matrix product: $y_t = \sum_{s \le t} C_t^\top \big(\prod_{r=s+1}^{t} \bar A_r\big) \bar B_s x_s$, a causal mask with decays times $C B^\top$, which is attention without
# the softmax (Mamba-2's "state space duality", Dao and Gu, 2024). Three ways,
# one answer:


# %%
class SelectiveSSM(torch.nn.Module):
    """A Mamba-style selective state-space layer (without the convolution and gate around it)."""

    def __init__(self, channels: int, state: int, seed: int = 0) -> None:
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        init = lambda *shape: torch.randn(*shape, generator=generator, dtype=F64) / math.sqrt(shape[0])
        self.log_minus_a = torch.nn.Parameter(torch.log(torch.arange(1, state + 1, dtype=F64)).repeat(channels, 1))
        self.to_delta = torch.nn.Parameter(init(channels, channels))
        self.delta_bias = torch.nn.Parameter(torch.full((channels,), -2.0, dtype=F64))
        self.to_b = torch.nn.Parameter(init(channels, state))
        self.to_c = torch.nn.Parameter(init(channels, state))
        self.skip = torch.nn.Parameter(torch.ones(channels, dtype=F64))

    def coefficients(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """a_t (B, T, C, N), b_t (B, T, C, N) with b_t = delta_t B_t x_t, and C_t (B, T, N)."""
        delta = F.softplus(x @ self.to_delta + self.delta_bias)  # (B, T, C)
        a = torch.exp(delta[..., None] * -torch.exp(self.log_minus_a))
        b = (delta * x)[..., None] * (x @ self.to_b)[:, :, None, :]
        return a, b, x @ self.to_c

    def recurrent(self, x: Tensor) -> Tensor:
        """One step per token, as at inference: the state h is (B, C, N) whatever the length."""
        a, b, c = self.coefficients(x)
        h = torch.zeros_like(a[:, 0])
        ys = []
        for t in range(x.shape[1]):
            h = a[:, t] * h + b[:, t]
            ys.append((h * c[:, t, None, :]).sum(-1))
        return torch.stack(ys, 1) + self.skip * x

    def scanned(self, x: Tensor) -> Tensor:
        a, b, c = self.coefficients(x)
        return (linear_scan(a, b) * c[:, :, None, :]).sum(-1) + self.skip * x

    def quadratic(self, x: Tensor) -> Tensor:
        """y = (L * C B^T) x: L[t, s] is the product of a between s and t, masked to s <= t."""
        delta = F.softplus(x @ self.to_delta + self.delta_bias)
        log_a = delta[..., None] * -torch.exp(self.log_minus_a)  # (B, T, C, N)
        cumulative = log_a.cumsum(1)
        decay = cumulative[:, :, None] - cumulative[:, None, :]  # (B, T, S, C, N): sum of log a over s+1..t
        causal = torch.ones(x.shape[1], x.shape[1], dtype=torch.bool).tril()[None, :, :, None, None]
        decay = torch.where(causal, decay, float("-inf")).exp()
        bx = (delta * x)[..., None] * (x @ self.to_b)[:, :, None, :]  # (B, S, C, N)
        c = x @ self.to_c  # (B, T, N)
        return torch.einsum("btn,btscn,bscn->btc", c, decay, bx) + self.skip * x


def linear_scan(a: Tensor, b: Tensor) -> Tensor:
    """All h_t of h_t = a_t h_{t-1} + b_t (h_{-1} = 0) along dim 1, in ceil(log2 T) rounds (Hillis and Steele).

    After the round with offset k, position t holds the composition of steps t-2k+1 .. t; doubling k
    covers everything. Work is T log T; Blelloch's two-sweep scan does it in 2T, which is what GPU
    kernels use, chunked.
    """
    a, b = a.clone(), b.clone()
    offset = 1
    while offset < a.shape[1]:
        b = torch.cat([b[:, :offset], a[:, offset:] * b[:, :-offset] + b[:, offset:]], 1)
        a = torch.cat([a[:, :offset], a[:, offset:] * a[:, :-offset]], 1)
        offset *= 2
    return b


ssm = SelectiveSSM(channels=6, state=4)
x = torch.randn(2, 50, 6, generator=torch.Generator().manual_seed(2), dtype=F64)
slow, fast, matrix = ssm.recurrent(x), ssm.scanned(x), ssm.quadratic(x)
assert torch.allclose(fast, slow, atol=1e-10) and torch.allclose(matrix, slow, atol=1e-10)
print(f"recurrence, parallel scan and masked matrix agree to {max((fast - slow).abs().max(), (matrix - slow).abs().max()):.1e}")

# A scan of a generic linear recurrence against a loop, at a length that is not a power of two:
a, b = torch.rand(3, 37, 5, dtype=F64), torch.randn(3, 37, 5, dtype=F64)
h, loop = torch.zeros(3, 5, dtype=F64), []
for t in range(37):
    h = a[:, t] * h + b[:, t]
    loop.append(h)
assert torch.allclose(linear_scan(a, b), torch.stack(loop, 1), atol=1e-12)

# Selection is real: changing a later token changes how much of an earlier one is kept, which no convolution does.
x2 = x.clone()
x2[:, 30] += 3.0
same_prefix = torch.allclose(ssm.recurrent(x2)[:, :30], slow[:, :30])
a1, _, _ = ssm.coefficients(x)
a2, _, _ = ssm.coefficients(x2)
assert same_prefix and not torch.allclose(a1[:, 30], a2[:, 30]), "causal, and the decay depends on the token"

# %% [markdown]
# Gradients flow through all three, so the scan is what trains (on a GPU, a
# fused kernel that keeps the state in fast memory) and the recurrence is what
# generates, one token at a time, with a state of `channels x state` numbers.
# The check below confirms that the scan's gradient equals the loop's.

# %%
x_grad = x.clone().requires_grad_()
(grad_loop,) = torch.autograd.grad(ssm.recurrent(x_grad).pow(2).sum(), x_grad)
(grad_scan,) = torch.autograd.grad(ssm.scanned(x_grad).pow(2).sum(), x_grad)
assert torch.allclose(grad_scan, grad_loop, atol=1e-9)

# %% [markdown]
# ## 6. Linear attention
#
# Katharopoulos et al. (2020) replaced the softmax's $e^{q \cdot k}$ by a
# product of feature maps $\phi(q)^\top \phi(k)$ (they used $\phi(x) = \mathrm{elu}(x) + 1$, which is positive). Then
#
# $$y_t = \frac{\sum_{s \le t} \phi(q_t)^\top \phi(k_s)\, v_s}{\sum_{s \le t} \phi(q_t)^\top \phi(k_s)} = \frac{\phi(q_t)^\top S_t}{\phi(q_t)^\top z_t}, \qquad S_t = S_{t-1} + \phi(k_t) v_t^\top, \quad z_t = z_{t-1} + \phi(k_t),$$
#
# so the $T \times T$ matrix never needs to exist: a transformer becomes an RNN
# with a $d \times d$ state. It is the selective scan above with $a_t = 1$ (no
# forgetting). Adding a decay $a_t < 1$, fixed or computed from the input, gives
# RetNet, gated linear attention, Mamba-2 and their relatives; the delta rule
# (DeltaNet) edits the state instead of only adding to it.


# %%
def feature_map(x: Tensor) -> Tensor:
    return F.elu(x) + 1


def linear_attention_quadratic(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    scores = feature_map(q) @ feature_map(k).transpose(-2, -1)
    scores = scores.masked_fill(~torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool).tril(), 0.0)
    return (scores @ v) / scores.sum(-1, keepdim=True)


def linear_attention_recurrent(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    fq, fk = feature_map(q), feature_map(k)
    state = torch.zeros(*q.shape[:-2], q.shape[-1], v.shape[-1], dtype=q.dtype)
    normaliser = torch.zeros(*q.shape[:-2], q.shape[-1], dtype=q.dtype)
    ys = []
    for t in range(q.shape[-2]):
        state = state + fk[..., t, :, None] * v[..., t, None, :]
        normaliser = normaliser + fk[..., t, :]
        ys.append((fq[..., t, :, None] * state).sum(-2) / (fq[..., t, :] * normaliser).sum(-1, keepdim=True))
    return torch.stack(ys, -2)


def linear_attention_scan(q: Tensor, k: Tensor, v: Tensor) -> Tensor:
    """The running sums as the linear scan of section 5 with a_t = 1 (time on dim 1: batch, T, ...)."""
    fq, fk = feature_map(q), feature_map(k)
    outer = (fk[..., :, None] * v[..., None, :]).transpose(1, 2)  # (B, T, H, d, d_v)
    states = linear_scan(torch.ones_like(outer), outer).transpose(1, 2)
    normalisers = fk.cumsum(-2)
    return (fq[..., None] * states).sum(-2) / (fq * normalisers).sum(-1, keepdim=True)


generator = torch.Generator().manual_seed(3)
q, k, v = (torch.randn(2, 3, 33, 8, generator=generator, dtype=F64) for _ in range(3))
quadratic = linear_attention_quadratic(q, k, v)
assert torch.allclose(linear_attention_recurrent(q, k, v), quadratic, atol=1e-10)
assert torch.allclose(linear_attention_scan(q, k, v), quadratic, atol=1e-10)
softmax = F.scaled_dot_product_attention(q, k, v, is_causal=True)
print(f"linear attention differs from softmax attention by {(quadratic - softmax).abs().mean():.3f} on average: a different function, not an approximation of it")

# %% [markdown]
# What the fixed state buys and costs. Memory at inference, per sequence, for
# the shared model's shape (4 layers, 2 key/value heads of 32, float32) with a
# full KV cache, with a window of 256, and with a recurrent state of the same
# width (a linear-attention state of $32 \times 32$ per head, or a Mamba state
# of 16 numbers per channel):

# %%
lengths = np.array([256, 1024, 4096, 16384, 65536, 131072])
bytes_per_position = 2 * config.n_layers * config.kv_heads * config.head_dim * 4
full_cache = lengths * bytes_per_position
window_cache = np.minimum(lengths, TRAINED) * bytes_per_position
linear_state = np.full_like(lengths, config.n_layers * config.n_heads * config.head_dim * (config.head_dim + 1) * 4)
mamba_state = np.full_like(lengths, config.n_layers * 2 * config.d_model * 16 * 4)  # inner width 2 d_model, state 16
assert KVCache(config, 1).nbytes == TRAINED * bytes_per_position, "the formula agrees with pathgpt's cache"
plt.figure(figsize=(6, 3.4))
for values, label in [(full_cache, "full KV cache"), (window_cache, "sliding window 256"), (linear_state, "linear-attention state"), (mamba_state, "Mamba-style state")]:
    plt.loglog(lengths, values / 1024, "o-", label=label)
plt.xlabel("tokens in the context")
plt.ylabel("KiB per sequence")
plt.title("Inference memory of the shared model's shape")
plt.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The price of a fixed state is recall: a state of a few kilobytes cannot hold
# every token of a long document, so pure recurrent models do worse than
# attention at copying and at retrieving exact strings from far back (Jelassi
# et al., 2024), the needle tests of section 4. That is why the recurrent
# models in production are hybrids: Jamba, Zamba, Falcon-H1, Qwen3-Next and
# NVIDIA's Nemotron-H keep a few attention layers (or sliding-window ones)
# among many recurrent layers.

# %%
print(f"notebook ran in {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## What to try next
#
# 1. **The NTK-aware base.** Write `ntk_base(base, scale, head_dim)`: the base
#    $b'$ for which the slowest pair's frequency is divided by exactly `scale`
#    and the fastest is unchanged.
#
# <details><summary>Solution</summary>
#
# ```python
# def ntk_base(base, scale, head_dim):
#     return base * scale ** (head_dim / (head_dim - 2))
# ```
#
# The slowest pair has $\theta = b^{-(d-2)/d}$; asking $b'^{-(d-2)/d} = b^{-(d-2)/d}/s$ gives $b' = b\,s^{d/(d-2)}$.
# </details>
#
# 2. **A sliding-window mask.** Write `sliding_mask(length, window)`: a boolean
#    `(length, length)` tensor, `True` where query row `t` may attend to key
#    column `s` (causal, and at most `window` positions including itself).
#
# <details><summary>Solution</summary>
#
# ```python
# def sliding_mask(length, window):
#     t = torch.arange(length)[:, None]
#     s = torch.arange(length)[None, :]
#     return (s <= t) & (s > t - window)
# ```
# </details>
#
# 3. **A decaying linear attention.** Write `decayed_linear_attention(q, k, v, gamma)`
#    for tensors `(B, T, d)`: $S_t = \gamma S_{t-1} + k_t v_t^\top$ and $y_t = S_t^\top q_t$ (no feature map, no normaliser: RetNet's form). Check it
#    against the quadratic form $y = (D \odot q k^\top) v$ with $D_{ts} = \gamma^{t-s}$ for $s \le t$.
#
# <details><summary>Solution</summary>
#
# ```python
# def decayed_linear_attention(q, k, v, gamma):
#     state = torch.zeros(q.shape[0], q.shape[-1], v.shape[-1], dtype=q.dtype)
#     ys = []
#     for t in range(q.shape[1]):
#         state = gamma * state + k[:, t, :, None] * v[:, t, None, :]
#         ys.append((q[:, t, :, None] * state).sum(-2))
#     return torch.stack(ys, 1)
# ```
# </details>
#
# 4. Without a check: fine-tune the long model with position interpolation on
#    512-token windows for 100 steps (`pathgpt.train` with a `TrainConfig`) and
#    measure the loss past 256 again, against the sliding window; then the same
#    with YaRN. The papers report that a few hundred steps suffice; how few are
#    enough here?
#
# Each check compares your function with a reference on test inputs, and the
# asserts under it show that it accepts the solution and rejects a plausible
# mistake.


# %%
from exercises import run_check


def check_ntk_base(candidate) -> None:
    for base, scale, d in [(10000.0, 4.0, 32), (500000.0, 8.0, 128), (10000.0, 2.0, 64)]:
        new_base = candidate(base, scale, d)
        slowest = new_base ** (-(d - 2) / d)
        assert abs(slowest / (base ** (-(d - 2) / d) / scale) - 1) < 1e-9, f"the slowest pair is not divided by {scale} (base {base}, d {d})"


def check_sliding_mask(candidate) -> None:
    for length, window in [(10, 3), (6, 6), (5, 1), (8, 20)]:
        expected = torch.tensor([[t - window < s <= t for s in range(length)] for t in range(length)])
        got = candidate(length, window)
        assert got.shape == (length, length) and got.dtype == torch.bool, "a boolean (length, length) tensor"
        assert torch.equal(got, expected), f"wrong mask for length {length}, window {window}"


def check_decayed(candidate) -> None:
    generator = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 17, 4, generator=generator, dtype=F64) for _ in range(3))
    for gamma in [0.9, 0.5, 1.0]:
        t = torch.arange(17)
        decay = torch.where(t[None, :] <= t[:, None], gamma ** (t[:, None] - t[None, :]).clamp(min=0).to(F64), 0.0)
        expected = (decay * (q @ k.transpose(-2, -1))) @ v
        assert torch.allclose(candidate(q, k, v, gamma), expected, atol=1e-10), f"differs from the quadratic form at gamma {gamma}"


def ntk_base(base, scale, head_dim):
    raise NotImplementedError  # exercise 1


def sliding_mask(length, window):
    raise NotImplementedError  # exercise 2


def decayed_linear_attention(q, k, v, gamma):
    raise NotImplementedError  # exercise 3


print("exercise 1:", run_check(check_ntk_base, ntk_base))
print("exercise 2:", run_check(check_sliding_mask, sliding_mask))
print("exercise 3:", run_check(check_decayed, decayed_linear_attention))

# %% [markdown]
# The checks are tested too: they pass the solutions, reject a plausible
# mistake, and report an untouched stub as not attempted.


# %%
def solution_decayed(q, k, v, gamma):
    state = torch.zeros(q.shape[0], q.shape[-1], v.shape[-1], dtype=q.dtype)
    ys = []
    for t in range(q.shape[1]):
        state = gamma * state + k[:, t, :, None] * v[:, t, None, :]
        ys.append((q[:, t, :, None] * state).sum(-2))
    return torch.stack(ys, 1)


def wrong_decayed(q, k, v, gamma):  # decays after adding: the newest token is already shrunk
    state = torch.zeros(q.shape[0], q.shape[-1], v.shape[-1], dtype=q.dtype)
    ys = []
    for t in range(q.shape[1]):
        state = gamma * (state + k[:, t, :, None] * v[:, t, None, :])
        ys.append((q[:, t, :, None] * state).sum(-2))
    return torch.stack(ys, 1)


def solution_mask(length, window):
    t, s = torch.arange(length)[:, None], torch.arange(length)[None, :]
    return (s <= t) & (s > t - window)


assert run_check(check_ntk_base, lambda b, s, d: b * s ** (d / (d - 2))) == "passed"
assert run_check(check_ntk_base, lambda b, s, d: b * s).startswith("not yet")  # the base times s is not enough
assert run_check(check_sliding_mask, solution_mask) == "passed"
assert run_check(check_sliding_mask, lambda n, w: solution_mask(n, w + 1)).startswith("not yet")  # one too many
assert run_check(check_decayed, solution_decayed) == "passed"
assert run_check(check_decayed, wrong_decayed).startswith("not yet")
for check, stub in [(check_ntk_base, ntk_base), (check_sliding_mask, sliding_mask), (check_decayed, decayed_linear_attention)]:
    assert run_check(check, stub).startswith("not attempted")
