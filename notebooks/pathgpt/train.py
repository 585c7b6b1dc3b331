"""Pretraining: AdamW with decoupled weight decay, linear warmup then cosine decay, clipping, a history to plot."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import torch
from torch import Tensor, nn

from .data import evaluation_windows, sample_batch
from .model import GPT, RMSNorm


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 1000
    batch_size: int = 16
    lr: float = 3e-3
    """Peak learning rate, reached after the warmup."""
    min_lr: float = 3e-4
    """Where the cosine ends, at the last step."""
    warmup_steps: int = 50
    weight_decay: float = 0.1
    """AdamW's decoupled decay, applied to the matrices of the linear layers only."""
    betas: tuple[float, float] = (0.9, 0.95)
    grad_clip: float = 1.0
    """Largest global gradient norm; larger gradients are scaled down to it (0: no clipping)."""
    eval_every: int = 100
    eval_windows: int = 64
    """Windows (of the model's context) of each split scored at every evaluation, spread evenly."""
    seed: int = 0
    """Seeds the order of the training batches (the model's initialisation is the caller's)."""

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "betas" in values:
            values["betas"] = tuple(values["betas"])
        return cls(**values)


@dataclass
class History:
    """What happened during training, per step and per evaluation, ready to plot against tokens seen."""

    step: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    """Training tokens seen after each step."""
    lr: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    """Each step's training batch loss."""
    grad_norm: list[float] = field(default_factory=list)
    """Each step's global gradient norm, before clipping."""
    eval_step: list[int] = field(default_factory=list)
    eval_tokens: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    """Loss on fixed training windows at each evaluation (eval mode: no dropout)."""
    validation_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def learning_rate(step: int, config: TrainConfig) -> float:
    """The rate for step (counted from 0): linear warmup to lr, then a cosine down to min_lr at the last step."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - 1 - config.warmup_steps)
    return config.min_lr + 0.5 * (config.lr - config.min_lr) * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(
    model: nn.Module, lr: float, weight_decay: float, betas: tuple[float, float] = (0.9, 0.95)
) -> torch.optim.AdamW:
    """AdamW decaying only the weight matrices of linear layers.

    Norm gains and biases set scales and offsets that decay would pull to zero for no benefit; the
    embedding (and a head tied to it) is a lookup table whose rare rows would shrink merely for
    being rare.
    """
    no_decay: set[int] = set()
    for module in model.modules():
        if isinstance(module, nn.Embedding | nn.LayerNorm | RMSNorm):
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    for name, parameter in model.named_parameters():
        if name.endswith("bias"):
            no_decay.add(id(parameter))
    parameters = list(model.parameters())
    groups = [
        {"params": [p for p in parameters if id(p) not in no_decay], "weight_decay": weight_decay},
        {"params": [p for p in parameters if id(p) in no_decay], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)


@torch.no_grad()
def evaluate(model: GPT, tokens: Tensor, max_windows: int | None = None, batch_size: int = 32) -> float:
    """Mean next-token cross-entropy (nats) over non-overlapping context-long windows of tokens."""
    was_training = model.training
    model.eval()
    inputs, targets = evaluation_windows(tokens, model.config.context, max_windows)
    total = 0.0
    for start in range(0, len(inputs), batch_size):
        _, loss = model(inputs[start : start + batch_size], targets[start : start + batch_size])
        total += loss.item() * targets[start : start + batch_size].numel()
    model.train(was_training)
    return total / targets.numel()


def train(
    model: GPT,
    train_tokens: Tensor,
    validation_tokens: Tensor | None = None,
    config: TrainConfig | None = None,
    *,
    log: Callable[[str], None] | None = None,
) -> History:
    """Train model in place on random windows of train_tokens; evaluate every eval_every steps and at the end."""
    config = config or TrainConfig()
    context = model.config.context
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = make_optimizer(model, config.lr, config.weight_decay, config.betas)
    history = History()
    started = time.perf_counter()
    model.train()
    for step in range(config.steps):
        rate = learning_rate(step, config)
        for group in optimizer.param_groups:
            group["lr"] = rate
        inputs, targets = sample_batch(train_tokens, config.batch_size, context, generator)
        _, loss = model(inputs, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip or math.inf)
        optimizer.step()
        history.step.append(step + 1)
        history.tokens.append((step + 1) * config.batch_size * context)
        history.lr.append(rate)
        history.loss.append(loss.item())
        history.grad_norm.append(norm.item())
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            history.eval_step.append(step + 1)
            history.eval_tokens.append(history.tokens[-1])
            history.train_loss.append(evaluate(model, train_tokens, config.eval_windows))
            if validation_tokens is not None:
                history.validation_loss.append(evaluate(model, validation_tokens, config.eval_windows))
            if log:
                shown = (
                    f", validation {history.validation_loss[-1]:.3f}" if validation_tokens is not None else ""
                )
                log(
                    f"step {step + 1}/{config.steps}: train {history.train_loss[-1]:.3f}{shown}"
                    f" ({time.perf_counter() - started:.0f} s)"
                )
    history.seconds = time.perf_counter() - started
    model.eval()
    return history
