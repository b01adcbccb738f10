"""The install plan: the files to fetch and every engine command an install or sync runs, decided first."""

from __future__ import annotations

import dataclasses
import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from jetpip.index.cache import default_cache_dir
from jetpip.install.engines import Engine, pick_engine
from jetpip.install.fetch import Fetch, files_count, format_size
from jetpip.install.origin import file_mismatch
from jetpip.install.sdists import SdistBuild
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import InstalledDist, Interpreter
from jetpip.model.urls import redact_text

if TYPE_CHECKING:
    from jetpip.model.documents import ActionDocument, PlanDocument

Mode = Literal["install", "sync"]
StepKind = Literal["uninstall", "guarded", "install", "reassert"]
ActionKind = Literal["keep", "install", "replace", "remove"]

# Never removed by sync: the installer's own tools, and jetpip when it shares the environment.
PROTECTED = frozenset({"pip", "setuptools", "wheel", "jetpip"})

# Extensions compiled against one torch build: when torch changes they must change with it.
BUILT_AGAINST_TORCH = ("torchvision", "torchaudio")

# A CPU build whose module directory is shared with its GPU build (microsoft/onnxruntime#26996).
DEFAULT_SUBSTITUTIONS: Mapping[str, str] = {"onnxruntime": "onnxruntime-gpu"}


@dataclass(frozen=True)
class Action:
    """What the plan does with one distribution, and why."""

    name: str
    kind: ActionKind
    version: str | None  # the planned version (None for a removal)
    installed: str | None  # the version installed now, if any
    reason: str
    guarded: bool = False

    def to_json(self) -> ActionDocument:
        """JSON form for ``--json``."""
        return {
            "name": self.name,
            "action": self.kind,
            "version": self.version,
            "installed": self.installed,
            "reason": self.reason,
            "guarded": self.guarded,
        }


@dataclass(frozen=True)
class Step:
    """One engine command: its full argv and the requirements file it reads."""

    kind: StepKind
    title: str
    argv: tuple[str, ...]
    requirements_file: str | None = None
    requirements: tuple[str, ...] = ()  # the lines written to ``requirements_file``
    names: tuple[str, ...] = ()

    def render(self, number: int) -> str:
        """The step as the dry-run prints it: title, command line, requirements file content."""
        lines = [f"{number}. {self.title}", "   $ " + _shell_join(self.argv)]
        if self.requirements_file:
            lines.append(f"   {self.requirements_file}:")
            lines.extend(f"     {req}" for req in self.requirements)
        return "\n".join(lines)


class AheadWork(Protocol):
    """Work started for the plan before it runs (``jetpip.install.ahead.Unpacker``)."""

    def finish(self, fetched: Iterable[str] = ()) -> None:
        """Take no more work, and wait for the work under way; before the first step.

        ``fetched``: the filenames of the plan's files, all fetched by now.
        """

    def stop(self) -> None:
        """End the work at once (the run failed, or needs none)."""


@dataclass(frozen=True)
class InstallPlan:
    """The whole plan: the files to fetch, the engine's steps in order, the actions, what re-assert checks."""

    python: str
    mode: Mode
    workdir: str
    files_dir: str  # fetched files, linked under a path that stays the same for the same file
    engine: Engine
    steps: tuple[Step, ...]
    actions: tuple[Action, ...]
    guarded: tuple[LockedPackage, ...]  # re-asserted after the steps
    lock: Lock
    fetches: tuple[Fetch, ...] = ()  # fetched into the cache before any step runs
    wheelhouse: Mapping[str, str] = field(default_factory=dict, hash=False)  # filename -> local file
    substitutions: Mapping[str, str] = field(default_factory=dict, hash=False)
    lock_path: str | None = None  # the pylock.toml a sync plan comes from (None: resolved just now)
    builds: tuple[SdistBuild, ...] = ()  # sdists built into wheels after the fetch, before any step
    built: Mapping[str, str] = field(default_factory=dict, hash=False)  # sdist filename -> built wheel
    # The wheels downloaded while the plan was resolved, which uv unpacks meanwhile (install only).
    ahead: AheadWork | None = field(default=None, compare=False, repr=False)

    @property
    def is_noop(self) -> bool:
        """True when the environment already matches and no step would run."""
        return not self.steps

    def kept(self) -> list[Action]:
        """Packages already installed as planned."""
        return [a for a in self.actions if a.kind == "keep"]

    def changes(self) -> list[Action]:
        """Packages the plan installs, replaces or removes."""
        return [a for a in self.actions if a.kind != "keep"]

    def path_of(self, pkg: LockedPackage) -> str:
        """The local file the engine installs ``pkg`` from: a wheelhouse file, or the fetched one."""
        return self.wheelhouse.get(pkg.filename) or _fetched_path(self.files_dir, pkg)

    def install_path(self, pkg: LockedPackage) -> str:
        """The file the engine installs: for an sdist the wheel built from it, else ``path_of``."""
        if pkg.filename in self.built:
            return self.built[pkg.filename]
        build = next((b for b in self.builds if b.package.filename == pkg.filename), None)
        return build.placeholder() if build is not None else self.path_of(pkg)

    def with_built(self, built: Mapping[str, str]) -> InstallPlan:
        """The plan whose steps install the wheels built from its sdists (``built``: sdist name -> wheel)."""
        plan = dataclasses.replace(self, built={**self.built, **built})
        locked = self.lock.by_name()
        steps = tuple(
            _install_step(plan, s.kind, s.title, [locked[n] for n in s.names], s.requirements_file,
                          force=s.kind == "reassert")
            if s.requirements_file and any(locked[n].filename in built for n in s.names if n in locked) else s
            for s in self.steps
        )
        return dataclasses.replace(plan, steps=steps)

    def fetches_for(self, packages: Iterable[LockedPackage]) -> list[Fetch]:
        """The files ``packages`` need fetched (those no wheelhouse holds)."""
        return [Fetch(p, self.path_of(p)) for p in packages if p.filename not in self.wheelhouse]

    def reassert_step(self, packages: Sequence[LockedPackage]) -> Step:
        """The forced reinstall of guarded packages that are not the planned file after the run."""
        return _install_step(self, "reassert", "re-assert: reinstall CUDA builds that were replaced",
                             packages, posixpath.join(self.workdir, "reassert.txt"), force=True)

    def render(self) -> str:
        """The dry-run text: the files to fetch, every command exactly as it would run, then the checks."""
        out = [f"target: {self.python}", f"engine: {self.engine.describe()}"]
        if self.is_noop:
            out.append(f"nothing to do: all {len(self.actions)} packages are already installed as planned")
            return "\n".join(out)
        if self.fetches:
            size = sum(f.package.size or 0 for f in self.fetches)
            shown = f" ({format_size(size)})" if size else ""
            out.append(f"fetch {files_count(len(self.fetches))}{shown} into jetpip's cache, in parallel, "
                       "each checked against its sha256; a file the cache holds is not fetched again")
            out.extend(f"   {f.package.filename}  {f.package.url}" for f in self.fetches)
        for build in self.builds:
            out.append(f"build {build.describe()}: in the target's interpreter, isolated; "
                       "a wheel in the build cache is not built again")
            if build.recipe is not None:
                out.extend(f"   {name}={value}" for name, value in build.recipe.env)
            if build.warning:
                out.append(f"   warning: {build.warning}")
        # A replacement needs its reason shown: the same version is installed, and a re-upload is news.
        out.extend(f"{a.name} {a.installed} is replaced: {a.reason}"
                   for a in self.changes() if a.kind == "replace")
        for number, step in enumerate(self.steps, 1):
            out.append(step.render(number))
        n = len(self.steps)
        if self.guarded:
            names = ", ".join(f"{p.name} {p.version}" for p in self.guarded)
            out.append(
                f"{n + 1}. re-assert: read the environment; {names} must be the planned files,\n"
                "   any other build is reinstalled from its file, forced, without dependencies"
            )
            n += 1
        out.append(f"{n + 1}. check: every installed requirement is satisfied (pre-release aware)")
        kept = self.kept()
        if kept:
            out.append(f"already installed as planned: {', '.join(a.name for a in kept)}")
        # A hand-edited lock may name a URL with its password: jetpip uses it, nobody sees it.
        return redact_text("\n".join(out))

    def to_json(self) -> PlanDocument:
        """JSON form of the plan (schema ``jetpip.plan/1``)."""
        engine = self.engine
        return {
            "schema": "jetpip.plan/1",
            "python": self.python,
            "mode": self.mode,
            "noop": self.is_noop,
            "engine": {"name": engine.name, "version": engine.version, "program": list(engine.program),
                       "compile_bytecode": engine.compile_bytecode, "why": engine.why},
            "fetch": [{"filename": f.package.filename, "url": redact_text(f.package.url),
                       "sha256": f.package.sha256, "size": f.package.size, "path": f.path}
                      for f in self.fetches],
            "builds": [b.to_json() for b in self.builds],
            "steps": [
                {
                    "kind": s.kind,
                    "title": s.title,
                    "argv": [redact_text(a) for a in s.argv],
                    "requirements_file": s.requirements_file,
                    "requirements": [redact_text(r) for r in s.requirements],
                    "names": list(s.names),
                }
                for s in self.steps
            ],
            "actions": [a.to_json() for a in self.actions],
            "reassert": [p.name for p in self.guarded],
        }


def build_plan(
    lock: Lock,
    interpreter: Interpreter,
    *,
    mode: Mode = "install",
    engine: Engine | None = None,
    substitutions: Mapping[str, str] | None = None,
    local_files: Mapping[str, str] | None = None,
    workdir: str | None = None,
    files_dir: str | None = None,
    builds: Sequence[SdistBuild] = (),
) -> InstallPlan:
    """Decide every step that makes ``interpreter``'s environment hold ``lock``'s packages.

    ``engine`` runs the steps (default: uv where it runs, else the target's pip). Every file
    to install is fetched first, into ``workdir``; ``local_files`` maps a locked filename to a
    local file (a wheelhouse, already hash-checked) used as it is. In ``sync`` mode,
    distributions the lock does not list are removed, except pip, setuptools, wheel, jetpip and
    anything outside the environment (a venv's system site-packages).
    """
    if interpreter.executable is None:
        raise ValueError("an install plan needs a probed interpreter")
    engine = engine or pick_engine(interpreter)
    subs: dict[str, str] = {canonicalize_name(k): canonicalize_name(v) for k, v in
            (substitutions if substitutions is not None else DEFAULT_SUBSTITUTIONS).items()}
    workdir = workdir or os.path.join(tempfile.gettempdir(), f"jetpip-plan-{uuid.uuid4().hex[:8]}")
    # uv keeps what it unpacked from a local wheel by the wheel's path: a path that changes every run
    # makes it unpack and hash every wheel again (measured: 0.09 s from the same folder, 0.75 s from
    # a new one, for the 44-wheel bench closure). So a fetched file keeps one path, by its hash.
    files_dir = files_dir or str(default_cache_dir() / "installs")
    installed = interpreter.installed_by_name()
    locked = lock.by_name()
    decisions: dict[str, Action] = {}

    at_hand = dict(local_files or {})

    def wheel_of(pkg: LockedPackage) -> Path | None:
        # A dist with no provenance record is compared by RECORD, only with the locked file on disk.
        path = at_hand.get(pkg.filename) or _fetched_path(files_dir, pkg)
        return Path(path) if pkg.sha256 and os.path.isfile(path) else None

    for pkg in lock.packages:
        dist = installed.get(pkg.name)
        decisions[pkg.name] = _decide(pkg, dist, wheel_of(pkg) if dist is not None else None)

    uninstall: dict[str, Action] = {}  # every name step 1 uninstalls, replaced ones included

    def remove(dist: InstalledDist, reason: str) -> None:
        if dist.in_system_site or dist.name in uninstall:
            return
        uninstall[dist.name] = Action(dist.name, "remove", None, dist.version, reason)

    def replace(name: str, reason: str) -> None:
        current = decisions[name]
        if current.kind == "keep":
            decisions[name] = Action(name, "replace", current.version, current.installed, reason,
                                     current.guarded)

    # Shadows, first: a CPU build sharing a module directory with the planned GPU build.
    for cpu, gpu in sorted(subs.items()):
        dist = installed.get(cpu)
        if gpu in locked and cpu not in locked and dist is not None and not dist.in_system_site:
            remove(dist, f"CPU build that shadows {gpu} (both provide the same module)")
            # Removing it deletes files the GPU build shares with it; the GPU build goes back after.
            if gpu in installed and not installed[gpu].in_system_site:
                replace(gpu, f"its files are shared with {cpu}, which is removed")

    torch_changes = "torch" in decisions and decisions["torch"].kind != "keep"
    if torch_changes:
        for ext in BUILT_AGAINST_TORCH:
            dist = installed.get(ext)
            if dist is None:
                continue
            if ext in locked:
                replace(ext, "built against the torch that is replaced")
            else:
                remove(dist, "built for another torch (operators such as torchvision::nms would be missing)")

    # A replaced distribution goes first, so no engine upgrades over a foreign build in place.
    for action in decisions.values():
        dist = installed.get(action.name)
        if action.kind == "replace" and dist is not None and not dist.in_system_site:
            remove(dist, action.reason)

    if mode == "sync":
        for name, dist in sorted(installed.items()):
            if name not in locked and name not in PROTECTED:
                remove(dist, "not in the lock")

    removed = [a for name, a in uninstall.items() if name not in locked]
    plan = InstallPlan(
        python=interpreter.executable,
        mode=mode,
        workdir=workdir,
        files_dir=files_dir,
        engine=engine,
        steps=(),
        actions=(*removed, *(decisions[p.name] for p in lock.packages)),
        guarded=tuple(lock.guarded()),
        lock=lock,
        wheelhouse=dict(local_files or {}),
        substitutions=subs,
    )
    to_install = [p for p in lock.packages if decisions[p.name].kind != "keep"]
    building = {p.filename for p in to_install}
    plan = dataclasses.replace(plan, builds=tuple(b for b in builds if b.package.filename in building))
    steps: list[Step] = []
    if uninstall:
        names = tuple(sorted(uninstall))
        steps.append(Step("uninstall", "remove shadowing and replaced distributions", engine.uninstall(names),
                          names=names))
    groups: tuple[tuple[StepKind, str, list[LockedPackage]], ...] = (
        ("guarded", "install CUDA builds by exact file and hash", [p for p in to_install if p.guarded]),
        ("install", "install the other pinned wheels by exact file and hash",
         [p for p in to_install if not p.guarded]),
    )
    for kind, title, group in groups:
        hashed = [p for p in group if p.sha256 and not p.is_sdist]
        bare = [p for p in group if not p.sha256 and not p.is_sdist]
        # A wheel built here has no published hash: the sdist's, checked at fetch, is its provenance.
        local = [p for p in group if p.is_sdist]
        built = f"install the {'CUDA ' if kind == 'guarded' else ''}wheels built here from checked sdists"
        for part, text in ((hashed, title), (bare, title + " (no hash: trusted source)"), (local, built)):
            if part:
                path = posixpath.join(workdir, f"{len(steps) + 1:02d}-{kind}.txt")
                steps.append(_install_step(plan, kind, text, part, path))
    return dataclasses.replace(plan, steps=tuple(steps), fetches=tuple(plan.fetches_for(to_install)))


def _decide(pkg: LockedPackage, dist: InstalledDist | None, wheel: Path | None = None) -> Action:
    if dist is None:
        return Action(pkg.name, "install", pkg.version, None, "not installed", pkg.guarded)
    if pkg.project is not None:  # as pip: a source tree's files may have changed since it was installed
        return Action(pkg.name, "replace", pkg.version, dist.version,
                      f"built from {pkg.project.shown()}, which is installed afresh each time", pkg.guarded)
    if pkg.guarded:
        why = mismatch(pkg, dist, wheel)
        if why is None:
            return Action(pkg.name, "keep", pkg.version, dist.version, "the planned CUDA build", True)
        if dist.in_system_site:
            return Action(pkg.name, "install", pkg.version, dist.version,
                          f"system copy is {why}; the environment's copy takes precedence", True)
        return Action(pkg.name, "replace", pkg.version, dist.version, why, True)
    if same_version(dist.version, pkg.version):
        why = file_mismatch(pkg, dist, wheel)
        if why is None:
            return Action(pkg.name, "keep", pkg.version, dist.version, "installed at the planned version")
        if dist.in_system_site:
            return Action(pkg.name, "install", pkg.version, dist.version,
                          f"system copy: {why}; the environment's copy takes precedence")
        return Action(pkg.name, "replace", pkg.version, dist.version, why)
    return Action(pkg.name, "install", pkg.version, dist.version, f"{dist.version} is installed")


def same_version(a: str, b: str) -> bool:
    """PEP 440 equality, falling back to string equality for versions that do not parse."""
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def url_filename(url: str) -> str:
    """The file name at the end of a URL (percent-decoded, fragment dropped)."""
    return unquote(posixpath.basename(urlsplit(url).path))


def mismatch(pkg: LockedPackage, dist: InstalledDist, wheel: Path | None = None) -> str | None:
    """Why the installed ``dist`` is not ``pkg``'s planned file, or None when it is.

    The installed copy is the planned file when its version matches and, if its provenance
    record (direct_url.json) names the URL it came from, that URL names the planned file and
    the recorded hash is the lock's (a re-upload keeps the name and changes the hash); without
    that record the WHEEL tags must include the planned file's tags (a PyPI manylinux build
    does not) and, when the locked ``wheel`` is on disk, its RECORD must match.
    """
    if not same_version(dist.version, pkg.version):
        return f"version {dist.version}, not the planned {pkg.version}"
    if dist.direct_url:
        got = url_filename(dist.direct_url)
        if got != pkg.filename:
            return f"installed from {got}, not {pkg.filename}"
        return file_mismatch(pkg, dist)
    wanted = _wheel_tags(pkg.filename)
    if wanted and not wanted <= set(dist.wheel_tags):
        found = ", ".join(sorted(dist.wheel_tags)) or "no WHEEL tags"
        return f"a build tagged {found}, not {', '.join(sorted(wanted))}"
    return file_mismatch(pkg, dist, wheel)


def _wheel_tags(filename: str) -> set[str]:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return set()
    return {str(t) for t in tags}


def requirement_line(pkg: LockedPackage, path: str, engine: str = "uv") -> str:
    """The line that pins the exact file, which the engine hash-checks.

    uv: ``name @ file:///path --hash=sha256:...``. pip: ``file:///path --hash=sha256:...``, which
    every pip reads; the pip of Python 3.6's ensurepip (18.1) and of Ubuntu 18.04 (9.0) take a
    ``name @`` line in a requirements file for a file name.
    """
    return file_line(pkg.name, path, None if pkg.is_sdist else pkg.sha256, engine)


def file_line(name: str, path: str, sha256: str | None, engine: str = "uv") -> str:
    """``requirement_line`` from its parts: the name, the local file, the sha256 to check (None: none)."""
    url = Path(os.path.abspath(path)).as_uri()
    line = url if engine == "pip" else f"{name} @ {url}"
    if sha256:
        line += f" --hash=sha256:{sha256}"
    return line


def fetched_path(files_dir: str, sha256: str | None, filename: str) -> str:
    """Where a fetched file is linked for the engine: one path per file, by its hash (see ``build_plan``)."""
    return posixpath.join(files_dir, sha256 or "unhashed", filename)


def _fetched_path(files_dir: str, pkg: LockedPackage) -> str:
    return fetched_path(files_dir, pkg.sha256, pkg.filename)


def _install_step(
    plan: InstallPlan,
    kind: StepKind,
    title: str,
    packages: Iterable[LockedPackage],
    path: str,
    *,
    force: bool = False,
) -> Step:
    pkgs = list(packages)
    return Step(
        kind=kind,
        title=title,
        argv=plan.engine.install(path, hashed=all(p.sha256 and not p.is_sdist for p in pkgs), force=force),
        requirements_file=path,
        requirements=tuple(requirement_line(p, plan.install_path(p), plan.engine.name) for p in pkgs),
        names=tuple(p.name for p in pkgs),
    )


def _shell_join(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)
