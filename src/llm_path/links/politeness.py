"""Per-host politeness: a limit on requests in flight, a minimum interval (stretched by Retry-After), and a fair order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from llm_path.links.config import CheckOptions, HostRule
from llm_path.links.model import NOT_CHECKED, Verdict

WAITING_FOR_HOST = "gave up at the per-URL time limit while waiting for the host"


def host_key(url: str) -> tuple[str, int]:
    """(host, port) of `url`: the unit of politeness and of DNS answers."""
    parts = urlsplit(url)
    return (parts.hostname or "", parts.port or (443 if parts.scheme.lower() == "https" else 80))


@dataclass
class Gate:
    """One host's limit on concurrent requests and its minimum interval."""

    limit: int
    interval: float
    next_at: float = 0.0
    busy: int = 0
    """Requests holding a slot now."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    sem: threading.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.sem = threading.Semaphore(self.limit)

    def is_free(self) -> bool:
        """A request could start about now (a slot is free and the host is not paused)."""
        return self.busy < self.limit and self.next_at <= time.monotonic() + self.interval


@dataclass
class HostMemo:
    """What a host taught us during this run, so its other URLs skip the detours."""

    get_only: bool = False
    browser: bool = False


def pause(stop: threading.Event, seconds: float, deadline: float, why: str) -> None:
    """Sleep `seconds` unless that passes `deadline` (raise `why`) or the run stops (raise interrupted)."""
    if seconds <= 0:
        return
    if time.monotonic() + seconds > deadline:
        raise Verdict("error", why or "gave up at the per-URL time limit", timed_out=True)
    if stop.wait(seconds):
        raise Verdict("error", f"{NOT_CHECKED}: interrupted")


class Hosts:
    """The gates and memos of every host seen in a run, keyed by (host, port)."""

    def __init__(self, options: CheckOptions, stop: threading.Event) -> None:
        self.o = options
        self.stop = stop
        self._lock = threading.Lock()
        self._gates: dict[tuple[str, int], Gate] = {}
        self._memos: dict[tuple[str, int], HostMemo] = {}

    def gate(self, key: tuple[str, int], rule: HostRule | None) -> Gate:
        with self._lock:
            gate = self._gates.get(key)
            if gate is None:
                limit = min(self.o.per_host, rule.per_host) if rule and rule.per_host else self.o.per_host
                interval = max(self.o.min_interval, rule.min_interval or 0) if rule else self.o.min_interval
                gate = self._gates[key] = Gate(limit, interval)
            return gate

    def is_free(self, url: str) -> bool:
        try:
            key = host_key(url)
        except ValueError:
            return True
        with self._lock:
            gate = self._gates.get(key)
        return gate is None or gate.is_free()

    def memo(self, key: tuple[str, int]) -> HostMemo:
        with self._lock:
            return self._memos.setdefault(key, HostMemo())

    @contextmanager
    def slot(self, key: tuple[str, int], rule: HostRule | None, deadline: float) -> Iterator[None]:
        """Hold one of the host's request slots, starting no sooner than its minimum interval allows."""
        gate = self.gate(key, rule)
        while not gate.sem.acquire(timeout=0.25):
            if self.stop.is_set() or time.monotonic() >= deadline:
                raise Verdict("error", WAITING_FOR_HOST, timed_out=True)
        try:
            with gate.lock:
                gate.busy += 1
                start = max(time.monotonic(), gate.next_at)
                gate.next_at = start + gate.interval
            pause(self.stop, start - time.monotonic(), deadline, WAITING_FOR_HOST)
            yield
        finally:
            with gate.lock:
                gate.busy -= 1
            gate.sem.release()

    def pause_host(self, key: tuple[str, int], seconds: float) -> None:
        """Honour Retry-After for the whole host: no request to it starts before then."""
        gate = self.gate(key, self.o.rule_for(key[0]))
        with gate.lock:
            gate.next_at = max(gate.next_at, time.monotonic() + seconds)


def interleave_by_host(urls: Iterable[str]) -> list[str]:
    """Round-robin over hosts so the workers spread across hosts instead of queueing on one."""
    groups: dict[tuple[str, int], list[str]] = {}
    for url in urls:
        try:
            key = host_key(url)
        except ValueError:
            key = ("", 0)
        groups.setdefault(key, []).append(url)
    order = []
    lists = [iter(g) for g in groups.values()]
    while lists:
        alive = []
        for it in lists:
            nxt = next(it, None)
            if nxt is not None:
                order.append(nxt)
                alive.append(it)
        lists = alive
    return order
