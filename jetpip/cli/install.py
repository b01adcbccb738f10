"""`jetpip install`, and how install and sync show a plan or carry it out."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jetpip.cli.options import (
    EngineOptions,
    IndexOptions,
    TargetOptions,
    editable_option,
    engine_options,
    index_options,
    strict_versions_option,
    target_options,
)
from jetpip.cli.output import TerminalReporter, print_json, target_warnings, verbosity_options

if TYPE_CHECKING:
    from jetpip.index.client import IndexClient
    from jetpip.install.driver import InstallOutcome
    from jetpip.install.plan import InstallPlan
    from jetpip.model.sources import Route
    from jetpip.model.target import Interpreter


@click.command()
@click.argument("reqs", nargs=-1)
@editable_option
@click.option("-r", "--requirement", "req_files", multiple=True, type=click.Path(dir_okay=False),
              help="Install from a pip requirements file (repeatable).")
@click.option("-c", "--constraint", "con_files", multiple=True, type=click.Path(dir_okay=False),
              help="Constrain versions with a pip constraints file (repeatable).")
@click.option("--dry-run", is_flag=True,
              help="Print the files to fetch and every installer command; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / outcome as JSON.")
@click.option("--break-system-packages", is_flag=True,
              help="Install into an externally managed (PEP 668) Python anyway; passed on to the installer.")
@strict_versions_option
@click.option("--strict", is_flag=True,
              help="Fail when an installed CUDA package is not the route's build and the route has none "
                   "to replace it (default: a warning).")
@engine_options
@target_options
@index_options
@verbosity_options
def install(
    reqs: tuple[str, ...], editables: tuple[str, ...], req_files: tuple[str, ...], con_files: tuple[str, ...],
    dry_run: bool, as_json: bool, break_system_packages: bool, strict_versions: bool, strict: bool,
    engine: EngineOptions, options: TargetOptions, index: IndexOptions, reporter: TerminalReporter,
) -> None:
    """Install REQS into the target interpreter with CUDA builds for this Jetson, and keep them.

    REQS are read as lines of a requirements file are: names, project folders (./app), and
    file:, git+ and direct URLs.

    jetpip resolves for the Target and fetches every file into its cache (in parallel, each
    hash-checked). Then uv (or the target's pip) installs them from disk: shadowing builds out,
    CUDA wheels, the rest (all --no-deps), then jetpip re-asserts the CUDA builds and checks
    every requirement. Re-running is safe.
    """
    kb, target, route = options.load()
    import tempfile
    from pathlib import Path

    from jetpip.api import plan_install, read_requirement_inputs, satisfied_already

    target_warnings(reporter, target, route)
    inputs = read_requirement_inputs(reqs, req_files, con_files, editables=editables)
    requirements, constraints = list(inputs.requirements), list(inputs.constraints)
    # As pip's "Requirement already satisfied": no index is asked when nothing would change. A file
    # with index options, --hash or direct URLs is checked against the index, as pip checks it.
    done = None if as_json or inputs.first_option() is not None else satisfied_already(
        requirements, constraints, target=target, route=route, reporter=reporter)
    if done is not None:
        click.echo(done.summary(len(requirements)))
        return
    with index.client(target.interpreter, reporter, files=inputs.settings()) as client, \
            tempfile.TemporaryDirectory(prefix="jetpip-install-") as tmp:
        plan = plan_install(
            requirements, constraints, kb=kb, target=target, route=route, client=client,
            workdir=Path(tmp), installer=engine.installer, compile_bytecode=engine.compile_bytecode,
            break_system_packages=break_system_packages, reporter=reporter, strict_versions=strict_versions,
            strict=strict, no_build=index.no_build, ahead=not dry_run,
        )
        try:
            carry_out(plan, target.interpreter, route, client, dry_run=dry_run, as_json=as_json,
                      reporter=reporter)
        finally:
            if plan.ahead is not None:  # the run ends its unpack itself; this is for a run that never began
                plan.ahead.stop()


def carry_out(plan: InstallPlan, before: Interpreter, route: Route, client: IndexClient, *, dry_run: bool,
              as_json: bool, reporter: TerminalReporter) -> None:
    """Print the plan (a dry run) or run it, then say what changed and what the checks found."""
    from jetpip.api import broken_requirements_error, run_plan

    if dry_run:
        if as_json:
            print_json(plan.to_json())
        else:
            click.echo(plan.render())
            click.echo("dry run: nothing was changed")
        return
    echo = (lambda line: reporter.detail(f"    {line}")) if reporter.verbosity > 0 else None
    outcome = run_plan(plan, before=before, route=route, client=client, reporter=reporter, echo=echo)
    for shadow in outcome.shadows:
        reporter.warning(shadow)
    if as_json:
        print_json(outcome.to_json())
    elif plan.is_noop:
        click.echo(f"nothing to do: all {len(plan.actions)} packages are already installed as planned")
    else:
        _print_changes(plan, outcome)
    if outcome.broken:
        raise broken_requirements_error(outcome.broken, plan)


def _print_changes(plan: InstallPlan, outcome: InstallOutcome) -> None:
    verbs = {"install": "installed", "replace": "replaced", "remove": "removed"}
    for action in plan.changes():
        was = f" (was {action.installed})" if action.installed and action.kind != "remove" else ""
        what = action.version or action.installed
        cuda = " [CUDA build]" if action.guarded else ""
        click.echo(f"  {verbs[action.kind]:<9} {action.name} {what}{was}{cuda}: {action.reason}")
    for m in outcome.reinstalled:
        click.echo(f"  re-asserted {m.package.name} {m.package.version} ({m.reason})")
    counts = {k: sum(1 for a in plan.actions if a.kind == k)
              for k in ("install", "replace", "remove", "keep")}
    guarded = ", ".join(f"{p.name} {p.version}" for p in plan.guarded) or "none"
    engine = plan.engine.version or plan.engine.name
    click.echo(f"done with {engine}: {counts['install']} installed, {counts['replace']} replaced, "
               f"{counts['remove']} removed, {counts['keep']} already right; CUDA builds in place: {guarded}")
