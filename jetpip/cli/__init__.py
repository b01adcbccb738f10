"""The command line: parse, build objects, call one core function, map errors to exit codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

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
    """Run one command; ends with SystemExit, as click's standalone mode does."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="jetpip")


def run() -> None:
    """Entry point of the ``jetpip`` script and ``python -m jetpip``: ``main``, then a quick exit.

    Every command closes its files, pools, child processes and temporary directories itself, so
    once the output is flushed the process ends at once. An interpreter shutdown would free every
    object one by one first, which costs tens of milliseconds per command on a small board.
    """
    import contextlib
    import gc
    import os

    # A run allocates hundreds of thousands of short-lived objects (index pages, parsed as JSON)
    # and almost no reference cycles; the default collector would walk the young objects every
    # 700 allocations, a tenth of the CPU of a cold lock.
    gc.set_threshold(100_000, 20, 20)
    try:
        main()
        code: object = 0
    except SystemExit as done:
        code = done.code
    if isinstance(code, str):  # sys.exit("message"), as the interpreter would show it
        sys.stderr.write(code + "\n")
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`jetpip lock --json | head`)
            stream.flush()
    os._exit(code if isinstance(code, int) else 0 if code is None else 1)


# ---------------------------------------------------------------------------
# Shared option groups. Each command takes what it needs and builds its objects
# with the helpers below; imports of the core are lazy so `jetpip --help` stays fast.
# ---------------------------------------------------------------------------


def target_options(func: F) -> F:
    """Options that choose the Target: where device facts come from, the interpreter, overrides."""
    opts = [
        click.option("--root", type=click.Path(file_okay=False), default="/", show_default=True,
                     help="Read device facts from this root directory."),
        click.option("--python", "python", default=None,
                     help="Target interpreter (default: active venv, else python3 on PATH)."),
        click.option("--jetpack", default=None, help="Override the JetPack version, e.g. 6.2."),
        click.option("--l4t", default=None, help="Override the L4T release, e.g. 36.4.3."),
        click.option("--cuda", default=None, help="Override the CUDA version, e.g. 12.6."),
        click.option("--soc", default=None, help="Override the SoC, e.g. tegra234."),
        click.option("--compute-capability", default=None, help="Override the compute capability, e.g. 8.7."),
        click.option("--arch-kind", type=click.Choice(["tegra", "sbsa"]), default=None,
                     help="Override Tegra or SBSA."),
        click.option("--python-version", default=None,
                     help="Lock for this Python (e.g. 3.10) instead of probing an interpreter."),
        click.option("--platform", default=None,
                     help="Lock for this platform tag (e.g. linux_aarch64) instead of probing."),
        click.option("--glibc", default=None, help="glibc of a cross target (default: JetPack table)."),
        click.option("--indexes", "indexes_file", type=click.Path(dir_okay=False), default=None,
                     help="An indexes.toml layered over the built-in one (also JETPIP_INDEXES)."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def index_options(func: F) -> F:
    """Options as pip's: they win over the target's pip config and PIP_* variables."""
    opts = [
        click.option("--index-url", "-i", default=None, help="Base index (default: target's pip config)."),
        click.option("--extra-index-url", multiple=True, help="Extra index, after the base one."),
        click.option("--find-links", "-f", multiple=True, help="A flat link page or a directory of wheels."),
        click.option("--trusted-host", multiple=True, help="Host whose files may lack hashes / bad TLS."),
        click.option("--cert", default=None, help="CA bundle for TLS (default: the system trust store)."),
        click.option("--client-cert", default=None, help="Client certificate (PEM with key)."),
        click.option("--timeout", type=float, default=None, help="Per-request timeout in seconds."),
        click.option("--retries", type=int, default=None, help="Retries for 5xx and timeouts."),
        click.option("--offline", is_flag=True, help="Use only the cache; say what is missing."),
        click.option("--refresh", is_flag=True, help="Revalidate every cached page."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def verbosity_options(func: F) -> F:
    """-q / -v."""
    func = click.option("-v", "--verbose", count=True, help="More output.")(func)
    func = click.option("-q", "--quiet", count=True, help="Less output.")(func)
    return func


_TARGET_KEYS = ("root", "python", "jetpack", "l4t", "cuda", "soc", "compute_capability", "arch_kind",
                "python_version", "platform", "glibc", "indexes_file")
_INDEX_KEYS = ("index_url", "extra_index_url", "find_links", "trusted_host", "cert", "client_cert",
               "timeout", "retries", "offline", "refresh")


# --- section: detect (owner: detect/interpreter) ---------------------------

if TYPE_CHECKING:  # names for annotations only; the core loads lazily
    from jetpip.knowledge.base import KnowledgeBase
    from jetpip.model.sources import Route
    from jetpip.model.target import Fact, Target


def _target_from_options(
    root: str,
    python: str | None,
    jetpack: str | None,
    l4t: str | None,
    cuda: str | None,
    soc: str | None,
    compute_capability: str | None,
    arch_kind: str | None,
    python_version: str | None,
    platform: str | None,
    glibc: str | None,
    indexes_file: str | None,
) -> tuple[KnowledgeBase, Target, Route]:
    """Build the knowledge base, the Target and its Route from the ``@target_options`` values."""
    import os

    from jetpip.interpreter.probe import start_probe
    from jetpip.model.target import TargetOverrides

    overrides = TargetOverrides(
        jetpack=jetpack, l4t=l4t, cuda=cuda, soc=soc, compute_capability=compute_capability,
        arch_kind=arch_kind, python_version=python_version, platform=platform, glibc=glibc,
    )
    # A cross Target has no interpreter to probe. Otherwise the probe starts before the workflow
    # and the knowledge base load, and runs in its own process meanwhile.
    probe = None if overrides.is_cross else start_probe(python, os.environ)
    from jetpip.api import load_target

    return load_target(root=root, python=python, overrides=overrides, indexes_file=indexes_file,
                       probe=probe)


def _detect_document(target: Target, route: Route) -> dict[str, Any]:
    """The ``detect --json`` document (schema ``jetpip.detect/1``, docs/detect.md)."""
    from jetpip.knowledge.base import route_to_json

    target_json = target.to_json()
    return {
        "schema": "jetpip.detect/1",
        "target": target_json,
        "route": route_to_json(route),
        "warnings": list(target_json["warnings"]) + list(route.warnings),
    }


def _fact_line(label: str, fact: Fact | None, suffix: str = "") -> str:
    if fact is None:
        return f"  {label:<18} unknown"
    return f"  {label:<18} {fact.value}{suffix}  ({fact.source})"


def _print_detect(target: Target, route: Route, verbosity: int) -> None:
    from jetpip.model.urls import redact, redact_text

    device, interp = target.device, target.interpreter
    if verbosity < 0:
        jetpack = target.jetpack.value if target.jetpack else "?"
        cuda = target.cuda.value if target.cuda else "?"
        where = f"JetPack {jetpack}, CUDA {cuda}" if target.is_jetson else "not a Jetson"
        click.echo(f"{where}; Python {interp.version}; route {route.key}")
    else:
        head = "Jetson" if target.is_jetson else (
            "Not a Jetson (no L4T release, Tegra kernel or device tree found)")
        click.echo(click.style(f"Device: {head}", bold=True) + f"  [root {device.root}]")
        cuda_full = f" (toolkit {device.cuda.value})" if device.cuda and target.cuda and (
            device.cuda.value != target.cuda.value) else ""
        memory = target.device.memory_gib
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
            _fact_line("in a container", device.in_container),
            _fact_line("memory", memory, " GiB"),
        ):
            click.echo(line)
        click.echo(click.style("Interpreter:", bold=True) + (
            f" {interp.executable}" if interp.executable else " synthesised from flags (cross target)"))
        click.echo(f"  {'version':<18} {interp.version} ({interp.implementation}, ABI {interp.abi or '-'})")
        tags = interp.platforms
        shown = ", ".join(tags) if verbosity > 0 or len(tags) <= 3 else (
            f"{tags[0]}, ... {tags[-1]} ({len(tags)} tags)")
        click.echo(f"  {'platform tags':<18} {shown}")
        click.echo(f"  {'glibc':<18} {interp.glibc or 'unknown'}")
        if interp.executable:
            venv = "no"
            if interp.is_venv:
                venv = "yes, " + ("with" if interp.system_site_packages else "without") + \
                    " system site-packages"
            click.echo(f"  {'venv':<18} {venv}")
            managed = "yes (PEP 668)" if interp.externally_managed else "no"
            click.echo(f"  {'externally managed':<18} {managed}")
            pip = interp.pip_version or "not installed"
            if interp.pip_default_index:
                pip += f" (its default index: {redact(interp.pip_default_index)})"
            click.echo(f"  {'pip':<18} {pip}")
            click.echo(f"  {'installed':<18} {len(interp.installed)} distributions")
            if verbosity > 0:
                for dist in sorted(interp.installed, key=lambda d: d.name):
                    system = " [system site-packages]" if dist.in_system_site else ""
                    click.echo(f"    {dist.name}=={dist.version}{system}")
        click.echo(click.style(f"Route: {route.key}", bold=True) + f"  {route.summary}")
        if route.sources:
            click.echo("  CUDA sources, in order:")
            for i, source in enumerate(route.sources, 1):
                click.echo(f"    {i}. {source.name} ({source.kind}) {redact(source.url)}")
        for source in route.dropped:
            click.echo(f"    left out: {source.name} (no kernels for this device)")
        if route.no_source_reason:
            click.echo(f"  {'no source':<18} {route.no_source_reason}" if target.is_jetson
                       else f"  would use: {route.no_source_reason}")
        if route.guarded:
            click.echo(f"  {'guarded':<18} {', '.join(sorted(route.guarded))}")
        for want, have in sorted(route.substitutions.items()):
            click.echo(f"  {'substitution':<18} {want} -> {have}")
        if route.constraints:
            click.echo(f"  {'constraints':<18} {', '.join(route.constraints)}")
        if route.note:
            click.echo(f"  {'note':<18} {route.note}")
    for message in list(target.warnings) + list(device.warnings) + list(route.warnings):
        click.echo(click.style(f"warning: {redact_text(message)}", fg="yellow"), err=True)


@cli.command()
@target_options
@click.option("--json", "as_json", is_flag=True,
              help="Print the Target and Route as JSON (schema jetpip.detect/1, see docs/detect.md).")
@verbosity_options
def detect(
    root: str, python: str | None, jetpack: str | None, l4t: str | None, cuda: str | None,
    soc: str | None, compute_capability: str | None, arch_kind: str | None,
    python_version: str | None, platform: str | None, glibc: str | None,
    indexes_file: str | None, as_json: bool, quiet: int, verbose: int,
) -> None:
    """Show the Target (device and interpreter facts, each with its source) and its Route."""
    import json

    _, target, route = _target_from_options(
        root, python, jetpack, l4t, cuda, soc, compute_capability, arch_kind, python_version,
        platform, glibc, indexes_file,
    )
    if as_json:
        click.echo(json.dumps(_detect_document(target, route), indent=2))
        return
    _print_detect(target, route, verbose - quiet)


# --- section: hint (owner: knowledge/hints) --------------------------------


@cli.command()
@click.argument("package")
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print the hint as JSON (schema jetpip.hint/1).")
def hint(
    package: str, root: str, python: str | None, jetpack: str | None, l4t: str | None,
    cuda: str | None, soc: str | None, compute_capability: str | None, arch_kind: str | None,
    python_version: str | None, platform: str | None, glibc: str | None,
    indexes_file: str | None, as_json: bool,
) -> None:
    """Show how to get PACKAGE when no wheel fits: the source build tuned to the Target, and alternatives.

    Nothing is fetched; the recipe comes from indexes.toml's [recipes].
    """
    import json

    from jetpip.knowledge.hints import build_hint

    kb, target, route = _target_from_options(
        root, python, jetpack, l4t, cuda, soc, compute_capability, arch_kind, python_version,
        platform, glibc, indexes_file,
    )
    result = build_hint(kb, target, route, package)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.render())
    if result.package not in route.guarded:
        click.echo(f"note: {result.package} is not guarded on route {route.key}: jetpip takes it "
                   "from the base index like any other package", err=True)
    for message in (*target.warnings, *route.warnings):
        click.echo(click.style(f"warning: {message}", fg="yellow"), err=True)


# --- section: cache (owner: index client) -----------------------------------


def _index_client_from_options(
    target: Any,
    reporter: Any,
    index_url: str | None = None,
    extra_index_url: Sequence[str] = (),
    find_links: Sequence[str] = (),
    trusted_host: Sequence[str] = (),
    cert: str | None = None,
    client_cert: str | None = None,
    timeout: float | None = None,
    retries: int | None = None,
    offline: bool = False,
    refresh: bool = False,
) -> Any:
    """An IndexClient from the ``@index_options`` values; ``target`` is a Target, an Interpreter or None."""
    from jetpip.api import index_client

    flags = {
        "index_url": index_url, "extra_index_url": tuple(extra_index_url),
        "find_links": tuple(find_links), "trusted_host": tuple(trusted_host), "cert": cert,
        "client_cert": client_cert, "timeout": timeout, "retries": retries,
    }
    interpreter = getattr(target, "interpreter", target)
    return index_client(interpreter, flags, reporter=reporter, offline=offline, refresh=refresh)


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover


@cli.group("cache")
def cache_group() -> None:
    """Inspect or empty jetpip's cache of index pages, metadata and wheels."""


@cache_group.command("dir")
def cache_dir_cmd() -> None:
    """Print the cache directory (JETPIP_CACHE_DIR overrides it)."""
    from jetpip.index.cache import default_cache_dir

    click.echo(str(default_cache_dir()))


@cache_group.command("info")
def cache_info_cmd() -> None:
    """Show what the cache holds."""
    from jetpip.index.cache import CACHE_FORMAT, Cache, default_cache_dir

    root = default_cache_dir()
    info = Cache(root).info()
    click.echo(f"cache: {root} (format {CACHE_FORMAT})")
    for kind in ("pages", "metadata", "wheels", "other"):
        count, size = info.get(kind, (0, 0))
        click.echo(f"  {kind:<9} {count:>6} entries  {_human_size(size):>10}")
    total = sum(size for _, size in info.values())
    click.echo(f"  {'total':<9} {sum(c for c, _ in info.values()):>6} entries  {_human_size(total):>10}")


@cache_group.command("clean")
def cache_clean_cmd() -> None:
    """Remove everything in the cache."""
    from jetpip.index.cache import Cache, default_cache_dir

    root = default_cache_dir()
    freed = Cache(root).clean()
    click.echo(f"removed {root} ({_human_size(freed)})")


# --- section: lock (owner: resolver/lock) ----------------------------------


@cli.command("lock")
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
    dry_run: bool, as_json: bool, quiet: int, verbose: int, **opts: Any,
) -> None:
    """Resolve REQS for the Target and write a PEP 751 pylock.toml.

    CUDA packages (torch, torchvision, onnxruntime-gpu ...) come only from the Target's CUDA
    sources and are pinned first; everything else comes from the first index that has it.
    """
    kb, target, route = _target_from_options(*(opts.pop(k) for k in _TARGET_KEYS))
    import json
    import tempfile
    from pathlib import Path

    from jetpip.api import hashed_lock, read_inputs, resolve_for
    from jetpip.lock.pylock import lock_from_resolution, lock_to_dict, write_lock

    reporter = TerminalReporter(verbose - quiet)
    for warning in (*target.warnings, *route.warnings):
        reporter.warning(warning)
    if not route.sources and route.no_source_reason and target.is_jetson:
        reporter.warning(route.no_source_reason)
    requirements, constraints = read_inputs(reqs, req_files, con_files)
    with _index_client_from_options(target, reporter, **opts) as client:
        resolution = resolve_for(requirements, constraints, kb=kb, target=target, route=route,
                                 client=client, reporter=reporter)
        if dry_run:
            locked = lock_from_resolution(resolution)
        else:
            with tempfile.TemporaryDirectory(prefix="jetpip-lock-") as tmp:
                locked = hashed_lock(resolution, client, Path(tmp))
    if as_json:
        doc = resolution.to_json()
        doc["target"] = dict(locked.target)
        doc["lock"] = None if dry_run else str(output)
        if not dry_run:
            doc["pylock"] = json.loads(json.dumps(lock_to_dict(locked), default=str))
        click.echo(json.dumps(doc, indent=2, sort_keys=False))
    else:
        for line in resolution.tree_lines():
            click.echo(line)
    if not dry_run:
        write_lock(locked, Path(output))
        if not as_json:
            guarded = ", ".join(f"{p.name} {p.version}" for p in locked.guarded()) or "none"
            reporter.step(f"wrote {output}: {len(locked.packages)} packages; guarded: {guarded}")


# --- section: install, sync, download (owner: plan/pip driver) --------------

def _run_plan(plan: Any, interpreter: Any, route: Any, dry_run: bool, as_json: bool,
              reporter: TerminalReporter) -> None:
    """Print the plan (dry run) or execute it, then report what happened and what the checks found."""
    import json

    from jetpip.api import broken_requirements_error, run_plan

    if dry_run:
        if as_json:
            click.echo(json.dumps(plan.to_json(), indent=2))
        else:
            click.echo(plan.render())
            click.echo("dry run: nothing was changed")
        return
    echo = (lambda line: click.echo(f"    {line}", err=True)) if reporter.verbosity > 0 else None
    outcome = run_plan(plan, before=interpreter, route=route, reporter=reporter, echo=echo)
    for shadow in outcome.shadows:
        reporter.warning(shadow)
    if as_json:
        click.echo(json.dumps(outcome.to_json(), indent=2))
    elif plan.is_noop:
        click.echo(f"nothing to do: all {len(plan.actions)} packages are already installed as planned")
    else:
        _print_changes(plan, outcome)
    if outcome.broken:
        raise broken_requirements_error(outcome.broken, plan)


def _print_changes(plan: Any, outcome: Any) -> None:
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
    click.echo(f"done: {counts['install']} installed, {counts['replace']} replaced, "
               f"{counts['remove']} removed, {counts['keep']} already right; CUDA builds in place: {guarded}")


@cli.command()
@click.argument("reqs", nargs=-1)
@click.option("-r", "--requirement", "req_files", multiple=True, type=click.Path(dir_okay=False),
              help="Install from a pip requirements file (repeatable).")
@click.option("-c", "--constraint", "con_files", multiple=True, type=click.Path(dir_okay=False),
              help="Constrain versions with a pip constraints file (repeatable).")
@click.option("--dry-run", is_flag=True,
              help="Print every pip command the install would run; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / outcome as JSON.")
@click.option("--break-system-packages", is_flag=True,
              help="Install into an externally managed (PEP 668) Python anyway; passed on to pip.")
@target_options
@index_options
@verbosity_options
def install(
    reqs: tuple[str, ...], req_files: tuple[str, ...], con_files: tuple[str, ...], dry_run: bool,
    as_json: bool, break_system_packages: bool, quiet: int, verbose: int, **opts: Any,
) -> None:
    """Install REQS into the target interpreter with CUDA builds for this Jetson, and keep them.

    jetpip resolves for the Target, then runs the target's own pip: shadowing builds out,
    CUDA wheels by exact URL and hash, the rest by exact URL and hash (all --no-deps), then
    re-asserts the CUDA builds and checks every requirement. Re-running is safe.
    """
    kb, target, route = _target_from_options(*(opts.pop(k) for k in _TARGET_KEYS))
    import tempfile
    from pathlib import Path

    from jetpip.api import pip_args, plan_install, read_inputs, satisfied_already

    reporter = TerminalReporter(verbose - quiet)
    for warning in (*target.warnings, *route.warnings):
        reporter.warning(warning)
    requirements, constraints = read_inputs(reqs, req_files, con_files)
    # As pip's "Requirement already satisfied": no index is asked when nothing would change.
    done = None if as_json else satisfied_already(requirements, constraints, target=target, route=route,
                                                   reporter=reporter)
    if done is not None:
        click.echo(done.summary(len(requirements)))
        return
    with _index_client_from_options(target.interpreter, reporter, **opts) as client, \
            tempfile.TemporaryDirectory(prefix="jetpip-install-") as tmp:
        plan = plan_install(
            requirements, constraints, kb=kb, target=target, route=route, client=client,
            workdir=Path(tmp), install_args=pip_args(opts, break_system_packages),
            break_system_packages=break_system_packages, reporter=reporter,
        )
        _run_plan(plan, target.interpreter, route, dry_run, as_json, reporter)


@cli.command()
@click.argument("lockfile", default="pylock.toml", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print every pip command the sync would run; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the plan / outcome as JSON.")
@click.option("--break-system-packages", is_flag=True,
              help="Sync an externally managed (PEP 668) Python anyway; passed on to pip.")
@target_options
@index_options
@verbosity_options
def sync(
    lockfile: str, dry_run: bool, as_json: bool, break_system_packages: bool, quiet: int,
    verbose: int, **opts: Any,
) -> None:
    """Make the target environment match LOCKFILE exactly (a pylock.toml from `jetpip lock`).

    Installs what is missing or different and removes what the lock does not list, except
    pip, setuptools, wheel, jetpip and a venv's system site-packages. With --find-links DIR
    (a wheelhouse from `jetpip download`) and --offline it needs no network.
    """
    from jetpip.api import pip_args, plan_sync
    from jetpip.lock.pylock import load_lock

    lock = load_lock(lockfile)
    _kb, target, route = _target_from_options(*(opts.pop(k) for k in _TARGET_KEYS))
    reporter = TerminalReporter(verbose - quiet)
    plan = plan_sync(lock, target=target, route=route, find_links=opts["find_links"],
                     offline=opts["offline"], install_args=pip_args(opts, break_system_packages),
                     break_system_packages=break_system_packages, origin=lockfile)
    _run_plan(plan, target.interpreter, route, dry_run, as_json, reporter)


@cli.command()
@click.argument("lockfile", default="pylock.toml", type=click.Path(dir_okay=False))
@click.option("-d", "--dest", required=True, type=click.Path(file_okay=False),
              help="The wheelhouse directory to fill.")
@index_options
@verbosity_options
def download(lockfile: str, dest: str, quiet: int, verbose: int, **opts: Any) -> None:
    """Fill a wheelhouse with LOCKFILE's files, each checked against the lock's sha256.

    Copy the directory to a machine with no network and run
    `jetpip sync LOCKFILE --find-links DIR --offline` there.
    """
    from pathlib import Path

    from jetpip.api import download_lock, index_client
    from jetpip.lock.pylock import load_lock

    lock = load_lock(lockfile)
    reporter = TerminalReporter(verbose - quiet)
    target_dir = Path(dest)
    # The lock names every file's URL: no index is read, only pip's trust and TLS settings apply.
    flags = {k: v for k, v in opts.items() if k not in ("offline", "refresh")}
    show = (lambda path: click.echo(f"  {path.name}", err=True)) if verbose - quiet > 0 else None
    with index_client(None, {**flags, "no_index": True}, reporter=reporter, offline=opts["offline"],
                      refresh=opts["refresh"]) as client:
        download_lock(lock, target_dir, client, on_file=show)
    click.echo(f"{len(lock.packages)} files in {target_dir}, each matching the lock's sha256; on the "
               f"offline machine: jetpip sync {lockfile} --find-links {target_dir} --offline")


# --- section: doctor (owner: doctor) ----------------------------------------
_DOCTOR_LABELS = {"ok": ("ok", "green"), "warn": ("warn", "yellow"), "fail": ("FAIL", "red"),
                  "error": ("ERROR", "red"), "skip": ("skip", None)}


def _doctor_context(opts: dict[str, Any]) -> Any:
    """Device facts and route for doctor; when they cannot be had, doctor still checks the interpreter."""
    from jetpip.doctor.model import DoctorContext

    try:
        _kb, target, route = _target_from_options(**opts)
    except JetpipError as err:
        return DoctorContext(root=opts["root"], notes=(f"device facts unavailable: {err}",))
    return DoctorContext.from_target(target, route)


def _print_doctor(report: Any) -> None:
    ctx = report.context
    click.echo(f"jetpip doctor: {report.python} (Python {report.python_version})")
    if ctx.summary:
        click.echo(f"device: {ctx.summary}")
    for note in ctx.notes:
        click.echo(f"note: {note}")
    click.echo("")
    width = max(len(c.id) for c in report.checks)
    for check in report.checks:
        label, colour = _DOCTOR_LABELS[check.status]
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


@cli.command()
@target_options
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON (schema jetpip.doctor/1).")
@click.option("--check-timeout", type=float, default=120.0, show_default=True,
              help="Seconds each probe process may take (importing torch can hang).")
def doctor(as_json: bool, check_timeout: float, **opts: Any) -> None:
    """Check a live environment: CUDA torch, arch list, companions, NumPy, onnxruntime, libraries.

    Each problem comes with the command that fixes it. The exit status is 1
    when any check fails or could not run.
    """
    import json
    import os

    from jetpip.doctor.run import diagnose
    from jetpip.errors import UsageError
    from jetpip.interpreter.probe import find_target_python

    if opts.get("python_version") or opts.get("platform"):
        raise UsageError("doctor checks a live interpreter; --python-version and --platform describe "
                         "a cross target", "pass --python PATH of the interpreter to check")
    if check_timeout <= 0:
        raise UsageError(f"--check-timeout {check_timeout:g}: must be more than 0 seconds",
                         "give the seconds each probe may run, e.g. --check-timeout 120")
    python = find_target_python(opts.get("python"), os.environ)
    context = _doctor_context({**opts, "python": python})
    report = diagnose(python, context, timeout=check_timeout)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2, sort_keys=False))
    else:
        _print_doctor(report)
    sys.exit(0 if report.ok else 1)
