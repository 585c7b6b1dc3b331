"""The `llm-path` command run as a user runs it: a subprocess, its output and exit code."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from conftest import BIN


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "llm-path"), *args], capture_output=True, text=True, cwd=cwd, timeout=120, check=False
    )


def test_validate_clean_exits_zero(curriculum: Path) -> None:
    """A clean curriculum prints a one-line summary and exits 0."""
    result = run("validate", "curriculum", cwd=curriculum.parent)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok: 2 phases, 3 topics, 5 resources\n"


def test_validate_broken_exits_one_with_every_problem(curriculum: Path) -> None:
    """Every problem is one line on stderr, relative to where the command runs; exit 1; no traceback."""
    attention = curriculum / "topics/attention.yml"
    attention.write_text(
        attention.read_text().replace("type: paper", "type: papr").replace("hours: 12", "hours: x")
    )
    (curriculum / "advice.yml").write_text("")
    result = run("validate", "curriculum", cwd=curriculum.parent)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "curriculum/advice.yml:1:1: the file is empty; write the YAML mapping it should hold",
        "curriculum/topics/attention.yml:5:8: hours: expected a whole number, got text ('x'); write a whole number",
        "curriculum/topics/attention.yml:18:11: resources[0].type: 'papr' is not allowed; did you mean 'paper'? (one of: video, course, book, paper, article, interactive, tool, community)",
        "3 problems in 2 files",
    ]
    assert "Traceback" not in result.stderr


def test_validate_missing_folder_exits_one(tmp_path: Path) -> None:
    """A folder that does not exist is a located error, not a crash."""
    result = run("validate", "nowhere", cwd=tmp_path)
    assert result.returncode == 1
    assert (
        result.stderr.splitlines()[0]
        == "nowhere:1:1: no such folder; give the curriculum folder, e.g. 'curriculum'"
    )


def test_render_writes_markdown_for_any_engine(curriculum: Path, tmp_path: Path) -> None:
    """`llm-path render OUT` writes the site's source: Markdown pages and data under docs/, the navigation and tips beside."""
    out = tmp_path / "out"
    result = run("render", str(out), "--curriculum", str(curriculum), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    docs = out / "docs"
    written = sorted(p.relative_to(docs).as_posix() for p in docs.rglob("*.md"))
    assert written == sorted(
        [
            "index.md",
            "phases/foundations/index.md",
            "phases/transformers/index.md",
            "topics/linear-algebra/index.md",
            "topics/calculus/index.md",
            "topics/attention/index.md",
            "resources/index.md",
            "plan/index.md",
            "glossary/index.md",
            "advice/index.md",
            "reading-list/index.md",
        ]
    )
    assert sorted(p.name for p in (docs / "data").iterdir()) == ["cards.json", "plan.json"]
    assert (docs / "topics/attention/index.md").read_text().startswith('---\ntitle: "Attention mechanisms"\n')
    nav = json.loads((out / "nav.json").read_text())
    assert nav[0] == {"Home": "index.md"} and any("The path" in entry for entry in nav)
    assert {"slug": "temperature", "names": ["Temperature"]}.items() <= json.loads(
        (out / "tips.json").read_text()
    )[0].items()
