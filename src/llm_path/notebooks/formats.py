"""Notebook files in and out: the only module that imports jupytext and nbformat."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import nbformat
from nbformat import NotebookNode

__all__ = ["KERNEL", "NotebookNode", "code_cell_lines", "read_executed", "read_source", "write_notebook"]

KERNEL = "python3"
KERNELSPEC = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
CELL_MARKER = re.compile(r"^# %%(?!%)")


def read_source(text: str) -> NotebookNode:
    """A jupytext percent script as a notebook to execute, with the kernel it runs in."""
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = dict(KERNELSPEC)
    return notebook


def read_executed(path: Path) -> NotebookNode:
    """An executed notebook the runner stored."""
    return nbformat.read(path, as_version=4)


def write_notebook(notebook: NotebookNode) -> str:
    """The notebook as .ipynb text."""
    return nbformat.writes(notebook)


def code_cell_lines(source_text: str) -> list[int]:
    """Line numbers of the '# %%' markers of code cells, in order."""
    lines = []
    for number, line in enumerate(source_text.splitlines(), start=1):
        if CELL_MARKER.match(line) and "[markdown]" not in line and "[md]" not in line:
            lines.append(number)
    return lines
