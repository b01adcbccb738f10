"""The guarded resolver: a resolvelib provider that pins CUDA builds first and keeps them pinned."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import unquote

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version
from resolvelib import AbstractProvider, BaseReporter, ResolutionImpossible, ResolutionTooDeep, Resolver
from resolvelib.structs import Matches, RequirementInformation

from jetpip.errors import UsageError
from jetpip.model.sources import Route, Source
from jetpip.model.target import Target
from jetpip.model.urls import Url
from jetpip.report import NullReporter, Reporter
from jetpip.resolve import explain
from jetpip.resolve.finder import (
    Candidate,
    Finder,
    IndexClientLike,
    is_vendor_prerelease,
    specifier_accepts,
    versions_within,
)
from jetpip.resolve.lookahead import Lookahead, Want, dependency, marker_true
from jetpip.resolve.policy import PolicyFinder
from jetpip.resolve.requirements import RequirementLine, parse_pep508, read_requirements
from jetpip.resolve.resolution import USER, Conflict, Edge, Pin, Req, Resolution, marker_environment

if TYPE_CHECKING:  # the knowledge base is loaded by the caller; resolvelib's Result exists for typing only
    from resolvelib.resolvers import Result

    from jetpip.knowledge.base import KnowledgeBase


MAX_ROUNDS = 5000  # resolvelib's rounds before it gives up; the explanation then says why


@dataclass(frozen=True)
class _Cand:
    """A candidate with the extras it was asked for (resolvelib identifies ``name[extra]`` apart)."""

    base: Candidate
    extras: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.base.name

    @property
    def version(self) -> Version:
        return self.base.version

    def label(self) -> str:
        return f"{self.base.name} {self.base.version}"


def _shown_version(cand: Candidate) -> str:
    """The version as its filename spells it (``nv23.06``, not ``nv23.6``) when that is valid PEP 440."""
    parts = cand.link.filename.split("-")
    text = unquote(parts[1]) if len(parts) >= 5 else ""
    try:
        return text if Version(text) == cand.version else str(cand.version)
    except ValueError:
        return str(cand.version)


# -- the provider -------------------------------------------------------------------


class _Provider(AbstractProvider[Req, _Cand, str]):
    """resolvelib's side of the resolution; modelled on resolvelib's own PythonInputProvider."""

    def __init__(
        self,
        finder: PolicyFinder,
        client: IndexClientLike,
        env: Mapping[str, str],
        constraints: Mapping[str, Sequence[Req]],
        route: Route,
        companions: Mapping[str, Mapping[str, str]],
        reporter: Reporter,
    ) -> None:
        self.finder = finder
        self.client = client
        self.env = env
        self.constraints = constraints
        self._blocked: dict[Url, Req | None] = {}
        # A release's requirements are read once: judging it (``blocked``) and pinning it ask alike.
        self._requirements: dict[tuple[Url, frozenset[str]], list[Req]] = {}
        self.pruning = True  # pass over releases the fixed constraints rule out (off to explain)
        self.route = route
        self.reporter = reporter
        self.substitutions: dict[str, str] = {
            canonicalize_name(k): canonicalize_name(v) for k, v in route.substitutions.items()
        }
        # companions: torch major.minor -> {companion: its major.minor}; inverted for lookups.
        self.companion_of: dict[tuple[str, str], str] = {}
        for torch_mm, table in companions.items():
            for comp, comp_mm in table.items():
                self.companion_of[(canonicalize_name(comp), str(comp_mm))] = str(torch_mm)
        self.followers = {name for name, _ in self.companion_of}
        self.policy_hits: dict[tuple[Url, str], str] = {}  # (file url, requirement) -> note
        self.substituted: dict[tuple[str, str], str] = {}  # (parent, original) -> note
        self.requires: dict[Url, tuple[str, ...]] = {}  # file url -> Requires-Dist
        self.metadata_warnings: list[str] = []
        self.lookahead: Lookahead | None = None
        self._accepted: dict[tuple[int, int], tuple[Req, Candidate, bool]] = {}
        self._satisfied: dict[tuple[int, int], tuple[Req, _Cand, bool]] = {}
        # parent name -> {its version: the required guarded requirement no route build meets}
        self.dead_ends: dict[str, dict[Version, Req]] = {}

    # -- identity and order ------------------------------------------------------
    def identify(self, requirement_or_candidate: Req | _Cand) -> str:
        extras = requirement_or_candidate.extras
        name = requirement_or_candidate.name
        return f"{name}[{','.join(sorted(extras))}]" if extras else name

    def is_anchor(self, name: str) -> bool:
        """True for a guarded name whose pin only the user, constraints and guarded parents steer."""
        return self.finder.is_guarded(name) and name not in self.followers

    def narrow_requirement_selection(
        self,
        identifiers: Iterable[str],
        resolutions: Mapping[str, _Cand],
        candidates: Mapping[str, Iterator[_Cand]],
        information: Mapping[str, Iterator[RequirementInformation[Req, _Cand]]],
        backtrack_causes: Sequence[RequirementInformation[Req, _Cand]],
    ) -> Iterable[str]:
        idents = list(identifiers)
        # Guarded names first, so their pins are fixed before anything can lean on them.
        guarded = [i for i in idents if self.finder.is_guarded(i.partition("[")[0])]
        if guarded:
            return guarded
        # After a conflict, work on the names that caused it, as pip does: otherwise the walk back
        # wanders through releases of packages that have nothing to do with it.
        causes = {info.requirement.name for info in backtrack_causes}
        causes.update(info.parent.name for info in backtrack_causes if info.parent is not None)
        return [i for i in idents if i.partition("[")[0] in causes] or idents

    def get_preference(
        self,
        identifier: str,
        resolutions: Mapping[str, _Cand],
        candidates: Mapping[str, Iterator[_Cand]],
        information: Mapping[str, Iterator[RequirementInformation[Req, _Cand]]],
        backtrack_causes: Sequence[RequirementInformation[Req, _Cand]],
    ) -> tuple[bool, bool, bool, str]:
        name = identifier.partition("[")[0]
        transitive = all(info.parent is not None for info in information[identifier])
        return (not self.is_anchor(name), not self.finder.is_guarded(name), transitive, identifier)

    # -- matching ------------------------------------------------------------------
    def accepts(self, req: Req, cand: Candidate) -> bool:
        """True when ``cand`` meets ``req`` (under the pre-release policy)."""
        # resolvelib asks the same pairs thousands of times; the memo keeps both objects alive, so
        # their ids stay theirs.
        key = (id(req), id(cand))
        hit = self._accepted.get(key)
        if hit is not None and hit[0] is req and hit[1] is cand:
            return hit[2]
        ok = self._check(req, cand)
        self._accepted[key] = (req, cand, ok)
        return ok

    def _check(self, req: Req, cand: Candidate) -> bool:
        ok, by_policy = specifier_accepts(req.specifier, cand)
        if ok and by_policy:
            self.policy_hits[(cand.link.url, req.text + req.origin)] = (
                f"{cand.name} {cand.version} counts as its release {cand.version.base_version} "
                f"for {req.text} ({req.origin}): a CUDA source's pre-release build"
            )
        return ok

    def ordered(self, name: str, reqs: Sequence[Req], bad: Iterable[Url] = ()) -> list[Candidate]:
        """Candidates meeting every requirement, best first (pre-releases only where they may be)."""
        return list(self.iter_ordered(name, reqs, bad))

    def iter_ordered(self, name: str, reqs: Sequence[Req], bad: Iterable[Url] = ()) -> Iterator[Candidate]:
        """``ordered``, lazily: only the files of the versions reached are judged."""
        found = self.finder.find(name)
        reqs = [*reqs, *self.constraints.get(name, ())]
        guarded = found.guarded
        skip = set(bad)
        version_ok = versions_within((r.specifier for r in reqs), guarded)
        asked_pre = self.finder.guarded_finder.pre or any(r.specifier.prereleases for r in reqs)
        finals = False
        exact = any(r.exact for r in reqs)
        # One file per release for an unguarded name, as pip: when a release's wheel was rejected for
        # its requirements, its sdist states the same ones, and reading it could mean a build.
        # A guarded name keeps every build: another source's build of a release may well fit.
        taken: set[Version] = set()
        for cand in found.iter_candidates(version_ok, include_yanked=exact):
            if not guarded and cand.version in taken:
                continue
            if cand.link.url in skip:
                taken.add(cand.version)
                continue
            if not all(self.accepts(r, cand) for r in reqs):
                continue
            if self.python_excluded(cand) or (self.pruning and self.blocked(cand) is not None):
                continue
            taken.add(cand.version)
            # Best first puts final releases before pre-releases: once a final one was offered, the
            # pre-releases are left out unless asked for (guarded names keep every build).
            if cand.version.is_prerelease and not guarded and finals and not asked_pre:
                return
            finals = finals or not cand.version.is_prerelease
            yield cand

    def blocked(self, cand: Candidate) -> Req | None:
        """A requirement of ``cand`` for which the fixed constraints (the route's, -c) leave no release.

        Such a release can never be pinned, whatever else is chosen. Passing it over here spares
        resolvelib the walk back through every package pinned since: a route's numpy<2 against the
        newest releases of half a closure, which need numpy>=2. Guarded names have their own rule.
        """
        if not self.constraints or cand.guarded:
            return None
        key = cand.link.url
        if key in self._blocked:
            return self._blocked[key]
        found: Req | None = None
        for dep in self.requirements_of(cand):
            fixed = self.constraints.get(dep.name)
            if not fixed or self.finder.is_guarded(dep.name):
                continue
            reqs = [dep, *fixed]
            offer = self.finder.find(dep.name)
            within = versions_within((r.specifier for r in reqs), offer.guarded)
            if next((c for c in offer.iter_candidates(within) if all(self.accepts(r, c) for r in reqs)),
                    None) is None:
                found = dep
                break
        self._blocked[key] = found
        return found

    def python_excluded(self, cand: Candidate) -> bool:
        """True for a file whose page gives no Requires-Python but whose metadata excludes the Target.

        pip reads it from the metadata too. An sdist's metadata is its static PKG-INFO (PEP 643), else
        what its build backend prepared: the same metadata its dependencies come from.
        """
        if cand.link.requires_python:
            return False  # the finder judged the page's own
        spec = self.client.metadata(cand.link).requires_python
        python = self.env.get("python_full_version", "")
        try:
            fits = not spec or SpecifierSet(spec).contains(python, prereleases=True)
        except ValueError:  # pip ignores a Requires-Python it cannot read
            return False
        if not fits:
            self.metadata_warnings.append(
                f"{cand.link.filename}: its metadata requires Python {spec}, and the Target has {python}; "
                "passed over (its index page does not say)"
            )
        return not fits

    def fixed_pin(self, name: str, reqs: Sequence[Req]) -> Candidate | None:
        """A guarded name's pin: the best build for the user's requests and constraints alone."""
        return next(self.iter_ordered(name, [r for r in reqs if r.authoritative]), None)

    def find_matches(
        self,
        identifier: str,
        requirements: Mapping[str, Iterator[Req]],
        incompatibilities: Mapping[str, Iterator[_Cand]],
    ) -> Matches[_Cand]:
        name, _, extra_text = identifier.partition("[")
        extras = frozenset(extra_text.rstrip("]").split(",")) if extra_text else frozenset()
        reqs = list(requirements[identifier])
        bad = {c.base.link.url for c in incompatibilities[identifier]}
        if self.is_anchor(name):
            # The pin never moves for an ordinary dependent: one candidate, or none (a conflict).
            pin = self.fixed_pin(name, reqs)
            if pin is None or pin.link.url in bad or not all(self.accepts(r, pin) for r in reqs):
                return []
            return [_Cand(pin, extras)]
        # A factory: resolvelib walks it only as far as it needs, so most files are never judged.
        return lambda: (_Cand(c, extras) for c in self.iter_ordered(name, reqs, bad))

    def is_satisfied_by(self, requirement: Req, candidate: _Cand) -> bool:
        # resolvelib re-checks every pin against every requirement after each pin: thousands of
        # calls for a few hundred pairs. As in _accepts, the memo keeps both objects alive.
        key = (id(requirement), id(candidate))
        hit = self._satisfied.get(key)
        if hit is not None and hit[0] is requirement and hit[1] is candidate:
            return hit[2]
        ok = requirement.extras <= candidate.extras and self.accepts(requirement, candidate.base) and all(
            self.accepts(c, candidate.base) for c in self.constraints.get(candidate.name, ())
        )
        self._satisfied[key] = (requirement, candidate, ok)
        return ok

    # -- dependencies ------------------------------------------------------------
    def dist_requires(self, cand: Candidate) -> tuple[str, ...]:
        """The Requires-Dist of ``cand``'s file (one metadata request per pinned file)."""
        url = cand.link.url
        if url not in self.requires:
            meta = self.client.metadata(cand.link)
            if canonicalize_name(meta.name) != cand.name or _lenient_equal(meta.version, cand.version):
                self.metadata_warnings.append(
                    f"{cand.link.filename}: its metadata says {meta.name} {meta.version}; "
                    f"jetpip goes by the filename ({cand.version})"
                )
            self.requires[url] = tuple(meta.requires_dist)
        return self.requires[url]

    def get_dependencies(self, candidate: _Cand) -> list[Req]:
        deps = self.requirements_of(candidate.base, candidate.extras)
        self._watch_dead_ends(candidate.base, deps)
        self._prefetch(deps)
        return deps

    def requirements_of(self, cand: Candidate, extras: frozenset[str] = frozenset()) -> list[Req]:
        """``cand``'s requirements for the Target (substituted, with its companion pin); no look-ahead."""
        key = (cand.link.url, extras)
        known = self._requirements.get(key)
        if known is None:
            known = self._requirements[key] = self._read_requirements(cand, extras)
        return known

    def _read_requirements(self, cand: Candidate, extras: frozenset[str]) -> list[Req]:
        parent_guarded = cand.guarded
        origin = f"{cand.name} {cand.version}"
        deps: list[Req] = []
        if extras:
            # name[extra] stands for name itself plus the extra's requirements.
            deps.append(Req(cand.name, frozenset(), SpecifierSet(f"=={cand.version}"),
                            f"{cand.name}=={cand.version}", origin, cand.name, True))
        for text in self.dist_requires(cand):
            try:
                req = dependency(text, self.env, extras)
            except InvalidRequirement:
                self.metadata_warnings.append(
                    f"{cand.link.filename}: ignored a malformed requirement {text!r}"
                )
                continue
            if req is None:
                continue
            shown = str(req).split(";")[0].strip()
            dep = Req(canonicalize_name(req.name), frozenset(canonicalize_name(e) for e in req.extras),
                      req.specifier, shown, origin, cand.name, parent_guarded)
            deps.append(self.substitute(dep, cand.name))
        deps.extend(self._companion_reqs(cand, origin, deps))
        return deps

    def _watch_dead_ends(self, cand: Candidate, deps: Sequence[Req]) -> None:
        """Stop the walk back through ``cand``'s releases once it is known to be a dead end.

        A release that requires a required-guarded name no route build meets fails, and so does
        the next older one, and the one before: resolvelib would fetch the metadata of every
        release back to one without that requirement (800 releases, for ultralytics), and land
        on it silently. A few releases that fail the same way are enough to say why.
        """
        for dep in deps:
            if not self.finder.is_required(dep.name) or next(self.iter_ordered(dep.name, [dep]), None):
                continue
            hits = self.dead_ends.setdefault(cand.name, {})
            hits.setdefault(cand.version, dep)
            no_build = next(self.finder.find(dep.name).iter_candidates(), None) is None
            if len(hits) >= (explain.NO_BUILD_RELEASES if no_build else explain.OUT_OF_RANGE_RELEASES):
                raise explain.DeadEnd(cand.name, tuple(hits.items()), no_build)
            return

    def substitute(self, req: Req, parent: str | None) -> Req:
        """``req`` rewritten to the route's substitute (onnxruntime -> onnxruntime-gpu), with a note."""
        new = self.substitutions.get(req.name)
        if new is None:
            return req
        who = f"{parent} requires" if parent else "you asked for"
        self.substituted[(parent or "", req.name)] = (
            f"{who} {req.text}: met by {new} (route {self.route.key} substitution)"
        )
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        return replace(req, name=new, text=f"{new}{extras}{req.specifier}")

    def _companion_reqs(self, cand: Candidate, origin: str, deps: Sequence[Req]) -> list[Req]:
        release = cand.version.release
        torch_mm = self.companion_of.get((cand.name, f"{release[0]}.{release[1] if len(release) > 1 else 0}"))
        if torch_mm is None:
            return []
        if any(d.name == "torch" and d.exact for d in deps):
            return []  # its own metadata pins torch already
        floor = self.route.stable_abi.get(cand.name)
        if floor is not None and release[:2] >= Version(floor).release[:2]:
            # Built on torch's stable ABI: this build runs with its torch and every later release.
            text = f"torch>={torch_mm}"
        else:
            text = f"torch=={torch_mm}.*"
        return [Req("torch", frozenset(), SpecifierSet(text[5:]), text, f"{origin} (companion table)",
                    cand.name, True)]

    def _prefetch(self, reqs: Sequence[Req]) -> None:
        """Hand new requirements to the look-ahead, which fetches their pages and likely metadata."""
        if self.lookahead is not None:
            self.lookahead.add(map(_want, reqs))


def _want(req: Req) -> Want:
    return Want(req.name, req.extras, req.specifier, req.authoritative)


def _lenient_equal(meta_version: str, version: Version) -> bool:
    """True when the metadata's version differs from the filename's (NVIDIA redist does this)."""
    try:
        return Version(meta_version) != version
    except ValueError:
        return True


#: Hears of each candidate the resolution is about to pin (the look-ahead's guess, from its
#: threads) and of each one the resolver pins; a few are dropped again later.
OnPin = Callable[[Candidate], None]


class _Progress(BaseReporter[Req, _Cand, str]):
    def __init__(self, reporter: Reporter, on_pin: OnPin | None) -> None:
        self.reporter = reporter
        self.on_pin = on_pin

    def pinning(self, candidate: _Cand) -> None:
        if not candidate.extras:
            self.reporter.pinned(candidate.name, str(candidate.version), candidate.base.source.name)
            if self.on_pin is not None:
                self.on_pin(candidate.base)


# -- entry point ------------------------------------------------------------------


def parse_requirement(text: str, origin: str, *, authoritative: bool = True) -> Req:
    """A PEP 508 string as a Req; a UsageError says what is wrong with it."""
    req = parse_pep508(text)
    shown = str(req).split(";")[0].strip()
    return Req(canonicalize_name(req.name), frozenset(canonicalize_name(e) for e in req.extras),
               req.specifier, shown, origin, None, authoritative)


def _applies(text: str, env: Mapping[str, str]) -> bool:
    _, sep, marker = text.partition(";")
    if not sep:
        return True
    try:
        return marker_true(Marker(marker.strip()), env)
    except InvalidMarker:
        return True  # parse_requirement reports it with the whole line


def resolve(
    requirements: Sequence[str | RequirementLine],
    *,
    target: Target,
    route: Route,
    kb: KnowledgeBase | None = None,
    client: IndexClientLike,
    base_sources: Sequence[Source],
    constraints: Sequence[str | RequirementLine] = (),
    reporter: Reporter | None = None,
    strict_versions: bool = False,
    pre: bool = False,
    on_pin: OnPin | None = None,
) -> Resolution:
    """Resolve ``requirements`` for ``target``: guarded names from the route's sources, pinned first.

    ``pre`` is pip's --pre: pre-releases are candidates as final releases are. ``on_pin`` hears of
    each candidate the look-ahead guesses and the resolver pins (an install starts fetching its file
    then); it is called from more than one thread.

    A request that lands more than one major release below its newest release for the Target
    is a warning naming the cause; ``strict_versions`` makes it a ResolutionError.
    """
    reporter = reporter or NullReporter()
    env = marker_environment(target)
    if not requirements:
        raise UsageError("nothing to resolve", "name a requirement, or pass -r requirements.txt")
    roots = []
    for item in requirements:
        text, where = (item.text, item.where) if isinstance(item, RequirementLine) else (item, USER)
        if _applies(text, env):
            req = parse_requirement(text, USER)
            roots.append(req if where == USER else Req(req.name, req.extras, req.specifier, req.text,
                                                       USER, None, True))
    cons: dict[str, list[Req]] = {}
    applied: list[str] = []
    sources = ((f"constraint (route {route.key})", route.constraints), ("constraint (-c)", constraints))
    for origin, items in sources:
        for item in items:
            text = item.text if isinstance(item, RequirementLine) else item
            if _applies(text, env):
                req = parse_requirement(text, origin)
                cons.setdefault(req.name, []).append(req)
                applied.append(req.text)
    companions = route.companions or (kb.companions if kb is not None else {})
    builds = kb.builds if kb is not None else {}  # an sdist of a guarded name needs a build recipe
    finder = PolicyFinder(route, lambda r: Finder(client, r, base_sources, target, reporter,
                                                  sdist_recipe=lambda name: name in builds, pre=pre))
    provider = _Provider(finder, client, env, cons, route, companions, reporter)
    asked = tuple(r.text for r in roots)  # as the user wrote them, before any substitution
    roots = [provider.substitute(r, None) for r in roots]
    reporter.step(f"resolving {len(roots)} requirement(s) for route {route.key}")
    provider.lookahead = Lookahead(
        finder, client, env, {name: [r.specifier for r in rs] for name, rs in cons.items()},
        provider.substitutions, on_guess=on_pin,
    )
    try:
        try:
            provider.lookahead.start([_want(r) for r in roots])
            result = Resolver(provider, _Progress(reporter, on_pin)).resolve(roots, max_rounds=MAX_ROUNDS)
        finally:
            provider.lookahead.close()
            provider.pruning = False  # explanations judge every release, blocked ones too
    except ResolutionImpossible as exc:
        raise explain.failure(provider, roots, target, list(exc.causes)) from None
    except ResolutionTooDeep as exc:
        raise explain.failure(provider, roots, target, (), rounds=exc.round_count) from None
    except explain.DeadEnd as exc:
        raise explain.dead_end_error(provider, exc, target) from None
    resolution = _build(provider, result, roots, applied, target, route, reporter)
    fallbacks = finder.warnings(resolution, kb)
    downgrades, below = explain.downgrades(provider, resolution, roots, _incoming(result))
    for line in (*fallbacks, *below, *downgrades):
        reporter.warning(line)
    resolution = replace(resolution, requested=asked, warnings=(*resolution.warnings, *fallbacks, *below))
    if downgrades and strict_versions:
        raise explain.strict_versions_error(downgrades)
    return replace(resolution, warnings=(*resolution.warnings, *downgrades), downgrades=tuple(downgrades))


def _incoming(result: Result[Req, _Cand, str]) -> dict[str, list[Req]]:
    """Every requirement the resolution placed on each name (the user's, constraints' and parents')."""
    out: dict[str, list[Req]] = {}
    for ident, crit in result.criteria.items():
        out.setdefault(ident.partition("[")[0], []).extend(info.requirement for info in crit.information)
    return out


def _build(
    provider: _Provider, result: Result[Req, _Cand, str], roots: Sequence[Req], applied: Sequence[str],
    target: Target, route: Route, reporter: Reporter,
) -> Resolution:
    mapping: Mapping[str, _Cand] = result.mapping
    chosen = {ident: c for ident, c in mapping.items() if not c.extras}
    extras: dict[str, set[str]] = {}
    for c in mapping.values():
        extras.setdefault(c.name, set()).update(c.extras)
    edges: set[Edge] = set()
    for ident, crit in result.criteria.items():
        child = ident.partition("[")[0]
        for info in crit.information:
            parent = info.parent.name if info.parent is not None else None
            if parent != child:
                edges.add(Edge(parent, child, info.requirement.text))
    required_by: dict[str, set[str]] = {}
    for e in edges:
        if e.parent is not None:
            required_by.setdefault(e.child, set()).add(e.parent)
    requested = {r.name for r in roots}
    urls = {c.base.link.url for c in chosen.values()}
    notes = sorted({note for (url, _), note in provider.policy_hits.items() if url in urls})
    notes += sorted(n for (parent, _), n in provider.substituted.items() if parent in chosen or parent == "")
    for note in notes:
        reporter.note(note)
    warnings = sorted(set(provider.metadata_warnings))
    for w in warnings:
        reporter.warning(w)
    pins = tuple(
        Pin(
            name=c.name, version=_shown_version(c.base), link=c.base.link, source=c.base.source,
            guarded=c.base.guarded, requires=provider.requires.get(c.base.link.url, ()),
            required_by=tuple(sorted(required_by.get(c.name, ()))), requested=c.name in requested,
            extras=tuple(sorted(extras.get(c.name, ()))),
        )
        for c in sorted(chosen.values(), key=lambda c: c.name)
    )
    return Resolution(
        pins=pins, notes=tuple(notes), edges=tuple(sorted(edges, key=lambda e: (e.parent or "", e.child))),
        requested=tuple(r.text for r in roots), target=target, route_key=route.key,
        constraints=tuple(applied), warnings=tuple(warnings),
    )


__all__ = [
    "Conflict", "Edge", "Pin", "Req", "RequirementLine", "Resolution", "is_vendor_prerelease",
    "marker_environment", "read_requirements", "resolve", "specifier_accepts",
]
