"""Address safety: private, loopback and link-local addresses are refused, also on the connected socket."""

from __future__ import annotations

import socket

import pytest
import requests
from linkserver import redirect

from links.helpers import check, options
from llm_path.links import check_links
from llm_path.links.guard import Adapter, UnsafeAddressError, is_public


def test_private_address_refused_without_allow_private(server):
    """Loopback is refused before any connection unless allow_private is set."""
    result = check(server.add("/ok"), allow_private=False)
    assert result.status == "refused"
    assert "--allow-private" in result.detail
    assert server.hits["/ok"] == 0


def test_connection_guard_refuses_private_peer(server):
    """The connected socket is checked too, so a changed DNS answer cannot reach loopback."""
    adapter = Adapter(True, max_retries=0)
    request = requests.Request("HEAD", server.add("/ok")).prepare()
    with pytest.raises(UnsafeAddressError):
        adapter.send(request, timeout=(1, 1))
    adapter.close()
    assert server.hits["/ok"] == 0


REFUSED_ON_SIGHT = {
    "ftp://example.com/file": "not an http(s) URL (scheme 'ftp')",
    "javascript:alert(1)": "not an http(s) URL (scheme 'javascript')",
    "file:///etc/passwd": "not an http(s) URL (scheme 'file')",
    "example.com/page": "not an http(s) URL (scheme 'missing')",
    "https://:80/": "invalid URL: no host name",
    "http://[::1/": "invalid URL: Invalid IPv6 URL",
    "http://example.com:99999/": "invalid URL: Port out of range 0-65535",
    "http://example.com:0/": "invalid URL: port 0",
    "http://[v1.x]/": "invalid URL: 'v1.x' in brackets is not an IPv6 address",
    "http://exa mple.com/": "invalid URL: host name 'exa mple.com' holds ' ', which no host name may",
    "http://exa%6dple.com/": "invalid URL: host name 'exa%6dple.com' holds '%', which no host name may",
    "http://a..b.example/": "invalid URL: host name 'a..b.example' has an empty label",
    f"http://{'a' * 64}.example/": f"invalid URL: host name '{'a' * 64}.example' has a label longer than 63 characters",
    "http://2130706433/": "invalid URL: host name '2130706433' ends in a number but is not an IPv4 address a.b.c.d",
    "http://0x7f.0.0.1/": "invalid URL: host name '0x7f.0.0.1' ends in a number but is not an IPv4 address a.b.c.d",
    "http://127.1/": "invalid URL: host name '127.1' ends in a number but is not an IPv4 address a.b.c.d",
    "http://example.com/\x1b[2J": "invalid URL: it holds the control character '\\x1b'",
    "http://exa\u202emple.com/": "invalid URL: it holds the control character '\\u202e'",
}


def test_url_refused_on_scheme_or_syntax_makes_no_dns_query(monkeypatch):
    """A URL refused for its scheme or syntax is never looked up in DNS."""
    looked_up: list[object] = []

    def resolver(host: object, *args: object, **kwargs: object) -> object:
        looked_up.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    results = check_links(list(REFUSED_ON_SIGHT), options(allow_private=False))
    assert looked_up == []
    assert [(r.url, r.status, r.detail) for r in results] == [
        (url, "error", detail) for url, detail in REFUSED_ON_SIGHT.items()
    ]


def test_redirect_to_a_malformed_host_makes_no_dns_query(server, monkeypatch):
    """A redirect to a host name no DNS could hold is reported without looking it up."""
    url = server.add("/away", redirect(302, "http://exa mple.com/"))
    real = socket.getaddrinfo
    looked_up: list[object] = []

    def resolver(host: object, *args: object, **kwargs: object) -> object:
        looked_up.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    result = check(url)
    assert set(looked_up) == {"127.0.0.1"}  # ours, then urllib3's connect
    assert result.detail.startswith(
        "redirects to an unusable URL 'http://exa mple.com/': invalid URL: host name"
    )


EMBEDDED = {
    "IPv4-mapped 127.0.0.1": ("::ffff:127.0.0.1", "127.0.0.1"),
    "IPv4-mapped 10.0.0.1": ("::ffff:10.0.0.1", "10.0.0.1"),
    "6to4 127.0.0.1": ("2002:7f00:1::", "127.0.0.1"),
    "6to4 10.0.0.1": ("2002:a00:1::1", "10.0.0.1"),
    "NAT64 127.0.0.1": ("64:ff9b::7f00:1", "127.0.0.1"),
    "NAT64 10.0.0.1": ("64:ff9b::a00:1", "10.0.0.1"),
    "local-use NAT64 127.0.0.1": ("64:ff9b:1::7f00:1", "127.0.0.1"),
    "local-use NAT64 10.0.0.1": ("64:ff9b:1::a00:1", "10.0.0.1"),
    "IPv4-compatible 127.0.0.1": ("::7f00:1", "127.0.0.1"),
    "IPv4-compatible 10.0.0.1": ("::a00:1", "10.0.0.1"),
}


@pytest.mark.parametrize("form", EMBEDDED)
def test_ipv6_carrying_a_private_ipv4_is_refused(server, monkeypatch, form):
    """An IPv6 literal that embeds a loopback or private IPv4 address is refused, with no DNS query."""
    ipv6, ipv4 = EMBEDDED[form]
    looked_up: list[object] = []
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: looked_up.append(a[0]) or real(*a, **k))
    result = check(f"http://[{ipv6}]:{server.port}/ok", allow_private=False, retries=0)
    assert (result.status, result.detail) == (
        "refused",
        f"{ipv6} is a private, loopback, link-local or reserved address (it carries the IPv4 address {ipv4}); pass --allow-private to check it anyway",
    )
    assert looked_up == []
    assert server.hits["/ok"] == 0


@pytest.mark.parametrize(
    ("ip", "public"),
    [
        ("::ffff:8.8.8.8", True),
        ("2002:808:808::1", True),
        ("64:ff9b::808:808", True),
        ("64:ff9b:1::808:808", False),  # the local-use NAT64 prefix is never global (RFC 8215)
        ("::ffff:169.254.169.254", False),
        ("2002:a9fe:a9fe::", False),
        ("64:ff9b::c0a8:101", False),
        ("::1", False),
        ("::", False),
        ("2606:4700::1111", True),
    ],
)
def test_embedded_ipv4_decides_whether_an_address_is_public(ip, public):
    """The guard on every resolved and connected address judges IPv6 forms by the IPv4 address they carry."""
    assert is_public(ip) is public
