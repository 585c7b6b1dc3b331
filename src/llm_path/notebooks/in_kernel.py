"""Inside each kernel: what a cell prints is capped before it leaves the kernel.

The kernel client caps every output as its messages arrive (kernel.py), but a kernel that
prints faster than the client reads queues its messages in the client's memory, and one
`print` of 100 MB is one 100 MB message. So the kernel's own stdout and stderr keep the first
`limit` bytes of each cell's stream and then only count, and the note saying how much was
printed follows the cell's output. The kernel's IPython profile calls `install` at start.
"""

from __future__ import annotations

import sys
from typing import Any

from llm_path.notebooks.outputs import OutputCap


def install(limit: int) -> None:
    """Cap this kernel's stdout and stderr per cell; needs a running IPython kernel.

    The cap wraps each stream's `write` for the length of a cell and then puts back what it
    wrapped: IPython itself swaps `write` around each cell (to keep outputs in its history), and
    restores its own at the end, so a wrapper installed once would be dropped after the first cell.
    """
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    cap = OutputCap(limit)
    wrapped: dict[str, tuple[Any, Any]] = {}

    def before() -> None:
        cap.forget(0)
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            wrapped[name] = (stream, stream.write)
            stream.write = _capped(cap, name, stream.write)

    def after() -> None:
        notes = cap.notes(0)
        for name, (stream, write) in wrapped.items():
            stream.write = write
            if name in notes:
                write(notes[name])
        wrapped.clear()

    shell.events.register("pre_execute", before)
    shell.events.register("post_execute", after)


def _capped(cap: OutputCap, name: str, write: Any) -> Any:
    def capped_write(text: str) -> int:
        kept = cap.stream(0, name, text)
        if kept:
            write(kept)
        return len(text)

    return capped_write
