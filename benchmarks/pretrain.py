"""Benchmark: pretraining throughput and model FLOPs utilisation of the path's GPT, modern and 2019 blocks.

    .venv/bin/python benchmarks/pretrain.py [--steps N] [--threads N] [--no-profile] [--bf16]

The yardstick is measured in the same run: the best of several large float32 `torch.matmul`s
(2048 x 2048) on the same threads, this machine's practical matrix-multiply peak. Then each block
trains at the shape of the notebooks' recipe (`pathgpt.pretrained.RECIPE`) on real corpus-sized
batches: tokens per second over full steps (batch, forward, backward, clipping, AdamW), and model
FLOPs utilisation, MFU = model FLOPs per second / peak. Model FLOPs per token follow PaLM's
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
    for _ in range(10):
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
    parser.add_argument("--steps", type=int, default=15, help="timed training steps per block (median taken)")
    parser.add_argument(
        "--threads", type=int, default=torch.get_num_threads(), help="threads (default: all cores)"
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profile of where the time goes")
    parser.add_argument(
        "--bf16", action="store_true", help="also train under bfloat16 autocast, against the bfloat16 peak"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    recipe = RECIPE.model
    batch_size = RECIPE.training.batch_size
    shapes = {
        "modern": recipe,
        "2019 (gpt2_style)": GPTConfig.gpt2_style(
            recipe.vocab_size,
            context=recipe.context,
            d_model=recipe.d_model,
            n_layers=recipe.n_layers,
            n_heads=recipe.n_heads,
        ),
    }
    tokens = torch.randint(0, recipe.vocab_size, (2_000_000,), generator=torch.Generator().manual_seed(0))
    print(f"measuring the float32 matmul peak on {args.threads} threads...", file=sys.stderr, flush=True)
    peak = matmul_peak(args.threads)
    peaks = {"float32": peak}
    if args.bf16:
        peaks["bfloat16"] = matmul_peak(args.threads, dtype=torch.bfloat16)
    rows, phase_rows, mfu = [], [], {}
    for name, config in shapes.items():
        for precision in peaks:
            torch.manual_seed(0)
            model = GPT(config)
            print(f"training the {name} block ({precision})...", file=sys.stderr, flush=True)
            seconds, phases = train_steps(model, tokens, batch_size, args.steps, precision == "bfloat16")
            per_second = batch_size * config.context / seconds
            utilisation = per_second * model_flops_per_token(model) / peaks[precision]
            mfu[name, precision] = utilisation
            rows.append(
                (
                    f"{name}, {precision}",
                    f"{model.num_parameters() / 1e6:.2f} M",
                    f"{model_flops_per_token(model) / 1e6:.1f} M",
                    f"{per_second:,.0f}",
                    f"{per_second * model_flops_per_token(model) / 1e9:.1f}",
                    f"{utilisation:.0%}",
                )
            )
            step = sum(phases.values())
            phase_rows.append((f"{name}, {precision}", *(f"{phases[p] / step:.0%}" for p in phases)))
    print(
        f"float32 matmul peak (2048 x 2048, best of 10): {peak / 1e9:.1f} GFLOP/s on {args.threads} threads"
    )
    if args.bf16:
        print(f"bfloat16 matmul peak: {peaks['bfloat16'] / 1e9:.1f} GFLOP/s")
    print(
        f"shape: context {recipe.context}, d_model {recipe.d_model}, {recipe.n_layers} layers, {recipe.n_heads} heads, batch {batch_size}\n"
    )
    print(table(["block", "parameters", "FLOPs/token", "tokens/s", "GFLOP/s", "MFU"], rows))
    print("\nshare of a step's wall time by phase")
    print(table(["block", "data", "forward", "backward", "clip", "optimizer"], phase_rows))
    if not args.no_profile:
        for name, config in shapes.items():
            torch.manual_seed(0)
            shares = profile(GPT(config), tokens, batch_size)
            print(f"\n{name}, float32: share of profiled CPU time by kind of operation")
            print(table(["kind", "share"], [(kind, f"{share:.0%}") for kind, share in shares.items()]))
    modern = mfu["modern", "float32"]
    verdict = "within" if modern >= MFU_BUDGET else "MISSES"
    print(f"\nmodern block MFU {modern:.0%}: {verdict} the budget of at least {MFU_BUDGET:.0%}")
    return 0 if modern >= MFU_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
