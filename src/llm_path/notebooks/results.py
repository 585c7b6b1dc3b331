"""What a run reports: one record per notebook, and one located line per failure."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ERROR_CHARACTERS = 200
"""A failure line quotes at most this much of an error message: a cell can raise with megabytes of text."""


@dataclass(frozen=True)
class NotebookFailure:
    """Where and how a notebook failed: enough to find the line and re-run it alone."""

    name: str
    source: str
    cell: int
    """1-based number of the failing code cell; 0 when the failure is not a cell's."""
    line: int
    """Line of that cell's '# %%' marker in the source file."""
    error: str
    """The error's last line, e.g. 'AssertionError: loss did not fall'."""

    def __str__(self) -> str:
        error = one_line(self.error)
        if self.cell == 0:
            return f"{self.source}:{self.line}: {error}"
        return f"{self.source}:{self.line}: cell {self.cell} failed: {error}; run it alone with: llm-path notebooks {self.name}"


@dataclass(frozen=True)
class NotebookResult:
    """The outcome for one notebook: from the cache, freshly executed, or failed."""

    name: str
    status: str
    """'cached', 'executed' or 'failed'."""
    seconds: float
    view: Path | None = None
    """The executed notebook to show, when there is one."""
    failure: NotebookFailure | None = None
    peak_memory: int | None = None
    """Peak resident memory of the worker process that ran it, in bytes, when it ran."""


def one_line(text: str) -> str:
    """`text` on one line, cut to ERROR_CHARACTERS."""
    flat = " ".join(text.split())
    return flat if len(flat) <= ERROR_CHARACTERS else flat[: ERROR_CHARACTERS - 3] + "..."


def print_progress(result: NotebookResult, done: int, total: int) -> None:
    """One line per notebook on stderr: which, how, and how long."""
    how = {
        "cached": "cached",
        "executed": f"executed in {result.seconds:.1f} s",
        "failed": f"FAILED after {result.seconds:.1f} s",
    }
    print(f"[{done}/{total}] {result.name}: {how[result.status]}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Outcome:
    """What a job sends back from its worker process."""

    seconds: float
    failure: NotebookFailure | None = None
    notebook: str | None = None
    """The executed notebook as .ipynb text, when a notebook ran clean."""
    peak_memory: int | None = None
