"""`jetpip detect`: the Target, each fact with its source, and the Route it leads to."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from jetpip.cli.options import TargetOptions, target_options
from jetpip.cli.output import TerminalReporter, print_json, target_warnings, verbosity_options

if TYPE_CHECKING:
    from jetpip.model.sources import Route
    from jetpip.model.target import Fact, Target


@click.command()
@target_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the Target and Route as JSON (schema jetpip.detect/1, see docs/detect.md).")
@verbosity_options
def detect(options: TargetOptions, as_json: bool, reporter: TerminalReporter) -> None:
    """Show the Target (device and interpreter facts, each with its source) and its Route."""
    _, target, route = options.load()
    if as_json:
        from jetpip.api import detect_document

        print_json(detect_document(target, route))
        return
    if reporter.verbosity < 0:
        _print_one_line(target, route)
    else:
        _print_device(target)
        _print_interpreter(target, reporter.verbosity)
        _print_route(target, route)
    target_warnings(reporter, target, route)


def _fact_line(label: str, fact: Fact | None, suffix: str = "") -> str:
    if fact is None:
        return f"  {label:<18} unknown"
    return f"  {label:<18} {fact.value}{suffix}  ({fact.source})"


def _print_one_line(target: Target, route: Route) -> None:
    jetpack = target.jetpack.value if target.jetpack else "?"
    cuda = target.cuda.value if target.cuda else "?"
    where = f"JetPack {jetpack}, CUDA {cuda}" if target.is_jetson else "not a Jetson"
    click.echo(f"{where}; Python {target.interpreter.version}; route {route.key}")


def _print_device(target: Target) -> None:
    device = target.device
    head = "Jetson" if target.is_jetson else (
        "Not a Jetson (no L4T release, Tegra kernel or device tree found)")
    click.echo(click.style(f"Device: {head}", bold=True) + f"  [root {device.root}]")
    cuda_full = f" (toolkit {device.cuda.value})" if device.cuda and target.cuda and (
        device.cuda.value != target.cuda.value) else ""
    for line in (
        _fact_line("model", device.model),
        _fact_line("SoC", target.soc),
        _fact_line("compute capability", target.compute_capability),
        _fact_line("L4T", target.l4t),
        _fact_line("JetPack", target.jetpack),
        _fact_line("CUDA", target.cuda, cuda_full),
        _fact_line("cuDNN", target.cudnn),
        _fact_line("TensorRT", target.tensorrt),
        _fact_line("Tegra or SBSA", target.arch_kind),
        _fact_line("kernel", device.kernel),
        _fact_line("GPU (nvidia-smi)", device.gpu_name),
        _fact_line("NVIDIA driver", device.driver),
        _fact_line("in a container", device.in_container),
        _fact_line("memory", device.memory_gib, " GiB"),
    ):
        click.echo(line)


def _print_interpreter(target: Target, verbosity: int) -> None:
    from jetpip.model.urls import redact_text

    interp = target.interpreter
    click.echo(click.style("Interpreter:", bold=True) + (
        f" {interp.executable}" if interp.executable else " synthesised from flags (cross target)"))
    click.echo(f"  {'version':<18} {interp.version} ({interp.implementation}, ABI {interp.abi or '-'})")
    tags = interp.platforms
    shown = ", ".join(tags) if verbosity > 0 or len(tags) <= 3 else (
        f"{tags[0]}, ... {tags[-1]} ({len(tags)} tags)")
    click.echo(f"  {'platform tags':<18} {shown}")
    click.echo(f"  {'glibc':<18} {interp.glibc or 'unknown'}")
    if not interp.executable:
        return
    venv = "no"
    if interp.is_venv:
        venv = "yes, " + ("with" if interp.system_site_packages else "without") + " system site-packages"
    click.echo(f"  {'venv':<18} {venv}")
    managed = "yes (PEP 668)" if interp.externally_managed else "no"
    click.echo(f"  {'externally managed':<18} {managed}")
    pip = interp.pip_version or "not installed"
    if interp.pip_default_index:
        pip += f" (its default index: {redact_text(interp.pip_default_index)})"
    click.echo(f"  {'pip':<18} {pip}")
    click.echo(f"  {'installed':<18} {len(interp.installed)} distributions")
    if verbosity > 0:
        for dist in sorted(interp.installed, key=lambda d: d.name):
            system = " [system site-packages]" if dist.in_system_site else ""
            click.echo(f"    {dist.name}=={dist.version}{system}")


def _print_route(target: Target, route: Route) -> None:
    click.echo(click.style(f"Route: {route.key}", bold=True) + f"  {route.summary}")
    if route.sources:
        click.echo("  CUDA sources, in order:")
        for i, source in enumerate(route.sources, 1):
            click.echo(f"    {i}. {source.name} ({source.kind}) {source.url}")
    for source in route.dropped:
        click.echo(f"    left out: {source.name} (no kernels for this device)")
    if route.no_source_reason:
        click.echo(f"  {'no source':<18} {route.no_source_reason}" if target.is_jetson
                   else f"  would use: {route.no_source_reason}")
    if route.guarded:
        shown = (f"{n} (preferred)" if n in route.preferred else n for n in sorted(route.guarded))
        click.echo(f"  {'guarded':<18} {', '.join(shown)}")
    for want, have in sorted(route.substitutions.items()):
        click.echo(f"  {'substitution':<18} {want} -> {have}")
    if route.constraints:
        click.echo(f"  {'constraints':<18} {', '.join(route.constraints)}")
    if route.note:
        click.echo(f"  {'note':<18} {route.note}")
