"""The guard policy per name: required names come only from the route; preferred ones may fall back."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from packaging.utils import canonicalize_name

from jetpip.model.sources import Route
from jetpip.resolve.finder import Finder, FindResult
from jetpip.resolve.resolution import Resolution

if TYPE_CHECKING:  # the knowledge base is loaded by the caller
    from jetpip.knowledge.base import KnowledgeBase


class PolicyFinder:
    """A Finder that applies the route's guard policies.

    A ``required`` guarded name comes from the route's CUDA sources or not at all. A ``preferred``
    one (opencv: the base index's build runs without CUDA) comes from the route when any of its
    sources has a build for the Target, and otherwise from the base index as an ordinary name;
    ``fallbacks`` keeps what the route offered, for the warning.
    """

    def __init__(self, route: Route, make: Callable[[Route], Finder]) -> None:
        """``make`` builds a Finder for a route (the run's client, base sources, Target and options)."""
        self.route = route
        self.guarded_finder = make(route)
        preferred = frozenset(canonicalize_name(n) for n in route.preferred) & route.guarded
        self.preferred = preferred
        # The same sources with the preferred names unguarded: what the base index offers for them.
        self.open_finder = make(replace(route, guarded=route.guarded - preferred)) if preferred \
            else self.guarded_finder
        self.fallbacks: dict[str, FindResult] = {}  # name -> the route's (empty) offer
        self._lock = threading.Lock()
        self._decided: dict[str, bool] = {}  # preferred name -> the route has a build

    def _on_route(self, name: str) -> bool:
        with self._lock:
            known = self._decided.get(name)
        if known is not None:
            return known
        offer = self.guarded_finder.find(name)
        has = next(offer.iter_candidates(include_yanked=True), None) is not None
        with self._lock:
            self._decided.setdefault(name, has)
            if not has:
                self.fallbacks.setdefault(name, offer)
        return has

    def _finder_for(self, name: str) -> Finder:
        key = canonicalize_name(name)
        if key in self.preferred and not self._on_route(key):
            return self.open_finder
        return self.guarded_finder

    def is_guarded(self, name: str) -> bool:
        """True when ``name`` comes from the route's CUDA sources only (a preferred name: when it can)."""
        return self.guarded_finder.is_guarded(name) and self._finder_for(name) is self.guarded_finder

    def is_required(self, name: str) -> bool:
        """True for a guarded name under the ``required`` policy (a CPU build never stands in)."""
        key = canonicalize_name(name)
        return self.guarded_finder.is_guarded(key) and key not in self.preferred

    def prefetch(self, names: Iterable[str]) -> None:
        """Fetch the pages the next ``find`` calls will read, concurrently."""
        self.guarded_finder.prefetch(names)

    def find(self, name: str) -> FindResult:
        """Candidates for ``name`` under its policy (see ``Finder.find``)."""
        return self._finder_for(name).find(name)

    def warnings(self, resolution: Resolution, kb: KnowledgeBase | None) -> list[str]:
        """A warning per preferred name the base index stood in for: what the route lacked, and why."""
        out: list[str] = []
        for pin in resolution.pins:
            offer = self.fallbacks.get(pin.name)
            if offer is None:
                continue
            searched = ", ".join(s.name for s in offer.sources_searched) or "none"
            elsewhere = kb.cuda_sources_of(pin.name, self.route) if kb else ()
            where = (f"CUDA builds of it are on {', '.join(s.name for s in elsewhere)} (another route's "
                     "source)" if elsewhere
                     else "no CUDA source in indexes.toml is known to carry it for this line")
            out.append(
                f"{pin.name} {pin.version} comes from {pin.source.name}, without CUDA: route "
                f"{self.route.key}'s sources ({searched}) have no CUDA build of it for this Target, and "
                f"its guard policy is 'preferred'; {where}. To refuse the stand-in, list it under "
                "[guarded] names in an indexes.toml overlay (docs/policies.md)"
            )
        return out


__all__ = ["PolicyFinder"]
