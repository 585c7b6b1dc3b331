"""Glossary tips: the first mention of a term in prose links to its entry with the definition as a tooltip."""

from __future__ import annotations

from llm_path.build.prose import prose_html
from llm_path.build.tips import Tip, TipLinker, slugify

LINKER = TipLinker(
    [
        Tip(
            "kl-divergence",
            ("KL divergence", "Kullback-Leibler divergence"),
            str(prose_html("A `<distance>` of sorts, $D(p \\| q)$.")),
        )
    ]
)


def test_first_mention_in_prose_is_linked_with_a_rendered_tooltip() -> None:
    """One link per term per page, to the glossary anchor, with the definition rendered as the page renders prose."""
    html = LINKER.link("<p>The KL divergence, and again KL divergence.</p>", "../glossary/")
    assert html.count('class="lp-term"') == 1
    assert (
        '<a class="lp-term" href="../glossary/#kl-divergence" aria-describedby="lp-tip-kl-divergence">KL divergence</a>'
        in html
    )
    assert (
        'role="tooltip" id="lp-tip-kl-divergence" data-search-exclude>A <code>&lt;distance&gt;</code> of sorts, <math'
        in html
    )


def test_links_code_headings_and_maths_are_left_alone() -> None:
    """Mentions inside links, code, headings, maths and summaries are not wrapped."""
    source = (
        '<h2>KL divergence</h2><a href="x">KL divergence</a><code>KL divergence</code>'
        "<math><mi>KL divergence</mi></math><summary>KL divergence</summary>"
    )
    assert LINKER.link(source, "g/") == source


def test_alias_matches_case_insensitively_on_word_boundaries() -> None:
    """An alias counts; a longer word containing the term does not."""
    assert 'href="g/#kl-divergence"' in LINKER.link("<p>kullback-leibler divergence</p>", "g/")
    assert "lp-term" not in LINKER.link("<p>KL divergences-like</p>", "g/")


def test_slugify() -> None:
    """Anchors are lower-case words joined by hyphens."""
    assert slugify("Bayes' theorem") == "bayes-theorem"
