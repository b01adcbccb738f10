"""`jetpip lock`: resolve for the Target and write a PEP 751 pylock.toml."""

from __future__ import annotations

import click

from jetpip.cli.options import IndexOptions, TargetOptions, index_options, target_options
from jetpip.cli.output import TerminalReporter, print_json, target_warnings, verbosity_options


@click.command()
@click.argument("reqs", nargs=-1)
@click.option("-r", "--requirement", "req_files", multiple=True, type=click.Path(dir_okay=False),
              help="Read requirements from a pip requirements file (repeatable).")
@click.option("-c", "--constraint", "con_files", multiple=True, type=click.Path(dir_okay=False),
              help="Constrain versions with a pip constraints file (repeatable).")
@click.option("-o", "--output", default="pylock.toml", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the lock.")
@click.option("--dry-run", is_flag=True, help="Show the resolution as a tree; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the resolution as JSON (with each source).")
@target_options
@index_options
@verbosity_options
def lock(
    reqs: tuple[str, ...], req_files: tuple[str, ...], con_files: tuple[str, ...], output: str,
    dry_run: bool, as_json: bool, options: TargetOptions, index: IndexOptions, reporter: TerminalReporter,
) -> None:
    """Resolve REQS for the Target and write a PEP 751 pylock.toml.

    CUDA packages (torch, torchvision, onnxruntime-gpu ...) come only from the Target's CUDA
    sources and are pinned first; everything else comes from the first index that has it.
    """
    kb, target, route = options.load()
    from pathlib import Path

    from jetpip.api import lock_document, read_requirement_inputs, resolve_and_lock
    from jetpip.index.config import describe
    from jetpip.lock.hashcheck import check_direct_urls
    from jetpip.lock.pylock import write_lock

    target_warnings(reporter, target, route)
    inputs = read_requirement_inputs(reqs, req_files, con_files)
    with index.client(target.interpreter, reporter, files=inputs.settings()) as client:
        for line in describe(client.config):
            reporter.detail(line)
        resolution, locked = resolve_and_lock(inputs.requirements, inputs.constraints, kb=kb, target=target,
                                              route=route, client=client, reporter=reporter,
                                              hashes=not dry_run)
        if dry_run:  # no file is fetched, so no --hash is checked; a direct URL still is
            check_direct_urls(locked, client.config)
    if as_json:
        print_json(lock_document(resolution, locked, None if dry_run else output))
    else:
        for line in resolution.tree_lines():
            click.echo(line)
    if dry_run:
        return
    write_lock(locked, Path(output))
    if not as_json:
        guarded = ", ".join(f"{p.name} {p.version}" for p in locked.guarded()) or "none"
        reporter.step(f"wrote {output}: {len(locked.packages)} packages; guarded: {guarded}")
