"""Benchmark: bytes of each page type and of the search index, and what the search index holds.

    .venv/bin/python benchmarks/page_weight.py [--site DIR] [--no-search-check]

Builds the real site with every notebook (or reads an already built one with --site), then
prints raw and gzip bytes of each page type's HTML (images not counted), the shared CSS and
JavaScript a first visit loads, the largest inline <style> and <script> per page, and the
search index: its size, the share that comes from notebook pages, the share that is notebook
output, and execution noise (prompt numbers, "Copied!", pilcrows). The baseline is the naive
build measured in issue 8: 668 KB for a page with one small notebook. Unless told not to, it
also searches every topic's title in a real Chromium and checks the topic comes first.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import tempfile
from pathlib import Path

from common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    build_project_site,
    gzip_size,
    kilobytes,
    page_types,
    serve,
    table,
)

from llm_path.load import load_curriculum

NAIVE_NOTEBOOK_PAGE = 668_000
"""Issue 8: a page with one small executed notebook in a stock mkdocs-material + mkdocs-jupyter site."""
NOTEBOOK_BUDGET = (100_000, 40_000)
INLINE_BUDGET = 4_000
"""'No inline style block over a few KB': the JupyterLab theme was 574 KB inline on every notebook page."""
STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
ASSET = re.compile(r'<link rel="stylesheet" href="([^"]+)"|<script[^>]*\bsrc="([^"]+)"')
OUTPUT = re.compile(r'<div class="jp-OutputArea-output"[^>]*>(.*?)</div>', re.DOTALL)
NOISE = {
    "prompt numbers": re.compile(r"\b(?:In|Out)\s*\[\s*\d*\s*\]:?|\[\d+\]:"),
    '"Copied!"': re.compile(r"Copied!"),
    "pilcrows": re.compile("¶"),
}


def weigh(page: Path) -> tuple[int, int, int, int]:
    """Raw and gzip bytes of a page, and its largest inline style and script blocks."""
    data = page.read_bytes()
    text = data.decode("utf-8")
    largest_style = max((len(m) for m in STYLE.findall(text)), default=0)
    largest_script = max((len(m) for m in SCRIPT.findall(text)), default=0)
    return len(data), gzip_size(data), largest_style, largest_script


def page_rows(site: Path) -> tuple[list[tuple[object, ...]], dict[str, int]]:
    """A row per page type (notebook pages: the first, the median and the largest) and the notebook figures."""
    rows: list[tuple[object, ...]] = []
    for kind, path in page_types(site).items():
        raw, packed, style, script = weigh(site / path / "index.html")
        rows.append((f"{kind} ({path or '/'})", kilobytes(raw), kilobytes(packed), style, script))
    notebooks = sorted((weigh(p), p.parent.name) for p in (site / "notebooks").glob("*/index.html"))
    figures: dict[str, int] = {}
    if notebooks:
        median = notebooks[len(notebooks) // 2]
        largest = notebooks[-1]
        for label, ((raw, packed, style, script), name) in (("median", median), ("largest", largest)):
            rows.append(
                (
                    f"notebook, {label} of {len(notebooks)} ({name})",
                    kilobytes(raw),
                    kilobytes(packed),
                    style,
                    script,
                )
            )
        figures = {"largest raw": largest[0][0], "largest gzip": max(n[0][1] for n in notebooks)}
        figures["median raw"] = median[0][0]
    return rows, figures


def asset_rows(site: Path) -> list[tuple[object, ...]]:
    """The CSS and JavaScript files the home page loads, which every page shares (and caches)."""
    home = (site / "index.html").read_text(encoding="utf-8")
    rows: list[tuple[object, ...]] = []
    for css, js in ASSET.findall(home):
        url = (css or js).split("?", 1)[0]
        path = site / url
        if path.is_file():
            data = path.read_bytes()
            rows.append((url, kilobytes(len(data)), kilobytes(gzip_size(data))))
    return rows


def normalise(text: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def search_report(site: Path) -> list[str]:
    """Size of the search index, how much of it comes from notebooks and their outputs, and noise."""
    data = (site / "search" / "search_index.json").read_bytes()
    docs = json.loads(data)["docs"]
    texts = [(d["location"], normalise(d["title"] + " " + d["text"])) for d in docs]
    total = sum(len(t) for _, t in texts) or 1
    notebook_chars = sum(len(t) for location, t in texts if location.startswith("notebooks/"))
    index_text = "\n".join(t for _, t in texts)
    outputs = set()
    for page in (site / "notebooks").glob("*/index.html"):
        for block in OUTPUT.findall(page.read_text(encoding="utf-8")):
            outputs.update(
                line for line in (normalise(x) for x in html.unescape(block).splitlines()) if len(line) >= 12
            )
    output_chars = sum(len(line) * index_text.count(line) for line in outputs)
    lines = [
        f"search index: {kilobytes(len(data))} raw, {kilobytes(gzip_size(data))} gzip, {len(docs)} entries",
        f"text from notebook pages: {100 * notebook_chars / total:.1f}% of the index's text (their prose; code and outputs are excluded)",
        f"notebook output text in the index: {100 * output_chars / total:.2f}% ({len(outputs)} distinct output lines checked)",
    ]
    for name, pattern in NOISE.items():
        lines.append(f"{name} in the index: {sum(len(pattern.findall(t)) for _, t in texts)}")
    return lines


def search_check(site: Path) -> tuple[int, int, list[str]]:
    """Type each topic's title into the site's search in Chromium; count the topics that come first."""
    from playwright.sync_api import sync_playwright

    curriculum = load_curriculum(ROOT / "curriculum")
    misses = []
    with serve(site, compress=True) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url)
        page.locator("label.md-search__icon, .md-search__input").first.click()
        search = page.locator(".md-search__input")
        for topic in curriculum.ordered_topics():
            search.fill("")
            search.press_sequentially(topic.title, delay=5)
            first = page.locator(".md-search-result__item").first
            first.wait_for()
            page.wait_for_timeout(300)  # results settle as the last keystrokes arrive
            href = first.locator("a").first.get_attribute("href") or ""
            if not re.split(r"[?#]", href, maxsplit=1)[0].endswith(f"topics/{topic.id}/"):
                misses.append(f"{topic.title!r}: first result {href}")
        browser.close()
    total = len(curriculum.topics)
    return total - len(misses), total, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="an already built site to weigh instead of building one")
    parser.add_argument(
        "--no-search-check", action="store_true", help="skip searching each topic in Chromium"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llm-path-page-weight-") as tmp:
        site = args.site or Path(tmp) / "site"
        if not args.site:
            build_project_site(site)
        rows, notebook = page_rows(site)
        print(table(["page type", "raw", "gzip", "largest <style>", "largest inline <script>"], rows))
        print("\nshared by every page (cached after the first):")
        print(table(["asset", "raw", "gzip"], asset_rows(site)))
        print()
        print("\n".join(search_report(site)))
        found, misses = None, []
        if not args.no_search_check:
            found, total, misses = search_check(site)
            print(f"topics found first when searching their title: {found}/{total}")
            for miss in misses:
                print("  ", miss)
        inline = max(max(r[3], r[4]) for r in rows)  # type: ignore[call-overload]

    print(f"\nbaseline (issue 8, naive build): a notebook page of {kilobytes(NAIVE_NOTEBOOK_PAGE)}")
    ok = inline <= INLINE_BUDGET
    if notebook:
        raw, packed = notebook["largest raw"], notebook["largest gzip"]
        print(
            f"largest notebook page / naive: {raw / NAIVE_NOTEBOOK_PAGE:.2f}; median / naive: "
            f"{notebook['median raw'] / NAIVE_NOTEBOOK_PAGE:.2f} "
            f"(budget: at most {kilobytes(NOTEBOOK_BUDGET[0])} raw, {kilobytes(NOTEBOOK_BUDGET[1])} gzip)"
        )
        ok = ok and raw <= NOTEBOOK_BUDGET[0] and packed <= NOTEBOOK_BUDGET[1]
    print(f"largest inline block on any page type: {inline} bytes (budget: at most {INLINE_BUDGET})")
    if found is not None:
        ok = ok and not misses
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
