"""Slim a notebook page rendered by mkdocs-jupyter: pure HTML-to-HTML, no MkDocs.

mkdocs-jupyter inlines about 580 KB of JupyterLab CSS, a MathJax loader, a
clipboard widget and a Mermaid module fetched from a CDN into every notebook
page, and embeds figures as base64. This keeps the cells and outputs and
drops the rest: the site's own small stylesheet styles the cells, maths
becomes MathML, figures become files, and code and outputs stay out of the
search index, which keeps the notebooks' prose.

Weight (the budget is 100 KB of HTML per notebook page): syntax highlighting
is most of a page, one span per token. Names, whitespace, operators and
punctuation are drawn in the code's own colour without a span, tokens the
theme draws in one colour share one class, and neighbouring tokens of one
class share a span: keywords, strings, numbers, built-ins and comments keep
their colours.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import struct
from html import escape as html_escape
from importlib import metadata
from pathlib import Path

from llm_path.build import maths
from llm_path.build.maths import render_dollars
from llm_path.files import write_atomic

STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
CLIPBOARD = re.compile(r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>', re.DOTALL)
MARKDOWN_CELL = re.compile(r'(<div class="[^"]*jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.DOTALL)
IMAGE = re.compile(
    r'<img\b(?P<before>[^>]*?)\bsrc="data:image/(?P<kind>png|jpeg|gif);base64,(?P<data>[A-Za-z0-9+/=\s]+)"(?P<after>[^>]*)>'
)
ALT = re.compile(r'\balt="[^"]*"')
EMPTY_CLASS = re.compile(r'\bclass=""')
COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt"[^>]*>.*?</div>', re.DOTALL)
"""The cell's source again, for a copy button the page no longer has: shown as stray text and indexed twice."""
ANCHOR = re.compile(r'<a class="anchor-link" href="(#[^"]*)">¶</a>')
COLLAPSER = re.compile(r'<div class="jp-Collapser[^"]*">\s*</div>\n?')
WRAPPERS = [
    (re.compile(pattern, re.DOTALL), replacement)
    for pattern, replacement in (
        # mkdocs-jupyter opens each code cell twice; the outer copy becomes a bare wrapper, dropped later.
        (r'<div class="jp-Cell jp-CodeCell jp-Notebook-cell[^"]*">\n(?=<div class="jp-Cell )', "<div>\n"),
        # Cell ids ("cell-id=1a2b3c4d") are JupyterLab's own; nothing links to them.
        (
            r'<div class="jp-Cell (jp-CodeCell|jp-MarkdownCell) jp-Notebook-cell[^"]*"(?: id="cell-id=[^"]*")?',
            r'<div class="jp-Cell \1"',
        ),
        # Every cell was a tab stop; only the code and outputs, which may scroll sideways, need focus.
        (r'<div class="jp-Cell-inputWrapper" tabindex="0">', "<div>"),
        (r'<div class="jp-InputArea jp-Cell-inputArea">', "<div>"),
        (
            r'<div class="jp-RenderedHTMLCommon jp-RenderedMarkdown jp-MarkdownOutput"[^>]*>',
            '<div class="jp-RenderedMarkdown">',
        ),
        (r'<div class="jp-CodeMirrorEditor jp-Editor jp-InputArea-editor"[^>]*>', "<div>"),
        (r'<div class="CodeMirror cm-s-jupyter">', "<div>"),
        (r'<div class="jp-Notebook"[^>]*>', "<div>"),
        (
            r'<div class="highlight-ipynb hl-[a-z0-9]+"><pre>',
            '<div class="highlight" data-search-exclude><pre tabindex="0">',
        ),
        (r'<div class="jp-Cell-outputWrapper">', "<div>"),
        (r'<div class="jp-OutputArea jp-Cell-outputArea">', "<div>"),
        (r'<div class="jp-OutputArea-child[^"]*">', "<div>"),
        (r'<div class="jp-RenderedText jp-OutputArea-output[^"]*"', '<div class="jp-OutputArea-output"'),
        # Each output is excluded from search itself: mkdocs-material's search parser compares elements
        # by tag name only, so an excluded <div> stops being excluded at its first inner </div>.
        (r'<div class="([^"]*\bjp-OutputArea-output\b[^"]*)"', r'<div class="\1" data-search-exclude'),
        # An output that is one block of text (the usual printout) needs no more than its class.
        (
            r'<div class="jp-OutputArea-output" data-search-exclude data-mime-type="text/plain" tabindex="0">\n'
            r"(<pre>[^<]*</pre>)\n</div>",
            r'<div class="jp-OutputArea-output" tabindex="0" data-search-exclude>\1</div>',
        ),
    )
]
"""JupyterLab's nested wrappers and long class lists, cut to what the site's notebook.css styles."""
DIV_TAG = re.compile(r"<div(?P<attributes>\s[^>]*)?>\n?|(?P<close></div>)\n?")
MATHML_NAMESPACE = ' xmlns="http://www.w3.org/1998/Math/MathML"'
MATHML = re.compile(r"<math\b.*?</math>", re.DOTALL)
CHARACTER_REFERENCE = re.compile(r"&#x([0-9A-Fa-f]+);")
"""latex2mathml writes every operator as a reference ('&#x0003D;' for '='); the page is UTF-8."""
HIGHLIGHTED = re.compile(r'(<div class="highlight"[^>]*><pre[^>]*>)(.*?)(</pre>)', re.DOTALL)
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


def slim_notebook_html(html: str, figure_prefix: str) -> tuple[str, dict[str, bytes]]:
    """The cleaned content and the figures to write beside the page ({file name: bytes})."""
    # The inlined theme and the base64 figures are nine tenths of the input: drop them first, with
    # plain string search, so every later pass works on a page-sized string (the warm rebuild budget).
    html = STYLE.sub("", _without(html, "<style", "</style>"))
    html, figures = _extract_figures(html, figure_prefix)
    html = SCRIPT.sub("", html)
    html = COMMENT.sub("", html)
    html = CLIPBOARD.sub("", html)
    html = COPY_TEXT.sub("", html)
    html = COLLAPSER.sub("", html)
    # The theme's own permalink class: styled like every other page's, and left out of search titles.
    html = ANCHOR.sub(r'<a class="headerlink" href="\1" title="Permanent link">¶</a>', html)
    for pattern, replacement in WRAPPERS:
        html = pattern.sub(replacement, html)
    html = _without_bare_divs(html)
    html = HIGHLIGHTED.sub(lambda m: m.group(1) + slim_highlighting(m.group(2)) + m.group(3), html)
    html = MARKDOWN_CELL.sub(lambda m: m.group(1) + render_dollars(m.group(2)) + m.group(3), html)
    html = html.replace(MATHML_NAMESPACE, "")  # HTML parsers put <math> in its namespace by themselves
    html = MATHML.sub(lambda m: CHARACTER_REFERENCE.sub(_character, m.group(0)), html)
    return html, figures


def _without(html: str, start: str, end: str) -> str:
    """`html` less every block from `start` to the next `end`."""
    parts = []
    position = 0
    while (found := html.find(start, position)) >= 0 and (close := html.find(end, found)) >= 0:
        parts.append(html[position:found])
        position = close + len(end)
    parts.append(html[position:])
    return "".join(parts)


def _without_bare_divs(html: str) -> str:
    """`html` less every <div> without attributes, and its closing tag: wrappers nothing styles.

    They are a third of a notebook page's elements, and every element costs the search indexer time
    in proportion to how deeply it is nested. Unbalanced markup is returned as it is.
    """
    parts = []
    dropped: list[bool] = []
    position = 0
    for match in DIV_TAG.finditer(html):
        if match.group("close"):
            if not dropped:
                return html
            drop = dropped.pop()
        else:
            drop = match.group("attributes") is None
            dropped.append(drop)
        if drop:
            parts.append(html[position : match.start()])
            position = match.end()
    if dropped:
        return html
    parts.append(html[position:])
    return "".join(parts)


def _extract_figures(html: str, figure_prefix: str) -> tuple[str, dict[str, bytes]]:
    """Base64 images become files named after their content; the page links them with their size."""
    figures: dict[str, bytes] = {}

    def extract(match: re.Match[str]) -> str:
        data = base64.b64decode(re.sub(r"\s", "", match.group("data")))
        extension = "jpg" if match.group("kind") == "jpeg" else match.group("kind")
        name = f"{figure_prefix}{len(figures) + 1}-{hashlib.sha1(data).hexdigest()[:8]}.{extension}"
        figures[name] = data
        attributes = EMPTY_CLASS.sub("", ALT.sub("", match.group("before") + match.group("after"))).strip()
        attributes = attributes.removesuffix("/").strip()
        size = png_size(data) if extension == "png" else None
        # A figure drawn for high-density screens (IPython's 'retina' format) says its display size
        # in the output's metadata, which nbconvert writes as width and height: keep those.
        has_size = "width=" in attributes and "height=" in attributes
        dimensions = f' width="{size[0]}" height="{size[1]}"' if size and not has_size else ""
        alt = f"Figure {len(figures)} produced by the notebook"
        return f'<img src="{name}" alt="{alt}"{dimensions} loading="lazy" decoding="async" {attributes}>'.replace(
            " >", ">"
        )

    html = IMAGE.sub(extract, html)
    return html, figures


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


def _character(match: re.Match[str]) -> str:
    return html_escape(chr(int(match.group(1), 16)), quote=False)


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, so the page reserves the figure's space before it loads."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class SlimmedPages:
    """`slim_notebook_html` with its results kept on disk between builds.

    Slimming a notebook page is most of what a warm build spends on it. The result depends only on the
    page's HTML and on the code that slims it, so it is stored under a hash of both:
    `folder/PAGE-HASH/page.html` and the page's figures beside it. Storing a page's new result evicts
    its old ones; nothing else does, so a build without notebooks keeps the cache.
    """

    PAGE = "page.html"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.code = _code_digest()

    def slim(self, name: str, html: str, figure_prefix: str) -> tuple[str, dict[str, bytes]]:
        """What `slim_notebook_html(html, figure_prefix)` returns, for the page called `name`."""
        digest = hashlib.sha256(f"{self.code}\0{figure_prefix}\0{html}".encode()).hexdigest()[:24]
        entry = self.folder / f"{name}-{digest}"
        page = entry / self.PAGE
        if page.is_file():
            # A figure's write killed halfway leaves a hidden temporary file beside the others: not a figure.
            figures = {
                f.name: f.read_bytes()
                for f in entry.iterdir()
                if f.name != self.PAGE and not f.name.startswith(".")
            }
            return page.read_text(encoding="utf-8"), figures
        slimmed, figures = slim_notebook_html(html, figure_prefix)
        for figure, data in figures.items():
            write_atomic(entry / figure, data)
        write_atomic(page, slimmed)  # last: a page file means the entry is whole
        for old in self.folder.glob(f"{name}-*"):
            if old != entry and old.name.removeprefix(f"{name}-").isalnum():
                shutil.rmtree(old, ignore_errors=True)
        return slimmed, figures


def _code_digest() -> str:
    """Hash of what decides a slimmed page: this module, the maths renderer and its LaTeX converter."""
    parts = [
        Path(__file__).read_bytes(),
        Path(maths.__file__).read_bytes(),
        metadata.version("latex2mathml").encode(),
    ]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()
