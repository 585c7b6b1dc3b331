"""Running notebooks: failures located at their cell, both time limits, Ctrl-C, and a runner killed outright."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import nbformat
from conftest import BIN

from llm_path.notebooks import NotebookRunner
from llm_path.notebooks.cache import NotebookCache

from .sources import notebook, temporary_files


def test_failure_names_notebook_cell_line_and_command(tmp_path: Path) -> None:
    """A failing assert reports the notebook, the code cell, its source line, the error and how to re-run it."""
    notebook(tmp_path / "src", "bad", "x = 1", "assert x == 2, 'x should be two'")
    os.chdir(tmp_path)
    result = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1).run(["bad"])[0]
    assert result.status == "failed"
    assert (
        str(result.failure)
        == "src/bad.py:18: cell 2 failed: AssertionError: x should be two; run it alone with: llm-path notebooks bad"
    )
    assert list((tmp_path / "cache").rglob("*.ipynb")) == [], "nothing is cached for a failed run"


def test_a_huge_error_message_is_quoted_on_one_short_line(tmp_path: Path) -> None:
    """An exception carrying megabytes of text, over many lines, gives a failure line of a few hundred characters."""
    notebook(tmp_path / "src", "loud", "raise ValueError('line\\n' * 500_000)")
    os.chdir(tmp_path)
    failure = str(NotebookRunner(Path("src"), tmp_path / "cache", jobs=1).run(["loud"])[0].failure)
    assert failure.startswith("src/loud.py:12: cell 1 failed: ValueError: line line line")
    assert "\n" not in failure and len(failure) < 300


def test_kernels_started_together_talk_over_their_own_sockets(tmp_path: Path) -> None:
    """Twelve kernels at once all start: each uses Unix sockets in its scratch folder, so none can take another's TCP port."""
    names = [f"n{i}" for i in range(12)]
    for name in names:
        notebook(
            tmp_path / "src",
            name,
            "import json, os\nfrom ipykernel.connect import get_connection_info\n"
            "info = json.loads(get_connection_info())\nprint(info['transport'], info['ip'].startswith(os.getcwd()))",
        )
    results = NotebookRunner(tmp_path / "src", tmp_path / "cache", jobs=12).run(names)
    assert [r.failure for r in results] == [None] * 12
    for result in results:
        view = nbformat.read(result.view, as_version=4)
        assert [o["text"] for cell in view.cells if cell.cell_type == "code" for o in cell.outputs] == [
            "ipc True\n"
        ]


def test_cell_time_limit(tmp_path: Path) -> None:
    """A cell running past the limit fails the same way, naming the limit."""
    notebook(tmp_path / "src", "slow", "import time\ntime.sleep(60)")
    os.chdir(tmp_path)
    result = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1, timeout=2).run(["slow"])[0]
    assert (
        str(result.failure)
        == "src/slow.py:12: cell 1 failed: ran longer than the 2 s cell limit; run it alone with: llm-path notebooks slow"
    )


def test_notebook_time_limit(tmp_path: Path) -> None:
    """Cells each within the cell limit but together past the notebook's are stopped at the notebook's limit."""
    notebook(tmp_path / "src", "long", "x = 1", "import time\ntime.sleep(60)")
    os.chdir(tmp_path)
    started = time.monotonic()
    runner = NotebookRunner(Path("src"), tmp_path / "cache", jobs=1, timeout=300, notebook_timeout=8)
    result = runner.run(["long"])[0]
    assert time.monotonic() - started < 40
    assert (
        str(result.failure)
        == "src/long.py:18: cell 2 failed: the notebook ran longer than its 8 s limit; run it alone with: llm-path notebooks long"
    )


def test_interrupted_run_leaves_a_valid_cache(tmp_path: Path) -> None:
    """Ctrl-C during execution keeps what finished, writes no partial file, and a re-run completes."""
    notebook(tmp_path / "src", "quick", "print('done')")
    notebook(tmp_path / "src", "slow", "import time\ntime.sleep(30)")
    cache = tmp_path / "cache"
    NotebookRunner(tmp_path / "src", cache, jobs=1).run(["quick"])
    command = [str(BIN / "llm-path"), "notebooks", "--source", "src", "--cache", "cache", "slow"]
    process = subprocess.Popen(
        command, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while not any(cache.glob("view/notebooks/quick.ipynb")) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(5)  # the slow notebook's kernel is running its sleep by now
    os.killpg(process.pid, signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0
    assert temporary_files(cache) == []
    stored = sorted(p.name.split("-")[0] for p in (cache / "store").glob("*.ipynb"))
    assert stored == ["quick"]
    for path in cache.rglob("*.ipynb"):
        nbformat.validate(nbformat.read(path, as_version=4))
    assert [r.status for r in NotebookRunner(tmp_path / "src", cache, jobs=1).run(["quick"])] == ["cached"]


def _mentioning(text: str) -> list[str]:
    """Processes whose command line or environment mentions `text`: '<pid> <command line>'."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            environment = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue  # gone, or not ours
        if text in command or text in environment:
            found.append(f"{entry.name} {command[:200]}")
    return found


def _survivors(text: str, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while (found := _mentioning(text)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def test_killed_runner_leaves_no_process_and_a_consistent_cache(tmp_path: Path) -> None:
    """After SIGKILL of `llm-path notebooks`, none of its workers or kernels lives on, nothing more reaches the cache, and every view has its stamp and stored notebook."""
    source, cache = tmp_path / "src", tmp_path / "cache"
    notebook(source, "quick", "print('done')")
    ticking = (
        "import os, pathlib, time\n"
        "tick = pathlib.Path(os.environ['LLM_PATH_CACHE'], 'tick')\n"
        "tick.parent.mkdir(parents=True, exist_ok=True)\n"
        "while True:\n"
        "    with tick.open('a') as f:\n"
        "        f.write('x')\n"
        "    time.sleep(0.05)"
    )
    notebook(source, "ticking", ticking)
    (tmp_path / "tmp").mkdir()
    # Everything the run starts inherits this environment, so /proc tells its processes from any other.
    env = {**os.environ, "TMPDIR": str(tmp_path / "tmp"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    command = [str(BIN / "llm-path"), "notebooks", "--source", "src", "--cache", "cache", "--jobs", "2"]
    process = subprocess.Popen(
        [*command, "quick", "ticking"], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL
    )
    tick = cache / "artifacts/tick"
    deadline = time.monotonic() + 120
    # Killed while the kernel writes to the cache and the runner waits; test_cache.py covers a kill mid-write.
    while not ((cache / "stamps/quick.txt").is_file() and tick.is_file()):
        assert time.monotonic() < deadline and process.poll() is None, "the run never got going"
        time.sleep(0.1)
    assert _mentioning(str(tmp_path)), "the run's processes are visible in /proc"
    process.kill()
    process.wait(timeout=10)
    assert _survivors(str(tmp_path), seconds=10) == []
    size = tick.stat().st_size
    time.sleep(1)
    assert tick.stat().st_size == size, "nothing writes to the cache after the runner is gone"
    assert temporary_files(cache) == []
    layout = NotebookCache(cache)
    for view in (cache / "view/notebooks").iterdir():
        name = view.stem
        _, key = layout.stamp(name).read_text().split()
        assert layout.stored(name, key).is_file(), name
    assert [p.stem for p in (cache / "view/notebooks").iterdir()] == ["quick"]
