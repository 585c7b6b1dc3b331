"""Benchmark: pretraining throughput and model FLOPs utilisation of the path's GPT, modern and 2019 blocks.

    .venv/bin/python benchmarks/pretrain.py [--steps N] [--threads N] [--no-profile] [--bf16]

The yardstick is measured in the same run: large float32 `torch.matmul`s (2048 x 2048) on the
same threads, this machine's practical matrix-multiply peak. Each block trains at the shape of the
notebooks' recipe (`pathgpt.pretrained.RECIPE`): tokens per second over full steps (batch,
forward, backward, clipping, AdamW; the median step of a round), and model FLOPs utilisation,
MFU = model FLOPs per second / peak. The peak and the blocks are measured in turn, round after
round, and each figure is the best of its rounds: on a machine shared with other work that is the
closest to what it can do, and the peak and the training are treated alike. Model FLOPs per token follow PaLM's
appendix B: 6 N for the N weights of the matrix multiplies (head included, embedding lookups not)
plus 12 L d T for attention's two products, causality not discounted. Where the rest of the time
goes is printed from the PyTorch profiler, by kind of operation. Budget: MFU of the modern block at
least 40%.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch starts its threads

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "notebooks"), str(Path(__file__).resolve().parent)]

from common import table  # noqa: E402
from pathgpt import GPT, GPTConfig, make_optimizer, sample_batch  # noqa: E402
from pathgpt.pretrained import RECIPE  # noqa: E402

MFU_BUDGET = 0.40

KINDS = {
    "attention (fused kernel)": ("scaled_dot_product", "flash_attention"),
    "softmax and cross-entropy": ("softmax", "nll_loss", "cross_entropy"),
    "matrix multiplies": ("aten::mm", "aten::addmm", "aten::bmm", "aten::matmul", "aten::linear"),
    "optimizer (AdamW)": ("_foreach", "adamw", "aten::lerp", "aten::addcdiv", "aten::addcmul"),
    "gradient clipping": ("norm", "clip"),
    "data (batch sampling)": ("randint", "aten::index", "aten::arange"),
}


def matmul_peak(threads: int, size: int = 2048, dtype: torch.dtype = torch.float32) -> float:
    """FLOP/s of the best of several size x size matrix products."""
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    for _ in range(3):
        a @ b
    best = 0.0
    for _ in range(4):
        started = time.perf_counter()
        for _ in range(5):
            a @ b
        best = max(best, 5 * 2 * size**3 / (time.perf_counter() - started))
    return best


def model_flops_per_token(model: GPT) -> float:
    """6 N (matrix-multiply weights, the head included) + 12 L d T (attention scores and values)."""
    config = model.config
    weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    return 6 * weights + 12 * config.n_layers * config.d_model * config.context


def train_steps(
    model: GPT, tokens: torch.Tensor, batch_size: int, steps: int, bf16: bool
) -> tuple[float, dict[str, float]]:
    """Seconds per step (median), and the mean seconds of each phase of a step."""
    optimizer = make_optimizer(model, 1e-3, 0.1)
    generator = torch.Generator().manual_seed(0)
    phases: dict[str, list[float]] = defaultdict(list)
    totals = []
    for step in range(steps + 3):
        marks = [time.perf_counter()]
        inputs, targets = sample_batch(tokens, batch_size, model.config.context, generator)
        marks.append(time.perf_counter())
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            _, loss = model(inputs, targets)
        marks.append(time.perf_counter())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        marks.append(time.perf_counter())
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        marks.append(time.perf_counter())
        optimizer.step()
        marks.append(time.perf_counter())
        if step >= 3:  # the first steps allocate and warm up
            for name, start, end in zip(
                ["data", "forward", "backward", "clip", "optimizer"], marks, marks[1:], strict=False
            ):
                phases[name].append(end - start)
            totals.append(marks[-1] - marks[0])
    return statistics.median(totals), {name: statistics.mean(times) for name, times in phases.items()}


def profile(model: GPT, tokens: torch.Tensor, batch_size: int) -> dict[str, float]:
    """Share of the profiled CPU time by kind of operation, over three training steps."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    optimizer = make_optimizer(model, 1e-3, 0.1)
    generator = torch.Generator().manual_seed(0)
    for _ in range(2):  # the first steps allocate; leave them out
        inputs, targets = sample_batch(tokens, batch_size, model.config.context, generator)
        model(inputs, targets)[1].backward()
    with torch_profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(3):
            inputs, targets = sample_batch(tokens, batch_size, model.config.context, generator)
            _, loss = model(inputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
    shares: dict[str, float] = defaultdict(float)
    total = 0.0
    for event in profiler.key_averages():
        total += event.self_cpu_time_total
        name = event.key.lower()
        kind = next(
            (k for k, needles in KINDS.items() if any(n.lower() in name for n in needles)),
            "other elementwise",
        )
        shares[kind] += event.self_cpu_time_total
    return {kind: value / total for kind, value in sorted(shares.items(), key=lambda kv: -kv[1])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--steps", type=int, default=10, help="timed training steps per block and round (median taken)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of peak and blocks measured in turn (best taken)"
    )
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="threads (default: all cores)"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of where the time goes")
    parser.add_argument(
        "--bf16", action="store_true", help="also train under bfloat16 autocast, against the bfloat16 peak"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    recipe, batch_size = RECIPE.model, RECIPE.training.batch_size
    old = GPTConfig.gpt2_style(
        recipe.vocab_size,
        context=recipe.context,
        d_model=recipe.d_model,
        n_layers=recipe.n_layers,
        n_heads=recipe.n_heads,
    )
    torch.manual_seed(0)
    models = {"modern": GPT(recipe), "2019 (gpt2_style)": GPT(old)}
    tokens = torch.randint(0, recipe.vocab_size, (2_000_000,), generator=torch.Generator().manual_seed(0))
    precisions = ["float32", "bfloat16"] if args.bf16 else ["float32"]
    peaks = dict.fromkeys(precisions, 0.0)
    speed: dict[tuple[str, str], float] = {}
    phases_of: dict[tuple[str, str], dict[str, float]] = {}
    for round_ in range(args.rounds):
        print(
            f"round {round_ + 1} of {args.rounds}: matmul peak, then each block...",
            file=sys.stderr,
            flush=True,
        )
        for precision in precisions:
            dtype = torch.float32 if precision == "float32" else torch.bfloat16
            peaks[precision] = max(peaks[precision], matmul_peak(args.threads, dtype=dtype))
            for name, model in models.items():
                seconds, phases = train_steps(model, tokens, batch_size, args.steps, precision == "bfloat16")
                per_second = batch_size * model.config.context / seconds
                if per_second > speed.get((name, precision), 0.0):
                    speed[name, precision], phases_of[name, precision] = per_second, phases

    rows, phase_rows, mfu = [], [], {}
    for (name, precision), per_second in speed.items():
        model, flops = models[name], model_flops_per_token(models[name])
        mfu[name, precision] = per_second * flops / peaks[precision]
        rows.append(
            (
                f"{name}, {precision}",
                f"{model.num_parameters() / 1e6:.2f} M",
                f"{flops / 1e6:.1f} M",
                f"{per_second:,.0f}",
                f"{per_second * flops / 1e9:.1f}",
                f"{mfu[name, precision]:.0%}",
            )
        )
        phases = phases_of[name, precision]
        phase_rows.append(
            (f"{name}, {precision}", *(f"{phases[p] / sum(phases.values()):.0%}" for p in phases))
        )
    for precision, peak in peaks.items():
        print(
            f"{precision} matmul peak (2048 x 2048, best of {args.rounds} rounds): {peak / 1e9:.1f} GFLOP/s on {args.threads} threads"
        )
    print(
        f"shape: context {recipe.context}, d_model {recipe.d_model}, {recipe.n_layers} layers, "
        f"{recipe.n_heads} heads, batch {batch_size}\n"
    )
    print(table(["block", "parameters", "FLOPs/token", "tokens/s", "GFLOP/s", "MFU"], rows))
    print("\nshare of a step's wall time by phase")
    print(table(["block", "data", "forward", "backward", "clip", "optimizer"], phase_rows))
    if not args.no_profile:
        for name, model in models.items():
            shares = profile(model, tokens, batch_size)
            print(f"\n{name}, float32: share of profiled CPU time by kind of operation")
            print(table(["kind", "share"], [(kind, f"{share:.0%}") for kind, share in shares.items()]))
    modern = mfu["modern", "float32"]
    verdict = "within" if modern >= MFU_BUDGET else "MISSES"
    print(f"\nmodern block MFU {modern:.0%}: {verdict} the budget of at least {MFU_BUDGET:.0%}")
    return 0 if modern >= MFU_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
