"""Shared by the site benchmarks: paths, a timed strict MkDocs build, a compressing static server, tables.

Not a test helper: the benchmarks time things and print what they find; tests/ checks behaviour.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "tests")]

from browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from conftest import site_config  # noqa: E402

from llm_path.load import load_curriculum  # noqa: E402

__all__ = ["BIN", "CHROMIUM", "CHROMIUM_ARGS", "ROOT", "site_config"]

COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml", "application/xml")


class BuildError(SystemExit):
    """A benchmark's build failed; MkDocs' own output says why."""


def build(config: Path, site: Path, env: dict[str, str] | None = None) -> float:
    """Seconds for one `mkdocs build --strict` of `config` into `site`, run from the config's folder."""
    started = time.perf_counter()
    result = subprocess.run(
        [
            str(BIN / "mkdocs"),
            "build",
            "--strict",
            "--quiet",
            "--config-file",
            str(config),
            "--site-dir",
            str(site),
        ],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})},
        check=False,
    )
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise BuildError(f"mkdocs build failed for {config}:\n{result.stderr}{result.stdout}")
    return seconds


def build_project_site(site: Path) -> float:
    """The real site with every notebook, as `make site` builds it (the notebook cache under .cache/ makes it quick once warm)."""
    print(
        "building the site with every notebook (executing the ones not cached yet)...",
        file=sys.stderr,
        flush=True,
    )
    return build(ROOT / "mkdocs.yml", site)


def page_types(site: Path) -> dict[str, str]:
    """Page type -> path under the site, for the real curriculum: the first phase, topic and notebook of the path."""
    curriculum = load_curriculum(ROOT / "curriculum")
    topics = curriculum.ordered_topics()
    with_notebook = [t.id for t in topics if (site / "notebooks" / t.id / "index.html").is_file()]
    kinds = {
        "home": "",
        "phase": f"phases/{curriculum.phases[0].id}/",
        "topic": f"topics/{topics[0].id}/",
        "notebook": f"notebooks/{with_notebook[0]}/" if with_notebook else "",
        "resources": "resources/",
        "plan": "plan/",
    }
    return {kind: path for kind, path in kinds.items() if kind != "notebook" or path}


def gzip_size(data: bytes) -> int:
    """Bytes after gzip at level 6, what static hosts commonly send."""
    return len(gzip.compress(data, compresslevel=6, mtime=0))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _CompressingHandler(_QuietHandler):
    """Serves files as GitHub Pages and most static hosts do: text compressed with gzip when the browser asks."""

    def send_head(self) -> io.BytesIO | None:  # type: ignore[override]
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?", 1)[0].endswith("/"):
            path = path / "index.html"
        kind = self.guess_type(str(path))
        if (
            not path.is_file()
            or "gzip" not in self.headers.get("Accept-Encoding", "")
            or not kind.startswith(COMPRESSIBLE)
        ):
            return super().send_head()  # type: ignore[return-value]
        body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=600")  # GitHub Pages' own setting
        self.end_headers()
        return io.BytesIO(body)


@contextmanager
def serve(folder: Path, *, compress: bool = True) -> Iterator[str]:
    """Serve `folder` on a free loopback port (compressed like a static host, unless told not to); yield its URL."""
    handler = functools.partial(_CompressingHandler if compress else _QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: the first column left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True))]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def kilobytes(size: int) -> str:
    """Bytes as KB with one decimal (1 KB = 1,000 bytes, as the budgets are written)."""
    return f"{size / 1000:.1f} KB"
