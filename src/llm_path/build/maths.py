"""Render LaTeX maths to MathML at build time, so pages need no maths JavaScript or fonts.

Browsers display MathML natively. Arithmatex (generic mode) wraps maths as
`\\(...\\)` and `\\[...\\]` in spans and divs; notebook Markdown cells keep
`$...$` and `$$...$$`. Both become `<math>` elements here.
"""

from __future__ import annotations

import html
import re

from latex2mathml.converter import convert

from llm_path.build.sanitise import clean

MATHML_TAGS = {
    "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "mfrac", "msqrt",
    "mroot", "mstyle", "merror", "mpadded", "mphantom", "mfenced", "menclose", "msub", "msup", "msubsup",
    "munder", "mover", "munderover", "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd", "mlabeledtr",
}  # fmt: skip
MATHML_ATTRIBUTES = {
    "display", "displaystyle", "mathvariant", "mathsize", "mathcolor", "stretchy", "fence", "separator",
    "separators", "lspace", "rspace", "accent", "accentunder", "movablelimits", "largeop", "symmetric",
    "minsize", "maxsize", "form", "linethickness", "columnalign", "columnlines", "columnspacing", "rowalign",
    "rowlines", "rowspacing", "frame", "framespacing", "equalrows", "equalcolumns", "width", "height",
    "depth", "voffset", "scriptlevel", "open", "close", "notation", "align", "encoding",
}  # fmt: skip
"""What MathML may keep: typesetting only; no link (href), style, class, id or event handler."""

ARITHMATEX = re.compile(
    r'<(?P<tag>span|div) class="arithmatex">\s*(?:\\\((?P<inline>.*?)\\\)|\\\[(?P<block>.*?)\\\])\s*</(?P=tag)>',
    re.DOTALL,
)


def to_mathml(latex: str, *, display: bool) -> str:
    """One LaTeX formula as MathML; an unparseable formula stays visible as code instead of failing the build."""
    try:
        mathml = convert(latex.strip(), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many exception types for bad input
        return f'<code class="lp-maths-error">{html.escape(latex)}</code>'
    return clean_mathml(mathml)


def clean_mathml(mathml: str) -> str:
    """MathML with only typesetting elements and attributes: whatever the LaTeX said, it cannot link or style."""
    return clean(mathml, MATHML_TAGS, {tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS})


def render_arithmatex(page_html: str) -> str:
    """Replace arithmatex's wrapped LaTeX with MathML."""

    def replace(match: re.Match[str]) -> str:
        block = match.group("block")
        latex = html.unescape(block if block is not None else match.group("inline"))
        return to_mathml(latex, display=block is not None)

    return ARITHMATEX.sub(replace, page_html)


DOLLARS = re.compile(
    r"(?<![\\$])\$\$(?P<block>.+?)\$\$|(?<![\\$\w])\$(?P<inline>[^$\n]+?)\$(?!\w)", re.DOTALL
)


def render_dollars(text_html: str) -> str:
    """Replace $...$ and $$...$$ in already-rendered HTML text (notebook Markdown cells)."""

    def replace(match: re.Match[str]) -> str:
        block = match.group("block")
        latex = html.unescape(block if block is not None else match.group("inline"))
        return to_mathml(latex, display=block is not None)

    return DOLLARS.sub(replace, text_html)
