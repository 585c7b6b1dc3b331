"""Benchmark: axe-core on every page of the real site, in the light and the dark colour scheme.

    .venv/bin/python benchmarks/accessibility.py [--site DIR]

The tests scan one page of each type built from the fixture curriculum; this scans every
page the real curriculum produces (each phase, topic and notebook, the glossary, the plan...)
in Debian's Chromium, served from 127.0.0.1. Budget: no violation of any impact.
Baseline (issue 8, the naive build): axe found unnamed dialogs, low-contrast footer text and
links told apart by colour alone.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path

from common import CHROMIUM, CHROMIUM_ARGS, build_project_site, serve, table

SCHEMES = {"light": "default", "dark": "slate"}
"""The reader's preference -> the palette mkdocs-material should apply."""


def pages(site: Path) -> list[str]:
    """Every page's path under the site, the 404 page left out."""
    return sorted(
        "" if page.parent == site else page.parent.relative_to(site).as_posix() + "/"
        for page in site.rglob("index.html")
    )


def scan(site: Path, paths: list[str]) -> dict[str, dict[str, list[str]]]:
    """Scheme -> page -> its violations, as 'impact rule-id: help (n elements)'."""
    import axe_playwright_python
    from playwright.sync_api import sync_playwright

    axe = Path(axe_playwright_python.__file__).parent / "axe.min.js"
    found: dict[str, dict[str, list[str]]] = {}
    with serve(site, compress=True) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for scheme, palette in SCHEMES.items():
            page = browser.new_context(color_scheme=scheme).new_page()
            found[scheme] = {}
            for number, path in enumerate(paths, start=1):
                print(f"[{scheme} {number}/{len(paths)}] /{path}", file=sys.stderr, flush=True)
                page.goto(url + path)
                page.wait_for_load_state("networkidle")
                applied = page.evaluate("document.body.dataset.mdColorScheme")
                if applied != palette:
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
    parser.add_argument("--site", type=Path, help="an already built site to scan instead of building one")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="llm-path-accessibility-") as tmp:
        site = args.site or Path(tmp) / "site"
        if not args.site:
            build_project_site(site)
        paths = pages(site)
        found = scan(site, paths)

    rows = []
    for scheme, by_page in found.items():
        kinds = collections.Counter(path.split("/", 1)[0] or "home" for path in by_page)
        for kind, count in sorted(kinds.items()):
            failing = [p for p in by_page if (p.split("/", 1)[0] or "home") == kind and by_page[p]]
            violations = sum(len(by_page[p]) for p in failing)
            rows.append((scheme, kind, count, len(failing), violations))
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
    print("baseline (issue 8, naive build): unnamed dialogs, low-contrast footer text, colour-only links")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
