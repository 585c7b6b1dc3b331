"""An executed notebook as a Markdown page any engine can build: prose stays Markdown, code and outputs are HTML.

Markdown cells keep their Markdown, so every engine gives the page its headings,
table of contents, maths and search entries as for any page. Code cells arrive
already highlighted, and outputs already rendered, as raw HTML blocks that the
engine passes through untouched and the search index leaves out; figures become
files beside the page, with their size, so nothing is inlined as base64.

Weight (the budget is 100 KB of HTML per notebook page): syntax highlighting is
most of a page, one span per token. Names, whitespace, operators and punctuation
are drawn in the code's own colour without a span, tokens the theme draws in one
colour share one class, and neighbouring tokens of one class share a span:
keywords, strings, numbers, built-ins and comments keep their colours.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import struct
from dataclasses import dataclass
from html import escape
from importlib import metadata
from pathlib import Path
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer

from llm_path.build import sanitise
from llm_path.files import TEMPORARY_PREFIX, write_atomic

TOKEN = re.compile(r'<span class="([a-z0-9]+)">([^<]*)</span>|<span></span>')
UNQUOTED_CLASS = re.compile(r'<span class="([a-z0-9]+)">')
SAME_CLASS = re.compile(r'<span class="([a-z0-9]+)">([^<]*)</span>(\s*)<span class="\1">')
COLOUR_CLASS = {
    token: group
    for group, tokens in {
        # mkdocs-material draws each group in one colour, in both schemes: comments, variables and
        # generic output all use --md-default-fg-color--light. Operators and punctuation, half of all
        # tokens, are left in the code's colour (the theme only dims them a little).
        "c": "c c1 ch cm cs sd ge gh go gp gr gs gt gu na nv vc vg vi",
        "s": "cpf l s s1 s2 sb sc si ss",
        "se": "cp se sh sr sx",
        "m": "il m mb mf mh mi mo",
        "k": "k kd kn kp kr kt nd ni nl nt",
        "nb": "bp nb no",
        "nf": "nc ne nf nn",
        "gd": "gd",
        "gi": "gi",
        "hll": "hll",
    }.items()
    for token in tokens.split()
}
"""Pygments token class -> the theme class drawn in the same colour; tokens not listed (names, whitespace,
string prefixes...) have no colour of their own and lose their span."""

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
DETAILS = re.compile(r"<details(?![^>]*\bmarkdown=)")
IMAGES = (("image/png", "png"), ("image/jpeg", "jpg"), ("image/svg+xml", "svg"), ("image/gif", "gif"))
HTML_OUTPUT_TAGS = {
    "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "colgroup", "col", "div", "span", "p",
    "b", "i", "em", "strong", "code", "pre", "br", "hr", "ul", "ol", "li", "sub", "sup", "small",
}  # fmt: skip
"""What a rich HTML output (a pandas table, say) keeps: structure and text, no scripts, styles or links."""


@dataclass(frozen=True)
class NotebookPage:
    """A notebook's page: its Markdown and the files beside it ({file name: bytes})."""

    markdown: str
    files: dict[str, bytes]


def slim_highlighting(code: str) -> str:
    """Pygments' token spans with the same colours in fewer bytes (see the module's docstring)."""

    def recolour(match: re.Match[str]) -> str:
        group = COLOUR_CLASS.get(match.group(1) or "")
        return f'<span class="{group}">{match.group(2)}</span>' if group else match.group(2) or ""

    code = TOKEN.sub(recolour, code)
    previous = None
    while previous != code:
        previous, code = code, SAME_CLASS.sub(r'<span class="\1">\2\3', code)
    return UNQUOTED_CLASS.sub(r"<span class=\1>", code)  # one-word values need no quotes in HTML


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, so the page reserves the figure's space before it loads."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


class _Converter:
    def __init__(self, name: str) -> None:
        self.name = name
        self.files: dict[str, bytes] = {}
        self.lexer = PythonLexer()
        self.formatter = HtmlFormatter(nowrap=True)

    def cell(self, cell: dict[str, Any]) -> str:
        source = _text(cell.get("source", ""))
        if cell.get("cell_type") == "markdown":
            # Jupyter renders Markdown inside <details> (an exercise's solution); Python-Markdown needs telling.
            return DETAILS.sub('<details markdown="1"', source)
        if cell.get("cell_type") != "code" or not source.strip():
            return ""
        code = slim_highlighting(highlight(source, self.lexer, self.formatter).rstrip("\n"))
        # No <code> inside <pre>: the theme would give every cell a copy button in a nameless <nav> (axe: landmark-unique).
        parts = [f'<div class="lp-code highlight" data-search-exclude><pre tabindex="0">{code}</pre></div>']
        parts += self.outputs(cell.get("outputs", []))
        return "\n".join(parts)

    def outputs(self, outputs: list[dict[str, Any]]) -> list[str]:
        rendered: list[str] = []
        streams: list[tuple[str, str]] = []
        for output in outputs:
            kind = output.get("output_type")
            if kind == "stream":
                text = ANSI.sub("", _text(output.get("text", "")))
                if streams and streams[-1][0] == output.get("name"):
                    streams[-1] = (streams[-1][0], streams[-1][1] + text)
                else:
                    streams.append((str(output.get("name")), text))
                continue
            rendered += [self._stream(name, text) for name, text in streams]
            streams = []
            if kind in ("display_data", "execute_result"):
                rendered.append(self._rich(output.get("data", {}), output.get("metadata", {})))
            elif kind == "error":
                rendered.append(self._stream("stderr", f"{output.get('ename')}: {output.get('evalue')}"))
        rendered += [self._stream(name, text) for name, text in streams]
        return [r for r in rendered if r]

    def _stream(self, name: str, text: str) -> str:
        if not text.strip():
            return ""
        kind = " lp-stderr" if name == "stderr" else ""
        return f'<div class="lp-output{kind}" data-search-exclude><pre tabindex="0">{escape(text.rstrip(), quote=False)}</pre></div>'

    def _rich(self, data: dict[str, Any], meta: dict[str, Any]) -> str:
        for mime, extension in IMAGES:
            if mime in data:
                return self._figure(data[mime], mime, extension, meta.get(mime) or {})
        if "text/html" in data:
            clean = sanitise.clean(_text(data["text/html"]), HTML_OUTPUT_TAGS, {"*": {"colspan", "rowspan"}})
            return f'<div class="lp-output lp-html" data-search-exclude tabindex="0">{clean}</div>'
        if "text/plain" in data:
            return self._stream("stdout", _text(data["text/plain"]))
        return ""

    def _figure(self, payload: Any, mime: str, extension: str, meta: dict[str, Any]) -> str:
        body = _text(payload).encode() if mime == "image/svg+xml" else base64.b64decode(_text(payload))
        number = len(self.files) + 1
        name = f"figure-{number}-{hashlib.sha1(body).hexdigest()[:8]}.{extension}"
        self.files[name] = body
        # A figure drawn for high-density screens ('retina') says its display size in the output's metadata.
        size = (meta.get("width"), meta.get("height")) if meta.get("width") else png_size(body)
        dimensions = (
            f' width="{int(size[0])}" height="{int(size[1])}"' if size and size[0] and size[1] else ""
        )
        return (
            f'<div class="lp-output lp-figure" data-search-exclude><img src="{name}" '
            f'alt="Figure {number} produced by the notebook"{dimensions} loading="lazy" decoding="async"></div>'
        )


def notebook_page(executed: Path, title: str, toolbar: str) -> NotebookPage:
    """The page of an executed notebook (.ipynb): front matter, the toolbar, then its cells in order."""
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    converter = _Converter(executed.stem)
    blocks = [converter.cell(cell) for cell in notebook.get("cells", [])]
    front = f"---\ntitle: {json.dumps(title, ensure_ascii=False)}\n---\n\n"
    body = "\n\n".join(block for block in blocks if block.strip())
    first_break = body.find("\n")
    if body.startswith("# ") and first_break > 0:  # the toolbar goes under the notebook's own title
        body = body[: first_break + 1] + "\n" + toolbar + "\n" + body[first_break:]
    else:
        body = toolbar + "\n\n" + body
    files = {**converter.files, f"{executed.stem}.ipynb": executed.read_bytes()}
    return NotebookPage(front + body + "\n", files)


def execution_facts(executed: Path) -> dict[str, Any]:
    """When and with what the notebook was executed, as the runner recorded it (empty when it did not)."""
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    facts = dict(notebook.get("metadata", {}).get("llm_path", {}))
    facts.setdefault("python", notebook.get("metadata", {}).get("language_info", {}).get("version"))
    return facts


class NotebookPages:
    """`notebook_page` with its results kept on disk between builds, keyed on everything that decides them.

    Highlighting a notebook is most of what a warm build spends on it; the page depends only on the
    executed notebook, its title and toolbar, and the code that converts it. `folder/NAME-HASH/` holds
    `page.md` and the files beside it; storing a page's new result evicts its old ones.
    """

    PAGE = "page.md"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.code = _code_digest()

    def page(self, executed: Path, title: str, toolbar: str) -> NotebookPage:
        name = executed.stem
        digest = hashlib.sha256(
            b"\0".join([self.code.encode(), title.encode(), toolbar.encode(), executed.read_bytes()])
        ).hexdigest()[:24]
        entry = self.folder / f"{name}-{digest}"
        stored = entry / self.PAGE
        if stored.is_file():
            files = {
                f.name: f.read_bytes()
                for f in entry.iterdir()
                if f.name != self.PAGE and not f.name.startswith((".", TEMPORARY_PREFIX))
            }
            return NotebookPage(stored.read_text(encoding="utf-8"), files)
        page = notebook_page(executed, title, toolbar)
        for file, data in page.files.items():
            write_atomic(entry / file, data)
        write_atomic(stored, page.markdown)  # last: a page file means the entry is whole
        for old in self.folder.glob(f"{name}-*"):
            if old != entry and old.name.removeprefix(f"{name}-").isalnum():
                shutil.rmtree(old, ignore_errors=True)
        return page


def _code_digest() -> str:
    """Hash of what decides a page: this module and the highlighter's version."""
    parts = [
        Path(__file__).read_bytes(),
        metadata.version("pygments").encode(),
        sanitise.VERSION.encode(),
    ]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()
