"""The MkDocs plugin: thin glue that loads the curriculum and hands MkDocs the generated pages."""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from markupsafe import Markup
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.structure.toc import AnchorLink

from llm_path.build.maths import render_arithmatex, render_dollars
from llm_path.build.notebook_pages import SlimmedPages
from llm_path.build.pages import LinkHealth, SiteOptions, navigation, render_data, render_site
from llm_path.build.prose import meta_text, prose_html
from llm_path.build.tips import Tip, TipLinker, slugify
from llm_path.curriculum.load import CurriculumError, load_curriculum
from llm_path.curriculum.model import Curriculum
from llm_path.curriculum.text import is_http_url
from llm_path.links import LinkCache, LinkErrors
from llm_path.notebooks import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_NOTEBOOK_TIMEOUT,
    DEFAULT_OUTPUT_LIMIT,
    NotebookResult,
    NotebookRunner,
)

log = logging.getLogger("mkdocs.plugins.llm_path")


class LlmPathConfig(base.Config):
    curriculum = c.Type(str, default="curriculum")
    """Folder holding the curriculum YAML, relative to mkdocs.yml."""
    notebooks = c.Type(str, default="notebooks")
    """Folder holding the notebook sources, relative to mkdocs.yml."""
    link_report = c.Type(str, default=".llm-path-cache/links.json")
    """The link checker's last report, relative to mkdocs.yml; missing is fine."""
    execute_notebooks = c.Type(bool, default=True)
    """Execute stale notebooks and embed every topic's notebook; false builds the site without notebooks."""
    notebook_cache = c.Type(str, default=".llm-path-cache/notebooks")
    """Where executed notebooks are cached, relative to mkdocs.yml."""
    mermaid = c.Type(str, default=".llm-path-cache/node/node_modules/mermaid/dist/mermaid.min.js")
    """Mermaid's script from its npm package (`make` installs it), served as assets/vendor/mermaid.min.js."""
    notebook_timeout = c.Type(int, default=DEFAULT_CELL_TIMEOUT)
    """Seconds a single notebook cell may run before the build fails."""
    notebook_time_limit = c.Type(int, default=DEFAULT_NOTEBOOK_TIMEOUT)
    """Seconds a whole notebook may run, kernel start included (and a local package's prepare step)."""
    notebook_output_limit = c.Type(int, default=DEFAULT_OUTPUT_LIMIT)
    """Bytes one notebook output may keep; the rest is cut, with a note saying how much."""


class LlmPathPlugin(BasePlugin[LlmPathConfig]):
    """Generates every page the curriculum describes; see DESIGN.md."""

    def __init__(self) -> None:
        self.curriculum: Curriculum | None = None
        self.pages: dict[str, str] = {}
        self.data: dict[str, str] = {}
        self.tips: TipLinker | None = None
        self.root = Path.cwd()
        self.notebook_views: dict[str, Path] = {}
        self.slimmed: SlimmedPages | None = None

    def _path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self.root = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        curriculum_dir = self._path(self.config.curriculum)
        notebooks_dir = self._path(self.config.notebooks)
        try:
            self.curriculum = load_curriculum(
                curriculum_dir, notebooks_dir if notebooks_dir.is_dir() else None
            )
        except CurriculumError as error:
            count = len(error.problems)
            raise PluginError(
                f"{count} problem{'s' if count != 1 else ''} in the curriculum:\n{error}"
            ) from None
        if self.config.execute_notebooks:
            self.notebook_views = self._run_notebooks(notebooks_dir)
        else:
            self.notebook_views = {}
            keep_converted_notebooks(config)
        self.slimmed = SlimmedPages(self._path(self.config.notebook_cache) / "pages")
        options = SiteOptions(
            notebooks={topic_id: f"notebooks/{view.name}" for topic_id, view in self.notebook_views.items()},
            health=read_link_health(self._path(self.config.link_report)),
            repo_url=config.repo_url,
        )
        self.pages = render_site(self.curriculum, options)
        self.data = render_data(self.curriculum)
        self.tips = TipLinker(
            Tip(slugify(t.term), (t.term, *t.aliases), str(prose_html(t.definition)))
            for t in self.curriculum.glossary.terms
            if t.link_in_text
        )
        config.nav = navigation(self.curriculum, options, hand_written_pages(Path(config.docs_dir)))
        if not config.site_description:
            config.site_description = meta_text(self.curriculum.path.tagline)
        return config

    def _run_notebooks(self, notebooks_dir: Path) -> dict[str, Path]:
        """Topic id -> its executed notebook, executing what is stale; a failure stops the build."""
        assert self.curriculum is not None
        wanted = {
            t.id: t.notebook.removesuffix(".py") for t in self.curriculum.ordered_topics() if t.notebook
        }
        runner = NotebookRunner(
            notebooks_dir,
            self._path(self.config.notebook_cache),
            timeout=self.config.notebook_timeout,
            notebook_timeout=self.config.notebook_time_limit,
            output_limit=self.config.notebook_output_limit,
        )

        def progress(result: NotebookResult, done: int, total: int) -> None:
            if result.status == "executed":
                log.info("notebook %d/%d %s executed in %.1f s", done, total, result.name, result.seconds)

        results = runner.run(list(dict.fromkeys(wanted.values())), progress=progress, log=log.info)
        failures = list(dict.fromkeys(str(r.failure) for r in results if r.failure))
        if failures:
            raise PluginError("notebook failed:\n" + "\n".join(failures))
        views = {r.name: r.view for r in results if r.view}
        return {topic_id: views[name] for topic_id, name in wanted.items() if name in views}

    @event_priority(
        100
    )  # Early: before mkdocs-jupyter wraps .ipynb files and before other plugins read pages.
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        for src_uri, markdown in self.pages.items():
            existing = files.get_file_from_path(src_uri)
            if existing is not None:
                files.remove(existing)
            files.append(File.generated(config, src_uri, content=markdown))
        for src_uri, text in self.data.items():
            files.append(File.generated(config, src_uri, content=text))
        mermaid = self._path(self.config.mermaid)
        if mermaid.is_file():
            files.append(File.generated(config, "assets/vendor/mermaid.min.js", abs_src_path=str(mermaid)))
        else:
            log.warning(
                "Mermaid is not installed at %s, so diagrams will not render; run `make install`", mermaid
            )
        for view in self.notebook_views.values():
            files.append(
                File(
                    f"notebooks/{view.name}",
                    src_dir=str(view.parent.parent),
                    dest_dir=config.site_dir,
                    use_directory_urls=config.use_directory_urls,
                )
            )
        return files

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Hand-written pages get the same 'Suggest an edit' link as generated ones, to their own file.

        A generated page's front matter holds its title and description already escaped (the theme
        prints them as they are); marked safe, the theme's own `| e` does not escape them twice.
        """
        if page.file.generated_by is not None:
            for key in ("title", "description"):
                if isinstance(page.meta.get(key), str):
                    page.meta[key] = Markup(page.meta[key])
        if page.file.generated_by is None and config.repo_url and page.file.src_uri.endswith(".md"):
            url = f"{config.repo_url.rstrip('/')}/edit/main/docs/{page.file.src_uri}"
            markdown += f"\n\n[Suggest an edit]({url}){{ .lp-edit }}\n"
        return markdown

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        if page.file.src_uri.startswith("notebooks/") and page.file.src_uri.endswith(".ipynb"):
            assert self.slimmed is not None, "on_config sets it"
            html, figures = self.slimmed.slim(Path(page.file.src_uri).stem, html, figure_prefix="figure-")
            folder = Path(page.file.abs_dest_path).parent
            folder.mkdir(parents=True, exist_ok=True)
            for name, data in figures.items():
                (folder / name).write_bytes(data)
            render_toc_maths(page.toc)
            return html
        html = render_arithmatex(html)
        if self.tips is not None and page.file.src_uri != "glossary.md":
            html = self.tips.link(html, posixpath.relpath("glossary", page.url or ".") + "/")
        return html

    def on_serve(self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        for folder in (self.config.curriculum, self.config.notebooks):
            path = self._path(folder)
            if path.is_dir():
                server.watch(str(path))
        return server


def keep_converted_notebooks(config: MkDocsConfig) -> None:
    """A build without notebooks leaves mkdocs-jupyter's cache alone.

    mkdocs-jupyter evicts every converted notebook a build did not use, so one build without
    notebooks would make the next build with them convert all of them again.
    """
    jupyter = config.plugins.get("mkdocs-jupyter")
    if jupyter is not None:
        jupyter.config["cache"] = False


def render_toc_maths(toc: Iterable[AnchorLink]) -> None:
    """A notebook's headings reach its table of contents with their LaTeX as typed; draw it as the page does."""
    for item in toc:
        item.title = render_dollars(item.title)
        render_toc_maths(item.children)


def hand_written_pages(docs_dir: Path) -> list[tuple[str, str]]:
    """(title, path) of the Markdown pages written by hand in the docs folder, for the navigation."""
    pages = []
    for path in sorted(docs_dir.rglob("*.md")):
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^title:\s*(.+)$", text, re.MULTILINE) or re.search(
            r"^#\s+(.+)$", text, re.MULTILINE
        )
        title = match.group(1).strip().strip("\"'") if match else path.stem.replace("-", " ").capitalize()
        pages.append((title, path.relative_to(docs_dir).as_posix()))
    return pages


def read_link_health(report: Path) -> dict[str, LinkHealth]:
    """URL -> last link-check result, from the link checker's cache; empty when there is none."""
    try:
        cache = LinkCache.load(report)
    except LinkErrors as error:
        log.warning("ignoring the link report: %s", error)
        return {}
    return {
        url: LinkHealth(
            r.status, r.checked_at, r.final_url if r.final_url and is_http_url(r.final_url) else None
        )
        for url, r in cache.results.items()
    }
