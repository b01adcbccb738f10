"""The install plan: every pip invocation an install or sync will run, decided before any runs."""

from __future__ import annotations

import os
import posixpath
import tempfile
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import InstalledDist, Interpreter, Target
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

BASE_PIP_ARGS = ("--disable-pip-version-check",)


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
class PipStep:
    """One pip invocation: its argv after ``python -m pip`` and the requirements file it reads."""

    kind: StepKind
    title: str
    args: tuple[str, ...]
    requirements_file: str | None = None
    requirements: tuple[str, ...] = ()  # the lines written to ``requirements_file``
    names: tuple[str, ...] = ()

    def argv(self, python: str) -> list[str]:
        """The full command line run in the target interpreter."""
        return [python, "-m", "pip", *self.args]

    def render(self, python: str, number: int) -> str:
        """The step as the dry-run prints it: title, command line, requirements file content."""
        lines = [f"{number}. {self.title}", "   $ " + _shell_join(self.argv(python))]
        if self.requirements_file:
            lines.append(f"   {self.requirements_file}:")
            lines.extend(f"     {req}" for req in self.requirements)
        # A hand-edited lock may name a URL with its password: pip reads it from the file, nobody sees it.
        return redact_text("\n".join(lines))


@dataclass(frozen=True)
class InstallPlan:
    """The whole plan: pip steps in order, the per-package actions, and what re-assert checks."""

    python: str
    mode: Mode
    workdir: str
    steps: tuple[PipStep, ...]
    actions: tuple[Action, ...]
    guarded: tuple[LockedPackage, ...]  # re-asserted after the pip steps
    lock: Lock
    install_args: tuple[str, ...] = ()  # extra pip options passed to every step
    substitutions: Mapping[str, str] = field(default_factory=dict, hash=False)

    @property
    def is_noop(self) -> bool:
        """True when the environment already matches and no pip step would run."""
        return not self.steps

    def kept(self) -> list[Action]:
        """Packages already installed as planned."""
        return [a for a in self.actions if a.kind == "keep"]

    def changes(self) -> list[Action]:
        """Packages the plan installs, replaces or removes."""
        return [a for a in self.actions if a.kind != "keep"]

    def reassert_step(self, packages: Sequence[LockedPackage]) -> PipStep:
        """The forced reinstall of guarded packages that are not the planned file after the run."""
        return _install_step(
            "reassert",
            "re-assert: reinstall CUDA builds that were replaced",
            packages,
            posixpath.join(self.workdir, "reassert.txt"),
            self.install_args,
            force=True,
        )

    def render(self) -> str:
        """The dry-run text: every command exactly as it would run, then the checks."""
        out = [f"target: {self.python}"]
        if self.is_noop:
            out.append(f"nothing to do: all {len(self.actions)} packages are already installed as planned")
            return "\n".join(out)
        for number, step in enumerate(self.steps, 1):
            out.append(step.render(self.python, number))
        n = len(self.steps)
        if self.guarded:
            names = ", ".join(f"{p.name} {p.version}" for p in self.guarded)
            out.append(
                f"{n + 1}. re-assert: read the environment; {names} must be the planned files,\n"
                "   any other build is reinstalled with --force-reinstall --no-deps"
            )
            n += 1
        out.append(f"{n + 1}. check: every installed requirement is satisfied (pre-release aware)")
        kept = self.kept()
        if kept:
            out.append(f"already installed as planned: {', '.join(a.name for a in kept)}")
        return "\n".join(out)

    def to_json(self) -> PlanDocument:
        """JSON form of the plan (schema ``jetpip.plan/1``)."""
        return {
            "schema": "jetpip.plan/1",
            "python": self.python,
            "mode": self.mode,
            "noop": self.is_noop,
            "steps": [
                {
                    "kind": s.kind,
                    "title": s.title,
                    "argv": [redact_text(a) for a in s.argv(self.python)],
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
    substitutions: Mapping[str, str] | None = None,
    install_args: Sequence[str] = (),
    local_files: Mapping[str, str] | None = None,
    workdir: str | None = None,
) -> InstallPlan:
    """Decide every pip step that makes ``interpreter``'s environment hold ``lock``'s packages.

    ``install_args`` go to every pip call (``--break-system-packages``, ``--cert`` ...).
    ``local_files`` maps a locked filename to a local path (a wheelhouse) used instead of its URL.
    In ``sync`` mode, distributions the lock does not list are removed, except pip, setuptools,
    wheel, jetpip and anything outside the environment (a venv's system site-packages).
    """
    if interpreter.executable is None:
        raise ValueError("an install plan needs a probed interpreter")
    subs: dict[str, str] = {canonicalize_name(k): canonicalize_name(v) for k, v in
            (substitutions if substitutions is not None else DEFAULT_SUBSTITUTIONS).items()}
    workdir = workdir or os.path.join(tempfile.gettempdir(), f"jetpip-plan-{uuid.uuid4().hex[:8]}")
    installed = interpreter.installed_by_name()
    locked = lock.by_name()
    decisions: dict[str, Action] = {}

    for pkg in lock.packages:
        decisions[pkg.name] = _decide(pkg, installed.get(pkg.name))

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

    # A replaced distribution goes first, so pip never upgrades over a foreign build in place.
    for action in decisions.values():
        dist = installed.get(action.name)
        if action.kind == "replace" and dist is not None and not dist.in_system_site:
            remove(dist, action.reason)

    if mode == "sync":
        for name, dist in sorted(installed.items()):
            if name not in locked and name not in PROTECTED:
                remove(dist, "not in the lock")

    args = tuple(install_args)
    steps: list[PipStep] = []
    if uninstall:
        names = tuple(sorted(uninstall))
        steps.append(PipStep("uninstall", "remove shadowing and replaced distributions",
                             ("uninstall", "--yes", *BASE_PIP_ARGS, *args, *names), names=names))
    to_install = [p for p in lock.packages if decisions[p.name].kind != "keep"]
    files = local_files or {}
    guarded = [p for p in to_install if p.guarded]
    others = [p for p in to_install if not p.guarded]
    groups: tuple[tuple[StepKind, str, list[LockedPackage]], ...] = (
        ("guarded", "install CUDA builds by exact URL and hash", guarded),
        ("install", "install the other pinned wheels by exact URL and hash", others),
    )
    for kind, title, group in groups:
        hashed = [_with_file(p, files) for p in group if p.sha256]
        bare = [_with_file(p, files) for p in group if not p.sha256]
        if hashed:
            steps.append(_install_step(kind, title, hashed,
                                       posixpath.join(workdir, f"{len(steps) + 1:02d}-{kind}.txt"), args))
        if bare:
            steps.append(_install_step(kind, title + " (no hash: trusted source)", bare,
                                       posixpath.join(workdir, f"{len(steps) + 1:02d}-{kind}.txt"), args))

    removed = [a for name, a in uninstall.items() if name not in locked]
    actions = [*removed, *(decisions[p.name] for p in lock.packages)]
    return InstallPlan(
        python=interpreter.executable,
        mode=mode,
        workdir=workdir,
        steps=tuple(steps),
        actions=tuple(actions),
        guarded=tuple(_with_file(p, files) for p in lock.guarded()),
        lock=lock,
        install_args=args,
        substitutions=subs,
    )


def _decide(pkg: LockedPackage, dist: InstalledDist | None) -> Action:
    if dist is None:
        return Action(pkg.name, "install", pkg.version, None, "not installed", pkg.guarded)
    if pkg.guarded:
        why = mismatch(pkg, dist)
        if why is None:
            return Action(pkg.name, "keep", pkg.version, dist.version, "the planned CUDA build", True)
        if dist.in_system_site:
            return Action(pkg.name, "install", pkg.version, dist.version,
                          f"system copy is {why}; the environment's copy takes precedence", True)
        return Action(pkg.name, "replace", pkg.version, dist.version, why, True)
    if same_version(dist.version, pkg.version):
        return Action(pkg.name, "keep", pkg.version, dist.version, "installed at the planned version")
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


def mismatch(pkg: LockedPackage, dist: InstalledDist) -> str | None:
    """Why the installed ``dist`` is not ``pkg``'s planned file, or None when it is.

    The installed copy is the planned file when its version matches and, if pip recorded the
    URL it came from (direct_url.json), that URL names the planned file; without that record
    the WHEEL tags must include the planned file's tags (a PyPI manylinux build does not).
    """
    if not same_version(dist.version, pkg.version):
        return f"version {dist.version}, not the planned {pkg.version}"
    if dist.direct_url:
        got = url_filename(dist.direct_url)
        if got != pkg.filename:
            return f"installed from {got}, not {pkg.filename}"
        return None
    wanted = _wheel_tags(pkg.filename)
    if wanted and not wanted <= set(dist.wheel_tags):
        found = ", ".join(sorted(dist.wheel_tags)) or "no WHEEL tags"
        return f"a build tagged {found}, not {', '.join(sorted(wanted))}"
    return None


def _wheel_tags(filename: str) -> set[str]:
    try:
        _, _, _, tags = parse_wheel_filename(filename)
    except InvalidWheelFilename:
        return set()
    return {str(t) for t in tags}


def _with_file(pkg: LockedPackage, files: Mapping[str, str]) -> LockedPackage:
    path = files.get(pkg.filename)
    if path is None:
        return pkg
    from dataclasses import replace

    return replace(pkg, url="file://" + os.path.abspath(path))


def requirement_line(pkg: LockedPackage) -> str:
    """``name @ url --hash=sha256:...``: pins the exact file, which pip then hash-checks."""
    line = f"{pkg.name} @ {pkg.url}"
    if pkg.sha256:
        line += f" --hash=sha256:{pkg.sha256}"
    return line


def _install_step(
    kind: StepKind,
    title: str,
    packages: Iterable[LockedPackage],
    path: str,
    args: Sequence[str],
    *,
    force: bool = False,
) -> PipStep:
    pkgs = list(packages)
    hashed = all(p.sha256 for p in pkgs)
    argv = ["install", "--no-deps", "--no-index", *BASE_PIP_ARGS]
    if force:
        argv.append("--force-reinstall")
    if hashed:
        argv.append("--require-hashes")
    argv += [*args, "-r", path]
    return PipStep(
        kind=kind,
        title=title,
        args=tuple(argv),
        requirements_file=path,
        requirements=tuple(requirement_line(p) for p in pkgs),
        names=tuple(p.name for p in pkgs),
    )


def _shell_join(argv: Sequence[str]) -> str:
    import shlex

    return " ".join(shlex.quote(a) for a in argv)


def check_lock_fits(
    lock: Lock, target: Target, route_key: str | None = None, origin: str = "pylock.toml",
) -> None:
    """Refuse a lock made for another device or interpreter, before anything is installed."""
    from packaging.markers import InvalidMarker, Marker
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    from jetpip.errors import LockError

    problems: list[str] = []
    interp = target.interpreter
    env = target.marker_environment()
    if lock.environments and env:
        try:
            fits = any(Marker(m).evaluate(dict(env)) for m in lock.environments)
        except InvalidMarker as exc:
            raise LockError(f"{origin}: bad environments marker: {exc}",
                            "re-create the lock with `jetpip lock`") from None
        if not fits:
            problems.append(
                f"environments {list(lock.environments)} do not include this interpreter "
                f"(python {interp.python_version}, {env.get('platform_machine', '?')})"
            )
    if lock.requires_python:
        try:
            if not SpecifierSet(lock.requires_python).contains(interp.version, prereleases=True):
                problems.append(f"requires-python {lock.requires_python}, this is Python {interp.version}")
        except InvalidSpecifier:
            problems.append(f"requires-python {lock.requires_python!r} is not a valid specifier")
    here = _target_facts(target)
    for key, label in (("cuda", "CUDA"), ("l4t", "L4T major"), ("arch_kind", "Tegra/SBSA"),
                       ("compute_capability", "compute capability"), ("python", "Python")):
        want, have = lock.target.get(key), here.get(key)
        if key == "l4t" and want:
            want = str(want).split(".")[0]
        if want and have and str(want) != have:
            problems.append(f"locked for {label} {want}, this target has {have}")
    if route_key and lock.route and route_key != lock.route:
        problems.append(f"locked for the route {lock.route}, this target routes to {route_key}")
    accepted = {str(t) for t in target.tags()}
    for pkg in lock.packages:
        try:
            _, _, _, tags = parse_wheel_filename(pkg.filename)
        except InvalidWheelFilename:
            continue
        if not any(str(t) in accepted for t in tags):
            wanted = ", ".join(sorted(str(t) for t in tags))
            problems.append(f"{pkg.filename} ({wanted}) does not install on this interpreter")
    if problems:
        desc = ", ".join(f"{k} {v}" for k, v in lock.target.items()) or "an unrecorded target"
        raise LockError(
            f"{origin} was made for another target ({desc}):\n"
            + "\n".join(f"  - {p}" for p in problems[:12]),
            "re-lock on (or for) this device with `jetpip lock`, or sync with the interpreter "
            "and device the lock was made for",
        )


def _target_facts(target: Target) -> dict[str, str]:
    facts = {
        "cuda": target.cuda.value if target.cuda else None,
        "l4t": target.l4t.value.split(".")[0] if target.l4t else None,
        "arch_kind": target.arch_kind.value if target.arch_kind else None,
        "compute_capability": target.compute_capability.value if target.compute_capability else None,
        "python": target.interpreter.python_version,
    }
    return {k: v for k, v in facts.items() if v}
