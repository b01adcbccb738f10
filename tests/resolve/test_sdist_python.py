"""An sdist's Requires-Python, from its metadata, decides whether it is a candidate as a wheel's does."""

from __future__ import annotations

from pathlib import Path

from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.sources import Route, Source
from jetpip.model.urls import Url
from jetpip.resolve.provider import Resolution, resolve
from tests.support.sdists import build_sdist
from tests.support.server import IndexServer, ServedFile
from tests.support.targets import make_target


def _resolve(index_server: IndexServer, tmp_path: Path, *, static: bool) -> Resolution:
    # The index page gives no Requires-Python: only the sdist's own metadata can say it.
    newer = build_sdist(tmp_path / "sdists", "newlib", "2.0", static=static, requires_python=">=3.12")
    older = build_sdist(tmp_path / "sdists", "newlib", "1.5", requires_python=">=3.8")
    url = index_server.add("simple", "/simple", [ServedFile.from_path(newer.path),
                                                 ServedFile.from_path(older.path)])
    route = Route(key="r", summary="", sources=(), guarded=frozenset())
    with IndexClient(IndexConfig(index_url=None), cache_dir=tmp_path / "cache") as client:
        return resolve(["newlib"], target=make_target("3.10"), route=route, client=client,
                       base_sources=[Source("base index", "simple", Url.parse(url))])


def test_a_static_requires_python_that_excludes_the_target_passes_the_sdist_over(
    index_server: IndexServer, tmp_path: Path
) -> None:
    res = _resolve(index_server, tmp_path, static=True)
    assert [(p.version, p.link.filename) for p in res.pins] == [("1.5", "newlib-1.5.tar.gz")]
    assert res.warnings == (
        "newlib-2.0.tar.gz: its metadata requires Python >=3.12, and the Target has 3.10.0; "
        "passed over (its index page does not say)",
    )


def test_the_prepared_metadata_decides_when_pkg_info_is_not_final(
    index_server: IndexServer, tmp_path: Path
) -> None:
    # PEP 643: a PKG-INFO with dynamic fields is not the metadata; the backend's prepared one (here
    # without Requires-Python) is, so this release stays a candidate.
    res = _resolve(index_server, tmp_path, static=False)
    assert [(p.name, p.version) for p in res.pins] == [("newlib", "2.0")]
    assert res.warnings == ()
