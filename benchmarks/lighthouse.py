"""Benchmark: Lighthouse scores of each page type, mobile and desktop, median of 3 runs.

    .venv/bin/python benchmarks/lighthouse.py [--site DIR] [--runs N] [--no-gzip] [--no-baseline]

Builds the real site with every notebook (or uses --site), serves it on 127.0.0.1 the way
GitHub Pages and other static hosts do (text sent gzip-compressed; --no-gzip serves raw
bytes, as `python -m http.server` does) and runs npm's `lighthouse` with Debian's Chromium
(CHROME_PATH=/usr/bin/chromium, the browser tests' flags) on home, phase, topic, notebook,
resources and plan pages, with the mobile and desktop presets. Performance moves by a couple
of points run to run on a shared machine, so each score is the median of N runs (default 3).
Lighthouse is installed into .llm-path-cache/node on first use, never globally.

Budgets: performance at least 95 on mobile and 100 on desktop; accessibility, best practices
and SEO 100, on every page type. Baseline: the naive build of issue 8 (benchmarks/naive.py), built
in the same run from the same material and measured the same way, with the mobile preset.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from common import CHROMIUM, CHROMIUM_ARGS, ROOT, page_types, serve, table
from naive import add_site_arguments, sites_to_measure

NODE_PREFIX = ROOT / ".llm-path-cache" / "node"
LIGHTHOUSE = NODE_PREFIX / "node_modules" / ".bin" / "lighthouse"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
PERFORMANCE_BUDGET = {"mobile": 95, "desktop": 100}


def ensure_lighthouse() -> Path:
    """The lighthouse command, installed with npm into .llm-path-cache/node when it is missing."""
    if not LIGHTHOUSE.exists():
        print("installing lighthouse into .llm-path-cache/node (npm)...", file=sys.stderr, flush=True)
        subprocess.run(["npm", "install", "--prefix", str(NODE_PREFIX), "lighthouse"], check=True)
    return LIGHTHOUSE


def lighthouse(url: str, preset: str, categories: tuple[str, ...] = CATEGORIES) -> dict[str, Any]:
    """One Lighthouse run; the report as JSON."""
    command = [
        str(ensure_lighthouse()),
        url,
        "--quiet",
        "--output=json",
        "--output-path=stdout",
        f"--only-categories={','.join(categories)}",
        f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
    ]
    if preset == "desktop":
        command.append("--preset=desktop")
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "CHROME_PATH": CHROMIUM}, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"lighthouse failed on {url} ({preset}):\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def failing(report: dict[str, Any], category: str) -> list[str]:
    """The audits that cost a category points, e.g. 'link-text (0)'."""
    audits = report["audits"]
    return [
        f"{ref['id']} ({audits[ref['id']]['score']})"
        for ref in report["categories"][category]["auditRefs"]
        if ref.get("weight") and audits[ref["id"]].get("score") is not None and audits[ref["id"]]["score"] < 1
    ]


def measure(url: str, preset: str, runs: int) -> tuple[dict[str, list[int]], dict[str, Any]]:
    """Each category's scores over `runs` runs, and the report of the run with the median performance."""
    reports = [lighthouse(url, preset) for _ in range(runs)]
    scores = {c: [round(100 * r["categories"][c]["score"]) for r in reports] for c in CATEGORIES}
    median_run = sorted(reports, key=lambda r: r["categories"]["performance"]["score"])[len(reports) // 2]
    return scores, median_run


def row(
    site: str, kind: str, preset: str, scores: dict[str, list[int]], report: dict[str, Any]
) -> tuple[str, ...]:
    """A table row: median scores (performance with its range) and the median run's timings."""
    performance = scores["performance"]
    metrics = report["audits"]
    return (
        site,
        kind,
        preset,
        f"{statistics.median(performance):.0f} ({min(performance)}-{max(performance)})",
        *(f"{statistics.median(scores[c]):.0f}" for c in CATEGORIES[1:]),
        f"{metrics['first-contentful-paint']['numericValue'] / 1000:.1f} s",
        f"{metrics['largest-contentful-paint']['numericValue'] / 1000:.1f} s",
        f"{metrics['total-blocking-time']['numericValue']:.0f} ms",
        f"{metrics['cumulative-layout-shift']['numericValue']:.3f}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-gzip", action="store_true", help="serve files uncompressed")
    add_site_arguments(parser)
    args = parser.parse_args()
    ensure_lighthouse()

    rows = []
    problems = []
    mobile: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory(prefix="llm-path-lighthouse-") as tmp:
        site, naive = sites_to_measure(args, Path(tmp))
        sites = {"this site": (site, ("mobile", "desktop"))}
        if naive:
            sites["naive"] = (naive, ("mobile",))
        kinds = page_types(site)
        for name, (folder, presets) in sites.items():
            with serve(folder, compress=not args.no_gzip) as base:
                for kind, path in kinds.items():
                    for preset in presets:
                        print(f"lighthouse {name} {preset} {kind}...", file=sys.stderr, flush=True)
                        scores, report = measure(base + path, preset, args.runs)
                        rows.append(row(name, kind, preset, scores, report))
                        if preset == "mobile":
                            mobile[name, kind] = statistics.median(scores["performance"])
                        if name != "this site":
                            continue
                        if statistics.median(scores["performance"]) < PERFORMANCE_BUDGET[preset]:
                            problems.append(
                                f"{kind} {preset} performance: {', '.join(failing(report, 'performance'))}"
                            )
                        for category in CATEGORIES[1:]:
                            if statistics.median(scores[category]) < 100:
                                problems.append(
                                    f"{kind} {preset} {category}: {', '.join(failing(report, category))}"
                                )

    headers = ["site", "page", "preset", "performance", "accessibility", "best practices", "SEO"]
    print(table([*headers, "FCP", "LCP", "TBT", "CLS"], rows))
    served = "uncompressed" if args.no_gzip else "gzip, as static hosts serve it"
    print(f"\n{args.runs} runs each, median (range); served on 127.0.0.1, {served}")
    if naive:
        gains = "; ".join(
            f"{kind} {mobile['this site', kind]:.0f} vs {mobile['naive', kind]:.0f}" for kind in kinds
        )
        print(f"mobile performance, this site vs the naive build of the same material: {gains}")
    print("budget: performance >= 95 mobile and 100 desktop; accessibility, best practices and SEO 100")
    for problem in problems:
        print("  over budget:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
