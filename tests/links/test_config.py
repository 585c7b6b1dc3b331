"""links.toml: every problem a one-line located error; the checked-in file loads."""

from __future__ import annotations

from pathlib import Path

from links.helpers import ROOT, run
from llm_path.links import (
    load_config,
)


def test_invalid_config_is_one_line_error_exit_2(tmp_path, monkeypatch, capsys):
    """A wrong value in links.toml stops with exit 2 and one line naming file and line."""
    monkeypatch.chdir(tmp_path)
    Path("links.toml").write_text('[defaults]\nper_host = "four"\n')
    code, _, err = run(["https://a.example/"], capsys)
    assert code == 2
    assert err == "links.toml:2:1: defaults.per_host: 'four' is not an integer; write e.g. per_host = 4\n"


def test_host_rule_without_reason_is_rejected(tmp_path, monkeypatch, capsys):
    """Every host rule must say why it exists."""
    monkeypatch.chdir(tmp_path)
    Path("links.toml").write_text('[hosts."example.com"]\nskip = true\n')
    code, _, err = run(["https://a.example/"], capsys)
    assert code == 2
    assert (
        err
        == 'links.toml:1:1: hosts.example.com: no reason given; add reason = "why this host needs a rule"\n'
    )


def test_checked_in_config_is_valid(tmp_path, monkeypatch, capsys):
    """The repository's links.toml loads."""
    loaded = load_config(ROOT / "links.toml")
    assert loaded.rule_for("www.linkedin.com") is not None
    assert loaded.per_host <= 6
