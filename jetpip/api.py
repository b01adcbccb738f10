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
    LockedFileError,
    OfflineMissError,
)
from jetpip.index.cache import file_hash
from jetpip.knowledge.base import KnowledgeBase
from jetpip.model.sources import Route
from jetpip.model.target import Interpreter, Target, TargetOverrides
from jetpip.report import Reporter

if TYPE_CHECKING:  # annotations only: jetpip.lock.pylock loads where a lock is made, never on a no-op install
    from jetpip.index.client import IndexClient
    from jetpip.index.config import FileSettings
    from jetpip.install.driver import InstallOutcome
    from jetpip.install.engines import Engine, EngineName
    from jetpip.install.plan import InstallPlan
    from jetpip.install.sdists import SdistBuild
    from jetpip.install.verify import BrokenRequirement, Satisfaction
    from jetpip.interpreter.probe import ProbeRun
    from jetpip.lock.pylock import Lock
    from jetpip.model.documents import DetectDocument, ResolutionDocument
    from jetpip.model.links import BinaryPolicy
    from jetpip.resolve.provider import OnPin
    from jetpip.resolve.requirements import RequirementInputs, RequirementLine
    from jetpip.resolve.resolution import Resolution

# Every install fetches its files into jetpip's cache, and `jetpip lock` keeps the index pages there;
# an offline install reads only that cache.
OFFLINE_INSTALL_HINT = (
    "install --offline reads only jetpip's own cache, which every online `jetpip install`, `jetpip lock` "
    "and `jetpip download` fill: run the same install once with network access. For a machine that never "
    "goes online: `jetpip lock PKGS -o pylock.toml` and `jetpip download pylock.toml -d DIR` elsewhere, "
    "then here: `jetpip sync pylock.toml --find-links DIR --offline`"
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
    no_binary: Sequence[str]  # pip's --no-binary values (names, ":all:", ":none:")
    only_binary: Sequence[str]  # pip's --only-binary values
    prefer_binary: bool
    no_build: bool  # jetpip's own: --only-binary :all:, applied last so no file line undoes it
    pre: bool  # pip's --pre: pre-releases are candidates as final releases are


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
    files: FileSettings | None = None,
) -> IndexClient:
    """An IndexClient for the target's pip configuration, PIP_* variables and pip-like ``flags``.

    ``interpreter`` supplies pip's own default index (None, or a target without pip: pip's
    default). ``files``: what requirements files add, applied after ``flags`` as pip does
    (``RequirementInputs.settings()``). The resolved IndexConfig is the client's ``config``.
    """
    from jetpip.index.client import IndexClient
    from jetpip.index.config import load_index_config

    config = load_index_config(interpreter, os.environ if env is None else env, flags, files)
    return IndexClient(config, reporter=reporter, offline=offline, refresh=refresh,
                       binary=_binary_policy(flags, files))


def _binary_policy(flags: IndexFlags, files: FileSettings | None) -> BinaryPolicy:
    """The run's format control: the flags first, then the files' lines in order, as pip applies them."""
    from jetpip.model.links import BinaryPolicy

    given = [("--no-binary", v) for v in flags.get("no_binary", ())]
    given += [("--only-binary", v) for v in flags.get("only_binary", ())]
    given += [("--prefer-binary", "")] if flags.get("prefer_binary") else []
    binary = ("--no-binary", "--only-binary", "--prefer-binary")
    given += [(o.option, o.value) for o in (files.options if files else ()) if o.option in binary]
    given += [("--only-binary", ":all:")] if flags.get("no_build") else []
    return BinaryPolicy.parse(given)


def read_requirement_inputs(
    reqs: Sequence[str], req_files: Sequence[str] = (), con_files: Sequence[str] = (),
    env: Mapping[str, str] | None = None, editables: Sequence[str] = (),
) -> RequirementInputs:
    """Requirements from the command line, then pip requirements (-r) and constraints (-c) files.

    An argument (``editables``: each -e value) reads as the same line of a requirements file does.
    The result's ``settings()`` goes to ``index_client(files=...)``: the files' index options,
    direct URLs and --hash checks, applied as pip applies them.
    """
    from jetpip.resolve.requirements import read_requirement_files

    return read_requirement_files(req_files, con_files, env=env, args=reqs, editables=editables)


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
    strict_versions: bool = False,
    no_build: bool = False,
    on_pin: OnPin | None = None,
) -> Resolution:
    """Resolve for the Target; a guarded name with no wheel gets the source-build hint attached.

    ``strict_versions``: a request locked more than one major release below its newest release
    for the Target is an error, not a warning. ``no_build`` refuses a source tree (a folder, a
    git URL), which only a build can read. ``on_pin`` hears of each candidate as it is pinned.
    """
    from jetpip.resolve.provider import resolve
    from jetpip.resolve.trees import packed_trees

    requirements, trees = packed_trees(requirements, target, client, reporter, no_build=no_build)
    try:
        return resolve(
            requirements, target=target, route=route, kb=kb, client=client,
            base_sources=(*trees, *client.config.sources()), constraints=constraints, reporter=reporter,
            strict_versions=strict_versions, pre=client.config.pre, on_pin=on_pin,
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
    from jetpip.lock.hashcheck import check_file_hashes
    from jetpip.lock.pylock import fill_hashes, lock_from_resolution, with_trees

    links = {p.name: p.link for p in resolution.pins}
    locked = with_trees(lock_from_resolution(resolution))
    locked = fill_hashes(locked, lambda pkg: client.download(links[pkg.name], workdir))
    # The requirements files' --hash, hash-checking mode and direct URLs, as pip checks them.
    check_file_hashes(locked, client.config, lambda pkg: client.download(links[pkg.name], workdir))
    stale = client.stale_record()  # pages the cache gave in place of an index that was down
    return dataclasses.replace(locked, stale=stale) if stale else locked


def choose_engine(
    interpreter: Interpreter,
    *,
    installer: EngineName | None = None,
    compile_bytecode: bool = False,
    break_system_packages: bool = False,
    reporter: Reporter | None = None,
) -> Engine:
    """The engine that installs into ``interpreter`` (uv unless asked or unable), after checking the target.

    A fallback to pip is named in one note (the reporter hears it).
    """
    from jetpip.install.driver import check_target
    from jetpip.install.engines import pick_engine

    check_target(interpreter, break_system_packages=break_system_packages, engine="uv")
    engine = pick_engine(interpreter, installer, compile_bytecode=compile_bytecode,
                         break_system_packages=break_system_packages)
    if engine.why is not None and reporter is not None:
        reporter.note(f"installing with the target's pip: {engine.why}")
    check_target(interpreter, break_system_packages=break_system_packages, engine=engine.name, why=engine.why)
    return engine


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
    installer: EngineName | None = None,
    compile_bytecode: bool = False,
    break_system_packages: bool = False,
    reporter: Reporter | None = None,
    no_build: bool = False,
    strict_versions: bool = False,
    strict: bool = False,
    ahead: bool = True,
) -> InstallPlan:
    """Resolve, lock in memory, and build the install plan (nothing is changed or fetched yet).

    ``installer`` picks the engine (default: uv where it runs, else the target's pip). The lock's
    sdists are built in the target when the plan runs; ``no_build`` refuses them instead. Every
    installed guarded distribution that is not the route's build joins the request (the route's
    build replaces it); one the route cannot replace is a warning, or with ``strict`` an error.
    ``ahead``: work that the install would do later starts while jetpip resolves: uv reads the
    target (see ``Engine.warm_up``), and each pinned file that the target lacks starts
    downloading (see ``IndexClient.prefetch_file``). Off for a plan that is only shown.
    """
    from jetpip.install.driver import check_target
    from jetpip.install.plan import build_plan
    from jetpip.install.trees import tree_files

    # A cross target cannot be installed into, but it still resolves first, so a missing CUDA
    # wheel gets its source-build hint before the refusal.
    cross = target.interpreter.executable is None
    engine = None if cross else choose_engine(
        target.interpreter, installer=installer, compile_bytecode=compile_bytecode,
        break_system_packages=break_system_packages, reporter=reporter)
    # While jetpip resolves, uv reads the target interpreter into its cache (see Engine.warm_up),
    # and the files pinned so far download.
    settle = engine.warm_up() if engine is not None and ahead else None
    unpacker = on_pin = None
    if engine is not None and ahead:
        from jetpip.install.ahead import downloads_ahead

        on_pin, unpacker = downloads_ahead(client, target.interpreter, engine)
    try:
        if not cross:
            from jetpip.install.repairs import repair_pins

            requirements = [*requirements, *repair_pins(
                requirements, constraints, target=target, route=route, reporter=reporter, strict=strict,
                resolve=lambda reqs, cons: resolve_for(reqs, cons, kb=kb, target=target, route=route,
                                                       client=client, offline_hint=OFFLINE_INSTALL_HINT,
                                                       no_build=no_build))]
        resolution = resolve_for(requirements, constraints, kb=kb, target=target, route=route,
                                 client=client, reporter=reporter, offline_hint=OFFLINE_INSTALL_HINT,
                                 strict_versions=strict_versions, no_build=no_build, on_pin=on_pin)
        if cross:
            check_target(target.interpreter, break_system_packages=break_system_packages)
        locked = hashed_lock(resolution, client, workdir)
        plan = build_plan(locked, target.interpreter, mode="install", engine=engine,
                          substitutions=route.substitutions, local_files=tree_files(locked),
                          builds=_sdist_builds(locked, target, kb, route, no_build),
                          files_dir=None if unpacker is None else unpacker.files_dir)
        if on_pin is not None:  # downloads of guesses the resolution did not pin stop here
            from jetpip.install.fetch import link_of

            client.drop_prefetches(link_of(f.package) for f in plan.fetches)
        return dataclasses.replace(plan, ahead=unpacker) if unpacker is not None else plan
    except BaseException:
        if unpacker is not None:
            unpacker.stop()
        raise
    finally:
        if settle is not None:
            settle()


def plan_sync(
    lock: Lock,
    *,
    target: Target,
    route: Route,
    find_links: Sequence[str] = (),
    offline: bool = False,
    installer: EngineName | None = None,
    compile_bytecode: bool = False,
    break_system_packages: bool = False,
    origin: str = "pylock.toml",
    reporter: Reporter | None = None,
    kb: KnowledgeBase | None = None,
    no_build: bool = False,
    client: IndexClient | None = None,
) -> InstallPlan:
    """Check the lock fits this Target and build the plan that makes the environment match it.

    ``kb`` gives the build recipes of the lock's sdists; ``no_build`` refuses sdists and source
    trees instead. A source tree is packed here, through ``client`` (its cache, and the indexes
    its build requirements come from; None: pip's configuration), and built when the plan runs.
    """
    from jetpip.install.fits import check_lock_fits
    from jetpip.install.plan import build_plan
    from jetpip.install.trees import packed_lock, tree_files, unpacked_trees

    engine = choose_engine(target.interpreter, installer=installer, compile_bytecode=compile_bytecode,
                           break_system_packages=break_system_packages, reporter=reporter)
    check_lock_fits(lock, target, route.key, origin=origin)
    if unpacked_trees(lock) and not no_build:
        if client is None:
            with index_client(target.interpreter, {}, reporter=reporter, offline=offline) as made:
                lock = packed_lock(lock, made, reporter, origin=origin)
        else:
            lock = packed_lock(lock, client, reporter, origin=origin)
    local = {**wheelhouse_files(lock, find_links, offline), **tree_files(lock)}
    plan = build_plan(lock, target.interpreter, mode="sync", engine=engine,
                      substitutions=route.substitutions, local_files=local,
                      builds=_sdist_builds(lock, target, kb, route, no_build))
    return dataclasses.replace(plan, lock_path=origin)  # a vanished file's error offers a re-lock of it


def _sdist_builds(lock: Lock, target: Target, kb: KnowledgeBase | None, route: Route,
                  no_build: bool) -> tuple[SdistBuild, ...]:
    from jetpip.index.cache import default_cache_dir
    from jetpip.install.sdists import plan_builds

    return plan_builds(lock, target, cache_dir=default_cache_dir(), kb=kb, route=route, no_build=no_build)


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
    missing = [p.filename for p in lock.packages if p.filename not in found and p.project is None]
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
    lock: Lock, dest: Path, client: IndexClient, reporter: Reporter | None = None, *,
    origin: str = "pylock.toml",
) -> list[Path]:
    """Fill the wheelhouse ``dest`` with every locked file, each checked against the lock's sha256.

    The files are fetched as an install fetches them: in parallel, into the cache first (a file
    the cache holds is not fetched again), then copied or linked into ``dest``. ``origin``, the
    lock's path, goes into the re-lock command a vanished file's error offers.
    """
    from jetpip.install.fetch import Fetch, fetch_all

    trees = [p for p in lock.packages if p.project is not None and not p.filename]
    for pkg in trees:  # a folder or a git commit is no file to fetch; the lock names where it is
        if reporter is not None and pkg.project is not None:
            reporter.warning(f"{pkg.name} is locked from the source tree {pkg.project.shown()}; it has no "
                             "file to download")
    fetches = [Fetch(pkg, str(dest / pkg.filename)) for pkg in lock.packages if pkg not in trees]
    try:
        fetch_all(fetches, client, reporter, copy=True)
    except LockedFileError as err:
        _explain(err, lock, origin, client)
        raise
    return [Path(f.path) for f in fetches]


def _explain(err: LockedFileError, lock: Lock, lockfile: str | None, client: IndexClient | None) -> None:
    """Give ``err`` the ways on: re-lock ``lockfile``, or fill a wheelhouse from the cache."""
    from jetpip.install.vanished import explain

    cache = client.cache if client is not None else None
    explain(err, lock, lockfile, lambda sha: cache is not None and cache.wheel("sha256", sha) is not None)


def run_plan(
    plan: InstallPlan,
    *,
    before: Interpreter,
    route: Route,
    client: IndexClient | None = None,
    reporter: Reporter | None = None,
    echo: Callable[[str], None] | None = None,
) -> InstallOutcome:
    """Fetch the plan's files through ``client``, run its steps in the target, re-assert and check."""
    from jetpip.install.driver import SubprocessRunner, execute
    from jetpip.interpreter.probe import probe_interpreter, rescan

    def probe(python: str) -> Interpreter:  # after the steps: read again what the first probe read
        return (rescan(before) if python == before.executable else None) or probe_interpreter(python)

    builder = None
    if plan.builds:
        from jetpip.install.build import WheelBuilder
        from jetpip.install.engines import find_uv

        uv = plan.engine.program[0] if plan.engine.name == "uv" else find_uv(before, os.environ)[0]
        builder = WheelBuilder(before, client.config if client else None, uv=uv, guarded=route.guarded,
                               offline=bool(client and client.offline), echo=echo)
    try:
        return execute(plan, runner=SubprocessRunner(echo=echo), probe=probe, files=client,
                       guarded_names=sorted(route.guarded), before=before, reporter=reporter,
                       builder=builder)
    except OfflineMissError as err:
        if plan.mode == "install":
            err.hint = OFFLINE_INSTALL_HINT
        raise
    except LockedFileError as err:
        _explain(err, plan.lock, plan.lock_path, client)
        raise


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
        "guard_policy": {name: "preferred" if name in route.preferred else "required"
                         for name in sorted(route.guarded)},
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
    strict_versions: bool = False,
    no_build: bool = False,
) -> tuple[Resolution, Lock]:
    """Resolve for the Target and lock the result; ``hashes`` gives every file its sha256."""
    import tempfile

    from jetpip.lock.pylock import lock_from_resolution, with_trees

    resolution = resolve_for(requirements, constraints, kb=kb, target=target, route=route, client=client,
                             reporter=reporter, strict_versions=strict_versions, no_build=no_build)
    if not hashes:
        return resolution, with_trees(lock_from_resolution(resolution))
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
