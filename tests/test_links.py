"""Tests of the link checker against real HTTP servers on 127.0.0.1 (no mocks of HTTP)."""

from __future__ import annotations

import io
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from linkserver import LinkServer, Reply, free_port, redirect

from llm_path.links import (
    CheckOptions,
    HostRule,
    LinkCache,
    LinkResult,
    _Adapter,
    _UnsafeAddressError,
    check_links,
    collect_links,
    links_in_markdown,
    links_in_yaml,
    main,
)

ROOT = Path(__file__).resolve().parent.parent
FAST = {
    "allow_private": True,
    "min_interval": 0.0,
    "backoff": 0.05,
    "read_timeout": 2.0,
    "connect_timeout": 1.0,
    "retries": 2,
    "url_timeout": 10.0,
}


def options(**overrides: object) -> CheckOptions:
    return CheckOptions(**{**FAST, **overrides})  # type: ignore[arg-type]


def check(url: str, **overrides: object) -> LinkResult:
    return check_links([url], options(**overrides))[0]


@pytest.fixture
def server():
    with LinkServer() as s:
        yield s


@pytest.fixture
def other():
    with LinkServer() as s:
        yield s


# ------------------------------------------------------------ classification


def test_200_is_alive(server):
    """A page answering 200 is alive, with one HEAD request."""
    result = check(server.add("/ok"))
    assert (result.status, result.code, result.final_url) == ("alive", 200, server.url("/ok"))
    assert server.methods("/ok") == ["HEAD"]


def test_404_is_dead(server):
    """A 404 is dead (confirmed with GET after HEAD)."""
    result = check(server.add("/gone", Reply(status=404)))
    assert (result.status, result.code, result.detail) == ("dead", 404, "404 Not Found")
    assert server.methods("/gone") == ["HEAD", "GET"]


def test_410_is_dead(server):
    """A 410 is dead."""
    assert check(server.add("/gone", Reply(status=410))).status == "dead"


def test_500_then_200_is_retried(server):
    """A 500 is retried and the later 200 makes the link alive."""
    url = server.add("/flaky", Reply(status=500), Reply(status=500), Reply())
    assert check(url).status == "alive"
    assert server.hits["/flaky"] == 3


def test_persistent_500_is_error_after_retries(server):
    """A 500 that never clears is an error, not dead, after every retry."""
    result = check(server.add("/broken", Reply(status=500)), retries=2)
    assert (result.status, result.code) == ("error", 500)
    assert server.methods("/broken") == ["HEAD", "GET", "GET", "GET"]


def test_429_waits_for_retry_after(server):
    """A 429 with Retry-After: 1 is waited out, then the page is alive."""
    url = server.add("/busy", Reply(status=429, headers={"Retry-After": "1"}), Reply())
    result = check(url)
    assert result.status == "alive"
    times = [r.at for r in server.requests]
    assert times[1] - times[0] >= 0.95


def test_retry_after_longer_than_max_wait_is_unverified(server):
    """A Retry-After beyond max_retry_wait gives up at once as unverified, never dead."""
    url = server.add("/busy", Reply(status=429, headers={"Retry-After": "3600"}))
    result = check(url, max_retry_wait=5)
    assert result.status == "unverified"
    assert result.elapsed < 1
    assert "3600" in result.detail


def test_permanent_redirect_chain_across_hosts_is_moved(server, other):
    """301 then 308, across two hosts, is moved, pointing at the final address."""
    final = other.add("/new")
    other.add("/middle", redirect(308, "/new"))
    url = server.add("/old", redirect(301, other.url("/middle")))
    result = check(url)
    assert (result.status, result.final_url) == ("moved", final)
    assert result.detail == f"moved permanently: update to {final}"


def test_temporary_redirect_is_alive(server):
    """A 302 to a working page is alive, not moved (the link is right as it is)."""
    server.add("/login", Reply())
    result = check(server.add("/page", redirect(302, "/login")))
    assert (result.status, result.final_url) == ("alive", server.url("/login"))


def test_permanent_then_temporary_points_at_permanent_target(server):
    """301 then 302: update to the 301's target, not to the temporary one."""
    server.add("/b", redirect(302, "/c"))
    server.add("/c")
    result = check(server.add("/a", redirect(301, "/b")))
    assert (result.status, result.final_url) == ("moved", server.url("/b"))


def test_redirect_to_dead_page_is_dead(server):
    """A redirect ending in 404 is dead."""
    server.add("/missing", Reply(status=404))
    assert check(server.add("/a", redirect(301, "/missing"))).status == "dead"


def test_redirect_loop_is_error(server):
    """A redirect loop is its own error, found when it closes."""
    server.add("/b", redirect(302, "/a"))
    result = check(server.add("/a", redirect(302, "/b")))
    assert result.status == "error"
    assert result.detail == f"redirect loop: {server.url('/a')} -> {server.url('/b')} -> {server.url('/a')}"


def test_more_than_ten_redirects_is_error(server):
    """Eleven redirects in a row are too many."""
    for i in range(11):
        server.add(f"/r{i}", redirect(302, f"/r{i + 1}"))
    server.add("/r11")
    result = check(server.url("/r0"))
    assert result.status == "error"
    assert result.detail.startswith("more than 10 redirects")


def test_slow_response_past_read_timeout_is_error(server):
    """An answer slower than the read timeout is an error after one wait, not retried."""
    result = check(server.add("/slow", Reply(delay=3)), read_timeout=0.5)
    assert result.status == "error"
    assert result.detail == "no answer within 0.5 s (read timeout)"
    assert server.hits["/slow"] == 1


def test_connection_reset_is_error_after_retries(server):
    """A connection reset is retried, then reported as an error."""
    result = check(server.add("/reset", Reply(reset=True)), retries=2)
    assert result.status == "error"
    assert result.detail == "connection reset by the server (after 3 attempts)"
    assert server.hits["/reset"] == 3


def test_refused_port_is_error():
    """Nothing listening on the port is an error (the server may be down), not dead."""
    result = check(f"http://127.0.0.1:{free_port()}/", retries=1)
    assert (result.status, result.detail) == ("error", "connection refused (after 2 attempts)")


def test_multi_megabyte_body_is_not_downloaded(server):
    """GET of a 20 MiB body reads a few KiB and drops the connection."""
    url = server.add("/big", Reply(head_status=405, body_size=20 * 2**20))
    assert check(url).status == "alive"
    assert server.bytes_sent["/big"] < 2**20


def test_head_405_falls_back_to_get(server):
    """HEAD answered 405 is retried as GET."""
    result = check(server.add("/nohead", Reply(head_status=405)))
    assert result.status == "alive"
    assert server.methods("/nohead") == ["HEAD", "GET"]


def test_host_that_refused_head_gets_get_first(server):
    """After one 405 to HEAD, the host's other URLs start with GET."""
    a = server.add("/a", Reply(head_status=405))
    b = server.add("/b", Reply(head_status=405))
    check_links([a, b], options(concurrency=1))
    assert server.methods("/b") == ["GET"]


def test_403_to_bots_but_200_to_browsers_is_alive(server):
    """A page that answers 403 to the checker but 200 to a browser-like request is alive."""
    result = check(server.add("/shy", Reply(browser_only=True)))
    assert result.status == "alive"
    assert "browser-like" in result.detail
    assert server.requests[-1].headers["user-agent"].startswith("Mozilla/")


def test_403_to_everyone_is_unverified(server):
    """A page that answers 403 even to a browser-like request is unverified, never dead."""
    result = check(server.add("/forbidden", Reply(status=403)))
    assert (result.status, result.code) == ("unverified", 403)


def test_999_is_unverified(server):
    """LinkedIn's 999 is unverified."""
    assert check(server.add("/li", Reply(status=999))).status == "unverified"


def test_host_rule_skip_makes_no_request(server):
    """A host configured with skip is reported unverified without a request."""
    rule = HostRule(reason="answers 999 to bots", skip=True)
    result = check(server.add("/x"), hosts={"127.0.0.1": rule})
    assert (result.status, result.detail) == ("unverified", "skipped: answers 999 to bots (links.toml)")
    assert server.hits["/x"] == 0


def test_unknown_host_is_dead_unless_the_machine_is_offline():
    """A name DNS does not know is dead, but only if DNS resolves anything at all here."""
    try:
        socket.getaddrinfo("example.com", 443)
        online = True
    except OSError:
        online = False
    result = check("https://no-such-host.invalid/page", allow_private=False)
    if online:
        assert (result.status, result.detail) == ("dead", "host no-such-host.invalid not found (DNS)")
    else:
        assert result.status == "error"
        assert result.detail.startswith("not checked: host no-such-host.invalid not found, but neither")


# ------------------------------------------------------------ safety


def test_private_address_refused_without_allow_private(server):
    """Loopback is refused before any connection unless allow_private is set."""
    result = check(server.add("/ok"), allow_private=False)
    assert result.status == "refused"
    assert "--allow-private" in result.detail
    assert server.hits["/ok"] == 0


def test_connection_guard_refuses_private_peer(server):
    """The connected socket is checked too, so a changed DNS answer cannot reach loopback."""
    adapter = _Adapter(True, max_retries=0)
    request = requests.Request("HEAD", server.add("/ok")).prepare()
    with pytest.raises(_UnsafeAddressError):
        adapter.send(request, timeout=(1, 1))
    adapter.close()
    assert server.hits["/ok"] == 0


def test_credentials_in_url_are_never_sent(server):
    """user:password@ in a URL is stripped: no Authorization header reaches the server."""
    url = server.add("/ok").replace("http://", "http://user:secret@")
    assert check(url).status == "alive"
    assert "authorization" not in server.requests[0].headers


def test_cookies_are_not_sent_back(server):
    """A cookie set by one hop is not sent on the next."""
    server.add("/b")
    url = server.add("/a", Reply(status=302, headers={"Location": "/b", "Set-Cookie": "id=1"}))
    check(url)
    assert "cookie" not in server.requests[-1].headers


# ------------------------------------------------------------ politeness and bounds


def test_per_host_limit_respected(server):
    """Twelve slow URLs on one host never hold more than per_host connections at once."""
    urls = [server.add(f"/p{i}", Reply(delay=0.3)) for i in range(12)]
    results = check_links(urls, options(per_host=3, concurrency=12))
    assert {r.status for r in results} == {"alive"}
    assert server.peak == 3


def test_connections_are_closed_when_the_run_ends(server):
    """No kept-alive connection outlives check_links."""
    check_links([server.add(f"/k{i}") for i in range(6)], options(per_host=3))
    deadline = time.monotonic() + 2
    while server.open and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.open == 0


def test_min_interval_spaces_requests_to_a_host(server):
    """Requests to one host start at least min_interval apart."""
    urls = [server.add(f"/i{i}") for i in range(4)]
    check_links(urls, options(min_interval=0.2, per_host=4))
    times = sorted(r.at for r in server.requests)
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.15


def test_run_time_limit_leaves_unstarted_urls_not_checked(server):
    """URLs not started when the run time limit passes are reported as not checked."""
    slow = server.add("/slow", Reply(delay=2))
    later = server.add("/later")
    results = check_links([slow, later], options(concurrency=1, run_timeout=0.5))
    assert results[1].detail.startswith("not checked")
    assert server.hits["/later"] == 0


# ------------------------------------------------------------ cache


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


# ------------------------------------------------------------ inputs


def test_yaml_urls_at_any_depth_with_positions():
    """Every string under a key named url is found, with its line and column."""
    text = "title: x\nurl: https://a.example/\nresources:\n  - name: b\n    url: https://b.example/x\n    more: {url: 'https://c.example/'}\n  - link: https://not-a-url-key.example/\n"
    found, warnings = links_in_yaml(text, "t.yml")
    assert [(u, str(s)) for u, s in found] == [
        ("https://a.example/", "t.yml:2:6"),
        ("https://b.example/x", "t.yml:5:10"),
        ("https://c.example/", "t.yml:6:17"),
    ]
    assert warnings == []


def test_yaml_url_without_scheme_is_a_warning_with_a_fix():
    """A url value that is not http(s) is reported with file:line:col and the address to write."""
    _, warnings = links_in_yaml("url: arxiv.org/abs/1706.03762\n", "t.yml")
    assert [str(w) for w in warnings] == [
        "t.yml:1:6: url 'arxiv.org/abs/1706.03762' is not an http(s) URL (not checked); write the full address, e.g. https://arxiv.org/abs/1706.03762"
    ]


def test_markdown_external_links_outside_code():
    """Inline, reference, autolinks, HTML and bare URLs are found; code is skipped."""
    text = "\n".join(
        [
            'See [d2l](https://d2l.ai/ "title") and <https://auto.example/a>.',
            "[ref]: https://ref.example/b",
            '<a href="https://html.example/c">x</a> and https://en.wikipedia.org/wiki/Attention_(machine_learning).',
            "Relative [page](topics/x.md) and `https://code.example/span`.",
            "```",
            "https://fenced.example/",
            "```",
        ]
    )
    assert [(u, str(s)) for u, s in links_in_markdown(text, "d.md")] == [
        ("https://d2l.ai/", "d.md:1:11"),
        ("https://auto.example/a", "d.md:1:41"),
        ("https://ref.example/b", "d.md:2:8"),
        ("https://html.example/c", "d.md:3:10"),
        ("https://en.wikipedia.org/wiki/Attention_(machine_learning)", "d.md:3:44"),
    ]


def test_text_file_and_stdin_inputs(tmp_path, monkeypatch):
    """A text file and standard input give one URL per line, comments skipped."""
    (tmp_path / "urls.txt").write_text("# list\nhttps://a.example/\n\nhttps://b.example/\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO("https://c.example/\n"))
    found, _ = collect_links([str(tmp_path / "urls.txt"), "-", "https://d.example/"])
    assert list(found) == [
        "https://a.example/",
        "https://b.example/",
        "https://c.example/",
        "https://d.example/",
    ]


# ------------------------------------------------------------ command line


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    return code, out, err


def test_exit_0_when_nothing_is_dead(server, tmp_path, monkeypatch, capsys):
    """Exit code 0 when every link is alive, moved, unverified or an error."""
    monkeypatch.chdir(tmp_path)
    server.add("/new")
    urls = [
        server.add("/ok"),
        server.add("/moved", redirect(301, "/new")),
        server.add("/no", Reply(status=403)),
    ]
    code, out, _ = run(["--allow-private", "--no-cache", *urls], capsys)
    assert code == 0
    assert "3 links in" in out


def test_exit_1_when_something_is_dead(server, tmp_path, monkeypatch, capsys):
    """Exit code 1 when a link is dead, and the table names it."""
    monkeypatch.chdir(tmp_path)
    url = server.add("/gone", Reply(status=404))
    code, out, _ = run(["--allow-private", "--no-cache", server.add("/ok"), url], capsys)
    assert code == 1
    assert any(line.startswith("dead") and url in line for line in out.splitlines())


def test_bad_yaml_is_one_line_error_exit_2(tmp_path, monkeypatch, capsys):
    """Broken YAML stops with exit 2 and one line naming file, line and column."""
    monkeypatch.chdir(tmp_path)
    Path("bad.yml").write_text("resources:\n  - url: 'https://a.example/\n")
    code, _out, err = run(["--no-cache", "bad.yml"], capsys)
    assert code == 2
    assert err.startswith("bad.yml:3:1: invalid YAML: found unexpected end of stream; fix the syntax")
    assert len(err.strip().splitlines()) == 1


def test_every_bad_input_is_reported_in_one_run(tmp_path, monkeypatch, capsys):
    """Two bad lines in a URL list and a missing file give three errors at once."""
    monkeypatch.chdir(tmp_path)
    Path("urls.txt").write_text("https://ok.example/\nnot a url\nftp://x/\n")
    code, _, err = run(["--no-cache", "urls.txt", "missing.md"], capsys)
    assert code == 2
    assert err.splitlines() == [
        "urls.txt:2:1: 'not a url' is not an http(s) URL; write one full http(s) URL per line, e.g. https://example.org/page",
        "urls.txt:3:1: 'ftp://x/' is not an http(s) URL; write one full http(s) URL per line, e.g. https://example.org/page",
        "missing.md: no such file, and not an http(s) URL; pass a YAML, Markdown or text file, a directory, - for stdin, or a full http(s) URL",
    ]


def test_invalid_config_is_one_line_error_exit_2(tmp_path, monkeypatch, capsys):
    """A wrong value in links.toml stops with exit 2 and one line naming file and line."""
    monkeypatch.chdir(tmp_path)
    Path("links.toml").write_text('[defaults]\nper_host = "four"\n')
    code, _, err = run(["https://a.example/"], capsys)
    assert code == 2
    assert err == "links.toml:2:1: defaults.per_host: 'four' is not an integer; write e.g. per_host = 4\n"


def test_host_rule_without_reason_is_rejected(tmp_path, monkeypatch, capsys):
    """Every host rule must say why it exists."""
    monkeypatch.chdir(tmp_path)
    Path("links.toml").write_text('[hosts."example.com"]\nskip = true\n')
    code, _, err = run(["https://a.example/"], capsys)
    assert code == 2
    assert (
        err
        == 'links.toml:1:1: hosts.example.com: no reason given; add reason = "why this host needs a rule"\n'
    )


def test_checked_in_config_is_valid(tmp_path, monkeypatch, capsys):
    """The repository's links.toml loads."""
    from llm_path.links import load_config

    loaded = load_config(ROOT / "links.toml")
    assert loaded.rule_for("www.linkedin.com") is not None
    assert loaded.per_host <= 6


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


def test_default_inputs_are_curriculum_and_docs(server, tmp_path, monkeypatch, capsys):
    """With no inputs, curriculum YAML urls and docs Markdown links are checked."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "curriculum" / "topics").mkdir(parents=True)
    (tmp_path / "docs").mkdir()
    (tmp_path / "curriculum" / "topics" / "a.yml").write_text(f"resources:\n  - url: {server.add('/yaml')}\n")
    (tmp_path / "docs" / "index.md").write_text(f"Read [this]({server.add('/md')}).\n")
    code, _, _ = run(["--allow-private", "--no-cache"], capsys)
    assert code == 0
    assert (server.hits["/yaml"], server.hits["/md"]) == (1, 1)


def test_json_and_markdown_reports(server, tmp_path, monkeypatch, capsys):
    """--json and --markdown write the results, with where each dead link was written."""
    monkeypatch.chdir(tmp_path)
    dead = server.add("/gone", Reply(status=404))
    Path("a.yml").write_text(f"url: {dead}\n")
    run(["--allow-private", "--no-cache", "--json", "r.json", "--markdown", "r.md", "a.yml"], capsys)
    report = json.loads(Path("r.json").read_text())
    assert report["summary"]["dead"] == 1
    assert report["results"][0]["sources"] == ["a.yml:1:6"]
    assert f"| dead | <{dead}> | `a.yml:1:6` | 404 Not Found |" in Path("r.md").read_text()


def test_only_changed_checks_urls_added_since_base(server, tmp_path, monkeypatch, capsys):
    """--only-changed BASE checks only URLs not present at BASE."""
    monkeypatch.chdir(tmp_path)
    old, new = server.add("/old"), server.add("/new")
    topic = tmp_path / "curriculum" / "topics" / "a.yml"
    topic.parent.mkdir(parents=True)
    topic.write_text(f"resources:\n  - url: {old}\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    topic.write_text(f"resources:\n  - url: {old}\n  - url: {new}\n")
    code, _, _ = run(["--allow-private", "--no-cache", "--only-changed", "HEAD"], capsys)
    assert code == 0
    assert (server.hits["/old"], server.hits["/new"]) == (0, 1)


def test_only_changed_with_unknown_base_is_exit_2(tmp_path, monkeypatch, capsys):
    """An unknown base revision is a one-line usage error."""
    monkeypatch.chdir(tmp_path)
    subprocess.run(["git", "init", "-q"], check=True)
    code, _, err = run(["--no-cache", "--only-changed", "nope", "https://a.example/"], capsys)
    assert code == 2
    assert err.startswith("--only-changed: 'nope' is not a commit in this repository;")
