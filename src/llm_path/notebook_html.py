"""Slim a notebook page rendered by mkdocs-jupyter: pure HTML-to-HTML, no MkDocs.

mkdocs-jupyter inlines about 580 KB of JupyterLab CSS, a MathJax loader, a
clipboard widget and a Mermaid module fetched from a CDN into every notebook
page, and embeds figures as base64. This keeps the cells and outputs and
drops the rest: the site's own small stylesheet styles the cells, maths
becomes MathML, figures become files, and outputs stay out of the search index.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct

from llm_path.maths import render_dollars

STYLE = re.compile(r"<style\b[^>]*>.*?</style>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL | re.IGNORECASE)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
CLIPBOARD = re.compile(r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>', re.DOTALL)
MARKDOWN_CELL = re.compile(r'(<div class="[^"]*jp-RenderedMarkdown[^"]*"[^>]*>)(.*?)(</div>)', re.DOTALL)
OUTPUT_WRAPPER = re.compile(r'<div class="jp-Cell-outputWrapper"')
IMAGE = re.compile(
    r'<img\b(?P<before>[^>]*?)\bsrc="data:image/(?P<kind>png|jpeg|gif);base64,(?P<data>[A-Za-z0-9+/=\s]+)"(?P<after>[^>]*)>'
)
ALT = re.compile(r'\balt="[^"]*"')


def slim_notebook_html(html: str, figure_prefix: str) -> tuple[str, dict[str, bytes]]:
    """The cleaned content and the figures to write beside the page ({file name: bytes})."""
    html = STYLE.sub("", html)
    html = SCRIPT.sub("", html)
    html = COMMENT.sub("", html)
    html = CLIPBOARD.sub("", html)
    html = html.replace('class="highlight-ipynb', 'class="highlight highlight-ipynb')
    html = MARKDOWN_CELL.sub(lambda m: m.group(1) + render_dollars(m.group(2)) + m.group(3), html)
    html = OUTPUT_WRAPPER.sub('<div class="jp-Cell-outputWrapper" data-search-exclude', html)
    figures: dict[str, bytes] = {}

    def extract(match: re.Match[str]) -> str:
        data = base64.b64decode(re.sub(r"\s", "", match.group("data")))
        extension = "jpg" if match.group("kind") == "jpeg" else match.group("kind")
        name = f"{figure_prefix}{len(figures) + 1}-{hashlib.sha1(data).hexdigest()[:8]}.{extension}"
        figures[name] = data
        attributes = ALT.sub("", match.group("before") + match.group("after")).strip()
        size = png_size(data) if extension == "png" else None
        dimensions = f' width="{size[0]}" height="{size[1]}"' if size else ""
        alt = f"Figure {len(figures)} produced by the notebook"
        return f'<img src="{name}" alt="{alt}"{dimensions} loading="lazy" decoding="async" {attributes}>'.replace(
            " >", ">"
        )

    html = IMAGE.sub(extract, html)
    return html, figures


def png_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG header, so the page reserves the figure's space before it loads."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return width, height
