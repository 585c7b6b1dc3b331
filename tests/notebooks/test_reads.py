"""Declared data files: editing one re-executes the notebooks that read it, and only those."""

from __future__ import annotations

from pathlib import Path

import nbformat

from llm_path.notebooks import NotebookRunner
from llm_path.notebooks.reads import declared_reads, reads_digests

from .sources import notebook

READER = "# llm-path: reads ../data/*.txt\nprint('reads')"


def reading_cell(data: Path) -> str:
    """A notebook cell that declares ../data/*.txt and prints what those files hold (kernels run elsewhere)."""
    return (
        "# llm-path: reads ../data/*.txt\n"
        "import pathlib\n"
        f"print(sorted(p.read_text() for p in pathlib.Path({str(data)!r}).glob('*.txt')))"
    )


def test_declarations_are_found_with_their_lines() -> None:
    text = "# %%\nx = 1\n# llm-path: reads ../a/*.yml\n  #  llm-path:  reads  b.json  \nprint('# llm-path: reads c')\n"
    assert declared_reads(text) == [(3, "../a/*.yml"), (4, "b.json")]


def test_the_digest_follows_names_and_contents(tmp_path: Path) -> None:
    """Same files, same digest; a changed byte, a new file or a renamed file each change it."""
    data, source = tmp_path / "data", tmp_path / "src"
    data.mkdir()
    source.mkdir()
    (data / "a.txt").write_text("alpha")
    first = reads_digests(READER, source)
    assert list(first) == ["reads:../data/*.txt"]
    assert reads_digests(READER, source) == first
    (data / "a.txt").write_text("alphA")
    changed = reads_digests(READER, source)
    (data / "b.txt").write_text("")
    added = reads_digests(READER, source)
    (data / "b.txt").rename(data / "c.txt")
    renamed = reads_digests(READER, source)
    assert len({*first.values(), *changed.values(), *added.values(), *renamed.values()}) == 4


def test_editing_a_read_file_executes_its_readers_only(tmp_path: Path) -> None:
    """The reader runs again and shows the new data; a notebook that declares nothing stays cached."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "topics.txt").write_text("old")
    (data / "unread.md").write_text("x")
    notebook(tmp_path / "src", "reader", reading_cell(data))
    notebook(tmp_path / "src", "other", "print('independent')")
    runner = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1)
    assert [r.status for r in runner.run(["reader", "other"])] == ["executed", "executed"]
    assert [r.status for r in runner.run(["reader", "other"])] == ["cached", "cached"]

    (data / "unread.md").write_text("y")  # matched by no pattern
    assert [r.status for r in runner.run(["reader", "other"])] == ["cached", "cached"]

    (data / "topics.txt").write_text("new")
    reader, other = runner.run(["reader", "other"])
    assert (reader.status, other.status) == ("executed", "cached")
    assert nbformat.read(reader.view, as_version=4).cells[1].outputs[0]["text"] == "['new']\n"


def test_an_absolute_pattern_is_refused_with_its_line(tmp_path: Path) -> None:
    """A glob tied to one machine is a located failure, not a silent key over nothing."""
    source = notebook(tmp_path / "src", "pinned", "x = 1\n# llm-path: reads /etc/*.conf\nprint(x)")
    line = source.read_text().splitlines().index("# llm-path: reads /etc/*.conf") + 1
    (result,) = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=1).run(["pinned"])
    assert result.status == "failed"
    message = str(result.failure)
    assert message.startswith(f"{source}:{line}: ") or message.startswith(f"src/pinned.py:{line}: ")
    assert "'/etc/*.conf' is absolute; write the glob relative to the notebook's folder" in message
