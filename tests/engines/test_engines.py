"""One build, any engine: the fixture site built by MkDocs, ProperDocs and Zensical holds the same site.

Each engine builds the same source for real in tmp_path (strict); the results are compared page by
page, and each site is loaded in Chromium, where its search answers and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import BIN, FIXTURES, mkdocs_build, site_config
from playwright import sync_api as playwright_api

ENGINES = ("mkdocs", "properdocs", "zensical")


def build(engine: str, tmp: Path, config: Path) -> Path:
    """Build the fixture with `engine`; return the site folder."""
    site = tmp / f"site-{engine}"
    if engine == "mkdocs":
        result = mkdocs_build(config, site)
    elif engine == "properdocs":
        result = subprocess.run(
            [str(BIN / "properdocs"), "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
            capture_output=True, text=True, cwd=tmp, timeout=600, check=False,
        )  # fmt: skip
    else:
        source = tmp / "source"
        render = subprocess.run(
            [str(BIN / "llm-path"), "render", str(source), "--config", str(config)],
            capture_output=True, text=True, cwd=tmp, timeout=600, check=False,
        )  # fmt: skip
        assert render.returncode == 0, render.stderr
        assert " executed in " not in render.stderr, "render reuses the notebooks the MkDocs build executed"
        result = subprocess.run(
            [str(BIN / "zensical"), "build", "--strict", "--clean", "--config-file", "zensical.toml"],
            capture_output=True, text=True, cwd=source, timeout=600, check=False,
        )  # fmt: skip
        if result.returncode == 0:
            shutil.copytree(source / "site", site)
    assert result.returncode == 0, f"{engine}: {result.stderr}{result.stdout}"
    return site


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("engines")
    curriculum = tmp / "curriculum"
    shutil.copytree(FIXTURES / "curriculum", curriculum)
    config = site_config(tmp, curriculum)
    return {engine: build(engine, tmp, config) for engine in ENGINES}


def pages(site: Path) -> set[str]:
    return {p.relative_to(site).as_posix() for p in site.rglob("*.html")}


def test_every_engine_builds_the_same_pages(sites: dict[str, Path]) -> None:
    """The same HTML pages, from the home page to each notebook and the 404 page."""
    expected = pages(sites["mkdocs"])
    assert {
        "index.html",
        "topics/attention/index.html",
        "notebooks/linear-algebra/index.html",
        "notebooks/index.html",
    } <= expected
    for engine in ENGINES[1:]:
        assert pages(sites[engine]) == expected, engine


def test_notebook_outputs_figures_and_download_in_every_engine(sites: dict[str, Path]) -> None:
    """The executed notebook's printed output, its figure as a file and its .ipynb are there in each site."""
    for engine, site in sites.items():
        page = (site / "notebooks/linear-algebra/index.html").read_text(encoding="utf-8")
        assert "a . b =" in page and "32.0" in page, engine
        figures = list((site / "notebooks/linear-algebra").glob("figure-*.png"))
        assert len(figures) == 1 and f'src="{figures[0].name}"' in page, engine
        assert (site / "notebooks/linear-algebra/linear-algebra.ipynb").is_file(), engine
        toc = re.search(r'aria-label="(?:Table of contents|On this page)".*?</nav>', page, re.DOTALL)
        assert toc and "The components of <math" in toc.group(0), f"{engine}: maths in the table of contents"


def count(pattern: str, text: str) -> int:
    return len(re.findall(pattern, text))


def test_maths_tips_and_edit_links_agree_across_engines(sites: dict[str, Path]) -> None:
    """A topic page has as many MathML formulas and glossary tips in every engine, and its edit link."""
    reference = (sites["mkdocs"] / "topics/linear-algebra/index.html").read_text(encoding="utf-8")
    maths, tips = count(r"<math\b", reference), count(r'class="lp-term"', reference)
    assert maths > 0 and tips > 0
    for engine, site in sites.items():
        page = (site / "topics/linear-algebra/index.html").read_text(encoding="utf-8")
        assert (count(r"<math\b", page), count(r'class="lp-term"', page)) == (maths, tips), engine
        assert (
            "https://github.com/llm-path/llm-path/edit/main/curriculum/topics/linear-algebra.yml" in page
        ), engine
        assert "arithmatex" not in page, f"{engine}: LaTeX left unrendered"


def test_every_engine_writes_a_search_index(sites: dict[str, Path]) -> None:
    """MkDocs and ProperDocs write search/search_index.json, Zensical search.json; each lists the topic pages."""
    for engine, site in sites.items():
        index = site / ("search.json" if engine == "zensical" else "search/search_index.json")
        assert index.is_file() and "Attention mechanisms" in index.read_text(encoding="utf-8"), engine


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is required: apt-get install chromium"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.mark.browser
@pytest.mark.parametrize("engine", ENGINES)
def test_search_answers_in_chromium_and_nothing_leaves_the_machine(
    sites: dict[str, Path], chromium: Any, engine: str
) -> None:
    """Typing a topic's title into the search box lists that topic; every request stays on 127.0.0.1."""
    outside: list[str] = []
    with serve(sites[engine]) as base:
        context = chromium.new_context()

        def guard(route: Any) -> None:
            url = route.request.url
            if urlparse(url).hostname == "127.0.0.1" or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                outside.append(url)
                route.abort()

        context.route("**/*", guard)
        page = context.new_page()
        page.set_default_timeout(20000)
        page.goto(base + "topics/linear-algebra/")
        if engine == "zensical":  # its search is a dialog in a shadow root, which Playwright's locators enter
            page.locator(".md-search__button").first.click()
            page.locator("dialog input[aria-label='Search']").press_sequentially("attention", delay=20)
            result = page.locator("dialog a[href]").first
        else:
            page.locator("label.md-search__icon, .md-search__input").first.click()
            page.locator(".md-search__input").press_sequentially("attention", delay=20)
            result = page.locator(".md-search-result__item a").first
        result.wait_for()
        assert "/topics/attention/" in (result.get_attribute("href") or ""), engine
        page.goto(base + "notebooks/linear-algebra/")
        page.wait_for_load_state("networkidle")
        context.close()
    assert outside == [], f"{engine}: requests left the machine: {outside}"
