"""Shared helpers of the link checker's tests: fast options, one-URL checks, the command line in-process."""

from __future__ import annotations

from pathlib import Path

import pytest

from llm_path.links import CheckOptions, LinkResult, check_links, main

ROOT = Path(__file__).resolve().parents[2]
FAST = {
    "allow_private": True,
    "min_interval": 0.0,
    "backoff": 0.05,
    "read_timeout": 2.0,
    "connect_timeout": 1.0,
    "retries": 2,
    "url_timeout": 10.0,
}


def options(**overrides: object) -> CheckOptions:
    return CheckOptions(**{**FAST, **overrides})  # type: ignore[arg-type]


def check(url: str, **overrides: object) -> LinkResult:
    return check_links([url], options(**overrides))[0]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The command line in-process: (exit code, stdout, stderr)."""
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err
