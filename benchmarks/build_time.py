"""Benchmark: how long the real site takes to build, cold, warm and without notebooks, in one run.

    .venv/bin/python benchmarks/build_time.py [--runs N] [--no-cold]

Cold: every notebook executed into a fresh cache folder. Warm: the same build again, nothing
changed (what `make serve` does on each save). Notebooks off: `LLM_PATH_NOTEBOOKS=false`, the
baseline. Each build is a real `mkdocs build --strict` in its own process, timed from outside;
warm and notebooks-off builds are the median of N runs. Budget: warm at most 1.3x notebooks off.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from common import ROOT, build, site_config, table

WARM_BUDGET = 1.3


def pages(site: Path) -> int:
    """HTML pages in a built site, the 404 page left out."""
    return sum(1 for page in site.rglob("index.html"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="warm and notebooks-off builds to take the median of"
    )
    parser.add_argument(
        "--no-cold", action="store_true", help="skip the cold build (warm then reuses .llm-path-cache/)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llm-path-build-time-") as tmp:
        folder = Path(tmp)
        # One folder per mode: a notebooks-off build evicts mkdocs-jupyter's cache of converted notebooks.
        notebooks_config = site_config(_mkdir(folder / "notebooks"), ROOT / "curriculum", ROOT / "notebooks")
        off_config = site_config(_mkdir(folder / "off"), ROOT / "curriculum", ROOT / "notebooks")
        if args.no_cold:
            (notebooks_config.parent / ".llm-path-cache").symlink_to(ROOT / ".llm-path-cache")
        rows = []
        if not args.no_cold:
            print("cold build: executing every notebook...", file=sys.stderr, flush=True)
            cold = build(notebooks_config, folder / "site-cold")
            rows.append(("cold (notebooks executed)", f"{cold:.1f}", pages(folder / "site-cold"), "-"))
        warm_runs = [build(notebooks_config, folder / "site-warm") for _ in range(args.runs)]
        off_runs = [
            build(off_config, folder / "site-off", env={"LLM_PATH_NOTEBOOKS": "false"})
            for _ in range(args.runs)
        ]
        warm, off = statistics.median(warm_runs), statistics.median(off_runs)
        rows.append(
            ("warm (nothing changed)", f"{warm:.1f}", pages(folder / "site-warm"), f"{warm / off:.2f}")
        )
        rows.append(("notebooks off (baseline)", f"{off:.1f}", pages(folder / "site-off"), "1.00"))

    print(table(["build", "seconds", "pages", "x baseline"], rows))
    runs = ", ".join(f"{s:.1f}" for s in warm_runs)
    print(f"\nwarm runs: {runs} s; notebooks-off runs: {', '.join(f'{s:.1f}' for s in off_runs)} s")
    print(f"warm / notebooks off: {warm / off:.2f} (budget: at most {WARM_BUDGET})")
    if not args.no_cold:
        print(f"cold / warm: {cold / warm:.1f}")
    return 0 if warm / off <= WARM_BUDGET else 1


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


if __name__ == "__main__":
    sys.exit(main())
