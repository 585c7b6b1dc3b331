"""Worker processes: each job runs in its own session, and everything it started ends with the runner.

A worker is a spawned process that starts a session of its own (`os.setsid`), so the terminal's
Ctrl-C reaches only the runner, and ending a worker's process group ends whatever it started
there. Kernels and prepare commands start sessions of their own (jupyter_client insists on it),
so a worker keeps a list of those groups and ends them when it ends.

When the runner dies, even by SIGKILL, each worker learns it at once: a thread waits on the pipe
that only the runner holds open (multiprocessing's parent sentinel), then kills every group the
worker started, and its own. A kernel also asks Linux to kill it when its worker dies
(PR_SET_PDEATHSIG, see kernel.py), which covers a worker killed outright. Workers never write to
the cache: they send their results to the runner, which alone writes them, so nothing reaches
the cache once the runner is gone.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any, Protocol

from llm_path.notebooks.results import NotebookFailure, Outcome

GRACE = 30.0
"""Seconds past a job's own time limit before the runner ends its worker (the job enforces its limit itself)."""
END = signal.SIGUSR1
"""What the runner sends a worker to end it with everything it started; nbclient takes over SIGTERM and SIGINT."""

_groups: set[int] = set()
"""Process groups this worker started in sessions of their own: kernels, prepare commands."""


class Job(Protocol):
    """Something a worker runs; its fields must pickle."""

    @property
    def name(self) -> str: ...
    @property
    def display(self) -> str: ...
    @property
    def time_limit(self) -> float: ...
    def run(self) -> Outcome: ...


def end_with_worker(group: int) -> None:
    """Kill process group `group` when this worker ends or the runner dies."""
    _groups.add(group)


def end_group(group: int) -> None:
    """Kill process group `group` now, with whatever it left behind (a server a cell started, say)."""
    _groups.discard(group)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


@contextmanager
def ending_with_worker(group: int) -> Iterator[None]:
    """Process group `group` ends when the block does, or with the worker, whichever comes first."""
    end_with_worker(group)
    try:
        yield
    finally:
        end_group(group)


def _end_everything(*_: Any) -> None:
    for group in list(_groups):
        end_group(group)
    os.killpg(0, signal.SIGKILL)  # this worker's own group: itself and what it started there


def _end_with_runner() -> None:
    parent = multiprocessing.parent_process()
    if parent is not None:
        wait([parent.sentinel])
    _end_everything()


def _peak_memory() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _worker(job: Job, connection: Connection) -> None:
    """Process entry point: a session of its own, ended with the runner; the result goes back over `connection`."""
    os.setsid()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(END, _end_everything)
    threading.Thread(target=_end_with_runner, name="end-with-runner", daemon=True).start()
    try:
        outcome = job.run()
    except Exception as error:  # a fault in the runner's own code: report it rather than hang the run
        failure = NotebookFailure(
            job.name, job.display, 0, 1, f"the worker failed: {type(error).__name__}: {error}"
        )
        outcome = Outcome(0.0, failure)
    connection.send(replace(outcome, peak_memory=_peak_memory()))
    connection.close()


def _end_worker(process: Any) -> None:
    """End a worker and everything it started; a worker that does not end itself quickly is killed with its group."""
    if process.is_alive():
        with suppress(ProcessLookupError):
            os.kill(process.pid, END)
        process.join(timeout=5)
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.is_alive():
        process.kill()
    process.join(timeout=5)


def run_jobs(jobs: Sequence[Job], workers: int) -> Iterator[tuple[Job, Outcome]]:
    """Run jobs in at most `workers` processes at once, yielding each outcome as it arrives.

    A worker that dies is reported as failed, and one running past its job's time limit (plus
    GRACE) is ended and reported. On any exit (Ctrl-C included) every worker still running is
    ended with everything it started.
    """
    context = multiprocessing.get_context("spawn")
    workers = max(1, workers)
    waiting = list(jobs)
    running: dict[Connection, tuple[Job, Any, float]] = {}
    try:
        while waiting or running:
            while waiting and len(running) < workers:
                job = waiting.pop(0)
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_worker, args=(job, sender), daemon=True)
                process.start()
                sender.close()
                running[receiver] = (job, process, time.monotonic() + job.time_limit + GRACE)
            first_deadline = min(deadline for _, _, deadline in running.values())
            ready = wait(list(running), timeout=max(0.0, first_deadline - time.monotonic()))
            for receiver in [r for r in list(running) if r in ready]:
                job, process, _ = running.pop(receiver)
                yield job, _receive(job, process, receiver)
            for receiver, (job, process, deadline) in list(running.items()):
                if time.monotonic() >= deadline:
                    del running[receiver]
                    _end_worker(process)
                    receiver.close()
                    limit = f"ran longer than the {job.time_limit:g} s notebook limit"
                    yield job, Outcome(job.time_limit, NotebookFailure(job.name, job.display, 0, 1, limit))
    finally:
        for _, process, _ in running.values():
            with suppress(ProcessLookupError):
                os.kill(process.pid, END)
        for receiver, (_, process, _) in running.items():
            _end_worker(process)
            receiver.close()


def _receive(job: Job, process: Any, receiver: Connection) -> Outcome:
    try:
        outcome: Outcome = receiver.recv()
    except (EOFError, OSError):
        process.join(timeout=10)
        died = f"the worker process died (exit code {process.exitcode})"
        outcome = Outcome(0.0, NotebookFailure(job.name, job.display, 0, 1, died))
    finally:
        receiver.close()
    process.join(timeout=10)
    if process.is_alive():  # it sent its result but does not exit: end it with what it started
        _end_worker(process)
    return outcome
