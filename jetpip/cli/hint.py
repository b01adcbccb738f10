"""`jetpip hint`: how to get a package no wheel fits, from the Target's recipe and alternatives."""

from __future__ import annotations

import click

from jetpip.cli.options import TargetOptions, target_options
from jetpip.cli.output import TerminalReporter, print_json, target_warnings


@click.command()
@click.argument("package")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print the hint as JSON (schema jetpip.hint/1).")
def hint(package: str, options: TargetOptions, as_json: bool) -> None:
    """Show how to get PACKAGE when no wheel fits: the source build tuned to the Target, and alternatives.

    Nothing is fetched; the recipe comes from indexes.toml's [recipes].
    """
    kb, target, route = options.load()
    from jetpip.knowledge.hints import build_hint

    result = build_hint(kb, target, route, package)
    if as_json:
        print_json(result.to_json())
    else:
        click.echo(result.render())
    reporter = TerminalReporter()
    if result.package not in route.guarded:
        reporter.note(f"{result.package} is not guarded on route {route.key}: jetpip takes it from the "
                      "base index like any other package")
    target_warnings(reporter, target, route)
