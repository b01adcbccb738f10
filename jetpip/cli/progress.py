"""The fetch progress on stderr: one redrawn line on a terminal, plain lines in a log, nothing under -q."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jetpip.install.fetch import files_count, format_size

# Below this size a file arrives before its progress could be read: it is only counted.
LARGE = 5_000_000
# A log gets a line about a large download this often, so a slow link is not minutes of silence.
PLAIN_EVERY = 5.0
REDRAW_EVERY = 0.1  # seconds between redraws of the terminal line


def format_eta(seconds: float) -> str:
    """Time left as 42s, 3:05 or 1:02:09."""
    whole = max(0, int(seconds + 0.5))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}:{secs:02d}"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass
class _Download:
    first_seen: float
    first_bytes: int
    done: int = 0
    size: int | None = None
    said: float = 0.0  # when a plain line last spoke of it

    def rate(self, now: float) -> float | None:
        elapsed = now - self.first_seen
        return (self.done - self.first_bytes) / elapsed if elapsed > 0.2 else None

    def describe(self, name: str, now: float) -> str:
        rate = self.rate(now)
        amount = (f"{format_size(self.done)}/{format_size(self.size)}" if self.size
                  else format_size(self.done))
        parts = [name, amount]
        if rate:
            parts.append(f"{format_size(rate)}/s")
            if self.size and self.size > self.done:
                parts.append(f"ETA {format_eta((self.size - self.done) / rate)}")
        return "  ".join(parts)


class FetchDisplay:
    """Turns the Reporter's fetch events into terminal output.

    ``write`` prints text as given (no newline added). On a terminal, a single status line is
    redrawn in place: the overall count and the largest download in flight with its bytes, rate
    and ETA; a large file gets a line of its own once it is in. Elsewhere (a pipe, a log file)
    each downloaded file gets one line, and a large download a line every few seconds. Either
    way a final line gives the totals.
    """

    def __init__(self, write: Callable[[str], None], *, tty: bool, verbosity: int = 0,
                 width: int = 100, clock: Callable[[], float] = time.monotonic) -> None:
        self.write, self.tty, self.verbosity, self.width, self.clock = write, tty, verbosity, width, clock
        self.files = self.done = 0
        self.downloads: dict[str, _Download] = {}
        self.drawn = 0.0
        self.line = False  # a status line is on screen

    @property
    def quiet(self) -> bool:
        """True under -q: nothing is shown."""
        return self.verbosity < 0

    def started(self, files: int, size: int) -> None:
        """The header: how many files, and their size when the lock knows it."""
        self.files, self.done = files, 0
        if not self.quiet:
            shown = f" ({format_size(size)})" if size else ""
            self._say(f"==> fetching {files_count(files)}{shown}")

    def progress(self, filename: str, done: int, size: int | None) -> None:
        """A download grew."""
        now = self.clock()
        seen = self.downloads.get(filename)
        if seen is None:
            seen = self.downloads[filename] = _Download(now, done, said=now)
        seen.done, seen.size = done, size
        if self.quiet:
            return
        if self.tty:
            if now - self.drawn >= REDRAW_EVERY:
                self._draw(now)
        elif (size or done) >= LARGE and now - seen.said >= PLAIN_EVERY:
            seen.said = now
            self._say("  " + seen.describe(filename, now))

    def fetched(self, filename: str, size: int, *, from_cache: bool) -> None:
        """A file is in place; a downloaded one gets a line (on a terminal, a large one only)."""
        self.done += 1
        self.downloads.pop(filename, None)
        if self.quiet:
            return
        if not from_cache and (not self.tty or size >= LARGE or self.verbosity > 0):
            self._say(f"  fetched {filename} ({format_size(size)})")
        elif self.verbosity > 0:
            self._say(f"  from the cache {filename}")
        if self.tty:
            self._draw(self.clock())

    def finished(self, files: int, downloaded: int, size: int, seconds: float) -> None:
        """The totals line."""
        self.downloads.clear()
        if self.quiet:
            return
        self._clear()
        cached = files - downloaded
        self._say(f"    {files_count(files)} ({format_size(size)}) in {seconds:.1f}s: "
                  f"{downloaded} downloaded, {cached} already in the cache")

    def _draw(self, now: float) -> None:
        self.drawn = now
        text = f"  [{self.done}/{self.files}]"
        if self.downloads:
            name, big = max(self.downloads.items(), key=lambda item: item[1].size or item[1].done)
            text += " " + big.describe(name, now)
            if len(self.downloads) > 1:
                text += f"  (+{len(self.downloads) - 1} more)"
        self.write("\r\x1b[K" + text[: self.width - 1])
        self.line = True

    def make_way(self) -> None:
        """Clear the status line, so another message starts at the left; the next redraw restores it."""
        self._clear()

    def _clear(self) -> None:
        if self.line:
            self.write("\r\x1b[K")
            self.line = False

    def _say(self, text: str) -> None:
        self._clear()
        self.write(text + "\n")
