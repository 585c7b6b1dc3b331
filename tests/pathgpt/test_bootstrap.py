"""Every notebook that imports pathgpt starts with the same cell, which fetches the package when run alone."""

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

README = NOTEBOOKS / "pathgpt" / "README.md"


def bootstrap_cell() -> str:
    """The cell as the package's README gives it, between its markers."""
    text = README.read_text(encoding="utf-8")
    block = text.split("<!-- bootstrap:start -->", 1)[1].split("<!-- bootstrap:end -->", 1)[0]
    return re.search(r"```python\n(.*?)```", block, re.DOTALL).group(1).strip()  # type: ignore[union-attr]


def importing_notebooks() -> list[str]:
    return sorted(
        path.name
        for path in NOTEBOOKS.glob("*.py")
        if re.search(r"^\s*(import pathgpt|from pathgpt\b)", path.read_text(encoding="utf-8"), re.MULTILINE)
    )


def notebooks_without_exercises() -> list[str]:
    """Those that import pathgpt alone; a notebook with exercises fetches both packages in one cell
    (notebooks/exercises/README.md, checked by tests/exercises/test_bootstrap.py)."""
    return [
        name
        for name in importing_notebooks()
        if not re.search(
            r"^\s*(import exercises|from exercises\b)", (NOTEBOOKS / name).read_text(), re.MULTILINE
        )
    ]


def test_the_transformer_and_language_modelling_notebooks_import_pathgpt() -> None:
    assert {"transformer.py", "language-modeling.py"} <= set(importing_notebooks())


@pytest.mark.parametrize("name", notebooks_without_exercises())
def test_first_code_cell_is_the_bootstrap(name: str) -> None:
    """Verbatim, so that one fix to the cell is one fix everywhere."""
    notebook = jupytext.read(NOTEBOOKS / name, fmt="py:percent")
    first = next(cell for cell in notebook.cells if cell.cell_type == "code")
    assert first.source.strip() == bootstrap_cell()


def test_the_bootstrap_is_valid_python_and_imports_from_the_repository() -> None:
    cell = bootstrap_cell()
    compile(cell, "bootstrap", "exec")
    assert "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip" in cell
    assert cell.splitlines()[1:3] == ["try:", "    import pathgpt"]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_the_bootstrap_fetches_a_working_package(tmp_path: Path) -> None:
    """Run alone in an empty folder, the cell downloads the archive (here from a loopback server), unpacks
    the package and imports it; the unpacked copy is the one imported and has every module."""
    archive = tmp_path / "main.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for path in sorted((NOTEBOOKS / "pathgpt").iterdir()):
            if path.is_file():
                zipped.write(path, f"llm-path-main/notebooks/pathgpt/{path.name}")
        zipped.writestr("llm-path-main/notebooks/transformer.py", "# not part of the package\n")
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/main.zip"
        cell = bootstrap_cell().replace(
            "https://github.com/llm-path/llm-path/archive/refs/heads/main.zip", url
        )
        script = cell + "\nprint(pathgpt.__file__, pathgpt.GPTConfig.modern(10).positions)\n"
        work = tmp_path / "alone"
        work.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        result = subprocess.run(
            [sys.executable, "-c", script],
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
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(work / "pathgpt" / "__init__.py"), "rope"]
    assert sorted(p.name for p in (work / "pathgpt").iterdir() if p.suffix == ".py") == sorted(
        p.name for p in (NOTEBOOKS / "pathgpt").glob("*.py")
    )
