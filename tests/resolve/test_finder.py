"""The finder on a real loopback index: which sources a name comes from, and why files are passed over."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.links import BinaryPolicy, FileLink
from jetpip.model.sources import Route, Source
from jetpip.model.urls import Url
from jetpip.resolve.finder import Finder
from tests.support.sdists import build_sdist
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target
from tests.support.wheels import WheelSpec, build_wheel


def _served(tmp: Path, mount: str, name: str, version: str, tag: str = "py3-none-any",
            **kw: object) -> ServedFile:
    path = build_wheel(tmp / mount, WheelSpec(name=name, version=version, tag=tag)).path
    return ServedFile.from_path(path, **kw)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[IndexClient]:
    with IndexClient(IndexConfig(index_url=None), cache_dir=tmp_path / "cache") as c:
        yield c


@pytest.fixture
def sources(index_server: IndexServer, tmp_path: Path) -> dict[str, Source]:
    index_server.add("simple", "/simple", [
        _served(tmp_path, "base", "torch", "2.8.0", "cp310-cp310-manylinux_2_28_aarch64"),
        _served(tmp_path, "base", "six", "1.16.0"),
        _served(tmp_path, "base", "numpy", "1.26.4", "cp310-cp310-linux_aarch64"),
        _served(tmp_path, "base", "numpy", "1.26.4", "cp310-cp310-manylinux_2_17_aarch64"),
        _served(tmp_path, "base", "numpy", "1.26.3", "cp310-cp310-manylinux_2_17_aarch64"),
    ])
    jal = index_server.add("devpi", "/jp6/cu126", [
        _served(tmp_path, "jal", "torch", "2.8.0", "cp310-cp310-linux_aarch64"),
        _served(tmp_path, "jal", "six", "1.17.0"),
        _served(tmp_path, "jal", "jetson-only", "1.0"),
    ])
    redist = index_server.add("flat", "/redist/jp/v61/pytorch", [
        _served(tmp_path, "redist", "torch", "2.5.0a0+872d972e41.nv24.08", "cp310-cp310-linux_aarch64"),
        _served(tmp_path, "redist", "torch", "2.9.0", "cp310-cp310-linux_aarch64"),
    ])
    aarch64 = ("linux_aarch64",)
    return {
        "base": Source("base index", "simple", Url.parse(index_server.url + "/simple")),
        "jal": Source("jetson-ai-lab jp6/cu126", "devpi", Url.parse(jal), jetson=True, platforms=aarch64),
        "redist": Source("NVIDIA redist", "flat", Url.parse(redist), jetson=True, platforms=aarch64),
        "redist-trusted": Source("NVIDIA redist", "flat", Url.parse(redist), jetson=True, platforms=aarch64,
                                 trusted=True),
    }


def _finder(client: IndexClient, sources: dict[str, Source], *route_sources: str) -> Finder:
    route = Route(key="jp6-cu126", summary="", sources=tuple(sources[s] for s in route_sources),
                  guarded=frozenset({"torch"}))
    return Finder(client, route, [sources["base"]], make_target())


def test_guarded_name_never_comes_from_the_base_index(
    client: IndexClient, sources: dict[str, Source]
) -> None:
    found = _finder(client, sources, "jal").find("torch")
    assert found.guarded
    assert [s.name for s in found.sources_searched] == ["jetson-ai-lab jp6/cu126"]
    assert [c.link.filename for c in found.candidates] == ["torch-2.8.0-cp310-cp310-linux_aarch64.whl"]


def test_guarded_candidates_follow_route_order(client: IndexClient, sources: dict[str, Source]) -> None:
    found = _finder(client, sources, "jal", "redist-trusted").find("torch")
    # The first route source's build ranks first even though the second has a newer one.
    assert [str(c.version) for c in found.candidates] == ["2.8.0", "2.9.0", "2.5.0a0+872d972e41.nv24.8"]
    assert found.source is not None and found.source.name == "jetson-ai-lab jp6/cu126"


def test_flat_source_without_hashes_needs_trust(client: IndexClient, sources: dict[str, Source]) -> None:
    found = _finder(client, sources, "redist").find("torch")
    assert found.candidates == ()
    reasons = {r.filename: r.reason for r in found.rejects}
    assert reasons["torch-2.9.0-cp310-cp310-linux_aarch64.whl"] == "no hash, and the source is not trusted"


def test_other_names_come_from_the_first_source_that_has_them(
    client: IndexClient, sources: dict[str, Source]
) -> None:
    finder = _finder(client, sources, "jal")
    six = finder.find("six")
    assert [s.name for s in six.sources_searched] == ["base index"]
    assert [str(c.version) for c in six.candidates] == ["1.16.0"]  # the devpi 1.17.0 is never seen
    only = finder.find("jetson-only")
    assert [s.name for s in only.sources_searched] == ["base index", "jetson-ai-lab jp6/cu126"]
    assert only.source is not None and only.source.kind == "devpi"
    missing = finder.find("no-such-project")
    assert missing.candidates == () and missing.source is None and len(missing.sources_searched) == 2


def test_best_first_prefers_newest_then_most_specific_tag(
    client: IndexClient, sources: dict[str, Source]
) -> None:
    found = _finder(client, sources, "jal").find("numpy")
    assert [c.link.filename for c in found.candidates] == [
        "numpy-1.26.4-cp310-cp310-manylinux_2_17_aarch64.whl",
        "numpy-1.26.4-cp310-cp310-linux_aarch64.whl",
        "numpy-1.26.3-cp310-cp310-manylinux_2_17_aarch64.whl",
    ]


def test_yanked_files_are_kept_apart(index_server: IndexServer, tmp_path: Path, client: IndexClient) -> None:
    url = index_server.add("simple", "/y/simple", [
        _served(tmp_path, "y", "lib", "2.0", yanked="broken"), _served(tmp_path, "y", "lib", "1.0"),
    ])
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    found = Finder(client, route, [Source("base index", "simple", Url.parse(url))], make_target()).find("lib")
    assert [str(c.version) for c in found.candidates] == ["1.0"]
    assert [str(c.version) for c in found.yanked] == ["2.0"]
    assert any(r.reason.startswith("yanked: broken") for r in found.rejects)


def test_prefetch_reads_each_page_once(
    client: IndexClient, sources: dict[str, Source], index_server: IndexServer
) -> None:
    finder = _finder(client, sources, "jal")
    finder.prefetch(["six", "numpy", "torch"])
    for name in ("six", "numpy", "torch", "six"):
        finder.find(name)
    pages = [r.path for r in index_server.requests() if not r.path.endswith((".whl", ".metadata"))]
    assert sorted(pages) == sorted(set(pages))  # one request per page
    assert "/simple/torch/" not in pages  # a guarded name never asks the base index


def test_a_source_listing_its_projects_is_asked_only_for_them(
    client: IndexClient, sources: dict[str, Source]
) -> None:
    redist = replace(sources["redist-trusted"], projects=("torch",))
    route = Route(key="jp6-cu126", summary="", sources=(redist,), guarded=frozenset({"torch", "torchvision"}))
    finder = Finder(client, route, [sources["base"]], make_target())
    assert finder.sources_for("torch") == (redist,)
    assert finder.sources_for("torchvision") == ()
    assert finder.sources_for("six") == (sources["base"],)


def test_candidates_come_lazily_version_by_version_and_rejects_still_list_every_file(
    client: IndexClient, sources: dict[str, Source]
) -> None:
    found = _finder(client, sources, "jal").find("numpy")
    older = list(found.iter_candidates(lambda v: str(v) == "1.26.3"))
    assert [c.link.filename for c in older] == ["numpy-1.26.3-cp310-cp310-manylinux_2_17_aarch64.whl"]
    assert [str(c.version) for c in found.iter_candidates()] == ["1.26.4", "1.26.4", "1.26.3"]
    assert found.rejects == ()  # every numpy file fits the Target
    torch = _finder(client, sources, "jal").find("torch")
    assert [c.link.filename for c in torch.iter_candidates()] == ["torch-2.8.0-cp310-cp310-linux_aarch64.whl"]


def test_builds_for_other_targets_are_passed_over_and_still_listed_with_their_reasons(
    index_server: IndexServer, tmp_path: Path, client: IndexClient
) -> None:
    tags = ["cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64", "cp311-cp311-manylinux_2_17_aarch64",
            "cp310-cp310-win_amd64", "cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64",
            "cp39-abi3-manylinux_2_28_aarch64"]
    url = index_server.add("simple", "/m/simple", [_served(tmp_path, "m", "fast", "3.0", t) for t in tags])
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    base = Source("base index", "simple", Url.parse(url))
    found = Finder(client, route, [base], make_target()).find("fast")
    assert [c.link.filename for c in found.candidates] == [
        "fast-3.0-cp310-cp310-manylinux_2_17_aarch64.manylinux2014_aarch64.whl",
        "fast-3.0-cp39-abi3-manylinux_2_28_aarch64.whl",
    ]
    reasons = {r.filename: r.reason for r in found.rejects}
    assert reasons["fast-3.0-cp310-cp310-win_amd64.whl"].startswith("built for another platform (win_amd64)")
    assert reasons["fast-3.0-cp311-cp311-manylinux_2_17_aarch64.whl"].startswith("built for another Python")
    assert len(reasons) == 3


_TAG_PART = st.sampled_from(["cp310", "cp39", "cp311", "py3", "py2", "abi3", "none", "cp310d", "PY3", ""])
_PLAT_PART = st.sampled_from(["linux_aarch64", "manylinux_2_17_aarch64", "manylinux2014_aarch64", "any",
                              "manylinux_2_39_aarch64", "win_amd64", "linux_x86_64", "Linux_AARCH64", ""])


@settings(max_examples=300, deadline=None)
@given(
    pythons=st.lists(_TAG_PART, min_size=1, max_size=3), abis=st.lists(_TAG_PART, min_size=1, max_size=2),
    platforms=st.lists(_PLAT_PART, min_size=1, max_size=3), build=st.sampled_from(["", "1-", "x-"]),
)
def test_the_quick_tag_look_never_drops_a_file_the_full_judgement_would_take(
    pythons: list[str], abis: list[str], platforms: list[str], build: str
) -> None:
    filename = f"demo-1.0-{build}{'.'.join(pythons)}-{'.'.join(abis)}-{'.'.join(platforms)}.whl"
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    source = Source("base index", "simple", Url.parse("http://127.0.0.1:9/simple"), trusted=True)
    finder = Finder(None, route, [source], make_target(), binary=BinaryPolicy())  # type: ignore[arg-type]
    link = FileLink(filename=filename, url=Url(f"http://127.0.0.1:9/{filename}"), source=source)
    taken = finder._judge(link, source, False, "demo", 0)[1] is not None
    assert not taken or finder.may_fit(filename)


# -- sdists --------------------------------------------------------------------------------------


@pytest.fixture
def both(index_server: IndexServer, tmp_path: Path) -> Source:
    """'both' 1.0 as a wheel and an sdist, and 1.1 as an sdist only."""
    index_server.add("simple", "/simple", [
        _served(tmp_path, "base", "both", "1.0"),
        ServedFile.from_path(build_sdist(tmp_path / "sdists", "both", "1.0").path),
        ServedFile.from_path(build_sdist(tmp_path / "sdists", "both", "1.1").path),
    ])
    return Source("base index", "simple", Url.parse(index_server.url + "/simple"))


def _offered(client: IndexClient, base: Source, **options: str) -> list[str]:
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    pairs = [(f"--{k.replace('_', '-')}", v) for k, v in options.items()]
    finder = Finder(client, route, [base], make_target(), binary=BinaryPolicy.parse(pairs))
    return [c.link.filename for c in finder.find("both").candidates]


def test_a_fitting_wheel_wins_within_its_version_and_an_sdist_only_release_is_still_a_candidate(
    client: IndexClient, both: Source
) -> None:
    # As pip: the newest release comes first even when it has only an sdist.
    assert _offered(client, both) == ["both-1.1.tar.gz", "both-1.0-py3-none-any.whl", "both-1.0.tar.gz"]


def test_no_binary_only_binary_and_prefer_binary_are_honoured(client: IndexClient, both: Source) -> None:
    assert _offered(client, both, only_binary="both") == ["both-1.0-py3-none-any.whl"]
    assert _offered(client, both, only_binary=":all:") == ["both-1.0-py3-none-any.whl"]
    assert _offered(client, both, no_binary=":all:") == ["both-1.1.tar.gz", "both-1.0.tar.gz"]
    assert _offered(client, both, no_binary="other") == _offered(client, both)
    assert _offered(client, both, prefer_binary="") == [
        "both-1.0-py3-none-any.whl", "both-1.1.tar.gz", "both-1.0.tar.gz"]


def test_a_file_the_binary_policy_refuses_is_a_reject_with_the_option(
    client: IndexClient, both: Source
) -> None:
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    policy = BinaryPolicy.parse([("--only-binary", "both")])
    finder = Finder(client, route, [both], make_target(), binary=policy)
    assert {r.filename: r.reason for r in finder.find("both").rejects} == {
        "both-1.0.tar.gz": "source distribution, and --only-binary both takes wheels only",
        "both-1.1.tar.gz": "source distribution, and --only-binary both takes wheels only",
    }


def test_an_sdist_of_a_guarded_name_is_never_a_candidate_without_a_build_recipe(
    index_server: IndexServer, tmp_path: Path, client: IndexClient
) -> None:
    # A devpi CUDA index shows PyPI's torch sdist too: building it would give a CPU-only torch.
    jal = index_server.add("devpi", "/jp6/cu126", [
        ServedFile.from_path(build_sdist(tmp_path / "sdists", "torch", "2.8.0").path),
    ])
    cuda = Source("jetson-ai-lab jp6/cu126", "devpi", Url.parse(jal), jetson=True,
                  platforms=("linux_aarch64",))
    route = Route(key="jp6-cu126", summary="", sources=(cuda,), guarded=frozenset({"torch"}))
    found = Finder(client, route, [], make_target()).find("torch")
    assert found.candidates == ()
    (reject,) = found.rejects
    assert reject.filename == "torch-2.8.0.tar.gz"
    assert "guarded CUDA package" in reject.reason and "build recipe" in reject.reason
    with_recipe = Finder(client, route, [], make_target(), sdist_recipe=lambda name: name == "torch")
    assert [c.link.filename for c in with_recipe.find("torch").candidates] == ["torch-2.8.0.tar.gz"]
