"""The cache: what re-runs a notebook and what does not, eviction, and what a killed write leaves."""

from __future__ import annotations

import os
import time
from pathlib import Path

import jupytext
import nbformat
import pytest

from llm_path.notebooks import NotebookRunner
from llm_path.notebooks.cache import NotebookCache

from .sources import notebook, temporary_files


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


def test_eviction_leaves_notebooks_whose_names_share_a_prefix(tmp_path: Path) -> None:
    """Storing a new 'dot' evicts the old 'dot' entries only, never 'dot-products'."""
    cache = NotebookCache(tmp_path)
    cache.store("dot-products", "a" * 20, "{}")
    cache.store("dot", "b" * 20, "{}")
    cache.store("dot", "c" * 20, "{}")
    cache.evict("dot", "c" * 20)
    assert sorted(p.name for p in (tmp_path / "store").iterdir()) == [
        f"dot-{'c' * 20}.ipynb",
        f"dot-products-{'a' * 20}.ipynb",
    ]


def test_temporary_files_of_a_killed_write_are_ignored_then_swept(tmp_path: Path) -> None:
    """A killed write's temporary files beside the entries never count as entries, and the next run removes them."""
    notebook(tmp_path / "src", "one", "print('out')")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    runner.run(["one"])
    cache = tmp_path / "cache"
    [stored] = (cache / "store").glob("one-*.ipynb")
    left = [
        cache / "store" / f".{stored.name}.k1ll3d.tmp",
        cache / "store" / f".one-{'0' * 20}.ipynb.k1ll3d.tmp",
        cache / "view/notebooks/.one.ipynb.k1ll3d.tmp",
        cache / "stamps/.one.txt.k1ll3d.tmp",
        cache / "stamps/.tmp-one.txt.k1ll3d",
    ]
    for path in left:
        path.write_text("half a notebook")
    fresh = cache / "store/.one.ipynb.r1ght.tmp"  # a write in progress in another run
    fresh.write_text("half")
    old = time.time() - 3600
    for path in left:
        os.utime(path, (old, old))
    assert [r.status for r in runner.run(["one"])] == ["cached"]
    assert temporary_files(cache) == [fresh.name]
    assert [p.name for p in (cache / "store").glob("one-*.ipynb")] == [stored.name]


def test_a_view_left_without_its_stamp_is_laid_out_again_without_executing(tmp_path: Path) -> None:
    """A kill between writing a view and its stamp leaves a view nobody vouches for: the next run rebuilds it from the store."""
    notebook(tmp_path / "src", "one", "print('out')")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    runner.run(["one"])
    (tmp_path / "cache/stamps/one.txt").unlink()
    result = runner.run(["one"])[0]
    assert result.status == "cached"
    assert (tmp_path / "cache/stamps/one.txt").is_file()
