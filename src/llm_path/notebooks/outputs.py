"""A cap on what one notebook output may store, applied to each kernel message as it arrives.

nbclient keeps every output message of a cell in memory until the cell ends, so a loop that
prints 100 MB costs the runner several times that, and the stored notebook and its page carry
all of it. The kernel client asks an `OutputCap` what to keep of each message: the first
`limit` bytes of a stream (stdout or stderr) or of a `text/plain` value, and a note saying what
was cut. A rich representation over the limit (HTML, an image, SVG, JSON) is left out whole,
since the first part of HTML or of an image is broken markup or no image at all; the output's
`text/plain` says so. The limit applies to each representation of an output, so an output stores
at most a few times the limit (rarely more than two representations) and its page shows one.

Pure Python over message contents: no Jupyter imports here.
"""

from __future__ import annotations

import json
from collections.abc import MutableSequence
from typing import Any

DEFAULT_OUTPUT_LIMIT = 1_000_000
"""Bytes one output may keep, per representation (about 1 MB)."""


def megabytes(size: int) -> str:
    """A size as the notes give it: '100.0 MB', '2.0 KB', '12 bytes'."""
    if size >= 1_000_000:
        return f"{size / 1e6:.1f} MB"
    return f"{size / 1e3:.1f} KB" if size >= 1000 else f"{size} bytes"


def head(text: str, limit: int) -> str:
    """The first `limit` bytes of `text` in UTF-8, never cutting a character in two."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", errors="ignore")


def _size(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return sum(len(part.encode("utf-8")) for part in value)
    return len(json.dumps(value).encode("utf-8"))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


class OutputCap:
    """How much of each output to keep, cell by cell; streams are counted across their messages."""

    def __init__(self, limit: int = DEFAULT_OUTPUT_LIMIT, *, slack: int = 0) -> None:
        self.limit = limit
        self.slack = slack
        """Bytes a stream may run past the limit: room for a note the kernel already added (in_kernel.py)."""
        self._streams: dict[tuple[int, str], list[int]] = {}
        """(cell index, stream name) -> [bytes printed, bytes kept, whether what was kept ends a line]."""

    def forget(self, cell_index: int) -> None:
        """The cell's outputs were cleared (or it starts again): its streams start from nothing."""
        for key in [key for key in self._streams if key[0] == cell_index]:
            del self._streams[key]

    def stream(self, cell_index: int, name: str, text: str) -> str:
        """The part of a stream message to keep: what still fits under the limit ('' once it is full)."""
        counts = self._streams.setdefault((cell_index, name), [0, 0, 1])
        size = _size(text)
        counts[0] += size
        room = self.limit + self.slack - counts[1]
        if room <= 0:
            return ""
        kept = text if size <= room else head(text, room)
        counts[1] += _size(kept)
        counts[2] = kept.endswith("\n") if kept else counts[2]
        return kept

    def notes(self, cell_index: int) -> dict[str, str]:
        """Stream name -> the note to append to it, for the cell's streams that were cut."""
        return {
            name: ("" if ends_line else "\n")
            + f"[output truncated: {megabytes(printed)} printed, first {megabytes(kept)} kept]\n"
            for (index, name), (printed, kept, ends_line) in self._streams.items()
            if index == cell_index and printed > kept
        }

    def annotate(self, cell_index: int, outputs: MutableSequence[Any]) -> None:
        """Append the note to the last kept output of each stream of the cell that was cut."""
        for name, note in self.notes(cell_index).items():
            for output in reversed(outputs):
                if output.get("output_type") == "stream" and output.get("name") == name:
                    output["text"] = _text(output.get("text", "")) + note
                    break

    def bundle(self, data: dict[str, Any]) -> dict[str, Any]:
        """A display's or result's representations, each within the limit, with a note for what was cut."""
        kept: dict[str, Any] = {}
        notes = []
        for mime, value in data.items():
            size = _size(value)
            if size <= self.limit:
                kept[mime] = value
            elif mime == "text/plain":
                kept[mime] = head(_text(value), self.limit)
                notes.append(
                    f"[output truncated: {megabytes(size)} of text, first {megabytes(self.limit)} kept]"
                )
            else:
                notes.append(
                    f"[output truncated: {mime} of {megabytes(size)} left out, over the {megabytes(self.limit)} limit]"
                )
        if notes:
            plain = _text(kept.get("text/plain", ""))
            kept["text/plain"] = "\n".join([plain, *notes] if plain else notes)
        return kept

    def error(self, content: dict[str, Any]) -> dict[str, Any]:
        """An error's message and traceback within the limit."""
        capped = dict(content)
        capped["evalue"] = head(str(content.get("evalue", "")), self.limit)
        lines, room = [], self.limit
        for line in content.get("traceback", []):
            if _size(line) > room:
                lines.append(f"{head(line, max(room, 0))}\n[traceback truncated at {megabytes(self.limit)}]")
                break
            lines.append(line)
            room -= _size(line)
        capped["traceback"] = lines
        return capped
