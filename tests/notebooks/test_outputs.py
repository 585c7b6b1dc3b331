"""The cap on what one output keeps: counted as messages arrive, cut in the kernel, noted where it was cut."""

from __future__ import annotations

from pathlib import Path

import nbformat

from llm_path.notebooks import NotebookRunner
from llm_path.notebooks.outputs import OutputCap

from .sources import notebook

NOTE_100_MB = "[output truncated: 100.0 MB printed, first 1.0 MB kept]"


def test_a_stream_keeps_its_first_part_and_notes_the_rest() -> None:
    """Messages past the limit are dropped, counted, and the note goes after the last kept part."""
    cap = OutputCap(limit=10)
    kept = [cap.stream(0, "stdout", "abcdef\n") for _ in range(3)]
    assert kept == ["abcdef\n", "abc", ""]
    outputs = [{"output_type": "stream", "name": "stdout", "text": part} for part in kept[:2]]
    cap.annotate(0, outputs)
    assert outputs[1]["text"] == "abc\n[output truncated: 21 bytes printed, first 10 bytes kept]\n"
    cap.forget(0)
    assert cap.stream(0, "stdout", "again\n") == "again\n", "cleared output starts from nothing"


def test_a_representation_over_the_limit_is_cut_or_left_out_with_a_note() -> None:
    """Plain text keeps its head; HTML and images, broken by cutting, are left out; text/plain says so."""
    cap = OutputCap(limit=1_000_000)
    big = {"text/plain": "p" * 3_000_000, "text/html": "<b>" * 1_000_000, "image/png": "iVBO"}
    capped = cap.bundle(big)
    assert set(capped) == {"text/plain", "image/png"}
    assert capped["text/plain"].startswith("p" * 1_000_000 + "\n")
    assert capped["text/plain"].endswith(
        "[output truncated: 3.0 MB of text, first 1.0 MB kept]\n"
        "[output truncated: text/html of 3.0 MB left out, over the 1.0 MB limit]"
    )
    small = {"text/plain": "<Figure>", "image/png": "iVBO"}
    assert cap.bundle(small) == small


def test_a_traceback_over_the_limit_is_cut() -> None:
    cap = OutputCap(limit=100)
    capped = cap.error({"ename": "ValueError", "evalue": "v" * 500, "traceback": ["t" * 60, "u" * 60, "w"]})
    assert capped["evalue"] == "v" * 100
    assert capped["traceback"] == ["t" * 60, "u" * 40 + "\n[traceback truncated at 100 bytes]"]


def test_printing_100_mb_stores_1_mb_with_a_note_in_bounded_memory(tmp_path: Path) -> None:
    """A runaway loop and one huge print: the stored notebook keeps about 1 MB of each, and the worker never holds 100 MB."""
    notebook(
        tmp_path / "src",
        "loud",
        "for i in range(100_000):\n    print('x' * 999)",
        "print('y' * 100_000_000)",
        "print('after')",
    )
    result = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1).run(["loud"])[0]
    assert result.status == "executed", result.failure
    [stored] = (tmp_path / "cache/store").glob("loud-*.ipynb")
    assert stored.stat().st_size < 2_200_000
    view = nbformat.read(result.view, as_version=4)
    loop, single, after = ("".join(o["text"] for o in view.cells[i].outputs) for i in (1, 3, 5))
    assert loop.startswith("x" * 999 + "\n") and loop.endswith("\n" + NOTE_100_MB + "\n")
    assert 1_000_000 <= len(loop) < 1_001_000
    assert single.startswith("y" * 1000) and single.endswith("y\n" + NOTE_100_MB + "\n")
    assert after == "after\n", "the next cell prints in full"
    assert result.peak_memory is not None and result.peak_memory < 200_000_000  # 478 MB before the cap


def test_rich_output_over_the_limit_is_left_out_of_the_stored_notebook(tmp_path: Path) -> None:
    """An HTML display and a long result, each past a small limit, are stored as text within it and a note."""
    cells = (
        "from IPython.display import HTML, display\ndisplay(HTML('<b>bold</b>' * 1000))",
        "'z' * 5000",
    )
    notebook(tmp_path / "src", "rich", *cells)
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1, output_limit=2000)
    result = runner.run(["rich"])[0]
    view = nbformat.read(result.view, as_version=4)
    [display] = view.cells[1].outputs
    assert "text/html" not in display["data"]
    assert display["data"]["text/plain"].endswith(
        "[output truncated: text/html of 11.0 KB left out, over the 2.0 KB limit]"
    )
    [value] = view.cells[3].outputs
    assert (
        value["data"]["text/plain"]
        == "'" + "z" * 1999 + "\n[output truncated: 5.0 KB of text, first 2.0 KB kept]"
    )
