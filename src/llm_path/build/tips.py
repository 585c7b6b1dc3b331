"""Link the first mention of each glossary term on a page to its entry, with the definition as a tooltip.

Pure HTML to HTML, done at build time: the links work without JavaScript, the
tooltip shows on hover and on keyboard focus (CSS), and it stays out of the
search index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SKIP = {
    "a",
    "code",
    "pre",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "script",
    "style",
    "summary",
    "math",
    "button",
    "label",
    "svg",
    "option",
    "select",
    "textarea",
    "title",
    "kbd",
    "figcaption",
    "cite",
    "dt",
    "th",
    "nav",
}
NO_TIPS = "data-no-tips"
"""An attribute that keeps an element's text free of glossary links (the glossary page itself, the home page's tagline)."""
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
TOKEN = re.compile(r"<!--.*?-->|<[^>]+>|[^<]+", re.DOTALL)
TAG = re.compile(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9-]*)")


@dataclass(frozen=True)
class Tip:
    """A glossary entry as the tooltips need it."""

    slug: str
    names: tuple[str, ...]
    definition_html: str
    """The definition as safe inline HTML (prose.py), maths included."""


def slugify(term: str) -> str:
    """The glossary anchor of a term: 'KL divergence' -> 'kl-divergence'."""
    return re.sub(r"[^a-z0-9]+", "-", term.casefold()).strip("-")


def is_case_sensitive(name: str) -> bool:
    """Acronym-like names (a capital after a word's first letter: ZeRO, LoRA, GPT, KL divergence) match only as written.

    So the word "zero" is not ZeRO, while "softmax" and "Kullback-Leibler divergence" match in any case.
    """
    return re.search(r"\w[A-Z]", name) is not None


class TipLinker:
    """Rewrites page HTML; build once per site, apply to each page."""

    def __init__(self, tips: Iterable[Tip]) -> None:
        self.exact: dict[str, Tip] = {}
        self.folded: dict[str, Tip] = {}
        for tip in tips:
            for name in tip.names:
                if is_case_sensitive(name):
                    self.exact.setdefault(name, tip)
                else:
                    self.folded.setdefault(name.casefold(), tip)
        names = sorted([*self.exact, *self.folded], key=len, reverse=True)
        alternatives = (re.escape(n) if n in self.exact else f"(?i:{re.escape(n)})" for n in names)
        self.pattern = re.compile(r"(?<![\w-])(" + "|".join(alternatives) + r")(?![\w-])") if names else None

    def link(self, page_html: str, glossary_href: str) -> str:
        """Wrap the first mention of each term outside links, code, headings, maths and `data-no-tips` elements."""
        if self.pattern is None:
            return page_html
        used: set[str] = set()
        stack: list[tuple[str, bool]] = []
        """Open elements: (tag name, whether terms inside it stay unlinked)."""
        out: list[str] = []
        for token in TOKEN.findall(page_html):
            if token.startswith("<"):
                match = TAG.match(token)
                if match and not token.startswith("<!"):
                    closing, name = match.group(1) == "/", match.group(2).lower()
                    if closing:
                        if any(open_name == name for open_name, _ in stack):
                            while stack and stack.pop()[0] != name:
                                pass
                    elif name not in VOID and not token.endswith("/>"):
                        stack.append((name, name in SKIP or NO_TIPS in token))
                out.append(token)
            elif any(skip for _, skip in stack):
                out.append(token)
            else:
                out.append(self._link_text(token, used, glossary_href))
        return "".join(out)

    def _link_text(self, text: str, used: set[str], glossary_href: str) -> str:
        assert self.pattern is not None
        pieces: list[str] = []
        position = 0
        for match in self.pattern.finditer(text):
            tip = self.exact.get(match.group(1)) or self.folded[match.group(1).casefold()]
            if tip.slug in used:
                continue
            used.add(tip.slug)
            pieces.append(text[position : match.start()])
            pieces.append(
                f'<span class="lp-term-wrap"><a class="lp-term" href="{glossary_href}#{tip.slug}" '
                f'aria-describedby="lp-tip-{tip.slug}">{match.group(1)}</a>'
                f'<span class="lp-tip" role="tooltip" id="lp-tip-{tip.slug}" data-search-exclude>'
                f"{tip.definition_html}</span></span>"
            )
            position = match.end()
        pieces.append(text[position:])
        return "".join(pieces)
