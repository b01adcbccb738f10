"""The command line: the ``jetpip`` group, its entry points, and the one mapping of errors to exit codes.

Each command lives in its own module and loads the core only once it runs, after the probe of
the target interpreter has started (``TargetOptions.load``), so ``jetpip --help`` stays fast
and the probe runs while the rest of jetpip loads.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence
from typing import Any

import click

from jetpip import __version__
from jetpip.cli import cache, detect, doctor, download, hint, install, lock, sync
from jetpip.cli.output import emit, error
from jetpip.errors import JetpipError

__all__ = ["cli", "main", "run"]


class _Group(click.Group):
    """Maps every JetpipError to ``error:`` + ``hint:`` and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except JetpipError as err:
            error(err)
            raise SystemExit(err.exit_code) from None
        except KeyboardInterrupt:
            emit("error: interrupted")
            raise SystemExit(130) from None
        except OSError as err:
            if err.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # Every cache entry is written to a temporary file and renamed: a full disk leaves no
            # half entry, so the same command converges once there is room.
            error(JetpipError(
                f"the disk is full: {err.strerror} (jetpip's cache is {_cache_dir()})",
                "free some space (`jetpip cache clean` empties the cache), or set JETPIP_CACHE_DIR to a "
                "folder on a disk with room; then run the same command again",
            ))
            raise SystemExit(1) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="jetpip")
def cli() -> None:
    """Jetson-aware wheel resolver and pip wrapper."""


for _command in (cache.cache, detect.detect, doctor.doctor, download.download, hint.hint, install.install,
                 lock.lock, sync.sync):
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command (``argv`` defaults to ``sys.argv[1:]``) and return its exit status."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="jetpip")
    except SystemExit as done:
        if isinstance(done.code, str):  # sys.exit("message"), shown as the interpreter would
            sys.stderr.write(done.code + "\n")
            return 1
        return 0 if done.code is None else done.code
    return 0  # pragma: no cover - click's standalone mode always ends in SystemExit


def run() -> None:
    """Entry point of the ``jetpip`` script and ``python -m jetpip``: ``main``, then a quick exit.

    Every command closes its files, pools, child processes and temporary directories itself, so
    once the output is flushed the process ends at once. An interpreter shutdown would free every
    object one by one first, which costs tens of milliseconds per command on a small board.
    """
    import contextlib
    import os

    from jetpip.cli import heap

    heap.own()  # the collector's settings for a process of jetpip's own (jetpip/cli/heap.py)
    code = main()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`jetpip lock --json | head`)
            stream.flush()
    os._exit(code)


def _cache_dir() -> str:
    from jetpip.index.cache import default_cache_dir

    return str(default_cache_dir())
