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
    one_line: dict[Loc, int] = field(default_factory=dict)
    """Scalars written on one line, plain or quoted: how many characters precede the value's text (0 or 1)."""

    def where(self, loc: Loc, offset: int | None = None) -> tuple[int, int]:
        """Position of the value at `loc` (of character `offset` in it, when its text sits on one line)."""
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.values:
                line, col = self.values[loc[:end]]
                if offset is not None and end == len(loc) and loc in self.one_line:
                    col += self.one_line[loc] + offset
                return line, col
        return (1, 1)

    def where_key(self, loc: Loc) -> tuple[int, int]:
        """Position of the key naming `loc` (falls back to the value's position)."""
        return self.keys.get(loc) or self.where(loc)

    def problem(self, loc: Loc, message: str, *, at_key: bool = False, offset: int | None = None) -> Problem:
        line, col = self.where_key(loc) if at_key else self.where(loc, offset)
        return Problem(self.file, line, col, message)


def format_loc(loc: Loc) -> str:
    """('resources', 2, 'url') -> 'resources[2].url'."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text
