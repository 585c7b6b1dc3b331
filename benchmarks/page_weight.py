"""Benchmark: bytes of each page type and of the search index, and what the search index holds.

    .venv/bin/python benchmarks/page_weight.py [--site DIR] [--no-baseline] [--no-search-check]

Builds the real site with every notebook (or reads an already built one with --site), then
prints raw and gzip bytes of each page type's HTML before its images, the shared CSS and
JavaScript a first visit loads, the largest inline <style> and <script> per page, and the
search index: its size, the share that comes from notebook pages, the share that is notebook
output, and execution noise (prompt numbers, "Copied!", pilcrows). The baseline is the naive
build of issue 8 (benchmarks/naive.py), built in the same run from the same material: each
page type is weighed against its naive counterpart. Unless told not to, it also searches
every topic's title in a real Chromium and checks the topic comes first.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from common import (
    CHROMIUM,
    CHROMIUM_ARGS,
    ROOT,
    gzip_size,
    kilobytes,
    page_types,
    serve,
    table,
)
from naive import add_site_arguments, sites_to_measure

from llm_path.curriculum.load import load_curriculum

NOTEBOOK_BUDGET = (100_000, 40_000)
INLINE_BUDGET = 4_000
"""'No inline style block over a few KB': the JupyterLab theme was 574 KB inline on every notebook page."""
STYLE = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)
SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
ASSET = re.compile(r'<link rel="stylesheet" href="([^"]+)"|<script[^>]*\bsrc="([^"]+)"')
OUTPUT = re.compile(
    r'<div class="[^"]*\b(?:jp-OutputArea-output|lp-output)\b[^"]*"[^>]*>(.*?)</div>', re.DOTALL
)
NOISE = {
    "prompt numbers": re.compile(r"\b(?:In|Out)\s*\[\s*\d*\s*\]:?|\[\d+\]:"),
    '"Copied!"': re.compile(r"Copied!"),
    "pilcrows": re.compile("¶"),
}


EMBEDDED_IMAGE = re.compile(rb"data:image/[a-z+]+;base64,[A-Za-z0-9+/=\s]+")
"""mkdocs-jupyter embeds figures in the page; the budgets count HTML before images."""


def weigh(page: Path) -> tuple[int, int, int, int]:
    """Raw and gzip bytes of a page before its images, and its largest inline style and script blocks."""
    data = EMBEDDED_IMAGE.sub(b"data:", page.read_bytes())
    text = data.decode("utf-8")
    largest_style = max((len(m) for m in STYLE.findall(text)), default=0)
    largest_script = max((len(m) for m in SCRIPT.findall(text)), default=0)
    return len(data), gzip_size(data), largest_style, largest_script


def page_rows(site: Path, naive: Path | None) -> tuple[list[tuple[object, ...]], dict[str, float]]:
    """A row per page type (notebook pages: the first, the median and the largest), each beside its naive
    counterpart when there is one, and the figures the budgets are about."""
    pages = [(f"{kind} ({path or '/'})", path) for kind, path in page_types(site).items()]
    weights = {p.parent.name: weigh(p) for p in (site / "notebooks").glob("*/index.html")}
    by_size = sorted(weights, key=lambda name: weights[name][0])
    if by_size:
        for label, name in (("median", by_size[len(by_size) // 2]), ("largest", by_size[-1])):
            pages.append((f"notebook, {label} of {len(by_size)} ({name})", f"notebooks/{name}/"))
    rows: list[tuple[object, ...]] = []
    ratios: dict[str, float] = {}
    for label, path in pages:
        raw, packed, style, script = weigh(site / path / "index.html")
        naive_page = naive / path / "index.html" if naive else None
        if naive_page and naive_page.is_file():
            naive_raw, naive_packed, naive_style, _ = weigh(naive_page)
            ratios[label] = raw / naive_raw
            compared = (kilobytes(naive_raw), kilobytes(naive_packed), naive_style, f"{raw / naive_raw:.2f}")
        else:
            compared = ("-", "-", "-", "-")
        rows.append((label, kilobytes(raw), kilobytes(packed), style, script, *compared))
    figures: dict[str, float] = {}
    if weights:
        figures = {
            "largest raw": max(w[0] for w in weights.values()),
            "largest gzip": max(w[1] for w in weights.values()),
            "largest inline": max(max(w[2], w[3]) for w in weights.values()),
        }
    return rows, {**figures, **{f"ratio {k}": v for k, v in ratios.items()}}


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


def search_report(site: Path) -> dict[str, str]:
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
    report = {
        "search index, raw": kilobytes(len(data)),
        "search index, gzip": kilobytes(gzip_size(data)),
        "entries": str(len(docs)),
        "text from notebook pages": f"{100 * notebook_chars / total:.1f}%",
        "notebook output text": f"{100 * output_chars / total:.2f}%",
        "distinct notebook output lines looked for": str(len(outputs)),
    }
    for name, pattern in NOISE.items():
        report[name] = str(sum(len(pattern.findall(t)) for _, t in texts))
    return report


def first_result_for(page: Any, query: str, seconds: float = 10.0) -> str:
    """The first search result's address once the results are the query's, not the last query's.

    Each result links with `?h=` and the words searched for, so a list still showing the previous
    title's results (the search runs after the keystrokes, later on a loaded machine) is told
    apart from the answer; waiting is bounded.
    """
    words = set(re.findall(r"[a-z0-9]+", query.lower()))
    deadline = time.monotonic() + seconds
    href = ""
    while time.monotonic() < deadline:
        first = page.locator(".md-search-result__item a").first
        if first.count():
            href = first.get_attribute("href") or ""
            searched = parse_qs(urlsplit(href).query).get("h", [""])[0]
            if set(re.findall(r"[a-z0-9]+", searched.lower())) <= words and searched:
                return href
        page.wait_for_timeout(100)
    return href


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
            href = first_result_for(page, topic.title)
            if not re.split(r"[?#]", href, maxsplit=1)[0].endswith(f"topics/{topic.id}/"):
                misses.append(f"{topic.title!r}: first result {href}")
        browser.close()
    total = len(curriculum.topics)
    return total - len(misses), total, misses


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_site_arguments(parser)
    parser.add_argument(
        "--no-search-check", action="store_true", help="skip searching each topic in Chromium"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llm-path-page-weight-") as tmp:
        site, naive = sites_to_measure(args, Path(tmp))
        rows, figures = page_rows(site, naive)
        headers = ["page type", "raw", "gzip", "largest <style>", "largest inline <script>"]
        headers += ["naive raw", "naive gzip", "naive largest <style>", "raw / naive"]
        print(table(headers, rows))
        print("\nshared by every page (cached after the first):")
        print(table(["asset", "raw", "gzip"], asset_rows(site)))
        ours = search_report(site)
        theirs = search_report(naive) if naive else {}
        print()
        print(
            table(
                ["search index", "this site", "naive"], [(k, v, theirs.get(k, "-")) for k, v in ours.items()]
            )
        )
        found, misses = None, []
        if not args.no_search_check:
            found, total, misses = search_check(site)
            line = f"topics found first when searching their title: {found}/{total}"
            if naive:
                line += f" (naive: {search_check(naive)[0]}/{total})"
            print(line)
            for miss in misses:
                print("  ", miss)

    ok = True
    if figures:
        raw, packed, inline = figures["largest raw"], figures["largest gzip"], figures["largest inline"]
        print(
            f"\nlargest notebook page: {kilobytes(int(raw))} raw, {kilobytes(int(packed))} gzip before images "
            f"(budget: at most {kilobytes(NOTEBOOK_BUDGET[0])} raw, {kilobytes(NOTEBOOK_BUDGET[1])} gzip)"
        )
        print(
            f"largest inline block on a notebook page: {inline:.0f} bytes (budget: at most {INLINE_BUDGET})"
        )
        ok = raw <= NOTEBOOK_BUDGET[0] and packed <= NOTEBOOK_BUDGET[1] and inline <= INLINE_BUDGET
    inline = max(max(r[3], r[4]) for r in rows)  # type: ignore[call-overload]
    print(f"largest inline block on any page type: {inline} bytes (budget: at most {INLINE_BUDGET})")
    ratios = {k.removeprefix("ratio "): v for k, v in figures.items() if k.startswith("ratio ")}
    if ratios:
        print("raw bytes / naive: " + "; ".join(f"{k.split(' (')[0]} {v:.2f}" for k, v in ratios.items()))
    ok = ok and inline <= INLINE_BUDGET
    if found is not None:
        ok = ok and not misses
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
