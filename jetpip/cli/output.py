"""What the command line says besides its results: progress, warnings, notes and errors, never a password."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from jetpip.cli.progress import FetchDisplay
    from jetpip.errors import JetpipError
    from jetpip.model.sources import Route
    from jetpip.model.target import Target
    from jetpip.report import Reporter

Command = Callable[..., Any]


def emit(line: str, *, err: bool = True) -> None:
    """Print ``line`` with every URL's credentials redacted.

    Every warning, note, error and hint goes through here: their text comes from files,
    flags and servers, any of which may hold a ``user:password@`` URL.
    """
    from jetpip.model.urls import redact_text  # here, not at the top: `jetpip --help` parses no URL

    click.echo(redact_text(line), err=err)


def print_json(document: object) -> None:
    """A command's ``--json`` result on stdout."""
    import json

    click.echo(json.dumps(document, indent=2))


class TerminalReporter:
    """The Reporter the commands hand to the core: progress on stderr, as -q / -v ask."""

    def __init__(self, verbosity: int = 0, *, tty: bool | None = None) -> None:
        self.verbosity = verbosity
        self.tty = tty  # None: ask stderr when the first file is fetched
        self._fetching: FetchDisplay | None = None

    def _display(self) -> FetchDisplay:
        if self._fetching is None:
            import os
            import shutil
            import sys

            from jetpip.cli.progress import FetchDisplay

            # A dumb terminal cannot move its cursor back: it gets the plain lines of a log.
            live = sys.stderr.isatty() and os.environ.get("TERM") != "dumb"
            tty = live if self.tty is None else self.tty
            self._fetching = FetchDisplay(lambda text: click.echo(text, err=True, nl=False), tty=tty,
                                          verbosity=self.verbosity,
                                          width=shutil.get_terminal_size().columns)
        return self._fetching

    def fetch_started(self, files: int, size: int) -> None:
        """The header of the fetch, unless -q."""
        self._display().started(files, size)

    def fetch_progress(self, filename: str, done: int, size: int | None) -> None:
        """Bytes, rate and ETA of large downloads: redrawn on a terminal, every few seconds in a log."""
        self._display().progress(filename, done, size)

    def file_fetched(self, filename: str, size: int, *, from_cache: bool) -> None:
        """One line per downloaded file (cached ones at -v)."""
        self._display().fetched(filename, size, from_cache=from_cache)

    def fetch_finished(self, files: int, downloaded: int, size: int, seconds: float) -> None:
        """The totals line, unless -q."""
        self._display().finished(files, downloaded, size, seconds)

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        """Show fetched pages at -v."""
        self.detail(f"  page {url}{' (cache)' if from_cache else ''}")

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        """Show metadata reads at -v."""
        self.detail(f"  metadata {filename} ({how})")

    def pinned(self, name: str, version: str, source: str) -> None:
        """Show pins at -v."""
        self.detail(f"  pin {name}=={version} from {source}")

    def step(self, description: str) -> None:
        """Show plan steps unless -q."""
        if self.verbosity >= 0:
            emit(click.style(f"==> {description}", bold=True))

    def note(self, message: str) -> None:
        """Show notes unless -q."""
        if self.verbosity >= 0:
            emit(f"note: {message}")

    def warning(self, message: str) -> None:
        """Warnings always show (a fetch's progress line makes way for them)."""
        if self._fetching is not None:
            self._fetching.make_way()
        emit(click.style(f"warning: {message}", fg="yellow"))

    def detail(self, line: str) -> None:
        """A line only -v shows (a pip output line, a file written)."""
        if self.verbosity > 0:
            emit(line)


def verbosity_options(func: Command) -> Command:
    """-q / -v; the command gets a ``reporter: TerminalReporter`` at that verbosity."""

    @functools.wraps(func)
    def command(*args: Any, quiet: int, verbose: int, **kwargs: Any) -> Any:
        return func(*args, reporter=TerminalReporter(verbose - quiet), **kwargs)

    decorated: Command = click.option("-v", "--verbose", count=True, help="More output.")(command)
    return click.option("-q", "--quiet", count=True, help="Less output.")(decorated)


def target_warnings(reporter: Reporter, target: Target, route: Route) -> None:
    """Every warning about the Target, its device and its Route: each command that has a Target says them."""
    for message in (*target.warnings, *target.device.warnings, *route.warnings):
        reporter.warning(message)
    if target.is_jetson and not route.sources and route.no_source_reason:
        reporter.warning(route.no_source_reason)


def error(err: JetpipError) -> None:
    """``error: <message>`` and ``hint: <next step>``, as every failure ends."""
    emit(click.style("error: ", fg="red", bold=True) + str(err))
    for i, line in enumerate((err.hint or "").splitlines()):
        emit(("hint: " if i == 0 else "      ") + line)
