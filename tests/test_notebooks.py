"""The notebook pipeline: execution, the cache, failures with their cell, and the notebook pages."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import BIN, FIXTURES, build_site, mkdocs_build, site_config

from llm_path.notebooks import NotebookRunner

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n#     name: python3\n# ---\n"


def notebook(folder: Path, name: str, *cells: str) -> Path:
    """Write a jupytext percent notebook made of the given code cells, each after a short Markdown cell."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"\n# %% [markdown]\n# Step {i}.\n\n# %%\n{code}\n" for i, code in enumerate(cells, start=1)
    )
    path = folder / f"{name}.py"
    path.write_text(HEADER + body)
    return path


def test_executes_then_reuses_the_cache(tmp_path: Path) -> None:
    """A first run executes and stores outputs; a second run executes nothing."""
    notebook(tmp_path / "src", "one", "x = 6 * 7\nprint(x)")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    first = runner.run(["one"])
    assert [r.status for r in first] == ["executed"]
    view = nbformat.read(first[0].view, as_version=4)
    assert view.cells[1].outputs[0]["text"] == "42\n"
    assert [r.status for r in runner.run(["one"])] == ["cached"]


def test_prose_edit_reruns_nothing_and_shows_the_new_prose(tmp_path: Path) -> None:
    """Editing a Markdown cell keeps the cached outputs but the view shows the edited text."""
    source = notebook(tmp_path / "src", "one", "print('out')")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    runner.run(["one"])
    source.write_text(source.read_text().replace("# Step 1.", "# A better explanation."))
    result = runner.run(["one"])[0]
    assert result.status == "cached"
    view = nbformat.read(result.view, as_version=4)
    assert view.cells[0].source == "A better explanation."
    assert view.cells[1].outputs[0]["text"] == "out\n"


def test_unchanged_notebook_is_not_parsed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A warm run recognises an unchanged source by its stamp and never hands it to jupytext."""
    notebook(tmp_path / "src", "one", "print('out')")
    NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1).run(["one"])

    def must_not_parse(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged notebook was parsed again")

    monkeypatch.setattr(jupytext, "reads", must_not_parse)
    result = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1).run(["one"])[0]
    assert result.status == "cached"
    assert nbformat.read(result.view, as_version=4).cells[1].outputs[0]["text"] == "out\n"


def test_new_environment_or_lost_outputs_execute_again(tmp_path: Path) -> None:
    """The stamp is only trusted for the same environment and while the executed outputs are still stored."""
    notebook(tmp_path / "src", "one", "print('out')")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    runner.run(["one"])
    runner.fingerprint = {**runner.fingerprint, "numpy": "0.0-another"}
    assert [r.status for r in runner.run(["one"])] == ["executed"]
    for stored in (tmp_path / "cache/store").glob("one-*.ipynb"):
        stored.unlink()
    assert [r.status for r in runner.run(["one"])] == ["executed"]


def test_code_edit_reruns_only_that_notebook(tmp_path: Path) -> None:
    """Changing one notebook's code executes it again and leaves the other cached."""
    notebook(tmp_path / "src", "one", "print(1)")
    two = notebook(tmp_path / "src", "two", "print(2)")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=2)
    runner.run(["one", "two"])
    two.write_text(two.read_text().replace("print(2)", "print(22)"))
    results = runner.run(["one", "two"])
    assert [r.status for r in results] == ["cached", "executed"]
    assert nbformat.read(results[1].view, as_version=4).cells[1].outputs[0]["text"] == "22\n"
    assert len(list((tmp_path / "cache/store").glob("two-*.ipynb"))) == 1, "the stale entry is evicted"


def test_failure_names_notebook_cell_line_and_command(tmp_path: Path) -> None:
    """A failing assert reports the notebook, the code cell, its source line, the error and how to re-run it."""
    notebook(tmp_path / "src", "bad", "x = 1", "assert x == 2, 'x should be two'")
    os.chdir(tmp_path)
    result = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1).run(["bad"])[0]
    assert result.status == "failed"
    assert (
        str(result.failure)
        == "src/bad.py:18: cell 2 failed: AssertionError: x should be two; run it alone with: llm-path notebooks bad"
    )
    assert list((tmp_path / "cache").rglob("*.ipynb")) == [], "nothing is cached for a failed run"


def test_cell_time_limit(tmp_path: Path) -> None:
    """A cell running past the limit fails the same way, naming the limit."""
    notebook(tmp_path / "src", "slow", "import time\ntime.sleep(60)")
    os.chdir(tmp_path)
    result = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1, timeout=2).run(["slow"])[0]
    assert (
        str(result.failure)
        == "src/slow.py:12: cell 1 failed: ran longer than the 2 s cell limit; run it alone with: llm-path notebooks slow"
    )


def test_interrupted_run_leaves_a_valid_cache(tmp_path: Path) -> None:
    """Ctrl-C during execution keeps what finished, writes no partial file, and a re-run completes."""
    notebook(tmp_path / "src", "quick", "print('done')")
    notebook(tmp_path / "src", "slow", "import time\ntime.sleep(30)")
    cache = tmp_path / "cache"
    NotebookRunner(tmp_path / "src", cache, jobs=1).run(["quick"])
    command = [str(BIN / "llm-path"), "notebooks", "--source", "src", "--cache", "cache", "slow"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not any(cache.glob("view/notebooks/quick.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(5)  # the slow notebook's kernel is running its sleep by now
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0
    assert [p.name for p in cache.rglob("*.tmp")] == []
    stored = sorted(p.name.split("-")[0] for p in (cache / "store").glob("*.ipynb"))
    assert stored == ["quick"]
    for path in cache.rglob("*.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))
    assert [r.status for r in NotebookRunner(tmp_path / "src", cache, jobs=1).run(["quick"])] == ["cached"]


def test_site_shows_executed_notebook_with_outputs_and_figure(tmp_path: Path, curriculum: Path) -> None:
    """The notebook page holds code, printed output, maths as MathML and the figure as a file; the topic links it."""
    site = build_site(tmp_path, curriculum)
    page = (site / "notebooks/linear-algebra/index.html").read_text()
    assert "a . b =" in page and "32.0" in page
    assert "<math" in page and "$a" not in page
    toc = page.split('data-md-component="toc"', 1)[1].split("</nav>", 1)[0]
    assert "The components of <math" in toc, "maths in a heading is drawn in the table of contents too"
    figures = list((site / "notebooks/linear-algebra").glob("figure-*.png"))
    assert len(figures) == 1 and figures[0].read_bytes().startswith(b"\x89PNG")
    assert f'src="{figures[0].name}"' in page and "base64" not in page
    assert "<style" not in page.split("<article", 1)[1], "no inlined JupyterLab CSS"
    assert "cdnjs" not in page and "mathjax" not in page.lower()
    assert (site / "notebooks/linear-algebra/linear-algebra.ipynb").is_file(), "the .ipynb is downloadable"
    topic = (site / "topics/linear-algebra/index.html").read_text()
    assert 'href="../../notebooks/linear-algebra/"' in topic
    assert 'href="../../notebooks/linear-algebra/linear-algebra.ipynb"' in topic
    assert "https://colab.research.google.com/github/" in topic


def test_failing_notebook_fails_the_build(tmp_path: Path, curriculum: Path) -> None:
    """A notebook whose assert fails stops the build with the located message, no traceback."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURES / "notebooks", notebooks)
    source = notebooks / "linear-algebra.py"
    source.write_text(source.read_text().replace("assert dot == 32.0", "assert dot == 33.0, 'wrong dot'"))
    result = mkdocs_build(site_config(tmp_path, curriculum, notebooks), tmp_path / "site")
    assert result.returncode != 0
    assert (
        "notebooks/linear-algebra.py:14: cell 1 failed: AssertionError: wrong dot; run it alone with: llm-path notebooks linear-algebra"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_warm_and_notebook_free_builds_keep_the_converted_pages(tmp_path: Path, curriculum: Path) -> None:
    """A warm build shows the same notebook page from the caches; a build without notebooks evicts none of them."""
    site = build_site(tmp_path, curriculum)
    page = (site / "notebooks/linear-algebra/index.html").read_text()
    converted = sorted((tmp_path / ".cache/mkdocs-jupyter").glob("*.json"))
    slimmed = sorted((tmp_path / ".cache/notebooks/pages").iterdir())
    assert len(converted) == 1 and len(slimmed) == 1
    shutil.rmtree(site)
    assert build_site(tmp_path, curriculum) == site
    assert (site / "notebooks/linear-algebra/index.html").read_text() == page
    assert len(list((site / "notebooks/linear-algebra").glob("figure-*.png"))) == 1
    off = mkdocs_build(
        site_config(tmp_path, curriculum), tmp_path / "site-off", {"LLM_PATH_NOTEBOOKS": "false"}
    )
    assert off.returncode == 0, off.stderr
    assert not (tmp_path / "site-off/notebooks").exists()
    assert sorted((tmp_path / ".cache/mkdocs-jupyter").glob("*.json")) == converted
    assert sorted((tmp_path / ".cache/notebooks/pages").iterdir()) == slimmed
