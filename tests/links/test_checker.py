"""HTTP checking against real loopback servers: verdicts, redirects, retries, politeness and bounds."""

from __future__ import annotations

import itertools
import socket
import threading
import time

import pytest
from linkserver import Reply, free_port, redirect

from links.helpers import check, options
from llm_path.links import (
    HostRule,
    check_links,
)


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


# ------------------------------------------------------------ one deadline per URL

TRICKLES = {
    "headers": (Reply(trickle_head=0.5), None),
    "body after HEAD refused": (Reply(head_status=405, body_size=40, trickle_body=0.5), None),
    "body of a 404 confirmed with GET": (Reply(status=404, body_size=40, trickle_body=0.5), None),
    "body to GET only": (Reply(body_size=40, trickle_body=0.5), HostRule(reason="t", get_only=True)),
}


@pytest.mark.parametrize("case", TRICKLES)
def test_trickling_server_is_abandoned_at_the_url_time_limit(server, case):
    """A server sending its answer a byte at a time is given up at --url-timeout, as an error."""
    reply, rule = TRICKLES[case]
    url = server.add("/trickle", reply)
    hosts = {"127.0.0.1": rule} if rule else {}
    started = time.monotonic()
    result = check(url, url_timeout=2, read_timeout=5, hosts=hosts)
    assert time.monotonic() - started < 3
    assert (result.status, result.detail) == (
        "error",
        "gave up at the per-URL time limit (2 s) while the answer was still arriving",
    )


def test_run_time_limit_bounds_a_run_of_trickling_servers(server):
    """--run-timeout ends the whole run, even with every worker stuck on a trickling server."""
    urls = [server.add(f"/t{i}", Reply(trickle_head=0.5)) for i in range(4)]
    started = time.monotonic()
    results = check_links(urls, options(concurrency=2, url_timeout=30, read_timeout=5, run_timeout=1.5))
    assert time.monotonic() - started < 2.5
    assert [r.detail for r in results] == ["not checked: the run time limit (1.5 s) was reached"] * 4


def test_hung_resolver_is_abandoned_at_the_url_time_limit(monkeypatch):
    """A DNS lookup that never returns still ends at --url-timeout (the lookup cannot be interrupted)."""
    release = threading.Event()

    def hang(*args: object, **kwargs: object) -> object:
        release.wait(30)
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", hang)
    started = time.monotonic()
    try:
        result = check("https://hangs.example/", url_timeout=1)
    finally:
        release.set()
    assert time.monotonic() - started < 2
    assert (result.status, result.detail) == ("error", "gave up at the per-URL time limit (1 s)")


def test_redirect_to_a_url_with_control_characters_is_an_error(server):
    """A Location holding a terminal escape is not followed, and the detail shows it escaped."""
    url = server.add("/a", Reply(status=302, headers={"Location": "/\x1b[2Jb"}))
    result = check(url)
    assert (result.status, result.detail) == (
        "error",
        "redirects to an unusable URL '/\\x1b[2Jb': invalid URL: it holds the control character '\\x1b'",
    )
