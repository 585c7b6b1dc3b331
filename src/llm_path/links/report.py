"""Reports: the terminal table and progress line, the Markdown report for issues, the JSON report."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable
from typing import TextIO

from llm_path.links.cache import CACHE_VERSION
from llm_path.links.model import STATUSES, LinkResult, Source, now
from llm_path.links.text import markdown_code, markdown_text, printable

_AUTOLINK = re.compile(r"https?://[^\x00-\x20<>\x7f]+", re.IGNORECASE)
_SEVERITY = {"dead": 0, "error": 1, "refused": 2, "moved": 3, "unverified": 4, "alive": 5}


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
    rows = [["STATUS", "CODE", "URL", "WHERE", "DETAIL"]]
    for r in _sorted(results):
        if show_all or r.status != "alive":
            row = [r.status, str(r.code or "-"), r.url, _where(sources.get(r.url, [])), r.detail]
            rows.append([printable(cell) for cell in row])
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
        "generated_at": now(),
        "summary": summarize(results),
        "results": [
            {
                "url": printable(r.url),
                **r.to_cache(),
                "cached": r.from_cache,
                "sources": [printable(str(s)) for s in sources.get(r.url, [])],
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

    lines += ["| Status | Link | Where | Detail |", "|---|---|---|---|"]
    for r in problems:
        where = ", ".join(markdown_code(str(s)) for s in sources.get(r.url, [])) or "-"
        lines.append(f"| {r.status} | {_markdown_link(r.url)} | {where} | {markdown_text(r.detail)} |")
    return "\n".join([*lines, ""])


def _markdown_link(url: str) -> str:
    """An autolink when the URL can be one (no space, `<`, `>` or control character), else its text."""
    if _AUTOLINK.fullmatch(url) and printable(url) == url:
        return "<" + url.replace("|", "\\|") + ">"
    return markdown_text(url)


class Progress:
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
        line = f"[{done}/{total}] {tally}  {printable(result.url)}"
        self.stream.write("\r\x1b[2K" + line[:200])
        self.stream.flush()

    def clear(self) -> None:
        self.stream.write("\r\x1b[2K")
        self.stream.flush()
