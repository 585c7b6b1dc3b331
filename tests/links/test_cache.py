"""The JSON result cache: reuse within its time-to-live, its format, and survival of an interrupted run."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from linkserver import Reply

from links.helpers import ROOT, options, run
from llm_path.links import (
    LinkCache,
    LinkResult,
    check_links,
)


def test_cache_hit_within_ttl(server, tmp_path):
    """A second run within the time-to-live reuses the result without a request."""
    url = server.add("/ok")
    check_links([url], options(), cache=LinkCache.load(tmp_path / "links.json"))
    again = check_links([url], options(), cache=LinkCache.load(tmp_path / "links.json"))
    assert again[0].from_cache
    assert server.hits["/ok"] == 1


def test_cache_refresh_after_ttl(server, tmp_path):
    """A result older than the time-to-live is checked again."""
    url = server.add("/ok")
    path = tmp_path / "links.json"
    check_links([url], options(), cache=LinkCache.load(path))
    data = json.loads(path.read_text())
    data["results"][url]["checked_at"] = (datetime.now(UTC) - timedelta(days=8)).isoformat()
    path.write_text(json.dumps(data))
    again = check_links([url], options(), cache=LinkCache.load(path))
    assert not again[0].from_cache
    assert server.hits["/ok"] == 2


def test_cache_file_format(server, tmp_path):
    """The cache is version 1 JSON keyed by URL, as the site build reads it."""
    url = server.add("/ok")
    check_links([url], options(), cache=LinkCache.load(tmp_path / "links.json"))
    entry = json.loads((tmp_path / "links.json").read_text())["results"][url]
    assert set(entry) == {"status", "code", "final_url", "detail", "checked_at", "elapsed"}
    assert entry["status"] == "alive"
    assert datetime.fromisoformat(entry["checked_at"]).tzinfo is not None


def test_interrupted_run_leaves_valid_cache(server, tmp_path):
    """Ctrl-C during a run exits 130 and keeps every finished result in a valid cache."""
    fast = [server.add(f"/f{i}") for i in range(3)]
    hanging = [server.add(f"/h{i}", Reply(hang=True)) for i in range(2)]
    cache = tmp_path / "links.json"
    args = [
        sys.executable,
        str(ROOT / "scripts" / "check_links.py"),
        "--allow-private",
        "--read-timeout",
        "30",
        "--cache",
        str(cache),
        *hanging,
        *fast,
    ]
    proc = subprocess.Popen(
        args,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if cache.exists() and len(json.loads(cache.read_text())["results"]) == 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=5)
    assert proc.returncode == 130
    assert "interrupted" in err.decode()
    results = json.loads(cache.read_text())["results"]
    assert {u: r["status"] for u, r in results.items()} == dict.fromkeys(fast, "alive")


def test_corrupt_cache_is_one_line_error_exit_2(tmp_path, monkeypatch, capsys):
    """A cache that is not JSON stops with exit 2 rather than being overwritten."""
    monkeypatch.chdir(tmp_path)
    Path("c.json").write_text("{not json")
    code, _, err = run(["--cache", "c.json", "https://a.example/"], capsys)
    assert code == 2
    assert err.startswith("c.json:1:2: the cache is not valid JSON")
    assert Path("c.json").read_text() == "{not json"


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="uses /proc as a place nothing can be written")
def test_unwritable_cache_is_one_line_error_exit_2(server, tmp_path, monkeypatch, capsys):
    """A cache path that cannot be written stops with exit 2 and one line, no traceback."""
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["--allow-private", "--cache", "/proc/links.json", server.add("/ok")], capsys)
    assert code == 2
    assert err.startswith("/proc/links.json: cannot write the cache: ")
    assert len(err.strip().splitlines()) == 1


def result(url: str, checked_at: str = "2026-12-01T10:00:00+00:00", status: str = "alive") -> LinkResult:
    return LinkResult(url, status, 200, url, "200 OK", checked_at, 0.1)


def test_two_caches_on_one_file_keep_both_results(tmp_path):
    """Two runs that loaded the same cache and saved in turn leave both their results in the file."""
    path = tmp_path / "links.json"
    first, second = LinkCache.load(path), LinkCache.load(path)
    first.put(result("https://a.example/"))
    second.put(result("https://b.example/"))
    first.save()
    second.save()
    assert set(LinkCache.load(path).results) == {"https://a.example/", "https://b.example/"}


def test_the_newer_result_for_one_url_wins_the_merge(tmp_path):
    """When both runs checked a URL, the later check is kept, whichever run saves last."""
    path = tmp_path / "links.json"
    first, second = LinkCache.load(path), LinkCache.load(path)
    second.put(result("https://a.example/", "2026-12-01T11:00:00+00:00", "dead"))
    first.put(result("https://a.example/", "2026-12-01T10:00:00+00:00", "alive"))
    second.save()
    first.save()
    assert LinkCache.load(path).results["https://a.example/"].status == "dead"


def test_concurrent_runs_on_one_cache_keep_every_result(server, tmp_path):
    """Two check_links.py processes checking disjoint URLs at once, on one cache: the union is kept."""
    batches = [[server.add(f"/{name}{i}", Reply(delay=0.4)) for i in range(5)] for name in "ab"]
    cache = tmp_path / "links.json"
    script = str(ROOT / "scripts" / "check_links.py")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    runs = [
        subprocess.Popen(
            [sys.executable, script, "--allow-private", "--concurrency", "1", "--cache", str(cache), *urls],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=env,
        )
        for urls in batches
    ]
    for proc in runs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()
    results = json.loads(cache.read_text())["results"]
    assert set(results) == {*batches[0], *batches[1]}


def test_cache_file_has_the_permissions_of_an_ordinary_write(tmp_path):
    """The cache (which CI uploads and the site build reads) is as readable as any file the user writes."""
    ordinary = tmp_path / "ordinary.json"
    ordinary.write_text("{}")
    cache = LinkCache.load(tmp_path / "links.json")
    cache.put(result("https://a.example/"))
    cache.save()
    assert stat.S_IMODE((tmp_path / "links.json").stat().st_mode) == stat.S_IMODE(ordinary.stat().st_mode)
