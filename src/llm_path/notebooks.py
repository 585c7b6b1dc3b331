"""Execute the topic notebooks (jupytext percent scripts) in parallel, cached by what can change their outputs.

A notebook's cache key hashes its code cells, its kernel and the environment
that matters (Python and the packages notebooks use), never its prose: editing
a Markdown cell re-runs nothing, and the executed view is rebuilt from the
fresh source with the cached outputs, so no stale text is ever shown. Every
file is written atomically: an interrupted run leaves the cache valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import multiprocessing
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from queue import Empty
from typing import Any

import jupytext
import nbformat

from llm_path.files import write_atomic

PIPELINE_VERSION = "2"
"""Bump to re-execute every notebook when the way they are run changes."""

PACKAGES_THAT_MATTER = (
    "numpy",
    "torch",
    "matplotlib",
    "sacrebleu",
    "fastapi",
    "httpx",
    "jsonschema",
    "mcp",
    "pydantic",
    "ipykernel",
    "nbclient",
    "jupytext",
)
DEFAULT_CELL_TIMEOUT = 300
KERNEL = "python3"
CELL_MARKER = re.compile(r"^# %%(?!%)")


@dataclass(frozen=True)
class NotebookFailure:
    """Where and how a notebook failed: enough to find the line and re-run it alone."""

    name: str
    source: str
    cell: int
    """1-based number of the failing code cell."""
    line: int
    """Line of that cell's '# %%' marker in the source file."""
    error: str
    """The error's last line, e.g. 'AssertionError: loss did not fall'."""

    def __str__(self) -> str:
        if self.cell == 0:
            return f"{self.source}:{self.line}: {self.error}"
        return f"{self.source}:{self.line}: cell {self.cell} failed: {self.error}; run it alone with: llm-path notebooks {self.name}"


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


def environment_fingerprint() -> dict[str, str]:
    """The parts of the environment that can change a notebook's outputs."""
    versions = {}
    for package in PACKAGES_THAT_MATTER:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    return {
        "pipeline": PIPELINE_VERSION,
        "python": platform.python_version(),
        "machine": platform.machine(),
        **versions,
    }


def cache_key(notebook: nbformat.NotebookNode, fingerprint: dict[str, str]) -> str:
    """Hash of the code cells, the kernel and the environment; prose is left out on purpose."""
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    payload = json.dumps({"code": code, "kernel": KERNEL, "env": fingerprint}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def cell_lines(source_text: str) -> list[int]:
    """Line numbers of the '# %%' markers of code cells, in order."""
    lines = []
    for number, line in enumerate(source_text.splitlines(), start=1):
        if CELL_MARKER.match(line) and "[markdown]" not in line and "[md]" not in line:
            lines.append(number)
    return lines


def merge_outputs(fresh: nbformat.NotebookNode, executed: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The fresh notebook's cells (current prose) with the executed code cells' outputs."""
    done = iter([cell for cell in executed.cells if cell.cell_type == "code"])
    for cell in fresh.cells:
        if cell.cell_type == "code":
            ran = next(done)
            cell.outputs = ran.get("outputs", [])
            cell.execution_count = ran.get("execution_count")
    for index, cell in enumerate(fresh.cells):
        # jupytext gives cells random ids on every read; stable ones keep an unchanged view byte-identical,
        # so the converter's cache (keyed on the file's bytes) hits on a warm build.
        cell.id = f"cell-{index}"
    fresh.metadata["kernelspec"] = executed.metadata.get("kernelspec", {})
    fresh.metadata["language_info"] = executed.metadata.get("language_info", {})
    return fresh


@dataclass(frozen=True)
class _Job:
    name: str
    source: str
    display: str
    store: str
    timeout: int
    threads: int


def _kernel_environment(threads: int, workdir: Path) -> dict[str, str]:
    """Each kernel's share of the cores, and an IPython profile that draws figures for high-density screens.

    Parallel notebooks whose BLAS each spawn a thread per core thrash. Figures are drawn at twice
    their display size ('retina'), which phones and Lighthouse expect of images.
    """
    profile = workdir / "ipython" / "profile_default"
    profile.mkdir(parents=True, exist_ok=True)
    (profile / "ipython_kernel_config.py").write_text('c.InlineBackend.figure_formats = {"retina"}\n')
    share = str(threads)
    return {
        **os.environ,
        "IPYTHONDIR": str(workdir / "ipython"),
        "OMP_NUM_THREADS": share,
        "OPENBLAS_NUM_THREADS": share,
        "MKL_NUM_THREADS": share,
        # Idle OpenMP threads sleep instead of spinning: on a busy machine spinning makes small ops 25-80x slower.
        "OMP_WAIT_POLICY": "PASSIVE",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }


def _execute(job: _Job) -> tuple[str, float, NotebookFailure | None]:
    """Run one notebook in a kernel (in a worker process); store it on success."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    started = time.perf_counter()
    source = Path(job.source)
    text = source.read_text(encoding="utf-8")
    notebook = jupytext.reads(text, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": KERNEL, "display_name": "Python 3", "language": "python"}
    current = {"cell": -1}

    def on_cell_start(cell: Any, cell_index: int) -> None:
        current["cell"] = cell_index

    with tempfile.TemporaryDirectory(prefix="llm-path-nb-") as workdir:
        client = NotebookClient(
            notebook,
            timeout=job.timeout,
            kernel_name=KERNEL,
            allow_errors=False,
            resources={"metadata": {"path": workdir}},
            on_cell_start=on_cell_start,
        )
        try:
            # The kernel's own stderr is launcher chatter; errors in cells arrive as outputs.
            client.execute(stderr=subprocess.DEVNULL, env=_kernel_environment(job.threads, Path(workdir)))
        except (CellExecutionError, CellTimeoutError, DeadKernelError, TimeoutError) as error:
            index = current["cell"]
            code_cells = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
            number = code_cells.index(index) + 1 if index in code_cells else 0
            lines = cell_lines(text)
            line = lines[number - 1] if 0 < number <= len(lines) else 1
            if isinstance(error, CellTimeoutError | TimeoutError):
                what = f"ran longer than the {job.timeout} s cell limit"
            elif isinstance(error, DeadKernelError):
                what = "the kernel died (out of memory or a crash)"
            else:
                what = _error_line(notebook.cells[index] if index >= 0 else None, error)
            failure = NotebookFailure(job.name, job.display, number, line, what)
            return "failed", time.perf_counter() - started, failure
        except Exception as error:  # the kernel could not start or vanished; nbclient raises various types
            failure = NotebookFailure(
                job.name, job.display, 0, 1, f"the kernel failed: {type(error).__name__}: {error}"
            )
            return "failed", time.perf_counter() - started, failure
    write_atomic(Path(job.store), nbformat.writes(notebook))
    return "executed", time.perf_counter() - started, None


def _worker(job: _Job, queue: Any) -> None:
    """Process entry point: Ctrl-C is the parent's to handle; it terminates workers, and their kernels follow."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    queue.put((job.name, _execute(job)))


def _run_in_processes(
    jobs: Sequence[_Job], workers: int
) -> Iterator[tuple[_Job, tuple[str, float, NotebookFailure | None]]]:
    """Run jobs in at most `workers` processes at once, yielding results as they finish.

    On any exit (Ctrl-C included) every worker still running is terminated at once; nothing it
    was doing reaches the cache, which is only written when a notebook succeeds.
    """
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    waiting = list(jobs)
    by_name = {job.name: job for job in jobs}
    running: dict[str, Any] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                process = context.Process(target=_worker, args=(job, queue), daemon=True)
                process.start()
                running[job.name] = process
            try:
                name, outcome = queue.get(timeout=0.2)
            except Empty:
                for name, process in list(running.items()):
                    if not process.is_alive() and process.exitcode not in (0, None):
                        del running[name]
                        job = by_name[name]
                        failure = NotebookFailure(
                            name, job.display, 0, 1, f"the worker process died (exit code {process.exitcode})"
                        )
                        yield job, ("failed", 0.0, failure)
                continue
            running.pop(name).join(timeout=10)
            yield by_name[name], outcome
    finally:
        for process in running.values():
            process.terminate()
        for process in running.values():
            process.join(timeout=10)
            if process.is_alive():
                process.kill()


def _error_line(cell: Any, error: BaseException) -> str:
    for output in (cell or {}).get("outputs", []):
        if output.get("output_type") == "error":
            return f"{output['ename']}: {output['evalue']}".strip().rstrip(":")
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__


class NotebookRunner:
    """Executes what is stale, reuses what is cached, and lays out the executed views.

    `cache_dir/store/NAME-KEY.ipynb` holds executed notebooks by cache key;
    `cache_dir/view/notebooks/NAME.ipynb` is what the site shows;
    `cache_dir/stamps/NAME.txt` says which source text and cache key that view was made from.
    """

    def __init__(
        self,
        source_dir: Path,
        cache_dir: Path,
        *,
        timeout: int = DEFAULT_CELL_TIMEOUT,
        jobs: int | None = None,
    ) -> None:
        self.source_dir = source_dir
        self.cache_dir = cache_dir
        self.timeout = timeout
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.fingerprint = environment_fingerprint()

    @property
    def view_root(self) -> Path:
        """The folder whose 'notebooks/' subfolder holds the executed views."""
        return self.cache_dir / "view"

    def _store(self, name: str, key: str) -> Path:
        return self.cache_dir / "store" / f"{name}-{key}.ipynb"

    def _view(self, name: str) -> Path:
        return self.view_root / "notebooks" / f"{name}.ipynb"

    def _display(self, source: Path) -> str:
        try:
            return str(source.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(source)

    def run(
        self,
        names: Sequence[str],
        progress: Callable[[NotebookResult, int, int], None] | None = None,
        force: bool = False,
    ) -> list[NotebookResult]:
        """Bring each named notebook's view up to date; execute only what is stale (or all, with force)."""
        results: dict[str, NotebookResult] = {}
        pending: list[_Job] = []
        fresh: dict[str, tuple[str, nbformat.NotebookNode, str]] = {}
        total = len(names)
        for name in names:
            source = self.source_dir / f"{name}.py"
            if not source.is_file():
                missing = NotebookFailure(
                    name,
                    self._display(source),
                    0,
                    1,
                    "no such notebook; create it or fix the topic's 'notebook:'",
                )
                results[name] = NotebookResult(name, "failed", 0.0, None, missing)
                continue
            text = source.read_text(encoding="utf-8")
            up_to_date = None if force else self._view_if_current(name, text)
            if up_to_date is not None:
                results[name] = NotebookResult(name, "cached", 0.0, up_to_date)
                if progress:
                    progress(results[name], len(results), total)
                continue
            notebook = jupytext.reads(text, fmt="py:percent")
            key = cache_key(notebook, self.fingerprint)
            fresh[name] = (text, notebook, key)
            if self._store(name, key).is_file() and not force:
                results[name] = NotebookResult(
                    name, "cached", 0.0, self._update_view(name, text, notebook, key)
                )
                if progress:
                    progress(results[name], len(results), total)
            else:
                pending.append(
                    _Job(
                        name, str(source), self._display(source), str(self._store(name, key)), self.timeout, 0
                    )
                )
        workers = min(self.jobs, len(pending)) or 1
        threads = max(1, (os.cpu_count() or 1) // workers)
        pending = [dataclasses.replace(job, threads=threads) for job in pending]
        for job, (status, seconds, failure) in _run_in_processes(pending, workers):
            view = None
            if failure is None:
                text, notebook, key = fresh[job.name]
                view = self._update_view(job.name, text, notebook, key)
                self._evict(job.name, key)
            results[job.name] = NotebookResult(job.name, status, seconds, view, failure)
            if progress:
                progress(results[job.name], len(results), total)
        return [results[name] for name in names]

    def _update_view(self, name: str, text: str, notebook: nbformat.NotebookNode, key: str) -> Path:
        executed = nbformat.read(self._store(name, key), as_version=4)
        merged = nbformat.writes(merge_outputs(notebook, executed))
        view = self._view(name)
        if not view.is_file() or view.read_text(encoding="utf-8") != merged:
            write_atomic(view, merged)
        write_atomic(self._stamp(name), f"{self._source_digest(text)} {key}\n")
        return view

    def _view_if_current(self, name: str, text: str) -> Path | None:
        """The view, when it was made from this very source text in this environment and its outputs are stored.

        Parsing a notebook with jupytext costs more than everything else a warm build does for it;
        the stamp written beside each view lets an unchanged notebook skip it.
        """
        view, stamp = self._view(name), self._stamp(name)
        if not view.is_file() or not stamp.is_file():
            return None
        digest, _, key = stamp.read_text(encoding="utf-8").strip().partition(" ")
        if digest != self._source_digest(text) or not self._store(name, key).is_file():
            return None
        return view

    def _source_digest(self, text: str) -> str:
        payload = json.dumps({"source": text, "kernel": KERNEL, "env": self.fingerprint}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _stamp(self, name: str) -> Path:
        return self.cache_dir / "stamps" / f"{name}.txt"

    def _evict(self, name: str, key: str) -> None:
        for old in (self.cache_dir / "store").glob(f"{name}-*.ipynb"):
            if old.name != f"{name}-{key}.ipynb":
                old.unlink(missing_ok=True)


def print_progress(result: NotebookResult, done: int, total: int) -> None:
    """One line per notebook on stderr: which, how, and how long."""
    how = {
        "cached": "cached",
        "executed": f"executed in {result.seconds:.1f} s",
        "failed": f"FAILED after {result.seconds:.1f} s",
    }
    print(f"[{done}/{total}] {result.name}: {how[result.status]}", file=sys.stderr, flush=True)
