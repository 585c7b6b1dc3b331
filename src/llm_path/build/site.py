"""Everything the site shows, as files for any engine: the one place the site's source is put together.

`build_site_source` loads the curriculum, runs the stale notebooks, and returns a
`SiteSource`: every page as Markdown (generated pages, notebook pages, hand-written
pages with their edit link), every other file (data, figures, notebooks, assets,
Mermaid), the navigation as data and the glossary tips. An engine adapter hands it
to its engine (`engines/mkdocs.py`) or `SiteSource.write` lays it out in a folder
(`llm-path render`) for an engine that reads folders (`engines/zensical.py`). What
must happen inside the engine, per page, is `build/page_extension.py`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llm_path.build.notebook_pages import NotebookPages, execution_facts
from llm_path.build.pages import (
    LinkHealth,
    SiteOptions,
    navigation,
    notebook_page,
    notebook_toolbar,
    render_data,
    render_site,
    with_edit_link,
)
from llm_path.build.prose import meta_text, prose_html
from llm_path.build.tips import slugify
from llm_path.curriculum.load import load_curriculum
from llm_path.curriculum.model import Curriculum
from llm_path.curriculum.text import is_http_url
from llm_path.files import write_atomic
from llm_path.notebooks import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, DEFAULT_OUTPUT_LIMIT

MERMAID = "assets/vendor/mermaid.min.js"
"""Where the site serves Mermaid from (llm-path.js loads it only on pages with a diagram)."""


class NotebookError(Exception):
    """A notebook failed; the message holds one located line per failure."""


@dataclass(frozen=True)
class SiteConfig:
    """Where everything comes from; paths are absolute or relative to the project folder."""

    curriculum: Path
    notebooks: Path
    docs: Path
    """Hand-written pages and assets (css, js), reviewed by maintainers."""
    cache: Path
    """The project's cache folder (`.llm-path-cache`): executed notebooks, converted pages, npm packages."""
    link_report: Path
    mermaid: Path
    repo_url: str | None = None
    execute_notebooks: bool = True
    cell_timeout: int = DEFAULT_CELL_TIMEOUT
    notebook_timeout: int = DEFAULT_NOTEBOOK_TIMEOUT
    output_limit: int = DEFAULT_OUTPUT_LIMIT
    """The runner's limits; the output limit is part of every notebook's cache key, so every engine must agree."""


@dataclass
class SiteSource:
    """The whole site as files: `pages` are Markdown, `files` anything else, both keyed by path in the docs folder."""

    pages: dict[str, str]
    files: dict[str, bytes | Path]
    nav: list[Any]
    tips: list[dict[str, Any]]
    """Glossary entries for in-text tips: {slug, names, definition_html} (see build/tips.py)."""
    site_description: str
    warnings: list[str] = field(default_factory=list)

    def write(self, out: Path) -> int:
        """Lay the site out under `out`: `docs/` for the engine, `nav.json` and `tips.json` beside it."""
        docs = out / "docs"
        for relative, text in self.pages.items():
            write_atomic(docs / relative, text)
        for relative, content in self.files.items():
            write_atomic(docs / relative, content.read_bytes() if isinstance(content, Path) else content)
        write_atomic(out / "nav.json", json.dumps(self.nav, indent=1, ensure_ascii=False) + "\n")
        write_atomic(out / "tips.json", json.dumps(self.tips, ensure_ascii=False) + "\n")
        return len(self.pages) + len(self.files)


def read_link_health(report: Path, warnings: list[str]) -> dict[str, LinkHealth]:
    """URL -> last link-check result, from the link checker's cache; empty (with a warning if broken) when there is none."""
    from llm_path.links import LinkCache, LinkErrors

    try:
        cache = LinkCache.load(report)
    except LinkErrors as error:
        warnings.append(f"ignoring the link report: {error}")
        return {}
    return {
        url: LinkHealth(
            r.status, r.checked_at, r.final_url if r.final_url and is_http_url(r.final_url) else None
        )
        for url, r in cache.results.items()
    }


def hand_written_pages(docs: Path) -> dict[str, str]:
    """{path: Markdown} of the pages written by hand in the docs folder."""
    return {
        path.relative_to(docs).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(docs.rglob("*.md"))
    }


def page_title(markdown: str, fallback: str) -> str:
    match = re.search(r"^title:\s*(.+)$", markdown, re.MULTILINE) or re.search(
        r"^#\s+(.+)$", markdown, re.MULTILINE
    )
    return match.group(1).strip().strip("\"'") if match else fallback


def glossary_tips(curriculum: Curriculum) -> list[dict[str, Any]]:
    return [
        {
            "slug": slugify(t.term),
            "names": [t.term, *t.aliases],
            "definition_html": str(prose_html(t.definition)),
        }
        for t in curriculum.glossary.terms
        if t.link_in_text
    ]


def run_notebooks(curriculum: Curriculum, config: SiteConfig, log: Callable[[str], None]) -> dict[str, Path]:
    """Topic id -> its executed notebook, executing what is stale; raise NotebookError on any failure."""
    from llm_path.notebooks import NotebookResult, NotebookRunner

    wanted = {t.id: t.notebook.removesuffix(".py") for t in curriculum.ordered_topics() if t.notebook}
    runner = NotebookRunner(
        config.notebooks,
        config.cache / "notebooks",
        timeout=config.cell_timeout,
        notebook_timeout=config.notebook_timeout,
        output_limit=config.output_limit,
    )

    def progress(result: NotebookResult, done: int, total: int) -> None:
        if result.status == "executed":
            log(f"notebook {done}/{total} {result.name} executed in {result.seconds:.1f} s")

    results = runner.run(list(dict.fromkeys(wanted.values())), progress=progress, log=log)
    failures = list(dict.fromkeys(str(r.failure) for r in results if r.failure))
    if failures:
        raise NotebookError("\n".join(failures))
    views = {r.name: r.view for r in results if r.view}
    return {topic_id: views[name] for topic_id, name in wanted.items() if name in views}


def _notebook_title(executed: Path, fallback: str) -> str:
    """The notebook's own first heading, as plain text for the theme (maths and code marks dropped)."""
    notebook = json.loads(executed.read_text(encoding="utf-8"))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "markdown":
            source = "".join(cell.get("source", ""))
            match = re.search(r"^#\s+(.+)$", source, re.MULTILINE)
            if match:
                return meta_text(re.sub(r"[`$*]", "", match.group(1)).strip())
    return meta_text(fallback)


def build_site_source(config: SiteConfig, log: Callable[[str], None] = lambda message: None) -> SiteSource:
    """Load, execute and render: the site's complete source. Raises CurriculumError or NotebookError."""
    notebooks_dir = config.notebooks if config.notebooks.is_dir() else None
    curriculum = load_curriculum(config.curriculum, notebooks_dir)
    views = run_notebooks(curriculum, config, log) if config.execute_notebooks and notebooks_dir else {}
    warnings: list[str] = []
    options = SiteOptions(
        notebooks={topic_id: notebook_page(view.stem) for topic_id, view in views.items()},
        health=read_link_health(config.link_report, warnings),
        repo_url=config.repo_url,
    )
    pages = render_site(curriculum, options)
    files: dict[str, bytes | Path] = {path: text.encode() for path, text in render_data(curriculum).items()}
    converted = NotebookPages(config.cache / "notebooks" / "pages")
    for topic_id, view in views.items():
        toolbar = notebook_toolbar(curriculum, options, topic_id, execution_facts(view))
        page = converted.page(view, _notebook_title(view, curriculum.topics[topic_id].title), toolbar)
        pages[notebook_page(view.stem)] = page.markdown
        files.update({f"notebooks/{view.stem}/{name}": data for name, data in page.files.items()})
    written = hand_written_pages(config.docs)
    for path, markdown in written.items():
        pages.setdefault(path, with_edit_link(markdown, f"docs/{path}", config.repo_url))
    for asset in sorted(config.docs.rglob("*")):
        if asset.is_file() and asset.suffix != ".md" and not asset.name.startswith("."):
            files[asset.relative_to(config.docs).as_posix()] = asset
    if config.mermaid.is_file():
        files[MERMAID] = config.mermaid
    else:
        warnings.append(
            f"Mermaid is not installed at {config.mermaid}, so diagrams will not render; run `make install`"
        )
    extra = [(page_title(markdown, path), path) for path, markdown in written.items()]
    return SiteSource(
        pages=pages,
        files=files,
        nav=navigation(curriculum, options, extra),
        tips=glossary_tips(curriculum),
        site_description=meta_text(curriculum.path.tagline),
        warnings=warnings,
    )
