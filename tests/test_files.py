"""Atomic writes: the permissions an ordinary write gives, and nothing half-written or stray after a failure."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from llm_path.curriculum.load import SKIPPED_NAME
from llm_path.files import TEMPORARY_PREFIX, write_atomic


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_has_the_permissions_of_an_ordinary_write(tmp_path: Path, umask: int, mode: int) -> None:
    """0666 less the umask, as open() would give, not mkstemp's private 0600."""
    target = tmp_path / "page.md"
    code = f"import os; os.umask({umask}); from llm_path.files import write_atomic; from pathlib import Path; write_atomic(Path({str(target)!r}), 'x')"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error mid-write (a full disk, a kill's KeyboardInterrupt) leaves the previous content and nothing else."""
    target = tmp_path / "cache.json"
    write_atomic(target, "old")

    def fail(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json"]


def test_temporary_names_are_ones_the_loader_skips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary file left by a kill (here: caught mid-write) is named so the curriculum loader ignores it."""
    seen: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append(Path(src).name)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    write_atomic(tmp_path / "topics" / "attention.yml", "id: attention\n")
    assert seen and seen[0].startswith(TEMPORARY_PREFIX) and SKIPPED_NAME.search(seen[0])
