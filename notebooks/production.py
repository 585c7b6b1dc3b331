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
# # Production systems: serving a language model fast, small and observable
#
# Training produces a file of weights. Serving turns it into a service that
# answers many users quickly, on hardware someone pays for. Most of the cost of
# an LLM in production is inference, and most inference tricks are simple ideas
# you can build in a page of code. This notebook trains a tiny transformer on the
# CPU and then applies those ideas to it, measuring each one.
#
# **What you will build**
#
# 1. A tiny character-level transformer, trained in seconds.
# 2. **int8 quantization** from scratch, per tensor and per channel: bytes
#    measured, output error measured, compared with PyTorch's dynamic quantization.
# 3. A **KV cache** for autoregressive generation: identical outputs, far fewer
#    attention computations.
# 4. A **batching** experiment: throughput and per-step latency against batch size.
# 5. A **FastAPI** service with request validation and a response cache, tested
#    in-process with `TestClient`.
# 6. **Monitoring**: latency percentiles from recorded timings.
#
# The model is tiny so everything runs on an ordinary CPU in a minute at most;
# the ideas are the ones that serve real LLMs. Besides PyTorch, NumPy and
# matplotlib, it uses `fastapi`, `pydantic` and `httpx` (for FastAPI's test
# client); `pip install fastapi httpx` if your environment lacks them.

# %%
import copy
import importlib
import inspect
import io
import math
import string
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, field_validator

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # some starlette versions warn about their httpx-based client on import
    from fastapi.testclient import TestClient

torch.manual_seed(0)
# One thread: this model's matrices are so small that splitting each operation
# across threads costs more in synchronisation than it saves, badly so when other
# programs share the CPU.
torch.set_num_threads(1)

# %% [markdown]
# ## 1. A tiny transformer to serve
#
# A decoder-only transformer: token and position embeddings, two pre-norm
# blocks of causal self-attention and an MLP, and a linear head over the
# characters. The attention layer accepts an optional **cache** (explained in
# section 3) and counts how many query-key dot products it computes, so we can
# measure the work instead of guessing it.
#
# The training text is the docstrings of a few standard-library modules, so the
# notebook needs no download.

# %%
MODULES = ["collections", "itertools", "functools", "json", "re", "string", "textwrap", "heapq", "bisect"]
ALPHABET = string.ascii_lowercase + string.digits + " .,;:()'\"-_=*[]\n"
char_to_id = {ch: i for i, ch in enumerate(ALPHABET)}


def docstring_corpus(module_names: list[str]) -> str:
    """Public docstrings of the modules, lowercased, unknown characters -> ' '."""
    parts = []
    for module_name in module_names:
        module = importlib.import_module(module_name)
        parts.append(inspect.getdoc(module) or "")
        for name, obj in inspect.getmembers(module):
            if not name.startswith("_") and (inspect.isroutine(obj) or inspect.isclass(obj)):
                parts.append(inspect.getdoc(obj) or "")
    text = "\n".join(parts).lower()
    return "".join(ch if ch in char_to_id else " " for ch in text)


def encode(text: str) -> list[int]:
    return [char_to_id[ch] for ch in text]


def decode(ids: list[int]) -> str:
    return "".join(ALPHABET[i] for i in ids)


corpus = torch.tensor(encode(docstring_corpus(MODULES)))
print(f"training text: {len(corpus):,} characters, vocabulary {len(ALPHABET)}")


# %%
class CausalSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.n_heads, self.head_dim = n_heads, d_model // n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        self.score_count = 0  # query-key dot products computed so far

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        """x: (batch, new_tokens, d_model). With a cache, keys/values of earlier tokens are reused."""
        batch, n_new, d_model = x.shape
        q, k, v = self.qkv(x).split(d_model, dim=-1)
        q, k, v = (t.view(batch, n_new, self.n_heads, self.head_dim).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if "k" in cache:
                k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        n_keys = k.shape[2]
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.head_dim)  # (batch, heads, n_new, n_keys)
        self.score_count += batch * self.n_heads * n_new * n_keys
        # New token i sits at absolute position n_keys - n_new + i and may see keys up to there.
        allowed = torch.ones(n_new, n_keys, dtype=torch.bool).tril(diagonal=n_keys - n_new)
        weights = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1)
        return self.out((weights @ v).transpose(1, 2).reshape(batch, n_new, d_model))


class Block(nn.Module):
    def __init__(self, d_model: int, n_heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = CausalSelfAttention(d_model, n_heads)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, cache: dict | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), cache)
        return x + self.mlp(self.norm2(x))


class TinyGPT(nn.Module):
    def __init__(
        self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2, max_len: int = 128
    ) -> None:
        super().__init__()
        self.max_len = max_len
        self.tok_emb = nn.Embedding(vocab_size, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_heads) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor, caches: list[dict] | None = None, start: int = 0) -> torch.Tensor:
        """Logits for `ids` (batch, new_tokens), whose first token sits at position `start`."""
        positions = torch.arange(start, start + ids.shape[1])
        x = self.tok_emb(ids) + self.pos_emb(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.head(self.norm(x))

    def attention_scores_computed(self) -> int:
        return sum(block.attn.score_count for block in self.blocks)

    def reset_counters(self) -> None:
        for block in self.blocks:
            block.attn.score_count = 0


# %% [markdown]
# Training is ordinary next-character prediction with AdamW on random windows of
# the corpus. We only need a model that has learnt *something*, so that its
# generations look like text and its weights look like trained weights.

# %%
model = TinyGPT(len(ALPHABET))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
gen = torch.Generator().manual_seed(0)
seq_len, batch_size = 32, 32
losses = []
for _ in range(200):
    starts = torch.randint(0, len(corpus) - seq_len - 1, (batch_size,), generator=gen)
    windows = torch.stack([corpus[s : s + seq_len + 1] for s in starts])
    logits = model(windows[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), windows[:, 1:].reshape(-1))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
model.eval()
print(f"loss: first 10 steps {np.mean(losses[:10]):.2f}, last 10 steps {np.mean(losses[-10:]):.2f}")
assert np.mean(losses[-10:]) < 0.75 * np.mean(losses[:10]), "training reduced the loss"

# %% [markdown]
# ## 2. int8 quantization
#
# Each float32 weight takes 4 bytes. Storing weights as 8-bit integers takes 1
# byte, so the model needs a quarter of the memory, and memory bandwidth is what
# limits token generation on most hardware. **Symmetric absmax quantization**
# maps the largest absolute weight to 127:
#
# $$s = \frac{\max |W|}{127}, \qquad W_q = \operatorname{round}(W / s) \in [-127, 127],
# \qquad \hat W = s\, W_q.$$
#
# The rounding error per weight is at most $s/2$, so one large weight makes the
# step $s$ coarse for *all* the others. **Per-channel** quantization gives each
# output row its own scale, at the price of storing one float per row.


# %%
def quantize_per_tensor(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 weights and one float32 scale for the whole tensor."""
    scale = weight.abs().max().clamp(min=1e-12) / 127
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale.reshape(1, 1).float()


def quantize_per_channel(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """int8 weights and one float32 scale per output row (shape (rows, 1))."""
    scale = weight.abs().amax(dim=1, keepdim=True).clamp(min=1e-12) / 127
    return torch.round(weight / scale).clamp(-127, 127).to(torch.int8), scale.float()


def dequantize(q: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return q.float() * scale


def n_bytes(*tensors: torch.Tensor) -> int:
    return sum(t.element_size() * t.nelement() for t in tensors)


weight = model.blocks[0].mlp[0].weight.detach()
q, scale = quantize_per_tensor(weight)
assert q.dtype == torch.int8 and q.abs().max() == 127
assert (dequantize(q, scale) - weight).abs().max() <= scale.item() / 2 + 1e-7, "error is at most half a step"

# %% [markdown]
# Trained LLMs have a few **outlier** rows and features far larger than the rest
# (Dettmers et al., *LLM.int8()*, 2022). Our tiny model barely has them, so we
# make one on purpose: multiply one row of a copy of the weight by 20 and compare
# the error of each row under the two schemes.

# %%
with_outlier = weight.clone()
with_outlier[7] *= 20
row_error = {}
for label, quantize in [("per-tensor", quantize_per_tensor), ("per-channel", quantize_per_channel)]:
    restored = dequantize(*quantize(with_outlier))
    row_error[label] = ((restored - with_outlier).norm(dim=1) / with_outlier.norm(dim=1)).numpy()

fig, ax = plt.subplots(figsize=(10, 4))
rows = np.arange(len(with_outlier))
ax.semilogy(rows, row_error["per-tensor"], ".-", label="per-tensor scale")
ax.semilogy(rows, row_error["per-channel"], ".-", label="per-channel scale")
ax.axvline(7, color="grey", linestyle=":", label="outlier row (x20)")
ax.set_xlabel("output row of the weight matrix")
ax.set_ylabel("relative error of the row")
ax.set_title("int8 quantization error per row, with one outlier row")
ax.legend()
plt.show()
assert row_error["per-channel"].mean() < 0.2 * row_error["per-tensor"].mean()

# %% [markdown]
# **What to notice.** With one shared scale, the outlier row sets the step size,
# and every *other* row loses most of its precision (a relative error around
# ten percent). With a scale per row, each row uses the full int8 range and errors
# stay around half a percent everywhere.
#
# Now quantize every `nn.Linear` in the model (attention and MLP weights, the
# bulk of the parameters). `QuantizedLinear` stores the int8 weight and scales
# and dequantizes on the fly; real int8 kernels instead multiply in integers, but
# the stored bytes and the numerical error are the same.


# %%
class QuantizedLinear(nn.Module):
    """A Linear layer whose weight is stored as int8 plus float32 scales."""

    def __init__(self, linear: nn.Linear, per_channel: bool) -> None:
        super().__init__()
        quantize = quantize_per_channel if per_channel else quantize_per_tensor
        q, scale = quantize(linear.weight.detach())
        self.register_buffer("q", q)
        self.register_buffer("scale", scale)
        self.bias = None if linear.bias is None else nn.Parameter(linear.bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, dequantize(self.q, self.scale), self.bias)


def quantize_model(model: nn.Module, per_channel: bool) -> nn.Module:
    """A copy of `model` with every nn.Linear replaced by a QuantizedLinear."""
    quantized = copy.deepcopy(model)
    for parent in list(quantized.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.Linear):
                setattr(parent, name, QuantizedLinear(child, per_channel))
    return quantized


def linear_weight_bytes(model: nn.Module) -> int:
    """Bytes of the Linear weights (float32 or int8 + scales); biases excluded."""
    total = 0
    for module in model.modules():
        if isinstance(module, nn.Linear):
            total += n_bytes(module.weight)
        elif isinstance(module, QuantizedLinear):
            total += n_bytes(module.q, module.scale)
    return total


eval_windows = torch.stack([corpus[s : s + seq_len] for s in range(0, 64 * 50, 50)])
with torch.no_grad():
    reference_logits = model(eval_windows)
fp32_bytes = linear_weight_bytes(model)
print(f"{'scheme':<12} {'bytes':>8} {'ratio':>6} {'rel. logit error':>17} {'same top-1':>11}")
print(f"{'float32':<12} {fp32_bytes:>8,} {1.0:>6.2f} {0.0:>17.4f} {1.0:>11.3f}")
results = {}
for per_channel in (False, True):
    label = "per-channel" if per_channel else "per-tensor"
    quantized = quantize_model(model, per_channel)
    with torch.no_grad():
        logits_q = quantized(eval_windows)
    rel_error = ((logits_q - reference_logits).norm() / reference_logits.norm()).item()
    agreement = (logits_q.argmax(-1) == reference_logits.argmax(-1)).float().mean().item()
    ratio = fp32_bytes / linear_weight_bytes(quantized)
    results[label] = (ratio, rel_error, agreement)
    print(
        f"{label:<12} {linear_weight_bytes(quantized):>8,} {ratio:>6.2f} {rel_error:>17.4f} {agreement:>11.3f}"
    )

# %%
assert results["per-tensor"][0] > 3.99, "int8 with one scale per tensor: 4x smaller"
assert results["per-channel"][0] > 3.7, "one extra float per row costs a little (4 / (1 + 4/in_features))"
for _ratio, rel_error, agreement in results.values():
    assert rel_error < 0.05, "logits change by a few percent at most"
    assert agreement > 0.95, "the predicted next character almost never changes"

# %% [markdown]
# PyTorch ships the same idea ready-made: `torch.ao.quantization.quantize_dynamic`
# replaces `nn.Linear` layers by int8 versions whose activations are quantized
# on the fly, per batch, and which run integer matrix multiplications. It is
# deprecated in recent PyTorch releases in favour of the separate `torchao`
# package, so the cell below tries it and explains instead of failing if your
# build no longer has it. Its output should be close to the float model's, as
# ours is; its error is a little larger because it also quantizes activations.


# %%
def serialized_bytes(module: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.getbuffer().nbytes


try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices about torch.ao
        from torch.ao.quantization import quantize_dynamic

        torch_quantized = quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)
        with torch.no_grad():
            torch_logits = torch_quantized(eval_windows)
except (ImportError, RuntimeError, AttributeError) as error:
    print(
        f"torch dynamic quantization is not available in this build ({error!r}); our version above stands alone."
    )
else:
    torch_error = ((torch_logits - reference_logits).norm() / reference_logits.norm()).item()
    print(f"torch quantize_dynamic: relative logit error {torch_error:.4f}")
    print(
        f"saved state_dict: float32 {serialized_bytes(model):,} bytes, torch int8 {serialized_bytes(torch_quantized):,} bytes"
    )
    assert torch_error < 0.1
    assert serialized_bytes(torch_quantized) < 0.5 * serialized_bytes(model)

# %% [markdown]
# ## 3. The KV cache
#
# To generate, the model predicts one token, appends it, and runs again. Without
# a cache, step $t$ re-runs the whole sequence of length $t$: it recomputes the
# keys and values of all earlier tokens (which have not changed, since attention
# is causal) and $t \times t$ attention scores per head and layer.
#
# With a cache, each layer keeps the keys and values it has already computed.
# A step feeds only the *new* token: one query against $t$ cached keys, so $t$
# scores instead of $t^2$. The first call, the **prefill**, processes the whole
# prompt at once and fills the cache.


# %%
@torch.no_grad()
def generate_without_cache(model: TinyGPT, prompt: torch.Tensor, n_new: int) -> torch.Tensor:
    """Greedy decoding that re-runs the full sequence at every step. prompt: (batch, length)."""
    ids = prompt
    for _ in range(n_new):
        next_id = model(ids)[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
    return ids


@torch.no_grad()
def generate_with_cache(model: TinyGPT, prompt: torch.Tensor, n_new: int) -> torch.Tensor:
    """Greedy decoding with a per-layer key/value cache: prefill once, then one token per step."""
    caches: list[dict] = [{} for _ in model.blocks]
    logits = model(prompt, caches, start=0)
    ids = prompt
    for _ in range(n_new):
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)
        ids = torch.cat([ids, next_id], dim=1)
        logits = model(next_id, caches, start=ids.shape[1] - 1)
    return ids


prompt_text = "return the "
prompt = torch.tensor([encode(prompt_text)])
n_new = 100

# float64 for the comparison: the two paths add numbers in different orders, and
# we want no float32 near-tie to decide a token differently.
model64 = copy.deepcopy(model).double()
model64.reset_counters()
out_plain = generate_without_cache(model64, prompt, n_new)
scores_plain = model64.attention_scores_computed()
model64.reset_counters()
out_cached = generate_with_cache(model64, prompt, n_new)
scores_cached = model64.attention_scores_computed()

print(repr(decode(out_cached[0].tolist())))
# Greedy decoding from a briefly trained model soon falls into a loop of common
# words; what matters here is that both loops produce the same tokens.
assert out_plain.tolist() == out_cached.tolist(), "the cache changes the cost, not the output"

# %% [markdown]
# The counts follow from the shapes. With prompt length $P$, $N$ new tokens,
# $H$ heads and $L$ layers, the plain loop computes $\sum_{t=P}^{P+N-1} t^2$
# score rows-times-columns per head and layer; the cached loop computes $P^2$ for
# the prefill and then $t$ for each later step. (The last generated token is
# never fed back in the plain loop; the cached loop feeds it once, which its
# formula includes.) Wall-clock time is measured on the float32 model and only
# printed: timings depend on the machine.

# %%
P, H, L = prompt.shape[1], 4, 2
expected_plain = H * L * sum(t * t for t in range(P, P + n_new))
expected_cached = H * L * (P * P + sum(range(P + 1, P + n_new + 1)))
assert scores_plain == expected_plain and scores_cached == expected_cached
assert scores_cached < scores_plain / 10
print(f"attention scores computed: without cache {scores_plain:,}, with cache {scores_cached:,}")


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    """Fastest of a few runs: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


t_plain = best_time(lambda: generate_without_cache(model, prompt, n_new))
t_cached = best_time(lambda: generate_with_cache(model, prompt, n_new))
print(
    f"{n_new} tokens: without cache {t_plain * 1000:.0f} ms, with cache {t_cached * 1000:.0f} ms ({t_plain / t_cached:.1f}x)"
)

# %% [markdown]
# The saving in scores grows with the sequence length. The wall-clock speed-up
# is much smaller than the ratio of scores, because at this size each step's
# fixed cost (Python and the launch of every PyTorch operation) outweighs the
# arithmetic, and the cache does not remove it. For real models with thousands of tokens,
# the cache is what makes generation feasible at all, and its memory
# ($2 \times L \times H \times d_{head} \times t$ numbers per sequence) becomes
# the thing that limits how many users a GPU can serve at once.
#
# ## 4. Batching
#
# Generating for one user at a time leaves the hardware idle: one token's
# matrix-vector products are limited by reading the weights from memory, not by
# arithmetic. Serving several requests in one batch reads the weights once per
# step for all of them. We generate 32 tokens for batches of 1 to 256 prompts and
# record tokens per second and the time of one decoding step.

# %%
batch_sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
n_steps = 32
throughput, step_latency = [], []
for b in batch_sizes:
    prompts = torch.stack([corpus[i * 97 : i * 97 + 16] for i in range(b)])
    seconds = best_time(lambda prompts=prompts: generate_with_cache(model, prompts, n_steps), repeats=2)
    throughput.append(b * n_steps / seconds)
    step_latency.append(1000 * seconds / n_steps)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
ax1.plot(batch_sizes, throughput, "o-")
ax1.set_xscale("log", base=2)
ax1.set_xlabel("batch size")
ax1.set_ylabel("generated tokens per second")
ax1.set_title("Throughput grows with batch size")
ax2.plot(batch_sizes, step_latency, "o-", color="tab:red")
ax2.set_xscale("log", base=2)
ax2.set_xlabel("batch size")
ax2.set_ylabel("milliseconds per decoding step")
ax2.set_title("...while each step gets slower")
fig.tight_layout()
plt.show()

# %% [markdown]
# **What to notice.** Throughput rises almost in proportion to the batch at
# first, because a step for a few sequences costs little more than a step for
# one: the fixed cost of each step (reading the weights, launching each
# operation) is shared. Once the arithmetic itself dominates, the step time grows
# with the batch and throughput gains level off. Meanwhile every user waits
# longer per token. Servers such as vLLM and TGI choose the batch size by this trade-off
# and use **continuous batching**: a finished sequence leaves the batch and a
# waiting one joins at the next step, instead of the whole batch waiting for its
# longest member. (Timings vary by machine, so nothing here is asserted.)
#
# ## 5. Serving with FastAPI
#
# The service exposes `POST /generate`. A **pydantic** model declares the request:
# FastAPI validates every request against it and answers **422** with a
# description of what is wrong, so the model code never sees bad input. We
# reject prompts that are empty, too long, contain characters the model does not
# know, or would not fit the model's context window.
#
# Greedy decoding is deterministic, so identical requests can be answered from a
# **response cache**: an in-memory LRU (least recently used) dictionary. With
# sampling at a temperature above zero you would cache only if repeated answers
# are acceptable. In a real deployment the cache would live in a shared store
# such as Redis, so all replicas behind the load balancer see it.

# %%
MAX_PROMPT_CHARS, MAX_NEW_TOKENS = 64, 64


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    """Text to continue: lowercase letters, digits and simple punctuation."""
    max_new_tokens: int = Field(default=32, ge=1, le=MAX_NEW_TOKENS)
    """How many characters to generate."""

    @field_validator("prompt")
    @classmethod
    def only_known_characters(cls, prompt: str) -> str:
        unknown = sorted(set(prompt) - set(ALPHABET))
        if unknown:
            raise ValueError(f"characters {unknown} are not in the model's vocabulary; use lowercase ASCII")
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


def create_app(model: TinyGPT, cache_size: int = 256) -> FastAPI:
    app = FastAPI(title="tiny-gpt")
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
        is_cached = completion is not None
        if completion is None:
            ids = generate_with_cache(model, torch.tensor([encode(request.prompt)]), request.max_new_tokens)
            completion = decode(ids[0, len(request.prompt) :].tolist())
            app.state.cache.put(key, completion)
        latency_ms = 1000 * (time.perf_counter() - start)
        app.state.latencies_ms.append(latency_ms)
        return GenerateResponse(completion=completion, cached=is_cached, latency_ms=latency_ms)

    return app


app = create_app(model)
assert MAX_PROMPT_CHARS + MAX_NEW_TOKENS <= model.max_len, (
    "validation keeps every request inside the context window"
)

# %% [markdown]
# `TestClient` sends real HTTP requests to the app in the same process (no
# server, no network), so we can check status codes and bodies exactly.

# %%
client = TestClient(app)
assert client.get("/health").json() == {"status": "ok"}

first = client.post("/generate", json={"prompt": "return the ", "max_new_tokens": 40})
second = client.post("/generate", json={"prompt": "return the ", "max_new_tokens": 40})
assert first.status_code == 200 and second.status_code == 200
assert first.json()["cached"] is False and second.json()["cached"] is True, "the repeat is a cache hit"
assert first.json()["completion"] == second.json()["completion"]
assert first.json()["completion"] == decode(
    generate_with_cache(model, prompt, 40)[0, prompt.shape[1] :].tolist()
)
print("completion:", repr(first.json()["completion"]))
print(f"latency: first {first.json()['latency_ms']:.1f} ms, repeat {second.json()['latency_ms']:.3f} ms")

bad_requests = {
    "empty prompt": {"prompt": ""},
    "too many tokens": {"prompt": "abc", "max_new_tokens": 1000},
    "unknown character": {"prompt": "Return ✓"},
    "unexpected field": {"prompt": "abc", "temperature": 0.7},
    "wrong type": {"prompt": "abc", "max_new_tokens": "many"},
}
for description, body in bad_requests.items():
    response = client.post("/generate", json=body)
    assert response.status_code == 422, description
    print(f"{description:<18} -> 422: {response.json()['detail'][0]['msg']}")

# %% [markdown]
# ## 6. Monitoring: latency percentiles
#
# A service is monitored by its **latency distribution**, not its mean: the
# mean mixes fast cache hits with slow generations and hides the unlucky users.
# Dashboards show percentiles: p50 (the typical request), p95 and p99 (the
# tail). Service-level objectives are written on them ("p95 under 300 ms").
#
# We send 60 more requests drawn from 15 distinct prompts (so later repeats hit the
# cache), then compute percentiles from the recorded timings. The percentile
# function uses linear interpolation between the sorted values, the same rule as
# NumPy's default, which serves as the check.


# %%
def percentile(values: list[float], q: float) -> float:
    """q-th percentile (0-100), interpolating linearly between order statistics."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    lower, upper = math.floor(position), math.ceil(position)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


rng = np.random.default_rng(0)
distinct_prompts = [decode(corpus[i * 211 : i * 211 + 12].tolist()) for i in range(15)]
for i in rng.integers(0, len(distinct_prompts), size=60):
    assert (
        client.post("/generate", json={"prompt": distinct_prompts[i], "max_new_tokens": 48}).status_code
        == 200
    )

latencies = app.state.latencies_ms
report = {q: percentile(latencies, q) for q in (50, 95, 99)}
for q, value in report.items():
    np.testing.assert_allclose(value, np.percentile(latencies, q), rtol=1e-12)
cache = app.state.cache
print(f"{len(latencies)} requests, cache hit rate {cache.hits / (cache.hits + cache.misses):.0%}")
print(
    f"p50 {report[50]:.2f} ms   p95 {report[95]:.2f} ms   p99 {report[99]:.2f} ms   mean {np.mean(latencies):.2f} ms"
)
assert cache.hits > cache.misses, "with 15 distinct prompts, most of the 60 requests hit the cache"
assert report[50] <= report[95] <= report[99]

fig, ax = plt.subplots(figsize=(6, 4))
ax.hist(latencies, bins=np.logspace(np.log10(min(latencies)), np.log10(max(latencies)), 30))
for q, style in [(50, "-"), (95, "--"), (99, ":")]:
    ax.axvline(report[q], color="black", linestyle=style, label=f"p{q}")
ax.set_xscale("log")
ax.set_xlabel("request latency (ms, log scale)")
ax.set_ylabel("number of requests")
ax.set_title("Two populations: cache hits and generations")
ax.legend()
plt.show()

# %% [markdown]
# **What to notice.** The histogram has two separate humps, microseconds for
# cache hits and tens of milliseconds for generations, and the median lands in
# whichever hump holds the majority. Percentiles computed separately per route,
# per model version, and per cache outcome are what make such a dashboard
# readable. A production service also records tokens in and out per request
# (the basis of cost), error rates, queue length and GPU memory.
#
# ## What to try next
#
# 1. Quantize to 4 bits (levels $-7 \dots 7$) per channel and per group of 32
#    weights; measure the logit error of each.
# 2. Add a `max_len` check to the KV cache and implement a sliding window that
#    drops the oldest keys; compare outputs with the plain loop.
# 3. Make the service batch requests: collect requests for up to 5 ms, run them
#    as one batch (prompts padded to the same length), and measure throughput.
# 4. Add a `temperature` field to the request, and decide (and test) how the
#    response cache should behave when it is above zero.
