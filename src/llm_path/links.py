"""Link checker: finds the project's external links, checks them fast and politely, and reports their health.

Inputs (``scripts/check_links.py [INPUT ...]``): YAML files (every string under a key
named ``url``, at any depth), Markdown files (external http(s) links outside code),
directories (their ``.yml``/``.yaml``/``.md`` files), text files of URLs one per line
(``-`` reads standard input), or URLs themselves. With no inputs: every ``url`` in
``curriculum/**/*.yml`` and every external link in ``docs/**/*.md``.

Statuses:

- ``alive``: the page answered 2xx (perhaps after temporary redirects, perhaps only to
  a browser-like request).
- ``moved``: permanent redirects (301, 308) lead to a working page; update the link to
  ``final_url``.
- ``dead``: 404, 410 or another 4xx, or the host name does not exist (when DNS works:
  if not even example.com resolves, the machine is offline and nothing is marked dead).
- ``unverified``: the host blocks automated checks (401, 403 even to a browser-like
  request, 451, 999, a rate limit we may not wait out) or is skipped in ``links.toml``.
  Not dead; check it by hand.
- ``error``: no verdict after retries: timeout, TLS failure, connection refused or
  reset, 5xx, a redirect loop or too many redirects, a URL we cannot request. Errors whose
  detail starts with "not checked" (offline, interrupted, run time limit) are not cached.
- ``refused``: not requested because the host resolves to a private, loopback,
  link-local, multicast or reserved address (``--allow-private`` allows them).

Cache file (default ``.cache/links.json``, ``--cache FILE``); the site build reads it to
show link health. Written atomically and progressively, so an interrupted run keeps
every finished result. Format, version 1 (results sorted by URL)::

    {
      "version": 1,
      "results": {
        "<url as written in the source>": {
          "status": "alive|moved|dead|unverified|error|refused",
          "code": 200,                      # last HTTP status, null if none came
          "final_url": "https://...",       # moved: the address to update to;
                                            # otherwise where redirects ended (null if no answer)
          "detail": "200 OK",               # why, in words
          "checked_at": "2026-11-22T12:00:00+00:00",
          "elapsed": 0.123                  # seconds spent on this URL
        }
      }
    }

A re-run skips results younger than ``--max-age`` (default 7 days); ``error`` and
``refused`` results are always checked again.

JSON report (``--json FILE``)::

    {"version": 1, "generated_at": "<ISO time>",
     "summary": {"alive": 0, "moved": 0, "dead": 0, "unverified": 0, "error": 0, "refused": 0},
     "results": [{"url": ..., <the cache fields>, "cached": false,
                  "sources": ["curriculum/topics/x.yml:14:9", ...]}, ...]}

Exit codes: 0 nothing dead, 1 something dead, 2 usage, input or config error,
130 interrupted.
"""

from __future__ import annotations

import argparse
import email.utils
import http.client
import ipaddress
import json
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urldefrag, urljoin, urlsplit, urlunsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
import urllib3.exceptions
import yaml

from llm_path.files import write_atomic

STATUSES = ("alive", "moved", "dead", "unverified", "error", "refused")
CACHE_VERSION = 1
DEFAULT_CACHE = ".cache/links.json"
DEFAULT_CONFIG = "links.toml"
USER_AGENT = "llm-path-linkcheck/1 (link checker of the llm-path learning site)"
BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}
BOT_BLOCK_CODES = frozenset({403, 999})
"""Answers that often mean "not to bots": retried once with browser-like headers."""
UNVERIFIED_CODES = frozenset({401, 403, 451, 999})
PERMANENT_REDIRECTS = frozenset({301, 308})
NOT_CHECKED = "not checked"
DNS_CANARY = "example.com"
"""A name that always resolves (RFC 2606): if it does not either, DNS is down, not the link."""
OFFLINE = f"but neither does {DNS_CANARY}: this machine looks offline"
_SEVERITY = {"dead": 0, "error": 1, "refused": 2, "moved": 3, "unverified": 4, "alive": 5}


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class LinkResult:
    """The verdict on one URL."""

    url: str
    status: str
    """One of STATUSES."""
    code: int | None
    """The last HTTP status code, None when no answer came."""
    final_url: str | None
    """For moved: the address to update to; otherwise where redirects ended."""
    detail: str
    """Why, in words."""
    checked_at: str
    """ISO 8601 time (UTC) of the check."""
    elapsed: float
    """Seconds spent checking."""
    from_cache: bool = False
    """Reused from the cache rather than checked in this run."""

    def to_cache(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "code": self.code,
            "final_url": self.final_url,
            "detail": self.detail,
            "checked_at": self.checked_at,
            "elapsed": self.elapsed,
        }


@dataclass(frozen=True)
class HostRule:
    """Per-host settings from links.toml (matches the host and its subdomains)."""

    reason: str
    """Why the host needs a rule (shown in reports)."""
    skip: bool = False
    """Never request it; report its links as unverified."""
    get_only: bool = False
    """Use GET from the start (the host mishandles HEAD)."""
    browser: bool = False
    """Send browser-like headers from the start (the host blocks other clients)."""
    per_host: int | None = None
    """A lower limit on concurrent requests to this host."""
    min_interval: float | None = None
    """A longer minimum interval (seconds) between requests to this host."""


@dataclass
class CheckOptions:
    """How to check; the defaults are documented in links.toml."""

    concurrency: int = 64
    """Most URLs checked at once, over all hosts."""
    per_host: int = 4
    """Most requests in flight (and connections open) to one host."""
    min_interval: float = 0.05
    """Seconds between the starts of two requests to one host."""
    connect_timeout: float = 5.0
    """Seconds to wait for a connection."""
    read_timeout: float = 10.0
    """Seconds to wait for an answer; a read timeout is not retried."""
    retries: int = 3
    """Retries after 429, 5xx and connection errors."""
    backoff: float = 0.5
    """First retry delay in seconds; doubles each retry, with jitter."""
    max_retry_wait: float = 60.0
    """Longest Retry-After we wait for; a longer one gives up at once."""
    url_timeout: float = 120.0
    """Seconds one URL may take in all (hops, retries and waits)."""
    run_timeout: float = 1800.0
    """Seconds a run may take; URLs not started by then are reported as not checked."""
    max_redirects: int = 10
    """Redirects followed per URL; a loop is reported as soon as it closes."""
    max_age: float = 7 * 86400.0
    """Seconds a cached result stays fresh."""
    max_body: int = 4096
    """Bytes of a GET body read at most."""
    allow_private: bool = False
    """Check private, loopback and link-local addresses too (tests, intranets)."""
    user_agent: str = USER_AGENT
    """Sent on every request except the browser-like retry after a 403 or 999."""
    hosts: dict[str, HostRule] = field(default_factory=dict)
    """Per-host rules keyed by host name."""

    def rule_for(self, host: str) -> HostRule | None:
        """The rule for `host` or its closest parent domain listed."""
        labels = host.lower().rstrip(".").split(".")
        for i in range(len(labels)):
            rule = self.hosts.get(".".join(labels[i:]))
            if rule is not None:
                return rule
        return None


@dataclass(frozen=True)
class Source:
    """Where a URL was written."""

    path: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


class LinkError(Exception):
    """A usage, input or config problem: one line, `file:line:col: what is wrong; what would be right`."""

    def __init__(
        self,
        problem: str,
        hint: str = "",
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.problem, self.hint, self.path, self.line, self.column = problem, hint, path, line, column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = self.path + "".join(f":{n}" for n in (self.line, self.column) if n is not None) + ": "
        return where + self.problem + (f"; {self.hint}" if self.hint else "")


class LinkErrors(Exception):
    """Every problem found in one pass, reported together."""

    def __init__(self, errors: list[LinkError]) -> None:
        self.errors = errors
        super().__init__("\n".join(map(str, errors)))


# ---------------------------------------------------------------- config


_DEFAULT_KEYS: dict[str, tuple[type, float | None]] = {
    # name: (type, smallest allowed value)
    "concurrency": (int, 1),
    "per_host": (int, 1),
    "min_interval": (float, 0),
    "connect_timeout": (float, 0.001),
    "read_timeout": (float, 0.001),
    "retries": (int, 0),
    "backoff": (float, 0),
    "max_retry_wait": (float, 0),
    "url_timeout": (float, 0.001),
    "run_timeout": (float, 0.001),
    "max_redirects": (int, 0),
    "max_body": (int, 1),
}
_RULE_KEYS: dict[str, tuple[type, float | None]] = {
    "reason": (str, None),
    "skip": (bool, None),
    "get_only": (bool, None),
    "browser": (bool, None),
    "per_host": (int, 1),
    "min_interval": (float, 0),
}


def parse_duration(text: str) -> float:
    """Seconds in `7d`, `12h`, `30m`, `45s` or a bare number of days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not m:
        raise ValueError(f"{text!r} is not a duration")
    return float(m[1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 86400}[m[2]]


def load_config(path: Path, options: CheckOptions | None = None) -> CheckOptions:
    """Read links.toml into CheckOptions; raise LinkErrors listing every problem."""
    options = options or CheckOptions()
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise LinkErrors(
            [LinkError(f"cannot read the config: {e.strerror}", "pass an existing file to --config", name)]
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(e))
        msg = re.sub(r"\s*\(at line \d+, column \d+\)|\s*\(at end of document\)", "", str(e))
        line, col = (int(m[1]), int(m[2])) if m else (None, None)
        raise LinkErrors(
            [LinkError(f"invalid TOML: {msg}", "fix the syntax (see https://toml.io)", name, line, col)]
        ) from None
    errors: list[LinkError] = []

    def err(table: str, key: str, problem: str, hint: str) -> None:
        line = _toml_line(text, table, key)
        errors.append(LinkError(problem, hint, name, line, 1 if line else None))

    for key in data:
        if key not in ("defaults", "hosts"):
            err("", key, f"unknown table or key {key!r}", 'use [defaults] and [hosts."name"] only')
    defaults = data.get("defaults", {})
    values: dict[str, Any] = {}
    if not isinstance(defaults, dict):
        err("", "defaults", "defaults must be a table", "write [defaults] followed by key = value lines")
        defaults = {}
    for key, value in defaults.items():
        if key == "max_age":
            try:
                values["max_age"] = parse_duration(value)
            except ValueError:
                err(
                    "defaults",
                    key,
                    f"defaults.max_age: {value!r} is not a duration",
                    'write e.g. max_age = "7d" (s, m, h or d)',
                )
            continue
        if key not in _DEFAULT_KEYS:
            err(
                "defaults",
                key,
                f"defaults.{key}: unknown setting",
                "known: " + ", ".join([*_DEFAULT_KEYS, "max_age"]),
            )
            continue
        kind, low = _DEFAULT_KEYS[key]
        problem = _check_value(value, kind, low)
        if problem:
            err(
                "defaults",
                key,
                f"defaults.{key}: {value!r} {problem}",
                f"write e.g. {key} = {getattr(options, key)!r}",
            )
        else:
            values[key] = kind(value)
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        err("", "hosts", "hosts must be a table", 'write [hosts."name"] tables, one per host')
        hosts = {}
    rules: dict[str, HostRule] = {}
    for host, table in hosts.items():
        if not isinstance(table, dict):
            err(
                "",
                host,
                f"hosts.{host} must be a table",
                f'write [hosts."{host}"] followed by reason = "..."',
            )
            continue
        section = f'hosts."{host}"'
        kwargs: dict[str, Any] = {}
        for key, value in table.items():
            if key not in _RULE_KEYS:
                err(section, key, f"hosts.{host}.{key}: unknown setting", "known: " + ", ".join(_RULE_KEYS))
                continue
            kind, low = _RULE_KEYS[key]
            problem = _check_value(value, kind, low)
            if problem:
                err(section, key, f"hosts.{host}.{key}: {value!r} {problem}", f"give a {kind.__name__}")
            else:
                kwargs[key] = kind(value)
        if not isinstance(table.get("reason"), str) or not table.get("reason", "").strip():
            err(section, "", f"hosts.{host}: no reason given", 'add reason = "why this host needs a rule"')
            continue
        rules[host.lower()] = HostRule(**kwargs)
    if errors:
        raise LinkErrors(errors)
    return replace(options, **values, hosts={**options.hosts, **rules})


def _check_value(value: Any, kind: type, low: float | None) -> str:
    if kind is bool:
        return "" if isinstance(value, bool) else "is not true or false"
    if kind is str:
        return "" if isinstance(value, str) else "is not a string"
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (kind is int and not isinstance(value, int))
    ):
        return f"is not {'an integer' if kind is int else 'a number'}"
    if low is not None and value < low:
        return f"is below {low:g}"
    return ""


def _toml_line(text: str, table: str, key: str) -> int | None:
    """The line setting `key` in `[table]`; the header line of `[table]` (no key) or of `[key]` (no table)."""
    current = ""
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if line.startswith("["):
            current = line.strip("[] ")
            if (not table and (current == key or current.startswith(key + "."))) or (
                table and not key and current == table
            ):
                return n
        elif current == table and key and re.match(rf"[\"']?{re.escape(key)}[\"']?\s*=", line):
            return n
    return None


# ---------------------------------------------------------------- extracting URLs

_URL_IN_TEXT = re.compile(r"https?://(?:\[[0-9a-fA-F:.]+\])?[^\s<>\"'`\[\]{}|\\^]*", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
_TRAILING = ".,;:!?*_~"


def links_in_markdown(text: str, path: str) -> list[tuple[str, Source]]:
    """External http(s) links in Markdown (inline, reference, autolinks, HTML, bare), outside code."""
    found = []
    fence: str | None = None
    for n, line in enumerate(text.splitlines(), 1):
        m = _FENCE.match(line)
        if fence is not None:
            if m and m[1][0] == fence[0] and len(m[1]) >= len(fence):
                fence = None
            continue
        if m:
            fence = m[1]
            continue
        line = _CODE_SPAN.sub(lambda s: " " * len(s[0]), line)
        for u in _URL_IN_TEXT.finditer(line):
            url = _trim_url(u[0])
            if len(url) > len("https://"):
                found.append((url, Source(path, n, u.start() + 1)))
    return found


def _trim_url(url: str) -> str:
    """Drop punctuation that ends the sentence rather than the URL, and unbalanced closing parens."""
    while url:
        if url[-1] in _TRAILING or (url[-1] == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def links_in_yaml(text: str, path: str) -> tuple[list[tuple[str, Source]], list[LinkError]]:
    """Every string under a key named `url` at any depth, with its position; plus non-http(s) values."""
    try:
        roots = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = f"invalid YAML: {e.problem or e.context}"
        raise LinkErrors(
            [
                LinkError(
                    problem,
                    "fix the syntax there (an unclosed quote, a tab or a wrong indent?)",
                    path,
                    line,
                    col,
                )
            ]
        ) from None
    except yaml.YAMLError as e:
        raise LinkErrors([LinkError(f"invalid YAML: {e}", "fix the syntax", path)]) from None
    found: list[tuple[str, Source]] = []
    warnings: list[LinkError] = []
    seen: set[int] = set()
    stack = [r for r in roots if r is not None]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                is_url = isinstance(key, yaml.ScalarNode) and key.value == "url"
                if is_url and isinstance(value, yaml.ScalarNode) and value.tag == "tag:yaml.org,2002:str":
                    where = Source(path, value.start_mark.line + 1, value.start_mark.column + 1)
                    url = value.value.strip()
                    if re.match(r"https?://", url, re.IGNORECASE):
                        found.append((url, where))
                    else:
                        example = (
                            "https://" + re.sub(r"^[a-z]+:/*", "", url, flags=re.I)
                            if url
                            else "https://example.org/page"
                        )
                        warnings.append(
                            LinkError(
                                f"url {url!r} is not an http(s) URL (not checked)",
                                f"write the full address, e.g. {example}",
                                where.path,
                                where.line,
                                where.column,
                            )
                        )
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    found.sort(key=lambda f: (f[1].line, f[1].column))
    return found, warnings


def links_in_lines(text: str, path: str) -> list[tuple[str, Source]]:
    """One URL per line; blank lines and lines starting with # are skipped."""
    found, errors = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if re.match(r"https?://\S+$", line, re.IGNORECASE):
            found.append((line, Source(path, n, raw.index(line) + 1)))
        else:
            errors.append(
                LinkError(
                    f"{line!r} is not an http(s) URL",
                    "write one full http(s) URL per line, e.g. https://example.org/page",
                    path,
                    n,
                    raw.index(line) + 1,
                )
            )
    if errors:
        raise LinkErrors(errors)
    return found


def links_in_file(
    path: Path, text: str | None = None, name: str | None = None
) -> tuple[list[tuple[str, Source]], list[LinkError]]:
    """Links in one file, chosen by its extension: YAML, Markdown, else one URL per line."""
    name = name or str(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise LinkErrors([LinkError("not UTF-8 text", "save it as UTF-8", name)]) from None
        except OSError as e:
            raise LinkErrors(
                [LinkError(f"cannot read: {e.strerror}", "pass a readable file", name)]
            ) from None
    suffix = path.suffix.lower()
    if suffix in (".yml", ".yaml"):
        return links_in_yaml(text, name)
    if suffix in (".md", ".markdown"):
        return links_in_markdown(text, name), []
    return links_in_lines(text, name), []


def default_inputs(root: Path = Path()) -> list[Path]:
    """curriculum/**/*.yml and docs/**/*.md under `root`, sorted."""
    files = sorted(root.glob("curriculum/**/*.yml")) + sorted(root.glob("curriculum/**/*.yaml"))
    return files + sorted(root.glob("docs/**/*.md"))


def collect_links(
    inputs: Iterable[str], stdin: TextIO | None = None
) -> tuple[dict[str, list[Source]], list[LinkError]]:
    """URLs (in first-seen order) with where each was written, and warnings; raise LinkErrors for bad inputs."""
    found: dict[str, list[Source]] = {}
    warnings: list[LinkError] = []
    errors: list[LinkError] = []

    def add(pairs: Iterable[tuple[str, Source]]) -> None:
        for url, where in pairs:
            found.setdefault(url, []).append(where)

    for item in inputs:
        try:
            if item == "-":
                add(links_in_lines((stdin or sys.stdin).read(), "<stdin>"))
            elif re.match(r"https?://", item, re.IGNORECASE):
                found.setdefault(item, [])
            elif Path(item).is_dir():
                base = Path(item)
                for f in sorted([*base.rglob("*.yml"), *base.rglob("*.yaml"), *base.rglob("*.md")]):
                    pairs, warns = links_in_file(f)
                    add(pairs)
                    warnings += warns
            elif Path(item).is_file():
                pairs, warns = links_in_file(Path(item))
                add(pairs)
                warnings += warns
            else:
                errors.append(
                    LinkError(
                        "no such file, and not an http(s) URL",
                        "pass a YAML, Markdown or text file, a directory, - for stdin, or a full http(s) URL",
                        item,
                    )
                )
        except LinkErrors as e:
            errors += e.errors
    if errors:
        raise LinkErrors(errors)
    return found, warnings


def links_at_revision(base: str, root: Path = Path()) -> set[str]:
    """URLs in curriculum YAML and docs Markdown as they were at git revision `base` (read-only git)."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        if done.returncode:
            raise LinkErrors(
                [
                    LinkError(
                        f"--only-changed: git {args[0]} failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}",
                        "pass a branch, tag or commit of this repository, e.g. origin/main",
                    )
                ]
            )
        return done.stdout

    try:
        git("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")
    except LinkErrors:
        raise LinkErrors(
            [
                LinkError(
                    f"--only-changed: {base!r} is not a commit in this repository",
                    "pass a branch, tag or commit, e.g. origin/main (fetch it first in CI)",
                )
            ]
        ) from None
    except FileNotFoundError:
        raise LinkErrors(
            [
                LinkError(
                    "--only-changed needs git, which is not installed", "install git or drop --only-changed"
                )
            ]
        ) from None
    urls: set[str] = set()
    names = git("ls-tree", "-r", "--name-only", "-z", base, "--", "curriculum", "docs").split("\0")
    for name in names:
        p = Path(name)
        wanted = (p.parts[:1] == ("curriculum",) and p.suffix in (".yml", ".yaml")) or (
            p.parts[:1] == ("docs",) and p.suffix == ".md"
        )
        if not wanted:
            continue
        with suppress(LinkErrors):  # a file broken at the base adds nothing to compare with
            pairs, _ = links_in_file(p, git("show", f"{base}:./{name}"), name)
            urls.update(u for u, _ in pairs)
    return urls


# ---------------------------------------------------------------- cache


class LinkCache:
    """Results by URL in a JSON file, saved atomically (temp file + os.replace)."""

    def __init__(
        self, path: Path, results: dict[str, LinkResult] | None = None, save_every: float = 0.25
    ) -> None:
        self.path = path
        self.results: dict[str, LinkResult] = dict(results or {})
        self.save_every = save_every
        self._last_save = 0.0
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> LinkCache:
        """Read the cache (a missing file is an empty cache); raise LinkErrors when it is not one."""
        hint = "delete it to start afresh, or pass another --cache FILE"
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except OSError as e:
            problem = f"cannot read the cache: {e.strerror}"
            raise LinkErrors(
                [LinkError(problem, "pass another --cache FILE, or --no-cache", str(path))]
            ) from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError as e:
            raise LinkErrors(
                [LinkError(f"the cache is not valid JSON: {e.msg}", hint, str(path), e.lineno, e.colno)]
            ) from None
        if (
            not isinstance(data, dict)
            or data.get("version") != CACHE_VERSION
            or not isinstance(data.get("results"), dict)
        ):
            raise LinkErrors(
                [
                    LinkError(
                        f'not a link cache (expected {{"version": {CACHE_VERSION}, "results": {{...}}}})',
                        hint,
                        str(path),
                    )
                ]
            )
        results = {}
        names = {f.name for f in fields(LinkResult)} - {"url", "from_cache"}
        for url, entry in data["results"].items():
            try:
                result = LinkResult(url=url, **{k: entry[k] for k in names})
                datetime.fromisoformat(result.checked_at)
            except (KeyError, TypeError, ValueError):
                continue  # one malformed entry is simply checked again
            if result.status in STATUSES:
                results[url] = result
        return cls(path, results)

    def fresh(self, url: str, max_age: float, now: datetime | None = None) -> LinkResult | None:
        """The cached result for `url` if younger than `max_age` seconds (errors and refusals never are)."""
        result = self.results.get(url)
        if result is None or result.status in ("error", "refused"):
            return None
        checked = datetime.fromisoformat(result.checked_at)
        if checked.tzinfo is None:
            checked = checked.replace(tzinfo=UTC)
        age = ((now or datetime.now(UTC)) - checked).total_seconds()
        return replace(result, from_cache=True) if 0 <= age < max_age else None

    def put(self, result: LinkResult) -> None:
        """Record a result; saves at most every `save_every` seconds (call save() at the end)."""
        if result.status == "error" and result.detail.startswith(NOT_CHECKED):
            return
        self.results[result.url] = replace(result, from_cache=False)
        self._dirty = True
        self.save_if_due()

    def save_if_due(self) -> None:
        """Save unsaved results if the last save is `save_every` seconds old."""
        if self._dirty and time.monotonic() - self._last_save >= self.save_every:
            self.save()

    def save(self) -> None:
        """Write the whole cache atomically: readers see the old file or the new one, never half."""
        if not self._dirty and self.path.exists():
            return
        payload = {
            "version": CACHE_VERSION,
            "results": {u: self.results[u].to_cache() for u in sorted(self.results)},
        }
        try:
            write_atomic(self.path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        except OSError as e:
            hint = "pass a writable --cache FILE, or --no-cache"
            raise LinkErrors(
                [LinkError(f"cannot write the cache: {e.strerror}", hint, str(self.path))]
            ) from None
        self._dirty = False
        self._last_save = time.monotonic()


# ---------------------------------------------------------------- checking


class _Verdict(Exception):
    """A final answer reached before a usable HTTP response (raised to unwind)."""

    def __init__(self, status: str, detail: str, code: int | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code


class _Transient(Exception):
    """A failure worth retrying (connection refused or reset, connect timeout, DNS hiccup)."""


class _UnsafeAddressError(Exception):
    """The connection reached a non-public address (not an OSError, so urllib3 does not swallow it)."""


@dataclass
class _Reply:
    code: int
    reason: str
    location: str | None
    retry_after: str | None
    note: str = ""


@dataclass
class _Gate:
    """Per-host politeness: a concurrency limit and a minimum interval (which Retry-After stretches)."""

    limit: int
    interval: float
    next_at: float = 0.0
    busy: int = 0
    """Requests holding a slot now."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    sem: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.sem = threading.Semaphore(self.limit)

    def is_free(self) -> bool:
        """A request could start about now (a slot is free and the host is not paused)."""
        return self.busy < self.limit and self.next_at <= time.monotonic() + self.interval


@dataclass
class _HostMemo:
    """What a host taught us during this run, so its other URLs skip the detours."""

    get_only: bool = False
    browser: bool = False


def _is_public(ip: str) -> bool:
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        addr = addr.ipv4_mapped
    return addr.is_global and not addr.is_multicast and not addr.is_reserved


def _refuse_private_peer(sock: socket.socket) -> None:
    ip = sock.getpeername()[0]
    if not _is_public(ip):
        sock.close()
        raise _UnsafeAddressError(ip)


# The address is checked again on the connected socket, so a DNS answer that changes
# between our lookup and the connection (DNS rebinding) still cannot reach a private host.
class _GuardedHTTPConnection(urllib3.connection.HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _refuse_private_peer(sock)
        return sock


class _GuardedHTTPSConnection(urllib3.connection.HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _refuse_private_peer(sock)
        return sock


class _GuardedHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _Adapter(requests.adapters.HTTPAdapter):
    """One shared pooled adapter: at most `pool_maxsize` kept connections per host, optional address guard."""

    def __init__(self, guard: bool, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        if self._guard:
            self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def _host_key(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80))


def _request_url(url: str) -> str:
    """The URL to request: http(s) only, without credentials or fragment."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError as e:
        raise _Verdict("error", f"invalid URL: {e}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _Verdict("error", f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})")
    if not parts.hostname:
        raise _Verdict("error", "invalid URL: no host name")
    netloc = parts.netloc.rpartition("@")[2]  # never send credentials written in a URL
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    with suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind a requests/urllib3 wrapper."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)), None)
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    root = _root_cause(exc)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(root, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(root, TimeoutError):
        return "timed out"
    text = str(root) or type(root).__name__
    return re.sub(r"^<[^>]+>: ", "", text)


def _read_some(resp: requests.Response, limit: int) -> None:
    """Read at most `limit` body bytes (HEAD has none); errors here do not matter, the status is known."""
    got = 0
    with suppress(OSError, urllib3.exceptions.HTTPError, http.client.HTTPException):
        while got < limit:
            chunk = resp.raw.read(min(8192, limit - got), decode_content=False)
            if not chunk:
                break
            got += len(chunk)


def _release(resp: requests.Response) -> None:
    """Return the connection to the pool if its body was read to the end, else close it."""
    raw = resp.raw
    try:
        if not raw.closed:
            raw.close()  # body left unread (a large file): drop the connection instead of downloading
    finally:
        raw.release_conn()


class _Checker:
    """Checks URLs with a shared connection pool, per-host gates and a bounded set of worker threads."""

    def __init__(self, options: CheckOptions, stop: threading.Event) -> None:
        self.o = options
        self.stop = stop
        self.run_deadline = time.monotonic() + options.run_timeout
        per_host = max([options.per_host, *(r.per_host or 0 for r in options.hosts.values())])
        self.adapter = _Adapter(
            not options.allow_private,
            pool_connections=256,
            pool_maxsize=per_host,
            max_retries=0,
            pool_block=False,
        )
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, int], _Gate] = {}
        self._memos: dict[tuple[str, int], _HostMemo] = {}
        self._dns: dict[tuple[str, int], list[str]] = {}
        self._missing: set[str] = set()
        self._dns_works: bool | None = None
        """Whether real names resolve here; None until a lookup answers the question."""

    def close(self) -> None:
        # urllib3 2's PoolManager.clear() forgets its pools without closing them (they
        # close when garbage-collected), which would leave kept-alive sockets open.
        manager = self.adapter.poolmanager
        # .keys(): the container refuses plain iteration (not thread-safe, says urllib3).
        pools = [manager.pools.get(key) for key in manager.pools.keys()]  # noqa: SIM118
        self.adapter.close()
        for pool in pools:
            if pool is not None:
                pool.close()

    def run(self, urls: list[str]) -> Iterator[LinkResult | None]:
        """Yield a result per URL as each finishes, and None every 0.2 s of waiting.

        Workers are daemon threads, so Ctrl-C returns at once instead of waiting for them."""
        todo = deque(urls)
        todo_lock = threading.Lock()
        done: queue.SimpleQueue[LinkResult] = queue.SimpleQueue()

        def take() -> str | None:
            # Prefer a URL whose host can take a request now, so workers do not all
            # queue behind one busy or rate-limited host while other hosts sit idle.
            with todo_lock:
                for _ in range(min(len(todo), 256)):
                    url = todo.popleft()
                    if self._host_is_free(url):
                        return url
                    todo.append(url)
                return todo.popleft() if todo else None

        def work() -> None:
            while not self.stop.is_set():
                url = take()
                if url is None:
                    return
                try:
                    result = self.check(url)
                except Exception as e:  # a bug must not lose the other results
                    result = LinkResult(url, "error", None, None, f"internal error: {e!r}", _now(), 0.0)
                done.put(result)

        for _ in range(min(self.o.concurrency, len(urls))):
            threading.Thread(target=work, daemon=True, name="linkcheck").start()
        for _ in urls:
            while True:
                try:
                    yield done.get(timeout=0.2)
                    break
                except queue.Empty:
                    yield None

    def check(self, url: str) -> LinkResult:
        """Check one URL (without fragment), following redirects hop by hop."""
        started = time.monotonic()
        deadline = min(started + self.o.url_timeout, self.run_deadline)

        def result(status: str, detail: str, code: int | None = None) -> LinkResult:
            return LinkResult(url, status, code, None, detail, _now(), round(time.monotonic() - started, 3))

        if started >= self.run_deadline:
            return result(
                "error", f"{NOT_CHECKED}: the run time limit ({self.o.run_timeout:g} s) was reached"
            )
        try:
            current = _request_url(url)
            chain = [current]
            moved_to: str | None = None
            still_permanent = True
            while True:
                rule = self.o.rule_for(urlsplit(current).hostname or "")
                if rule is not None and rule.skip:
                    via = f"redirects to {current}, " if len(chain) > 1 else ""
                    return result("unverified", f"{via}skipped: {rule.reason} (links.toml)")
                reply = self._fetch(current, deadline)
                if not (300 <= reply.code < 400 and reply.location):
                    return self._classify(url, reply, chain, moved_to, started)
                if len(chain) > self.o.max_redirects:
                    raise _Verdict(
                        "error", f"more than {self.o.max_redirects} redirects (last to {current})", reply.code
                    )
                try:
                    target = _request_url(urljoin(current, reply.location))
                except _Verdict as v:
                    raise _Verdict(
                        "error", f"redirects to an unusable URL {reply.location!r}: {v.detail}", reply.code
                    ) from None
                if target in chain:
                    loop = " -> ".join([*chain[chain.index(target) :], target])
                    raise _Verdict("error", f"redirect loop: {loop}", reply.code)
                if still_permanent and reply.code in PERMANENT_REDIRECTS:
                    moved_to = target
                else:
                    still_permanent = False
                chain.append(target)
                current = target
        except _Verdict as v:
            return result(v.status, v.detail, v.code)

    def _classify(
        self, url: str, reply: _Reply, chain: list[str], moved_to: str | None, started: float
    ) -> LinkResult:
        code, final = reply.code, chain[-1]
        status_text = f"{code} {reply.reason}".strip()
        via = f" at {final}" if len(chain) > 1 else ""
        rule = self.o.rule_for(urlsplit(final).hostname or "")
        if code < 400:
            if moved_to:
                status, detail, final = "moved", f"moved permanently: update to {moved_to}", moved_to
            else:
                status, detail = "alive", status_text + (f" after redirect to {final}" if via else "")
            detail += reply.note
        elif code in (404, 410):
            status, detail = "dead", status_text + via
        elif code == 429:
            status, detail = "unverified", f"{status_text}{via}: rate limited{reply.note}"
        elif code in UNVERIFIED_CODES:
            why = (
                rule.reason + " (links.toml)"
                if rule
                else "the site refuses automated checks; check it in a browser"
            )
            status, detail = "unverified", f"{status_text}{via}, also to a browser-like request: {why}"
        elif code < 500:
            status, detail = "dead", status_text + via
        else:
            status, detail = "error", f"{status_text}{via}{reply.note}"
        return LinkResult(url, status, code, final, detail, _now(), round(time.monotonic() - started, 3))

    # -- one hop: HEAD first, GET when refused, browser-like headers when blocked, retries

    def _fetch(self, url: str, deadline: float) -> _Reply:
        key = _host_key(url)
        rule = self.o.rule_for(key[0])
        memo = self._memo(key)
        method = "GET" if memo.get_only or (rule and rule.get_only) else "HEAD"
        browser = memo.browser or bool(rule and rule.browser)
        note = ""
        attempt = 0
        while True:
            try:
                self._vet_address(key)
                with self._slot(key, rule, deadline):
                    reply = self._send(method, url, browser, deadline)
            except _Transient as e:
                if attempt >= self.o.retries:
                    raise _Verdict("error", f"{e} (after {attempt + 1} attempts)") from None
                self._sleep(self._backoff(attempt), deadline, f"{e}; gave up at the per-URL time limit")
                attempt += 1
                continue
            code = reply.code
            if method == "HEAD" and code in (405, 501):
                memo.get_only = True
                method = "GET"
                continue
            if code in BOT_BLOCK_CODES and not browser:
                browser, method = True, "GET"
                note = f"; {code} to the checker, answered a browser-like request"
                continue
            if method == "HEAD" and code >= 400 and code != 429:
                method = "GET"  # some servers mishandle HEAD; confirm with GET before judging
                continue
            if code == 429 or code >= 500:
                if attempt >= self.o.retries:
                    reply.note = f" (after {attempt + 1} attempts)"
                    return reply
                wait = _retry_after(reply.retry_after)
                if wait is not None and wait > self.o.max_retry_wait:
                    reply.note = (
                        f" (asks to wait {wait:g} s, more than max_retry_wait {self.o.max_retry_wait:g} s)"
                    )
                    return reply
                if wait is not None:
                    if time.monotonic() + wait > deadline:
                        reply.note = f" (asks to wait {wait:g} s, past the per-URL time limit)"
                        return reply
                    self._pause_host(key, wait)
                else:
                    delay = self._backoff(attempt)
                    if time.monotonic() + delay > deadline:
                        reply.note = " (gave up at the per-URL time limit)"
                        return reply
                    self._sleep(delay, deadline, "")
                attempt += 1
                continue
            if browser and note and code < 400:
                memo.browser = True
            reply.note = note if code < 400 else ""
            return reply

    def _send(self, method: str, url: str, browser: bool, deadline: float) -> _Reply:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _Verdict("error", "gave up at the per-URL time limit")
        headers = dict(BROWSER_HEADERS) if browser else {"User-Agent": self.o.user_agent, "Accept": "*/*"}
        request = requests.Request(method, url, headers=headers).prepare()
        timeout = (min(self.o.connect_timeout, left), min(self.o.read_timeout, left))
        try:
            resp = self.adapter.send(request, stream=True, timeout=timeout, verify=True)
        except _UnsafeAddressError as e:
            raise _Verdict(
                "refused", f"connected to {e}, a non-public address; pass --allow-private to check it anyway"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise _Transient(f"no connection within {timeout[0]:g} s") from None
        except requests.exceptions.ReadTimeout:
            limit = "read timeout" if timeout[1] >= self.o.read_timeout else "per-URL time limit"
            raise _Verdict("error", f"no answer within {timeout[1]:g} s ({limit})") from None
        except requests.exceptions.SSLError as e:
            raise _Verdict("error", f"TLS error: {_describe(e)}") from None
        except requests.exceptions.ConnectionError as e:
            raise _Transient(_describe(e)) from None
        except (requests.exceptions.RequestException, http.client.HTTPException, ValueError) as e:
            raise _Verdict("error", f"request failed: {_describe(e)}") from None
        try:
            _read_some(resp, self.o.max_body)
            return _Reply(
                resp.status_code,
                resp.reason or "",
                resp.headers.get("Location"),
                resp.headers.get("Retry-After"),
            )
        finally:
            _release(resp)

    # -- politeness and safety

    def _gate(self, key: tuple[str, int], rule: HostRule | None) -> _Gate:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                limit = min(self.o.per_host, rule.per_host) if rule and rule.per_host else self.o.per_host
                interval = max(self.o.min_interval, rule.min_interval or 0) if rule else self.o.min_interval
                gate = self._gates[key] = _Gate(limit, interval)
            return gate

    def _host_is_free(self, url: str) -> bool:
        try:
            key = _host_key(url)
        except ValueError:
            return True
        with self._lock:
            gate = self._gates.get(key)
        return gate is None or gate.is_free()

    def _memo(self, key: tuple[str, int]) -> _HostMemo:
        with self._lock:
            return self._memos.setdefault(key, _HostMemo())

    @contextmanager
    def _slot(self, key: tuple[str, int], rule: HostRule | None, deadline: float) -> Iterator[None]:
        """Hold one of the host's request slots, starting no sooner than its minimum interval allows."""
        gate = self._gate(key, rule)
        while not gate.sem.acquire(timeout=0.25):
            if self.stop.is_set() or time.monotonic() >= deadline:
                raise _Verdict("error", "gave up at the per-URL time limit while waiting for the host")
        try:
            with gate.lock:
                gate.busy += 1
                start = max(time.monotonic(), gate.next_at)
                gate.next_at = start + gate.interval
            self._sleep(
                start - time.monotonic(),
                deadline,
                "gave up at the per-URL time limit while waiting for the host",
            )
            yield
        finally:
            with gate.lock:
                gate.busy -= 1
            gate.sem.release()

    def _pause_host(self, key: tuple[str, int], seconds: float) -> None:
        """Honour Retry-After for the whole host: no request to it starts before then."""
        gate = self._gate(key, self.o.rule_for(key[0]))
        with gate.lock:
            gate.next_at = max(gate.next_at, time.monotonic() + seconds)

    def _backoff(self, attempt: int) -> float:
        return self.o.backoff * (2**attempt) * random.uniform(0.5, 1.5)

    def _sleep(self, seconds: float, deadline: float, why: str) -> None:
        if seconds <= 0:
            return
        if time.monotonic() + seconds > deadline:
            raise _Verdict("error", why or "gave up at the per-URL time limit")
        if self.stop.wait(seconds):
            raise _Verdict("error", f"{NOT_CHECKED}: interrupted")

    def _vet_address(self, key: tuple[str, int]) -> None:
        """Resolve the host; refuse non-public addresses unless allowed; a missing name is dead."""
        host, port = key
        with self._lock:
            addresses = self._dns.get(key)
            missing = host in self._missing
        if missing:
            self._not_found(host)
        if addresses is None:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as e:
                if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                    with self._lock:
                        self._missing.add(host)
                    self._not_found(host)
                raise _Transient(f"DNS lookup of {host} failed: {e.strerror}") from None
            except (UnicodeError, ValueError) as e:
                raise _Verdict("error", f"invalid host name {host!r}: {e}") from None
            addresses = sorted({str(info[4][0]) for info in infos})
            with self._lock:
                self._dns[key] = addresses
                if not _is_ip(host):
                    self._dns_works = True
        if not self.o.allow_private:
            private = [a for a in addresses if not _is_public(a)]
            if private:
                what = "is" if private[0] == host else f"resolves to {private[0]}, which is"
                raise _Verdict(
                    "refused",
                    f"{host} {what} a private, loopback, link-local or reserved address; pass --allow-private to check it anyway",
                )

    def _not_found(self, host: str) -> None:
        """Raise the verdict for a name DNS does not know: dead, unless DNS knows no name at all here."""
        with self._lock:
            works = self._dns_works
        if works is None:
            try:
                socket.getaddrinfo(DNS_CANARY, 443, type=socket.SOCK_STREAM)
                works = True
            except (OSError, UnicodeError):
                works = False
            with self._lock:
                self._dns_works = self._dns_works or works
        if not works:
            raise _Verdict("error", f"{NOT_CHECKED}: host {host} not found, {OFFLINE}")
        raise _Verdict("dead", f"host {host} not found (DNS)")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _interleave_by_host(urls: Iterable[str]) -> list[str]:
    """Round-robin over hosts so the workers spread across hosts instead of queueing on one."""
    groups: dict[tuple[str, int], list[str]] = {}
    for url in urls:
        try:
            key = _host_key(url)
        except ValueError:
            key = ("", 0)
        groups.setdefault(key, []).append(url)
    order = []
    lists = [iter(g) for g in groups.values()]
    while lists:
        alive = []
        for it in lists:
            nxt = next(it, None)
            if nxt is not None:
                order.append(nxt)
                alive.append(it)
        lists = alive
    return order


def check_links(
    urls: Iterable[str],
    options: CheckOptions | None = None,
    *,
    cache: LinkCache | None = None,
    on_result: Callable[[LinkResult, int, int], None] | None = None,
) -> list[LinkResult]:
    """Check `urls` (duplicates once), reusing fresh cached results; results come back in input order.

    `on_result(result, done, total)` is called in the calling thread as each result arrives.
    The cache, if given, is saved progressively and once more at the end, even on Ctrl-C.
    """
    options = options or CheckOptions()
    unique = list(dict.fromkeys(u.strip() for u in urls))
    results: dict[str, LinkResult] = {}
    pending: dict[str, list[str]] = {}
    total, done = len(unique), 0
    for url in unique:
        hit = cache.fresh(url, options.max_age) if cache else None
        if hit is not None:
            results[url] = hit
            done += 1
            if on_result:
                on_result(hit, done, total)
        else:
            pending.setdefault(urldefrag(url).url, []).append(url)
    stop = threading.Event()
    checker = _Checker(options, stop)
    try:
        for result in checker.run(_interleave_by_host(pending)):
            if result is None:  # idle: write what finished while the rest is still running
                if cache:
                    cache.save_if_due()
                continue
            for url in pending[result.url]:
                one = replace(result, url=url)
                results[url] = one
                if cache:
                    cache.put(one)
                done += 1
                if on_result:
                    on_result(one, done, total)
    finally:
        stop.set()
        if cache:
            cache.save()
        checker.close()
    return [results[u] for u in unique]


# ---------------------------------------------------------------- reports


def summarize(results: Iterable[LinkResult]) -> dict[str, int]:
    counts = Counter(r.status for r in results)
    return {s: counts.get(s, 0) for s in STATUSES}


def _where(sources: list[Source]) -> str:
    if not sources:
        return "-"
    more = f" (+{len(sources) - 1} more)" if len(sources) > 1 else ""
    return f"{sources[0]}{more}"


def _sorted(results: list[LinkResult]) -> list[LinkResult]:
    return sorted(results, key=lambda r: _SEVERITY[r.status])


def format_table(results: list[LinkResult], sources: dict[str, list[Source]], show_all: bool = False) -> str:
    """A plain-text table of the results (problems only unless `show_all`)."""
    rows = [("STATUS", "CODE", "URL", "WHERE", "DETAIL")]
    for r in _sorted(results):
        if show_all or r.status != "alive":
            rows.append((r.status, str(r.code or "-"), r.url, _where(sources.get(r.url, [])), r.detail))
    if len(rows) == 1:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return (
        "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4]
            for row in rows
        )
        + "\n"
    )


def format_summary(results: list[LinkResult], seconds: float) -> str:
    counts = summarize(results)
    parts = [f"{n} {s}" for s, n in counts.items() if n]
    cached = sum(r.from_cache for r in results)
    tail = f" ({cached} from cache)" if cached else ""
    return f"{len(results)} links in {seconds:.1f} s: {', '.join(parts) or 'none'}{tail}"


def report_json(results: list[LinkResult], sources: dict[str, list[Source]]) -> str:
    payload = {
        "version": CACHE_VERSION,
        "generated_at": _now(),
        "summary": summarize(results),
        "results": [
            {
                "url": r.url,
                **r.to_cache(),
                "cached": r.from_cache,
                "sources": [str(s) for s in sources.get(r.url, [])],
            }
            for r in results
        ],
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def report_markdown(results: list[LinkResult], sources: dict[str, list[Source]]) -> str:
    """A Markdown summary and table of problems, ready for an issue or a CI job summary."""
    counts = summarize(results)
    lines = [
        "## Link check",
        "",
        " · ".join(f"**{n}** {s}" for s, n in counts.items()) + f" (of {len(results)})",
        "",
    ]
    problems = [r for r in _sorted(results) if r.status != "alive"]
    if not problems:
        return "\n".join([*lines, "Every link is alive.", ""])

    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    lines += ["| Status | Link | Where | Detail |", "|---|---|---|---|"]
    for r in problems:
        where = ", ".join(f"`{s}`" for s in sources.get(r.url, [])) or "-"
        lines.append(f"| {r.status} | <{cell(r.url)}> | {cell(where)} | {cell(r.detail)} |")
    return "\n".join([*lines, ""])


class _Progress:
    """A one-line progress display on a terminal (stderr)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.counts: Counter[str] = Counter()
        self._last = 0.0

    def __call__(self, result: LinkResult, done: int, total: int) -> None:
        self.counts[result.status] += 1
        now = time.monotonic()
        if now - self._last < 0.1 and done < total:
            return
        self._last = now
        tally = ", ".join(f"{n} {s}" for s, n in self.counts.items() if n)
        line = f"[{done}/{total}] {tally}  {result.url}"
        self.stream.write("\r\x1b[2K" + line[:200])
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[2K")
        self.stream.flush()


# ---------------------------------------------------------------- command line


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
        for problem in e.errors:
            print(problem, file=err)
        return 2
    for warning in warnings:
        print(f"warning: {warning}", file=err)

    progress = _Progress(err) if err.isatty() and not args.quiet else None
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
        for problem in e.errors:
            print(problem, file=err)
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
        for problem in e.errors:
            print(problem, file=err)
        return 2
    return 1 if any(r.status == "dead" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
