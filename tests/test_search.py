"""Search on the real curriculum finds a topic by its own words, in the site's own search box in Chromium.

The site is built without notebooks (LLM_PATH_NOTEBOOKS=false), so every hit counted is a topic page.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import ROOT, mkdocs_build
from playwright import sync_api as playwright_api

from llm_path.curriculum.load import load_curriculum
from llm_path.curriculum.model import Curriculum

pytestmark = pytest.mark.browser

SEARCH = """async (query) => {
  const input = document.querySelector('.md-search__input');
  const list = document.querySelector('.md-search-result__list');
  const meta = document.querySelector('.md-search-result__meta');
  for (const item of list.children) item.dataset.stale = '1';
  input.value = query;
  input.dispatchEvent(new KeyboardEvent('keyup'));
  const start = performance.now();
  while (performance.now() - start < 10000) {
    await new Promise(resolve => setTimeout(resolve, 10));
    const first = list.firstElementChild;
    if (first && !first.dataset.stale) break;
    if (!first && /No matching/.test(meta.textContent)) break;
  }
  await new Promise(resolve => setTimeout(resolve, 0));
  return Array.from(list.children).map(item =>
    Array.from(item.querySelectorAll('a.md-search-result__link')).map(a => a.href));
}"""
"""Type a query the way the theme listens for it (keyup) and return each result's links, page first."""


@pytest.fixture(scope="module")
def real() -> Curriculum:
    return load_curriculum(ROOT / "curriculum")


@pytest.fixture(scope="module")
def search(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """A function from a query to the results' links, on the real site in Chromium."""
    site = tmp_path_factory.mktemp("search") / "site"
    result = mkdocs_build(ROOT / "mkdocs.yml", site, {"LLM_PATH_NOTEBOOKS": "false"})
    assert result.returncode == 0, result.stderr
    with serve(site) as url, playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.locator(".md-search__input").click()
        page.locator(".md-search__input").press_sequentially("a")
        page.locator(".md-search-result__item").first.wait_for()

        def run(query: str) -> list[list[str]]:
            return [[link.removeprefix(url) for link in item] for item in page.evaluate(SEARCH, query)]

        yield run
        browser.close()


def _page(link: str) -> str:
    return urlsplit(link).path


def test_a_topics_title_finds_the_topic_first(real: Curriculum, search: object) -> None:
    """Searching each topic's title puts its topic page first."""
    wrong = {}
    for topic in real.ordered_topics():
        results = search(topic.title)
        if not results or _page(results[0][0]) != f"topics/{topic.id}/":
            wrong[topic.title] = [_page(r[0]) for r in results[:3]]
    assert wrong == {}


def test_each_key_concept_finds_its_topic_in_the_top_three(real: Curriculum, search: object) -> None:
    """Searching each key concept of a topic lists that topic (or its notebook) among the first three pages."""
    missed = {}
    checked = 0
    for topic in real.ordered_topics():
        own = {f"topics/{topic.id}/", f"notebooks/{topic.id}/"}
        for concept in topic.key_concepts:
            checked += 1
            pages = [_page(result[0]) for result in search(concept.term)[:3]]
            if not own & set(pages):
                missed[f"{topic.id}: {concept.term}"] = pages
    assert checked > 100 and missed == {}


def test_no_result_links_with_an_empty_highlight(real: Curriculum, search: object) -> None:
    """Every result link says what to highlight on the page it opens: no empty ?h=."""
    empty = []
    for query in ["SVD", "learning rate", "softmax", "attention", real.ordered_topics()[3].title]:
        for result in search(query):
            for link in result:
                highlight = parse_qs(urlsplit(link).query, keep_blank_values=True).get("h")
                if highlight is not None and not highlight[0].strip():
                    empty.append(f"{query}: {link}")
    assert empty == []
