"""Show contributors' text as the text policy allows (curriculum/text.py): the one place it becomes HTML.

Prose is rendered here, not by the page's Markdown: code spans and maths are cut
out first, the rest goes through a plain Markdown (emphasis, links), the result
is cleaned by a sanitiser (nh3, an allow-list of tags and attributes), and its
text is written so that no Markdown the page is later put through can find
syntax in it. Titles are escaped the same way. What leaves this module is safe
both inside a Markdown page and inside HTML.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache

import markdown
from markupsafe import Markup

from llm_path.build import sanitise
from llm_path.build.maths import MATHML_ATTRIBUTES, MATHML_TAGS, to_mathml
from llm_path.curriculum.text import CODE, MATHS

PROSE_TAGS = {"em", "strong", "code", "a", *MATHML_TAGS}
PROSE_ATTRIBUTES = {
    "a": {"href"},
    **{tag: MATHML_ATTRIBUTES for tag in MATHML_TAGS},
    "math": MATHML_ATTRIBUTES | {"tabindex"},  # display maths scrolls, so a keyboard must reach it (maths.py)
}

_MARKDOWN_ACTIVE = {char: f"&#{ord(char)};" for char in "\\`*_{}[]|$~^#!<>&\"'" if char not in "<>&\"'"}
"""Characters some Markdown extension of the page may act on; written as character references they are only text."""

_LINE_START = re.compile(r"^(?:[-+*=:>#|!~.]|\d+[.)])")
"""What would start a list, heading, quote, table or definition if it began a line of the page."""

_PLACEHOLDER = re.compile("\ue000(\\d+)\ue001")
_TAG_OR_TEXT = re.compile(r"(<[^>]*>)|([^<]+)")


def _protect_inner(text: str) -> str:
    """Active characters as character references; an underscore inside a word (d_k, snake_case) starts nothing.

    The text is HTML-escaped already, so '&#' only ever opens a character reference ('&#x27;' for an
    apostrophe): its '#' is left alone, or the reference would show as text.
    """
    text = "".join(
        char if char == "_" or (char == "#" and text[i - 1 : i] == "&") else _MARKDOWN_ACTIVE.get(char, char)
        for i, char in enumerate(text)
    )
    return re.sub(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])", "&#95;", text)


def _protect_text(text: str) -> str:
    """HTML-escaped text -> the same text, inert under any Markdown, also where it begins a line."""
    text = _protect_inner(text)
    start = _LINE_START.match(text)
    if start:
        first = start.group()[0]
        text = f"&#{ord(first)};" + text[1:]
    return text


def _protect_html(fragment: str) -> str:
    """Protect every text node of clean HTML, leaving its tags as they are."""
    out: list[str] = []
    for tag, text in _TAG_OR_TEXT.findall(fragment):
        out.append(tag if tag else _protect_text(text) if not out else _protect_inner(text))
    return "".join(out)


def plain_markup(text: str) -> Markup:
    """Plain text (a title, a name, an id) for a Markdown page or HTML: escaped, never markup."""
    return Markup(_protect_text(html.escape(str(text), quote=True)))


def meta_text(text: str) -> str:
    """Text for the theme's own template variables (navigation, <title>, meta tags), which it prints unescaped."""
    return html.escape(str(text), quote=True)


@lru_cache(maxsize=4096)
def prose_html(text: str) -> Markup:
    """Prose in the curriculum's Markdown subset as inline HTML: emphasis, code, http(s) links, MathML."""
    text = text.replace("\ue000", "").replace("\ue001", "")
    pieces: list[str] = []

    def hold(rendered: str) -> str:
        pieces.append(rendered)
        return f"\ue000{len(pieces) - 1}\ue001"

    text = CODE.sub(lambda m: hold(f"<code>{html.escape(m.group('code').strip())}</code>"), text)
    text = MATHS.sub(
        lambda m: hold(
            to_mathml(m.group("block"), display=True)
            if m.group("block") is not None
            else to_mathml(m.group("inline"), display=False)
        ),
        text,
    )
    text = _escape_block_start(" ".join(text.split()))
    rendered = markdown.markdown(text, extensions=[], output_format="html")
    rendered = re.sub(r"^<p>|</p>$", "", rendered.strip())
    rendered = _PLACEHOLDER.sub(lambda m: pieces[int(m.group(1))], rendered)
    clean = sanitise.clean(rendered, PROSE_TAGS, PROSE_ATTRIBUTES)
    return Markup(_protect_html(clean))


def prose_text(text: str) -> str:
    """Prose as plain text for places that show no markup (meta descriptions, calendars): maths as its source."""
    held: list[str] = []

    def hold(kept: str) -> str:
        held.append(kept.strip())
        return f"\ue000{len(held) - 1}\ue001"

    text = text.replace("\ue000", "").replace("\ue001", "")
    text = CODE.sub(lambda m: hold(m.group("code")), text)
    text = MATHS.sub(lambda m: hold(m.group("block") or m.group("inline") or ""), text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_)(\S.*?\S|\S)\1", r"\2", text)
    text = _PLACEHOLDER.sub(lambda m: held[int(m.group(1))], text)
    return " ".join(text.split())


def _escape_block_start(text: str) -> str:
    """A backslash before what would make the text a list, heading or quote: it stays one paragraph."""
    numbered = re.match(r"^(\d+)([.)])", text)
    if numbered:
        return numbered.group(1) + "\\" + text[numbered.end(1) :]
    if re.match(r"^(?:[-+*]|#{1,6})(?:\s|$)|^>", text):
        return "\\" + text
    return text
