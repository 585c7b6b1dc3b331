"""Finding URLs in YAML, Markdown, text files and standard input, with where each was written."""

from __future__ import annotations

import io
import sys

from llm_path.links import (
    collect_links,
    links_in_markdown,
    links_in_yaml,
)


def test_yaml_urls_at_any_depth_with_positions():
    """Every string under a key named url is found, with its line and column."""
    text = "title: x\nurl: https://a.example/\nresources:\n  - name: b\n    url: https://b.example/x\n    more: {url: 'https://c.example/'}\n  - link: https://not-a-url-key.example/\n"
    found, warnings = links_in_yaml(text, "t.yml")
    assert [(u, str(s)) for u, s in found] == [
        ("https://a.example/", "t.yml:2:6"),
        ("https://b.example/x", "t.yml:5:10"),
        ("https://c.example/", "t.yml:6:17"),
    ]
    assert warnings == []


def test_yaml_url_without_scheme_is_a_warning_with_a_fix():
    """A url value that is not http(s) is reported with file:line:col and the address to write."""
    _, warnings = links_in_yaml("url: arxiv.org/abs/1706.03762\n", "t.yml")
    assert [str(w) for w in warnings] == [
        "t.yml:1:6: url 'arxiv.org/abs/1706.03762' is not an http(s) URL (not checked); write the full address, e.g. https://arxiv.org/abs/1706.03762"
    ]


def test_markdown_external_links_outside_code():
    """Inline, reference, autolinks, HTML and bare URLs are found; code is skipped."""
    text = "\n".join(
        [
            'See [d2l](https://d2l.ai/ "title") and <https://auto.example/a>.',
            "[ref]: https://ref.example/b",
            '<a href="https://html.example/c">x</a> and https://en.wikipedia.org/wiki/Attention_(machine_learning).',
            "Relative [page](topics/x.md) and `https://code.example/span`.",
            "```",
            "https://fenced.example/",
            "```",
        ]
    )
    assert [(u, str(s)) for u, s in links_in_markdown(text, "d.md")] == [
        ("https://d2l.ai/", "d.md:1:11"),
        ("https://auto.example/a", "d.md:1:41"),
        ("https://ref.example/b", "d.md:2:8"),
        ("https://html.example/c", "d.md:3:10"),
        ("https://en.wikipedia.org/wiki/Attention_(machine_learning)", "d.md:3:44"),
    ]


def test_text_file_and_stdin_inputs(tmp_path, monkeypatch):
    """A text file and standard input give one URL per line, comments skipped."""
    (tmp_path / "urls.txt").write_text("# list\nhttps://a.example/\n\nhttps://b.example/\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("https://c.example/\n"))
    found, _ = collect_links([str(tmp_path / "urls.txt"), "-", "https://d.example/"])
    assert list(found) == [
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
        "https://d.example/",
    ]
