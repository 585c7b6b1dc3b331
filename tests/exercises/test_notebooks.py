"""Every notebook with exercises imports the package, and starts with the cell that fetches it when run alone."""

from __future__ import annotations

import functools
import http.server
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
README = NOTEBOOKS / "exercises" / "README.md"
REPOSITORY_ZIP = "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip"


def bootstrap_cell(pathgpt: bool = True) -> str:
    """The cell as the package's README gives it (for a notebook that also imports pathgpt), or without pathgpt."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- bootstrap:start -->", 1)[1].split("<!-- bootstrap:end -->", 1)[0]
    cell = re.search(r"```python\n(.*?)```", block, re.DOTALL).group(1).strip()  # type: ignore[union-attr]
    if pathgpt:
        return cell
    lines = [line for line in cell.splitlines() if line.strip() != "import pathgpt"]
    return "\n".join(lines).replace('packages = ("exercises", "pathgpt")', 'packages = ("exercises",)')


def imports(path: Path, package: str) -> bool:
    text = path.read_text(encoding="utf-8")
    return re.search(rf"^\s*(import {package}\b|from {package}\b)", text, re.MULTILINE) is not None


def importing_notebooks() -> list[str]:
    return sorted(path.name for path in NOTEBOOKS.glob("*.py") if imports(path, "exercises"))


def test_every_notebook_with_exercises_imports_the_checker() -> None:
    """No notebook defines its own run_check; each one that prints verdicts imports it."""
    own = [
        path.name for path in NOTEBOOKS.glob("*.py") if re.search(r"^def run_check\b", path.read_text(), re.M)
    ]
    assert own == []
    with_verdicts = {path.name for path in NOTEBOOKS.glob("*.py") if "run_check(" in path.read_text()}
    assert len(with_verdicts) >= 20
    assert with_verdicts <= set(importing_notebooks())


@pytest.mark.parametrize("name", importing_notebooks())
def test_first_code_cell_is_the_bootstrap(name: str) -> None:
    """Verbatim, with pathgpt in it exactly when the notebook imports pathgpt too."""
    notebook = jupytext.read(NOTEBOOKS / name, fmt="py:percent")
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert first.source.strip() == bootstrap_cell(pathgpt=imports(NOTEBOOKS / name, "pathgpt"))


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run_alone(tmp_path: Path, cell: str, script: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the cell and `script` in an empty folder, with the repository's archive served on 127.0.0.1."""
    archive = tmp_path / "main.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for package in ("exercises", "pathgpt"):
            for path in sorted((NOTEBOOKS / package).iterdir()):
                if path.is_file():
                    zipped.write(path, f"llm-path-main/notebooks/{package}/{path.name}")
        zipped.writestr("llm-path-main/notebooks/rag.py", "# not part of a package\n")
        zipped.writestr("llm-path-main/src/llm_path/__init__.py", "# nor this\n")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/main.zip"
        work = tmp_path / "alone"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        result = subprocess.run(
            [sys.executable, "-c", cell.replace(REPOSITORY_ZIP, url) + "\n" + script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    return result, work


def test_the_bootstrap_fetches_both_packages(tmp_path: Path) -> None:
    """Run alone, the cell unpacks exercises and pathgpt, every module of each, and imports them from there."""
    assert REPOSITORY_ZIP in bootstrap_cell()
    script = "print(exercises.__file__, pathgpt.__file__, exercises.run_check(lambda c: c(), lambda: None))"
    result, work = run_alone(tmp_path, bootstrap_cell(), script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        str(work / "exercises/__init__.py"),
        str(work / "pathgpt/__init__.py"),
        "passed",
    ]
    for package in ("exercises", "pathgpt"):
        fetched = sorted(p.name for p in (work / package).iterdir())
        assert fetched == sorted(p.name for p in (NOTEBOOKS / package).glob("*.py"))
    assert sorted(p.name for p in work.iterdir()) == ["exercises", "pathgpt"]


def test_the_bootstrap_without_pathgpt_fetches_only_exercises(tmp_path: Path) -> None:
    result, work = run_alone(tmp_path, bootstrap_cell(pathgpt=False), "print(exercises.__file__)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(work / "exercises/__init__.py")]
    assert sorted(p.name for p in work.iterdir()) == ["exercises"]
