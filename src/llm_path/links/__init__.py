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
- ``error``: no verdict after retries: timeout (one deadline per URL, ``--url-timeout``,
  over connect, headers and body: a server trickling its answer is given up), TLS
  failure, connection refused or reset, 5xx, a redirect loop or too many redirects, a URL
  we cannot request (judged from its text, with no DNS query). Errors whose detail starts
  with "not checked" (offline, interrupted, run time limit) are not cached.
- ``refused``: not requested because the host is or resolves to a private, loopback,
  link-local, multicast or reserved address, also one carried inside IPv6 (mapped,
  6to4, NAT64); ``--allow-private`` allows them.

Text a server sends (reason phrases, redirect targets, error strings) reaches every
output without control characters, and the Markdown report as text only (``text``).

Cache file (default ``.llm-path-cache/links.json``, ``--cache FILE``); the site build reads it to
show link health. Written atomically and progressively, so an interrupted run keeps
every finished result; runs sharing the file merge their results under a lock
(``FILE.lock``). Format, version 1 (results sorted by URL)::

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

The package follows the stages of a run: ``config`` (links.toml and options) ->
``extract`` (URLs and where they were written) -> ``cache`` (the JSON cache) ->
``checker`` (HTTP checks, with ``politeness`` per host, ``guard`` for address safety and
``deadline`` for the time limit of each URL) -> ``report`` (terminal, Markdown, JSON,
through ``text``); ``model`` holds the data they pass along, ``cli`` sits on top. Only
``guard`` and ``checker`` import requests and urllib3, so reading the cache (as the site
build does) does not load them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llm_path.links.cache import CACHE_VERSION, DEFAULT_CACHE, LinkCache
from llm_path.links.config import DEFAULT_CONFIG, CheckOptions, HostRule, load_config, parse_duration
from llm_path.links.extract import (
    collect_links,
    default_inputs,
    links_at_revision,
    links_in_file,
    links_in_lines,
    links_in_markdown,
    links_in_yaml,
)
from llm_path.links.model import NOT_CHECKED, STATUSES, LinkError, LinkErrors, LinkResult, Source
from llm_path.links.report import format_summary, format_table, report_json, report_markdown, summarize

if TYPE_CHECKING:
    from llm_path.links.checker import check_links
    from llm_path.links.cli import main

__all__ = [
    "CACHE_VERSION",
    "DEFAULT_CACHE",
    "DEFAULT_CONFIG",
    "NOT_CHECKED",
    "STATUSES",
    "CheckOptions",
    "HostRule",
    "LinkCache",
    "LinkError",
    "LinkErrors",
    "LinkResult",
    "Source",
    "check_links",
    "collect_links",
    "default_inputs",
    "format_summary",
    "format_table",
    "links_at_revision",
    "links_in_file",
    "links_in_lines",
    "links_in_markdown",
    "links_in_yaml",
    "load_config",
    "main",
    "parse_duration",
    "report_json",
    "report_markdown",
    "summarize",
]


def __getattr__(name: str) -> Any:
    """`check_links` and `main` on first use: they bring in requests and urllib3."""
    if name == "check_links":
        from llm_path.links.checker import check_links

        return check_links
    if name == "main":
        from llm_path.links.cli import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
