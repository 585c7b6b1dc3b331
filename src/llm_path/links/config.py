"""How to check: the options, their defaults, and the per-host rules read from links.toml."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llm_path.links.model import LinkError, LinkErrors

DEFAULT_CONFIG = "links.toml"
USER_AGENT = "llm-path-linkcheck/1 (link checker of the llm-path learning site)"


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
    """Seconds one URL may take in all: connect, headers and body of every hop, retries and waits."""
    run_timeout: float = 1800.0
    """Seconds a run may take; URLs not finished by then are reported as not checked."""
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
