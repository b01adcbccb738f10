"""Every guarded distribution in the environment re-asserted: the pins that bring back the route's builds.

An install re-asserts the CUDA builds its own request reaches; a base-index torch that a plain
``pip install`` put in beside them would stay unless every install also looks at the rest of
the environment. These pins join the request, so one resolution and one plan replace them.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from jetpip.errors import ForeignBuildError, ResolutionError
from jetpip.install.verify import foreign_guarded, installed_constraints
from jetpip.model.sources import Route
from jetpip.model.target import InstalledDist, Interpreter, Target
from jetpip.report import NullReporter, Reporter
from jetpip.resolve.requirements import RequirementLine
from jetpip.resolve.resolution import Resolution

#: Resolves requirements under constraints for the Target (``api.resolve_for`` with its context bound).
Resolve = Callable[[Sequence[str], Sequence[str | RequirementLine]], Resolution]


@dataclass(frozen=True)
class Repairs:
    """The pins that replace foreign guarded builds, and those the route has no build for."""

    pins: tuple[str, ...] = ()  # ``torch==2.8.0``, one per replaced distribution
    stranded: tuple[tuple[InstalledDist, str], ...] = ()  # (dist, why it is not the route's build)


def plan_repairs(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    interpreter: Interpreter,
    route: Route,
    env: Mapping[str, str],
    resolve: Resolve,
    reporter: Reporter | None = None,
) -> Repairs:
    """Pins for every installed guarded distribution that is not a build for the route.

    Each gets the route's build of the same version; where the route has none, the best version
    that satisfies what the rest of the environment requires of it. A name the request itself
    names is left to the request; a CPU name the route substitutes is left to the shadow rule.
    """
    rep = reporter or NullReporter()
    asked = {_name(r) for r in requirements}
    subs = {canonicalize_name(k) for k in route.substitutions}
    foreign = [(d, why) for d, why in foreign_guarded(interpreter, route)
               if d.name not in asked and d.name not in subs]
    if not foreign:
        return Repairs()
    names = [d.name for d, _ in foreign]
    rep.step(f"re-asserting {', '.join(names)}: installed, but not builds for route {route.key}")
    cons = [*constraints, *installed_constraints(interpreter, names, env, besides=names)]
    same = [f"{d.name}=={d.version}" for d, _ in foreign]
    for attempt in (same, names):
        try:
            return Repairs(pins=_pins(resolve(attempt, cons), names))
        except ResolutionError:
            continue
    # Together they do not fit: each on its own says which the route has no build for.
    pins: list[str] = []
    stranded: list[tuple[InstalledDist, str]] = []
    for dist, why in foreign:
        try:
            pins += _pins(resolve([dist.name], cons), [dist.name])
        except ResolutionError:
            stranded.append((dist, why))
    return Repairs(pins=tuple(pins), stranded=tuple(stranded))


def repair_pins(
    requirements: Sequence[str | RequirementLine],
    constraints: Sequence[str | RequirementLine],
    *,
    target: Target,
    route: Route,
    resolve: Resolve,
    reporter: Reporter | None = None,
    strict: bool = False,
) -> tuple[str, ...]:
    """The pins an install's request gets; a build the route cannot replace warns (fails if ``strict``)."""
    from jetpip.resolve.resolution import marker_environment

    repairs = plan_repairs(requirements, constraints, interpreter=target.interpreter, route=route,
                           env=marker_environment(target), resolve=resolve, reporter=reporter)
    stranded = stranded_error(repairs, route, target.interpreter.executable or "python3")
    if stranded is not None:
        if strict:
            raise stranded
        (reporter or NullReporter()).warning(f"{stranded}: {stranded.hint}; --strict makes this an error")
    return repairs.pins


def stranded_error(repairs: Repairs, route: Route, python: str) -> ForeignBuildError | None:
    """What to say about builds the route cannot replace; the CLI warns, or fails under --strict."""
    if not repairs.stranded:
        return None
    lines = [f"{why}, and route {route.key} has no build of {d.name} that fits the environment; it stays"
             for d, why in repairs.stranded]
    names = " ".join(shlex.quote(d.name) for d, _ in repairs.stranded)
    return ForeignBuildError(
        "\n".join(lines),
        f"uninstall it (`{python} -m pip uninstall {names}`), or install a version the route has "
        f"(`jetpip install {names}` says which)",
    )


def _pins(resolution: Resolution, names: Sequence[str]) -> tuple[str, ...]:
    chosen = {p.name: p.version for p in resolution.pins}
    return tuple(f"{n}=={chosen[n]}" for n in names if n in chosen)


def _name(item: str | RequirementLine) -> str | None:
    try:
        return canonicalize_name(Requirement(item.text if isinstance(item, RequirementLine) else item).name)
    except InvalidRequirement:
        return None
