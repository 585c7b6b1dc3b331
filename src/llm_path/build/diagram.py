"""Draw the path at a glance as HTML at build time: no diagram library, nothing loaded at view time.

Each phase is a box, in reading order, numbered, linking to its phase page; its
topics are listed inside, each linking to its topic page. Plain HTML rather than
SVG: titles wrap instead of being clipped, boxes reflow from two columns to one
on a phone, and links are ordinary links that instant navigation follows.
llm-path.js ticks the topics a learner has finished.
"""

from __future__ import annotations

from collections.abc import Callable

from markupsafe import Markup

from llm_path.build.prose import plain_markup
from llm_path.curriculum.model import Curriculum


def path_diagram(
    curriculum: Curriculum, href: Callable[[str], str], hours: Callable[[list[str]], int]
) -> Markup:
    """The phases as numbered boxes; `href` turns a page path ('phases/x.md') into a link from the page
    that shows the diagram, `hours` gives a list of topics' study hours."""
    phases = curriculum.phases
    parts = [
        f'<ol class="lp-diagram" aria-label="{plain_markup(curriculum.path.title)}: {len(phases)} phases '
        f'from {plain_markup(phases[0].title)} to {plain_markup(phases[-1].title)}">'
    ]
    for number, phase in enumerate(phases, start=1):
        parts.append(
            f'<li class="lp-diagram-phase" data-topics="{" ".join(phase.topics)}">'
            f'<a class="lp-diagram-title" href="{href(f"phases/{phase.id}.md")}">'
            f'<span class="lp-diagram-number" aria-hidden="true">{number}</span>'
            f'<span class="lp-visually-hidden">Phase {number}: </span>{plain_markup(phase.title)}'
            f'<span class="lp-diagram-weeks">{phase.weeks} weeks · {hours(phase.topics)} hours</span></a>'
            '<ul class="lp-diagram-topics">'
        )
        for topic_id in phase.topics:
            title = plain_markup(curriculum.topics[topic_id].title)
            parts.append(
                f'<li data-progress-topic="t-{topic_id}">'
                f'<a href="{href(f"topics/{topic_id}.md")}">{title}</a></li>'
            )
        parts.append("</ul></li>")
    parts.append("</ol>")
    return Markup("".join(parts))
