"""The reports: JSON and Markdown, with where each link was written."""

from __future__ import annotations

import json
from pathlib import Path

from linkserver import Reply

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
