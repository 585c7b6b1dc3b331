"""Contributors' text is data, never markup: every payload in every text field, built for real and inspected.

Title-like fields accept anything on one line and must show it as text wherever it appears (navigation,
header, footer, <title>, meta tags, search index, tables of contents). Prose fields refuse whatever their
Markdown subset does not allow, with its position, and show what it allows inertly.
"""

from __future__ import annotations

import html.parser
import json
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml
from browser import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import FIXTURES, mkdocs_build, site_config
from playwright import sync_api as playwright_api
from pydantic import AfterValidator, BaseModel

from llm_path.curriculum.load import CurriculumError, load_curriculum
from llm_path.curriculum.model import AdviceList, Glossary, Phase, ReadingList, Topic
from llm_path.curriculum.model import Path as PathModel
from llm_path.curriculum.text import check_prose, check_title

TITLE_PAYLOADS = [
    "<script>alert(101)</script>",
    "<img src=x onerror=alert(102)>",
    '"><svg onload=alert(103)>',
    "'><svg onload=alert(104)>",
    "</title><script>alert(105)</script>",
    '<iframe srcdoc="<script>alert(106)</script>">',
    "<details open ontoggle=alert(107)>",
    "<style>body{display:none}</style>",
    "*x*{: onclick=alert(108) }",
    "$\\href{javascript:alert(109)}{x}$",
    "[x](javascript:alert(110))",
    "{{ 7*7 }} {% if true %}evaluated{% endif %}",
    '--8<-- "/etc/passwd"',
    "`code` **bold** | cell _u_ ~s~",
    "&lt;b&gt; &amp;",
    "<!--",
]
"""Every class of payload, in one title: whatever escaping misses shows up as markup in the built page."""

TITLE = " ".join(TITLE_PAYLOADS)

PROSE_REFUSED = {
    "script": "<script>alert(201)</script>",
    "event handler": "<img src=x onerror=alert(202)>",
    "attribute breakout": '"><svg onload=alert(203)>',
    "title breakout": "</title><script>alert(204)</script>",
    "iframe": '<iframe srcdoc="x">',
    "details": "<details open ontoggle=alert(205)>",
    "style": "<style>body{display:none}</style>",
    "comment": "<!-- the rest",
    "attribute list": "*x*{: onclick=alert(206) }",
    "maths link": "$\\href{javascript:alert(207)}{x}$",
    "maths url": "$\\url{javascript:alert(208)}$",
    "maths class": "$\\class{x}{y}$",
    "maths style": "$\\style{color:red}{y}$",
    "maths html": "$\\htmlData{a=b}{y}$",
    "javascript link": "[x](javascript:alert(209))",
    "data link": "[x](data:text/html,hi)",
    "snippet": '--8<-- "/etc/passwd"',
    "template": "{{ config.site_name }}",
    "template block": "{% include 'x' %}",
    "fenced block": "```\nmermaid\n```",
    "image": "![x](https://example.org/x.png)",
    "reference link": "[x][ref]",
    "autolink": "<https://example.org>",
}

PROSE_ALLOWED = (
    "`<script>alert(301)</script>` &lt;img src=x onerror=alert(302)&gt; *em* | [a link](https://example.org/a_b) "
    "$x<y$ # not a heading _u_ 1. not a list \\*star\\* p < 0.05"
)


def _kind(annotation: Any) -> str | None:
    """'title' or 'prose' when the annotation (possibly a list or optional of it) is one of the policy's text types."""
    for arg in (annotation, *typing.get_args(annotation)):
        for meta in getattr(arg, "__metadata__", ()):
            if isinstance(meta, AfterValidator) and meta.func in (check_title, check_prose):
                return "title" if meta.func is check_title else "prose"
        if arg is not annotation:
            found = _kind(arg)
            if found:
                return found
    return None


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def _submodel(annotation: Any) -> type[BaseModel] | None:
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
        if arg is not annotation:
            found = _submodel(arg)
            if found:
                return found
    return None


def fill(data: Any, model: type[BaseModel], value: Any, counter: list[int]) -> None:
    """Set every text field of `data` (a YAML mapping for `model`) to `value(kind)`, adding optional ones."""
    hints = typing.get_type_hints(model, include_extras=True)
    for name in model.model_fields:
        annotation = hints[name]
        kind = _kind(annotation)
        sub = _submodel(annotation)
        if kind:
            counter[0] += 1
            text = value(kind, counter[0])
            if text is None:
                continue
            data[name] = [text] if _is_list(annotation) else text
        elif sub is not None and name in data:
            items = data[name] if isinstance(data[name], list) else [data[name]]
            for item in items:
                fill(item, sub, value, counter)


FILES: list[tuple[str, type[BaseModel]]] = [
    ("path.yml", PathModel),
    ("glossary.yml", Glossary),
    ("advice.yml", AdviceList),
    ("reading-list.yml", ReadingList),
    *((f"phases/{p.name}", Phase) for p in sorted((FIXTURES / "curriculum/phases").glob("*.yml"))),
    *((f"topics/{p.name}", Topic) for p in sorted((FIXTURES / "curriculum/topics").glob("*.yml"))),
]


def hostile_curriculum(target: Path, title: Any, prose: Any) -> int:
    """Copy the fixture with every title field set by `title(n)` and every prose field by `prose(n)`; count fields."""
    counter = [0]
    for relative, model in FILES:
        data = yaml.safe_load((FIXTURES / "curriculum" / relative).read_text())
        fill(data, model, lambda kind, n: title(n) if kind == "title" else prose(n), counter)
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return counter[0]


def unique_title(n: int) -> str:
    """The full payload, made unique per field (glossary terms and aliases must differ)."""
    return f"{TITLE} #{n}"


@pytest.mark.parametrize("payload", PROSE_REFUSED.values(), ids=PROSE_REFUSED.keys())
def test_prose_outside_the_subset_is_refused_in_every_field_at_once(tmp_path: Path, payload: str) -> None:
    """Each refused construct, placed in every prose field, gives one located line per field in one run."""
    prose_fields: list[int] = []

    def prose(n: int) -> str:
        prose_fields.append(n)
        return f"Some text {payload} and more."

    hostile_curriculum(tmp_path, lambda n: f"A title {n}", prose)
    with pytest.raises(CurriculumError) as caught:
        load_curriculum(tmp_path)
    problems = caught.value.problems
    assert len(problems) == len(prose_fields), "\n".join(map(str, problems))
    for problem in problems:
        assert problem.line > 1 and problem.col > 1
        assert (
            "curriculum text may not contain" in problem.message
            or "not an http(s) address" in problem.message
        )
        assert "\n" not in str(problem)


class _Page(html.parser.HTMLParser):
    """Everything of a page that could carry markup: elements, attributes, comments, script and style bodies."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.comments: list[str] = []
        self.raw: dict[str, list[str]] = {"script": [], "style": []}
        self.text: list[str] = []
        self.title = ""
        self._in: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))
        self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._in:
            while self._in.pop() != tag:
                pass

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    def handle_data(self, data: str) -> None:
        where = self._in[-1] if self._in else ""
        if where in self.raw:
            self.raw[where].append(data)
        else:
            self.text.append(data)
        if where == "title":
            self.title += data


MARKERS = ("alert(", "display:none", "/etc/passwd", "evaluated", "javascript:", "--8<--")
"""What only a payload holds: none of it may reach a comment, a script or a style."""
THEME_SHARE_LINK = "javascript:void(0)"
"""The theme's own 'share search' button (overrides/partials/search.html keeps it): not from the data."""
URL_ATTRIBUTES = {
    "href",
    "src",
    "srcdoc",
    "action",
    "formaction",
    "xlink:href",
    "data",
    "poster",
    "background",
}


def assert_inert(page: _Page, where: str) -> None:
    for tag, attrs in page.elements:
        assert tag not in ("iframe", "object", "embed", "base", "details") or tag == "details", (where, tag)
        for name, value in attrs:
            assert not name.startswith("on"), (where, tag, name, value)
            if name in URL_ATTRIBUTES and value and value != THEME_SHARE_LINK:
                scheme = value.strip().lower().split(":", 1)[0]
                assert scheme not in ("javascript", "data", "vbscript"), (where, tag, name, value)
            if name == "style":
                assert "alert" not in (value or "") and "display:none" not in (value or ""), (where, tag)
        if tag == "svg":
            assert all(not n.startswith("on") for n, _ in attrs), where
    for body in page.comments + page.raw["script"] + page.raw["style"]:
        assert not any(marker in body for marker in MARKERS), (where, body[:200])
    assert any(tag == "footer" for tag, _ in page.elements), f"{where}: the page was cut short"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("hostile")
    curriculum = tmp / "curriculum"
    hostile_curriculum(curriculum, unique_title, lambda n: PROSE_ALLOWED)
    site = tmp / "site"
    result = mkdocs_build(site_config(tmp, curriculum), site, env={"LLM_PATH_NOTEBOOKS": "false"})
    assert result.returncode == 0, result.stderr + result.stdout
    return site


def html_pages(site: Path) -> Iterator[Path]:
    yield from sorted(site.rglob("*.html"))


def test_no_page_carries_a_payload_as_markup(hostile_site: Path) -> None:
    """Every HTML page of the strict build: no injected element, handler, URL, style, comment or script."""
    pages = list(html_pages(hostile_site))
    assert len(pages) >= 10
    for path in pages:
        parsed = _Page()
        parsed.feed(path.read_text(encoding="utf-8"))
        assert_inert(parsed, str(path.relative_to(hostile_site)))


def test_titles_show_as_text_in_title_header_navigation_and_footer(hostile_site: Path) -> None:
    """The payload reads back verbatim as text in <title>, the page heading and the navigation; no template ran."""
    parsed = _Page()
    parsed.feed((hostile_site / "topics/attention/index.html").read_text(encoding="utf-8"))
    assert parsed.title.startswith(TITLE + " #"), parsed.title
    text = "".join(parsed.text)
    assert text.count(TITLE) >= 4, "heading, header, navigation and footer show the title as typed"
    assert "evaluated" not in text.replace("{% if true %}evaluated{% endif %}", ""), (
        "a template was evaluated"
    )
    metas = [dict(attrs) for tag, attrs in parsed.elements if tag == "meta"]
    description = next(m for m in metas if m.get("name") == "description")
    assert set(description) == {"name", "content"}
    assert "<script>alert(301)</script>" in (description["content"] or "")


def test_allowed_prose_renders_inertly(hostile_site: Path) -> None:
    """Code stays code, entities stay text, maths is MathML, links are http(s), nothing starts a block."""
    page = (hostile_site / "topics/attention/index.html").read_text(encoding="utf-8")
    assert "<code>&lt;script&gt;alert(301)&lt;/script&gt;</code>" in page
    assert '<a href="https://example.org/a_b" rel="noopener">a link</a>' in page
    assert "<em>em</em>" in page
    assert "&lt;img src=x onerror=alert(302)&gt;" in page


def test_search_index_holds_only_text_markup(hostile_site: Path) -> None:
    """The theme renders search results as HTML: the index may hold text and a few attribute-less tags, nothing else."""
    index = json.loads((hostile_site / "search/search_index.json").read_text(encoding="utf-8"))
    allowed = {"p", "code", "pre", "li", "ol", "ul", "strong", "em", "table", "thead", "tbody", "tr", "th", "td",
               "dl", "dt", "dd", "blockquote", "span", "b", "i", "sup", "sub", "kbd", "mark", "del", "ins", "s", "u"}  # fmt: skip
    for doc in index["docs"]:
        for field in ("title", "text"):
            parsed = _Page()
            parsed.feed(doc[field])
            for tag, attrs in parsed.elements:
                assert tag in allowed and not attrs, (doc["location"], tag, attrs)
            assert not parsed.comments, doc["location"]


def test_flashcard_data_holds_only_sanitised_html(hostile_site: Path) -> None:
    """The drill inserts questions and answers as HTML: only the prose subset's tags reach it."""
    for card in json.loads((hostile_site / "data/cards.json").read_text(encoding="utf-8")):
        for field in ("question_html", "answer_html"):
            parsed = _Page()
            parsed.feed(card[field])
            for tag, attrs in parsed.elements:
                assert tag in ("em", "strong", "code", "a") or tag.startswith("m"), tag
                assert all(not name.startswith("on") and name != "style" for name, _ in attrs)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


CLICK_EVERY_LINK = """() => {
  // Following a link would end the check; its click handlers, and a javascript: URL if one slipped through, still run.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (link && !link.href.startsWith("javascript:")) event.preventDefault();
  }, true);
  const links = [...document.querySelectorAll("a[href]")];
  links.forEach((link) => link.click());
  return links.length;
}"""
WORST_PAGES = ["", "phases/foundations/", "topics/attention/", "topics/linear-algebra/", "glossary/",
               "resources/", "reading-list/", "advice/", "plan/"]  # fmt: skip


@pytest.mark.browser
def test_no_payload_runs_in_chromium_when_links_and_summaries_are_clicked(
    hostile_site: Path, chromium: Any
) -> None:
    """Load each page, open every question, focus every glossary tip and click every link: no dialog ever opens.

    Links are clicked in the page with their navigation cancelled, so every one is tried on the page that holds it.
    """
    dialogs: list[str] = []
    with serve(hostile_site) as base:
        context = chromium.new_context()
        context.route(
            "**/*",
            lambda route: (
                route.continue_()
                if urlparse(route.request.url).hostname == "127.0.0.1"
                or route.request.url.startswith("data:")
                else route.abort()
            ),
        )
        context.on("page", lambda new: new.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))
        page = context.new_page()
        page.set_default_timeout(10000)
        for path in WORST_PAGES:
            page.goto(base + path)
            for summary in page.locator("details > summary").all()[:40]:
                summary.click()
            for term in page.locator(".lp-term").all()[:20]:
                term.focus()
            clicked = page.evaluate(CLICK_EVERY_LINK)
            assert clicked > 0, path
            page.wait_for_timeout(100)
        context.close()
    assert dialogs == []
