"""The look-ahead on a real loopback index: it overlaps a cold resolution's round trips, and a warm
cache resolves with no request at all, whether the walk ran or stayed idle."""

from __future__ import annotations

from pathlib import Path

from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.sources import Route, Source
from jetpip.model.urls import Url
from jetpip.resolve.finder import Candidate
from jetpip.resolve.provider import Resolution, resolve
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target
from tests.support.wheels import WheelSpec, build_wheel

# A tree two levels deep below each root, so a walk has somewhere to go ahead of the resolver.
TREE: dict[str, tuple[str, ...]] = {
    "app": ("alpha", "beta", "gamma", "delta"),
    "alpha": ("alpha-core",), "beta": ("beta-core",), "gamma": ("gamma-core",),
    "delta": ("delta-core",),
    "alpha-core": (), "beta-core": (), "gamma-core": (), "delta-core": (),
    "tool": (), "plugin": ("plugin-core",), "plugin-core": (),
}
EXTRAS = {"tool": {"plugins": ["plugin"]}}


def _serve(server: IndexServer, tmp: Path, max_age: int | None) -> Source:
    files = [
        ServedFile.from_path(build_wheel(tmp / "wheels", WheelSpec(
            name=name, version="1.0", requires=deps, extras=EXTRAS.get(name, {}),
        )).path)
        for name, deps in TREE.items()
    ]
    url = server.add("simple", "/simple", files, max_age=max_age)
    return Source("base index", "simple", Url.parse(url))


def _resolve(reqs: list[str], base: Source, cache: Path) -> Resolution:
    route = Route(key="test-route", summary="", sources=(), guarded=frozenset())
    with IndexClient(IndexConfig(index_url=None), cache_dir=cache) as client:
        return resolve(reqs, target=make_target(), route=route, client=client, base_sources=[base])


def _pages_asked(server: IndexServer) -> list[str]:
    return sorted(r.path for r in server.requests("/simple/") if r.path.endswith("/"))


def test_a_cold_resolution_overlaps_its_requests_and_asks_for_each_page_once(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = _serve(index_server, tmp_path, max_age=600)
    index_server.delay = 0.05  # held long enough for the walk's requests to overlap
    res = _resolve(["app"], base, tmp_path / "cache")
    assert {p.name for p in res.pins} == {n for n in TREE if n.startswith(("app", "alpha", "beta",
                                                                          "gamma", "delta"))}
    pages = _pages_asked(index_server)
    assert len(pages) == len(set(pages)) == 9
    # The four dependencies of app and their own dependencies are read side by side, not one by one.
    assert index_server.max_in_flight > 1


def test_a_warm_cache_resolves_the_same_pins_with_no_request(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = _serve(index_server, tmp_path, max_age=600)
    first = _resolve(["app"], base, tmp_path / "cache")
    before = len(index_server.requests())
    again = _resolve(["app"], base, tmp_path / "cache")
    assert [(p.name, p.version) for p in again.pins] == [(p.name, p.version) for p in first.pins]
    assert len(index_server.requests()) == before


def test_a_partly_warm_cache_fetches_only_what_is_missing_once(
    index_server: IndexServer, tmp_path: Path
) -> None:
    # The roots' pages are fresh in the cache, but the extra reaches pages the cache has never seen:
    # the walk starts once those go out, and the resolution still reads each of them once.
    base = _serve(index_server, tmp_path, max_age=600)
    _resolve(["app", "tool"], base, tmp_path / "cache")
    seen = set(_pages_asked(index_server))
    index_server.delay = 0.02
    res = _resolve(["app", "tool[plugins]"], base, tmp_path / "cache")
    assert {"plugin", "plugin-core"} <= {p.name for p in res.pins}
    new = [p for p in _pages_asked(index_server) if p not in seen]
    assert sorted(new) == ["/simple/plugin-core/", "/simple/plugin/"]
    assert len(_pages_asked(index_server)) == len(seen) + 2  # nothing already cached asked again


def test_stale_pages_are_revalidated_once_each(index_server: IndexServer, tmp_path: Path) -> None:
    base = _serve(index_server, tmp_path, max_age=None)  # no max-age: every run revalidates
    _resolve(["app"], base, tmp_path / "cache")
    first = _pages_asked(index_server)
    res = _resolve(["app"], base, tmp_path / "cache")
    assert len(res.pins) == 9
    assert _pages_asked(index_server) == sorted(first * 2)  # each page asked once more, no more


def test_a_guess_is_announced_before_its_metadata_arrives(index_server: IndexServer, tmp_path: Path) -> None:
    # The install starts downloading each guess from this hook: the download need not wait for
    # the metadata, which a slow index answers late.
    base = _serve(index_server, tmp_path, max_age=600)
    index_server.fault("app-1.0-py3-none-any.whl.metadata", "stall", seconds=1.0)
    first_heard: dict[str, int] = {}

    def on_pin(cand: Candidate) -> None:
        answered = len(index_server.requests(f"{cand.link.filename}.metadata"))
        first_heard.setdefault(cand.name, answered)

    route = Route(key="test-route", summary="", sources=(), guarded=frozenset())
    with IndexClient(IndexConfig(index_url=None), cache_dir=tmp_path / "cache") as client:
        res = resolve(["app"], target=make_target(), route=route, client=client, base_sources=[base],
                      on_pin=on_pin)

    assert "app" in {p.name for p in res.pins}
    assert first_heard["app"] == 0  # heard of while its metadata was still on the way
