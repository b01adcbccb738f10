"""Resumable downloads against the real loopback server: a reset mid-file, then Range from the bytes kept."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from jetpip.errors import HashMismatchError
from jetpip.index.cache import Cache
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.index.files import _RunningHash
from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from tests.support.server import IndexServer, ServedFile

SIZE = 3 * 1024 * 1024 + 123  # a few of the transport's 1 MiB pieces, and an odd tail
CUT = 1_500_000


@pytest.fixture
def big(index_server: IndexServer) -> tuple[ServedFile, str]:
    """A large file (incompressible bytes) on a simple index; the file's URL path is returned too."""
    served = ServedFile("big-1.0-py3-none-any.whl", os.urandom(SIZE), pep658=False)
    url = index_server.add("simple", "/simple", [served])
    return served, url


def _link(c: IndexClient, url: str) -> FileLink:
    (link,) = c.project_page(Source("base index", "simple", Url.parse(url)), "big").files
    return link


def _client(url: str, cache_dir: Path, retries: int = 0) -> IndexClient:
    return IndexClient(IndexConfig(index_url=url, retries=retries), cache_dir=cache_dir)


def _file_requests(server: IndexServer) -> list[tuple[str | None, int]]:
    return [(r.range, r.status) for r in server.requests("/files/")]


def test_a_cut_download_is_kept_and_the_next_run_resumes_it(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    served, url = big
    index_server.fault("/files/", "reset", count=1, cut=CUT)
    partial: list[Path] = []
    with _client(url, tmp_path / "cache") as c, pytest.raises(HashMismatchError) as err:
        c.fetch(_link(c, url), on_fetch=partial.append)
    assert "cut short" in str(err.value) and "the next try resumes from there" in str(err.value)
    kept = partial[0].stat().st_size
    assert 0 < kept <= CUT  # what arrived before the reset stays on disk

    with _client(url, tmp_path / "cache") as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    assert _file_requests(index_server) == [(None, 200), (f"bytes={kept}-", 206)]
    assert not partial[0].exists()  # moved into the cache by its hash


def test_a_retry_in_the_same_run_resumes_too(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    served, url = big
    index_server.fault("/files/", "reset", count=2, cut=CUT)
    with _client(url, tmp_path / "cache", retries=2) as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    ranges = _file_requests(index_server)
    assert [status for _, status in ranges] == [200, 206, 206]
    first, second = (int((r or "=0-").split("=")[1].rstrip("-")) for r, _ in ranges[1:])
    assert 0 < first <= CUT and first < second <= first + CUT  # each try starts where the last ended


@pytest.mark.parametrize("change", ["server ignores Range", "file's ETag changed"])
def test_the_whole_file_comes_again_when_the_rest_cannot_be_trusted_to_fit(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path, change: str,
) -> None:
    served, url = big
    index_server.fault("/files/", "reset", count=1, cut=CUT)
    with _client(url, tmp_path / "cache") as c, pytest.raises(HashMismatchError):
        c.fetch(_link(c, url))
    if change == "server ignores Range":
        index_server.fault("/files/", "no-range", count=1)
    else:
        served.etag = '"re-uploaded"'  # the same bytes served under a new validator
    with _client(url, tmp_path / "cache") as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    (_, first), (resumed, status) = _file_requests(index_server)
    assert first == 200 and resumed is not None and status == 200  # asked for the rest, got it all


def test_kept_bytes_that_do_not_fit_are_dropped_and_the_file_fetched_whole(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    served, url = big
    index_server.fault("/files/", "reset", count=1, cut=CUT)
    partial: list[Path] = []
    with _client(url, tmp_path / "cache") as c, pytest.raises(HashMismatchError):
        c.fetch(_link(c, url), on_fetch=partial.append)
    with partial[0].open("r+b") as f:  # damaged on disk meanwhile
        f.write(b"\0" * 4096)
    with _client(url, tmp_path / "cache") as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    assert [status for _, status in _file_requests(index_server)] == [200, 206, 200]


def test_a_download_another_process_holds_goes_to_a_private_file(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    served, url = big
    cache = Cache(tmp_path / "cache")
    with cache.partial(f"sha256:{served.sha256}") as held:
        held.path.write_bytes(b"someone else's bytes")
        partial: list[Path] = []
        with _client(url, tmp_path / "cache") as c:
            path = c.fetch(_link(c, url), on_fetch=partial.append)
        assert partial[0] != held.path and held.path.read_bytes() == b"someone else's bytes"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256


def test_kept_bytes_longer_than_the_file_start_it_over(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    served, url = big
    with Cache(tmp_path / "cache").partial(f"sha256:{served.sha256}") as left:
        left.path.write_bytes(served.data + b"tail of something else")  # left by an earlier run
    with _client(url, tmp_path / "cache") as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    assert _file_requests(index_server) == [(f"bytes={SIZE + 22}-", 416), (None, 200)]


@pytest.mark.parametrize("thread_after", [1024 * 1024, SIZE + 1],
                         ids=["a hash thread from the second MiB on", "the download's thread alone"])
def test_a_file_is_hashed_as_it_arrives_on_either_thread(
    big: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    thread_after: int,
) -> None:
    # A small file is hashed by the thread that downloads it; past THREAD_AFTER a thread of its
    # own takes the rest. The digest taken either way is what the file is checked against.
    served, url = big
    monkeypatch.setattr(_RunningHash, "THREAD_AFTER", thread_after)
    with _client(url, tmp_path / "cache") as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == served.sha256
    index_server.fault("/files/", "corrupt", count=1)
    with _client(url, tmp_path / "other") as c, pytest.raises(HashMismatchError):
        c.fetch(_link(c, url))
