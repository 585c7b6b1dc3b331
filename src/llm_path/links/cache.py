"""The result cache: results by URL in one JSON file, which the site build reads to show link health."""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout

from llm_path.files import write_atomic
from llm_path.links.model import NOT_CHECKED, STATUSES, LinkError, LinkErrors, LinkResult

CACHE_VERSION = 1
DEFAULT_CACHE = ".llm-path-cache/links.json"


LOCK_TIMEOUT = 30.0
"""Seconds to wait for another run to finish saving (a save holds the lock for milliseconds)."""


class LinkCache:
    """Results by URL in a JSON file, merged and saved atomically under a lock (FILE.lock beside it).

    Several runs may share one file (a scheduled run and a manual one, two CI jobs): each save
    reads the file as it is now, keeps every result another run saved meanwhile, and for a URL
    both checked keeps the later check. Readers need no lock: the file is replaced atomically,
    so they see the old one or the new one, never half."""

    def __init__(
        self, path: Path, results: dict[str, LinkResult] | None = None, save_every: float = 0.25
    ) -> None:
        self.path = path
        self.results: dict[str, LinkResult] = dict(results or {})
        self.save_every = save_every
        self._mine: dict[str, LinkResult] = {}
        """Results put by this run, which a save merges into the file."""
        self._last_save = 0.0
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> LinkCache:
        """Read the cache (a missing file is an empty cache); raise LinkErrors when it is not one."""
        return cls(path, _read(path))

    def fresh(self, url: str, max_age: float, now: datetime | None = None) -> LinkResult | None:
        """The cached result for `url` if younger than `max_age` seconds (errors and refusals never are)."""
        result = self.results.get(url)
        if result is None or result.status in ("error", "refused"):
            return None
        age = ((now or datetime.now(UTC)) - _checked(result)).total_seconds()
        return replace(result, from_cache=True) if 0 <= age < max_age else None

    def put(self, result: LinkResult) -> None:
        """Record a result; saves at most every `save_every` seconds (call save() at the end)."""
        if result.status == "error" and result.detail.startswith(NOT_CHECKED):
            return
        result = replace(result, from_cache=False)
        self.results[result.url] = self._mine[result.url] = result
        self._dirty = True
        self.save_if_due()

    def save_if_due(self) -> None:
        """Save unsaved results if the last save is `save_every` seconds old."""
        if self._dirty and time.monotonic() - self._last_save >= self.save_every:
            self.save()

    def save(self) -> None:
        """Merge this run's results into the file as it is now, and write it atomically, under the lock."""
        if not self._dirty and self.path.exists():
            return
        lock = self.path.with_name(self.path.name + ".lock")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            lock.touch()  # fails at once where nothing can be written; FileLock would retry until its timeout
            with FileLock(lock, timeout=LOCK_TIMEOUT):
                merged = _read(self.path)
                for url, result in self._mine.items():
                    if url not in merged or _checked(merged[url]) <= _checked(result):
                        merged[url] = result
                payload = {
                    "version": CACHE_VERSION,
                    "results": {u: merged[u].to_cache() for u in sorted(merged)},
                }
                write_atomic(self.path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        except Timeout:
            raise LinkErrors(
                [
                    LinkError(
                        f"cannot save the cache: another run has held {lock} for {LOCK_TIMEOUT:g} s",
                        "let it finish, or pass another --cache FILE",
                        str(self.path),
                    )
                ]
            ) from None
        except OSError as e:
            hint = "pass a writable --cache FILE, or --no-cache"
            raise LinkErrors(
                [LinkError(f"cannot write the cache: {e.strerror}", hint, str(self.path))]
            ) from None
        self.results = {**merged, **{u: r for u, r in self.results.items() if u not in merged}}
        self._dirty = False
        self._last_save = time.monotonic()


def _checked(result: LinkResult) -> datetime:
    checked = datetime.fromisoformat(result.checked_at)
    return checked if checked.tzinfo is not None else checked.replace(tzinfo=UTC)


def _read(path: Path) -> dict[str, LinkResult]:
    """The results in the cache file (none if it does not exist); raise LinkErrors when it is not a cache."""
    hint = "delete it to start afresh, or pass another --cache FILE"
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as e:
        problem = f"cannot read the cache: {e.strerror}"
        raise LinkErrors(
            [LinkError(problem, "pass another --cache FILE, or --no-cache", str(path))]
        ) from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise LinkErrors(
            [LinkError(f"the cache is not valid JSON: {e.msg}", hint, str(path), e.lineno, e.colno)]
        ) from None
    if (
        not isinstance(data, dict)
        or data.get("version") != CACHE_VERSION
        or not isinstance(data.get("results"), dict)
    ):
        raise LinkErrors(
            [
                LinkError(
                    f'not a link cache (expected {{"version": {CACHE_VERSION}, "results": {{...}}}})',
                    hint,
                    str(path),
                )
            ]
        )
    results = {}
    names = {f.name for f in fields(LinkResult)} - {"url", "from_cache"}
    for url, entry in data["results"].items():
        try:
            result = LinkResult(url=url, **{k: entry[k] for k in names})
            _checked(result)
        except (KeyError, TypeError, ValueError):
            continue  # one malformed entry is simply checked again
        if result.status in STATUSES:
            results[url] = result
    return results
