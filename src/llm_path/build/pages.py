"""Turn the validated curriculum into Markdown pages: pure, no MkDocs, no I/O but `write_pages`.

The result maps a page's path relative to the docs folder to its Markdown. The
MkDocs plugin hands these to MkDocs; `llm-path render OUT/` writes them to disk
for any other engine. Contributors' text is escaped here, once: the templates
cannot produce markup from data.
"""

from __future__ import annotations

import html
import json
import os
import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path as FsPath
from typing import Any

import jinja2
from markupsafe import Markup

from llm_path.build.diagram import path_diagram
from llm_path.build.prose import meta_text, plain_markup, prose_html, prose_text
from llm_path.build.tips import slugify
from llm_path.curriculum.model import Curriculum, Phase, Resource, ResourceType, Topic
from llm_path.curriculum.text import Prose
from llm_path.files import write_atomic
from llm_path.learner.cards import cards_data
from llm_path.learner.plan import plan_data, study_hours, study_pace, weeks_at

TYPE_HEADINGS = {
    ResourceType.course: "Courses",
    ResourceType.video: "Videos",
    ResourceType.book: "Books",
    ResourceType.paper: "Papers",
    ResourceType.article: "Articles",
    ResourceType.interactive: "Interactive",
    ResourceType.tool: "Tools",
    ResourceType.community: "Communities",
}


@dataclass(frozen=True)
class LinkHealth:
    """What the link checker last saw of a URL (see links.py for the report format)."""

    status: str
    checked_at: str
    final_url: str | None = None


@dataclass(frozen=True)
class SiteOptions:
    """What the pages need beyond the curriculum: where things live and what is known of links."""

    notebooks: Mapping[str, str] = field(default_factory=dict)
    """Topic id -> the notebook's page path (e.g. 'notebooks/attention.md'), for topics with an executed notebook."""
    health: Mapping[str, LinkHealth] = field(default_factory=dict)
    """URL -> its last link-check result; empty when there is no report."""
    repo_url: str | None = None
    """The repository's web address, for 'Open in Colab' and 'suggest an edit' links."""
    edit_branch: str = "main"
    """The branch 'suggest an edit' links point to."""
    pages_branch: str = "gh-pages"
    """The branch holding the published site, where Colab finds executed notebooks."""


def _inert(value: Any) -> Any:
    """How a template shows every value it prints: prose in its Markdown subset, anything else as plain text."""
    if value is None:
        return ""
    if isinstance(value, Markup):
        return value
    if isinstance(value, Prose):
        return prose_html(value)
    return plain_markup(str(value))


def _meta(value: Any) -> Markup:
    """A value for the page's front matter (title, description), which the theme prints unescaped."""
    text = prose_text(value) if isinstance(value, Prose) else str(value)
    return Markup(json.dumps(meta_text(text), ensure_ascii=False))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("llm_path.build", "templates"),
        autoescape=True,
        finalize=_inert,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["weeks_label"] = lambda weeks: f"{weeks} week{'s' if str(weeks) != '1' else ''}"
    env.filters["meta"] = _meta
    return env


ENV = _environment()


def page_file(folder: str) -> str:
    """Where a page's Markdown goes: every page is the index.md of its own folder.

    Then a relative link in a page's raw HTML means the same whether an engine reads it against the
    source file (Zensical rewrites them so) or against the page's URL (MkDocs leaves them alone).
    """
    return f"{folder}/index.md" if folder else "index.md"


def topic_page(topic_id: str) -> str:
    return page_file(f"topics/{topic_id}")


def phase_page(phase_id: str) -> str:
    return page_file(f"phases/{phase_id}")


def notebook_page(name: str) -> str:
    return page_file(f"notebooks/{name}")


def _relative(target: str, source: str) -> str:
    """A link from page `source` to page `target`, both relative to the docs folder."""
    return os.path.relpath(target, os.path.dirname(source) or ".").replace(os.sep, "/")


def page_url(target: str, source: str) -> str:
    """A link for raw HTML from page `source` to page `target` (both Markdown paths), as directory URLs.

    'topics/x.md' and 'topics/x/index.md' name the same page (see `page_file`)."""
    directory = target.removesuffix(".md").removesuffix("index").rstrip("/")
    base = source.removesuffix(".md").removesuffix("index") + "/"
    relative = os.path.relpath(directory or ".", base.rstrip("/") or ".").replace(os.sep, "/")
    return "./" if relative == "." else relative + "/"


def _group_by_type(resources: list[Resource]) -> list[tuple[str, list[Resource]]]:
    return [
        (heading, [r for r in resources if r.type == kind])
        for kind, heading in TYPE_HEADINGS.items()
        if any(r.type == kind for r in resources)
    ]


def total_weeks(curriculum: Curriculum) -> str:
    """The path's length as 'min-max' weeks, with '+' when a phase is open-ended."""
    low = sum(p.weeks.min for p in curriculum.phases)
    high = sum((p.weeks.max or p.weeks.min) for p in curriculum.phases)
    open_ended = any(p.weeks.max is None for p in curriculum.phases)
    text = str(low) if low == high else f"{low}-{high}"
    return text + ("+" if open_ended else "")


class _Renderer:
    """Renders each page; holds what every page needs to link to the others."""

    def __init__(self, curriculum: Curriculum, options: SiteOptions) -> None:
        self.c = curriculum
        self.options = options
        self.topic_phase = {t: p for p in curriculum.phases for t in p.topics}
        self.phase_number = {p.id: i + 1 for i, p in enumerate(curriculum.phases)}
        self.order = [t.id for t in curriculum.ordered_topics()]

    def render(self, template: str, page: str, **context: Any) -> str:
        def link(target: str) -> Markup:
            return Markup(html.escape(_relative(target, page)))

        def url(target: str) -> Markup:
            """A link for raw HTML, which engines treat differently (see `page_file`): to a page or to a file."""
            return Markup(
                html.escape(page_url(target, page) if target.endswith(".md") else _relative(target, page))
            )

        return ENV.get_template(template).render(
            c=self.c,
            page=page,
            link=link,
            url=url,
            topic_page=topic_page,
            phase_page=phase_page,
            phase_number=self.phase_number,
            topic_phase=self.topic_phase,
            health=self.options.health,
            group_by_type=_group_by_type,
            edit_url=self.edit_url,
            order=self.order,
            slug=slugify,
            hours_of=lambda topics: study_hours(self.c, topics),
            pace=study_pace(self.c),
            weeks_at=weeks_at,
            planned_weeks=sum(len(p.schedule) for p in self.c.phases),
            **context,
        )

    def edit_url(self, source: str | None) -> Markup | None:
        """Where to edit the YAML behind a page: the file itself, or the folder for pages drawn from many files."""
        if not self.options.repo_url or not source:
            return None
        action = "tree" if source.endswith("/") else "edit"
        address = f"{self.options.repo_url.rstrip('/')}/{action}/{self.options.edit_branch}/curriculum/{source.rstrip('/')}"
        return Markup(html.escape(address))

    def home(self) -> str:
        return self.render(
            "home.md.j2",
            "index.md",
            source="path.yml",
            total_weeks=total_weeks(self.c),
            diagram=path_diagram(
                self.c,
                href=lambda target: html.escape(page_url(target, "index.md")),
                hours=lambda topics: study_hours(self.c, topics),
            ),
        )

    def phase(self, phase: Phase) -> str:
        page = phase_page(phase.id)
        resources = {r.url: r for t in phase.topics for r in self.c.topics[t].resources}
        return self.render(
            "phase.md.j2", page, phase=phase, resources=resources, source=self.c.sources.get(phase.id)
        )

    def topic(self, topic: Topic) -> str:
        page = topic_page(topic.id)
        index = self.order.index(topic.id)
        previous = self.c.topics[self.order[index - 1]] if index > 0 else None
        following = self.c.topics[self.order[index + 1]] if index + 1 < len(self.order) else None
        notebook = self.options.notebooks.get(topic.id)
        return self.render(
            "topic.md.j2",
            page,
            topic=topic,
            phase=self.topic_phase[topic.id],
            previous=previous,
            following=following,
            notebook_page=notebook,
            notebook_download=self._download(notebook),
            colab_url=self._colab(topic, notebook),
            source=self.c.sources.get(topic.id),
        )

    def _download(self, notebook_page: str | None) -> str | None:
        """The raw .ipynb, copied beside the rendered notebook page (directory URLs)."""
        if notebook_page is None:
            return None
        folder = posixpath.dirname(notebook_page)
        return f"{folder}/{folder.rsplit('/', 1)[-1]}.ipynb"

    def _colab(self, topic: Topic, notebook_page: str | None) -> str | None:
        """Colab opens the executed notebook from the published site's branch on GitHub."""
        repo = self.options.repo_url
        download = self._download(notebook_page)
        if not repo or download is None or "github.com/" not in repo:
            return None
        slug = repo.split("github.com/", 1)[1].strip("/")
        return f"https://colab.research.google.com/github/{slug}/blob/{self.options.pages_branch}/{download}"

    def simple(self, template: str, page: str, source: str | None) -> str:
        return self.render(template, page, source=source)

    def notebook_toolbar(self, topic: Topic, facts: Mapping[str, Any]) -> str:
        """The bar under a notebook page's title: Colab, the .ipynb, its topic, an edit link, how it was executed."""
        notebook = self.options.notebooks[topic.id]
        name = posixpath.dirname(notebook).rsplit("/", 1)[-1]
        edit = (
            Markup(
                html.escape(
                    f"{self.options.repo_url.rstrip('/')}/edit/{self.options.edit_branch}/notebooks/{topic.notebook}"
                )
            )
            if self.options.repo_url and topic.notebook
            else None
        )
        return self.render(
            "notebook-bar.html.j2",
            notebook,
            topic=topic,
            ipynb=f"{name}.ipynb",
            colab_url=self._colab(topic, notebook),
            edit=edit,
            facts=facts,
        )

    def notebooks_index(self) -> str:
        topics = [t for t in self.c.ordered_topics() if t.id in self.options.notebooks]
        return self.render(
            "notebooks.md.j2", "notebooks/index.md", topics=topics, notebooks=self.options.notebooks
        )


def render_site(curriculum: Curriculum, options: SiteOptions | None = None) -> dict[str, str]:
    """Every generated page: {path relative to the docs folder: Markdown}."""
    renderer = _Renderer(curriculum, options or SiteOptions())
    pages = {"index.md": renderer.home()}
    for phase in curriculum.phases:
        pages[phase_page(phase.id)] = renderer.phase(phase)
    for topic in curriculum.ordered_topics():
        pages[topic_page(topic.id)] = renderer.topic(topic)
    for template, page, source in (
        ("resources.md.j2", page_file("resources"), "topics/"),
        ("glossary.md.j2", page_file("glossary"), "glossary.yml"),
        ("advice.md.j2", page_file("advice"), "advice.yml"),
        ("reading-list.md.j2", page_file("reading-list"), "reading-list.yml"),
        ("plan.md.j2", page_file("plan"), "path.yml"),
    ):
        pages[page] = renderer.simple(template, page, source)
    if renderer.options.notebooks:
        pages["notebooks/index.md"] = renderer.notebooks_index()
    return pages


def notebook_toolbar(
    curriculum: Curriculum, options: SiteOptions, topic_id: str, facts: Mapping[str, Any]
) -> str:
    """The toolbar HTML of a topic's notebook page (see `_Renderer.notebook_toolbar`)."""
    return _Renderer(curriculum, options).notebook_toolbar(curriculum.topics[topic_id], facts)


def render_data(curriculum: Curriculum) -> dict[str, str]:
    """The JSON files the site's scripts read: the planner's data and the flashcards."""
    return {
        "data/plan.json": json.dumps(plan_data(curriculum), ensure_ascii=False, separators=(",", ":")),
        "data/cards.json": json.dumps(cards_data(curriculum), ensure_ascii=False, separators=(",", ":")),
    }


def navigation(
    curriculum: Curriculum, options: SiteOptions | None = None, extra: Sequence[tuple[str, str]] = ()
) -> list[Any]:
    """The site's navigation as MkDocs writes it in `nav:`, derived from the data.

    `extra` lists hand-written pages as (title, path); they go under "About". The theme prints
    navigation titles unescaped, so data titles are escaped here.
    """
    options = options or SiteOptions()
    path_section: list[Any] = []
    for number, phase in enumerate(curriculum.phases, start=1):
        entries: list[Any] = [{"Overview": phase_page(phase.id)}]
        entries += [{meta_text(curriculum.topics[t].title): topic_page(t)} for t in phase.topics]
        path_section.append({meta_text(f"{number}. {phase.title}"): entries})
    nav: list[Any] = [{"Home": "index.md"}, {"The path": path_section}]
    if options.notebooks:
        nav.append(
            {
                "Notebooks": [
                    {"All notebooks": "notebooks/index.md"},
                    *(
                        {meta_text(curriculum.topics[t].title): options.notebooks[t]}
                        for t in (topic.id for topic in curriculum.ordered_topics())
                        if t in options.notebooks
                    ),
                ]
            }
        )
    nav += [
        {"Your plan": page_file("plan")},
        {"Resources": page_file("resources")},
        {"Glossary": page_file("glossary")},
        {
            "About": [
                {"Advice": page_file("advice")},
                {"Reading list": page_file("reading-list")},
                *({t: p} for t, p in extra),
            ]
        },
    ]
    return nav


def with_edit_link(markdown: str, source: str, repo_url: str | None, branch: str = "main") -> str:
    """A hand-written page with the same 'Suggest an edit' link as generated ones, to its own file."""
    if not repo_url:
        return markdown
    return f"{markdown.rstrip()}\n\n[Suggest an edit]({repo_url.rstrip('/')}/edit/{branch}/{source}){{ .lp-edit }}\n"


def write_pages(pages: Mapping[str, str], out: FsPath) -> None:
    """Write pages under `out`, each atomically, so an interrupted run leaves no half-written page."""
    for relative, text in pages.items():
        write_atomic(out / relative, text)
