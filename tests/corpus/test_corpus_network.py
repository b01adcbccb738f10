"""The corpus against the live base index (`-m network`): each case still locks, its CUDA names from Jetson.

The Jetson index is the loopback stand-in (the real hosts are not the subject here); the base index is
pip's default. Versions drift as projects release, so the recorded sets are compared in the output only:
re-record with `python bench/corpus.py record` when the drift matters.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.mirror import MirrorServer
from tests.support.corpus import TARGETS, Case, carried, load_cases, load_expected
from tests.support.corpus_lock import lock_case
from tests.support.corpus_server import target_mirrors

pytestmark = pytest.mark.network

CASES = load_cases()
BASE_INDEX = "https://pypi.org/simple/"  # pip's default index, as a cross target without pip gets it


@pytest.fixture(scope="module")
def jetson(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[MirrorServer, Path]]]:
    with target_mirrors(tmp_path_factory, [], "live") as out:
        yield out


@pytest.mark.parametrize(("case", "key"),
                         [pytest.param(c, k, id=f"{c.name}-{k}") for c in CASES for k in TARGETS])
def test_the_case_locks_against_the_live_base_index(case: Case, key: str, tmp_path: Path,
                                                     jetson: dict[str, tuple[MirrorServer, Path]]) -> None:
    server, overlay = jetson[key]
    target = TARGETS[key]
    got = lock_case(case, target, BASE_INDEX, overlay, tmp_path)
    assert got.error is None, f"{case.name} on {key} did not lock:\n{got.error}"
    for name in carried(target):
        if name in got.pins:
            assert got.urls[name].startswith(f"{server.url}{target.jetson_prefix}/+f/"), got.urls[name]
    recorded = load_expected().get(case.name, {}).get(key) or {}
    drift = {n: (v, got.pins.get(n)) for n, v in recorded.items() if got.pins.get(n) != v}
    print(f"{case.name} on {key}: {len(got.pins)} pins; moved since the record (recorded, live): {drift}")
