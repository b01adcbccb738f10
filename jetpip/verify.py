"""After the pip steps: re-assert the CUDA builds and check every installed requirement."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.lock import LockedPackage
from jetpip.plan import mismatch
from jetpip.target import Interpreter


@dataclass(frozen=True)
class Mismatch:
    """A guarded distribution that is not the planned file after the pip steps ran."""

    package: LockedPackage
    reason: str

    def __str__(self) -> str:
        return f"{self.package.name}: {self.reason}"


@dataclass(frozen=True)
class BrokenRequirement:
    """A requirement of an installed distribution that the environment does not satisfy."""

    dist: str
    dist_version: str
    requirement: str
    installed: str | None  # the version found, None when the project is missing
    installed_name: str | None = None  # the distribution found (a substitute may stand in)

    def __str__(self) -> str:
        if self.installed is None:
            return f"{self.dist} {self.dist_version} requires {self.requirement}, which is not installed"
        name = self.installed_name or canonicalize_name(Requirement(self.requirement).name)
        return (f"{self.dist} {self.dist_version} requires {self.requirement}, "
                f"but {name} {self.installed} is installed")


def reassert(guarded: Iterable[LockedPackage], interpreter: Interpreter) -> list[Mismatch]:
    """Each guarded package must be installed as exactly the planned file."""
    installed = interpreter.installed_by_name()
    out: list[Mismatch] = []
    for pkg in guarded:
        dist = installed.get(pkg.name)
        if dist is None:
            out.append(Mismatch(pkg, "not installed"))
            continue
        why = mismatch(pkg, dist)
        if why is not None:
            out.append(Mismatch(pkg, why))
    return out


def shadows(interpreter: Interpreter, substitutions: Mapping[str, str]) -> list[str]:
    """CPU builds installed in the environment beside the GPU build that shares their module."""
    installed = interpreter.installed_by_name()
    out = []
    for cpu, gpu in sorted(substitutions.items()):
        a, b = installed.get(cpu), installed.get(gpu)
        if a is not None and b is not None and not a.in_system_site:
            out.append(f"{cpu} {a.version} is installed beside {gpu} {b.version} and shadows its module")
    return out


def satisfies(specifier: SpecifierSet, version: str, *, guarded: bool) -> bool:
    """Whether ``version`` satisfies ``specifier`` under jetpip's pre-release policy.

    Pre-releases always count (an installed pre-release was chosen on purpose). For guarded
    names, NVIDIA's builds such as ``2.1.0a0+41361538.nv23.06`` are release candidates of the
    release they are shipped as, so they are also compared by their release (``2.1.0``): that
    build satisfies ``torch>=2.1`` and ``torch==2.1.0``.
    """
    try:
        parsed = Version(version)
    except InvalidVersion:
        return False
    if specifier.contains(parsed, prereleases=True):
        return True
    if guarded and (parsed.is_prerelease or parsed.local is not None):
        return specifier.contains(Version(parsed.base_version), prereleases=True)
    return False


def check_consistency(
    interpreter: Interpreter, guarded: Collection[str] = (), substitutions: Mapping[str, str] | None = None,
) -> list[BrokenRequirement]:
    """Every requirement of every installed distribution, checked against what is installed.

    pip's own check is off under ``--no-deps``, so this replaces it. Markers are evaluated in
    the target's environment; extras a dependent asked for are not followed. Requirements
    among a venv's system site-packages are checked only where the venv shadows one of them.
    A requirement on a substituted name (``onnxruntime``) is met by its substitute
    (``onnxruntime-gpu``) when that is installed instead.
    """
    subs = {canonicalize_name(k): canonicalize_name(v) for k, v in (substitutions or {}).items()}
    installed = interpreter.installed_by_name()
    env = dict(interpreter.markers)
    env["extra"] = ""
    guarded_names = {canonicalize_name(g) for g in guarded}
    broken: list[BrokenRequirement] = []
    for dist in sorted(installed.values(), key=lambda d: d.name):
        for text in dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is not None:
                try:
                    if not req.marker.evaluate(env):
                        continue
                except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
                    continue
            name = canonicalize_name(req.name)
            found = installed.get(name)
            if found is None and name in subs and subs[name] in installed:
                name = subs[name]
                found = installed[name]
            if dist.in_system_site and (found is None or found.in_system_site):
                # The system package manager's own business, unless the environment shadows it.
                continue
            if found is None:
                broken.append(BrokenRequirement(dist.name, dist.version, _plain(req), None))
            elif not satisfies(req.specifier, found.version, guarded=name in guarded_names):
                broken.append(BrokenRequirement(dist.name, dist.version, _plain(req), found.version,
                                                found.name))
    return broken


def _plain(req: Requirement) -> str:
    # The marker already applied; show the requirement as the user would write it.
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"
