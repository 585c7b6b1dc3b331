"""Glossary tips: the first mention of a term in prose links to its entry with the definition as a tooltip."""

from __future__ import annotations

from llm_path.build.prose import prose_html
from llm_path.build.tips import Tip, TipLinker, is_case_sensitive, slugify

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
    """Mentions inside links, code, headings, maths, summaries and data-no-tips elements are not wrapped."""
    source = (
        '<h2>KL divergence</h2><a href="x">KL divergence</a><code>KL divergence</code>'
        "<math><mi>KL divergence</mi></math><summary>KL divergence</summary>"
    )
    assert LINKER.link(source, "g/") == source
    quiet = '<p class="lp-tagline" data-no-tips>From KL divergence <em>to</em> KL divergence</p><p>KL divergence</p>'
    assert LINKER.link(quiet, "g/").startswith(quiet.split("<p>KL")[0] + '<p><span class="lp-term-wrap">')


def test_alias_matches_case_insensitively_on_word_boundaries() -> None:
    """An alias counts; a longer word containing the term does not."""
    assert 'href="g/#kl-divergence"' in LINKER.link("<p>kullback-leibler divergence</p>", "g/")
    assert "lp-term" not in LINKER.link("<p>KL divergences-like</p>", "g/")


def test_slugify() -> None:
    """Anchors are lower-case words joined by hyphens."""
    assert slugify("Bayes' theorem") == "bayes-theorem"


def test_acronym_like_terms_match_only_as_written() -> None:
    """ZeRO links where the text says ZeRO, never the word "zero"; an ordinary term matches in any case."""
    linker = TipLinker(
        [
            Tip("zero", ("ZeRO",), "Sharded optimiser states."),
            Tip("softmax", ("Softmax",), "Scores to probabilities."),
        ]
    )
    assert "lp-term" not in linker.link("<p>The gradient is zero at a minimum; Zero too.</p>", "g/")
    assert 'href="g/#zero"' in linker.link("<p>It is zero here, and ZeRO shards it.</p>", "g/")
    assert ">ZeRO</a>" in linker.link("<p>It is zero here, and ZeRO shards it.</p>", "g/")
    assert 'href="g/#softmax"' in linker.link("<p>a softmax</p>", "g/")
    assert [
        n
        for n in ("ZeRO", "LoRA", "GPT-2", "KL divergence", "Kullback-Leibler", "Softmax", "top-p")
        if is_case_sensitive(n)
    ] == [
        "ZeRO",
        "LoRA",
        "GPT-2",
        "KL divergence",
    ]
