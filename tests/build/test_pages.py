"""The page generator: pure functions from the curriculum to Markdown."""

from __future__ import annotations

from pathlib import Path

from llm_path.build.pages import LinkHealth, SiteOptions, navigation, render_site, total_weeks
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
    assert "Checked on 2026-11-21." in pages["topics/calculus/index.md"]


def test_no_report_changes_nothing(curriculum: Path) -> None:
    """Without a link report, no health mark appears."""
    pages = render_site(load_curriculum(curriculum))
    assert "lp-health" not in "".join(pages.values())


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
