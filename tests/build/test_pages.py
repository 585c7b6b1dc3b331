"""The page generator: pure functions from the curriculum to Markdown."""

from __future__ import annotations

import html
from pathlib import Path

import pytest

from llm_path.build.pages import LinkHealth, SiteOptions, navigation, render_site, total_weeks
from llm_path.build.prose import plain_markup
from llm_path.curriculum.load import load_curriculum


def test_titles_are_text_and_prose_is_its_markdown_subset(curriculum: Path) -> None:
    """A title's HTML comes out as entities; prose keeps emphasis, code, maths and http(s) links, all inert."""
    pages = render_site(load_curriculum(curriculum))
    topic = pages["topics/linear-algebra/index.md"]
    assert "MIT 18.06 &lt;script&gt;alert(1)&lt;/script&gt;" in topic
    assert "<em>with</em> <code>&lt;img src=x onerror=alert(2)&gt;</code> as code" in topic
    assert '<math display="inline"><mrow><mi>a</mi><mo>&lt;</mo><mi>b</mi></mrow></math> as maths' in topic
    assert '<a href="https://ocw.mit.edu/notes" rel="noopener">its notes</a>.' in topic


def test_total_weeks_adds_phases_and_marks_open_ended(curriculum: Path) -> None:
    """1-2 weeks plus an open-ended 1+ is '2-3+'."""
    assert total_weeks(load_curriculum(curriculum)) == "2-3+"


def test_navigation_follows_path_order(curriculum: Path) -> None:
    """Phases in path order, each with its overview then its topics."""
    nav = navigation(load_curriculum(curriculum))
    assert nav[0] == {"Home": "index.md"}
    assert nav[1] == {
        "The path": [
            {
                "1. Mathematical foundations": [
                    {"Overview": "phases/foundations/index.md"},
                    {"Linear algebra": "topics/linear-algebra/index.md"},
                    {"Calculus and optimization": "topics/calculus/index.md"},
                ]
            },
            {
                "2. Transformer architecture": [
                    {"Overview": "phases/transformers/index.md"},
                    {"Attention mechanisms": "topics/attention/index.md"},
                ]
            },
        ]
    }


def test_link_health_is_shown(curriculum: Path) -> None:
    """A dead link gets a Wayback Machine fallback; a moved one its new address; a checked one its date."""
    health = {
        "https://arxiv.org/abs/1706.03762": LinkHealth("dead", "2026-11-20T10:00:00+00:00"),
        "https://huggingface.co/course": LinkHealth(
            "moved", "2026-11-20T10:00:00+00:00", "https://huggingface.co/learn"
        ),
        "https://www.khanacademy.org/math/multivariable-calculus": LinkHealth(
            "alive", "2026-11-21T10:00:00+00:00"
        ),
    }
    pages = render_site(load_curriculum(curriculum), SiteOptions(health=health))
    attention = pages["topics/attention/index.md"]
    assert 'href="https://web.archive.org/web/https://arxiv.org/abs/1706.03762"' in attention
    assert "Link dead when checked on 2026-11-20" in attention
    assert 'Moved: now at <a href="https://huggingface.co/learn">' in attention
    assert "Link checked on 2026-11-21." in pages["topics/calculus/index.md"]


def test_without_a_report_every_resource_says_it_was_not_checked(curriculum: Path) -> None:
    """Without a link report, each resource says honestly that its link was not checked, and claims nothing else."""
    curriculum_data = load_curriculum(curriculum)
    text = "".join(render_site(curriculum_data).values())
    resources = sum(len(t.resources) for t in curriculum_data.topics.values())
    resource_pages = 2  # each resource is listed on its topic page and on the resources page
    assert text.count("Link not checked yet.") == resources * resource_pages
    assert "checked on" not in text.lower().replace("not checked yet", "")


def test_edit_links_point_at_the_yaml_file(curriculum: Path) -> None:
    """'Suggest an edit' opens the YAML file behind the page, not generated Markdown."""
    pages = render_site(load_curriculum(curriculum), SiteOptions(repo_url="https://github.com/o/r"))
    assert (
        "(https://github.com/o/r/edit/main/curriculum/topics/attention.yml)"
        in pages["topics/attention/index.md"]
    )
    assert (
        "(https://github.com/o/r/edit/main/curriculum/phases/01-foundations.yml)"
        in pages["phases/foundations/index.md"]
    )


def test_mark_known_ticks_the_prerequisites_all_the_way_down(curriculum: Path) -> None:
    """The button ticks a topic's prerequisites and theirs (not every earlier topic), and says how many."""
    attention = curriculum / "topics/attention.yml"
    text = attention.read_text()
    attention.write_text(
        text.replace("prerequisites: [linear-algebra, calculus]", "prerequisites: [calculus]")
    )
    page = render_site(load_curriculum(curriculum))["topics/attention/index.md"]
    assert 'data-mark-known="t-linear-algebra t-calculus">Mark these 2 topics as known</button>' in page
    assert "and what they build on: [Linear algebra](../linear-algebra/index.md)." in page
    attention.write_text(
        text.replace("prerequisites: [linear-algebra, calculus]", "prerequisites: [linear-algebra]")
    )
    page = render_site(load_curriculum(curriculum))["topics/attention/index.md"]
    assert 'data-mark-known="t-linear-algebra">Mark this topic as known</button>' in page, (
        "calculus is earlier, not needed"
    )
    assert "data-mark-known" not in render_site(load_curriculum(curriculum))["topics/linear-algebra/index.md"]


@pytest.mark.parametrize(
    "title", ["Let's build GPT", 'The "Attention" paper', "Fish & chips #1", "A <b> tag's #2"]
)
def test_titles_show_exactly_as_typed(title: str) -> None:
    """A title's apostrophes, quotes, ampersands and hashes come back as themselves, never as visible references."""
    shown = str(plain_markup(title))
    assert html.unescape(shown) == title
    assert "&&" not in shown and "<" not in shown
