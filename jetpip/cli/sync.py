"""`jetpip sync`: make the target environment match a lock exactly."""

from __future__ import annotations

import click

from jetpip.cli.install import carry_out
from jetpip.cli.options import (
    EngineOptions,
    IndexOptions,
    TargetOptions,
    engine_options,
    index_options,
    target_options,
)
from jetpip.cli.output import TerminalReporter, target_warnings, verbosity_options


@click.command()
@click.argument("lockfile", default="pylock.toml", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True,
              help="Print the files to fetch and every installer command; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / outcome as JSON.")
@click.option("--break-system-packages", is_flag=True,
              help="Sync an externally managed (PEP 668) Python anyway; passed on to the installer.")
@engine_options
@target_options
@index_options
@verbosity_options
def sync(
    lockfile: str, dry_run: bool, as_json: bool, break_system_packages: bool, engine: EngineOptions,
    options: TargetOptions, index: IndexOptions, reporter: TerminalReporter,
) -> None:
    """Make the target environment match LOCKFILE exactly (a pylock.toml from `jetpip lock`).

    Installs what is missing or different and removes what the lock does not list, except
    pip, setuptools, wheel, jetpip and a venv's system site-packages. With --find-links DIR
    (a wheelhouse from `jetpip download`) and --offline it needs no network. A project folder
    is built from its path (relative to the lock), a git entry at its locked commit.
    """
    from jetpip.lock.pylock import load_lock

    # The lock is read first: a missing or broken lock fails before any interpreter is probed.
    lock = load_lock(lockfile)
    kb, target, route = options.load()
    from jetpip.api import plan_sync

    target_warnings(reporter, target, route)
    # The lock names every file's URL: no index is read, only pip's trust and TLS settings apply;
    # except that a build's requirements (an sdist's, a source tree's) come from the indexes, as pip's would.
    builds = any(p.is_sdist or p.project is not None for p in lock.packages)
    with index.client(None, reporter, no_index=not builds) as client:
        plan = plan_sync(lock, target=target, route=route, find_links=index.find_links, offline=index.offline,
                         installer=engine.installer, compile_bytecode=engine.compile_bytecode,
                         break_system_packages=break_system_packages, origin=lockfile, reporter=reporter,
                         kb=kb, no_build=index.no_build, client=client)
        carry_out(plan, target.interpreter, route, client, dry_run=dry_run, as_json=as_json,
                  reporter=reporter)
