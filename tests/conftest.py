"""Shared helpers: a copy of the fixture curriculum and a real `mkdocs build --strict`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BIN = Path(sys.executable).parent


@pytest.fixture
def curriculum(tmp_path: Path) -> Path:
    """A writable copy of the fixture curriculum (two phases, three topics)."""
    target = tmp_path / "curriculum"
    shutil.copytree(FIXTURES / "curriculum", target)
    return target


def site_config(tmp_path: Path, curriculum: Path, notebooks: Path | None = None, extra: str = "") -> Path:
    """The project's mkdocs.yml, pointed at another curriculum, written into tmp_path."""
    text = (ROOT / "mkdocs.yml").read_text()
    text = text.replace("curriculum: curriculum", f"curriculum: {curriculum}")
    text = text.replace("notebooks: notebooks", f"notebooks: {notebooks or FIXTURES / 'notebooks'}")
    mermaid = ROOT / ".llm-path-cache/node/node_modules/mermaid/dist/mermaid.min.js"
    text = text.replace("      notebooks:", f"      mermaid: {mermaid}\n      notebooks:", 1)
    text = text.replace("custom_dir: overrides", f"custom_dir: {ROOT / 'overrides'}")
    text += f"\ndocs_dir: {ROOT / 'docs'}\n{extra}"
    config = tmp_path / "mkdocs.yml"
    config.write_text(text)
    return config


def mkdocs_build(
    config: Path, site: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a real `mkdocs build --strict`; the caller checks the result."""
    return subprocess.run(
        [str(BIN / "mkdocs"), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})},
        timeout=600,
        check=False,
    )


def build_site(tmp_path: Path, curriculum: Path, notebooks: Path | None = None) -> Path:
    """Build a site from `curriculum` and return its folder; fail the test with MkDocs' output if it breaks."""
    site = tmp_path / "site"
    result = mkdocs_build(site_config(tmp_path, curriculum, notebooks), site)
    assert result.returncode == 0, result.stderr + result.stdout
    return site
