"""Draw the path as an inline SVG at build time: no diagram library, nothing loaded at view time."""

from __future__ import annotations

import itertools

from markupsafe import escape

from llm_path.curriculum.model import Curriculum

BOX_WIDTH = 330
LINE = 22
HEADER = 58
PADDING = 14
GAP_X = 60
GAP_Y = 44
COLUMNS = 2


def path_diagram(curriculum: Curriculum) -> str:
    """The phases as boxes in reading order (left to right, row by row), topics listed inside.

    The boxes are not links: the numbered list under the diagram links each phase, and
    mkdocs-material's instant navigation cannot handle links inside SVG.
    """
    phases = curriculum.phases
    most_topics = max(len(p.topics) for p in phases)
    box_height = HEADER + most_topics * LINE + PADDING
    rows = (len(phases) + COLUMNS - 1) // COLUMNS
    width = COLUMNS * BOX_WIDTH + (COLUMNS - 1) * GAP_X + 2
    height = rows * box_height + (rows - 1) * GAP_Y + 2
    parts = [
        f'<svg class="lp-diagram" viewBox="0 0 {width} {height}" role="img" '
        f'aria-labelledby="lp-diagram-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="lp-diagram-title">{escape(curriculum.path.title)}: '
        f"{len(phases)} phases from {escape(phases[0].title)} to {escape(phases[-1].title)}</title>",
        '<defs><marker id="lp-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="lp-arrowhead"/>'
        "</marker></defs>",
    ]
    corners = []
    for index, phase in enumerate(phases):
        row, column = divmod(index, COLUMNS)
        x = 1 + column * (BOX_WIDTH + GAP_X)
        y = 1 + row * (box_height + GAP_Y)
        corners.append((x, y))
        parts.append('<g class="lp-diagram-phase">')
        parts.append(f'<rect x="{x}" y="{y}" width="{BOX_WIDTH}" height="{box_height}" rx="10"/>')
        parts.append(
            f'<text x="{x + PADDING}" y="{y + 24}" class="lp-diagram-title">'
            f"{index + 1}. {escape(phase.title)}</text>"
        )
        parts.append(
            f'<text x="{x + PADDING}" y="{y + 44}" class="lp-diagram-weeks">{phase.weeks} weeks</text>'
        )
        for line, topic_id in enumerate(phase.topics):
            title = curriculum.topics[topic_id].title
            parts.append(
                f'<text x="{x + PADDING + 8}" y="{y + HEADER + 12 + line * LINE}" class="lp-diagram-topic">'
                f"• {escape(title)}</text>"
            )
        parts.append("</g>")
    for (x1, y1), (x2, y2) in itertools.pairwise(corners):
        start: tuple[float, float]
        end: tuple[float, float]
        if y1 == y2:
            start = (x1 + BOX_WIDTH, y1 + box_height / 2)
            end = (x2, y2 + box_height / 2)
            path = f"M{start[0]},{start[1]} L{end[0] - 2},{end[1]}"
        else:
            start = (x1 + BOX_WIDTH / 2, y1 + box_height)
            end = (x2 + BOX_WIDTH / 2, y2)
            middle = y1 + box_height + GAP_Y / 2
            path = f"M{start[0]},{start[1]} L{start[0]},{middle} L{end[0]},{middle} L{end[0]},{end[1] - 2}"
        parts.append(f'<path d="{path}" class="lp-diagram-arrow" marker-end="url(#lp-arrow)"/>')
    parts.append("</svg>")
    return "".join(parts)
