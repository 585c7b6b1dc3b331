"""`--fetch-title`: one safe GET for a page's <title>, through the link checker's guarded, deadline-bound client.

Only http(s); credentials written in the URL are never sent; private, loopback,
link-local and reserved addresses are refused unless allowed (for every redirect, and
again on the connected socket); at most TITLE_BYTES are read; one deadline covers
connecting, headers and body, so a server that trickles cannot hold the command.
"""

from __future__ import annotations

import html.parser
import re
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from llm_path.links.deadline import Watchdog
from llm_path.links.guard import RequestError, UnsafeAddressError, is_public, session

TITLE_BYTES = 64 * 1024
"""--fetch-title reads at most this much of a page."""
TITLE_TIMEOUT = 10.0
"""--fetch-title gives up after this many seconds, whatever the server does."""
MAX_REDIRECTS = 5


class TitleError(Exception):
    """The page's title could not be read; the message says why."""


def _vet_host(host: str, port: int) -> None:
    """Refuse a host that resolves to a private, loopback, link-local or reserved address."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise TitleError(f"cannot resolve {host}: {error.strerror}") from None
    for info in infos:
        ip = str(info[4][0])
        if not is_public(ip):
            raise TitleError(f"refused: {host} resolves to the non-public address {ip}")


class _TitleParser(html.parser.HTMLParser):
    """Collects the text of the document's first <title> (not one inside inline SVG)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.inside = False
        self.done = False
        self.svg = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "svg":
            self.svg += 1
        elif tag == "title" and not self.done and not self.svg:
            self.inside = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.svg = max(0, self.svg - 1)
        elif tag == "title" and self.inside:
            self.inside = False
            self.done = True

    def handle_data(self, data: str) -> None:
        if self.inside:
            self.parts.append(data)


def _charset(content_type: str, body: bytes) -> str:
    match = re.search(r"charset=[\"']?([\w.:-]+)", content_type, re.I) or re.search(
        rb"<meta[^>]+charset=[\"']?([\w.:-]+)", body[:2048], re.I
    )
    if match is None:
        return "utf-8"
    name = match.group(1)
    name = name.decode("ascii", "replace") if isinstance(name, bytes) else name
    try:
        "".encode(name)
    except LookupError:
        return "utf-8"
    return name


def title_from_html(body: bytes, content_type: str = "") -> str | None:
    """The text of a page's <title>, whitespace collapsed; None when it has none."""
    parser = _TitleParser()
    parser.feed(body.decode(_charset(content_type, body), errors="replace"))
    title = " ".join("".join(parser.parts).split())
    return title or None


def fetch_title(url: str, allow_private: bool = False, timeout: float = TITLE_TIMEOUT) -> str:
    """GET a page safely and return its <title>; raise TitleError saying why not."""
    deadline = time.monotonic() + timeout
    watchdog = Watchdog()
    client = session(guard=not allow_private)
    try:
        with watchdog.running(deadline) as ticket:
            try:
                return _follow(client, url, allow_private, deadline, timeout)
            except (RequestError, OSError, UnsafeAddressError) as error:
                if ticket.fired:
                    raise TitleError(f"timed out after {timeout:g} s") from None
                raise TitleError(_reason(error)) from None
    finally:
        watchdog.close()
        client.close()


def _follow(client: Any, url: str, allow_private: bool, deadline: float, timeout: float) -> str:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(current)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TitleError(f"refused: {current} is not an http(s) URL")
        netloc = parts.netloc.rpartition("@")[2]
        request_url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        if not allow_private:
            _vet_host(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
        left = deadline - time.monotonic()
        if left <= 0:
            raise TitleError(f"timed out after {timeout:g} s")
        response = client.get(
            request_url,
            allow_redirects=False,
            stream=True,
            timeout=(min(5.0, left), min(10.0, left)),
            headers={"User-Agent": "llm-path-add-resource/1", "Accept": "text/html,application/xhtml+xml"},
        )
        with response:
            if response.is_redirect and "location" in response.headers:
                current = urljoin(request_url, response.headers["location"])
                continue
            if response.status_code >= 400:
                raise TitleError(f"the page answered {response.status_code} {response.reason}")
            content_type = response.headers.get("content-type", "")
            if content_type and "html" not in content_type.lower():
                raise TitleError(f"not an HTML page ({content_type.split(';')[0]})")
            body = b""
            for chunk in response.iter_content(chunk_size=8192):
                body += chunk
                if len(body) >= TITLE_BYTES:
                    body = body[:TITLE_BYTES]
                    break
            title = title_from_html(body, content_type)
            if title is None:
                raise TitleError(f"no <title> in the first {TITLE_BYTES // 1024} KiB of the page")
            return title
    raise TitleError(f"more than {MAX_REDIRECTS} redirects")


def _reason(error: BaseException) -> str:
    seen: set[int] = set()
    while id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, TitleError):
            return str(error)
        if isinstance(error, UnsafeAddressError):
            return f"refused: connected to the non-public address {error}"
        inner = (
            error.__context__
            or error.__cause__
            or next((a for a in getattr(error, "args", ()) if isinstance(a, BaseException)), None)
        )
        if inner is None:
            break
        error = inner
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    return str(error) or type(error).__name__
