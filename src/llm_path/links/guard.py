"""Address safety: what may be requested at all, and never a private, loopback or link-local address.

A URL must be http(s) with a host; its host must resolve to public addresses only (unless
``--allow-private``), and the address is checked again on the connected socket, so a DNS
answer that changes between our lookup and the connection (DNS rebinding) still cannot
reach a private host.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests.adapters
import urllib3
import urllib3.connection

from llm_path.links import deadline
from llm_path.links.model import NOT_CHECKED, TransientError, Verdict
from llm_path.links.text import first_control

DNS_CANARY = "example.com"
"""A name that always resolves (RFC 2606): if it does not either, DNS is down, not the link."""
OFFLINE = f"but neither does {DNS_CANARY}: this machine looks offline"


class UnsafeAddressError(Exception):
    """The connection reached a non-public address (not an OSError, so urllib3 does not swallow it)."""


def request_url(url: str) -> str:
    """The URL to request: http(s) with a well-formed host, without credentials or fragment.

    Everything here is judged from the text alone, so a URL refused for its scheme or
    syntax never causes a DNS query."""
    url = url.strip()
    control = first_control(url.replace("\t", "").replace("\r", "").replace("\n", ""))  # urlsplit drops these
    if control is not None:
        raise Verdict("error", f"invalid URL: it holds the control character {control!r}")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise Verdict("error", f"invalid URL: {e}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise Verdict("error", f"not an http(s) URL (scheme {parts.scheme or 'missing'!r})")
    if not parts.hostname:
        raise Verdict("error", "invalid URL: no host name")
    if port == 0:
        raise Verdict("error", "invalid URL: port 0")
    problem = _host_problem(parts.hostname, bracketed="[" in parts.netloc)
    if problem:
        raise Verdict("error", f"invalid URL: {problem}")
    netloc = parts.netloc.rpartition("@")[2]  # never send credentials written in a URL
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


_LABEL = re.compile(r"[a-z0-9_-]+")
_NUMBER = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


def _host_problem(host: str, bracketed: bool) -> str:
    """What makes `host` (lower case, as urlsplit gives it) no IP address and no DNS name; "" if nothing."""
    if bracketed:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return f"{host!r} in brackets is not an IPv6 address"
        return ""
    name = host[:-1] if host.endswith(".") else host
    try:
        ascii_name = name.encode("idna").decode("ascii")  # what getaddrinfo would send
    except UnicodeError:
        ascii_name = name
    labels = ascii_name.split(".")
    if any(not label for label in labels):
        return f"host name {host!r} has an empty label"
    if any(len(label) > 63 for label in labels):
        return f"host name {host!r} has a label longer than 63 characters"
    if len(ascii_name) > 253:
        return f"host name {host!r} is longer than 253 characters"
    bad = next((c for label in labels for c in label if not _LABEL.fullmatch(c)), None)
    if bad is not None:
        return f"host name {host!r} holds {bad!r}, which no host name may"
    if _NUMBER.fullmatch(labels[-1]) and not _is_ipv4(name):
        # Browsers and inet_aton read 2130706433, 127.1 and 0x7f.0.0.1 as 127.0.0.1.
        return f"host name {host!r} ends in a number but is not an IPv4 address a.b.c.d"
    return ""


def _is_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")
"""Local-use NAT64 (RFC 8215): never globally reachable, whatever it carries."""
_CARRIERS = (
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64, well-known prefix (RFC 6052)
    _LOCAL_NAT64,  # as deployed: the IPv4 address in the last 32 bits
    ipaddress.IPv6Network("::ffff:0:0:0/96"),  # IPv4-translated (RFC 2765)
    ipaddress.IPv6Network("::/96"),  # IPv4-compatible (deprecated; also holds :: and ::1)
)


def embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for: IPv4-mapped, 6to4, NAT64, translated or compatible."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if any(addr in net for net in _CARRIERS):
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def is_public(ip: str) -> bool:
    """Whether `ip` is a global unicast address (not private, loopback, link-local, multicast or reserved).

    An IPv6 address that carries an IPv4 address is judged by that address: the kernel or a
    translator on the way delivers `::ffff:127.0.0.1` or `64:ff9b::7f00:1` to 127.0.0.1."""
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(ip.split("%", 1)[0])
    if isinstance(addr, ipaddress.IPv6Address):
        if addr in _LOCAL_NAT64:
            return False
        addr = embedded_ipv4(addr) or addr
    return addr.is_global and not addr.is_multicast and not addr.is_reserved


def _carried(ip: str) -> str:
    """' (it carries the IPv4 address a.b.c.d)' for an IPv6 address that does, else ''."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    inner = embedded_ipv4(addr) if isinstance(addr, ipaddress.IPv6Address) else None
    return f" (it carries the IPv4 address {inner})" if inner is not None else ""


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Resolver:
    """Resolves hosts once per run and refuses non-public addresses; a name DNS does not know is dead."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._lock = threading.Lock()
        self._dns: dict[tuple[str, int], list[str]] = {}
        self._missing: set[str] = set()
        self._dns_works: bool | None = None
        """Whether real names resolve here; None until a lookup answers the question."""

    def vet(self, key: tuple[str, int]) -> None:
        """Resolve the host; refuse non-public addresses unless allowed; a missing name is dead."""
        host, port = key
        with self._lock:
            addresses = self._dns.get(key)
            missing = host in self._missing
        if missing:
            self._not_found(host)
        if addresses is None and is_ip(host):
            addresses = [host]  # a literal address needs no lookup
        if addresses is None:
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as e:
                if e.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)):
                    with self._lock:
                        self._missing.add(host)
                    self._not_found(host)
                raise TransientError(f"DNS lookup of {host} failed: {e.strerror}") from None
            except (UnicodeError, ValueError) as e:
                raise Verdict("error", f"invalid host name {host!r}: {e}") from None
            addresses = sorted({str(info[4][0]) for info in infos})
            with self._lock:
                self._dns[key] = addresses
                if not is_ip(host):
                    self._dns_works = True
        if not self.allow_private:
            private = [a for a in addresses if not is_public(a)]
            if private:
                what = "is" if private[0] == host else f"resolves to {private[0]}, which is"
                raise Verdict(
                    "refused",
                    f"{host} {what} a private, loopback, link-local or reserved address{_carried(private[0])}; pass --allow-private to check it anyway",
                )

    def _not_found(self, host: str) -> None:
        """Raise the verdict for a name DNS does not know: dead, unless DNS knows no name at all here."""
        with self._lock:
            works = self._dns_works
        if works is None:
            try:
                socket.getaddrinfo(DNS_CANARY, 443, type=socket.SOCK_STREAM)
                works = True
            except (OSError, UnicodeError):
                works = False
            with self._lock:
                self._dns_works = self._dns_works or works
        if not works:
            raise Verdict("error", f"{NOT_CHECKED}: host {host} not found, {OFFLINE}")
        raise Verdict("dead", f"host {host} not found (DNS)")


def _refuse_private_peer(sock: socket.socket) -> None:
    ip = sock.getpeername()[0]
    if not is_public(ip):
        sock.close()
        raise UnsafeAddressError(ip)


class _Connection(urllib3.connection.HTTPConnection):
    """A connection whose socket runs under the current request's deadline, and optionally the guard."""

    guard = False

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        if self.guard:
            _refuse_private_peer(sock)
        deadline.watch(self, sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None:  # a kept-alive connection, reused by another request
            deadline.watch(self, self.sock)
        super().request(*args, **kwargs)


class _TLSConnection(_Connection, urllib3.connection.HTTPSConnection):
    pass


class _GuardedConnection(_Connection):
    guard = True


class _GuardedTLSConnection(_TLSConnection):
    guard = True


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TLSConnection


class _GuardedPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _GuardedConnection


class _GuardedTLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _GuardedTLSConnection


class Adapter(requests.adapters.HTTPAdapter):
    """One shared pooled adapter: at most `pool_maxsize` kept connections per host, deadlines, optional address guard."""

    def __init__(self, guard: bool, **kwargs: Any) -> None:
        self._guard = guard
        super().__init__(**kwargs)

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        pools = (
            {"http": _GuardedPool, "https": _GuardedTLSPool}
            if self._guard
            else {"http": _Pool, "https": _TLSPool}
        )
        self.poolmanager.pool_classes_by_scheme = pools

    def close_all(self) -> None:
        """Close every pooled connection now.

        urllib3 2's PoolManager.clear() forgets its pools without closing them (they close
        when garbage-collected), which would leave kept-alive sockets open."""
        manager = self.poolmanager
        # .keys(): the container refuses plain iteration (not thread-safe, says urllib3).
        pools = [manager.pools.get(key) for key in manager.pools.keys()]  # noqa: SIM118
        self.close()
        for pool in pools:
            if pool is not None:
                pool.close()


RequestError = requests.RequestException
"""What a request through `session` raises when it fails (besides UnsafeAddressError)."""


def session(guard: bool) -> requests.Session:
    """A session whose connections run under the current deadline and, with `guard`, refuse non-public peers.

    It ignores the environment (proxies, .netrc credentials): only the URL decides where it goes."""
    client = requests.Session()
    client.trust_env = False
    adapter = Adapter(guard=guard)
    client.mount("http://", adapter)
    client.mount("https://", adapter)
    return client
