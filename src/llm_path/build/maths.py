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
from llm_path.curriculum.text import MATHS

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
        mathml = convert(_supported(latex.strip()), display="block" if display else "inline")
    except Exception:  # latex2mathml raises many exception types for bad input
        return f'<code class="lp-maths-error">{html.escape(latex)}</code>'
    mathml = clean_mathml(mathml)
    if display:  # wider than a phone, it scrolls inside its own box (llm-path.css); a keyboard reaches it too
        mathml = mathml.replace('<math display="block"', '<math display="block" tabindex="0"', 1)
    return mathml


_ENVIRONMENTS = re.compile(r"\\(begin|end)\{aligned\}")
"""LaTeX environments latex2mathml does not know, and the one it draws the same way."""


def _supported(latex: str) -> str:
    """`aligned` (which latex2mathml prints with its `&` signs showing) as `align*`, a table it draws."""
    return _ENVIRONMENTS.sub(lambda m: f"\\{m.group(1)}{{align*}}", latex)


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


CODE_TAGS = ("code", "pre", "kbd", "samp", "script", "style", "math")
"""Elements whose text is never maths: a `$` in code is a dollar sign."""
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)|([^<]+)")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)")


def render_dollars(text_html: str) -> str:
    """Replace $...$ and $$...$$ in already-rendered HTML (notebook Markdown cells, headings).

    Maths is found by the curriculum's own rule (`curriculum.text.MATHS`), in each run of text
    between tags, outside code: a formula never spans two paragraphs, and `$HOME` in code stays.
    """

    def replace(match: re.Match[str]) -> str:
        block = match.group("block")
        latex = html.unescape(block if block is not None else match.group("inline"))
        return to_mathml(latex, display=block is not None)

    out: list[str] = []
    inside: list[str] = []
    for tag, text in _TAG_OR_TEXT.findall(text_html):
        if tag:
            name = _TAG_NAME.match(tag)
            if name and name.group(2).lower() in CODE_TAGS:
                if name.group(1):
                    if inside:
                        inside.pop()
                elif not tag.endswith("/>"):
                    inside.append(name.group(2).lower())
            out.append(tag)
        else:
            out.append(text if inside else MATHS.sub(replace, text))
    return "".join(out)
