"""The MkDocs (and ProperDocs) adapter: hands MkDocs the site source that build/site.py puts together.

Everything the site shows is made by `build_site_source`; this plugin passes its pages,
files and navigation to MkDocs, adds the per-page extension (build/page_extension.py)
and keeps the theme's templates working under MiniJinja too (a `split` filter).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment
from markupsafe import Markup
from mkdocs.config import base
from mkdocs.config import config_options as c
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.livereload import LiveReloadServer
from mkdocs.plugins import BasePlugin, event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from llm_path.build.page_extension import LlmPathExtension
from llm_path.build.site import NotebookError, SiteConfig, SiteSource, build_site_source
from llm_path.curriculum.load import CurriculumError
from llm_path.notebooks import DEFAULT_CELL_TIMEOUT, DEFAULT_NOTEBOOK_TIMEOUT, DEFAULT_OUTPUT_LIMIT

log = logging.getLogger("mkdocs.plugins.llm_path")


class LlmPathConfig(base.Config):
    curriculum = c.Type(str, default="curriculum")
    """Folder holding the curriculum YAML, relative to mkdocs.yml."""
    notebooks = c.Type(str, default="notebooks")
    """Folder holding the notebook sources, relative to mkdocs.yml."""
    cache = c.Type(str, default=".llm-path-cache")
    """The project's cache folder, relative to mkdocs.yml: executed notebooks, converted pages, npm packages."""
    link_report = c.Type(str, default=".llm-path-cache/links.json")
    """The link checker's last report, relative to mkdocs.yml; missing is fine."""
    execute_notebooks = c.Type(bool, default=True)
    """Execute stale notebooks and show every topic's notebook; false builds the site without notebooks."""
    mermaid = c.Type(str, default=".llm-path-cache/node/node_modules/mermaid/dist/mermaid.min.js")
    """Mermaid's script from its npm package (`make` installs it), served as assets/vendor/mermaid.min.js."""
    notebook_timeout = c.Type(int, default=DEFAULT_CELL_TIMEOUT)
    """Seconds a single notebook cell may run before the build fails."""
    notebook_time_limit = c.Type(int, default=DEFAULT_NOTEBOOK_TIMEOUT)
    """Seconds a whole notebook may run, kernel start included (and a local package's prepare step)."""
    notebook_output_limit = c.Type(int, default=DEFAULT_OUTPUT_LIMIT)
    """Bytes one notebook output may keep; the rest is cut, with a note saying how much."""


class LlmPathPlugin(BasePlugin[LlmPathConfig]):
    """Generates every page the curriculum describes; see DESIGN.md and docs/how-it-works.md."""

    def __init__(self) -> None:
        self.source: SiteSource | None = None
        self.root = Path.cwd()

    def _path(self, relative: str) -> Path:
        return (self.root / relative).resolve()

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        self.root = Path(config.config_file_path or "mkdocs.yml").resolve().parent
        settings = SiteConfig(
            curriculum=self._path(self.config.curriculum),
            notebooks=self._path(self.config.notebooks),
            docs=Path(config.docs_dir),
            cache=self._path(self.config.cache),
            link_report=self._path(self.config.link_report),
            mermaid=self._path(self.config.mermaid),
            repo_url=config.repo_url,
            execute_notebooks=self.config.execute_notebooks,
            cell_timeout=self.config.notebook_timeout,
            notebook_timeout=self.config.notebook_time_limit,
            output_limit=self.config.notebook_output_limit,
        )
        try:
            self.source = build_site_source(settings, log=log.info)
        except CurriculumError as error:
            count = len(error.problems)
            raise PluginError(
                f"{count} problem{'s' if count != 1 else ''} in the curriculum:\n{error}"
            ) from None
        except NotebookError as error:
            raise PluginError(f"notebook failed:\n{error}") from None
        for warning in self.source.warnings:
            log.warning(warning)
        config.nav = self.source.nav
        if not config.site_description:
            config.site_description = self.source.site_description
        glossary = urlsplit(config.site_url or "/").path.rstrip("/") + "/glossary/"
        config.markdown_extensions.append(LlmPathExtension(tips=self.source.tips, glossary=glossary))  # type: ignore[arg-type]
        return config

    @event_priority(100)  # Early: before other plugins read the files.
    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        assert self.source is not None, "on_config sets it"
        for src_uri, markdown in self.source.pages.items():
            _replace(files, File.generated(config, src_uri, content=markdown))
        for src_uri, content in self.source.files.items():
            data = content.read_bytes() if isinstance(content, Path) else content
            _replace(files, File.generated(config, src_uri, content=data))
        return files

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Front matter holds titles and descriptions already escaped (the theme prints them as they are);
        marked safe, the theme's own `| e` does not escape them twice."""
        for key in ("title", "description"):
            if isinstance(page.meta.get(key), str):
                page.meta[key] = Markup(page.meta[key])
        return markdown

    def on_env(self, env: Environment, *, config: MkDocsConfig, files: Files) -> Environment:
        """`split`, which MiniJinja has and Jinja2 lacks, so overrides/ works under both engines."""
        env.filters.setdefault("split", lambda text, sep=None: str(text).split(sep))
        return env

    def on_serve(self, server: LiveReloadServer, *, config: MkDocsConfig, builder: Any) -> LiveReloadServer:
        for folder in (self.config.curriculum, self.config.notebooks):
            path = self._path(folder)
            if path.is_dir():
                server.watch(str(path))
        return server


def _replace(files: Files, file: File) -> None:
    existing = files.get_file_from_path(file.src_uri)
    if existing is not None:
        files.remove(existing)
    files.append(file)
