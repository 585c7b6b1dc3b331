"""What contributors' text may contain: the one place the curriculum's text policy is decided.

Curriculum text comes from strangers' pull requests, so it is data, never markup.
Three kinds of field, each a `str` subclass the validators return, so the pages
know how to show every value without being told:

- `Title`: plain text on one line (titles, terms, names, authors, sources, focus
  lines, shelf and track names). Shown as text everywhere, escaped.
- `Prose`: a small Markdown subset (summaries, explanations, answers,
  descriptions, notes, quotes): *emphasis*, **strong**, `inline code`,
  [links](https://...) to http(s) addresses, and maths in `$...$` or `$$...$$`.
  Anything else that Markdown or the site's extensions would turn into markup
  (raw HTML, comments, attribute lists, fenced blocks, snippet includes,
  template syntax, images, reference links, maths commands that make links or
  styles) is refused at validation, with its position.
- `Url`: an absolute http(s) address with a host.

CONTRIBUTING.md states the same policy for contributors; `build/prose.py` renders it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

from pydantic_core import PydanticCustomError

QUOTE_LIMIT = 80
"""Messages quote at most this many characters of a value."""


class Title(str):
    """Plain text on one line."""

    __slots__ = ()


class Prose(str):
    """Text in the curriculum's Markdown subset."""

    __slots__ = ()


class Url(str):
    """An absolute http(s) address."""

    __slots__ = ()


def quote(value: object, limit: int = QUOTE_LIMIT) -> str:
    """A value as a message shows it: repr-escaped (no control characters reach the terminal), at most `limit` characters."""
    text = str(value)
    if len(text) > limit:
        return repr(text[: limit - 1]) + "…"
    return repr(text)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _control_character(text: str) -> re.Match[str] | None:
    return _CONTROL.search(text)


def _character_name(char: str) -> str:
    return unicodedata.name(char, f"U+{ord(char):04X}")


def check_title(value: str) -> Title:
    """One line of plain text, without control or invisible formatting characters."""
    newline = re.search(r"[\r\n\u2028\u2029]", value)
    if newline:
        raise PydanticCustomError(
            "title_newline",
            "is a title-like field and holds a line break; write it on one line",
            {"offset": newline.start()},
        )
    control = _control_character(value)
    if control:
        raise PydanticCustomError(
            "text_control",
            "holds the invisible character {name}; delete it",
            {"name": _character_name(control.group()), "offset": control.start()},
        )
    return Title(value)


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    what: str
    instead: str


MATHS = re.compile(
    r"(?<![\\$])\$\$(?P<block>.+?)\$\$"
    r"|(?<![\\$])\$(?![\s$])(?P<inline>(?:\\.|[^\\$\n]|\n(?![ \t]*\n))+?)(?<!\s)\$",
    re.DOTALL,
)
"""Inline and display maths, the one rule for curriculum prose and notebook text alike.

Inline maths opens with a `$` not followed by a space and closes with a `$` not preceded by one
(so "$5 and $10" is no formula); it may run over one line break, as a formula wrapped in a
notebook's Markdown does, but never over a blank line. `build/prose.py` and `build/maths.py`
render exactly what this finds.
"""

CODE = re.compile(r"(?<!`)(`+)(?!`)(?P<code>.+?)(?<!`)\1(?!`)", re.DOTALL)
"""Inline code spans, as Markdown finds them (a run of backticks closed by an equal run)."""

_OUTSIDE_MATHS_AND_CODE = [
    _Rule(re.compile(r"<!--"), "an HTML comment", "delete it; comments are not shown"),
    _Rule(
        re.compile(r"</?[A-Za-z][A-Za-z0-9-]*|<[!?]"),
        "raw HTML",
        "write plain text; put code in backticks, e.g. `<div>`",
    ),
    _Rule(
        re.compile(r"<(?:https?|mailto|ftp):", re.I),
        "an autolink in angle brackets",
        "write the link as [text](https://...)",
    ),
    _Rule(
        re.compile(r"-{1,2}8<-{1,2}"), "a snippet include", "delete it; curriculum text cannot include files"
    ),
    _Rule(
        re.compile(r"\{[{%#]|[%}]\}"),
        "template syntax",
        "delete the braces, or put them in backticks as code",
    ),
    _Rule(
        re.compile(r"\{"),
        "a brace, which starts an attribute list",
        "delete it, or put it in backticks as code or inside maths",
    ),
    _Rule(re.compile(r"!\["), "an image", "link to it instead: [text](https://...)"),
    _Rule(re.compile(r"\]\s*\["), "a reference-style link", "write the address inline: [text](https://...)"),
    _Rule(
        re.compile(r"^\s*\[[^\]]*\]:", re.M),
        "a link definition",
        "write the address inline: [text](https://...)",
    ),
    _Rule(re.compile(r"\n[ \t]*\n"), "a blank line", "write one paragraph"),
]

_FENCE = re.compile(r"^[ \t]*(?:`{3,}|~{3,})", re.M)
_FENCE_RULE = _Rule(_FENCE, "a fenced block", "use inline code in single backticks")

_IN_MATHS = _Rule(
    re.compile(
        r"\\(?:href|url|class|style|cssId|html\w*|require|unicode|bbox|mathtip|texttip|toggle|data|mmlToken)(?![A-Za-z])"
    ),
    "a maths command that makes links, styles or markup",
    "delete it; maths from the curriculum may only typeset",
)

_LINK = re.compile(r"\]\(\s*(?P<target>[^)\s]*)")


def _spans(pattern: re.Pattern[str], text: str) -> list[tuple[int, int]]:
    return [match.span() for match in pattern.finditer(text)]


def _blank_out(text: str, spans: list[tuple[int, int]]) -> str:
    """`text` with each span replaced by filler of equal length, so offsets stay true and no rule matches inside."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = "\ue002" * (end - start)
    return "".join(chars)


def check_prose(value: str) -> Prose:
    """Text in the documented Markdown subset; the first construct outside it is refused with its offset."""
    control = _CONTROL.search(value)
    if control:
        raise PydanticCustomError(
            "text_control",
            "holds the invisible character {name}; delete it",
            {"name": _character_name(control.group()), "offset": control.start()},
        )
    fence = _FENCE.search(value)
    if fence:
        _refuse(_FENCE_RULE, fence)
    without_code = _blank_out(value, _spans(CODE, value))
    maths = _spans(MATHS, without_code)
    for start, end in maths:
        found = _IN_MATHS.pattern.search(value, start, end)
        if found:
            _refuse(_IN_MATHS, found)
    plain = _blank_out(without_code, maths)
    for rule in _OUTSIDE_MATHS_AND_CODE:
        found = rule.pattern.search(plain)
        if found:
            _refuse(rule, found)
    for link in _LINK.finditer(plain):
        target = link.group("target")
        if not is_http_url(target):
            raise PydanticCustomError(
                "prose_link",
                "links to {target}, which is not an http(s) address; link only to https://... addresses",
                {"target": quote(target), "offset": link.start("target")},
            )
    return Prose(value)


def _refuse(rule: _Rule, found: re.Match[str]) -> None:
    raise PydanticCustomError(
        "prose_markup",
        "holds {what} ({snippet}), which curriculum text may not contain; {instead}",
        {
            "what": rule.what,
            "snippet": quote(found.group().strip() or found.group(), 20),
            "instead": rule.instead,
            "offset": found.start(),
        },
    )


def is_http_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  # raises ValueError on a port out of range or not a number
    except ValueError:
        return False
    return (
        parts.scheme in ("http", "https")
        and bool(parts.hostname)
        and not re.search(r"[\s\x00-\x1f\x7f<>\"'`]", value)
    )


def check_http_url(value: str) -> Url:
    """Accept only absolute http(s) URLs with a host, a valid port, and no whitespace or credentials."""
    space = re.search(r"[\s\x00-\x1f\x7f]", value)
    if space:
        what = (
            "a line break"
            if space.group() in "\r\n"
            else "a space"
            if space.group() == " "
            else "a control character"
        )
        raise PydanticCustomError(
            "url_space",
            "{value} holds {what}; write the address without it (a space inside an address is written %20)",
            {"value": quote(value), "what": what, "offset": space.start()},
        )
    unsafe = re.search(r"[<>\"`\\]", value)
    if unsafe:
        raise PydanticCustomError(
            "url_character",
            "{value} holds {char}, which an address writes percent-encoded; write {encoded} instead",
            {
                "value": quote(value),
                "char": repr(unsafe.group()),
                "encoded": f"%{ord(unsafe.group()):02X}",
                "offset": unsafe.start(),
            },
        )
    scheme = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*):", value)
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        raise PydanticCustomError(
            "url_scheme",
            "{value} is not an http(s) URL; only http:// and https:// links are accepted",
            {"value": quote(value)},
        )
    if not scheme:
        suggestion = "https://" + value.lstrip("/")
        hint = (
            f"write the full address, e.g. {suggestion}"
            if is_http_url(suggestion) and "." in (urlsplit(suggestion).hostname or "")
            else "write the full address, starting with https://"
        )
        raise PydanticCustomError(
            "url", "{value} is not an http(s) URL; {hint}", {"value": quote(value), "hint": hint}
        )
    twice = re.match(r"^https?://(https?://)", value, re.I)
    if twice:
        raise PydanticCustomError(
            "url_twice",
            "{value} starts with its scheme twice; write it once, e.g. {fixed}",
            {"value": quote(value), "fixed": quote(value[twice.start(1) :])},
        )
    parts = urlsplit(value)
    if "@" in parts.netloc:
        raise PydanticCustomError(
            "url_credentials",
            "{value} contains credentials; remove the user:password@ part",
            {"value": quote(value)},
        )
    try:
        if parts.netloc.endswith(":"):
            raise ValueError("empty port")
        parts.port  # noqa: B018  # raises ValueError on a port out of range or not a number
    except ValueError:
        raise PydanticCustomError(
            "url_port",
            "{value} has an invalid port; write a number from 1 to 65535, or none",
            {"value": quote(value)},
        ) from None
    if not parts.hostname:
        raise PydanticCustomError(
            "url_host",
            "{value} has no host; write the site's name after //, e.g. https://example.org/",
            {"value": quote(value)},
        )
    return Url(value)
