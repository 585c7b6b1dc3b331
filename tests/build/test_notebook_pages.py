"""Notebook pages: an executed .ipynb as Markdown with highlighted code, inert outputs and figures as files."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from pathlib import Path

import markdown
import pytest

from llm_path.build import notebook_pages
from llm_path.build.notebook_pages import NotebookPages, notebook_page, slim_highlighting


def png(width: int, height: int) -> bytes:
    """A real (blank) PNG of the given size."""
    raw = b"".join(b"\x00" + b"\xff" * width * 3 for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def executed(tmp_path: Path, name: str = "dots", outputs: list[dict] | None = None) -> Path:
    figure = base64.b64encode(png(40, 20)).decode()
    cells = [
        {
            "cell_type": "markdown",
            "source": "# Dot products\n\nThe $a \\cdot b$ of two vectors.",
            "metadata": {},
        },
        {
            "cell_type": "code",
            "source": "import numpy as np  # a comment\nprint(np.dot([1, 2], [3, 4]))",
            "metadata": {},
            "execution_count": 1,
            "outputs": outputs
            if outputs is not None
            else [
                {"output_type": "stream", "name": "stdout", "text": ["11\n", "\x1b[31m<b>done</b>\x1b[0m\n"]},
                {
                    "output_type": "display_data",
                    "data": {"image/png": figure, "text/plain": "<Figure>"},
                    "metadata": {"image/png": {"width": 20, "height": 10}},
                },
                {
                    "output_type": "execute_result",
                    "data": {
                        "text/html": '<table onclick="x()"><tr><td>1</td></tr></table><script>alert(1)</script>'
                    },
                    "metadata": {},
                    "execution_count": 1,
                },
            ],
        },
        {
            "cell_type": "markdown",
            "source": "## Try it\n\n<details><summary>Solution</summary>\n\n*yes*\n</details>",
            "metadata": {},
        },
    ]
    path = tmp_path / f"{name}.ipynb"
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def render(page_markdown: str) -> str:
    body = page_markdown.split("---\n", 2)[2]
    return markdown.markdown(
        body,
        extensions=["md_in_html", "pymdownx.arithmatex"],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )


def test_prose_stays_markdown_and_code_and_outputs_are_inert_html(tmp_path: Path) -> None:
    """Markdown cells keep their Markdown; code is highlighted; text outputs escaped; HTML outputs sanitised."""
    page = notebook_page(executed(tmp_path), "Dot products", "<div class=bar>bar</div>")
    assert page.markdown.startswith(
        '---\ntitle: "Dot products"\n---\n\n# Dot products\n\n<div class=bar>bar</div>\n'
    )
    assert "The $a \\cdot b$ of two vectors." in page.markdown
    assert (
        '<div class="lp-code highlight" data-search-exclude><pre tabindex="0"><span class=k>import</span>'
        in page.markdown
    )
    assert "&lt;b&gt;done&lt;/b&gt;" in page.markdown and "\x1b" not in page.markdown
    assert "<table><tbody><tr><td>1</td></tr></tbody></table>" in page.markdown
    assert "onclick" not in page.markdown and "<script" not in page.markdown
    assert '<details markdown="1">' in page.markdown
    html = render(page.markdown)
    assert "<em>yes</em>" in html, "the solution's Markdown is rendered"
    assert 'class="arithmatex"' in html


def test_figures_become_files_with_their_display_size(tmp_path: Path) -> None:
    """A retina figure keeps the size its output's metadata gives; the .ipynb is offered beside the page."""
    page = notebook_page(executed(tmp_path), "Dot products", "")
    [figure] = [name for name in page.files if name.startswith("figure-")]
    assert page.files[figure].startswith(b"\x89PNG")
    assert (
        f'<img src="{figure}" alt="Figure 1 produced by the notebook" width="20" height="10"' in page.markdown
    )
    assert "base64" not in page.markdown
    assert json.loads(page.files["dots.ipynb"])["cells"]


def test_highlighting_keeps_colours_in_fewer_spans() -> None:
    """Tokens without a colour of their own lose their span; neighbours of one colour share one."""
    source = '<span class="k">def</span><span class="w"> </span><span class="nf">f</span><span class="p">():</span>'
    assert slim_highlighting(source) == "<span class=k>def</span> <span class=nf>f</span>():"


def test_a_converted_page_is_reused_until_its_notebook_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second build reads the page from the cache; a new output makes a new page and evicts the old one."""
    pages = NotebookPages(tmp_path / "cache")
    notebook = executed(tmp_path)
    first = pages.page(notebook, "Dot products", "bar")
    calls: list[Path] = []
    monkeypatch.setattr(notebook_pages, "notebook_page", lambda *args: calls.append(args[0]) or first)
    assert pages.page(notebook, "Dot products", "bar") == first and calls == []
    monkeypatch.undo()
    executed(tmp_path, outputs=[{"output_type": "stream", "name": "stdout", "text": "12\n"}])
    second = NotebookPages(tmp_path / "cache").page(notebook, "Dot products", "bar")
    assert "12" in second.markdown and second != first
    assert len(list((tmp_path / "cache").iterdir())) == 1


def test_pages_whose_names_share_a_prefix_keep_their_entries(tmp_path: Path) -> None:
    """Storing 'dot' evicts nothing of 'dot-products'."""
    pages = NotebookPages(tmp_path / "cache")
    pages.page(executed(tmp_path, "dot-products"), "A", "")
    pages.page(executed(tmp_path, "dot"), "B", "")
    assert sorted(p.name.rsplit("-", 1)[0] for p in (tmp_path / "cache").iterdir()) == ["dot", "dot-products"]


def test_a_killed_write_in_an_entry_is_not_taken_for_a_file(tmp_path: Path) -> None:
    """A temporary file left in an entry (a write killed halfway) stays out of the page's files."""
    pages = NotebookPages(tmp_path / "cache")
    first = pages.page(executed(tmp_path), "Dot products", "")
    [entry] = (tmp_path / "cache").iterdir()
    (entry / ".tmp-figure-9.png.x1").write_bytes(b"half")
    assert pages.page(executed(tmp_path), "Dot products", "").files == first.files
