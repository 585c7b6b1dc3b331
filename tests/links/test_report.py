"""The reports: JSON and Markdown, with where each link was written."""

from __future__ import annotations

import html.parser
import json
from pathlib import Path

from linkserver import Reply
from markdown_it import MarkdownIt

from links.helpers import run


def test_json_and_markdown_reports(server, tmp_path, monkeypatch, capsys):
    """--json and --markdown write the results, with where each dead link was written."""
    monkeypatch.chdir(tmp_path)
    dead = server.add("/gone", Reply(status=404))
    Path("a.yml").write_text(f"url: {dead}\n")
    run(["--allow-private", "--no-cache", "--json", "r.json", "--markdown", "r.md", "a.yml"], capsys)
    report = json.loads(Path("r.json").read_text())
    assert report["summary"]["dead"] == 1
    assert report["results"][0]["sources"] == ["a.yml:1:6"]
    assert f"| dead | <{dead}> | `a.yml:1:6` | 404 Not Found |" in Path("r.md").read_text()


HOSTILE = "\x1b[31mX\x07<img src=x onerror=alert(1)>"
INERT = "404 [31mX<img src=x onerror=alert(1)>"


class _Elements(html.parser.HTMLParser):
    """The tags and attributes of an HTML fragment."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)


def test_hostile_reason_phrase_is_inert_in_every_output(server, tmp_path, monkeypatch, capsys):
    """A reason phrase with ESC, BEL and HTML: no control character on the terminal, only text in both reports."""
    monkeypatch.chdir(tmp_path)
    url = server.add("/evil", Reply(status=404, reason=HOSTILE))
    code, out, err = run(
        ["--allow-private", "--no-cache", "--json", "r.json", "--markdown", "r.md", url], capsys
    )
    assert code == 1
    assert out.splitlines()[1] == f"{'dead':6}  {'404':4}  {url}  {'-':5}  {INERT}"
    assert not any(c in out + err for c in "\x1b\x07")

    markdown = Path("r.md").read_text()
    row = f"| dead | <{url}> | - | 404 \\[31mX&lt;img src=x onerror=alert(1)&gt; |"
    assert markdown.splitlines()[-1] == row
    page = _Elements()
    page.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    assert page.tags <= {"h2", "p", "strong", "table", "thead", "tbody", "tr", "th", "td", "a"}
    assert page.attributes == {"href"}

    report = json.loads(Path("r.json").read_text())
    assert report["results"][0]["detail"] == INERT
