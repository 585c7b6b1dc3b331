"""LaTeX becomes MathML by one rule, in curriculum prose and in notebook HTML alike."""

from __future__ import annotations

import html
import re

import pytest

from llm_path.build.maths import render_dollars, to_mathml
from llm_path.build.prose import prose_html

MATHS_TEXT = [
    "the relative error $\\lVert g - \\hat g \\rVert / (\\lVert g \\rVert +\n\\lVert \\hat g \\rVert)$ is small",
    "mix them, $P(c) = \\lambda_1 P_1(c) + \\lambda_2\n  P_2(c)$ with weights",
    "inline $a_i$ and display $$\\sum_i a_i$$ together",
]


def _maths(page: str) -> list[str]:
    """The MathML in `page`, its characters decoded (prose writes some as references)."""
    return [html.unescape(m) for m in re.findall(r"<math\b.*?</math>", page, re.DOTALL)]


@pytest.mark.parametrize("text", MATHS_TEXT)
def test_notebook_and_prose_maths_follow_the_same_rule(text: str) -> None:
    """A formula broken over one line is maths in a notebook cell exactly as it is in curriculum prose."""
    notebook = render_dollars(f"<p>{text}</p>")
    assert "$" not in notebook
    assert _maths(notebook) == _maths(str(prose_html(text)))


def test_a_blank_line_ends_inline_maths() -> None:
    """Two paragraphs' dollar signs are not one formula."""
    assert render_dollars("<p>costs $5\n\nor 6$</p>") == "<p>costs $5\n\nor 6$</p>"
    assert render_dollars("<p>a $b</p>\n<p>c$ d</p>") == "<p>a $b</p>\n<p>c$ d</p>"


def test_dollar_amounts_and_code_stay_text() -> None:
    """'$5 and $10' is money, and a dollar sign in code is code."""
    text = "<p>from $5 and $10, see <code>echo $HOME $PATH</code></p>"
    assert render_dollars(text) == text


def test_aligned_equations_show_no_ampersands() -> None:
    """`aligned` is drawn as a table of right- and left-aligned cells, without its `&` signs showing."""
    mathml = to_mathml("\\begin{aligned} a &= b && \\text{first}\\\\ c &= d \\end{aligned}", display=True)
    assert "<mtable" in mathml and "&amp;" not in mathml and "<mi>&" not in mathml
    assert mathml.count("<mtr>") == 2


def test_display_maths_can_be_scrolled_by_keyboard() -> None:
    """Display maths scrolls inside its own box on a phone, so it takes keyboard focus; inline maths does not."""
    assert to_mathml("x^2", display=True).startswith('<math display="block" tabindex="0">')
    assert 'tabindex="0"' in str(prose_html("see $$x^2$$"))
    assert "tabindex" not in to_mathml("x^2", display=False)
