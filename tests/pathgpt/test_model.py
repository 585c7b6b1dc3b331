"""Each part of the GPT against an independent reference, then the whole model against a plain one."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from pathgpt import (
    GPT,
    GPTConfig,
    KVCache,
    RMSNorm,
    apply_rope,
    attention_weights,
    causal_attention,
    rope_tables,
)
from pathgpt.model import SwiGLU, filter_logits, fused_causal_attention, sample_next, sinusoidal_table
from torch import Tensor

F64 = torch.float64


def random(*shape: int, seed: int = 0) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=F64)


def test_rmsnorm_matches_torch() -> None:
    """RMSNorm with a random gain equals torch.nn.RMSNorm with the same gain and epsilon."""
    x = 3.0 * random(4, 7, 32) + 1.0
    mine, reference = RMSNorm(32, eps=1e-6).double(), torch.nn.RMSNorm(32, eps=1e-6).double()
    with torch.no_grad():
        mine.weight.copy_(random(32, seed=1))
        reference.weight.copy_(mine.weight)
    torch.testing.assert_close(mine(x), reference(x), rtol=1e-12, atol=1e-12)


def test_causal_attention_matches_sdpa() -> None:
    """The written-out attention equals scaled_dot_product_attention with is_causal."""
    q, k, v = random(2, 4, 9, 16), random(2, 4, 9, 16, seed=1), random(2, 4, 9, 16, seed=2)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(causal_attention(q, k, v), expected, rtol=1e-12, atol=1e-12)


def test_attention_weights_are_causal_distributions() -> None:
    """Each row sums to one over the past and puts exactly zero on the future."""
    weights = attention_weights(random(1, 2, 6, 8), random(1, 2, 6, 8, seed=1))
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, 2, 6, dtype=F64))
    assert torch.equal(weights.triu(1), torch.zeros_like(weights))


@pytest.mark.parametrize("kv_heads", [1, 2, 4])
def test_grouped_query_attention_matches_sdpa_with_gqa_and_repeated_heads(kv_heads: int) -> None:
    """Eight query heads over 1 (multi-query), 2 (grouped) or 4 key/value heads: SDPA's enable_gqa, and repeated heads."""
    q = random(2, 8, 10, 16)
    k, v = random(2, kv_heads, 10, 16, seed=1), random(2, kv_heads, 10, 16, seed=2)
    by_sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
    groups = 8 // kv_heads
    repeated = F.scaled_dot_product_attention(
        q, k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1), is_causal=True
    )
    torch.testing.assert_close(causal_attention(q, k, v), by_sdpa, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(causal_attention(q, k, v), repeated, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused_causal_attention(q, k, v), by_sdpa, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("new_tokens", [1, 3])
def test_attention_of_late_queries_sees_every_earlier_key(new_tokens: int) -> None:
    """Queries at positions 7.. over keys 0..: the last rows of full causal attention, written out and fused."""
    q, k, v = (
        random(1, 4, 7 + new_tokens, 8),
        random(1, 2, 7 + new_tokens, 8, seed=1),
        random(1, 2, 7 + new_tokens, 8, seed=2),
    )
    full = causal_attention(q, k, v)[:, :, 7:]
    late = q[:, :, 7:]
    torch.testing.assert_close(causal_attention(late, k, v, start_pos=7), full, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(fused_causal_attention(late, k, v, start_pos=7), full, rtol=1e-12, atol=1e-12)


def rope_by_complex_numbers(x: Tensor, base: float = 10000.0) -> Tensor:
    """RoPE as a complex product: pair (x_i, x_{i+d/2}) is the number x_i + i x_{i+d/2}, times e^{i p theta_i}."""
    half = x.shape[-1] // 2
    theta = base ** (-torch.arange(half, dtype=F64) * 2 / x.shape[-1])
    positions = torch.arange(x.shape[-2], dtype=F64)[:, None]
    rotated = torch.complex(x[..., :half], x[..., half:]) * torch.polar(
        torch.ones_like(positions * theta), positions * theta
    )
    return torch.cat([rotated.real, rotated.imag], dim=-1)


def test_rope_matches_complex_multiplication() -> None:
    """Rotating the pairs with cos/sin tables equals multiplying complex numbers by unit phasors."""
    x = random(2, 3, 20, 16)
    cos, sin = (t.double() for t in rope_tables(16, 20))
    torch.testing.assert_close(apply_rope(x, cos, sin), rope_by_complex_numbers(x), rtol=1e-6, atol=1e-6)


def test_rope_scores_depend_only_on_relative_position() -> None:
    """q at position m dotted with k at position n is the same for (m, n) and (m + s, n + s), and keeps the norm."""
    q, k = random(16), random(16, seed=1)
    cos, sin = (t.double() for t in rope_tables(16, 64))

    def at(vector: Tensor, position: int) -> Tensor:
        return apply_rope(vector[None], cos[position : position + 1], sin[position : position + 1])[0]

    for m, n in [(5, 2), (9, 9), (3, 11)]:
        scores = [at(q, m + s) @ at(k, n + s) for s in (0, 7, 40)]
        torch.testing.assert_close(scores[1], scores[0], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(scores[2], scores[0], rtol=1e-6, atol=1e-6)
    assert not torch.isclose(at(q, 5) @ at(k, 2), at(q, 6) @ at(k, 2))
    torch.testing.assert_close(at(q, 13).norm(), q.norm(), rtol=1e-6, atol=1e-6)


def test_sinusoidal_table_matches_the_formula() -> None:
    """Hand-computed entries of the 'Attention Is All You Need' table."""
    table = sinusoidal_table(50, 16).double()
    assert math.isclose(table[1, 0], math.sin(1.0), rel_tol=1e-6)
    assert math.isclose(table[5, 2], math.sin(5 / 10000 ** (2 / 16)), rel_tol=1e-6)
    assert math.isclose(table[37, 11], math.cos(37 / 10000 ** (10 / 16)), rel_tol=1e-6)


def test_swiglu_by_hand() -> None:
    """down(silu(x W_gate) * (x W_up)) with silu(z) = z sigmoid(z), from the layer's own matrices."""
    layer = SwiGLU(GPTConfig.modern(10, d_model=12, n_heads=2)).double()
    x = random(3, 5, 12)
    gate, up, down = layer.gate.weight, layer.up.weight, layer.down.weight
    z = x @ gate.T
    expected = ((z * (1 / (1 + torch.exp(-z)))) * (x @ up.T)) @ down.T
    torch.testing.assert_close(layer(x), expected, rtol=1e-12, atol=1e-12)
    assert layer.gate.weight.shape == (32, 12), "8/3 of 12 is 32, already a multiple of 32"


def test_swiglu_width_keeps_the_gelu_parameter_count() -> None:
    """Three matrices 8/3 d wide hold about as much as two 4 d wide."""
    for d in (96, 192, 768):
        config = GPTConfig.modern(10, d_model=d, n_heads=4)
        assert abs(3 * config.mlp_width - 8 * d) <= 3 * 32


def reference_logits(model: GPT, idx: Tensor) -> Tensor:
    """The forward pass written plainly from the model's weights: one head at a time, explicit formulas."""
    config, sd = model.config, model.state_dict()
    d, hd, heads, kv = config.d_model, config.head_dim, config.n_heads, config.kv_heads
    length = idx.shape[1]

    def norm(x: Tensor, prefix: str) -> Tensor:
        weight = sd[f"{prefix}.weight"]
        if config.norm == "rmsnorm":
            return x / torch.sqrt((x * x).mean(-1, keepdim=True) + config.norm_eps) * weight
        mean, var = x.mean(-1, keepdim=True), ((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True)
        out = (x - mean) / torch.sqrt(var + config.norm_eps) * weight
        return out + sd[f"{prefix}.bias"] if config.bias else out

    def linear(x: Tensor, prefix: str) -> Tensor:
        out = x @ sd[f"{prefix}.weight"].T
        return out + sd[f"{prefix}.bias"] if config.bias else out

    def rotate(x: Tensor) -> Tensor:  # x (T, hd), pairs (i, i + hd/2)
        out = torch.empty_like(x)
        for p in range(length):
            for i in range(hd // 2):
                angle = p * config.rope_base ** (-2 * i / hd)
                a, b = x[p, i], x[p, i + hd // 2]
                out[p, i], out[p, i + hd // 2] = (
                    a * math.cos(angle) - b * math.sin(angle),
                    b * math.cos(angle) + a * math.sin(angle),
                )
        return out

    x = sd["token_embedding.weight"][idx[0]]
    if config.positions == "learned":
        x = x + sd["position_embedding.weight"][:length]
    if config.positions == "sinusoidal":
        x = x + sinusoidal_table(length, d).double()
    for layer in range(config.n_layers):
        prefix = f"blocks.{layer}"
        h = norm(x, f"{prefix}.attn_norm")
        qkv = linear(h, f"{prefix}.attn.qkv")
        q, k, v = qkv[:, : heads * hd], qkv[:, heads * hd : (heads + kv) * hd], qkv[:, (heads + kv) * hd :]
        outputs = []
        for head in range(heads):
            group = head // (heads // kv)
            qh, kh, vh = (
                q[:, head * hd : (head + 1) * hd],
                k[:, group * hd : (group + 1) * hd],
                v[:, group * hd : (group + 1) * hd],
            )
            if config.positions == "rope":
                qh, kh = rotate(qh), rotate(kh)
            scores = qh @ kh.T / math.sqrt(hd)
            scores = scores + torch.triu(torch.full((length, length), -math.inf, dtype=F64), 1)
            outputs.append(torch.softmax(scores, -1) @ vh)
        x = x + linear(torch.cat(outputs, -1), f"{prefix}.attn.proj")
        h = norm(x, f"{prefix}.mlp_norm")
        if config.mlp == "swiglu":
            gate = linear(h, f"{prefix}.mlp.gate")
            hidden = gate * torch.sigmoid(gate) * linear(h, f"{prefix}.mlp.up")
        else:
            up = linear(h, f"{prefix}.mlp.up")
            hidden = 0.5 * up * (1 + torch.erf(up / math.sqrt(2)))
        x = x + linear(hidden, f"{prefix}.mlp.down")
    return (norm(x, "norm") @ sd["token_embedding.weight"].T)[None]


CONFIGS = {
    "modern": GPTConfig.modern(50, context=16, d_model=24, n_layers=2, n_heads=6),
    "gpt2": GPTConfig.gpt2_style(50, context=16, d_model=24, n_layers=2, n_heads=3),
    "sinusoidal-mqa": GPTConfig.modern(
        50, context=16, d_model=24, n_layers=2, n_heads=4, n_kv_heads=1, positions="sinusoidal"
    ),
}


@pytest.mark.parametrize("name", CONFIGS)
def test_forward_matches_a_plain_reference(name: str) -> None:
    """The model's logits equal the plain implementation's on the same (randomised) weights."""
    torch.manual_seed(0)
    model = GPT(CONFIGS[name]).double()
    with torch.no_grad():  # norms and biases away from their 1 and 0 starts, so that they are tested too
        for parameter_name, parameter in model.named_parameters():
            if "norm" in parameter_name or parameter_name.endswith("bias"):
                parameter.add_(0.3 * torch.randn_like(parameter))
    idx = torch.randint(0, 50, (1, 11), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model(idx), reference_logits(model, idx), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", CONFIGS)
def test_kept_weights_give_the_fused_output(name: str) -> None:
    """keep_weights switches to the written-out attention: same logits, and the weights are kept."""
    torch.manual_seed(0)
    model = GPT(CONFIGS[name]).double().eval()
    idx = torch.randint(0, 50, (2, 12))
    fused = model(idx)
    for block in model.blocks:
        block.attn.keep_weights = True
    torch.testing.assert_close(model(idx), fused, rtol=1e-12, atol=1e-12)
    assert model.blocks[0].attn.last_weights.shape == (2, model.config.n_heads, 12, 12)


@pytest.mark.parametrize("name", CONFIGS)
def test_cache_gives_the_logits_of_a_full_pass(name: str) -> None:
    """Prefill 6 tokens, then one at a time and three at once: the logits of one pass over all 11."""
    torch.manual_seed(0)
    model = GPT(CONFIGS[name]).double().eval()
    idx = torch.randint(0, 50, (2, 11))
    full = model(idx)
    cache = KVCache(model.config, batch_size=2, dtype=F64)
    pieces = [model(idx[:, :6], cache=cache, start_pos=0)]
    pieces += [model(idx[:, 6:7], cache=cache, start_pos=6), model(idx[:, 7:8], cache=cache, start_pos=7)]
    pieces.append(model(idx[:, 8:], cache=cache, start_pos=8))
    torch.testing.assert_close(torch.cat(pieces, dim=1), full, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", CONFIGS)
def test_greedy_generation_is_identical_with_and_without_cache(name: str) -> None:
    """Token for token, including past the context, where the window slides."""
    torch.manual_seed(0)
    model = GPT(CONFIGS[name]).eval()
    prompt = torch.randint(0, 50, (3, 5))
    with_cache = model.generate(prompt, 20, temperature=0, use_cache=True)
    without = model.generate(prompt, 20, temperature=0, use_cache=False)
    assert with_cache.shape == (3, 25)
    assert torch.equal(with_cache, without)


def test_grouped_query_attention_shrinks_the_cache() -> None:
    """The cache holds n_kv_heads heads: a quarter of multi-head's with 8 query heads over 2."""
    mha = KVCache(GPTConfig.modern(10, n_heads=8, n_kv_heads=8), batch_size=1)
    gqa = KVCache(GPTConfig.modern(10, n_heads=8, n_kv_heads=2), batch_size=1)
    assert gqa.nbytes * 4 == mha.nbytes
    assert (
        mha.nbytes == 2 * 4 * 256 * 256 * 4
    )  # keys and values, 4 layers, 256 positions, d_model 256, float32


def test_sampling_with_a_seed_is_the_same_with_and_without_cache() -> None:
    """The same generator seed draws the same tokens both ways."""
    torch.manual_seed(0)
    model = GPT(CONFIGS["modern"]).eval()
    prompt = torch.randint(0, 50, (1, 4))
    runs = [
        model.generate(
            prompt, 10, temperature=0.8, top_k=20, generator=torch.Generator().manual_seed(3), use_cache=c
        )
        for c in (True, False)
    ]
    assert torch.equal(runs[0], runs[1])


def test_generation_stops_when_every_row_has_the_stop_token() -> None:
    """A stop token that greedy decoding picks at once ends generation after one step."""
    torch.manual_seed(0)
    model = GPT(CONFIGS["modern"]).eval()
    prompt = torch.randint(0, 50, (1, 4))
    first = int(model.generate(prompt, 1, temperature=0)[0, -1])
    assert model.generate(prompt, 10, temperature=0, stop_token=first).shape == (1, 5)


def test_filters_keep_the_top_k_and_the_nucleus() -> None:
    """top-k keeps k logits; top-p keeps the smallest top set holding at least p of the probability."""
    logits = torch.log(torch.tensor([[0.5, 0.05, 0.3, 0.15]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, False, True, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.8)).tolist() == [[True, False, True, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.81)).tolist() == [[True, False, True, True]]
    assert torch.isfinite(filter_logits(logits, top_p=0.5)).tolist() == [[True, False, False, False]]
    assert sample_next(logits, temperature=0).tolist() == [0]


def test_gpt2_initialisation_scales_the_residual_projections() -> None:
    """N(0, 0.02) everywhere, 0.02 / sqrt(2 L) on the projections that write into the residual stream."""
    torch.manual_seed(0)
    model = GPT(GPTConfig.modern(1000, d_model=256, n_layers=8, n_heads=8))
    expected = 0.02 / math.sqrt(16)
    for block in model.blocks:
        assert abs(block.attn.proj.weight.std().item() - expected) < 0.05 * expected
        assert abs(block.mlp.down.weight.std().item() - expected) < 0.05 * expected
        assert abs(block.attn.qkv.weight.std().item() - 0.02) < 0.05 * 0.02
    assert model.head.weight is model.token_embedding.weight


def test_parameter_count_by_formula() -> None:
    """V d (tied) + L (attention + MLP + norms) + final norm, for both presets."""
    vocab, d, layers, context = 100, 64, 3, 32
    modern = GPT(GPTConfig.modern(vocab, context=context, d_model=d, n_layers=layers, n_heads=4))
    kv_width = 2 * 16 * 2  # two of four heads, 16 wide, keys and values
    mlp = 3 * d * 192  # 8/3 * 64 = 170.7, rounded up to 192
    assert modern.num_parameters() == vocab * d + layers * (d * (d + kv_width) + d * d + mlp + 2 * d) + d
    gpt2 = GPT(GPTConfig.gpt2_style(vocab, context=context, d_model=d, n_layers=layers, n_heads=4))
    per_block = (3 * d * d + 3 * d) + (d * d + d) + (2 * 4 * d * d + 4 * d + d) + 4 * d
    assert gpt2.num_parameters() == vocab * d + context * d + layers * per_block + 2 * d
    assert gpt2.num_parameters(non_embedding=True) == layers * per_block + 2 * d


def test_config_rejects_inconsistent_shapes() -> None:
    """All problems in one message."""
    with pytest.raises(ValueError) as error:
        GPTConfig(10, d_model=100, n_heads=3, norm="batchnorm")  # type: ignore[arg-type]
    assert "norm='batchnorm' is not one of layernorm, rmsnorm" in str(error.value)
    assert "d_model=100 is not a multiple of n_heads=3" in str(error.value)
    with pytest.raises(ValueError, match="n_kv_heads=3"):
        GPTConfig(10, n_heads=4, n_kv_heads=3)
