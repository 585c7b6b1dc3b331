"""Notebook sources for the tests: jupytext percent scripts, and a local package beside them."""

from __future__ import annotations

from pathlib import Path

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     display_name: Python 3\n#     language: python\n#     name: python3\n# ---\n"


def notebook(folder: Path, name: str, *cells: str) -> Path:
    """Write a jupytext percent notebook made of the given code cells, each after a short Markdown cell."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(
        f"\n# %% [markdown]\n# Step {i}.\n\n# %%\n{code}\n" for i, code in enumerate(cells, start=1)
    )
    path = folder / f"{name}.py"
    path.write_text(HEADER + body)
    return path


def package(folder: Path, name: str, files: dict[str, str]) -> Path:
    """Write a local package `folder/name/` holding `files` ({relative path: text}) and an `__init__.py`."""
    root = folder / name
    for relative, text in {"__init__.py": "", **files}.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def listing(folder: Path) -> list[str]:
    """Every path under `folder`, relative and sorted."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*"))


def temporary_files(folder: Path) -> list[str]:
    """The files under `folder` named like a write in progress (hidden: '.NAME.X.tmp', or '.tmp-NAME.X')."""
    return [p.name for p in folder.rglob("*") if p.name.startswith(".")]
