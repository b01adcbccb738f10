"""Guard policies, bounded walks back and explained failures, against a real loopback index."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest

from jetpip.errors import ConflictError, GuardedWheelMissingError
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.sources import Route, Source
from jetpip.model.urls import Url
from jetpip.report import RecordingReporter
from jetpip.resolve import provider
from jetpip.resolve.provider import Resolution, resolve
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target
from tests.support.wheels import WheelSpec, build_wheel

CUDA_TAG = "cp310-cp310-linux_aarch64"


class Loopback:
    """A base index and one CUDA source on the loopback server, and the route over them."""

    def __init__(self, server: IndexServer, tmp: Path, base: Iterable[WheelSpec],
                 cuda: Iterable[WheelSpec] = (), *, required: Sequence[str] = ("torch",),
                 preferred: Sequence[str] = (), constraints: Sequence[str] = (),
                 reasons: dict[str, str] | None = None) -> None:
        self.server, self.tmp = server, tmp
        base_url = server.add("simple", "/simple", [self._serve(tmp / "base", s) for s in base])
        cuda_url = server.add("devpi", "/jp6/cu126", [self._serve(tmp / "cuda", s) for s in cuda])
        self.base = Source("base index", "simple", Url.parse(base_url))
        cuda_source = Source("loopback jp6/cu126", "devpi", Url.parse(cuda_url), jetson=True,
                             platforms=("linux_aarch64",))
        self.route = Route(key="jp6-cu126", summary="test route", sources=(cuda_source,),
                           guarded=frozenset((*required, *preferred)), preferred=frozenset(preferred),
                           constraints=tuple(constraints), constraint_reasons=reasons or {})
        self.reporter = RecordingReporter()

    @staticmethod
    def _serve(dest: Path, spec: WheelSpec) -> ServedFile:
        return ServedFile.from_path(build_wheel(dest, spec).path)

    def resolve(self, *requirements: str) -> Resolution:
        with IndexClient(IndexConfig(index_url=None), cache_dir=self.tmp / "cache") as client:
            return resolve(list(requirements), target=make_target(), route=self.route, client=client,
                           base_sources=[self.base], reporter=self.reporter)

    def metadata_requests(self) -> int:
        return len(self.server.requests(".metadata"))


def yolo_releases(guarded_dep: str = "camkit>=4") -> list[WheelSpec]:
    """50 releases: ten old ones without the guarded dependency, forty newer ones that need it."""
    old = [WheelSpec("yolo", f"0.0.{i}", requires=["tinydep"]) for i in range(1, 11)]
    new = [WheelSpec("yolo", f"8.0.{i}", requires=["tinydep", guarded_dep]) for i in range(40)]
    return [*old, *new, WheelSpec("tinydep", "1.0")]


def test_a_required_name_without_a_route_build_stops_the_walk_back_early(
    index_server: IndexServer, tmp_path: Path
) -> None:
    # The base index has camkit, but a required name never takes it.
    base = [*yolo_releases(), WheelSpec("camkit", "4.10.0", tag=CUDA_TAG)]
    loop = Loopback(index_server, tmp_path, base, required=("camkit",))

    started = time.monotonic()
    with pytest.raises(GuardedWheelMissingError) as info:
        loop.resolve("yolo")
    seconds = time.monotonic() - started

    text = str(info.value)
    assert "yolo 8.0.39, 8.0.38, 8.0.37 (its newest releases for this Target) require camkit" in text
    assert "route jp6-cu126 has no CUDA build of it" in text
    assert "ask for one by version: 'yolo==X'" in text
    assert info.value.package == "camkit"
    # Three releases tried, not forty: the metadata requests stay few (the look-ahead may guess one
    # or two more), and the run is quick.
    assert loop.metadata_requests() <= 8, loop.metadata_requests()
    assert seconds < 10


def test_a_preferred_name_without_a_route_build_comes_from_the_base_index_with_a_warning(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [*yolo_releases(), WheelSpec("camkit", "4.10.0", tag=CUDA_TAG)]
    loop = Loopback(index_server, tmp_path, base, preferred=("camkit",))

    res = loop.resolve("yolo")

    pins = res.by_name()
    assert pins["yolo"].version == "8.0.39"  # the newest: no walk back at all
    assert pins["camkit"].source.name == "base index" and not pins["camkit"].guarded
    (warning,) = [w for w in loop.reporter.warnings if "camkit" in w]
    assert "camkit 4.10.0 comes from base index, without CUDA" in warning
    assert "route jp6-cu126's sources (loopback jp6/cu126) have no CUDA build of it" in warning
    assert "'preferred'" in warning and "[guarded] names" in warning
    assert warning in res.warnings


def test_a_preferred_name_takes_the_route_build_when_there_is_one(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [*yolo_releases(), WheelSpec("camkit", "4.12.0", tag=CUDA_TAG)]
    cuda = [WheelSpec("camkit", "4.10.0", tag=CUDA_TAG, build="jetson")]
    loop = Loopback(index_server, tmp_path, base, cuda, preferred=("camkit",))

    res = loop.resolve("yolo")

    camkit = res.by_name()["camkit"]
    assert (camkit.version, camkit.source.name, camkit.guarded) == ("4.10.0", "loopback jp6/cu126", True)
    assert not [w for w in loop.reporter.warnings if "camkit" in w]


def test_a_downgrade_names_the_route_constraint_that_forced_it(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [
        WheelSpec("bigapp", "1.4", requires=["numpy"]),
        WheelSpec("bigapp", "2.0", requires=["numpy>=2"]),
        WheelSpec("bigapp", "3.1", requires=["numpy>=2"]),
        WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0"),
    ]
    loop = Loopback(index_server, tmp_path, base, constraints=["numpy<2"],
                    reasons={"numpy<2": "the Jetson torch 2.8 wheels are built against NumPy 1"})

    res = loop.resolve("bigapp")

    assert res.by_name()["bigapp"].version == "1.4"
    (line,) = res.downgrades
    assert line == ("bigapp 1.4 is locked, 2 major releases below 3.1, the newest release for this Target: "
                    "bigapp 3.1 requires numpy>=2; route jp6-cu126 constrains numpy<2 (the Jetson torch "
                    "2.8 wheels are built against NumPy 1)")
    assert line in loop.reporter.warnings and line in res.warnings


def test_a_release_one_major_below_is_said_but_is_no_strict_downgrade(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [WheelSpec("midapp", "2.0", requires=["numpy"]), WheelSpec("midapp", "3.0", requires=["numpy>=2"]),
            WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0")]
    loop = Loopback(index_server, tmp_path, base, constraints=["numpy<2"])

    res = loop.resolve("midapp", "numpy")

    # Not one for --strict-versions, but never silent: both requests are held back, each with its cause.
    assert res.by_name()["midapp"].version == "2.0" and res.downgrades == ()
    said = [w for w in res.warnings if " is locked, below " in w]
    assert said == [
        "midapp 2.0 is locked, below 3.0, the newest release for this Target: midapp 3.0 requires "
        "numpy>=2; route jp6-cu126 constrains numpy<2",
        "numpy 1.26.4 is locked, below 2.1.0, the newest release for this Target: route jp6-cu126 "
        "constrains numpy<2",
    ]


def test_a_conflict_names_both_sides_for_every_request_that_cannot_be_met(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [
        WheelSpec("alpha", "1.0", requires=["numpy>=2"]),
        WheelSpec("alpha", "2.0", requires=["numpy>=2.1"]),
        WheelSpec("beta", "0.9", requires=["torch<2.6"]),
        WheelSpec("beta", "1.0", requires=["torch<2.7"]),
        WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0"),
    ]
    cuda = [WheelSpec("torch", "2.8.0", tag=CUDA_TAG, build="jetson")]
    loop = Loopback(index_server, tmp_path, base, cuda, constraints=["numpy<2"],
                    reasons={"numpy<2": "the Jetson torch 2.8 wheels are built against NumPy 1"})

    with pytest.raises(ConflictError) as info:
        loop.resolve("alpha", "beta", "torch")

    lines = str(info.value).splitlines()
    # The newest releases, never the oldest release the walk back reached (alpha 1.0, beta 0.9).
    assert lines == [
        "the requirements conflict:",
        "  alpha 2.0 requires numpy>=2.1; route jp6-cu126 constrains numpy<2 (the Jetson torch 2.8 wheels "
        "are built against NumPy 1)",
        "  beta 1.0 requires torch<2.7, but torch is pinned to 2.8.0 from loopback jp6/cu126 (a guarded "
        "CUDA build)",
    ]
    assert "use a release of beta that accepts torch 2.8.0" in (info.value.hint or "")


def test_two_requests_whose_newest_releases_disagree_are_named_together(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [WheelSpec("left", "1.0", requires=["shared>=2"]),
            WheelSpec("right", "1.0", requires=["shared<2"]),
            WheelSpec("shared", "1.5"), WheelSpec("shared", "2.5")]
    loop = Loopback(index_server, tmp_path, base)

    with pytest.raises(ConflictError) as info:
        loop.resolve("left", "right")

    assert "left 1.0 requires shared>=2; right 1.0 requires shared<2" in str(info.value)


def test_a_resolution_that_does_not_settle_is_explained_too(
    index_server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # zeta needs numpy>=2 through mid: one level down, so no release of zeta is ruled out up front.
    base = [WheelSpec("zeta", f"2.{i}", requires=["mid"]) for i in range(6)]
    base += [WheelSpec("mid", "1.0", requires=["numpy>=2"])]
    base += [WheelSpec(name, "1.0") for name in ("aa", "ab", "ac")]
    base += [WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0")]
    loop = Loopback(index_server, tmp_path, base, constraints=["numpy<2"])
    # Three rounds pin aa, ab and ac, and the resolver gives up before zeta: what 5000 rounds of a
    # large requirement set come to.
    monkeypatch.setattr(provider, "MAX_ROUNDS", 3)

    with pytest.raises(ConflictError) as info:
        loop.resolve("aa", "ab", "ac", "zeta")

    assert str(info.value).splitlines() == [
        "the resolution did not settle after 3 rounds; the newest releases of your requests conflict:",
        "  zeta 2.5 requires mid; mid 1.0 requires numpy>=2; route jp6-cu126 constrains numpy<2",
    ]


def test_a_conflict_one_level_further_down_is_named_with_its_chain(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [
        WheelSpec("robot", "0.1.0", requires=["oldthing"]),
        WheelSpec("robot", "2.0", requires=["planner>=5"]),
        WheelSpec("planner", "5.0", requires=["numpy>=2"]),
        WheelSpec("planner", "5.3", requires=["numpy>=2"]),
        WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0"),
    ]
    loop = Loopback(index_server, tmp_path, base, constraints=["numpy<2"])

    with pytest.raises(ConflictError) as info:
        loop.resolve("robot>=1")

    assert str(info.value).splitlines()[1:] == [
        "  robot 2.0 requires planner>=5; planner 5.3 requires numpy>=2; route jp6-cu126 constrains numpy<2",
    ]


def test_a_downgrade_forced_one_level_further_down_names_the_chain(
    index_server: IndexServer, tmp_path: Path
) -> None:
    base = [
        WheelSpec("robot", "0.1.0", requires=["oldthing"]), WheelSpec("oldthing", "1.0"),
        WheelSpec("robot", "2.0", requires=["planner>=5"]),
        WheelSpec("planner", "5.3", requires=["numpy>=2"]),
        WheelSpec("numpy", "1.26.4"), WheelSpec("numpy", "2.1.0"),
    ]
    loop = Loopback(index_server, tmp_path, base, constraints=["numpy<2"])

    res = loop.resolve("robot")

    assert res.downgrades == (
        "robot 0.1.0 is locked, 2 major releases below 2.0, the newest release for this Target: robot 2.0 "
        "requires planner>=5; planner 5.3 requires numpy>=2; route jp6-cu126 constrains numpy<2",
    )
