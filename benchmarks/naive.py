"""The baseline of issue 8, built in the same run as the measurement: the obvious way to make this site.

The same material (the Markdown `llm-path render` writes, and the same executed notebooks) in a
stock mkdocs-material site: the theme's defaults (Google Fonts included), its usual Markdown
extensions, its search, and the notebooks embedded with mkdocs-jupyter's defaults. None of ours:
no llm-path plugin, no template overrides, no CSS or JavaScript of our own, no slimming.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

from common import BIN, ROOT, build, build_project_site

EXECUTED_NOTEBOOKS = ROOT / ".llm-path-cache" / "notebooks" / "view" / "notebooks"
"""Where the real build leaves the executed notebooks it shows (see llm_path.notebooks)."""

CONFIG = """\
site_name: From Linear Algebra to LLMs
site_url: http://127.0.0.1:8000/
theme:
  name: material
plugins:
  - search
  - mkdocs-jupyter
markdown_extensions:
  - abbr
  - admonition
  - attr_list
  - def_list
  - footnotes
  - md_in_html
  - tables
  - toc:
      permalink: true
  - pymdownx.arithmatex:
      generic: true
  - pymdownx.details
  - pymdownx.highlight
  - pymdownx.inlinehilite
  - pymdownx.superfences
  - pymdownx.tabbed:
      alternate_style: true
"""


def build_naive_site(folder: Path) -> Path:
    """Build the naive site in `folder` and return its site folder; the real site must be built first.

    The real build executes the notebooks; this one embeds the same executed notebooks.
    """
    notebooks = sorted(EXECUTED_NOTEBOOKS.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(
            f"no executed notebooks in {EXECUTED_NOTEBOOKS}: build the real site first (make site)"
        )
    print(
        "building the naive baseline (stock mkdocs-material and mkdocs-jupyter)...",
        file=sys.stderr,
        flush=True,
    )
    docs = folder / "docs"
    subprocess.run(
        [str(BIN / "llm-path"), "render", str(folder), "--no-notebooks"],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    (docs / "notebooks").mkdir(exist_ok=True)
    for notebook in notebooks:
        shutil.copy(notebook, docs / "notebooks" / notebook.name)
    (folder / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    site = folder / "site"
    build(folder / "mkdocs.yml", site, strict=False)
    return site


def add_site_arguments(parser: argparse.ArgumentParser) -> None:
    """--site (measure a site built already) and --no-baseline (skip the naive site)."""
    parser.add_argument("--site", type=Path, help="an already built site to measure instead of building one")
    parser.add_argument(
        "--no-baseline", action="store_true", help="skip building and measuring the naive site"
    )


def sites_to_measure(args: argparse.Namespace, folder: Path) -> tuple[Path, Path | None]:
    """The real site (built into `folder` unless --site names one) and the naive one (unless --no-baseline)."""
    site = args.site or folder / "site"
    if not args.site:
        build_project_site(site)
    return site, None if args.no_baseline else build_naive_site(folder / "naive")
