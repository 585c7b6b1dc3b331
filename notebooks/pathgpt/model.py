"""The path's one GPT: a decoder-only transformer whose parts switch between GPT-2's recipe and today's."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal, get_args, overload

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Norm = Literal["layernorm", "rmsnorm"]
Mlp = Literal["gelu", "swiglu"]
Positions = Literal["learned", "sinusoidal", "rope"]

_CHOICES = {"norm": get_args(Norm), "mlp": get_args(Mlp), "positions": get_args(Positions)}


@dataclass(frozen=True)
class GPTConfig:
    """Every choice that shapes a GPT. The defaults are the modern block; `gpt2_style()` gives 2019's."""

    vocab_size: int
    """Number of token ids, special tokens included."""
    context: int = 256
    """Longest sequence the model reads (the size of the learned position table, the RoPE tables, a cache)."""
    d_model: int = 256
    """Width of the residual stream."""
    n_layers: int = 4
    """Number of blocks."""
    n_heads: int = 4
    """Query heads per attention layer; d_model must be a multiple of it."""
    n_kv_heads: int | None = None
    """Key/value heads: n_heads for multi-head, 1 for multi-query, in between for grouped-query (None: n_heads)."""
    d_mlp: int | None = None
    """Hidden width of the MLP (None: 4 d_model for GELU; 8/3 d_model rounded up to a multiple of 32 for SwiGLU)."""
    norm: Norm = "rmsnorm"
    mlp: Mlp = "swiglu"
    positions: Positions = "rope"
    rope_base: float = 10000.0
    """RoPE's base b: pair i of a head turns by position * b^(-2i/head_dim)."""
    tie_weights: bool = True
    """Use the token embedding matrix as the output head too."""
    dropout: float = 0.0
    bias: bool = False
    """Biases in the linear layers and LayerNorms."""
    norm_eps: float = 1e-5

    def __post_init__(self) -> None:
        problems = [
            f"{name}={getattr(self, name)!r} is not one of {', '.join(choices)}"
            for name, choices in _CHOICES.items()
            if getattr(self, name) not in choices
        ]
        if self.d_model % self.n_heads:
            problems.append(f"d_model={self.d_model} is not a multiple of n_heads={self.n_heads}")
        if self.n_heads % self.kv_heads:
            problems.append(f"n_heads={self.n_heads} is not a multiple of n_kv_heads={self.kv_heads}")
        if self.positions == "rope" and self.head_dim % 2:
            problems.append(f"RoPE needs an even head size, not {self.head_dim}")
        if self.positions == "sinusoidal" and self.d_model % 2:
            problems.append(f"sinusoidal positions need an even d_model, not {self.d_model}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        """The number of key/value heads, n_kv_heads resolved."""
        return self.n_kv_heads or self.n_heads

    @property
    def mlp_width(self) -> int:
        """The MLP's hidden width, d_mlp resolved."""
        if self.d_mlp is not None:
            return self.d_mlp
        if self.mlp == "gelu":
            return 4 * self.d_model
        return 32 * math.ceil(8 * self.d_model / 3 / 32)

    @classmethod
    def modern(cls, vocab_size: int, **overrides: Any) -> GPTConfig:
        """RMSNorm, SwiGLU, RoPE, grouped-query attention (half as many key/value heads), no biases, tied head."""
        n_heads = overrides.get("n_heads", cls.n_heads)
        settings: dict[str, Any] = {"n_kv_heads": max(1, n_heads // 2)}
        settings |= {"norm": "rmsnorm", "mlp": "swiglu", "positions": "rope", "bias": False}
        return cls(vocab_size, **(settings | overrides))

    @classmethod
    def gpt2_style(cls, vocab_size: int, **overrides: Any) -> GPTConfig:
        """GPT-2's block: LayerNorm, GELU MLP 4x wide, learned positions, multi-head attention, biases, tied head."""
        settings: dict[str, Any] = {"n_kv_heads": None, "norm": "layernorm", "mlp": "gelu"}
        settings |= {"positions": "learned", "bias": True}
        return cls(vocab_size, **(settings | overrides))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GPTConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


class RMSNorm(nn.Module):
    """x / rms(x) * weight: LayerNorm without centring and without a bias (Zhang and Sennrich, 2019)."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def make_norm(config: GPTConfig) -> nn.Module:
    if config.norm == "rmsnorm":
        return RMSNorm(config.d_model, config.norm_eps)
    return nn.LayerNorm(config.d_model, eps=config.norm_eps, bias=config.bias)


def sinusoidal_table(length: int, dim: int) -> Tensor:
    """The (length, dim) table of 'Attention Is All You Need': sin and cos of p / 10000^(2i/dim), interleaved."""
    positions = torch.arange(length, dtype=torch.float64)[:, None]
    frequencies = 10000.0 ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    table = torch.zeros(length, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(positions * frequencies)
    table[:, 1::2] = torch.cos(positions * frequencies)
    return table.float()


def rope_tables(head_dim: int, length: int, base: float = 10000.0) -> tuple[Tensor, Tensor]:
    """cos and sin of the RoPE angles, each (length, head_dim // 2): position p, pair i -> p * base^(-2i/head_dim)."""
    frequencies = base ** (-torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim)
    angles = torch.arange(length, dtype=torch.float64)[:, None] * frequencies
    return angles.cos().float(), angles.sin().float()


def apply_rope(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """Rotate each pair (x[i], x[i + head_dim/2]) of the last dimension by its angle.

    x is (..., T, head_dim), cos and sin (T, head_dim // 2). Pairing the two halves (GPT-NeoX's and
    Hugging Face Llama's layout) rather than neighbours (Meta's original code) is a fixed permutation of
    the weights; the rotation is the same.
    """
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)


class KVCache:
    """Keys and values of the tokens seen so far, per layer, so that each new token costs one position.

    The tensors are (n_layers, batch, n_kv_heads, max_len, head_dim): grouped-query attention shrinks
    the cache by n_heads / n_kv_heads. `GPT.forward(idx, cache=cache, start_pos=p)` writes the keys and
    values of positions p .. p + T - 1 and attends to positions 0 .. p + T - 1; writing again from an
    earlier position overwrites (what speculative decoding does when a draft token is rejected).
    """

    def __init__(
        self,
        config: GPTConfig,
        batch_size: int,
        max_len: int | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        self.max_len = max_len or config.context
        shape = (config.n_layers, batch_size, config.kv_heads, self.max_len, config.head_dim)
        self.keys = torch.zeros(shape, dtype=dtype, device=device)
        self.values = torch.zeros(shape, dtype=dtype, device=device)

    def update(self, layer: int, start_pos: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Store k and v (batch, n_kv_heads, T, head_dim) at start_pos; return everything up to the last one."""
        end = start_pos + k.shape[2]
        if end > self.max_len:
            raise ValueError(
                f"the cache holds {self.max_len} positions; positions up to {end} were asked for"
            )
        self.keys[layer, :, :, start_pos:end] = k
        self.values[layer, :, :, start_pos:end] = v
        return self.keys[layer, :, :, :end], self.values[layer, :, :, :end]

    @property
    def nbytes(self) -> int:
        return self.keys.nbytes + self.values.nbytes


def attention_weights(q: Tensor, k: Tensor, start_pos: int = 0) -> Tensor:
    """softmax(q k^T / sqrt(d) + causal mask), written out; k may have fewer heads than q (GQA).

    q is (B, H, T, d) for positions start_pos .. start_pos + T - 1; k is (B, H_kv, S, d) for positions
    0 .. S - 1. Query head h reads key head h // (H / H_kv). Returns (B, H, T, S); row t sums to 1 over
    the positions up to start_pos + t, and is 0 after.
    """
    groups = q.shape[1] // k.shape[1]
    if groups > 1:
        k = k.repeat_interleave(groups, dim=1)
    scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    query_pos = torch.arange(start_pos, start_pos + q.shape[2], device=q.device)[:, None]
    future = torch.arange(k.shape[2], device=q.device)[None, :] > query_pos
    return scores.masked_fill(future, float("-inf")).softmax(dim=-1)


def causal_attention(q: Tensor, k: Tensor, v: Tensor, start_pos: int = 0) -> Tensor:
    """attention_weights(q, k) @ v, value heads shared like the keys: the definition the fast path must match."""
    groups = q.shape[1] // v.shape[1]
    return attention_weights(q, k, start_pos) @ (v.repeat_interleave(groups, dim=1) if groups > 1 else v)


def fused_causal_attention(
    q: Tensor, k: Tensor, v: Tensor, start_pos: int = 0, dropout: float = 0.0
) -> Tensor:
    """The same through PyTorch's fused kernel, which never stores the (T, S) weights: faster, less memory."""
    length, total = q.shape[2], k.shape[2]
    gqa = q.shape[1] != k.shape[1]
    if start_pos == 0 and total == length:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, is_causal=True, enable_gqa=gqa)
    # Queries sit at the end of the keys; SDPA's is_causal aligns them with the start instead.
    mask = None
    if length > 1:
        query_pos = torch.arange(start_pos, start_pos + length, device=q.device)[:, None]
        mask = torch.arange(total, device=q.device)[None, :] <= query_pos
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=dropout, enable_gqa=gqa)


class Attention(nn.Module):
    """Causal self-attention with n_heads query heads sharing n_kv_heads key/value heads.

    It runs PyTorch's fused kernel; set `keep_weights = True` to compute the weights written out
    (`attention_weights`) and keep them in `last_weights` (B, H, T, S) for inspection.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.keep_weights = False
        self.last_weights: Tensor | None = None
        self.n_heads, self.n_kv_heads, self.head_dim = config.n_heads, config.kv_heads, config.head_dim
        self.dropout = config.dropout
        width = (config.n_heads + 2 * config.kv_heads) * config.head_dim
        self.qkv = nn.Linear(config.d_model, width, bias=config.bias)
        self.proj = nn.Linear(config.n_heads * config.head_dim, config.d_model, bias=config.bias)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        layer: int = 0,
        start_pos: int = 0,
    ) -> Tensor:
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
        dropout = self.dropout if self.training else 0.0
        if self.keep_weights:
            weights = attention_weights(q, k, start_pos)
            self.last_weights = weights.detach()
            groups = self.n_heads // self.n_kv_heads
            heads = F.dropout(weights, dropout) @ (v.repeat_interleave(groups, dim=1) if groups > 1 else v)
        else:
            heads = fused_causal_attention(q, k, v, start_pos, dropout)
        return self.proj(heads.transpose(1, 2).reshape(batch, length, self.n_heads * self.head_dim))


class GeluMLP(nn.Module):
    """down(gelu(up(x))): GPT-2's feed-forward layer."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.up = nn.Linear(config.d_model, config.mlp_width, bias=config.bias)
        self.down = nn.Linear(config.mlp_width, config.d_model, bias=config.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.gelu(self.up(x)))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) (Shazeer, 2020): three matrices, so 8/3 d wide costs what 4 d did."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.gate = nn.Linear(config.d_model, config.mlp_width, bias=config.bias)
        self.up = nn.Linear(config.d_model, config.mlp_width, bias=config.bias)
        self.down = nn.Linear(config.mlp_width, config.d_model, bias=config.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    """Pre-norm block: x + attention(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: GPTConfig, index: int) -> None:
        super().__init__()
        self.index = index
        self.attn_norm = make_norm(config)
        self.attn = Attention(config)
        self.mlp_norm = make_norm(config)
        self.mlp: nn.Module = SwiGLU(config) if config.mlp == "swiglu" else GeluMLP(config)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None = None,
        cache: KVCache | None = None,
        start_pos: int = 0,
    ) -> Tensor:
        x = x + self.dropout(self.attn(self.attn_norm(x), rope, cache, self.index, start_pos))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class GPT(nn.Module):
    """A decoder-only transformer: embeddings, `n_layers` pre-norm blocks, a final norm, a linear head.

    Modules, for notebooks that look inside or replace parts: `token_embedding`, `position_embedding`
    (learned positions only), `blocks[i].attn_norm / attn (qkv, proj) / mlp_norm / mlp`, `norm`, `head`.
    """

    position_table: Tensor
    rope_cos: Tensor
    rope_sin: Tensor

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.token_embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.position_embedding = (
            nn.Embedding(config.context, config.d_model) if config.positions == "learned" else None
        )
        # Fixed tables are derived from the config, not saved: a checkpoint loads into a longer context.
        if config.positions == "sinusoidal":
            self.register_buffer("position_table", sinusoidal_table(config.context, config.d_model), False)
        if config.positions == "rope":
            cos, sin = rope_tables(config.head_dim, config.context, config.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)
        self.dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.norm = make_norm(config)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_weights:
            self.head.weight = self.token_embedding.weight
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections scaled by 1/sqrt(2 L).

        Each block adds two projections to the residual stream; scaling them keeps its variance from
        growing with depth.
        """
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layers)
        for name, module in self.named_modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                is_residual = name.endswith(("attn.proj", "mlp.down"))
                nn.init.normal_(module.weight, 0.0, residual_std if is_residual else 0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                module.reset_parameters()
            if isinstance(module, RMSNorm):
                nn.init.ones_(module.weight)

    def num_parameters(self, *, non_embedding: bool = False) -> int:
        """Parameters, each shared tensor counted once; non_embedding leaves out the token and position tables."""
        total = sum(p.numel() for p in self.parameters())
        if non_embedding:
            total -= self.token_embedding.weight.numel()
            if self.position_embedding is not None:
                total -= self.position_embedding.weight.numel()
        return total

    def _rope(self) -> tuple[Tensor, Tensor] | None:
        return (self.rope_cos, self.rope_sin) if self.config.positions == "rope" else None

    def embed(self, idx: Tensor, start_pos: int = 0) -> Tensor:
        """Token ids (B, T) at positions start_pos.. -> the residual stream entering the first block."""
        end = start_pos + idx.shape[1]
        if end > self.config.context:
            raise ValueError(f"positions up to {end} asked for; the model's context is {self.config.context}")
        x = self.token_embedding(idx)
        if self.position_embedding is not None:
            x = x + self.position_embedding.weight[start_pos:end]
        elif self.config.positions == "sinusoidal":
            x = x + self.position_table[start_pos:end]
        return self.dropout(x)

    def features(self, idx: Tensor, cache: KVCache | None = None, start_pos: int = 0) -> Tensor:
        """The final normalised hidden states (B, T, d_model): what the head reads (and a classifier can)."""
        x = self.embed(idx, start_pos)
        rope = self._rope()
        for block in self.blocks:
            x = block(x, rope, cache, start_pos)
        return self.norm(x)

    @overload
    def forward(
        self, idx: Tensor, targets: None = None, *, cache: KVCache | None = None, start_pos: int = 0
    ) -> Tensor: ...
    @overload
    def forward(
        self, idx: Tensor, targets: Tensor, *, cache: KVCache | None = None, start_pos: int = 0
    ) -> tuple[Tensor, Tensor]: ...
    def forward(
        self, idx: Tensor, targets: Tensor | None = None, *, cache: KVCache | None = None, start_pos: int = 0
    ) -> Tensor | tuple[Tensor, Tensor]:
        """Logits (B, T, vocab) for the token after each position; with targets, also the mean cross-entropy.

        Targets equal to -100 are left out of the loss (prompt tokens in instruction tuning, padding).
        With a cache, idx holds the tokens at positions start_pos .. start_pos + T - 1 only.
        """
        logits = self.head(self.features(idx, cache, start_pos))
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-100)
        return logits, loss

    @torch.no_grad()
    def generate(
        self,
        idx: Tensor,
        max_new_tokens: int,
        *,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        use_cache: bool = True,
        stop_token: int | None = None,
    ) -> Tensor:
        """Extend idx (B, T) by up to max_new_tokens; temperature 0 is greedy.

        With the cache each step reads only the new token; without it each step recomputes the last
        `context` tokens. Both give the same tokens. Generation stops early once every row has produced
        stop_token (rows that stopped earlier are padded with it).
        """
        was_training = self.training
        self.eval()
        context = self.config.context
        cache, cached = None, 0
        finished = torch.zeros(idx.shape[0], dtype=torch.bool, device=idx.device)
        for _ in range(max_new_tokens):
            if use_cache and idx.shape[1] <= context:
                if cache is None:
                    cache = KVCache(
                        self.config, idx.shape[0], device=idx.device, dtype=self.head.weight.dtype
                    )
                logits = self(idx[:, cached:], cache=cache, start_pos=cached)
                cached = idx.shape[1]
            else:  # past the context, the window slides and every position moves: recompute
                logits = self(idx[:, -context:])
            next_token = sample_next(logits[:, -1], temperature, top_k, top_p, generator)
            if stop_token is not None:
                next_token = next_token.masked_fill(finished, stop_token)
                finished |= next_token == stop_token
            idx = torch.cat([idx, next_token[:, None]], dim=1)
            if stop_token is not None and bool(finished.all()):
                break
        self.train(was_training)
        return idx


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to -inf every logit outside the top k, then outside the smallest top set with probability >= top_p."""
    if top_k is not None and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs
        drop_sorted = mass_before >= top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next(
    logits: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token id per row of logits (B, vocab): the argmax when temperature is 0, else a filtered sample."""
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits / temperature, top_k, top_p).softmax(dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
