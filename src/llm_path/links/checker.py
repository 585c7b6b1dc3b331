"""Checking: one HTTP check per URL (HEAD, then GET, then a browser-like GET), redirects hop by hop, retries, verdicts."""

from __future__ import annotations

import email.utils
import http.client
import queue
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urldefrag, urljoin, urlsplit

import requests
import urllib3.exceptions

from llm_path.links.cache import LinkCache
from llm_path.links.config import CheckOptions
from llm_path.links.deadline import Watchdog
from llm_path.links.guard import Adapter, Resolver, UnsafeAddressError, request_url
from llm_path.links.model import NOT_CHECKED, LinkResult, TransientError, Verdict, now
from llm_path.links.politeness import Hosts, host_key, interleave_by_host, pause
from llm_path.links.text import printable

BROWSER_HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en-US,en;q=0.9",
}
BOT_BLOCK_CODES = frozenset({403, 999})
"""Answers that often mean "not to bots": retried once with browser-like headers."""
UNVERIFIED_CODES = frozenset({401, 403, 451, 999})
PERMANENT_REDIRECTS = frozenset({301, 308})
GRACE = 0.25
"""Seconds past a URL's deadline before the run gives up on a worker that did not return."""


@dataclass
class Reply:
    """What one HTTP answer told us."""

    code: int
    reason: str
    location: str | None
    retry_after: str | None
    note: str = ""


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    with suppress(TypeError, ValueError):
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, (when - datetime.now(UTC)).total_seconds())
    return None


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind a requests/urllib3 wrapper."""
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in getattr(exc, "args", ()) if isinstance(a, BaseException)), None)
        inner = inner or exc.__cause__ or exc.__context__
        if inner is None:
            break
        exc = inner
    return exc


def _describe(exc: BaseException) -> str:
    root = _root_cause(exc)
    if isinstance(root, ConnectionRefusedError):
        return "connection refused"
    if isinstance(root, ConnectionResetError):
        return "connection reset by the server"
    if isinstance(root, http.client.RemoteDisconnected):
        return "the server closed the connection without answering"
    if isinstance(root, TimeoutError):
        return "timed out"
    text = str(root) or type(root).__name__
    return re.sub(r"^<[^>]+>: ", "", text)


def _read_some(resp: requests.Response, limit: int) -> None:
    """Read at most `limit` body bytes (HEAD has none); errors here do not matter, the status is known."""
    got = 0
    with suppress(OSError, urllib3.exceptions.HTTPError, http.client.HTTPException):
        while got < limit:
            chunk = resp.raw.read(min(8192, limit - got), decode_content=False)
            if not chunk:
                break
            got += len(chunk)


def _release(resp: requests.Response) -> None:
    """Return the connection to the pool if its body was read to the end, else close it."""
    raw = resp.raw
    try:
        if not raw.closed:
            raw.close()  # body left unread (a large file): drop the connection instead of downloading
    finally:
        raw.release_conn()


class Checker:
    """Checks URLs with a shared connection pool, per-host gates and a bounded set of worker threads."""

    def __init__(self, options: CheckOptions, stop: threading.Event) -> None:
        self.o = options
        self.stop = stop
        self.run_deadline = time.monotonic() + options.run_timeout
        per_host = max([options.per_host, *(r.per_host or 0 for r in options.hosts.values())])
        self.adapter = Adapter(
            not options.allow_private,
            pool_connections=256,
            pool_maxsize=per_host,
            max_retries=0,
            pool_block=False,
        )
        self.hosts = Hosts(options, stop)
        self.resolver = Resolver(options.allow_private)
        self.watchdog = Watchdog()

    def close(self) -> None:
        self.watchdog.close()
        self.adapter.close_all()

    def run(self, urls: list[str]) -> Iterator[LinkResult | None]:
        """Yield a result per URL as each finishes, and None every 0.2 s of waiting."""
        return _Run(self, urls).results()

    def deadline(self, started: float) -> float:
        """When a URL whose check began at `started` must be finished."""
        return min(started + self.o.url_timeout, self.run_deadline)

    def gave_up(self, url: str) -> LinkResult:
        """The result for a URL whose check did not return by its deadline."""
        if time.monotonic() >= self.run_deadline:
            return self.run_over(url)
        detail = f"gave up at the per-URL time limit ({self.o.url_timeout:g} s)"
        return LinkResult(url, "error", None, None, detail, now(), self.o.url_timeout)

    def run_over(self, url: str, elapsed: float = 0.0) -> LinkResult:
        """The result for a URL the run's time limit left without a verdict (not cached)."""
        detail = f"{NOT_CHECKED}: the run time limit ({self.o.run_timeout:g} s) was reached"
        return LinkResult(url, "error", None, None, detail, now(), round(elapsed, 3))

    def check(self, url: str, started: float | None = None) -> LinkResult:
        """Check one URL (without fragment), following redirects hop by hop."""
        started = time.monotonic() if started is None else started
        deadline = self.deadline(started)

        def result(status: str, detail: str, code: int | None = None) -> LinkResult:
            return LinkResult(url, status, code, None, detail, now(), round(time.monotonic() - started, 3))

        if started >= self.run_deadline:
            return self.run_over(url)
        try:
            current = request_url(url)
            chain = [current]
            moved_to: str | None = None
            still_permanent = True
            while True:
                rule = self.o.rule_for(urlsplit(current).hostname or "")
                if rule is not None and rule.skip:
                    via = f"redirects to {current}, " if len(chain) > 1 else ""
                    return result("unverified", f"{via}skipped: {rule.reason} (links.toml)")
                reply = self._fetch(current, deadline)
                if not (300 <= reply.code < 400 and reply.location):
                    return self._classify(url, reply, chain, moved_to, started)
                if len(chain) > self.o.max_redirects:
                    raise Verdict(
                        "error", f"more than {self.o.max_redirects} redirects (last to {current})", reply.code
                    )
                try:
                    target = request_url(urljoin(current, reply.location))
                except Verdict as v:
                    raise Verdict(
                        "error", f"redirects to an unusable URL {reply.location!r}: {v.detail}", reply.code
                    ) from None
                if target in chain:
                    loop = " -> ".join([*chain[chain.index(target) :], target])
                    raise Verdict("error", f"redirect loop: {loop}", reply.code)
                if still_permanent and reply.code in PERMANENT_REDIRECTS:
                    moved_to = target
                else:
                    still_permanent = False
                chain.append(target)
                current = target
        except Verdict as v:
            if v.timed_out and time.monotonic() >= self.run_deadline:
                return self.run_over(url, time.monotonic() - started)
            return result(v.status, v.detail, v.code)

    def _classify(
        self, url: str, reply: Reply, chain: list[str], moved_to: str | None, started: float
    ) -> LinkResult:
        code, final = reply.code, chain[-1]
        status_text = f"{code} {reply.reason}".strip()
        via = f" at {final}" if len(chain) > 1 else ""
        rule = self.o.rule_for(urlsplit(final).hostname or "")
        if code < 400:
            if moved_to:
                status, detail, final = "moved", f"moved permanently: update to {moved_to}", moved_to
            else:
                status, detail = "alive", status_text + (f" after redirect to {final}" if via else "")
            detail += reply.note
        elif code in (404, 410):
            status, detail = "dead", status_text + via
        elif code == 429:
            status, detail = "unverified", f"{status_text}{via}: rate limited{reply.note}"
        elif code in UNVERIFIED_CODES:
            why = (
                rule.reason + " (links.toml)"
                if rule
                else "the site refuses automated checks; check it in a browser"
            )
            status, detail = "unverified", f"{status_text}{via}, also to a browser-like request: {why}"
        elif code < 500:
            status, detail = "dead", status_text + via
        else:
            status, detail = "error", f"{status_text}{via}{reply.note}"
        return LinkResult(url, status, code, final, detail, now(), round(time.monotonic() - started, 3))

    # -- one hop: HEAD first, GET when refused, browser-like headers when blocked, retries

    def _fetch(self, url: str, deadline: float) -> Reply:
        key = host_key(url)
        rule = self.o.rule_for(key[0])
        memo = self.hosts.memo(key)
        method = "GET" if memo.get_only or (rule and rule.get_only) else "HEAD"
        browser = memo.browser or bool(rule and rule.browser)
        note = ""
        attempt = 0
        while True:
            try:
                self.resolver.vet(key)
                with self.hosts.slot(key, rule, deadline):
                    reply = self._send(method, url, browser, deadline)
            except TransientError as e:
                if attempt >= self.o.retries:
                    raise Verdict("error", f"{e} (after {attempt + 1} attempts)") from None
                pause(self.stop, self._backoff(attempt), deadline, f"{e}; gave up at the per-URL time limit")
                attempt += 1
                continue
            code = reply.code
            if method == "HEAD" and code in (405, 501):
                memo.get_only = True
                method = "GET"
                continue
            if code in BOT_BLOCK_CODES and not browser:
                browser, method = True, "GET"
                note = f"; {code} to the checker, answered a browser-like request"
                continue
            if method == "HEAD" and code >= 400 and code != 429:
                method = "GET"  # some servers mishandle HEAD; confirm with GET before judging
                continue
            if code == 429 or code >= 500:
                if attempt >= self.o.retries:
                    reply.note = f" (after {attempt + 1} attempts)"
                    return reply
                wait = _retry_after(reply.retry_after)
                if wait is not None and wait > self.o.max_retry_wait:
                    reply.note = (
                        f" (asks to wait {wait:g} s, more than max_retry_wait {self.o.max_retry_wait:g} s)"
                    )
                    return reply
                if wait is not None:
                    if time.monotonic() + wait > deadline:
                        reply.note = f" (asks to wait {wait:g} s, past the per-URL time limit)"
                        return reply
                    self.hosts.pause_host(key, wait)
                else:
                    delay = self._backoff(attempt)
                    if time.monotonic() + delay > deadline:
                        reply.note = " (gave up at the per-URL time limit)"
                        return reply
                    pause(self.stop, delay, deadline, "")
                attempt += 1
                continue
            if browser and note and code < 400:
                memo.browser = True
            reply.note = note if code < 400 else ""
            return reply

    def _send(self, method: str, url: str, browser: bool, deadline: float) -> Reply:
        """One request and the start of its answer, all within `deadline`."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise Verdict("error", "gave up at the per-URL time limit", timed_out=True)
        headers = dict(BROWSER_HEADERS) if browser else {"User-Agent": self.o.user_agent, "Accept": "*/*"}
        request = requests.Request(method, url, headers=headers).prepare()
        timeout = (min(self.o.connect_timeout, left), min(self.o.read_timeout, left))
        reply = None
        with self.watchdog.running(deadline) as ticket:
            try:
                reply = self._exchange(request, timeout)
            except (Verdict, TransientError):
                if not ticket.fired:
                    raise
        if ticket.fired or reply is None:
            detail = f"gave up at the per-URL time limit ({self.o.url_timeout:g} s) while the answer was still arriving"
            raise Verdict("error", detail, timed_out=True)
        return reply

    def _exchange(self, request: requests.PreparedRequest, timeout: tuple[float, float]) -> Reply:
        try:
            resp = self.adapter.send(request, stream=True, timeout=timeout, verify=True)
        except UnsafeAddressError as e:
            raise Verdict(
                "refused", f"connected to {e}, a non-public address; pass --allow-private to check it anyway"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise TransientError(f"no connection within {timeout[0]:g} s") from None
        except requests.exceptions.ReadTimeout:
            limited = timeout[1] < self.o.read_timeout
            limit = "per-URL time limit" if limited else "read timeout"
            raise Verdict(
                "error", f"no answer within {timeout[1]:g} s ({limit})", timed_out=limited
            ) from None
        except requests.exceptions.SSLError as e:
            raise Verdict("error", f"TLS error: {_describe(e)}") from None
        except requests.exceptions.ConnectionError as e:
            raise TransientError(_describe(e)) from None
        except (requests.exceptions.RequestException, http.client.HTTPException, ValueError) as e:
            raise Verdict("error", f"request failed: {_describe(e)}") from None
        try:
            _read_some(resp, self.o.max_body)
            return Reply(
                resp.status_code,
                printable(resp.reason or ""),
                resp.headers.get("Location"),
                resp.headers.get("Retry-After"),
            )
        finally:
            _release(resp)

    def _backoff(self, attempt: int) -> float:
        return self.o.backoff * (2**attempt) * random.uniform(0.5, 1.5)


class _Run:
    """One run's queue and workers.

    Workers are daemon threads, so Ctrl-C returns at once instead of waiting for them.
    A URL whose worker is still busy past its deadline (a DNS lookup that never returns:
    the one wait the watchdog cannot cut short) gets its result from here and the worker's
    late one is dropped, so the run ends by its time limit whatever happens."""

    def __init__(self, checker: Checker, urls: list[str]) -> None:
        self.checker = checker
        self.total = len(urls)
        self.todo = deque(urls)
        self.lock = threading.Lock()
        self.running: dict[str, float] = {}
        """URLs being checked, with their deadlines."""
        self.given_up: set[str] = set()
        self.done: queue.SimpleQueue[LinkResult] = queue.SimpleQueue()

    def results(self) -> Iterator[LinkResult | None]:
        for _ in range(min(self.checker.o.concurrency, self.total)):
            threading.Thread(target=self._work, daemon=True, name="linkcheck").start()
        left = self.total
        while left:
            try:
                result: LinkResult | None = self.done.get(timeout=0.2)
            except queue.Empty:
                result = None
            late = self._overdue()
            left -= len(late) + (result is not None)
            if result is not None:
                yield result
            yield from late
            if result is None:
                yield None

    def _take(self) -> tuple[str, float] | None:
        # Prefer a URL whose host can take a request now, so workers do not all
        # queue behind one busy or rate-limited host while other hosts sit idle.
        hosts = self.checker.hosts
        with self.lock:
            for _ in range(min(len(self.todo), 256)):
                url = self.todo.popleft()
                if hosts.is_free(url):
                    break
                self.todo.append(url)
            else:
                if not self.todo:
                    return None
                url = self.todo.popleft()
            started = time.monotonic()
            self.running[url] = self.checker.deadline(started)
            return url, started

    def _work(self) -> None:
        while not self.checker.stop.is_set():
            job = self._take()
            if job is None:
                return
            url, started = job
            try:
                result = self.checker.check(url, started)
            except Exception as e:  # a bug must not lose the other results
                result = LinkResult(url, "error", None, None, f"internal error: {e!r}", now(), 0.0)
            with self.lock:
                if url in self.given_up:
                    continue
                del self.running[url]
            self.done.put(result)

    def _overdue(self) -> list[LinkResult]:
        """Results for URLs past their deadline and a grace period; after the run's, for every URL left."""
        late = time.monotonic() - GRACE
        with self.lock:
            if late >= self.checker.run_deadline:
                stuck, unstarted = list(self.running), list(self.todo)
                self.todo.clear()
            else:
                stuck, unstarted = [u for u, d in self.running.items() if d <= late], []
            for url in stuck:
                self.given_up.add(url)
                del self.running[url]
        return [self.checker.gave_up(url) for url in stuck] + [
            self.checker.run_over(url) for url in unstarted
        ]


def check_links(
    urls: Iterable[str],
    options: CheckOptions | None = None,
    *,
    cache: LinkCache | None = None,
    on_result: Callable[[LinkResult, int, int], None] | None = None,
) -> list[LinkResult]:
    """Check `urls` (duplicates once), reusing fresh cached results; results come back in input order.

    `on_result(result, done, total)` is called in the calling thread as each result arrives.
    The cache, if given, is saved progressively and once more at the end, even on Ctrl-C.
    """
    options = options or CheckOptions()
    unique = list(dict.fromkeys(u.strip() for u in urls))
    results: dict[str, LinkResult] = {}
    pending: dict[str, list[str]] = {}
    total, done = len(unique), 0
    for url in unique:
        hit = cache.fresh(url, options.max_age) if cache else None
        if hit is not None:
            results[url] = hit
            done += 1
            if on_result:
                on_result(hit, done, total)
        else:
            pending.setdefault(urldefrag(url).url, []).append(url)
    stop = threading.Event()
    checker = Checker(options, stop)
    try:
        for result in checker.run(interleave_by_host(pending)):
            if result is None:  # idle: write what finished while the rest is still running
                if cache:
                    cache.save_if_due()
                continue
            for url in pending[result.url]:
                one = replace(result, url=url)
                results[url] = one
                if cache:
                    cache.put(one)
                done += 1
                if on_result:
                    on_result(one, done, total)
    finally:
        stop.set()
        if cache:
            cache.save()
        checker.close()
    return [results[u] for u in unique]
