"""Text every Python install has: the standard library's source and the language reference, split by document."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sysconfig
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from .tokenizer import Tokenizer

SKIPPED_FOLDERS = frozenset(
    {"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__", "encodings", "pydoc_data"}
)
"""Tests (half the library, and repetitive), installed packages, caches, and generated tables
(`encodings` holds codec tables; `pydoc_data/topics.py` is the reference text, read as documents instead)."""


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


@dataclass(frozen=True)
class Document:
    name: str
    """Where it comes from: a path under the standard library, or `pydoc_data.topics/<topic>`."""
    text: str


def is_validation(name: str, fraction: float) -> bool:
    """Whether a document belongs to the validation split: a stable hash of its name, not of its content.

    The same file lands in the same split on every machine and Python version, and editing it never
    moves it across.
    """
    digest = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big")
    return digest / 2**64 < fraction


@dataclass(frozen=True)
class Corpus:
    documents: tuple[Document, ...]
    """Every selected document, sorted by name."""
    validation_fraction: float
    python: str
    """The Python that supplied the text: the corpus changes slightly between versions."""

    @property
    def train(self) -> list[Document]:
        return [d for d in self.documents if not is_validation(d.name, self.validation_fraction)]

    @property
    def validation(self) -> list[Document]:
        return [d for d in self.documents if is_validation(d.name, self.validation_fraction)]

    @property
    def n_bytes(self) -> int:
        return sum(len(d.text.encode("utf-8")) for d in self.documents)

    def fingerprint(self) -> str:
        """sha256 of every document's name and text."""
        digest = hashlib.sha256()
        for document in self.documents:
            digest.update(json.dumps([document.name, document.text]).encode("utf-8"))
        return digest.hexdigest()


def _source_files(root: Path, max_file_bytes: int) -> list[tuple[str, Path, int]]:
    """(name, path, size) of each source file the corpus may use, sorted by name."""
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [f for f in subfolders if f not in SKIPPED_FOLDERS and not f.startswith("config-")]
        for file in files:
            path = Path(folder, file)
            if not file.endswith(".py") or file.startswith("_sysconfigdata"):
                continue  # _sysconfigdata is the build's configuration, generated
            size = path.stat().st_size
            if size <= max_file_bytes:
                found.append((path.relative_to(root).as_posix(), path, size))
    return sorted(found)


def _spread(name: str) -> bytes:
    return hashlib.sha256(b"order:" + name.encode("utf-8")).digest()


def stdlib_corpus(
    max_bytes: int = 6_000_000,
    *,
    max_file_bytes: int = 100_000,
    validation_fraction: float = 0.1,
    include_reference: bool = True,
) -> Corpus:
    """The standard library's source files and, optionally, the language reference's topics.

    Files above max_file_bytes are left out (a handful, each of which would weigh on one split
    alone). When the rest exceeds max_bytes, the documents are taken in the order of a hash of their
    names until the next would not fit: the selection spreads over the whole library instead of its
    first letters, and a smaller cap keeps a subset of a larger one's.
    """
    sizes: dict[str, int] = {}
    paths: dict[str, Path] = {}
    for name, path, size in _source_files(stdlib_root(), max_file_bytes):
        sizes[name], paths[name] = size, path
    topics: dict[str, str] = {}
    if include_reference:
        from pydoc_data import topics as reference

        topics = {f"pydoc_data.topics/{key}": text for key, text in reference.topics.items()}
        sizes |= {name: len(text.encode("utf-8")) for name, text in topics.items()}
    chosen, total = [], 0
    for name in sorted(sizes, key=_spread):
        total += sizes[name]
        if total > max_bytes:
            break
        chosen.append(name)
    documents = tuple(
        Document(
            name, topics[name] if name in topics else paths[name].read_bytes().decode("utf-8", "replace")
        )
        for name in sorted(chosen)
    )
    return Corpus(documents, validation_fraction, platform.python_version())


def corpus_signature(max_file_bytes: int = 100_000) -> str:
    """A cheap stand-in for the corpus's content, for cache keys: Python's version and each file's name and size.

    Distributions patch their standard library, so the version alone does not pin the text.
    """
    files = [(name, size) for name, _, size in _source_files(stdlib_root(), max_file_bytes)]
    payload = json.dumps([platform.python_implementation(), platform.python_version(), files])
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def encode_documents(tokenizer: Tokenizer, documents: Sequence[Document]) -> Tensor:
    """One long int64 tensor: each document's tokens followed by `<|endoftext|>`."""
    ids: list[int] = []
    for document in documents:
        ids += tokenizer.encode_ordinary(document.text)
        ids.append(tokenizer.eot_id)
    return torch.tensor(ids, dtype=torch.int64)


def sample_batch(
    tokens: Tensor, batch_size: int, context: int, generator: torch.Generator | None = None
) -> tuple[Tensor, Tensor]:
    """batch_size random windows: inputs (B, context) and the same windows shifted by one as targets."""
    starts = torch.randint(0, len(tokens) - context, (batch_size,), generator=generator)
    windows = tokens[starts[:, None] + torch.arange(context + 1)]
    return windows[:, :-1], windows[:, 1:]


def evaluation_windows(tokens: Tensor, context: int, max_windows: int | None = None) -> tuple[Tensor, Tensor]:
    """Non-overlapping windows covering tokens (inputs, targets), or max_windows of them evenly spread."""
    count = (len(tokens) - 1) // context
    if count == 0:
        raise ValueError(f"{len(tokens)} tokens make no window of {context} inputs and their targets")
    starts = torch.arange(count) * context
    if max_windows is not None and max_windows < count:
        starts = starts[torch.linspace(0, count - 1, max_windows).round().long()]
    windows = tokens[starts[:, None] + torch.arange(context + 1)]
    return windows[:, :-1], windows[:, 1:]
