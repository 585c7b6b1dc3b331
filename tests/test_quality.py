"""Quality budgets on the fixture site: Lighthouse accessibility, best practices and SEO, axe in the dark scheme, page weight.

Lighthouse's performance score depends on the machine and is measured in benchmarks/lighthouse.py;
the scores checked here are deterministic.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import CHROMIUM, CHROMIUM_ARGS, serve
from conftest import FIXTURES, ROOT, build_site

LIGHTHOUSE = ROOT / ".llm-path-cache" / "node" / "node_modules" / ".bin" / "lighthouse"
INSTALL = "npm install --prefix .llm-path-cache/node lighthouse"
CATEGORIES = ("accessibility", "best-practices", "seo")
PAGES = {
    "home": "",
    "phase": "phases/foundations/",
    "phase-2": "phases/transformers/",
    "topic": "topics/linear-algebra/",
    "notebook": "notebooks/linear-algebra/",
    "resources": "resources/",
    "plan": "plan/",
    "glossary": "glossary/",
    "advice": "advice/",
    "reading-list": "reading-list/",
    "hand-written": "how-it-works/",
}
"""Every page type, and every phase page (the fixture has two)."""
NOTEBOOK_BUDGET = 100_000
NOTEBOOK_GZIP_BUDGET = 40_000
INLINE_BUDGET = 4_000
INLINE_BLOCK = re.compile(r"<(style|script)\b(?![^>]*\bsrc=)[^>]*>(.*?)</\1>", re.DOTALL | re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(tmp_path_factory.mktemp("quality"), FIXTURES / "curriculum")


@pytest.fixture(scope="module")
def site_url(site: Path) -> Iterator[str]:
    with serve(site) as url:
        yield url


def lighthouse(url: str, categories: tuple[str, ...] = CATEGORIES) -> dict[str, Any]:
    """One Lighthouse run (mobile preset) of the deterministic categories; the report as JSON."""
    if not LIGHTHOUSE.exists():
        pytest.fail(f"Lighthouse is not installed; run `{INSTALL}` in {ROOT} (Node.js and npm are needed)")
    result = subprocess.run(
        [
            str(LIGHTHOUSE),
            url,
            "--quiet",
            "--output=json",
            "--output-path=stdout",
            f"--only-categories={','.join(categories)}",
            f"--chrome-flags={' '.join(CHROMIUM_ARGS)}",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "CHROME_PATH": CHROMIUM},
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.browser
@pytest.mark.parametrize("kind", PAGES)
def test_lighthouse_scores_accessibility_best_practices_and_seo_100(site_url: str, kind: str) -> None:
    """Lighthouse gives each page type 100 for accessibility, best practices and SEO."""
    report = lighthouse(site_url + PAGES[kind])
    audits = report["audits"]
    lost = [
        f"{category}: {ref['id']}: {audits[ref['id']]['title']}"
        for category in CATEGORIES
        for ref in report["categories"][category]["auditRefs"]
        if ref["weight"] and (audits[ref["id"]]["score"] is not None and audits[ref["id"]]["score"] < 1)
    ]
    assert lost == []
    assert {c: report["categories"][c]["score"] for c in CATEGORIES} == dict.fromkeys(CATEGORIES, 1)


@pytest.mark.browser
def test_lighthouse_scores_the_404_page_100_for_accessibility(site_url: str) -> None:
    """The page a missing address gets is as accessible as the rest. Lighthouse refuses to audit a 404 response,
    so it audits the same page at its own address; its search and links are absolute, so it is the same page."""
    report = lighthouse(site_url + "404.html", ("accessibility",))
    audits = report["audits"]
    lost = [
        ref["id"]
        for ref in report["categories"]["accessibility"]["auditRefs"]
        if ref["weight"] and audits[ref["id"]]["score"] is not None and audits[ref["id"]]["score"] < 1
    ]
    assert lost == [] and report["categories"]["accessibility"]["score"] == 1


@pytest.mark.browser
@pytest.mark.parametrize("kind", PAGES)
def test_no_accessibility_violations_in_the_dark_scheme(site_url: str, kind: str) -> None:
    """axe-core finds no violation of any impact on each page type when the reader prefers dark pages."""
    import axe_playwright_python
    from playwright import sync_api as playwright_api

    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_context(color_scheme="dark").new_page()
        page.goto(site_url + PAGES[kind])
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.body.dataset.mdColorScheme") == "slate"
        page.add_script_tag(path=str(Path(axe_playwright_python.__file__).parent / "axe.min.js"))
        result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
        browser.close()
    found = [f"{v['id']}: {v['help']}: {[n['target'] for n in v['nodes']][:3]}" for v in result["violations"]]
    assert found == []


def test_notebook_page_fits_its_weight_budget(site: Path) -> None:
    """A notebook page's HTML is at most 100 KB, 40 KB gzip-compressed, with its figures as files."""
    data = (site / PAGES["notebook"] / "index.html").read_bytes()
    assert len(data) <= NOTEBOOK_BUDGET
    assert len(gzip.compress(data, compresslevel=6)) <= NOTEBOOK_GZIP_BUDGET
    assert b"base64," not in data


def test_no_page_inlines_a_large_style_or_script(site: Path) -> None:
    """No page carries an inline <style> or <script> of more than a few KB: shared CSS and JS are cached files."""
    large = [
        f"{page.relative_to(site)}: <{match.group(1)}> of {len(match.group(2))} bytes"
        for page in site.rglob("*.html")
        for match in INLINE_BLOCK.finditer(page.read_text(encoding="utf-8"))
        if len(match.group(2)) > INLINE_BUDGET
    ]
    assert large == []
