"""What the link checker works with: results, where a URL was written, and its errors (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from llm_path.links.text import printable

STATUSES = ("alive", "moved", "dead", "unverified", "error", "refused")
NOT_CHECKED = "not checked"
"""The start of an error's detail when the URL got no verdict (such results are not cached)."""


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
        """The fields as the cache and the JSON report hold them (text without control characters)."""
        return {
            "status": self.status,
            "code": self.code,
            "final_url": None if self.final_url is None else printable(self.final_url),
            "detail": printable(self.detail),
            "checked_at": self.checked_at,
            "elapsed": self.elapsed,
        }


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


def now() -> str:
    """The current time (UTC) as ISO 8601 to the second, as results record it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Verdict(Exception):
    """A final answer reached before a usable HTTP response (raised to unwind the check of one URL)."""

    def __init__(self, status: str, detail: str, code: int | None = None, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.status, self.detail, self.code = status, detail, code
        self.timed_out = timed_out
        """Ended by a time limit (the run's, if it has passed: then the URL is not checked)."""


class TransientError(Exception):
    """A failure worth retrying (connection refused or reset, connect timeout, DNS hiccup)."""
