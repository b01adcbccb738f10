"""The library's entry points: build the Target, resolve, lock, plan, install, sync, download."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from packaging.utils import canonicalize_name

from jetpip.errors import (
    BrokenRequirementsError,
    GuardedWheelMissingError,
    HashMismatchError,
    JetpipError,
    OfflineMissError,
)
from jetpip.index.cache import file_hash
from jetpip.knowledge.base import KnowledgeBase
from jetpip.model.sources import Route, Source
from jetpip.model.target import Interpreter, Target, TargetOverrides
from jetpip.report import Reporter

if TYPE_CHECKING:  # annotations only: jetpip.lock.pylock loads where a lock is made, never on a no-op install
    from jetpip.index.client import IndexClient
    from jetpip.install.driver import InstallOutcome
    from jetpip.install.plan import InstallPlan
    from jetpip.install.verify import BrokenRequirement, Satisfaction
    from jetpip.interpreter.probe import ProbeRun
    from jetpip.lock.pylock import Lock
    from jetpip.model.documents import DetectDocument, ResolutionDocument
    from jetpip.resolve.requirements import RequirementLine
    from jetpip.resolve.resolution import Resolution

# pip, not jetpip, downloads the files of an online install, so an earlier online install
# leaves nothing behind: only `jetpip lock` (pages) and `jetpip download` (wheels) fill the cache.
OFFLINE_INSTALL_HINT = (
    "install --offline reads only jetpip's own cache, which `jetpip lock` (index pages) and "
    "`jetpip download` (wheels) fill; an earlier online install does not. While online: "
    "`jetpip lock PKGS -o pylock.toml` and `jetpip download pylock.toml -d DIR`; then offline: "
    "`jetpip sync pylock.toml --find-links DIR --offline`"
)


class IndexFlags(TypedDict, total=False):
    """pip's index and trust options, as jetpip's flags give them; each wins over pip's own configuration."""

    index_url: str | None
    extra_index_url: Sequence[str]
    find_links: Sequence[str]  # directories or pages of files
    trusted_host: Sequence[str]
    cert: str | None  # a CA bundle
    client_cert: str | None
    timeout: float | None  # seconds
    retries: int | None
    proxy: str | None
    no_index: bool  # only find_links (and the cache) are read


def load_target(
    *,
    root: str | Path = "/",
    python: str | None = None,
    overrides: TargetOverrides | None = None,
    indexes_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    probe: ProbeRun | None = None,
) -> tuple[KnowledgeBase, Target, Route]:
    """Read the device under ``root``, probe (or synthesise) the interpreter, and route the Target.

    ``probe``: the probe of ``python``, started already by ``interpreter.start_probe`` (the CLI
    starts it before it loads the rest of jetpip); ignored for a cross Target.
    """
    from jetpip.device.detect import detect_device
    from jetpip.interpreter.probe import start_probe, synthesize_interpreter
    from jetpip.knowledge.base import load_knowledge

    env = os.environ if env is None else env
    overrides = overrides or TargetOverrides()
    # The probe runs in its own process while the knowledge base and the device are read.
    if overrides.is_cross:
        if probe is not None:
            probe.cancel()
        probe = None
    elif probe is None:
        probe = start_probe(python, env)
    try:
        kb = load_knowledge(indexes_file, env)
        device = detect_device(Path(root))
    except BaseException:
        if probe is not None:
            probe.cancel()
        raise
    interpreter: Interpreter
    if probe is None:
        python_version, glibc = overrides.python_version, overrides.glibc
        if python_version is None or glibc is None:
            default_python, default_glibc = kb.cross_defaults(device, overrides)
            python_version, glibc = python_version or default_python, glibc or default_glibc
        interpreter = synthesize_interpreter(python_version, overrides.platform or "linux_aarch64", glibc)
    else:
        interpreter = probe.result()
    target = kb.make_target(device, interpreter, overrides)
    if target.is_jetson and not overrides.is_cross and target.machine != "aarch64":
        # Typical when --root points at a Jetson image from a workstation: the device's wheels
        # would be chosen for this machine's interpreter, which cannot run them.
        target = dataclasses.replace(target, warnings=(*target.warnings, (
            f"the target interpreter {interpreter.executable} is {target.machine}, but the device "
            "is a Jetson (aarch64); to resolve for the device from here, pass --python-version "
            "and --platform linux_aarch64"
        )))
    return kb, target, kb.route_for(target)


def index_client(
    interpreter: Interpreter | None,
    flags: IndexFlags,
    *,
    reporter: Reporter | None = None,
    offline: bool = False,
    refresh: bool = False,
    env: Mapping[str, str] | None = None,
) -> IndexClient:
    """An IndexClient for the target's pip configuration, PIP_* variables and pip-like ``flags``.

    ``interpreter`` supplies pip's own default index (None: there is none to fall back on).
    The resolved IndexConfig is the client's ``config``.
    """
    from jetpip.index.client import IndexClient
    from jetpip.index.config import load_index_config

    config = load_index_config(interpreter, os.environ if env is None else env, flags)
    return IndexClient(config, reporter=reporter, offline=offline, refresh=refresh)


def read_inputs(
    reqs: Sequence[str], req_files: Sequence[str] = (), con_files: Sequence[str] = ()
) -> tuple[list[str | RequirementLine], list[RequirementLine]]:
    """Requirements and constraints from the command line and pip-style -r / -c files."""
    from jetpip.resolve.requirements import read_requirements

    requirements: list[str | RequirementLine] = list(reqs)
    constraints: list[RequirementLine] = []
    for path in req_files:
        more, cons = read_requirements(path)
        requirements += more
        constraints += cons
    for path in con_files:
        _, cons = read_requirements(path, constraint=True)
        constraints += cons
    return requirements, constraints


def resolve_for(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    kb: KnowledgeBase,
    target: Target,
    route: Route,
    client: IndexClient,
    reporter: Reporter | None = None,
    offline_hint: str | None = None,
) -> Resolution:
    """Resolve for the Target; a guarded name with no wheel gets the source-build hint attached."""
    from jetpip.resolve.provider import resolve

    try:
        return resolve(
            requirements, target=target, route=route, kb=kb, client=client,
            base_sources=client.config.sources(), constraints=constraints, reporter=reporter,
        )
    except GuardedWheelMissingError as err:
        from jetpip.knowledge.hints import build_hint

        err.hint = build_hint(kb, target, route, err.package, err.searched, err.found).render()
        raise
    except OfflineMissError as err:
        if offline_hint:
            err.hint = offline_hint
        raise


def hashed_lock(resolution: Resolution, client: IndexClient, workdir: Path) -> Lock:
    """The Lock of a resolution, every file with a sha256 (flat pages publish none; one download)."""
    from jetpip.lock.pylock import fill_hashes, lock_from_resolution

    links = {p.name: p.link for p in resolution.pins}
    locked = lock_from_resolution(resolution)
    return fill_hashes(locked, lambda pkg: client.download(links[pkg.name], workdir))


def pip_args(flags: IndexFlags, break_system_packages: bool = False) -> list[str]:
    """The options the target's pip needs too: TLS and trust settings, timeouts, PEP 668 consent."""
    args: list[str] = []
    for host in flags.get("trusted_host") or ():
        args += ["--trusted-host", host]
    # The settings the target's pip needs too when it fetches the planned files itself.
    passed = (("--cert", flags.get("cert")), ("--client-cert", flags.get("client_cert")),
              ("--timeout", flags.get("timeout")), ("--retries", flags.get("retries")))
    for option, value in passed:
        if value is not None:
            args += [option, str(value)]
    if break_system_packages:
        args.append("--break-system-packages")
    return args


def satisfied_already(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    target: Target,
    route: Route,
    reporter: Reporter | None = None,
) -> Satisfaction | None:
    """The install's fast path: a Satisfaction when the environment already meets the request.

    It reads only what the target interpreter's probe found installed and asks no index. None
    means "resolve" (a cross target, or something unmet, which ``reporter`` hears about).
    """
    from jetpip.install.verify import already_satisfied
    from jetpip.resolve.resolution import marker_environment

    if target.interpreter.executable is None or not requirements:
        return None
    found = already_satisfied(requirements, constraints, interpreter=target.interpreter, route=route,
                              env=marker_environment(target))
    if found.ok:
        return found
    if reporter is not None:
        reporter.step(f"resolving, because {found.reason}")
    return None


def plan_install(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    kb: KnowledgeBase,
    target: Target,
    route: Route,
    client: IndexClient,
    workdir: Path,
    install_args: Sequence[str] = (),
    break_system_packages: bool = False,
    reporter: Reporter | None = None,
) -> InstallPlan:
    """Resolve, lock in memory, and build the install plan (nothing is changed yet)."""
    from jetpip.install.driver import check_target
    from jetpip.install.plan import build_plan

    # A cross target cannot be installed into, but it still resolves first, so a missing CUDA
    # wheel gets its source-build hint before the refusal.
    cross = target.interpreter.executable is None
    if not cross:
        check_target(target.interpreter, break_system_packages=break_system_packages)
    resolution = resolve_for(requirements, constraints, kb=kb, target=target, route=route,
                             client=client, reporter=reporter, offline_hint=OFFLINE_INSTALL_HINT)
    if cross:
        check_target(target.interpreter, break_system_packages=break_system_packages)
    locked = hashed_lock(resolution, client, workdir)
    local: dict[str, str] = {}
    if client.offline:
        links = {p.name: p.link for p in resolution.pins}
        try:
            local = {p.filename: str(client.download(links[p.name], workdir)) for p in locked.packages}
        except OfflineMissError as err:
            err.hint = OFFLINE_INSTALL_HINT
            raise
    return build_plan(locked, target.interpreter, mode="install", substitutions=route.substitutions,
                      local_files=local, install_args=install_args)


def plan_sync(
    lock: Lock,
    *,
    target: Target,
    route: Route,
    find_links: Sequence[str] = (),
    offline: bool = False,
    install_args: Sequence[str] = (),
    break_system_packages: bool = False,
    origin: str = "pylock.toml",
) -> InstallPlan:
    """Check the lock fits this Target and build the plan that makes the environment match it."""
    from jetpip.install.driver import check_target
    from jetpip.install.plan import build_plan, check_lock_fits

    check_target(target.interpreter, break_system_packages=break_system_packages)
    check_lock_fits(lock, target, route.key, origin=origin)
    local = wheelhouse_files(lock, find_links, offline)
    return build_plan(lock, target.interpreter, mode="sync", substitutions=route.substitutions,
                      local_files=local, install_args=install_args)


def wheelhouse_files(lock: Lock, dirs: Sequence[str], offline: bool) -> dict[str, str]:
    """Locked files found in local --find-links directories, hash-checked before pip sees them."""
    found: dict[str, str] = {}
    local = [d for d in dirs if os.path.isdir(d)]
    for pkg in lock.packages:
        for d in local:
            path = os.path.join(d, pkg.filename)
            if not os.path.isfile(path):
                continue
            digest = file_hash(Path(path), "sha256")
            if pkg.sha256 and digest != pkg.sha256:
                raise HashMismatchError(
                    f"{path} has sha256 {digest}, but the lock records {pkg.sha256}",
                    "the wheelhouse holds another build under the same name; refill it with "
                    f"`jetpip download LOCK -d {d}`",
                )
            found[pkg.filename] = path
            break
    missing = [p.filename for p in lock.packages if p.filename not in found]
    if offline and missing:
        where = ", ".join(local) or "(no local --find-links directory given)"
        raise OfflineMissError(
            f"--offline, and {len(missing)} locked file(s) are not in {where}:\n"
            + "\n".join(f"  - {m}" for m in missing[:12]),
            "on a machine with network access run `jetpip download pylock.toml -d DIR`, copy DIR "
            "here, then `jetpip sync pylock.toml --find-links DIR --offline`",
        )
    return found


def download_lock(
    lock: Lock, dest: Path, client: IndexClient, on_file: Callable[[Path], None] | None = None
) -> list[Path]:
    """Fill the wheelhouse ``dest`` with every locked file, each checked against the lock's sha256."""
    from jetpip.model.links import FileLink
    from jetpip.model.urls import Url

    paths = []
    for pkg in lock.packages:
        source = Source(name=pkg.source or "lock", kind="flat", url=Url(pkg.index or pkg.url))
        hashes = {"sha256": pkg.sha256} if pkg.sha256 else {}
        path = client.download(FileLink(pkg.filename, Url(pkg.url), source, hashes=hashes), dest)
        paths.append(path)
        if on_file is not None:
            on_file(path)
    return paths


def run_plan(
    plan: InstallPlan,
    *,
    before: Interpreter,
    route: Route,
    reporter: Reporter | None = None,
    echo: Callable[[str], None] | None = None,
) -> InstallOutcome:
    """Execute the plan in the target, then re-assert and check; return the InstallOutcome."""
    from jetpip.install.driver import SubprocessPipRunner, execute
    from jetpip.interpreter.probe import probe_interpreter

    return execute(plan, runner=SubprocessPipRunner(echo=echo), probe=probe_interpreter,
                   guarded_names=sorted(route.guarded), before=before, reporter=reporter)


def broken_requirements_error(broken: Sequence[BrokenRequirement], plan: InstallPlan) -> JetpipError:
    """The error for requirements left unmet (pip's own check is off under --no-deps)."""
    planned = {canonicalize_name(a.name) for a in plan.actions if a.kind != "remove"}
    outside = sorted({canonicalize_name(b.dist) for b in broken} - planned)
    lines = [f"{len(broken)} broken requirement(s) in the environment:"]
    lines += [f"  broken requirement: {b}" for b in broken]
    lines.append("every step ran: the planned packages and the CUDA builds are installed")
    if outside:
        names = " ".join(outside)
        fix = (f"{', '.join(outside)} did not come from this plan: uninstall "
               f"(`{plan.python} -m pip uninstall {names}`), or name them in the jetpip command with "
               "your other packages, so the resolver picks versions that fit the CUDA builds or says "
               "why none does")
    else:
        fix = "the lock's own packages disagree: lock again with `jetpip lock`, then sync the new lock"
    return BrokenRequirementsError("\n".join(lines), fix)



def detect_document(target: Target, route: Route) -> DetectDocument:
    """The ``detect --json`` document (schema ``jetpip.detect/1``, docs/detect.md); warnings redacted."""
    from jetpip.knowledge.base import route_to_json
    from jetpip.model.urls import redact_text

    target_json = target.to_json()
    route_json = route_to_json(route)
    for part in (target_json, route_json):
        part["warnings"] = [redact_text(w) for w in part["warnings"]]
    return {
        "schema": "jetpip.detect/1",
        "target": target_json,
        "route": route_json,
        "warnings": target_json["warnings"] + route_json["warnings"],
    }


def resolve_and_lock(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    kb: KnowledgeBase,
    target: Target,
    route: Route,
    client: IndexClient,
    reporter: Reporter | None = None,
    hashes: bool = True,
) -> tuple[Resolution, Lock]:
    """Resolve for the Target and lock the result; ``hashes`` gives every file its sha256."""
    import tempfile

    from jetpip.lock.pylock import lock_from_resolution

    resolution = resolve_for(requirements, constraints, kb=kb, target=target, route=route, client=client,
                             reporter=reporter)
    if not hashes:
        return resolution, lock_from_resolution(resolution)
    with tempfile.TemporaryDirectory(prefix="jetpip-lock-") as tmp:
        return resolution, hashed_lock(resolution, client, Path(tmp))


def lock_document(resolution: Resolution, locked: Lock, written_to: str | None) -> ResolutionDocument:
    """The ``lock --json`` document: the resolution, the lock's target, and the lock when one is written."""
    import json

    from jetpip.lock.pylock import lock_to_dict

    doc = resolution.to_json()
    doc["target"] = dict(locked.target)
    doc["lock"] = written_to
    if written_to is not None:
        doc["pylock"] = json.loads(json.dumps(lock_to_dict(locked), default=str))
    return doc
