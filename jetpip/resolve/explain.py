"""Why a resolution failed or fell short: the conflicts of the newest releases of the user's requests.

resolvelib reports the requirements that were in conflict when it gave up: after backtracking,
those belong to the oldest releases it tried, which say nothing useful ("oldpkg 0.1.0 requires
..."). The user needs the conflict of what they asked for, as it stands today: the newest release
of each request, its requirements, and the requirement or route constraint each one runs into.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import reduce
from typing import Protocol

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from jetpip.errors import (
    ConflictError,
    ConflictLike,
    GuardedWheelMissingError,
    NoCandidateError,
    ResolutionError,
)
from jetpip.model.sources import Route
from jetpip.model.target import Target
from jetpip.model.urls import Url
from jetpip.resolve.finder import Candidate, FindResult, Reject, versions_within
from jetpip.resolve.policy import PolicyFinder
from jetpip.resolve.resolution import USER, Conflict, Pin, Req, Resolution

# Releases of one package that may fail on the same required guarded name before the walk back
# stops. No build at all: older releases only differ by not needing it, so three say enough. Builds,
# but none in range (torch>=2.9 on a route with 2.8): an older release may accept the route's
# build, which is a walk worth taking, within reason.
NO_BUILD_RELEASES = 3
OUT_OF_RANGE_RELEASES = 30


class Oracle(Protocol):
    """What the explanations ask of the resolver's provider."""

    @property
    def finder(self) -> PolicyFinder:
        """The finder with the route's guard policies."""
        ...

    @property
    def route(self) -> Route:
        """The route of the resolution."""
        ...

    @property
    def constraints(self) -> Mapping[str, Sequence[Req]]:
        """The route's and the user's constraints, by name."""
        ...

    def is_anchor(self, name: str) -> bool:
        """True for a guarded name whose pin ordinary dependents cannot move."""
        ...

    def accepts(self, req: Req, cand: Candidate) -> bool:
        """True when ``cand`` meets ``req``."""
        ...

    def iter_ordered(self, name: str, reqs: Sequence[Req], bad: Sequence[Url] = ()) -> Iterator[Candidate]:
        """Candidates meeting ``reqs`` and the constraints, best first."""
        ...

    def python_excluded(self, cand: Candidate) -> bool:
        """True for a file whose metadata's Requires-Python excludes the Target."""
        ...

    def fixed_pin(self, name: str, reqs: Sequence[Req]) -> Candidate | None:
        """A guarded name's pin for the user's requests and the constraints."""
        ...

    def requirements_of(self, cand: Candidate, extras: frozenset[str] = frozenset()) -> list[Req]:
        """``cand``'s requirements for the Target."""
        ...


class Information(Protocol):
    """One of resolvelib's causes: a requirement in the conflict it gave up on."""

    @property
    def requirement(self) -> Req:
        """The requirement."""
        ...


class DeadEnd(Exception):
    """Raised inside the resolution: releases of ``parent`` keep failing on one required guarded name."""

    def __init__(self, parent: str, hits: tuple[tuple[Version, Req], ...], no_build: bool) -> None:
        super().__init__(parent)
        self.parent = parent
        self.hits = hits  # (release, the requirement no route build meets), in the order tried
        self.no_build = no_build  # the route has no build of the name at all


@dataclass(frozen=True)
class Cause:
    """One line of an explanation: who requires what, and what stands against it."""

    text: str

    def describe(self) -> str:
        """The line."""
        return self.text


# -- the sides of a conflict ---------------------------------------------------------


def _reason(route: Route, text: str) -> str:
    """The reason indexes.toml gives for the route constraint ``text``, if any."""
    for key, why in route.constraint_reasons.items():
        try:
            same = key == text or str(Requirement(key)) == text
        except InvalidRequirement:
            same = False
        if same:
            return why
    return ""


def _who(req: Req, route: Route) -> str:
    """``req`` as the side of a conflict: "you ask for x", "route r constrains x (why)", "p 1 requires x"."""
    if req.origin == USER:
        return f"you ask for {req.text}"
    if req.origin.startswith("constraint (route"):
        why = _reason(route, req.text)
        return f"route {route.key} constrains {req.text}" + (f" ({why})" if why else "")
    if req.origin.startswith("constraint"):
        return f"your constraints (-c) say {req.text}"
    return f"{req.origin} requires {req.text}"


def _versions(cands: Sequence[Candidate]) -> str:
    return ", ".join(dict.fromkeys(str(c.version) for c in cands)) or "none"


def _newest(o: Oracle, root: Req) -> Candidate | None:
    if o.is_anchor(root.name):
        return o.fixed_pin(root.name, [root])
    return next(o.iter_ordered(root.name, [root]), None)


def blockers(o: Oracle, cand: Candidate, roots: Sequence[Req],
             held: Mapping[str, Pin] | None = None) -> list[ConflictLike]:
    """Each requirement of ``cand`` that cannot be met here, with what stands against it.

    ``held``: the pins of a finished resolution, for a release it passed over.
    """
    label = f"{cand.name} {cand.version}"
    out: list[ConflictLike] = []
    for dep in o.requirements_of(cand):
        if dep.name != cand.name:
            cause = _blocker(o, label, dep, [r for r in roots if r.name == dep.name], held)
            if cause is not None:
                out.append(cause)
    return out


def _blocker(o: Oracle, label: str, dep: Req, asked: Sequence[Req],
             held: Mapping[str, Pin] | None) -> ConflictLike | None:
    name, key = dep.name, o.route.key
    found = o.finder.find(name)
    if o.is_anchor(name):
        pin = o.fixed_pin(name, asked)
        if pin is None:
            if next(found.iter_candidates(), None) is None:
                return Cause(f"{label} requires {dep.text}; route {key} has no CUDA build of {name} "
                             "for this Target")
            return None  # the user's own request on the name fails: reported for that request
        if not dep.authoritative and not o.accepts(dep, pin):
            return Conflict(name, dep.text, label, f"{pin.version} from {pin.source.name}")
        if dep.authoritative and next(o.iter_ordered(name, [dep, *asked]), None) is None:
            return Cause(f"{label} requires {dep.text}; route {key}'s CUDA builds of {name} are "
                         f"{_versions(found.candidates)}")
        return None
    if next(o.iter_ordered(name, [dep, *asked]), None) is None:
        return _against(o, label, dep, asked, found)
    kept = (held or {}).get(name)
    if kept is not None and not _holds(dep.specifier, kept.version):
        by = f" (required by {', '.join(kept.required_by)})" if kept.required_by else ""
        return Cause(f"{label} requires {dep.text}; this resolution holds {name} {kept.version}{by}")
    return None


def _holds(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True


def _against(o: Oracle, label: str, dep: Req, asked: Sequence[Req], found: FindResult) -> Cause:
    """The requirement or constraint that leaves ``dep`` no release."""
    head = f"{label} requires {dep.text}"
    meets = [c for c in found.iter_candidates(versions_within([dep.specifier], found.guarded))
             if o.accepts(dep, c)]
    if not meets:
        if found.guarded or o.finder.is_required(dep.name):
            return Cause(f"{head}; route {o.route.key} has no CUDA build of {dep.name} that meets it")
        return Cause(f"{head}; no release of {dep.name} fits the Target "
                     f"(releases on offer: {_versions(found.candidates[:8])})")
    others = [*o.constraints.get(dep.name, ()), *asked]
    for other in others:
        if not any(o.accepts(other, c) for c in meets):
            return Cause(f"{head}; {_who(other, o.route)}")
    return Cause(f"{head}; with {' and '.join(_who(r, o.route) for r in others)}, no release of "
                 f"{dep.name} is left")


def _between(o: Oracle, newest: Mapping[str, Candidate], roots: Sequence[Req],
             named: set[str]) -> list[ConflictLike]:
    """Two requests whose newest releases require the same name in ranges that do not meet."""
    by_name: dict[str, list[tuple[str, Req]]] = {}
    for cand in newest.values():
        for dep in o.requirements_of(cand):
            if not o.is_anchor(dep.name):
                by_name.setdefault(dep.name, []).append((f"{cand.name} {cand.version}", dep))
    out: list[ConflictLike] = []
    for name, deps in sorted(by_name.items()):
        asked = [r for r in roots if r.name == name]
        if name in named or len(deps) < 2 or next(o.iter_ordered(name, [d for _, d in deps] + asked), None):
            continue
        for i, (first, a) in enumerate(deps):
            for second, b in deps[i + 1:]:
                if next(o.iter_ordered(name, [a, b]), None) is None:
                    out.append(Cause(f"{first} requires {a.text}; {second} requires {b.text}"))
    return out


def _deeper(o: Oracle, cand: Candidate, roots: Sequence[Req]) -> list[ConflictLike]:
    """One level further down: what blocks the newest release of each requirement of ``cand``."""
    label = f"{cand.name} {cand.version}"
    out: list[ConflictLike] = []
    for dep in o.requirements_of(cand):
        if dep.name == cand.name or o.is_anchor(dep.name):
            continue
        child = next(o.iter_ordered(dep.name, [dep, *(r for r in roots if r.name == dep.name)]), None)
        if child is not None:
            out.extend(Cause(f"{label} requires {dep.text}; {c.describe()}")
                       for c in blockers(o, child, roots))
    return out


# -- failures ----------------------------------------------------------------------


def failure(
    o: Oracle, roots: Sequence[Req], target: Target,
    causes: Sequence[Information], rounds: int | None = None,
) -> ResolutionError:
    """The error for a resolution that failed: every request whose newest release cannot be met, and why."""
    problems: list[ConflictLike] = []
    missing: list[NoCandidateError] = []
    newest: dict[str, Candidate] = {}
    for root in roots:
        cand = _newest(o, root)
        if cand is None:
            missing.append(no_candidate(o, o.finder.find(root.name), [root], target))
            continue
        newest[root.name] = cand
        problems.extend(blockers(o, cand, roots))
    named = {c.package for c in problems if isinstance(c, Conflict)}
    problems.extend(_between(o, newest, roots, named))
    problems = list({c.describe(): c for c in problems}.values())
    if not problems and not missing:
        problems = [c for cand in newest.values() for c in _deeper(o, cand, roots)]
        problems = list({c.describe(): c for c in problems}.values())
    if missing and not problems and len(missing) == 1:
        return missing[0]
    if not problems and not missing:
        return _from_causes(o, causes, target, rounds)
    lines: list[ConflictLike] = [*problems, *(Cause(err.message.splitlines()[0]) for err in missing)]
    ways = [_way(o, c) for c in problems] + [
        f"`jetpip hint {err.package}` for a source build" for err in missing if err.package]
    ways.append("ask for an older release of a request yourself (name==X) to resolve around the conflict")
    if any(isinstance(c, Conflict) for c in problems):
        ways.append("a package that only declares a stricter pin but works with the CUDA build can be "
                    "installed with --no-deps; jetpip's own consistency check still runs")
    hint = "ways out:\n" + "\n".join(f"- {w}" for w in dict.fromkeys(w for w in ways if w))
    err = ConflictError(lines, hint)
    if rounds is not None:  # in place of the plain "the requirements conflict:"
        err.message = (f"the resolution did not settle after {rounds} rounds; the newest releases of your "
                       "requests conflict:\n" + err.message.partition("\n")[2])
        err.args = (err.message,)
    return err


def _way(o: Oracle, cause: ConflictLike) -> str:
    if isinstance(cause, Conflict):
        offered = _versions(o.finder.find(cause.package).candidates)
        return (f"use a release of {cause.origin.split()[0]} that accepts {cause.package} "
                f"{(cause.pin or '').split()[0]}, or ask for '{cause.requirement}' yourself if a CUDA build "
                f"of it exists (builds on offer: {offered})")
    text = cause.describe()
    if "constrains" in text:
        return ("the route's constraints protect its CUDA builds: ask for an older release of the request "
                f"that accepts them (name<X), or use a route whose builds allow more than {o.route.key}")
    if "no CUDA build" in text:
        return ("a guarded name without a CUDA build on the route: `jetpip hint NAME` for a source build, "
                "or take the base index's build for one project with an indexes.toml overlay: "
                "[guarded] unguard = [\"NAME\"] (docs/policies.md)")
    return ""


def _lead(err: ResolutionError, line: str) -> None:
    err.message = f"{line}\n{err.message}"
    err.args = (err.message,)


def _from_causes(
    o: Oracle, causes: Sequence[Information], target: Target, rounds: int | None,
) -> ResolutionError:
    """The causes resolvelib gave, when the newest releases conflict with nothing one level down."""
    if rounds is not None:
        return ResolutionError(
            f"the resolution did not settle after {rounds} rounds, and the newest releases of your "
            "requests meet every requirement one level down: the conflict lies deeper",
            "pin the packages that move most (see -v output) or add a -c constraints file",
        )
    by_name: dict[str, list[Req]] = {}
    for info in causes:
        by_name.setdefault(info.requirement.name, []).append(info.requirement)
    conflicts: list[ConflictLike] = []
    for name, reqs in sorted(by_name.items()):
        found = o.finder.find(name)
        reqs = [*dict.fromkeys(reqs), *o.constraints.get(name, ())]
        # The best usable file only: listing them all would read (or prepare) every release's metadata.
        best = next(o.iter_ordered(name, [r for r in reqs if r.authoritative] if found.guarded else []), None)
        if best is None or all(r.parent is None for r in reqs):
            return no_candidate(o, found, reqs, target)
        if o.is_anchor(name):
            pin = best
            conflicts.extend(Conflict(name, r.text, r.origin, f"{pin.version} from {pin.source.name}")
                             for r in reqs if not r.authoritative and not o.accepts(r, pin))
            continue
        offered = tuple(_versions(found.candidates).split(", "))
        conflicts.extend(Conflict(name, r.text, r.origin, None, offered) for r in reqs)
    if not conflicts:
        conflicts = [Conflict(i.requirement.name, i.requirement.text, i.requirement.origin) for i in causes]
    return ConflictError(conflicts, "a package that only declares a stricter pin but works with the CUDA "
                                    "build can be installed with --no-deps; jetpip's own consistency check "
                                    "still runs")


def no_candidate(o: Oracle, found: FindResult, reqs: Sequence[Req], target: Target,
                 required_by: Sequence[str] = ()) -> NoCandidateError:
    """No file of ``found``'s name meets ``reqs``: every file seen, with the reason it was passed over."""
    reqs = [*reqs, *(c for c in o.constraints.get(found.name, ()) if c not in reqs)]
    spec = str(reduce(operator.and_, (r.specifier for r in reqs), SpecifierSet()))
    rejects = list(found.rejects)
    for c in found.candidates:
        rejects.append(Reject(c.link.filename, c.source.name, f"version {c.version} does not match '{spec}'"))
    tags = [str(t) for t in target.tags()[:6]]
    who = list(required_by) or sorted({r.origin for r in reqs if r.parent is not None})
    args = (found.name, spec, tags, target.interpreter.version, found.sources_searched, rejects)
    if found.guarded:
        return GuardedWheelMissingError(
            *args,
            hint=(f"{found.name} is a guarded CUDA package: it only comes from the route's sources, never "
                  f"from the base index; `jetpip hint {found.name}` prints the source-build recipe"),
            required_by=who,
        )
    return NoCandidateError(*args, required_by=who)


def dead_end_error(o: Oracle, dead: DeadEnd, target: Target) -> NoCandidateError:
    """The error for a walk back stopped early: the releases tried and the guarded name they all need."""
    newest = dead.hits[0][1]
    name = newest.name
    tried = [str(v) for v, _ in dead.hits]
    what = "no CUDA build of it" if dead.no_build else f"no CUDA build of it that meets {newest.text}"
    err = no_candidate(o, o.finder.find(name), [newest], target,
                       required_by=[f"{dead.parent} {v}" for v in tried])
    _lead(err, f"{dead.parent} {', '.join(tried)} (its newest releases for this Target) require {name}, "
               f"and route {o.route.key} has {what}; jetpip stops here rather than walk back through "
               f"every older {dead.parent} release to one that does not need it (to use an older "
               f"release anyway, ask for one by version: '{dead.parent}==X')")
    return err


# -- results that fell short ------------------------------------------------------------


def downgrades(o: Oracle, resolution: Resolution, roots: Sequence[Req],
               incoming: Mapping[str, Sequence[Req]]) -> tuple[list[str], list[str]]:
    """Lines for the requests locked below their newest release for the Target, each with its cause.

    Two lists: those more than one major release below (``--strict-versions`` refuses them), and the
    rest. The user's own limits (the request, -c) count; the route's constraints and other packages'
    requirements are the causes to name. A request held back is never silent.
    """
    pins = resolution.by_name()
    far: list[str] = []
    near: list[str] = []
    for root in roots:
        pin = pins.get(root.name)
        if pin is None:
            continue
        found = o.finder.find(root.name)
        specs = [root.specifier, *(c.specifier for c in o.constraints.get(root.name, ())
                                   if not c.origin.startswith("constraint (route"))]
        newest = next((c for c in found.iter_candidates(versions_within(specs, found.guarded))
                       if not c.version.is_prerelease and not o.python_excluded(c)), None)
        try:
            pinned = Version(pin.version)
        except InvalidVersion:
            continue
        if newest is None or pinned >= newest.version:
            continue
        why = _why_below(o, newest, roots, incoming.get(root.name, ()), pins)
        gap = newest.version.release[0] - pinned.release[0]
        if gap > 1:
            far.append(f"{root.name} {pin.version} is locked, {gap} major releases below {newest.version}, "
                       f"the newest release for this Target: {why}")
        else:
            near.append(f"{root.name} {pin.version} is locked, below {newest.version}, the newest release "
                        f"for this Target: {why}")
    return far, near


def _why_below(o: Oracle, newest: Candidate, roots: Sequence[Req], incoming: Sequence[Req],
               pins: Mapping[str, Pin]) -> str:
    against = [r for r in (*incoming, *o.constraints.get(newest.name, ())) if not o.accepts(r, newest)]
    if against:
        return "; ".join(dict.fromkeys(_who(r, o.route) for r in against))
    found = blockers(o, newest, roots, pins) or _deeper(o, newest, roots)
    if found:
        return "; ".join(dict.fromkeys(c.describe() for c in found))
    return "no single requirement explains it (run with -v to follow the resolution)"


def strict_versions_error(lines: Sequence[str]) -> ResolutionError:
    """--strict-versions: a request locked far below its newest release is an error."""
    return ResolutionError(
        "requests would be locked far below their newest release (--strict-versions):\n"
        + "\n".join(f"  - {line}" for line in lines),
        "ask for the newest release yourself (name>=X) to see the conflict in full, lift the requirement "
        "named above, or drop --strict-versions to lock the older release with a warning",
    )


__all__ = [
    "NO_BUILD_RELEASES", "OUT_OF_RANGE_RELEASES", "Cause", "DeadEnd", "Oracle", "blockers",
    "dead_end_error", "downgrades", "failure", "no_candidate", "strict_versions_error",
]
