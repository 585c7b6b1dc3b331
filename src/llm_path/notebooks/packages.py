"""Local packages beside the notebooks (e.g. `notebooks/pathgpt/`): which notebooks import them, their hashes, their `prepare` step.

A local package is a subfolder of the notebook source folder holding an `__init__.py`. Kernels
import it from the source folder (on their PYTHONPATH); a notebook's cache key includes the hash
of every file of each local package it imports, directly or through another local package, so
editing shared code re-executes exactly the notebooks that use it. A package with a
`__main__.py` is prepared once before its importers run (`python -m PACKAGE prepare`, with every
core), which is where costly shared work such as a pretrained checkpoint is made, under
LLM_PATH_CACHE.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from llm_path.notebooks.results import NotebookFailure, Outcome, one_line
from llm_path.notebooks.workers import ending_with_worker

IMPORT = re.compile(r"^[ \t]*import[ \t]+(?P<names>[^#;\n]+)", re.MULTILINE)
FROM_IMPORT = re.compile(r"^[ \t]*from[ \t]+(?P<name>[A-Za-z_]\w*)[\w.]*[ \t]+import\b", re.MULTILINE)
ARTIFACTS_VARIABLE = "LLM_PATH_CACHE"
"""Where local packages keep what they make (a checkpoint, a trained tokenizer): the runner's cache."""


def imported_names(code: str) -> set[str]:
    """Top-level names of the modules `code` imports (`import x.y as z, w` -> x, w; `from x.y import z` -> x)."""
    names = {match.group("name") for match in FROM_IMPORT.finditer(code)}
    for match in IMPORT.finditer(code):
        for part in match.group("names").split(","):
            words = part.split()
            if words and re.fullmatch(r"[A-Za-z_][\w.]*", words[0]):
                names.add(words[0].split(".")[0])
    return names


def is_package_file(path: Path) -> bool:
    """Part of a package's content: not bytecode, not an editor's or a writer's temporary file, and not
    in a hidden folder (ruff, run on a package with its own ruff.toml, keeps its `.ruff_cache/` there)."""
    name = path.name
    return not (
        "__pycache__" in path.parts
        or any(part.startswith(".") for part in path.parts)
        or name.startswith("#")
        or name.endswith(("~", ".pyc", ".tmp"))
    )


def is_local_package(folder: Path) -> bool:
    return folder.is_dir() and not folder.name.startswith((".", "_")) and (folder / "__init__.py").is_file()


class LocalPackages:
    """The local packages of one source folder; each package's files are hashed at most once."""

    def __init__(self, source_dir: Path) -> None:
        self.source_dir = source_dir
        self.folders = {}
        if source_dir.is_dir():
            self.folders = {f.name: f for f in sorted(source_dir.iterdir()) if is_local_package(f)}
        self._digests: dict[str, str] = {}
        self._imports: dict[str, set[str]] = {}

    def imported_by(self, code: str) -> list[str]:
        """The local packages `code` imports, directly or through other local packages, sorted."""
        found: set[str] = set()
        waiting = sorted(imported_names(code) & self.folders.keys())
        while waiting:
            name = waiting.pop()
            if name not in found:
                found.add(name)
                waiting.extend(sorted(self._package_imports(name) - found))
        return sorted(found)

    def digests(self, names: list[str]) -> dict[str, str]:
        """Package name -> hash of its files' paths and contents."""
        for name in names:
            if name not in self._digests:
                self._digests[name] = self._digest(self.folders[name])
        return {name: self._digests[name] for name in names}

    def preparable(self, name: str) -> bool:
        """Whether the package has a `prepare` step (a `__main__.py`)."""
        return (self.folders[name] / "__main__.py").is_file()

    def _files(self, folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.is_file() and is_package_file(p.relative_to(folder)))

    def _digest(self, folder: Path) -> str:
        digest = hashlib.sha256()
        for path in self._files(folder):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()[:20]

    def _package_imports(self, name: str) -> set[str]:
        if name not in self._imports:
            code = "\n".join(
                p.read_text(encoding="utf-8", errors="replace")
                for p in self._files(self.folders[name])
                if p.suffix == ".py"
            )
            self._imports[name] = (imported_names(code) & self.folders.keys()) - {name}
        return self._imports[name]


def package_environment(source_dir: Path, artifacts: Path, threads: int) -> dict[str, str]:
    """What a kernel or a prepare step needs: local packages importable, the artifacts folder, its share of the cores.

    Bytecode is not written: Python would put `__pycache__/` into the source folder, which the
    curriculum, the site and `git status` read.
    """
    share = str(threads)
    path = os.pathsep.join(p for p in (str(source_dir.resolve()), os.environ.get("PYTHONPATH", "")) if p)
    return {
        **os.environ,
        "PYTHONPATH": path,
        ARTIFACTS_VARIABLE: str(artifacts.resolve()),
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": share,
        "OPENBLAS_NUM_THREADS": share,
        "MKL_NUM_THREADS": share,
        # Idle OpenMP threads sleep instead of spinning: on a busy machine spinning makes small ops 25-80x slower.
        "OMP_WAIT_POLICY": "PASSIVE",
    }


@dataclass(frozen=True)
class PrepareJob:
    """`python -m PACKAGE prepare` in the source folder, run in a worker process."""

    name: str
    display: str
    """The package's `__main__.py` as the user would type it."""
    source_dir: str
    artifacts: str
    threads: int
    time_limit: float

    def run(self) -> Outcome:
        started = time.perf_counter()
        command = [sys.executable, "-m", self.name, "prepare"]
        env = package_environment(Path(self.source_dir), Path(self.artifacts), self.threads)
        Path(self.artifacts).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile() as stderr:
            # Its own session, so that ending it ends whatever it started too.
            process = subprocess.Popen(
                command,
                cwd=self.source_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                start_new_session=True,
            )
            with ending_with_worker(process.pid):
                try:
                    code = process.wait(timeout=self.time_limit)
                except subprocess.TimeoutExpired:
                    code = None
            process.wait()
            seconds = time.perf_counter() - started
            if code == 0:
                return Outcome(seconds)
            if code is None:
                what = f"ran longer than the {self.time_limit:g} s notebook limit"
            else:
                stderr.seek(max(0, stderr.seek(0, os.SEEK_END) - 65536))
                lines = [line for line in stderr.read().decode(errors="replace").splitlines() if line.strip()]
                what = one_line(lines[-1]) if lines else f"exit code {code}"
        return Outcome(seconds, NotebookFailure(self.name, self.display, 0, 1, f"prepare failed: {what}"))
