"""Bring the notebooks' executed views up to date: reuse what is cached, prepare local packages, execute the rest in parallel."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from llm_path.notebooks.cache import NotebookCache, cache_key, environment_fingerprint, source_digest
from llm_path.notebooks.formats import NotebookNode, read_source
from llm_path.notebooks.outputs import DEFAULT_OUTPUT_LIMIT
from llm_path.notebooks.packages import LocalPackages, PrepareJob
from llm_path.notebooks.reads import ReadsError, reads_digests
from llm_path.notebooks.results import NotebookFailure, NotebookResult
from llm_path.notebooks.workers import run_jobs

DEFAULT_CELL_TIMEOUT = 300
"""Seconds one cell may run."""
DEFAULT_NOTEBOOK_TIMEOUT = 900
"""Seconds one notebook may run, kernel start included."""

Progress = Callable[[NotebookResult, int, int], None]


def notebook_names(source_dir: Path) -> list[str]:
    """The notebooks in a source folder: its top-level `.py` files, less private (`_x.py`), hidden and editor files.

    Local packages are folders, so they never count, whatever they hold.
    """
    return sorted(
        p.stem for p in source_dir.glob("*.py") if p.is_file() and not p.name.startswith(("_", ".", "#"))
    )


@dataclass
class _Stale:
    """A notebook to execute, with what its result will be stored and stamped under."""

    source: Path
    notebook: NotebookNode
    key: str
    digest: str
    packages: list[str]


class NotebookRunner:
    """Executes what is stale, reuses what is cached, and lays out the executed views (see cache.py for the layout)."""

    def __init__(
        self,
        source_dir: Path,
        cache_dir: Path,
        *,
        timeout: int = DEFAULT_CELL_TIMEOUT,
        notebook_timeout: float = DEFAULT_NOTEBOOK_TIMEOUT,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        jobs: int | None = None,
    ) -> None:
        self.source_dir = source_dir
        self.cache_dir = cache_dir
        self.cache = NotebookCache(cache_dir)
        self.timeout = timeout
        self.notebook_timeout = notebook_timeout
        self.output_limit = output_limit
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self.fingerprint = {**environment_fingerprint(), "output_limit": str(output_limit)}

    @property
    def view_root(self) -> Path:
        """The folder whose 'notebooks/' subfolder holds the executed views."""
        return self.cache.view_root

    def _display(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def run(
        self,
        names: Sequence[str],
        progress: Progress | None = None,
        force: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> list[NotebookResult]:
        """Bring each named notebook's view up to date; execute only what is stale (or all, with force).

        `progress` hears of each notebook as it is settled; `log` of each local package prepared.
        """
        self.cache.sweep()
        packages = LocalPackages(self.source_dir)
        results: dict[str, NotebookResult] = {}
        stale: dict[str, _Stale] = {}

        def report(result: NotebookResult) -> None:
            results[result.name] = result
            if progress:
                progress(result, len(results), len(names))

        for name in names:
            source = self.source_dir / f"{name}.py"
            if not source.is_file():
                hint = "no such notebook; create it or fix the topic's 'notebook:'"
                report(
                    NotebookResult(
                        name, "failed", 0.0, None, NotebookFailure(name, self._display(source), 0, 1, hint)
                    )
                )
                continue
            text = source.read_text(encoding="utf-8")
            try:
                reads = reads_digests(text, self.source_dir)
            except ReadsError as error:
                failure = NotebookFailure(name, self._display(source), 0, error.line, str(error))
                report(NotebookResult(name, "failed", 0.0, None, failure))
                continue
            digest = source_digest(
                text, self.fingerprint, {**packages.digests(packages.imported_by(text)), **reads}
            )
            view = None if force else self.cache.current_view(name, digest)
            if view is not None:
                report(NotebookResult(name, "cached", 0.0, view))
                continue
            notebook = read_source(text)
            code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
            imports = packages.imported_by(code)
            key = cache_key(notebook, self.fingerprint, {**packages.digests(imports), **reads})
            if self.cache.stored(name, key).is_file() and not force:
                report(
                    NotebookResult(name, "cached", 0.0, self.cache.update_view(name, notebook, key, digest))
                )
            else:
                stale[name] = _Stale(source, notebook, key, digest, imports)
        for name, failure in self._prepare(packages, stale, log).items():
            del stale[name]
            report(NotebookResult(name, "failed", 0.0, None, failure))
        self._execute(stale, report)
        return [results[name] for name in names]

    def _prepare(
        self, packages: LocalPackages, stale: dict[str, _Stale], log: Callable[[str], None] | None
    ) -> dict[str, NotebookFailure]:
        """Run each local package's `prepare` once, with every core, before the stale notebooks that import it.

        Returns the importers of a package whose prepare failed, each with that one failure.
        """
        needed = sorted({p for s in stale.values() for p in s.packages if packages.preparable(p)})
        jobs = [
            PrepareJob(
                name=package,
                display=self._display(packages.folders[package] / "__main__.py"),
                source_dir=str(self.source_dir.resolve()),
                artifacts=str(self.cache.artifacts.resolve()),
                threads=os.cpu_count() or 1,
                time_limit=self.notebook_timeout,
            )
            for package in needed
        ]
        failed = {}
        for job, outcome in run_jobs(jobs, workers=1):
            if outcome.failure is not None:
                failed[job.name] = outcome.failure
            if log:
                log(
                    f"{job.name}: {'prepare FAILED' if outcome.failure else 'prepared'} in {outcome.seconds:.1f} s"
                )
        return {
            name: failed[package]
            for name, notebook in stale.items()
            for package in notebook.packages
            if package in failed
        }

    def _execute(self, stale: dict[str, _Stale], report: Callable[[NotebookResult], None]) -> None:
        """Execute the stale notebooks in parallel, each kernel with its share of the cores; store what succeeds."""
        if not stale:
            return
        # Imported here: it loads nbclient, which only the workers use; a warm build never needs it.
        from llm_path.notebooks.kernel import NotebookJob

        workers = min(self.jobs, len(stale)) or 1
        threads = max(1, (os.cpu_count() or 1) // workers)
        jobs = [
            NotebookJob(
                name=name,
                source=str(notebook.source),
                display=self._display(notebook.source),
                source_dir=str(self.source_dir.resolve()),
                artifacts=str(self.cache.artifacts.resolve()),
                cell_timeout=self.timeout,
                time_limit=self.notebook_timeout,
                output_limit=self.output_limit,
                threads=threads,
            )
            for name, notebook in stale.items()
        ]
        for job, outcome in run_jobs(jobs, workers):
            view = None
            if outcome.failure is None and outcome.notebook is not None:
                entry = stale[job.name]
                facts = {
                    "executed": datetime.now(UTC).isoformat(timespec="seconds"),
                    "seconds": round(outcome.seconds, 1),
                    "python": self.fingerprint.get("python"),
                    "torch": self.fingerprint.get("torch"),
                }
                self.cache.store(job.name, entry.key, outcome.notebook, facts)
                view = self.cache.update_view(job.name, entry.notebook, entry.key, entry.digest)
                self.cache.evict(job.name, entry.key)
            status = "executed" if view is not None else "failed"
            report(
                NotebookResult(job.name, status, outcome.seconds, view, outcome.failure, outcome.peak_memory)
            )
