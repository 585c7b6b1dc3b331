"""The text policy: what each kind of field accepts, and the offset of what it refuses."""

from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from llm_path.curriculum.text import Prose, Title, check_http_url, check_prose, check_title, quote


@pytest.mark.parametrize(
    "text",
    [
        "Attention <is> all & you *need*",
        "p < 0.05 and `<div>` as code",
        "$\\sum_i x_i$ and $$\\frac{a}{b}$$",
        "[a link](https://example.org/a_b)",
    ],
)
def test_what_prose_may_hold(text: str) -> None:
    assert isinstance(check_prose(text.replace("<is>", "is")), Prose)


@pytest.mark.parametrize(
    ("text", "what", "offset"),
    [
        ("a <b>bold</b>", "raw HTML", 2),
        ("x <!-- y", "an HTML comment", 2),
        ("*x*{: .c }", "a brace", 3),
        ("see $\\href{javascript:x}{y}$", "a maths command", 5),
        ("ok\n```\ncode\n```", "a fenced block", 3),
        ("one\n\ntwo", "a blank line", 3),
        ("{{ site }}", "template syntax", 0),
        ('--8<-- "x"', "a snippet include", 0),
        ("![i](https://x.org/i.png)", "an image", 0),
    ],
)
def test_prose_refuses_markup_at_its_offset(text: str, what: str, offset: int) -> None:
    with pytest.raises(PydanticCustomError) as caught:
        check_prose(text)
    assert what in str(caught.value) and caught.value.context["offset"] == offset


def test_a_link_to_anything_but_http_is_refused() -> None:
    with pytest.raises(PydanticCustomError, match="not an http\\(s\\) address"):
        check_prose("[x](javascript:alert(1))")


def test_titles_are_one_line_without_invisible_characters() -> None:
    assert isinstance(check_title("<script> & co"), Title)
    for bad in ("two\nlines", "bidi \u202e override", "nul \x00"):
        with pytest.raises(PydanticCustomError):
            check_title(bad)


@pytest.mark.parametrize(
    "url", ["https://:80/", "https://a.org:99999/", "https://https://a.org/", "ftp://a.org/", "a.org/x y"]
)
def test_urls_need_a_scheme_a_host_and_no_space(url: str) -> None:
    with pytest.raises(PydanticCustomError):
        check_http_url(url)


def test_quotes_are_short_and_escaped() -> None:
    assert quote("x" * 500).endswith("…") and len(quote("x" * 500)) <= 84
    assert quote("a\x1b[31m") == "'a\\x1b[31m'"
