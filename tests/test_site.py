"""A real `mkdocs build --strict` of the fixture curriculum: the pages exist and show the data, inertly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import build_site, mkdocs_build, site_config

EXTERNAL_ASSET = re.compile(
    r'<(?:script|img|iframe|source)\b[^>]*\bsrc="(?:https?:)?//[^"]+"'
    r'|<link\b[^>]*\brel="(?:stylesheet|preload|preconnect|modulepreload|icon|dns-prefetch)"[^>]*\bhref="(?:https?:)?//[^"]+"'
    r"|@import\s+url\(\s*[\"']?(?:https?:)?//",
    re.I,
)


@pytest.fixture
def site(tmp_path: Path, curriculum: Path) -> Path:
    return build_site(tmp_path, curriculum)


def page(site: Path, path: str) -> str:
    return (site / path / "index.html").read_text(encoding="utf-8")


def test_every_generated_page_is_built(site: Path) -> None:
    """Home, each phase, each topic and the index pages exist."""
    for path in [
        "",
        "phases/foundations",
        "phases/transformers",
        "topics/linear-algebra",
        "topics/calculus",
        "topics/attention",
        "resources",
        "glossary",
        "advice",
        "reading-list",
    ]:
        assert (site / path / "index.html").is_file(), path


def test_topic_page_shows_the_data(site: Path) -> None:
    """The topic page shows its ideas, concepts, resources with badges and its questions."""
    html = page(site, "topics/attention")
    assert "<h1" in html and "Attention mechanisms" in html
    assert "Selective focus" in html
    assert '<h3 class="lp-concept" id="query-key-value">Query, key, value' in html
    assert 'href="https://arxiv.org/abs/1706.03762"' in html
    assert 'data-type="paper" data-level="advanced" data-free="free"' in html
    assert '<span class="lp-badge lp-paid">paid</span>' in html
    assert "<summary>Why divide attention scores by the square root of d_k?</summary>" in html
    assert 'href="../linear-algebra/"' in html, "prerequisite links to its topic"


def test_contributor_text_is_inert(site: Path) -> None:
    """Script tags, event handlers and javascript: links in YAML show as text, never as markup."""
    for path in ["topics/linear-algebra", "resources", "phases/foundations"]:
        html = page(site, path)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html and "onerror=alert" not in html.replace(
            "&lt;img src=x onerror=alert", ""
        )
        assert 'href="javascript:alert' not in html


def test_phase_page_presents_each_week_as_a_unit(site: Path) -> None:
    """Each week is a section of its own: its focus as a heading, its topics, its resources with type badges, its tasks."""
    html = page(site, "phases/foundations")
    weeks = re.findall(r'<section class="lp-week">(.*?)</section>', html, re.DOTALL)
    assert len(weeks) == 2
    first, second = weeks
    assert re.search(r'<h3 id="week-1">Week 1: Vectors and matrices', first)
    assert 'href="../../topics/linear-algebra/"' in first
    assert (
        '<li><a href="https://ocw.mit.edu/courses/mathematics/18-06-linear-algebra-spring-2010/">MIT 18.06 '
        in first
    )
    assert '<span class="lp-badge lp-badge-type">course</span></li>' in first
    assert "<li>Watch 18.06 lectures 1-3.</li>" in first
    assert "Week 2: Derivatives" in second and "Work through" not in second, (
        "a week without resources lists none"
    )
    assert "<table>" not in html
    assert "A layer by hand" in html


def test_home_draws_the_path_from_the_data(site: Path) -> None:
    """The home page's diagram is a box per phase linking to it, its topics linked inside; and the tracks."""
    html = page(site, "")
    diagram = html[
        html.index('<ol class="lp-diagram"') : html.index("</ol>", html.index('<ol class="lp-diagram"'))
    ]
    assert diagram.count('<li class="lp-diagram-phase"') == 2
    assert '<a class="lp-diagram-title" href="phases/foundations/">' in diagram
    assert 'Mathematical foundations<span class="lp-diagram-weeks">1-2 weeks · 35 hours</span></a>' in diagram
    assert (
        '<li data-progress-topic="t-attention"><a href="topics/attention/">Attention mechanisms</a></li>'
        in diagram
    )
    assert "Beginner" in html and "47 hours · about 3 weeks at 16 hours a week" in html


def test_advice_shows_each_piece_with_its_source(site: Path) -> None:
    """Each piece of advice is a quotation of its own with its source beneath it, not one long quote."""
    html = page(site, "advice")
    assert (
        '<figure class="lp-advice">\n<blockquote><p>Code up any of the main architectures in plain numpy.</p></blockquote>\n'
        "<figcaption>A learner&#x27;s study notes</figcaption>\n</figure>" in html
    )


def test_navigation_comes_from_the_data(site: Path) -> None:
    """Phases and their topics appear in the navigation in path order; each page expands its own phase."""

    def navigation(path: str) -> str:
        html = page(site, path)
        return html[html.index("md-nav--primary") : html.index('class="md-content"')]

    first = navigation("topics/linear-algebra")
    titles = [
        "1. Mathematical foundations",
        "Linear algebra",
        "Calculus and optimization",
        "2. Transformer architecture",
    ]
    positions = [first.index(title) for title in titles]
    assert positions == sorted(positions)
    second = navigation("topics/attention")
    assert second.index("2. Transformer architecture") < second.index("Attention mechanisms")


def test_maths_is_rendered_at_build_time(tmp_path: Path, curriculum: Path) -> None:
    """LaTeX in the data becomes MathML: no maths script is needed at view time."""
    text = (curriculum / "topics/attention.yml").read_text()
    text = text.replace(
        "answer: To keep the softmax inputs' variance near 1.",
        r"answer: 'Dividing by $\sqrt{d_k}$ keeps the variance near 1.'",
    )
    (curriculum / "topics/attention.yml").write_text(text)
    html = page(build_site(tmp_path, curriculum), "topics/attention")
    assert "<math" in html and "<msqrt>" in html
    assert r"\sqrt" not in html


def test_site_requests_nothing_outside_the_machine(site: Path) -> None:
    """No page loads a script, stylesheet, font or image from another host."""
    for html_file in site.rglob("*.html"):
        found = EXTERNAL_ASSET.findall(html_file.read_text(encoding="utf-8"))
        assert found == [], f"{html_file}: {found}"
        assert "fonts.googleapis.com" not in html_file.read_text(encoding="utf-8")


def test_bad_curriculum_stops_the_build_with_located_errors(tmp_path: Path, curriculum: Path) -> None:
    """A broken YAML file fails the build with file:line:col messages and no traceback."""
    (curriculum / "topics/attention.yml").write_text(
        (curriculum / "topics/attention.yml").read_text().replace("hours: 12", "hours: many")
    )
    result = mkdocs_build(site_config(tmp_path, curriculum), tmp_path / "site")
    assert result.returncode != 0
    assert (
        "topics/attention.yml:5:8: hours: expected a whole number, got text ('many'); write a whole number"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


def test_link_checker_report_shows_on_topic_pages(tmp_path: Path, curriculum: Path) -> None:
    """The build reads the link checker's cache: a dead link gets its archived copy, a moved one its new address,
    and a resource the report does not hold says it was not checked."""
    from llm_path.links import LinkCache, LinkResult

    cache = LinkCache(tmp_path / ".llm-path-cache" / "links.json")
    checked = "2026-11-20T08:00:00+00:00"
    cache.put(
        LinkResult("https://arxiv.org/abs/1706.03762", "dead", 404, None, "404 Not Found", checked, 0.1)
    )
    cache.put(
        LinkResult(
            "https://huggingface.co/course",
            "moved",
            301,
            "https://huggingface.co/learn",
            "moved",
            checked,
            0.1,
        )
    )
    cache.save()
    html = page(build_site(tmp_path, curriculum), "topics/attention")
    assert 'href="https://web.archive.org/web/https://arxiv.org/abs/1706.03762"' in html
    assert "Link dead when checked on 2026-11-20" in html
    assert 'Moved: now at <a href="https://huggingface.co/learn">' in html
    assert html.count('class="lp-health') == 2
    other = page(tmp_path / "site", "topics/linear-algebra")
    assert other.count('class="lp-health lp-health-unchecked" data-search-exclude>Link not checked yet.') == 2


def test_reading_list_entry_without_a_url_is_a_title_not_a_link(site: Path) -> None:
    """An entry with no web address starts with its title as a citation: no link, no glossary term inside it."""
    html = page(site, "reading-list")
    start = html.rindex("<li>", 0, html.index("Embeddings, a fixture book")) + len("<li>")
    item = html[start : html.index("</li>", start)]
    assert item.startswith(
        '<cite class="lp-offline-title">Embeddings, a fixture book without a web address</cite>'
    )
    assert "<a " not in item.split("</cite>", 1)[0]


def test_durations_come_from_the_topics_hours(site: Path) -> None:
    """Home, plan page and phases say the same lengths, all sums of topic hours (20 + 15 + 12) at the phases' pace."""
    home, plan, phase = page(site, ""), page(site, "plan"), page(site, "phases/foundations")
    assert "<strong>47</strong> hours" in home
    assert (
        "16 hours a week, the pace the phases' week-by-week plans assume (47 hours of topics over 3 planned weeks)"
        in home
    )
    assert '<option value="beginner">Beginner (47 hours)</option>' in plan
    assert "47 hours in all: about 3 weeks at 16 hours a week" in plan
    assert 'name="hours" min="1" max="80" value="16"' in plan
    assert "2 topics · 35 hours" in phase
