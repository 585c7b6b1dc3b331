"""Local packages beside the notebooks: importable in kernels, part of their importers' keys, prepared once."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nbformat
from conftest import BIN

from llm_path.notebooks import NotebookRunner
from llm_path.notebooks.packages import LocalPackages, imported_names

from .sources import listing, notebook, package

PREPARE = """\
import os, pathlib, sys

if sys.argv[1:] == ["prepare"]:
    folder = pathlib.Path(os.environ["LLM_PATH_CACHE"])
    with open(folder / "prepared.txt", "a") as log:
        log.write(f"{os.environ['OMP_NUM_THREADS']} {os.getcwd()}\\n")
"""
IMPORTER = (
    "import os, pathlib\n"
    "from shared import VALUE\n"
    "prepared = pathlib.Path(os.environ['LLM_PATH_CACHE'], 'prepared.txt').read_text()\n"
    "print(VALUE, len(prepared.splitlines()))"
)


def shared_source(tmp_path: Path) -> Path:
    """A source folder with a local package `shared` (a constant and a prepare step), two importers and a notebook that imports nothing local."""
    source = tmp_path / "src"
    files = {
        "__init__.py": "from shared.constants import VALUE\n",
        "constants.py": "VALUE = 42\n",
        "__main__.py": PREPARE,
    }
    package(source, "shared", files)
    notebook(source, "uses", IMPORTER)
    notebook(
        source, "also", "import math", IMPORTER.replace("from shared import", "from shared.constants import")
    )
    notebook(source, "alone", "print('no local package')")
    return source


def printed(result: object) -> str:
    view = nbformat.read(result.view, as_version=4)  # type: ignore[attr-defined]
    return "".join(o.get("text", "") for cell in view.cells if cell.cell_type == "code" for o in cell.outputs)


def test_imported_names_reads_every_import_form() -> None:
    code = "import a, b.c as d\nfrom e.f import g\n    from h import (i)\nx = 'import no'\n# import comment\nfrom . import j\n"
    assert imported_names(code) == {"a", "b", "e", "h"}


def test_a_tool_cache_inside_a_package_is_not_part_of_its_hash(tmp_path: Path) -> None:
    """ruff keeps `.ruff_cache/` beside a package's own ruff.toml: linting must not re-execute its importers."""
    source = shared_source(tmp_path)
    before = LocalPackages(source).digests(["shared"])
    cache = source / "shared" / ".ruff_cache" / "0.17.6"
    cache.mkdir(parents=True)
    (cache / "2162902744252558628").write_bytes(b"lint results")
    assert LocalPackages(source).digests(["shared"]) == before
    (source / "shared" / "constants.py").write_text("VALUE = 43\n")
    assert LocalPackages(source).digests(["shared"]) != before


def test_imports_through_another_local_package_count(tmp_path: Path) -> None:
    """A notebook importing `outer`, which imports `inner`, depends on both; folders without __init__.py are not packages."""
    package(tmp_path, "outer", {"__init__.py": "from inner import X\n"})
    package(tmp_path, "inner", {"__init__.py": "X = 1\n", "data/table.csv": "a,b\n"})
    (tmp_path / "plain").mkdir()
    packages = LocalPackages(tmp_path)
    assert sorted(packages.folders) == ["inner", "outer"]
    assert packages.imported_by("import outer\nimport numpy\nimport plain") == ["inner", "outer"]


def test_kernels_import_local_packages_and_write_nothing_into_the_source_folder(tmp_path: Path) -> None:
    """The package imports from the source folder, prepare ran before with every core in the source folder, and no bytecode or scratch file lands there."""
    source = shared_source(tmp_path)
    before = listing(source)
    cache = tmp_path / "cache"
    [result] = NotebookRunner(source, cache, jobs=1).run(["uses"])
    assert result.status == "executed", result.failure
    assert printed(result) == "42 1\n"
    assert (cache / "artifacts/prepared.txt").read_text() == f"{os.cpu_count()} {source.resolve()}\n"
    assert listing(source) == before


def test_prepare_runs_once_before_stale_importers_and_only_then(tmp_path: Path) -> None:
    """Two stale importers: one prepare; nothing stale, or only a non-importer: none; the package edited: one more, and only its importers run."""
    source = shared_source(tmp_path)
    prepared = tmp_path / "cache/artifacts/prepared.txt"
    runner = NotebookRunner(source, tmp_path / "cache", jobs=2)
    names = ["uses", "also", "alone"]
    first = runner.run(names)
    assert [r.failure for r in first] == [None] * 3
    assert len(prepared.read_text().splitlines()) == 1
    assert [r.status for r in runner.run(names)] == ["cached"] * 3
    (source / "alone.py").write_text((source / "alone.py").read_text().replace("no local", "still no local"))
    assert [r.status for r in runner.run(names)] == ["cached", "cached", "executed"]
    assert len(prepared.read_text().splitlines()) == 1
    (source / "shared/constants.py").write_text("VALUE = 43\n")
    results = runner.run(names)
    assert [r.status for r in results] == ["executed", "executed", "cached"]
    assert len(prepared.read_text().splitlines()) == 2
    assert printed(results[0]) == "43 2\n"


def test_a_failing_prepare_is_one_located_line_and_its_importers_do_not_run(tmp_path: Path) -> None:
    """`llm-path notebooks` prints the prepare's last stderr line at the package's __main__.py, runs the others, and fails."""
    source = shared_source(tmp_path)
    (source / "shared/__main__.py").write_text(
        "import sys\nprint('working', file=sys.stderr)\nraise SystemExit('no corpus found in /data')\n"
    )
    command = [str(BIN / "llm-path"), "notebooks", "--source", "src", "--cache", "cache"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 1
    lines = run.stderr.splitlines()
    assert lines.count("src/shared/__main__.py:1: prepare failed: no corpus found in /data") == 1
    assert "Traceback" not in run.stderr
    assert lines[-1] == "3 notebooks: 1 executed, 0 cached, 2 failed"
    assert sorted(p.name for p in (tmp_path / "cache/view/notebooks").iterdir()) == ["alone.ipynb"]


def test_a_prepare_past_the_notebook_limit_is_stopped(tmp_path: Path) -> None:
    source = shared_source(tmp_path)
    (source / "shared/__main__.py").write_text("import time\ntime.sleep(60)\n")
    os.chdir(tmp_path)
    [result] = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1, notebook_timeout=3).run(["uses"])
    assert (
        str(result.failure)
        == "src/shared/__main__.py:1: prepare failed: ran longer than the 3 s notebook limit"
    )


def test_all_notebooks_means_the_scripts_not_the_package(tmp_path: Path) -> None:
    """With no names, `llm-path notebooks` runs the top-level scripts; the package folder and its modules are not notebooks."""
    source = shared_source(tmp_path)
    (source / "shared/helpers.py").write_text("def helper():\n    return 1\n")
    (source / ".#uses.py").write_text("an editor's lock file\n")
    command = [str(BIN / "llm-path"), "notebooks", "--source", "src", "--cache", "cache"]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines()[-1] == "3 notebooks: 3 executed, 0 cached, 0 failed"
    assert sorted(p.name for p in (tmp_path / "cache/view/notebooks").iterdir()) == [
        "alone.ipynb",
        "also.ipynb",
        "uses.ipynb",
    ]
