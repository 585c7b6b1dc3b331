"""The training loop's parts: schedule, decoupled weight decay on the right parameters, clipping, learning."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from pathgpt import GPT, GPTConfig, TrainConfig, evaluate, learning_rate, make_optimizer, train


def test_schedule_warms_up_linearly_then_follows_a_cosine() -> None:
    config = TrainConfig(steps=110, lr=1e-3, min_lr=1e-4, warmup_steps=10)
    rates = [learning_rate(step, config) for step in range(config.steps)]
    assert rates[:10] == pytest.approx([1e-4 * (i + 1) for i in range(10)])
    assert rates[10] == pytest.approx(1e-3) and rates[-1] == pytest.approx(1e-4)
    assert rates[60] == pytest.approx(1e-4 + 0.5 * 9e-4 * (1 + math.cos(math.pi * 50 / 99)))
    assert all(a >= b for a, b in itertools.pairwise(rates[10:]))


@pytest.mark.parametrize("preset", ["modern", "gpt2_style"])
def test_weight_decay_only_on_linear_weights(preset: str) -> None:
    """Norm gains, biases and the (tied) embedding are not decayed; every parameter is in exactly one group."""
    model = GPT(getattr(GPTConfig, preset)(40, context=8, d_model=16, n_layers=2, n_heads=2))
    optimizer = make_optimizer(model, 1e-3, 0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in optimizer.param_groups[0]["params"]}
    kept = {names[id(p)] for p in optimizer.param_groups[1]["params"]}
    assert (
        optimizer.param_groups[0]["weight_decay"] == 0.1 and optimizer.param_groups[1]["weight_decay"] == 0.0
    )
    assert not decayed & kept and decayed | kept == set(names.values())
    assert all(
        n.endswith(("qkv.weight", "proj.weight", "up.weight", "down.weight", "gate.weight")) for n in decayed
    )
    assert "token_embedding.weight" in kept and any("norm" in n for n in kept)


def test_decay_is_decoupled_from_the_gradient() -> None:
    """With zero gradients Adam's update is zero, and AdamW still shrinks decayed weights by lr * wd exactly."""
    model = GPT(GPTConfig.modern(40, context=8, d_model=16, n_layers=1, n_heads=2))
    optimizer = make_optimizer(model, lr=0.1, weight_decay=0.5)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    after = dict(model.named_parameters())
    torch.testing.assert_close(
        after["blocks.0.attn.qkv.weight"], before["blocks.0.attn.qkv.weight"] * (1 - 0.1 * 0.5)
    )
    torch.testing.assert_close(after["token_embedding.weight"], before["token_embedding.weight"])
    torch.testing.assert_close(after["blocks.0.attn_norm.weight"], before["blocks.0.attn_norm.weight"])


def test_training_learns_a_repeating_sequence_and_records_its_history() -> None:
    """A periodic token stream is learnt to near-zero loss; the history holds every step and each evaluation."""
    torch.manual_seed(0)
    tokens = torch.arange(5000) % 17
    model = GPT(GPTConfig.modern(20, context=32, d_model=32, n_layers=1, n_heads=2))
    start = evaluate(model, tokens)
    config = TrainConfig(
        steps=60, batch_size=8, lr=1e-2, min_lr=1e-3, warmup_steps=5, eval_every=20, grad_clip=0.5
    )
    history = train(model, tokens, tokens[:1000], config)
    assert start > 2.5 and history.validation_loss[-1] < 0.05
    assert history.eval_step == [20, 40, 60] and history.step == list(range(1, 61))
    assert history.tokens[-1] == 60 * 8 * 32
    assert max(history.grad_norm) > 0.5, (
        "some gradients were larger than the clip; the recorded norm is before clipping"
    )
    assert not model.training
