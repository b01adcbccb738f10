"""The on-disk cache: format version, corruption detection and refetch, info and clean."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from jetpip.errors import CacheDamagedError
from jetpip.index.cache import CACHE_FORMAT, Cache, CachedPage, default_cache_dir
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from tests.support.server import IndexServer
from tests.support.wheels import BuiltWheel


def test_default_dir_is_the_user_cache(tmp_path: Path) -> None:
    # conftest points XDG_CACHE_HOME at a temp home
    assert default_cache_dir().name == "jetpip"
    assert "/.cache/" in str(default_cache_dir())


def test_page_round_trip_and_corruption(tmp_path: Path) -> None:
    cache = Cache(tmp_path)
    page = CachedPage("https://i/simple/a/", 200, "text/html", b"<a>", etag='"x"', fetched_at=5.0,
                      max_age=60)
    cache.store_page("https://i/simple/a/", "simple", page)
    assert cache.page("https://i/simple/a/", "simple") == page
    assert cache.page("https://i/simple/a/", "flat") is None
    (stored,) = (p for p in (tmp_path / f"v{CACHE_FORMAT}" / "pages").rglob("*") if p.is_file())
    stored.write_bytes(stored.read_bytes()[:-1] + b"!")
    assert cache.page("https://i/simple/a/", "simple") is None
    assert not stored.exists()  # dropped, so the next run fetches it again


def _demo_in_cache(index_server: IndexServer, make_wheel: Callable[..., BuiltWheel],
                   tmp_path: Path) -> tuple[BuiltWheel, str, Source, Path, FileLink]:
    """One wheel served as a simple page, read once into a fresh cache."""
    w = make_wheel("demo", "1.0")
    url = index_server.add("simple", "/simple", [w.path])
    src = Source("b", "simple", Url.parse(url))
    cache_dir = tmp_path / "cache"
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c:
        (link,) = c.project_page(src, "demo").files
    return w, url, src, cache_dir, link


def test_corrupt_entries_are_refetched(index_server: IndexServer,
                                       make_wheel: Callable[..., BuiltWheel], tmp_path: Path) -> None:
    w, url, src, cache_dir, link = _demo_in_cache(index_server, make_wheel, tmp_path)
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c:
        c.metadata(link)
        c.download(link, tmp_path / "dl")
    root = cache_dir / f"v{CACHE_FORMAT}"
    for kind in ("pages", "metadata", "wheels"):
        for p in (root / kind).rglob("*"):
            if p.is_file():
                p.write_bytes(b"garbage")
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c:
        (link,) = c.project_page(src, "demo").files
        assert c.metadata(link).version == "1.0"
        out = c.download(link, tmp_path / "dl2")
    assert out.read_bytes() == w.path.read_bytes()
    assert [r.status for r in index_server.requests("/simple/demo/")] == [200, 200]  # no 304 on garbage
    assert len(index_server.requests(".metadata")) == 2
    assert len([r for r in index_server.requests(w.filename) if not r.path.endswith(".metadata")]) == 2


def test_a_cached_file_changed_after_its_check_is_hashed_again_and_dropped(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    data = b"the bytes of a wheel " * 100
    digest = hashlib.sha256(data).hexdigest()
    (tmp_path / "dl").write_bytes(data)
    path = cache.store_wheel("sha256", digest, tmp_path / "dl")
    assert cache.wheel("sha256", digest) == path
    assert cache.wheel("sha256", digest) == path  # unchanged since it was checked

    time.sleep(0.05)  # past the file system's clock tick, so the write shows in the modification time
    with path.open("r+b") as f:  # the same size, other bytes: as a disk error or a stray write leaves it
        f.write(b"X")
    assert cache.wheel("sha256", digest) is None
    assert not path.exists()

    (tmp_path / "dl").write_bytes(data)
    path = cache.store_wheel("sha256", digest, tmp_path / "dl")
    other = tmp_path / "other"
    other.write_bytes(b"X" + data[1:])
    os.replace(other, path)  # another file put in its place
    assert cache.wheel("sha256", digest) is None


def test_a_page_kept_in_an_older_form_is_fetched_again(
    index_server: IndexServer, make_wheel: Callable[..., BuiltWheel], tmp_path: Path
) -> None:
    _, url, src, cache_dir, link = _demo_in_cache(index_server, make_wheel, tmp_path)
    cache = Cache(cache_dir)
    page_url = f"{url}/demo/"
    kept = cache.page(page_url, "simple")
    assert kept is not None and kept.etag and kept.max_age is None  # revalidated on every run
    # An intact entry whose body is the page itself (as an older jetpip kept it), not a scan.
    cache.store_page(page_url, "simple", CachedPage(page_url, 200, "text/html", b"<a>", etag=kept.etag))
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c:
        assert [f.filename for f in c.project_page(src, "demo").files] == [link.filename]
    # No If-None-Match was sent for the unreadable entry: a 304 would have left nothing to read.
    assert [r.status for r in index_server.requests("/simple/demo/")] == [200, 200]


def test_a_page_damaged_past_its_index_fails_once_then_is_fetched_anew(
    index_server: IndexServer, make_wheel: Callable[..., BuiltWheel], tmp_path: Path
) -> None:
    _, url, src, cache_dir, link = _demo_in_cache(index_server, make_wheel, tmp_path)
    (stored,) = (p for p in (cache_dir / f"v{CACHE_FORMAT}" / "pages").rglob("*") if p.is_file())
    raw = bytearray(stored.read_bytes())
    raw[-3] ^= 0xFF  # inside the last block of rows, which the record's own hash does not cover
    stored.write_bytes(bytes(raw))
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c, \
            pytest.raises(CacheDamagedError) as err:
        c.project_page(src, "demo").files  # noqa: B018
    assert "run the command again" in (err.value.hint or "")
    assert not stored.exists()
    with IndexClient(IndexConfig(index_url=url), cache_dir=cache_dir) as c:
        assert [f.url for f in c.project_page(src, "demo").files] == [link.url]
    # First fetch, then the revalidation whose copy turned out damaged, then the fetch anew.
    assert [r.status for r in index_server.requests("/simple/demo/")] == [200, 304, 200]


def test_info_and_clean(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "c")
    cache.store_page("u", "simple", CachedPage("u", 200, "text/html", b"x" * 10))
    cache.store_metadata(["file\nsha256:ab"], b"Name: a\nVersion: 1\n")
    info = cache.info()
    assert info["pages"][0] == 1 and info["metadata"][0] == 1
    assert cache.clean() > 0
    assert cache.info() == {} and not (tmp_path / "c").exists()


def test_cache_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from jetpip.cli import cli

    root = tmp_path / "jc"
    monkeypatch.setenv("JETPIP_CACHE_DIR", str(root))
    Cache(root).store_page("u", "simple", CachedPage("u", 200, "text/html", b"x" * 2048))
    runner = CliRunner()
    assert runner.invoke(cli, ["cache", "dir"]).output.strip() == str(root)
    info = runner.invoke(cli, ["cache", "info"]).output
    assert f"cache: {root} (format {CACHE_FORMAT})" in info
    assert [line.split()[:2] for line in info.splitlines() if "pages" in line] == [["pages", "1"]]
    cleaned = runner.invoke(cli, ["cache", "clean"])
    assert cleaned.exit_code == 0 and f"removed {root}" in cleaned.output and not root.exists()
