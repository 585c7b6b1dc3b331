"""The notebook cache: keys from what can change a notebook's outputs, the store, the views and their stamps.

A notebook's cache key hashes its code cells, its kernel, the environment that matters (Python
and the packages notebooks use), the files of the local packages it imports and the data files
it declares it reads (reads.py), never its prose: editing a Markdown cell re-runs nothing, and the executed view is rebuilt from the fresh
source with the cached outputs, so no stale text is ever shown.

Layout of the cache folder:
- `store/NAME-KEY.ipynb`: executed notebooks, by cache key;
- `view/notebooks/NAME.ipynb`: what the site shows;
- `stamps/NAME.txt`: the digest of the source text and the key that view was made from;
- `artifacts/`: what local packages make and keep (LLM_PATH_CACHE), theirs to manage.

Every file is written atomically, by the runner alone, in the order store, view, stamp: an
interrupted run leaves every view with its stamp and every stamp with its stored notebook. The
temporary files of a write (hidden names, see `files.write_atomic`) are never taken for
entries, and those a killed run left behind are swept away by the next one.
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import time
from contextlib import suppress
from importlib import metadata
from pathlib import Path

from llm_path.files import write_atomic
from llm_path.notebooks.formats import KERNEL, NotebookNode, read_executed, write_notebook

PIPELINE_VERSION = "3"
"""Bump to re-execute every notebook when the way they are run changes."""

PACKAGES_THAT_MATTER = (
    "numpy",
    "torch",
    "matplotlib",
    "sacrebleu",
    "fastapi",
    "httpx",
    "pydantic",
    "ipykernel",
    "nbclient",
    "jupytext",
    "jsonschema",
    "mcp",
    "peft",
)
KEY_LENGTH = 20
STALE_TEMPORARY_SECONDS = 60
"""A temporary file this old belongs to no write in progress: its writer was killed."""


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


def cache_key(
    notebook: NotebookNode, fingerprint: dict[str, str], packages: dict[str, str] | None = None
) -> str:
    """Hash of the code cells, the kernel, the environment, the local packages and declared data files (name -> digest).

    Prose is left out on purpose: editing it re-renders the view without executing again.
    """
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    payload = {"code": code, "kernel": KERNEL, "env": fingerprint, "packages": packages or {}}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:KEY_LENGTH]


def source_digest(text: str, fingerprint: dict[str, str], packages: dict[str, str]) -> str:
    """Hash of the whole source text and everything else the key depends on: unchanged means current."""
    payload = {"source": text, "kernel": KERNEL, "env": fingerprint, "packages": packages}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def merge_outputs(fresh: NotebookNode, executed: NotebookNode) -> NotebookNode:
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
    if "llm_path" in executed.metadata:
        fresh.metadata["llm_path"] = executed.metadata["llm_path"]
    return fresh


class NotebookCache:
    """One cache folder (see the module's docstring for its layout)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def view_root(self) -> Path:
        """The folder whose 'notebooks/' subfolder holds the executed views."""
        return self.folder / "view"

    @property
    def artifacts(self) -> Path:
        """Where local packages keep what they make (LLM_PATH_CACHE)."""
        return self.folder / "artifacts"

    def stored(self, name: str, key: str) -> Path:
        return self.folder / "store" / f"{name}-{key}.ipynb"

    def view(self, name: str) -> Path:
        return self.view_root / "notebooks" / f"{name}.ipynb"

    def stamp(self, name: str) -> Path:
        return self.folder / "stamps" / f"{name}.txt"

    def current_view(self, name: str, digest: str) -> Path | None:
        """The view, when it was made from a source with this digest and its outputs are still stored."""
        view, stamp = self.view(name), self.stamp(name)
        if not view.is_file() or not stamp.is_file():
            return None
        made_from, _, key = stamp.read_text(encoding="utf-8").strip().partition(" ")
        if made_from != digest or not self.stored(name, key).is_file():
            return None
        return view

    def store(self, name: str, key: str, executed: str, facts: dict[str, object] | None = None) -> None:
        """Keep an executed notebook (.ipynb text) under its key, with how it was executed in its metadata.

        `facts` (when, how long, with which Python and torch) are what the notebook's page shows; they
        are not part of the key.
        """
        if facts:
            notebook = json.loads(executed)
            notebook.setdefault("metadata", {})["llm_path"] = facts
            executed = json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
        write_atomic(self.stored(name, key), executed)

    def update_view(self, name: str, fresh: NotebookNode, key: str, digest: str) -> Path:
        """Lay out the view of `fresh` with the outputs stored under `key`, and stamp it with `digest`."""
        merged = write_notebook(merge_outputs(fresh, read_executed(self.stored(name, key))))
        view = self.view(name)
        if not view.is_file() or view.read_text(encoding="utf-8") != merged:
            write_atomic(view, merged)
        write_atomic(self.stamp(name), f"{digest} {key}\n")
        return view

    def evict(self, name: str, key: str) -> None:
        """Drop the notebook's other stored entries; other notebooks' entries stay, whatever their names."""
        entry = re.compile(rf"{re.escape(name)}-[0-9a-f]{{{KEY_LENGTH}}}\.ipynb")
        for old in (self.folder / "store").glob(f"{name}-*.ipynb"):
            if entry.fullmatch(old.name) and old.name != f"{name}-{key}.ipynb":
                old.unlink(missing_ok=True)

    def sweep(self, now: float | None = None) -> None:
        """Remove the temporary files that killed runs left in the store, views and stamps."""
        now = time.time() if now is None else now
        for folder in (self.folder / "store", self.view_root / "notebooks", self.folder / "stamps"):
            if not folder.is_dir():
                continue
            for path in folder.iterdir():
                # files.write_atomic writes under a hidden name; no entry has one
                if path.name.startswith("."):
                    with suppress(OSError):
                        if now - path.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                            path.unlink()
