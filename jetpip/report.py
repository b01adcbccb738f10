"""The Reporter protocol: how the core tells the CLI about progress without printing."""

from __future__ import annotations

from typing import Protocol


class Reporter(Protocol):
    """Receives progress and warnings from the core; every method may be a no-op."""

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        """A project page was read (``url`` is already redacted)."""

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        """Metadata of a file was read; ``how`` is 'pep658', 'range', 'download' or 'cache'."""

    def pinned(self, name: str, version: str, source: str) -> None:
        """The resolver pinned ``name`` to ``version`` from ``source``."""

    def step(self, description: str) -> None:
        """A plan step (a pip invocation or a check) starts."""

    def note(self, message: str) -> None:
        """Something the user should read, not a problem (a policy that applied)."""

    def warning(self, message: str) -> None:
        """Something that may be a problem; the run goes on."""

    def fetch_started(self, files: int, size: int) -> None:
        """The files of a plan are about to be fetched: how many, and their bytes as locked (0: unknown)."""

    def fetch_progress(self, filename: str, done: int, size: int | None) -> None:
        """A download in progress: ``done`` bytes of ``size`` (None: unknown); a few calls a second."""

    def file_fetched(self, filename: str, size: int, *, from_cache: bool) -> None:
        """A file is in place and matches its hash; ``from_cache``: it was not fetched again."""

    def fetch_finished(self, files: int, downloaded: int, size: int, seconds: float) -> None:
        """Every file is in place: how many, how many came over the network, their bytes, the time taken."""


class NullReporter:
    """A Reporter that drops everything; the default for library callers."""

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        """Drop the event."""

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        """Drop the event."""

    def pinned(self, name: str, version: str, source: str) -> None:
        """Drop the event."""

    def step(self, description: str) -> None:
        """Drop the event."""

    def note(self, message: str) -> None:
        """Drop the event."""

    def warning(self, message: str) -> None:
        """Drop the event."""

    def fetch_started(self, files: int, size: int) -> None:
        """Drop the event."""

    def fetch_progress(self, filename: str, done: int, size: int | None) -> None:
        """Drop the event."""

    def file_fetched(self, filename: str, size: int, *, from_cache: bool) -> None:
        """Drop the event."""

    def fetch_finished(self, files: int, downloaded: int, size: int, seconds: float) -> None:
        """Drop the event."""


class RecordingReporter(NullReporter):
    """A Reporter that keeps notes and warnings; used by callers that return them as data."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.warnings: list[str] = []

    def note(self, message: str) -> None:
        """Keep the note."""
        self.notes.append(message)

    def warning(self, message: str) -> None:
        """Keep the warning."""
        self.warnings.append(message)
