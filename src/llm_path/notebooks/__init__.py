"""Execute the topic notebooks (jupytext percent scripts) in parallel, cached by what can change their outputs.

- `runner`: what is stale, local packages' prepare step, parallel execution, the views;
- `cache`: keys, the store, views, stamps and eviction;
- `workers`: worker processes in sessions of their own, ended with the runner;
- `kernel`: one notebook in a Jupyter kernel, its time limits and where it failed;
- `outputs`: the cap on what one output may keep;
- `packages`: local packages beside the notebooks (imports, hashes, prepare);
- `formats`: reading and writing notebook files;
- `results`: the records a run reports.
"""

from llm_path.notebooks.outputs import DEFAULT_OUTPUT_LIMIT
from llm_path.notebooks.results import NotebookFailure, NotebookResult, print_progress
from llm_path.notebooks.runner import (
    DEFAULT_CELL_TIMEOUT,
    DEFAULT_NOTEBOOK_TIMEOUT,
    NotebookRunner,
    notebook_names,
)

__all__ = [
    "DEFAULT_CELL_TIMEOUT",
    "DEFAULT_NOTEBOOK_TIMEOUT",
    "DEFAULT_OUTPUT_LIMIT",
    "NotebookFailure",
    "NotebookResult",
    "NotebookRunner",
    "notebook_names",
    "print_progress",
]
