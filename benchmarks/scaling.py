"""Benchmark: build time per page for synthetic curricula of 1x, 10x and 100x the real one.

    .venv/bin/python benchmarks/scaling.py [--factors 1 10 100] [--keep]

Each curriculum is the real one copied F times into a temporary folder: topic `attention`
becomes `attention`, `attention-x1`, ... with its resources under distinct URLs and its
questions reworded, and the six phases are copied too (up to 16 times, as phase files are
numbered with two digits), each copy listing its share of the topic copies in the real order,
so prerequisites still come first. Notebooks are off, so this measures the generator, MkDocs
and the theme. The per-page cost must stay flat: budget 100x / 1x per page at most 1.3.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml
from common import ROOT, build, site_config, table

FLAT_BUDGET = 1.3
MAX_PHASE_COPIES = 16  # phases/NN-id.yml: 6 phases x 16 copies stay under 100


def copy_id(name: str, copy: int) -> str:
    return name if copy == 0 else f"{name}-x{copy}"


def copy_url(url: str, copy: int) -> str:
    """The same address made distinct per copy: each URL may appear once in a curriculum."""
    if copy == 0:
        return url
    return f"{url}-copy-{copy}" if "#" in url else f"{url}#copy-{copy}"


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _dump(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")


def synthesize(source: Path, target: Path, factor: int) -> tuple[int, int]:
    """Write a curriculum `factor` times the size of `source` into `target`; return (topics, resources)."""
    shutil.copytree(source, target)
    topic_files = sorted((source / "topics").glob("*.yml"))
    resources = 0
    for copy in range(1, factor):
        for path in topic_files:
            topic = _load(path)
            topic["id"] = copy_id(topic["id"], copy)
            topic["title"] = f"{topic['title']} ({copy + 1})"
            topic["prerequisites"] = [copy_id(p, copy) for p in topic.get("prerequisites", [])]
            for resource in topic.get("resources", []):
                resource["url"] = copy_url(resource["url"], copy)
            for question in topic.get("questions", []):
                question["question"] = f"{question['question']} (copy {copy + 1})"
            _dump(target / "topics" / f"{topic['id']}.yml", topic)
    for path in topic_files:
        resources += len(_load(path).get("resources", [])) * factor

    phase_files = sorted((source / "phases").glob("*.yml"))
    copies = min(factor, MAX_PHASE_COPIES)
    for old in (target / "phases").glob("*.yml"):
        old.unlink()
    order = []
    for phase_copy in range(copies):
        topic_copies = [k for k in range(factor) if k % copies == phase_copy]
        for index, path in enumerate(phase_files):
            phase = _load(path)
            phase["id"] = copy_id(phase["id"], phase_copy)
            if phase_copy:
                phase["title"] = f"{phase['title']} ({phase_copy + 1})"
            phase["topics"] = [copy_id(t, k) for k in topic_copies for t in phase["topics"]]
            for week in phase.get("schedule", []):
                week["topics"] = [copy_id(t, k) for k in topic_copies for t in week["topics"]]
                week["resources"] = [copy_url(u, k) for k in topic_copies for u in week.get("resources", [])]
            number = phase_copy * len(phase_files) + index + 1
            _dump(target / "phases" / f"{number:02d}-{phase['id']}.yml", phase)
            order.append(phase["id"])
    path_data = _load(source / "path.yml")
    path_data["phases"] = order
    _dump(target / "path.yml", path_data)
    return len(topic_files) * factor, resources


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factors", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder and print its path")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="llm-path-scaling-"))
    rows = []
    per_page: dict[int, float] = {}
    try:
        for factor in args.factors:
            base = folder / f"x{factor}"
            topics, resources = synthesize(ROOT / "curriculum", base / "curriculum", factor)
            # A notebooks folder that does not exist: notebooks are neither checked nor run.
            config = site_config(base, base / "curriculum", base / "no-notebooks")
            print(f"{factor}x: building {topics} topics...", file=sys.stderr, flush=True)
            seconds = build(config, base / "site", env={"LLM_PATH_NOTEBOOKS": "false"})
            pages = sum(1 for _ in (base / "site").rglob("index.html"))
            per_page[factor] = seconds / pages
            rows.append(
                (f"{factor}x", topics, resources, pages, f"{seconds:.1f}", f"{1000 * per_page[factor]:.1f}")
            )
    finally:
        if args.keep:
            print(f"kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)

    print(table(["curriculum", "topics", "resources", "pages", "build s", "ms per page"], rows))
    low, high = min(per_page), max(per_page)
    ratio = per_page[high] / per_page[low]
    print(f"\nper page, {high}x / {low}x: {ratio:.2f} (budget: at most {FLAT_BUDGET})")
    factors = sorted(per_page)
    steps = [f"{b}x / {a}x: {per_page[b] / per_page[a]:.2f}" for a, b in itertools.pairwise(factors)]
    if len(steps) > 1:
        print(
            "per page, step by step (the 1x build spreads its fixed start-up cost over few pages):",
            "; ".join(steps),
        )
    return 0 if ratio <= FLAT_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
