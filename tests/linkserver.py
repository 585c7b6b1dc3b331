"""Real HTTP/1.1 servers on loopback addresses for the link checker's tests and benchmark."""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http import HTTPStatus

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Reply:
    """One answer a route gives; a route walks through its replies, repeating the last."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body_size: int = 256
    """Bytes of body sent to GET (HEAD gets the same Content-Length and no body)."""
    delay: float = 0.0
    """Seconds to wait before answering (on top of the server's latency)."""
    hang: bool = False
    """Never answer; hold the connection until the client gives up."""
    reset: bool = False
    """Close the connection with a TCP reset instead of answering."""
    head_status: int | None = None
    """Answer HEAD with this status instead (e.g. 405) and no body."""
    browser_only: bool = False
    """Answer 403 unless the request looks like a browser's (Mozilla User-Agent, Accept text/html)."""
    reason: str | None = None
    """The reason phrase sent (as Latin-1 bytes) instead of the standard one."""
    trickle_head: float = 0.0
    """Send the status line and headers one byte every this many seconds."""
    trickle_body: float = 0.0
    """Send the body one byte every this many seconds."""


def redirect(code: int, to: str) -> Reply:
    """A redirect reply to `to` (a path on the same server or a full URL)."""
    return Reply(status=code, headers={"Location": to}, body_size=0)


@dataclass
class Request:
    """What the server saw: one request."""

    method: str
    path: str
    headers: dict[str, str]
    at: float


class LinkServer:
    """A threaded HTTP server on (host, port) that counts concurrent connections.

    Routes map a path (query ignored) to a list of replies; unknown paths answer 404.
    `latency` is added before every answer, redirects included.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0) -> None:
        self.host = host
        self.latency = latency
        self.routes: dict[str, list[Reply]] = {}
        self.requests: list[Request] = []
        self.hits: Counter[str] = Counter()
        self.bytes_sent: Counter[str] = Counter()
        self.open = 0
        self.peak = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._sock = socket.create_server((host, port), backlog=1024)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path

    def add(self, path: str, *replies: Reply) -> str:
        """Route `path` to `replies` (default: one 200) and return its full URL."""
        self.routes[path] = list(replies) or [Reply()]
        return self.url(path)

    def reset_stats(self) -> None:
        """Forget hits, requests, bytes and the peak (routes start from their first reply again)."""
        with self._lock:
            self.requests.clear()
            self.hits.clear()
            self.bytes_sent.clear()
            self.peak = self.open

    def methods(self, path: str) -> list[str]:
        return [r.method for r in self.requests if r.path == path]

    def start(self) -> LinkServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() at once
        self._thread.join()
        self._sock.close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> LinkServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            # A small send buffer, so bytes_sent tracks what the client actually read.
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32 * 1024)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self.open += 1
            self.peak = max(self.peak, self.open)
            self._conns.add(conn)
        try:
            buffered = b""
            while not self._stopping.is_set():
                head, buffered = _read_head(conn, buffered)
                if head is None:
                    return
                if not self._answer(conn, head):
                    return
        except OSError:
            pass
        finally:
            with self._lock:
                self.open -= 1
                self._conns.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _answer(self, conn: socket.socket, head: bytes) -> bool:
        """Answer one request; return whether the connection stays open."""
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = ([*lines[0].split(" "), "", ""])[:3]
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        path = target.split("?", 1)[0]
        with self._lock:
            n = self.hits[path]
            self.hits[path] += 1
            self.requests.append(Request(method, path, headers, time.monotonic()))
        replies = self.routes.get(path, [Reply(status=404)])
        reply = replies[min(n, len(replies) - 1)]

        if not _wait(conn, self.latency + reply.delay, self._stopping):
            return False
        if reply.hang:
            _wait(conn, 3600, self._stopping)
            return False
        if reply.reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return False

        status, size = reply.status, reply.body_size
        if reply.browser_only and not _looks_like_browser(headers):
            status, size = 403, 64
        if method == "HEAD" and reply.head_status is not None:
            status, size = reply.head_status, 0
        keep = headers.get("connection", "").lower() != "close"
        reason = _reason(status) if reply.reason is None else reply.reason
        out = [f"HTTP/1.1 {status} {reason}", f"Content-Length: {size}", "Content-Type: text/html"]
        out += [f"{k}: {v}" for k, v in reply.headers.items()]
        if not keep:
            out.append("Connection: close")
        head = ("\r\n".join(out) + "\r\n\r\n").encode("latin-1")
        if reply.trickle_head:
            if not self._trickle(conn, head, reply.trickle_head):
                return False
        else:
            conn.sendall(head)
        if method != "HEAD":
            if reply.trickle_body:
                return self._trickle(conn, b"x" * size, reply.trickle_body, path) and keep
            self._send_body(conn, path, size)
        return keep

    def _trickle(self, conn: socket.socket, data: bytes, interval: float, path: str | None = None) -> bool:
        """Send `data` one byte every `interval` seconds (counting body bytes under `path`); False if stopped."""
        for i in range(len(data)):
            if self._stopping.wait(interval):
                return False
            conn.sendall(data[i : i + 1])
            if path is not None:
                with self._lock:
                    self.bytes_sent[path] += 1
        return True

    def _send_body(self, conn: socket.socket, path: str, size: int) -> None:
        chunk = b"x" * CHUNK
        left = size
        while left > 0:
            piece = chunk[: min(left, CHUNK)]
            conn.sendall(piece)
            left -= len(piece)
            with self._lock:
                self.bytes_sent[path] += len(piece)


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on (connections to it are refused)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _read_head(conn: socket.socket, buffered: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in buffered:
        data = conn.recv(65536)
        if not data:
            return None, b""
        buffered += data
    head, _, rest = buffered.partition(b"\r\n\r\n")
    return head, rest


def _wait(conn: socket.socket, seconds: float, stopping: threading.Event) -> bool:
    """Sleep up to `seconds`, returning False early if the client closed the connection."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0 and not stopping.is_set():
        conn.settimeout(min(left, 0.5))
        try:
            if conn.recv(1, socket.MSG_PEEK) == b"":
                return False
            # The client sent more (it should not before an answer): keep waiting.
            time.sleep(min(left, 0.05))
        except TimeoutError:
            continue
        except OSError:
            return False
        finally:
            conn.settimeout(None)
    return not stopping.is_set()


def _looks_like_browser(headers: dict[str, str]) -> bool:
    return "Mozilla/" in headers.get("user-agent", "") and "text/html" in headers.get("accept", "")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Request Denied" if status == 999 else "Unknown"
