"""`jetpip doctor`: check a live environment and print each problem with its fix."""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

import click

from jetpip.cli.options import TargetOptions, target_options
from jetpip.cli.output import emit, print_json
from jetpip.errors import JetpipError, UsageError

if TYPE_CHECKING:
    from jetpip.doctor.model import DoctorContext
    from jetpip.doctor.run import DoctorReport

_LABELS = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red"),
           "error": ("ERROR", "red"), "skip": ("skip", None)}


@click.command()
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema jetpip.doctor/1).")
@click.option("--check-timeout", type=float, default=120.0, show_default=True,
              help="Seconds each probe process may take (importing torch can hang).")
def doctor(options: TargetOptions, as_json: bool, check_timeout: float) -> None:
    """Check a live environment: CUDA torch, arch list, companions, NumPy, onnxruntime, libraries.

    Each problem comes with the command that fixes it. The exit status is 1
    when any check fails or could not run.
    """
    import os

    from jetpip.doctor.run import diagnose
    from jetpip.interpreter.probe import find_target_python

    if options.python_version or options.platform:
        raise UsageError("doctor checks a live interpreter; --python-version and --platform describe "
                         "a cross target", "pass --python PATH of the interpreter to check")
    if check_timeout <= 0:
        raise UsageError(f"--check-timeout {check_timeout:g}: must be more than 0 seconds",
                         "give the seconds each probe may run, e.g. --check-timeout 120")
    python = find_target_python(options.python, os.environ)
    context = _context(dataclasses.replace(options, python=python))
    report = diagnose(python, context, timeout=check_timeout)
    if as_json:
        print_json(report.to_json())
    else:
        _print_report(report)
    sys.exit(0 if report.ok else 1)


def _context(options: TargetOptions) -> DoctorContext:
    """Device facts and route for doctor; when they cannot be had, doctor still checks the interpreter."""
    from jetpip.doctor.model import DoctorContext

    try:
        _kb, target, route = options.load()
    except JetpipError as err:
        return DoctorContext(root=options.root, notes=(f"device facts unavailable: {err}",))
    return DoctorContext.from_target(target, route)


def _print_report(report: DoctorReport) -> None:
    ctx = report.context
    click.echo(f"jetpip doctor: {report.python} (Python {report.python_version})")
    if ctx.summary:
        click.echo(f"device: {ctx.summary}")
    for note in ctx.notes:
        emit(f"note: {note}", err=False)
    click.echo("")
    width = max(len(c.id) for c in report.checks)
    for check in report.checks:
        label, colour = _LABELS[check.status]
        click.echo(f"  {click.style(f'{label:<5}', fg=colour, bold=check.failed)}  "
                   f"{check.id:<{width}}  {check.message}")
        for line in check.fix:
            click.echo(f"  {'':<5}  {'':<{width}}  fix: {line}")
    counts = report.counts()
    click.echo("")
    if report.ok:
        extra = f" ({counts['warn']} warning{'s' * (counts['warn'] != 1)})" if counts["warn"] else ""
        click.echo(f"no problems found{extra}")
    else:
        parts = [f"{counts['fail']} failed"] if counts["fail"] else []
        if counts["error"]:
            parts.append(f"{counts['error']} could not run")
        click.echo(click.style("problems: " + ", ".join(parts), fg="red", bold=True))
