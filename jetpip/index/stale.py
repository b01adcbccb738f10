"""Stale-if-error: a cached page standing in for an index that cannot be reached, told with its age."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from jetpip.report import Reporter


@dataclass(frozen=True)
class StaleCopy:
    """A page read from the cache because its index gave no answer; URLs carry no credentials."""

    index: str  # the index (or flat page) the page belongs to
    page: str
    fetched_at: float  # when the index last sent or confirmed this copy
    reason: str  # the last failure: "HTTP 503", "no answer within 15 s", ...

    def warning(self, now: float | None = None) -> str:
        """The line the user reads when the copy is used."""
        return (f"{self.index} cannot be reached ({self.reason}); using the copy of {self.page} "
                f"from {age_text(self.age(now))} ago (its other cached pages too, without more warnings)")

    def age(self, now: float | None = None) -> float:
        """Seconds since the index last sent or confirmed the copy."""
        return max(0.0, (time.time() if now is None else now) - self.fetched_at)


def age_text(seconds: float) -> str:
    """A rounded age for people: "40 s", "12 min", "3 h", "2 days"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def lock_record(copies: Iterable[StaleCopy]) -> tuple[str, ...]:
    """One line per index for a lock's ``[tool.jetpip] stale``: its oldest copy used, and how many."""
    oldest: dict[str, StaleCopy] = {}
    pages: dict[str, int] = {}
    for copy in copies:
        pages[copy.index] = pages.get(copy.index, 0) + 1
        if copy.index not in oldest or copy.fetched_at < oldest[copy.index].fetched_at:
            oldest[copy.index] = copy
    lines = []
    for index in sorted(oldest):
        when = datetime.fromtimestamp(oldest[index].fetched_at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        count = pages[index]
        lines.append(f"{index}: unreachable ({oldest[index].reason}); {count} cached page"
                     f"{'s' if count != 1 else ''} used, the oldest fetched {when} "
                     f"({age_text(oldest[index].age())} before this lock)")
    return tuple(lines)


class StalePages:
    """The cached pages a run used in place of indexes that were down; the user hears once per index."""

    def __init__(self, reporter: Reporter) -> None:
        self._reporter = reporter
        self._copies: list[StaleCopy] = []
        self._down: dict[str, str] = {}  # index -> why it could not be reached
        self._lock = threading.Lock()

    def down(self, index: str) -> str | None:
        """Why ``index`` could not be reached earlier in this run; None while it could."""
        with self._lock:
            return self._down.get(index)

    def use(self, copy: StaleCopy) -> None:
        """Go on with ``copy``; warn if it is the first of its index."""
        with self._lock:
            first = copy.index not in self._down
            self._copies.append(copy)
            self._down[copy.index] = copy.reason
        if first:  # the lock's record counts every page
            self._reporter.warning(copy.warning())
        self._reporter.page_fetched(copy.page, from_cache=True)

    def record(self) -> tuple[str, ...]:
        """The lines of a lock's ``[tool.jetpip] stale``."""
        with self._lock:
            return lock_record(self._copies)


def refresh_hint(page: str, fetched_at: float) -> str:
    """The hint of a --refresh run that met a down index it has a copy of."""
    return (f"a copy of {page} from {age_text(time.time() - fetched_at)} ago is cached: drop --refresh "
            "to go on with it (with a warning), or run with --offline")
