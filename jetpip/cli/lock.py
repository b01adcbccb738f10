"""`jetpip lock`: resolve for the Target and write a PEP 751 pylock.toml."""

from __future__ import annotations

import dataclasses

import click

from jetpip.cli.options import (
    IndexOptions,
    TargetOptions,
    editable_option,
    index_options,
    strict_versions_option,
    target_options,
)
from jetpip.cli.output import TerminalReporter, print_json, target_warnings, verbosity_options


@click.command()
@click.argument("reqs", nargs=-1)
@editable_option
@click.option("-r", "--requirement", "req_files", multiple=True, type=click.Path(dir_okay=False),
              help="Read requirements from a pip requirements file (repeatable).")
@click.option("-c", "--constraint", "con_files", multiple=True, type=click.Path(dir_okay=False),
              help="Constrain versions with a pip constraints file (repeatable).")
@click.option("-o", "--output", default="pylock.toml", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the lock.")
@click.option("--dry-run", is_flag=True, help="Show the resolution as a tree; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the resolution as JSON (with each source).")
@strict_versions_option
@target_options
@index_options
@verbosity_options
def lock(
    reqs: tuple[str, ...], editables: tuple[str, ...], req_files: tuple[str, ...], con_files: tuple[str, ...],
    output: str, dry_run: bool, as_json: bool, strict_versions: bool, options: TargetOptions,
    index: IndexOptions, reporter: TerminalReporter,
) -> None:
    """Resolve REQS for the Target and write a PEP 751 pylock.toml.

    CUDA packages (torch, torchvision, onnxruntime-gpu ...) come only from the Target's CUDA
    sources and are pinned first; everything else comes from the first index that has it.
    REQS are read as lines of a requirements file are (names, ./folders, file:, git+ and direct URLs).
    """
    kb, target, route = options.load()
    from pathlib import Path

    from jetpip.api import lock_document, read_requirement_inputs, resolve_and_lock
    from jetpip.index.config import describe
    from jetpip.lock.hashcheck import check_direct_urls
    from jetpip.lock.pylock import write_lock

    target_warnings(reporter, target, route)
    inputs = read_requirement_inputs(reqs, req_files, con_files, editables=editables)
    with index.client(target.interpreter, reporter, files=inputs.settings()) as client:
        for line in describe(client.config):
            reporter.detail(line)
        resolution, locked = resolve_and_lock(inputs.requirements, inputs.constraints, kb=kb, target=target,
                                              route=route, client=client, reporter=reporter,
                                              hashes=not dry_run, strict_versions=strict_versions,
                                              no_build=index.no_build)
        if dry_run:  # no file is fetched, so no --hash is checked; a direct URL still is
            check_direct_urls(locked, client.config)
    if as_json:
        print_json(lock_document(resolution, locked, None if dry_run else output))
    else:
        for line in resolution.tree_lines():
            click.echo(line)
    if dry_run:
        return
    # The lock keeps the command that made it: an error about a vanished file offers it back.
    args = _lock_args(reqs, editables, req_files, con_files, options, index)
    locked = dataclasses.replace(locked, command=(*args, "--strict-versions") if strict_versions else args)
    write_lock(locked, Path(output))
    if not as_json:
        guarded = ", ".join(f"{p.name} {p.version}" for p in locked.guarded()) or "none"
        reporter.step(f"wrote {output}: {len(locked.packages)} packages; guarded: {guarded}")


# Option names that are not the field name with '-' for '_'.
_FLAG_NAMES = {"indexes_file": "--indexes"}
_NOT_REPLAYED = {"offline", "refresh"}  # how this run read the index, not what the lock is


def _lock_args(reqs: tuple[str, ...], editables: tuple[str, ...], req_files: tuple[str, ...],
               con_files: tuple[str, ...], options: TargetOptions, index: IndexOptions) -> tuple[str, ...]:
    """The arguments of `jetpip lock` that make this lock again (no -o; URLs without credentials)."""
    from jetpip.model.urls import Url, redact_text

    args = ["lock", *(redact_text(r) for r in reqs)]
    args += [a for e in editables for a in ("-e", e)]
    args += [a for f in req_files for a in ("-r", f)]
    args += [a for f in con_files for a in ("-c", f)]
    for record in (options, index):
        for field in dataclasses.fields(record):
            value = getattr(record, field.name)
            if field.name in _NOT_REPLAYED or value == field.default:
                continue
            flag = _FLAG_NAMES.get(field.name, "--" + field.name.replace("_", "-"))
            for item in value if isinstance(value, tuple) else (value,):
                text = str(item)
                args += [flag, str(Url(text).without_credentials()) if "://" in text else text]
    return tuple(args)
