"""Remote text made inert: no control character in any output, and only text in the Markdown report.

What servers send (reason phrases, redirect targets, error strings) and what files hold
reaches the terminal, the reports and the cache without a control character, and the
Markdown report as text, never as markup.

`printable` is the one function every output passes its text through; `markdown_text` and
`markdown_code` add the escaping Markdown needs on top of it.
"""

from __future__ import annotations

import re

_BREAKS = "\t\n\v\f\r\x85\u2028\u2029"
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")
_TO_SPACE = str.maketrans(dict.fromkeys(_BREAKS, " "))
_MARKDOWN = re.compile(r"[\\`*_\[\]|~$]")
_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def printable(text: str) -> str:
    """`text` on one line without control characters: C0, C1, DEL (so no terminal escape) and bidi controls.

    Line and tab breaks become spaces; every other such character is dropped."""
    return _CONTROLS.sub("", text.translate(_TO_SPACE))


def first_control(text: str) -> str | None:
    """The first character `printable` would drop or turn into a space, if any."""
    m = _CONTROLS.search(text) or re.search(f"[{_BREAKS}]", text)
    return m[0] if m else None


def markdown_text(text: str) -> str:
    """`text` for a Markdown table cell, shown as written: no HTML, link, emphasis, code, maths or new cell.

    `<`, `>` and `&` become entities (every renderer decodes them to text, while
    Python-Markdown would keep a backslash before `<`); other markup characters are
    backslash-escaped."""
    return _MARKDOWN.sub(r"\\\g<0>", printable(text).translate(_ENTITIES))


def markdown_code(text: str) -> str:
    """`text` as a Markdown code span in a table cell: fenced longer than any backtick run inside."""
    text = printable(text)
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    cell = text.replace("|", "\\|")
    return f"{fence}{pad}{cell}{pad}{fence}"
