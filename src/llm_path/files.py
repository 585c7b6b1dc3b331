"""Atomic file writes: readers, and a run interrupted halfway, see the old file or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

TEMPORARY_PREFIX = ".tmp-"
"""Temporary files start with this; the curriculum loader and the caches skip such names, so one left by a kill is inert."""


def _umask() -> int:
    """The process's umask, read without changing it where Linux tells it, else set and restored at once."""
    with suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, content: str | bytes) -> None:
    """Write `content` (text as UTF-8) to a temporary file beside `path`, flush it to disk, then rename it into place.

    The file gets the permissions an ordinary write would give it (0666 less the umask), not mkstemp's 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f"{TEMPORARY_PREFIX}{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
