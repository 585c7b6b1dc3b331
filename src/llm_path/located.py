"""Located problems: where in which file something is wrong, and what would be right."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Loc = tuple[str | int, ...]


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the content, located in its file."""

    file: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.message}"


class CurriculumError(Exception):
    """The curriculum has problems; `problems` lists every one of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass
class Document:
    """A parsed YAML file: its data and where each key and value sits."""

    file: str
    data: Any
    values: dict[Loc, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Loc, tuple[int, int]] = field(default_factory=dict)

    def where(self, loc: Loc) -> tuple[int, int]:
        """Position of the value at `loc`, or of its nearest located ancestor."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                return self.values[loc[:end]]
        return (1, 1)

    def where_key(self, loc: Loc) -> tuple[int, int]:
        """Position of the key naming `loc` (falls back to the value's position)."""
        return self.keys.get(loc) or self.where(loc)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False) -> Problem:
        line, col = self.where_key(loc) if at_key else self.where(loc)
        return Problem(self.file, line, col, message)


def format_loc(loc: Loc) -> str:
    """('resources', 2, 'url') -> 'resources[2].url'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
