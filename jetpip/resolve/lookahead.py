"""The look-ahead: walk the dependency tree ahead of the resolver, so its pages and metadata arrive early.

On a cold cache a resolution is a chain of round trips: a pin's metadata names the next names, and
their pages name the next pins. The resolver walks that chain one pin at a time. The look-ahead
walks it on its own threads, one step as soon as the previous answer is in. It guesses each pin as
the resolver will choose it: the best candidate for the first requirement that names it, within the
constraints. A wrong guess costs one metadata request. The resolver never takes a decision from
here; it only finds its pages and metadata already fetched.

On a warm cache there is no round trip to hide, and walking on other threads only makes the
resolver wait for the interpreter lock. So the look-ahead stays idle while every answer comes from
the cache, and starts walking, from everything it was handed so far, once a request goes out.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple, Protocol

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from jetpip.resolve.finder import Candidate, FindResult, IndexClientLike, is_exact, versions_within
from jetpip.resolve.requirements import only_for_extra


class FinderLike(Protocol):
    """The part of a finder the look-ahead walks with (jetpip.resolve.policy.PolicyFinder fits)."""

    def find(self, name: str) -> FindResult:
        """Candidates for ``name``."""
        ...

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the pages of ``names`` concurrently."""
        ...


def marker_true(marker: Marker | None, env: Mapping[str, str], extras: Iterable[str] = ()) -> bool:
    """True when ``marker`` holds in ``env`` for the package itself or one of ``extras``."""
    if marker is None:
        return True
    return any(marker.evaluate({**env, "extra": extra}) for extra in (*sorted(extras), ""))


@functools.lru_cache(maxsize=8192)
def _requirement(text: str) -> Requirement:
    return Requirement(text)  # once per run, however many threads read the line


def dependency(text: str, env: Mapping[str, str], extras: frozenset[str]) -> Requirement | None:
    """A Requires-Dist line, parsed, when it holds for the Target with ``extras`` (canonical); else None.

    Most lines of a big package are ``...; extra == "name"``: those are decided without parsing.
    Raises InvalidRequirement for a malformed line that may hold.
    """
    head = text.partition(";")[0]
    only = only_for_extra(text)
    if only is not None:
        if only not in extras:
            return None
        text = head
    req = _requirement(text)
    return req if marker_true(req.marker, env, extras) else None


class Want(NamedTuple):
    """What the look-ahead walks: a name as one requirement asks for it."""

    name: str  # canonical, after the route's substitutions
    extras: frozenset[str]
    specifier: SpecifierSet
    authoritative: bool  # the user, a constraint or a guarded parent: may steer a guarded pin


class Lookahead:
    """Fetches, on its own threads, the pages and metadata the resolver is about to ask for."""

    def __init__(
        self,
        finder: FinderLike,
        client: IndexClientLike,
        env: Mapping[str, str],
        constraints: Mapping[str, Sequence[SpecifierSet]],
        substitutions: Mapping[str, str],
        workers: int = 64,
        on_guess: Callable[[Candidate], None] | None = None,
    ) -> None:
        self.finder = finder
        self.on_guess = on_guess  # hears of each guess as it is made (from these threads)
        self.client = client
        self.env = env
        self.constraints = constraints
        self.substitutions = substitutions
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="jetpip-lookahead")
        self._lock = threading.Lock()
        self._seen: set[tuple[str, frozenset[str]]] = set()
        self._closed = False
        self._idle = False
        self._waiting: list[Want] = []  # handed over while idle

    def start(self, roots: Sequence[Want]) -> None:
        """Read the roots' pages (together), then walk from the roots, or stay idle if the cache answered."""
        self.finder.prefetch(w.name for w in roots)
        for want in roots:
            try:
                self.finder.find(want.name)
            except Exception:
                break  # the resolver meets the same failure itself, and explains it
        self._idle = not self.client.went_online
        self.add(roots)

    def add(self, wants: Iterable[Want]) -> None:
        """Start walking from these requirements (each name and extras once); returns at once."""
        new: list[Want] = []
        with self._lock:
            for want in wants:
                key = (want.name, want.extras)
                if key not in self._seen:
                    self._seen.add(key)
                    new.append(want)
            if self._idle:
                if not self.client.went_online:
                    self._waiting.extend(new)
                    return
                self._idle = False
                new, self._waiting = [*self._waiting, *new], []
        if not new or self._closed:
            return
        self.finder.prefetch(w.name for w in new)
        for want in new:
            try:
                self._pool.submit(self._walk, want)
            except RuntimeError:
                return  # closed: the resolution is over

    def close(self) -> None:
        """Drop the walks not yet started, and wait for the running ones to stop at their next step."""
        self._closed = True
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _walk(self, want: Want) -> None:
        try:
            pin = None if self._closed else self.guess(want)
            if pin is None or self._closed:
                return
            if self.on_guess is not None:
                self.on_guess(pin)  # its download need not wait for the metadata
            requires = self.client.metadata(pin.link).requires_dist
        except Exception:
            return  # the resolver meets the same failure itself, and explains it
        deps: list[Want] = []
        for text in requires:
            try:
                req = dependency(text, self.env, want.extras)
            except InvalidRequirement:
                continue
            if req is None:
                continue
            name = canonicalize_name(req.name)
            extras = frozenset(canonicalize_name(e) for e in req.extras)
            deps.append(Want(self.substitutions.get(name, name), extras, req.specifier, pin.guarded))
        self.add(deps)

    def guess(self, want: Want) -> Candidate | None:
        """The candidate the resolver will most likely pin for ``want``."""
        found = self.finder.find(want.name)
        guarded = found.guarded
        # A guarded pin is steered only by the user, the constraints and guarded parents.
        own = (want.specifier,) if want.authoritative or not guarded else ()
        specs = (*own, *self.constraints.get(want.name, ()))
        exact = any(is_exact(spec) for spec in specs)
        return next(found.iter_candidates(versions_within(specs, guarded), include_yanked=exact), None)
