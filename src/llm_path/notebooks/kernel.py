"""Execute one notebook in a Jupyter kernel: its environment, its two time limits, the output cap, where it failed.

The only module that imports nbclient. It runs inside a worker process (see workers.py) and
sends the executed notebook back as text; the runner stores it.
"""

from __future__ import annotations

import math
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

from llm_path.notebooks.formats import KERNEL, NotebookNode, code_cell_lines, read_source, write_notebook
from llm_path.notebooks.outputs import OutputCap
from llm_path.notebooks.packages import package_environment
from llm_path.notebooks.results import NotebookFailure, Outcome
from llm_path.notebooks.workers import end_group, end_with_worker

OUTPUT_MESSAGES = {"stream", "display_data", "execute_result", "update_display_data", "error"}
KERNEL_CONFIG = """\
c.InlineBackend.figure_formats = {{"retina"}}
c.InteractiveShellApp.exec_lines = [
    "from llm_path.notebooks.in_kernel import install as _cap; _cap({limit}); del _cap",
]

import os as _os, sys as _sys

if _sys.platform == "linux":
    import ctypes as _ctypes, signal as _signal

    # PR_SET_PDEATHSIG (1): Linux kills this kernel when the worker that started it dies, however it dies.
    _ctypes.CDLL(None, use_errno=True).prctl(1, int(_signal.SIGKILL), 0, 0, 0)
    if str(_os.getppid()) != _os.environ.get("JPY_PARENT_PID", str(_os.getppid())):
        _os._exit(1)  # the worker died before the line above took effect
"""
"""The kernel's IPython profile: figures for high-density screens ('retina', which phones and Lighthouse
expect), printed output capped in the kernel (in_kernel.py), and ending with its worker."""
NOTE_ROOM = 1000
"""Bytes past the limit the client lets through: the note the kernel adds to a stream it cut."""


class CappedClient(NotebookClient):  # type: ignore[misc]
    """nbclient's client with every output capped as its messages arrive, and its kernel's group ended with the worker.

    nbclient keeps a cell's outputs until the cell ends; capping them afterwards would hold all
    of a runaway print in memory first.

    The kernel talks over Unix sockets in `socket_dir`, not TCP: jupyter_client picks free TCP
    ports by binding and releasing them, so kernels started at once by parallel workers can pick
    the same port and die before they reply.
    """

    def __init__(self, notebook: NotebookNode, *, output_limit: int, socket_dir: Path, **kwargs: Any) -> None:
        super().__init__(notebook, **kwargs)
        self.cap = OutputCap(output_limit, slack=NOTE_ROOM)
        self.socket_dir = socket_dir
        self.kernel_group: int | None = None

    def create_kernel_manager(self) -> Any:
        self.km = self.kernel_manager_class(
            kernel_name=self.kernel_name,
            config=self.config,
            transport="ipc",
            ip=str(self.socket_dir / "kernel"),
        )
        return self.km

    async def async_start_new_kernel(self, **kwargs: Any) -> None:
        await super().async_start_new_kernel(**kwargs)
        pid = getattr(getattr(self.km, "provisioner", None), "pid", None)
        if isinstance(pid, int):
            self.kernel_group = pid  # jupyter_client starts each kernel in a session of its own
            end_with_worker(pid)

    async def async_execute_cell(self, cell: NotebookNode, cell_index: int, *args: Any, **kwargs: Any) -> Any:
        self.cap.forget(cell_index)
        try:
            return await super().async_execute_cell(cell, cell_index, *args, **kwargs)
        finally:
            self.cap.annotate(cell_index, cell.get("outputs", []))

    def process_message(self, msg: dict[str, Any], cell: NotebookNode, cell_index: int) -> Any:
        kind, content = msg["msg_type"], msg["content"]
        if kind in OUTPUT_MESSAGES and self.clear_before_next_output:
            self.cap.forget(cell_index)  # this output clears the cell's earlier ones first
        elif kind == "clear_output" and not content.get("wait"):
            self.cap.forget(cell_index)
        if kind == "stream":
            kept = self.cap.stream(cell_index, content.get("name", "stdout"), content.get("text", ""))
            if not kept:
                return None
            msg = {**msg, "content": {**content, "text": kept}}
        elif kind in {"display_data", "execute_result", "update_display_data"}:
            msg = {**msg, "content": {**content, "data": self.cap.bundle(content.get("data", {}))}}
        elif kind == "error":
            msg = {**msg, "content": self.cap.error(content)}
        return super().process_message(msg, cell, cell_index)


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute in a worker process."""

    name: str
    source: str
    display: str
    """The source path as the user would type it, for failure lines."""
    source_dir: str
    artifacts: str
    cell_timeout: int
    time_limit: float
    """Seconds the whole notebook may take, kernel start included."""
    output_limit: int
    threads: int

    def run(self) -> Outcome:
        return execute_notebook(self)


def kernel_environment(job: NotebookJob, workdir: Path) -> dict[str, str]:
    """The kernel's environment: local packages, artifacts and its share of the cores; its IPython profile."""
    profile = workdir / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text(KERNEL_CONFIG.format(limit=job.output_limit))
    return {
        **package_environment(Path(job.source_dir), Path(job.artifacts), job.threads),
        "IPYTHONDIR": str(workdir / "ipython"),
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def execute_notebook(job: NotebookJob) -> Outcome:
    """Run the notebook in a fresh kernel, in a scratch folder; its outputs come back in the outcome."""
    started = time.perf_counter()
    deadline = time.monotonic() + job.time_limit
    text = Path(job.source).read_text(encoding="utf-8")
    notebook = read_source(text)
    current = {"cell": -1, "limit": "cell"}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["cell"] = cell_index

    def timeout_for(cell: Any) -> int:
        remaining = deadline - time.monotonic()
        current["limit"] = "notebook" if remaining < job.cell_timeout else "cell"
        return max(1, math.ceil(min(job.cell_timeout, remaining)))

    with tempfile.TemporaryDirectory(prefix="llm-path-nb-") as workdir:
        client = CappedClient(
            notebook,
            output_limit=job.output_limit,
            socket_dir=Path(workdir),
            timeout=job.cell_timeout,
            timeout_func=timeout_for,
            kernel_name=KERNEL,
            allow_errors=False,
            resources={"metadata": {"path": workdir}},
            on_cell_start=on_cell_start,
        )
        try:
            # The kernel's own stderr is launcher chatter; errors in cells arrive as outputs.
            client.execute(stderr=subprocess.DEVNULL, env=kernel_environment(job, Path(workdir)))
        except (CellExecutionError, CellTimeoutError, DeadKernelError, TimeoutError) as error:
            failure = _locate(job, text, notebook, current, error)
            return Outcome(time.perf_counter() - started, failure)
        except Exception as error:  # the kernel could not start or vanished; nbclient raises various types
            what = f"the kernel failed: {type(error).__name__}: {error}"
            return Outcome(time.perf_counter() - started, NotebookFailure(job.name, job.display, 0, 1, what))
        finally:
            if client.kernel_group is not None:
                end_group(client.kernel_group)
    return Outcome(time.perf_counter() - started, notebook=write_notebook(notebook))


def _locate(
    job: NotebookJob, text: str, notebook: NotebookNode, current: dict[str, Any], error: BaseException
) -> NotebookFailure:
    """The failure at the cell that was running, numbered among code cells, at its line in the source."""
    index = current["cell"]
    code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    number = code_cells.index(index) + 1 if index in code_cells else 0
    lines = code_cell_lines(text)
    line = lines[number - 1] if 0 < number <= len(lines) else 1
    what: str
    if isinstance(error, CellTimeoutError | TimeoutError):
        if current["limit"] == "notebook":
            what = f"the notebook ran longer than its {job.time_limit:g} s limit"
        else:
            what = f"ran longer than the {job.cell_timeout} s cell limit"
    elif isinstance(error, DeadKernelError):
        what = "the kernel died (out of memory or a crash)"
    else:
        what = _error_line(notebook.cells[index] if index >= 0 else None, error)
    return NotebookFailure(job.name, job.display, number, line, what)


def _error_line(cell: Any, error: BaseException) -> str:
    for output in (cell or {}).get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output['ename']}: {output['evalue']}".strip().rstrip(":")
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
