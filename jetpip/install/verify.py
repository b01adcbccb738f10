"""After the pip steps: re-assert the CUDA builds and check every installed requirement."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from packaging.markers import InvalidMarker, UndefinedComparison, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.model.sources import Route
from jetpip.model.target import InstalledDist, Interpreter
from jetpip.resolve.requirements import RequirementLine, only_for_extra

if TYPE_CHECKING:  # the install's fast path imports this module; keep it free of the lock's imports
    from jetpip.lock.pylock import LockedPackage


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
    from jetpip.install.plan import mismatch

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


@functools.lru_cache(maxsize=4096)
def _requirement(text: str) -> Requirement | None:
    # The fast path and the consistency check read the same Requires-Dist lines: parse each once.
    try:
        return Requirement(text)
    except InvalidRequirement:
        return None


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
            if only_for_extra(text) is not None:
                continue  # an extra's requirement, not followed (most lines of a big package)
            req = _requirement(text)
            if req is None:
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


@dataclass(frozen=True)
class Satisfaction:
    """Whether the environment already meets a request, without asking any index; why not if not."""

    ok: bool
    checked: tuple[str, ...] = ()  # "name version" of every distribution the request reaches
    guarded: tuple[str, ...] = ()  # "name version" of the CUDA builds among them
    reason: str = ""  # the first thing that is not satisfied

    def summary(self, requested: int) -> str:
        """The one line the install prints when it takes this path."""
        cuda = ", ".join(self.guarded) or "none"
        return (f"nothing to do: {requested} requirement(s) already satisfied by the {len(self.checked)} "
                f"installed packages they reach; no index was asked (CUDA builds in place: {cuda})")


def target_build(dist: InstalledDist, route: Route) -> str | None:
    """Why an installed guarded ``dist`` is not a build for the route's sources, or None when it is.

    The same rule the finder applies to a guarded file: a WHEEL tag whose platform is one of a
    route source's platforms (a source that declares none accepts any build).
    """
    from packaging.tags import parse_tag

    from jetpip.resolve.finder import platform_ok

    sources = [s for s in route.sources if not s.projects or dist.name in s.projects]
    if not sources:
        return f"the route {route.key} has no CUDA source for {dist.name}"
    tags = frozenset(t for line in dist.wheel_tags for t in _tags_of(line, parse_tag))
    if any(platform_ok(tags, s.platforms) for s in sources):
        return None
    found = ", ".join(sorted(dist.wheel_tags)) or "no WHEEL tags"
    wanted = ", ".join(sorted({p for s in sources for p in s.platforms}))
    return f"{dist.name} {dist.version} is a build tagged {found}, not one for {wanted}"


def foreign_guarded(interpreter: Interpreter, route: Route) -> list[tuple[InstalledDist, str]]:
    """Every installed guarded distribution that is not a build for the route, with why (name order).

    Not only those a request reaches: a base-index torch that a plain ``pip install`` put in is
    found by the next install of anything. A preferred name's base-index build is not foreign: it is
    what the policy takes where the route has no CUDA build.
    """
    installed = interpreter.installed_by_name()
    guarded = {canonicalize_name(g) for g in route.guarded - route.preferred}
    out = []
    for name in sorted(guarded & installed.keys()):
        why = target_build(installed[name], route)
        if why is not None:
            out.append((installed[name], why))
    return out


def installed_constraints(interpreter: Interpreter, names: Collection[str], env: Mapping[str, str],
                          *, besides: Collection[str] = ()) -> list[str]:
    """What the installed distributions require of ``names``, as constraint lines (``torch>=2.1``).

    The requirements of ``besides`` (distributions about to be replaced) do not count; markers are
    evaluated in ``env``, without extras.
    """
    wanted = {canonicalize_name(n) for n in names}
    skip = {canonicalize_name(n) for n in besides}
    out: set[str] = set()
    for dist in interpreter.installed:
        if dist.name in skip:
            continue
        for text in dist.requires:
            req = _requirement(text)
            if req is None or canonicalize_name(req.name) not in wanted or not str(req.specifier):
                continue
            if _applies(req, env, ()):
                out.add(f"{canonicalize_name(req.name)}{req.specifier}")
    return sorted(out)


def _tags_of(line: str, parse: Any) -> frozenset[Any]:
    try:
        return frozenset(parse(line))
    except ValueError:
        return frozenset()


def already_satisfied(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    interpreter: Interpreter,
    route: Route,
    env: Mapping[str, str],
) -> Satisfaction:
    """Check the installed distributions against the request, as pip's "already satisfied" does.

    Every requested requirement and, transitively, every Requires-Dist of the distributions it
    reaches (markers and extras evaluated in ``env``, the Target's marker environment) must be
    met under the pre-release policy; the route's and the user's constraints must hold; no CPU
    build may shadow a GPU one; and every installed guarded distribution must be a build for
    this Target; and, as after every install, no installed distribution may have a broken
    requirement. Anything else (including a requirement jetpip cannot read) means "resolve".

    File hashes are not compared here: without a lock, which file the index serves now is known
    only by asking it, and this path asks nothing. A sync compares every file by hash.
    """
    installed = interpreter.installed_by_name()
    subs: dict[str, str] = {canonicalize_name(k): canonicalize_name(v)
                            for k, v in route.substitutions.items()}
    guarded = {canonicalize_name(g) for g in route.guarded}

    def no(reason: str) -> Satisfaction:
        return Satisfaction(False, reason=reason)

    shadowed = shadows(interpreter, route.substitutions)
    if shadowed:
        return no(shadowed[0])
    foreign = foreign_guarded(interpreter, route)  # any in the environment, reached or not
    if foreign:
        return no(foreign[0][1])
    limits: dict[str, list[SpecifierSet]] = {}
    for item in (*route.constraints, *constraints):
        req = _parse(item)
        if req is None:
            return no(f"cannot read the constraint {_text(item)!r}")
        if _applies(req, env, ()):
            limits.setdefault(_name(req, subs), []).append(req.specifier)
    queue: list[tuple[Requirement, str]] = []
    for item in requirements:
        req = _parse(item)
        if req is None or req.url:
            return no(f"{_text(item)!r} is not a plain requirement on a name")
        if _applies(req, env, ()):
            queue.append((req, "your request"))
    seen: dict[str, set[str]] = {}  # name -> extras already followed
    while queue:
        req, who = queue.pop()
        name = _name(req, subs)
        dist = installed.get(name)
        if dist is None:
            return no(f"{who} requires {req}, which is not installed")
        for spec in (req.specifier, *limits.get(name, ())):
            if not satisfies(spec, dist.version, guarded=name in guarded):
                return no(f"{who} requires {name}{spec}, but {dist.version} is installed")
        extras = {canonicalize_name(e) for e in req.extras}
        done = seen.get(name)
        if done is not None and extras <= done:
            continue
        new = extras - done if done is not None else extras
        seen[name] = (done or set()) | extras
        for text in dist.requires:
            dep = _parse(text)
            if dep is None:
                return no(f"{dist.name} {dist.version} has a requirement jetpip cannot read: {text!r}")
            # The base requirements once, then only what a newly asked extra adds.
            if (done is None and _applies(dep, env, ())) or _applies(dep, env, new, only_extras=True):
                queue.append((dep, f"{dist.name} {dist.version}"))
    broken = check_consistency(interpreter, guarded, route.substitutions)
    if broken:
        return no(str(broken[0]))  # the full run reports every broken requirement, with its fix
    reached = sorted(seen)
    return Satisfaction(
        True,
        checked=tuple(f"{n} {installed[n].version}" for n in reached),
        guarded=tuple(f"{n} {installed[n].version}" for n in reached if n in guarded),
    )


def _text(item: str | RequirementLine) -> str:
    return item.text if isinstance(item, RequirementLine) else item


def _parse(item: str | RequirementLine) -> Requirement | None:
    return _requirement(_text(item))


def _name(req: Requirement, subs: Mapping[str, str]) -> str:
    name = canonicalize_name(req.name)
    return subs.get(name, name)  # the resolver meets onnxruntime with onnxruntime-gpu


def _applies(req: Requirement, env: Mapping[str, str], extras: Collection[str], *,
             only_extras: bool = False) -> bool:
    if req.marker is None:
        return not only_extras
    try:
        if not only_extras and req.marker.evaluate({**env, "extra": ""}):
            return True
        # A requirement under an extra counts only when that extra is asked for.
        return any(req.marker.evaluate({**env, "extra": e}) and not req.marker.evaluate({**env, "extra": ""})
                   for e in extras)
    except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName):
        return False
