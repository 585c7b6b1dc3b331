"""Prose and titles as HTML that no later Markdown pass can turn into markup."""

from __future__ import annotations

import markdown

from llm_path.build.prose import plain_markup, prose_html, prose_text


def through_markdown(html: str) -> str:
    """What a page's own Markdown (with the extensions our pages use) makes of the fragment."""
    return markdown.markdown(html, extensions=["attr_list", "tables", "def_list", "pymdownx.arithmatex"])


def test_prose_keeps_its_subset_and_nothing_else() -> None:
    html = prose_html("*em* **strong** `<b>` [link](https://example.org/) $x^2$")
    assert "<em>em</em>" in html and "<strong>strong</strong>" in html
    assert "<code>&lt;b&gt;</code>" in html
    assert '<a href="https://example.org/" rel="noopener">link</a>' in html
    assert "<math" in html and "$" not in html


def test_what_a_page_does_to_prose_changes_nothing() -> None:
    """Characters Markdown acts on are written as references: a second pass finds no syntax."""
    for text in (
        "- not a list",
        "1. not a list",
        "| not | a table |",
        "a_b_c and _x_ and \\*y\\*",
        "# not a heading",
    ):
        html = prose_html(text)
        again = through_markdown(html)
        for tag in ("<li", "<table", "<h1"):
            assert tag not in again, (text, again)


def test_titles_are_escaped_for_markdown_and_html() -> None:
    html = plain_markup("</title><script>*x*{: onclick=y }</script>")
    assert "<" not in html.replace("&lt;", "") and "*" not in html and "{" not in html
    assert "<script" not in through_markdown(str(html))


def test_prose_as_plain_text_keeps_maths_source() -> None:
    assert prose_text("Compute $\\log \\sum_i e^{x_i}$ *stably* with `np.max`.") == (
        "Compute \\log \\sum_i e^{x_i} stably with np.max."
    )
