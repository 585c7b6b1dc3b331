"""The per-page step every engine runs: MathML, also in tables of contents, and glossary tips, never in headings."""

from __future__ import annotations

import markdown

from llm_path.build.page_extension import LlmPathExtension

TIPS = [{"slug": "softmax", "names": ["Softmax"], "definition_html": "Turns scores into probabilities."}]


def convert(text: str) -> tuple[str, list[dict]]:
    md = markdown.Markdown(
        extensions=[
            "toc",
            "md_in_html",
            "attr_list",
            "pymdownx.arithmatex",
            LlmPathExtension(tips=TIPS, glossary="/g/"),
        ],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )
    return md.convert(text), md.toc_tokens


def test_a_heading_keeps_its_id_and_its_toc_entry_holds_no_tip() -> None:
    """Python-Markdown runs postprocessors over each heading for the toc; tips must not leak into ids or names."""
    html, toc = convert("## Softmax $x$ and `c`\n\nThe softmax of scores.\n")
    assert toc[0]["id"] == "softmax-x-and-c"
    assert (
        toc[0]["name"] == 'Softmax <math display="inline"><mrow><mi>x</mi></mrow></math> and <code>c</code>'
    )
    assert html.count('class="lp-term"') == 1 and 'href="/g/#softmax"' in html
    assert "<h2" in html and "lp-tip" not in html.split("</h2>")[0]


def test_no_tips_inside_a_marked_element() -> None:
    """The glossary page wraps its entries in data-no-tips: they link nowhere."""
    html, _ = convert("<div data-no-tips markdown>\n\nSoftmax here.\n\n</div>\n\nSoftmax there.\n")
    inside, outside = html.split("</div>")
    assert "lp-term" not in inside and outside.count('class="lp-term"') == 1
