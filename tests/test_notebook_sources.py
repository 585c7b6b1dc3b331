"""The notebook sources themselves: prose the site's renderer can draw."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.py"))
DISPLAY_MATHS = re.compile(r"\$\$.*?\$\$", re.DOTALL)
FENCED_CODE = re.compile(r"```.*?```", re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def split_inline_formulas(markdown: str) -> list[str]:
    """Lines of a Markdown cell holding an odd number of `$`: an inline formula broken across lines.

    Display maths and code may span lines and are blanked first (keeping their line breaks);
    an escaped `\\$` is not a delimiter.
    """
    blank = lambda match: "\n" * match.group(0).count("\n")  # noqa: E731
    text = FENCED_CODE.sub(blank, DISPLAY_MATHS.sub(blank, markdown))
    lines = [INLINE_CODE.sub("", line).replace(r"\$", "") for line in text.split("\n")]
    return [line.strip() for line in lines if line.count("$") % 2]


def test_split_formula_is_found() -> None:
    """A formula broken over two lines is reported; whole ones, display maths and code are not."""
    broken = "the gradient is $\\operatorname{softmax}(z) -\n\\text{onehot}(t)$ here"
    assert split_inline_formulas(broken) == [
        "the gradient is $\\operatorname{softmax}(z) -",
        "\\text{onehot}(t)$ here",
    ]
    fine = "a $x + y$ and $$\\sum_i\n a_i$$ and `cost in $` and \\$5\n```\necho $HOME\n```"
    assert split_inline_formulas(fine) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_inline_formulas_stay_on_one_line(path: Path) -> None:
    """The site turns `$...$` into MathML line by line (llm_path.maths.DOLLARS), so a formula split across lines breaks."""
    notebook = jupytext.read(path)
    problems = [
        f"{path.name}: markdown cell {index}: {line}"
        for index, cell in enumerate(notebook.cells)
        if cell.cell_type == "markdown"
        for line in split_inline_formulas(cell.source)
    ]
    assert problems == [], "keep each inline formula on one line:\n" + "\n".join(problems)
