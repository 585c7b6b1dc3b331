"""The command line: `scripts/check_links.py` and `llm-path links` (options, inputs, exit codes)."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TextIO

from llm_path.files import write_atomic
from llm_path.links.cache import DEFAULT_CACHE, LinkCache
from llm_path.links.checker import check_links
from llm_path.links.config import DEFAULT_CONFIG, CheckOptions, load_config, parse_duration
from llm_path.links.extract import collect_links, default_inputs, links_at_revision
from llm_path.links.guard import OFFLINE
from llm_path.links.model import LinkError, LinkErrors
from llm_path.links.report import Progress, format_summary, format_table, report_json, report_markdown
from llm_path.links.text import printable


def _at_least(minimum: float, kind: Callable[[str], float], what: str) -> Callable[[str], Any]:
    """An argparse type: `text` read by `kind` ('a whole number', 'a number of seconds'), not below `minimum`."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum:
            limit = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
            raise argparse.ArgumentTypeError(f"{text!r} {limit}")
        return value

    return parse


_positive_int = _at_least(1, int, "a whole number")
_count = _at_least(0, int, "a whole number")
_seconds = _at_least(0, float, "a number of seconds")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration; write e.g. 7d, 12h, 30m or 45s"
        ) from None


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        description="Check the learning path's external links: fast, polite and safe.",
        epilog="Exit codes: 0 nothing dead, 1 something dead, 2 usage or config error. Defaults are in links.toml.",
    )
    p.add_argument(
        "inputs",
        nargs="*",
        metavar="INPUT",
        help="YAML, Markdown or text files, directories, - for stdin, or URLs (default: curriculum/ and docs/)",
    )
    p.add_argument(
        "--config", metavar="FILE", help=f"per-host rules and defaults (default: {DEFAULT_CONFIG} if present)"
    )
    p.add_argument(
        "--cache",
        metavar="FILE",
        default=DEFAULT_CACHE,
        help=f"result cache, read by the site build (default: {DEFAULT_CACHE})",
    )
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    p.add_argument(
        "--max-age",
        type=_duration,
        metavar="AGE",
        help="re-check cached results older than this (default 7d)",
    )
    p.add_argument("--json", metavar="FILE", help="write a JSON report (- for stdout)")
    p.add_argument("--markdown", metavar="FILE", help="write a Markdown report (- for stdout)")
    p.add_argument(
        "--only-changed",
        metavar="BASE_REF",
        help="only URLs added since this git revision (for pull requests)",
    )
    p.add_argument(
        "--allow-private", action="store_true", help="also check private, loopback and link-local addresses"
    )
    p.add_argument("--all", action="store_true", help="list alive links in the table too")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    g = p.add_argument_group("limits (override links.toml)")
    g.add_argument("--concurrency", type=_positive_int, metavar="N")
    g.add_argument("--per-host", type=_positive_int, metavar="N")
    g.add_argument("--min-interval", type=_seconds, metavar="SECONDS")
    g.add_argument("--connect-timeout", type=_seconds, metavar="SECONDS")
    g.add_argument("--read-timeout", type=_seconds, metavar="SECONDS")
    g.add_argument("--retries", type=_count, metavar="N")
    g.add_argument("--backoff", type=_seconds, metavar="SECONDS")
    g.add_argument("--max-retry-wait", type=_seconds, metavar="SECONDS")
    g.add_argument("--url-timeout", type=_seconds, metavar="SECONDS")
    g.add_argument("--run-timeout", type=_seconds, metavar="SECONDS")
    return p


def options_from_args(args: argparse.Namespace) -> CheckOptions:
    """Built-in defaults, then links.toml (or --config), then command-line flags."""
    options = CheckOptions()
    if args.config:
        options = load_config(Path(args.config), options)
    elif Path(DEFAULT_CONFIG).is_file():
        options = load_config(Path(DEFAULT_CONFIG), options)
    flags = {
        f.name: getattr(args, f.name) for f in fields(CheckOptions) if getattr(args, f.name, None) is not None
    }
    flags = {k: v for k, v in flags.items() if k != "allow_private"}
    return replace(options, **flags, allow_private=args.allow_private or options.allow_private)


def _write_report(target: str, text: str) -> None:
    if target == "-":
        sys.stdout.write(text)
        return
    try:
        write_atomic(Path(target), text)
    except OSError as e:
        raise LinkErrors(
            [LinkError(f"cannot write the report: {e.strerror}", "pass a writable path", target)]
        ) from None


def _say(problems: Iterable[object], stream: TextIO, prefix: str = "") -> None:
    """One line per problem; what files hold reaches the terminal without control characters too."""
    for problem in problems:
        print(prefix + printable(str(problem)), file=stream)


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as e:  # argparse printed usage and the problem
        return e.code if isinstance(e.code, int) else 2
    err = sys.stderr
    try:
        options = options_from_args(args)
        if args.inputs:
            sources, warnings = collect_links(args.inputs)
        else:
            files = default_inputs()
            if not files:
                raise LinkErrors(
                    [
                        LinkError(
                            "nothing to check: no curriculum/*.yml or docs/*.md here",
                            "run from the repository root, or pass files or URLs",
                        )
                    ]
                )
            sources, warnings = collect_links(str(f) for f in files)
        if args.only_changed:
            before = links_at_revision(args.only_changed)
            sources = {u: s for u, s in sources.items() if u not in before}
        cache = None if args.no_cache else LinkCache.load(Path(args.cache))
    except LinkErrors as e:
        _say(e.errors, err)
        return 2
    _say(warnings, err, "warning: ")

    progress = Progress(err) if err.isatty() and not args.quiet else None
    started = time.monotonic()
    try:
        results = check_links(sources, options, cache=cache, on_result=progress)
    except KeyboardInterrupt:
        if progress:
            progress.clear()
        kept = f"; finished results are kept in {cache.path}" if cache else ""
        print(f"interrupted{kept}", file=err)
        return 130
    except LinkErrors as e:
        if progress:
            progress.clear()
        _say(e.errors, err)
        return 2
    if progress:
        progress.clear()
    if any(OFFLINE in r.detail for r in results):
        print(f"warning: no host name resolves, {OFFLINE}; nothing was marked dead or cached", file=err)

    out = err if "-" in (args.json, args.markdown) else sys.stdout
    out.write(format_table(results, sources, show_all=args.all))
    print(format_summary(results, time.monotonic() - started), file=out)
    try:
        if args.json:
            _write_report(args.json, report_json(results, sources))
        if args.markdown:
            _write_report(args.markdown, report_markdown(results, sources))
    except LinkErrors as e:
        _say(e.errors, err)
        return 2
    return 1 if any(r.status == "dead" for r in results) else 0
