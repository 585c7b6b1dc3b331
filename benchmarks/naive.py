"""The baseline of issue 8, built in the same run as the measurement: the obvious way to make this site.

The same material (the Markdown `llm-path render` writes, and the same executed notebooks) in a
stock mkdocs-material site: the theme's defaults (Google Fonts included), its usual Markdown
extensions, its search, and the notebooks embedded with mkdocs-jupyter's defaults. None of ours:
no llm-path plugin, no template overrides, no CSS or JavaScript of our own, no slimming.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from common import BIN, ROOT, build

EXECUTED_NOTEBOOKS = ROOT / ".cache" / "notebooks" / "view" / "notebooks"
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
    subprocess.run([str(BIN / "llm-path"), "render", str(docs)], check=True, capture_output=True, cwd=ROOT)
    (docs / "notebooks").mkdir()
    for notebook in notebooks:
        shutil.copy(notebook, docs / "notebooks" / notebook.name)
    (folder / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    site = folder / "site"
    build(folder / "mkdocs.yml", site, strict=False)
    return site
