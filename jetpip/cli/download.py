"""`jetpip download`: a wheelhouse of a lock's files, for a sync on a machine with no network."""

from __future__ import annotations

import click

from jetpip.cli.options import IndexOptions, index_options
from jetpip.cli.output import TerminalReporter, verbosity_options


@click.command()
@click.argument("lockfile", default="pylock.toml", type=click.Path(dir_okay=False))
@click.option("-d", "--dest", required=True, type=click.Path(file_okay=False),
              help="The wheelhouse directory to fill.")
@index_options
@verbosity_options
def download(lockfile: str, dest: str, index: IndexOptions, reporter: TerminalReporter) -> None:
    """Fill a wheelhouse with LOCKFILE's files, each checked against the lock's sha256.

    Copy the directory to a machine with no network and run
    `jetpip sync LOCKFILE --find-links DIR --offline` there.
    """
    from pathlib import Path

    from jetpip.api import download_lock
    from jetpip.lock.pylock import load_lock

    lock = load_lock(lockfile)
    target_dir = Path(dest)
    # The lock names every file's URL: no index is read, only pip's trust and TLS settings apply.
    with index.client(None, reporter, no_index=True) as client:
        files = download_lock(lock, target_dir, client, reporter, origin=lockfile)
    click.echo(f"{len(files)} files in {target_dir}, each matching the lock's sha256; on the "
               f"offline machine: jetpip sync {lockfile} --find-links {target_dir} --offline")
