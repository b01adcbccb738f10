"""The command line: parse, build objects, call one core function, map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from jetpip import __version__
from jetpip.errors import JetpipError

F = TypeVar("F", bound=Callable[..., Any])


class TerminalReporter:
    """The Reporter the CLI hands to the core: progress to stderr, honouring -q / -v."""

    def __init__(self, verbosity: int = 0) -> None:
        self.verbosity = verbosity

    def _err(self, text: str) -> None:
        click.echo(text, err=True)

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        """Show fetched pages at -v."""
        if self.verbosity > 0:
            self._err(f"  page {url}{' (cache)' if from_cache else ''}")

    def metadata_fetched(self, filename: str, *, how: str) -> None:
        """Show metadata reads at -v."""
        if self.verbosity > 0:
            self._err(f"  metadata {filename} ({how})")

    def pinned(self, name: str, version: str, source: str) -> None:
        """Show pins at -v."""
        if self.verbosity > 0:
            self._err(f"  pin {name}=={version} from {source}")

    def step(self, description: str) -> None:
        """Show plan steps unless -q."""
        if self.verbosity >= 0:
            self._err(click.style(f"==> {description}", bold=True))

    def note(self, message: str) -> None:
        """Show notes unless -q."""
        if self.verbosity >= 0:
            self._err(f"note: {message}")

    def warning(self, message: str) -> None:
        """Warnings always show."""
        self._err(click.style(f"warning: {message}", fg="yellow"))


def _fail(err: JetpipError) -> None:
    click.echo(click.style("error: ", fg="red", bold=True) + str(err), err=True)
    if err.hint:
        for i, line in enumerate(err.hint.splitlines()):
            click.echo(("hint: " if i == 0 else "      ") + line, err=True)
    sys.exit(err.exit_code)


class _Group(click.Group):
    """Maps every JetpipError to ``error:`` + ``hint:`` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JetpipError as err:
            _fail(err)
        except KeyboardInterrupt:
            click.echo("error: interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jetpip")
def cli() -> None:
    """Jetson-aware wheel resolver and pip wrapper."""


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``jetpip`` script and ``python -m jetpip``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="jetpip")
