"""What every page needs from inside the engine, as one Python-Markdown extension any engine can load.

After the page's Markdown is HTML: maths (arithmatex's wrapped LaTeX) becomes MathML,
also in the table of contents, and the first mention of each glossary term links to
its entry with the definition as a tooltip. MkDocs and ProperDocs get it from
`engines/mkdocs.py`, Zensical from the `zensical.toml` that `engines/zensical.py`
writes; both configure it with the same two values.
"""

from __future__ import annotations

import html
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from markdown import Extension, Markdown
from markdown.postprocessors import Postprocessor
from markdown.preprocessors import Preprocessor
from markdown.treeprocessors import Treeprocessor

from llm_path.build.maths import render_arithmatex, to_mathml
from llm_path.build.tips import Tip, TipLinker

_TOC_MATHS = re.compile(r"\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)


def tip_linker(tips: list[dict[str, Any]] | str) -> TipLinker:
    """The linker for glossary entries given as data or as the path of `tips.json` (llm-path render writes it)."""
    if isinstance(tips, str):
        return _linker_from_file(str(Path(tips).resolve()))
    return TipLinker(Tip(e["slug"], tuple(e["names"]), e["definition_html"]) for e in tips)


@lru_cache(maxsize=4)
def _linker_from_file(path: str) -> TipLinker:
    """Engines that name the extension make it anew for every page; the glossary is read and compiled once."""
    return tip_linker(json.loads(Path(path).read_text(encoding="utf-8")))


def finish_page(page_html: str, linker: TipLinker | None, glossary_href: str) -> str:
    """A page's HTML with its maths as MathML and its glossary tips: the per-page step of every engine."""
    page_html = render_arithmatex(page_html)
    return linker.link(page_html, glossary_href) if linker is not None else page_html


def _toc_maths(text: str, escaped: bool) -> str:
    def replace(match: re.Match[str]) -> str:
        latex = match.group(1) if match.group(1) is not None else match.group(2)
        return to_mathml(html.unescape(latex) if escaped else latex, display=False)

    return _TOC_MATHS.sub(replace, text)


def finish_toc(tokens: list[dict[str, Any]]) -> None:
    """Headings' maths and code drawn in the table of contents as on the page (its plain name drops both)."""
    for token in tokens:
        token["name"] = _toc_maths(token.get("name", ""), escaped=True)
        if "html" in token:
            token["html"] = render_arithmatex(token["html"])
            if "<math" in token["html"] or "<code" in token["html"]:
                token["name"] = token["html"]
            else:
                token["name"] = re.sub(r"<[^>]+>", "", token["html"])
        finish_toc(token.get("children", []))


class _Phase:
    """Whether the postprocessors are running over the whole page yet.

    Python-Markdown's toc runs every postprocessor over each heading while it builds the table of
    contents, before the page itself is done; tips there would end up in the headings' ids.
    """

    def __init__(self) -> None:
        self.whole_page = False


class _Start(Preprocessor):
    def __init__(self, md: Markdown, phase: _Phase) -> None:
        super().__init__(md)
        self.phase = phase

    def run(self, lines: list[str]) -> list[str]:
        self.phase.whole_page = False
        return lines


class _TreeDone(Treeprocessor):
    def __init__(self, md: Markdown, phase: _Phase) -> None:
        super().__init__(md)
        self.phase = phase

    def run(self, root: Any) -> None:
        self.phase.whole_page = True


class _Finish(Postprocessor):
    def __init__(self, md: Markdown, linker: TipLinker | None, glossary_href: str, phase: _Phase) -> None:
        super().__init__(md)
        self.linker = linker
        self.glossary_href = glossary_href
        self.phase = phase

    def run(self, text: str) -> str:
        if not self.phase.whole_page:  # a heading, for the table of contents: finish_toc sees to it
            return text
        finish_toc(getattr(self.md, "toc_tokens", []))
        return finish_page(text, self.linker, self.glossary_href)


class LlmPathExtension(Extension):
    """`llm_path.build.page_extension`: tips (a list or a tips.json path) and glossary (the glossary page's URL)."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "tips": [[], "glossary entries, or the path of tips.json"],
            "glossary": ["/glossary/", "the glossary page's URL, which each tip links to"],
        }
        super().__init__(**kwargs)
        self._linker: TipLinker | None = None

    def extendMarkdown(self, md: Markdown) -> None:  # Python-Markdown's name
        tips = self.getConfig("tips")
        if self._linker is None and tips:
            self._linker = tip_linker(tips)
        phase = _Phase()
        md.preprocessors.register(_Start(md, phase), "llm_path_start", 1000)
        md.treeprocessors.register(_TreeDone(md, phase), "llm_path_tree_done", -1000)
        # Last: after raw HTML is back in place (priority 30), so tips and maths see the whole page.
        md.postprocessors.register(
            _Finish(md, self._linker, self.getConfig("glossary"), phase), "llm_path", 1
        )


def makeExtension(**kwargs: Any) -> LlmPathExtension:  # Python-Markdown's entry point
    return LlmPathExtension(**kwargs)
