"""Slimming a converted notebook page, and keeping the slimmed pages between builds."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from llm_path.build import notebook_pages as notebook_html
from llm_path.build.notebook_pages import SlimmedPages, slim_notebook_html

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def converted(text: str) -> str:
    """A page as mkdocs-jupyter hands it over: inlined CSS, a script, a Markdown cell and a base64 figure."""
    figure = base64.b64encode(PNG).decode()
    return (
        "<style>.jp-Cell { color: red }</style><script>MathJax.config = {}</script>"
        '<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput" data-mime-type="text/markdown">'
        f"<p>{text} with $x^2$</p></div>"
        f'<img src="data:image/png;base64,{figure}" class="">'
    )


def test_slimming_keeps_content_drops_weight_and_extracts_figures() -> None:
    html, figures = slim_notebook_html(converted("Dot products"), "figure-")
    assert "<style" not in html and "<script" not in html and "base64" not in html
    assert "Dot products with <math" in html and "$x" not in html
    [(name, data)] = figures.items()
    assert data == PNG and name.startswith("figure-1-") and name.endswith(".png")
    assert f'<img src="{name}" alt="Figure 1 produced by the notebook" width="1" height="1"' in html


def test_a_slimmed_page_is_reused_until_its_html_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = slim_notebook_html(converted("Dot products"), "figure-")
    assert SlimmedPages(tmp_path).slim("dot", converted("Dot products"), "figure-") == expected

    def must_not_slim(html: str, figure_prefix: str) -> tuple[str, dict[str, bytes]]:
        raise AssertionError("an unchanged page was slimmed again")

    monkeypatch.setattr(notebook_html, "slim_notebook_html", must_not_slim)
    assert SlimmedPages(tmp_path).slim("dot", converted("Dot products"), "figure-") == expected
    monkeypatch.undo()

    edited = SlimmedPages(tmp_path).slim("dot", converted("Inner products"), "figure-")
    assert "Inner products" in edited[0] and edited[1] == expected[1]
    assert len(list(tmp_path.glob("dot-*"))) == 1, "the page's old entry is evicted"


def test_a_killed_write_in_an_entry_is_not_taken_for_a_figure(tmp_path: Path) -> None:
    """The temporary file of a figure whose write was killed stays out of the page's figures."""
    expected = SlimmedPages(tmp_path).slim("dot", converted("Dot products"), "figure-")
    [entry] = tmp_path.glob("dot-*")
    (entry / ".figure-1-0123abcd.png.x7f3.tmp").write_bytes(b"half a figure")
    assert SlimmedPages(tmp_path).slim("dot", converted("Dot products"), "figure-") == expected


def test_storing_one_page_leaves_other_pages_alone(tmp_path: Path) -> None:
    """Pages whose names share a prefix ('dot', 'dot-products') keep their own entries."""
    pages = SlimmedPages(tmp_path)
    pages.slim("dot-products", converted("Products"), "figure-")
    pages.slim("dot", converted("Dot"), "figure-")
    pages.slim("dot", converted("Dot again"), "figure-")
    assert len(list(tmp_path.glob("dot-products-*"))) == 1
    assert len([p for p in tmp_path.iterdir() if not p.name.startswith("dot-products-")]) == 1


def test_a_change_to_the_slimming_code_invalidates_every_page(tmp_path: Path) -> None:
    SlimmedPages(tmp_path).slim("dot", converted("Dot"), "figure-")
    before = [p.name for p in tmp_path.iterdir()]
    changed = SlimmedPages(tmp_path)
    changed.code = "another version of the code"
    changed.slim("dot", converted("Dot"), "figure-")
    after = [p.name for p in tmp_path.iterdir()]
    assert len(before) == len(after) == 1 and before != after


def test_bare_wrappers_go_with_their_closing_tags() -> None:
    """Divs without attributes are dropped, nested or not; divs with a class or any attribute stay."""
    html = '<div>\n<div class="jp-Cell jp-MarkdownCell">\n<div>\n<div>\n<p>x</p>\n</div>\n</div>\n</div>\n</div>\n'
    assert (
        slim_notebook_html(html, "figure-")[0] == '<div class="jp-Cell jp-MarkdownCell">\n<p>x</p>\n</div>\n'
    )
    kept = "<div data-search-exclude>\n<p>y</p>\n</div>\n"
    assert slim_notebook_html(kept, "figure-")[0] == kept


def test_unbalanced_markup_keeps_its_wrappers() -> None:
    """When opening and closing tags do not pair up, guessing which to drop could break the page."""
    for html in ('<div>\n<div class="a">x</div>\n', '<div class="a">x</div>\n</div>\n<div>y'):
        assert slim_notebook_html(html, "figure-")[0] == html
