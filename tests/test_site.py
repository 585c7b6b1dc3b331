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
    assert "<dt>Query, key, value</dt>" in html
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


def test_phase_page_has_week_by_week_table(site: Path) -> None:
    """The phase page lists each week with its topics and resources."""
    html = page(site, "phases/foundations")
    table = html[html.index("<table>") : html.index("</table>")]
    assert "<td>1</td>" in table and "<td>Vectors and matrices</td>" in table
    assert 'href="../../topics/linear-algebra/"' in table
    assert "Watch 18.06 lectures 1-3." in table
    assert "A layer by hand" in html


def test_home_draws_the_path_from_the_data(site: Path) -> None:
    """The home page holds an SVG diagram naming each phase and linking to it, and the tracks."""
    html = page(site, "")
    svg = html[
        html.index('<svg class="lp-diagram"') : html.index("</svg>", html.index('<svg class="lp-diagram"'))
    ]
    assert "1. Mathematical foundations" in svg and "2. Transformer architecture" in svg
    assert "Beginner" in html and "0-6 months" in html


def test_navigation_comes_from_the_data(site: Path) -> None:
    """Phases and their topics appear in the navigation in path order."""
    html = page(site, "")
    nav = html[html.index("md-nav--primary") :]
    positions = [
        nav.index(title)
        for title in [
            "1. Mathematical foundations",
            "Linear algebra",
            "Calculus and optimization",
            "2. Transformer architecture",
            "Attention mechanisms",
        ]
    ]
    assert positions == sorted(positions)


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
    """The build reads the link checker's cache: a dead link gets its archived copy, a moved one its new address."""
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
