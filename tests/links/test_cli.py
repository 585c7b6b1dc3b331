"""The command line: exit codes, one-line errors for bad inputs, default inputs, --only-changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from linkserver import Reply, redirect

from links.helpers import run


def test_exit_0_when_nothing_is_dead(server, tmp_path, monkeypatch, capsys):
    """Exit code 0 when every link is alive, moved, unverified or an error."""
    monkeypatch.chdir(tmp_path)
    server.add("/new")
    urls = [
        server.add("/ok"),
        server.add("/moved", redirect(301, "/new")),
        server.add("/no", Reply(status=403)),
    ]
    code, out, _ = run(["--allow-private", "--no-cache", *urls], capsys)
    assert code == 0
    assert "3 links in" in out


def test_exit_1_when_something_is_dead(server, tmp_path, monkeypatch, capsys):
    """Exit code 1 when a link is dead, and the table names it."""
    monkeypatch.chdir(tmp_path)
    url = server.add("/gone", Reply(status=404))
    code, out, _ = run(["--allow-private", "--no-cache", server.add("/ok"), url], capsys)
    assert code == 1
    assert any(line.startswith("dead") and url in line for line in out.splitlines())


def test_bad_yaml_is_one_line_error_exit_2(tmp_path, monkeypatch, capsys):
    """Broken YAML stops with exit 2 and one line naming file, line and column, worded as `llm-path validate` words it."""
    monkeypatch.chdir(tmp_path)
    Path("bad.yml").write_text("resources:\n  - url: 'https://a.example/\n")
    code, _out, err = run(["--no-cache", "bad.yml"], capsys)
    assert code == 2
    assert err.startswith("bad.yml:3:1: YAML syntax error: found unexpected end of stream; check indentation")
    assert len(err.strip().splitlines()) == 1


def test_yaml_that_would_expand_without_bound_is_refused_at_its_position(tmp_path, monkeypatch, capsys):
    """A billion-laughs file is one located line, refused while composing, as the curriculum loader refuses it."""
    monkeypatch.chdir(tmp_path)
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"] + [
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    Path("laughs.yml").write_text("\n".join(lines) + "\nurl: https://a.example/\n")
    code, _out, err = run(["--no-cache", "laughs.yml"], capsys)
    assert code == 2
    assert (
        err.strip()
        == "laughs.yml:1:4: the YAML anchor '&a' is not allowed in the curriculum; write the value out in full and delete the anchor"
    )


def test_every_bad_input_is_reported_in_one_run(tmp_path, monkeypatch, capsys):
    """Two bad lines in a URL list and a missing file give three errors at once."""
    monkeypatch.chdir(tmp_path)
    Path("urls.txt").write_text("https://ok.example/\nnot a url\nftp://x/\n")
    code, _, err = run(["--no-cache", "urls.txt", "missing.md"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "urls.txt:2:1: 'not a url' is not an http(s) URL; write one full http(s) URL per line, e.g. https://example.org/page",
        "urls.txt:3:1: 'ftp://x/' is not an http(s) URL; write one full http(s) URL per line, e.g. https://example.org/page",
        "missing.md: no such file, and not an http(s) URL; pass a YAML, Markdown or text file, a directory, - for stdin, or a full http(s) URL",
    ]


def test_default_inputs_are_curriculum_and_docs(server, tmp_path, monkeypatch, capsys):
    """With no inputs, curriculum YAML urls and docs Markdown links are checked."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curriculum" / "topics").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "curriculum" / "topics" / "a.yml").write_text(f"resources:\n  - url: {server.add('/yaml')}\n")
    (tmp_path / "docs" / "index.md").write_text(f"Read [this]({server.add('/md')}).\n")
    code, _, _ = run(["--allow-private", "--no-cache"], capsys)
    assert code == 0
    assert (server.hits["/yaml"], server.hits["/md"]) == (1, 1)


def test_only_changed_checks_urls_added_since_base(server, tmp_path, monkeypatch, capsys):
    """--only-changed BASE checks only URLs not present at BASE."""
    monkeypatch.chdir(tmp_path)
    old, new = server.add("/old"), server.add("/new")
    topic = tmp_path / "curriculum" / "topics" / "a.yml"
    topic.parent.mkdir(parents=True)
    topic.write_text(f"resources:\n  - url: {old}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    topic.write_text(f"resources:\n  - url: {old}\n  - url: {new}\n")
    code, _, _ = run(["--allow-private", "--no-cache", "--only-changed", "HEAD"], capsys)
    assert code == 0
    assert (server.hits["/old"], server.hits["/new"]) == (0, 1)


def test_only_changed_with_unknown_base_is_exit_2(tmp_path, monkeypatch, capsys):
    """An unknown base revision is a one-line usage error."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    code, _, err = run(["--no-cache", "--only-changed", "nope", "https://a.example/"], capsys)
    assert code == 2
    assert err.startswith("--only-changed: 'nope' is not a commit in this repository;")
