"""Remote text made inert: control characters gone for every output, Markdown escaped for the report."""

from __future__ import annotations

from llm_path.links.text import markdown_code, markdown_text, printable


def test_printable_drops_control_and_bidi_characters():
    """C0, C1, DEL and bidi controls go; line and tab breaks become spaces."""
    assert printable("a\u202eb\u2066c\x9b31md\x7fe\u2028f\tg\r\nh\x85i") == "abc31mde f g  h i"


def test_markdown_text_cannot_open_html_links_or_cells():
    """HTML, links, emphasis, code, maths and table pipes from remote text are shown as text."""
    hostile = "a | b](javascript:alert(1)) *c* _d_ `e` <!-- &amp; ~f~ $g$ \\h"
    assert markdown_text(hostile) == (
        "a \\| b\\](javascript:alert(1)) \\*c\\* \\_d\\_ \\`e\\` &lt;!-- &amp;amp; \\~f\\~ \\$g\\$ \\\\h"
    )


def test_markdown_code_holds_backticks_and_pipes():
    """A code span is fenced longer than any backtick run inside it, and its pipes escaped for tables."""
    assert markdown_code("a.yml:1:6") == "`a.yml:1:6`"
    assert markdown_code("x`y|z") == "``x`y\\|z``"
    assert markdown_code("`x") == "`` `x ``"
