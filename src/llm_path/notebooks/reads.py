"""Data files a notebook declares it reads, so that editing them re-executes it.

A notebook that reads files beside its code (the agents notebook searches the curriculum's own
topics) says so in a comment line of a code cell:

    # llm-path: reads ../curriculum/topics/*.yml

The pattern is a glob relative to the notebook's folder. The hash of every file it matches (names
and contents) joins the notebook's cache key, as a local package's hash does, so the cached outputs
can never describe files that have since changed. Found by a regular expression, like imports: a
warm build decides what is current without parsing the notebook.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath

READS = re.compile(r"^[ \t]*#[ \t]*llm-path:[ \t]*reads[ \t]+(?P<pattern>\S+)[ \t]*$", re.MULTILINE)
KEY_PREFIX = "reads:"
"""Marks a data dependency among the local packages' digests, whose names are identifiers."""


class ReadsError(ValueError):
    """A declaration the runner cannot honour, with its line in the notebook's source."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def declared_reads(text: str) -> list[tuple[int, str]]:
    """(line, pattern) of each `# llm-path: reads PATTERN` line in a notebook's source, in order."""
    return [(text.count("\n", 0, match.start()) + 1, match["pattern"]) for match in READS.finditer(text)]


def reads_digests(text: str, source_dir: Path) -> dict[str, str]:
    """`reads:PATTERN` -> hash of the files it matches, for each pattern the source declares.

    Raises ReadsError for an absolute pattern, which would tie the notebook to one machine.
    A pattern that matches nothing hashes to the digest of no files: the notebook may have a
    fallback, and a file appearing later changes the key.
    """
    digests = {}
    for line, pattern in declared_reads(text):
        if PurePosixPath(pattern).is_absolute() or Path(pattern).is_absolute():
            raise ReadsError(
                line, f"'{pattern}' is absolute; write the glob relative to the notebook's folder"
            )
        digests[KEY_PREFIX + pattern] = files_digest(source_dir, pattern)
    return digests


def files_digest(source_dir: Path, pattern: str) -> str:
    """Hash of the relative names and contents of the regular files `pattern` matches under source_dir."""
    digest = hashlib.sha256()
    for path in sorted(p for p in source_dir.glob(pattern) if p.is_file()):
        digest.update(Path(os.path.relpath(path, source_dir)).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:20]
