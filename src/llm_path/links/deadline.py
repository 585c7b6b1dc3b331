"""One deadline per request over connect, headers and body: a watchdog shuts the socket down when it passes.

Socket timeouts bound each read, not the answer: a server sending a byte a second never
trips them. So every request runs under a `Ticket`; the connection classes in `guard`
hand the ticket the socket they use (`watch`), and when the deadline passes the watchdog
shuts that socket down, which ends any read or write blocked on it at once. The ticket
remembers that it fired, so the checker reports the time limit rather than whatever
error the broken read raised (or the status of an answer whose body never came).
"""

from __future__ import annotations

import heapq
import itertools
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

_current = threading.local()


class Ticket:
    """One request's deadline and the sockets it uses (duplicates, so a TLS wrap or a close cannot stale them)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.fired = False
        """Whether the deadline passed while the request was running."""
        self._lock = threading.Lock()
        self._owners: set[int] = set()
        self._sockets: list[socket.socket] = []
        self._closed = False

    def watch(self, owner: object, sock: socket.socket) -> None:
        """Shut `sock` down at the deadline (at once if it has passed); once per `owner` (a connection)."""
        with self._lock:
            if self._closed or id(owner) in self._owners or sock.fileno() < 0:
                return
            self._owners.add(id(owner))
            # shutdown() acts on the socket, not the descriptor: shutting the duplicate down
            # ends reads on the original, TLS wrapper included, and closing it closes nothing else.
            dup = socket.fromfd(sock.fileno(), sock.family, sock.type)
            self._sockets.append(dup)
            if self.fired:
                _shut(dup)

    def fire(self) -> None:
        with self._lock:
            if self._closed:
                return
            self.fired = True
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        """The request is over: stop watching and drop the duplicates."""
        with self._lock:
            self._closed = True
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()


def _shut(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def watch(owner: object, sock: socket.socket) -> None:
    """Put `sock` under the deadline of the request running in this thread, if any."""
    ticket: Ticket | None = getattr(_current, "ticket", None)
    if ticket is not None:
        ticket.watch(owner, sock)


class Watchdog:
    """Fires each ticket at its deadline, from one thread started on first use."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Ticket]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._closed = False

    @contextmanager
    def running(self, deadline: float) -> Iterator[Ticket]:
        """Run one request in this thread under `deadline` (a time.monotonic() value)."""
        ticket = Ticket(deadline)
        with self._cond:
            if self._closed:
                ticket.fire()
            sooner = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._order), ticket))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, daemon=True, name="linkcheck-deadline")
                self._thread.start()
            if sooner:  # otherwise the thread already wakes in time
                self._cond.notify()
        _current.ticket = ticket
        try:
            yield ticket
        finally:
            _current.ticket = None
            ticket.close()

    def close(self) -> None:
        """Fire every ticket still running (the run is over) and stop the thread."""
        with self._cond:
            self._closed = True
            pending = [t for _, _, t in self._heap]
            self._heap.clear()
            self._cond.notify()
        for ticket in pending:
            ticket.fire()

    def _loop(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._heap[0][0] <= now:
                    heapq.heappop(self._heap)[2].fire()
                wait = self._heap[0][0] - now if self._heap else None
                self._cond.wait(wait)
