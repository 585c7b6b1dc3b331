"""Benchmark: axe-core on every page of the real site, in the light and the dark colour scheme.

    .venv/bin/python benchmarks/accessibility.py [--site DIR] [--no-baseline]

The tests scan one page of each type built from the fixture curriculum; this scans every
page the real curriculum produces (each phase, topic and notebook, the glossary, the plan...)
in Debian's Chromium, served from 127.0.0.1. Budget: no violation of any impact.
Baseline: the naive build of issue 8 (benchmarks/naive.py), built in the same run from the same
material; one page of each type, in its only (light) scheme.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

from common import CHROMIUM, CHROMIUM_ARGS, page_types, serve, table
from naive import add_site_arguments, sites_to_measure

SCHEMES: dict[str, str | None] = {"light": "default", "dark": "slate"}
"""The reader's preference -> the palette mkdocs-material should apply."""


def pages(site: Path) -> list[str]:
    """Every page's path under the site, the 404 page left out."""
    return sorted(
        "" if page.parent == site else page.parent.relative_to(site).as_posix() + "/"
        for page in site.rglob("index.html")
    )


def scan(site: Path, paths: list[str], schemes: dict[str, str | None]) -> dict[str, dict[str, list[str]]]:
    """Scheme -> page -> its violations, as 'impact rule-id: help (n elements)'.

    `schemes` maps the reader's preference to the palette the site must apply for it (None: any)."""
    import axe_playwright_python
    from playwright.sync_api import sync_playwright

    axe = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    found: dict[str, dict[str, list[str]]] = {}
    with serve(site, compress=True) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme, palette in schemes.items():
            page = browser.new_context(color_scheme=scheme).new_page()
            found[scheme] = {}
            for number, path in enumerate(paths, start=1):
                print(f"[{scheme} {number}/{len(paths)}] /{path}", file=sys.stderr, flush=True)
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                applied = page.evaluate("document.body.dataset.mdColorScheme")
                if palette is not None and applied != palette:
                    raise SystemExit(
                        f"/{path}: the {scheme} scheme shows palette {applied!r}, not {palette!r}"
                    )
                page.add_script_tag(path=str(axe))
                result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
                found[scheme][path] = [
                    f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])} elements)"
                    for v in result["violations"]
                ]
            page.context.close()
        browser.close()
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_site_arguments(parser)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llm-path-accessibility-") as tmp:
        site, naive_site = sites_to_measure(args, Path(tmp))
        paths = pages(site)
        found = scan(site, paths, SCHEMES)
        kinds = page_types(site)
        naive = scan(naive_site, list(kinds.values()), {"light": None})["light"] if naive_site else None

    rows = []
    for scheme, by_page in found.items():
        sections = collections.Counter(section(path) for path in by_page)
        for name, count in sorted(sections.items()):
            failing = [p for p in by_page if section(p) == name and by_page[p]]
            violations = sum(len(by_page[p]) for p in failing)
            rows.append((scheme, name, count, len(failing), violations))
    print(table(["scheme", "section", "pages", "with violations", "violations"], rows))
    problems = [
        f"{scheme} /{path}: {violation}"
        for scheme, by_page in found.items()
        for path, violations in by_page.items()
        for violation in violations
    ]
    for problem in problems:
        print("  ", problem)
    total = sum(len(by_page) for by_page in found.values())
    print(
        f"\npages scanned: {len(paths)} in each scheme ({total} scans); violations of any impact: {len(problems)}"
    )
    if naive is not None:
        print("\nbaseline, the naive build of the same material (light scheme, one page of each type):")
        print(
            table(
                ["page", "this site", "naive", "naive's violations"],
                [
                    (
                        kind,
                        len(found["light"][path]),
                        len(naive[path]),
                        "; ".join(map(brief, naive[path])) or "-",
                    )
                    for kind, path in kinds.items()
                ],
            )
        )
    return 0 if not problems else 1


def brief(violation: str) -> str:
    """'serious color-contrast: Elements must... (118 elements)' -> 'color-contrast (118)'."""
    rule = violation.split(":", 1)[0].split(" ", 1)[-1]
    return f"{rule} ({violation.rsplit('(', 1)[-1].split(' ', 1)[0]})"


def section(path: str) -> str:
    """The site's section a page belongs to: its first path segment ('home' for the root)."""
    return path.split("/", 1)[0] or "home"


if __name__ == "__main__":
    sys.exit(main())
