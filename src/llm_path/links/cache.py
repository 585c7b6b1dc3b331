"""The result cache: results by URL in one JSON file, which the site build reads to show link health."""

from __future__ import annotations

import json
import time
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path

from llm_path.files import write_atomic
from llm_path.links.model import NOT_CHECKED, STATUSES, LinkError, LinkErrors, LinkResult

CACHE_VERSION = 1
DEFAULT_CACHE = ".cache/links.json"


class LinkCache:
    """Results by URL in a JSON file, saved atomically (temp file + os.replace)."""

    def __init__(
        self, path: Path, results: dict[str, LinkResult] | None = None, save_every: float = 0.25
    ) -> None:
        self.path = path
        self.results: dict[str, LinkResult] = dict(results or {})
        self.save_every = save_every
        self._last_save = 0.0
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> LinkCache:
        """Read the cache (a missing file is an empty cache); raise LinkErrors when it is not one."""
        hint = "delete it to start afresh, or pass another --cache FILE"
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
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
                datetime.fromisoformat(result.checked_at)
            except (KeyError, TypeError, ValueError):
                continue  # one malformed entry is simply checked again
            if result.status in STATUSES:
                results[url] = result
        return cls(path, results)

    def fresh(self, url: str, max_age: float, now: datetime | None = None) -> LinkResult | None:
        """The cached result for `url` if younger than `max_age` seconds (errors and refusals never are)."""
        result = self.results.get(url)
        if result is None or result.status in ("error", "refused"):
            return None
        checked = datetime.fromisoformat(result.checked_at)
        if checked.tzinfo is None:
            checked = checked.replace(tzinfo=UTC)
        age = ((now or datetime.now(UTC)) - checked).total_seconds()
        return replace(result, from_cache=True) if 0 <= age < max_age else None

    def put(self, result: LinkResult) -> None:
        """Record a result; saves at most every `save_every` seconds (call save() at the end)."""
        if result.status == "error" and result.detail.startswith(NOT_CHECKED):
            return
        self.results[result.url] = replace(result, from_cache=False)
        self._dirty = True
        self.save_if_due()

    def save_if_due(self) -> None:
        """Save unsaved results if the last save is `save_every` seconds old."""
        if self._dirty and time.monotonic() - self._last_save >= self.save_every:
            self.save()

    def save(self) -> None:
        """Write the whole cache atomically: readers see the old file or the new one, never half."""
        if not self._dirty and self.path.exists():
            return
        payload = {
            "version": CACHE_VERSION,
            "results": {u: self.results[u].to_cache() for u in sorted(self.results)},
        }
        try:
            write_atomic(self.path, json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
        except OSError as e:
            hint = "pass a writable --cache FILE, or --no-cache"
            raise LinkErrors(
                [LinkError(f"cannot write the cache: {e.strerror}", hint, str(self.path))]
            ) from None
        self._dirty = False
        self._last_save = time.monotonic()
