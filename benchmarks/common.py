"""Shared by the site benchmarks: paths, a timed strict MkDocs build, page types, sizes, tables.

Not a test helper: the benchmarks time things and print what they find; tests/ checks behaviour.
"""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402
from conftest import site_config  # noqa: E402

from llm_path.curriculum.load import load_curriculum  # noqa: E402

__all__ = ["BIN", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "serve", "site_config"]


class BuildError(SystemExit):
    """A benchmark's build failed; MkDocs' own output says why."""


def build(config: Path, site: Path, env: dict[str, str] | None = None, *, strict: bool = True) -> float:
    """Seconds for one `mkdocs build` of `config` into `site` (strict unless told not to), run from the config's folder."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            str(BIN / "mkdocs"),
            "build",
            *(["--strict"] if strict else []),
            "--quiet",
            "--config-file",
            str(config),
            "--site-dir",
            str(site),
        ],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})},
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise BuildError(f"mkdocs build failed for {config}:\n{result.stderr}{result.stdout}")
    return seconds


def build_project_site(site: Path) -> float:
    """The real site with every notebook, as `make site` builds it (the notebook cache under .llm-path-cache/ makes it quick once warm)."""
    print(
        "building the site with every notebook (executing the ones not cached yet)...",
        file=sys.stderr,
        flush=True,
    )
    return build(ROOT / "mkdocs.yml", site)


def page_types(site: Path) -> dict[str, str]:
    """Page type -> path under the site, for the real curriculum: the first phase, topic and notebook of the path."""
    curriculum = load_curriculum(ROOT / "curriculum")
    topics = curriculum.ordered_topics()
    with_notebook = [t.id for t in topics if (site / "notebooks" / t.id / "index.html").is_file()]
    kinds = {
        "home": "",
        "phase": f"phases/{curriculum.phases[0].id}/",
        "topic": f"topics/{topics[0].id}/",
        "notebook": f"notebooks/{with_notebook[0]}/" if with_notebook else "",
        "resources": "resources/",
        "plan": "plan/",
    }
    return {kind: path for kind, path in kinds.items() if kind != "notebook" or path}


def gzip_size(data: bytes) -> int:
    """Bytes after gzip at level 6, what static hosts commonly send."""
    return len(gzip.compress(data, compresslevel=6, mtime=0))


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kilobytes(size: int) -> str:
    """Bytes as KB with one decimal (1 KB = 1,000 bytes, as the budgets are written)."""
    return f"{size / 1000:.1f} KB"
