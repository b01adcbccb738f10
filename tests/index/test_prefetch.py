"""Files fetched ahead of the plan (``IndexClient.prefetch_file``), against the real loopback server."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.index.files import Stopped
from jetpip.install.fetch import Fetch, fetch_all
from jetpip.lock.pylock import LockedPackage
from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from jetpip.report import NullReporter
from tests.support.server import IndexServer, ServedFile

SIZE = 2 * 1024 * 1024  # 32 pieces of the slow link's 64 KiB
PACE = 0.05  # seconds between pieces: the whole file takes about 1.6 s


@pytest.fixture
def served(index_server: IndexServer) -> tuple[ServedFile, str]:
    """A file of incompressible bytes on a simple index, and the index's URL."""
    f = ServedFile("big-1.0-py3-none-any.whl", os.urandom(SIZE), pep658=False)
    return f, index_server.add("simple", "/simple", [f])


def _client(url: str, cache_dir: Path, *, offline: bool = False) -> IndexClient:
    return IndexClient(IndexConfig(index_url=url, retries=0), cache_dir=cache_dir, offline=offline)


def _link(c: IndexClient, url: str) -> FileLink:
    (link,) = c.project_page(Source("base index", "simple", Url.parse(url)), "big").files
    return link


def _file_gets(server: IndexServer) -> list[str | None]:
    return [r.range for r in server.requests("/files/") if r.method == "GET"]


def _over_a_slow_link(url: str, server: IndexServer, tmp_path: Path) -> tuple[IndexClient, FileLink]:
    """A client, and the link of the served file, whose next download comes in paced pieces."""
    server.fault("/files/", "slow", count=1, seconds=PACE)
    c = _client(url, tmp_path / "cache")
    return c, _link(c, url)


def _kept(c: IndexClient) -> int:
    """The bytes of the cache's partial files (a download under way, or one given up)."""
    return sum(p.stat().st_size for p in (c.cache.root / "partial").glob("*") if p.suffix != ".json")


def _wait_for_bytes(c: IndexClient) -> None:
    deadline = time.monotonic() + 10
    while not _kept(c):
        assert time.monotonic() < deadline, "the download never began"
        time.sleep(0.02)


def _resumed(f: ServedFile, url: str, cache: Path, kept: int, server: IndexServer) -> None:
    """The next run gets the whole file, asking only for the bytes after those ``kept``."""
    with _client(url, cache) as c:
        path = c.fetch(_link(c, url))
    assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
    # The stopped answer is never logged whole (the client hung up on it): the resumed one is.
    assert _file_gets(server)[-1:] == [f"bytes={kept}-"]


def test_a_prefetched_file_is_downloaded_once_and_its_fetch_watches_the_download(
    served: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    f, url = served
    index_server.fault("/files/", "slow", seconds=PACE)
    growing: list[Path] = []
    with _client(url, tmp_path / "cache") as c:
        link = _link(c, url)
        started = c.prefetch_file(link)
        assert started is not None
        path = c.fetch(link, on_fetch=growing.append)  # waits for the prefetch, never a second GET
        assert started.result() == path
        assert c.downloaded(link)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == f.sha256
    assert _file_gets(index_server) == [None]
    assert len(growing) == 1 and not growing[0].exists()  # the partial file, moved into the cache since

    with _client(url, tmp_path / "cache") as c:  # another run: in the cache by its hash
        link = _link(c, url)
        assert c.prefetch_file(link) is None
        assert c.fetch(link, on_fetch=growing.append) == path
        assert not c.downloaded(link)
    assert len(growing) == 1 and _file_gets(index_server) == [None]


def test_a_prefetch_still_running_when_the_client_closes_stops_and_the_next_run_resumes_it(
    served: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    f, url = served
    c, link = _over_a_slow_link(url, index_server, tmp_path)
    started = c.prefetch_file(link)
    assert started is not None
    _wait_for_bytes(c)

    began = time.monotonic()
    c.close()  # the run ends without the file (its resolution failed, say)
    assert time.monotonic() - began < 1.0  # at the next piece, not at the end of the file
    assert started.exception() is not None
    kept = _kept(c)
    assert 0 < kept < SIZE
    _resumed(f, url, tmp_path / "cache", kept, index_server)


def test_a_fetch_on_another_thread_stops_before_the_client_closes_its_connections(
    served: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    # A plan's fetch that fails on one file leaves its other downloads running on their threads;
    # the run then closes the client. Each stops at its next piece first, its bytes kept, and no
    # connection is closed under a download or left open by one.
    f, url = served
    c, link = _over_a_slow_link(url, index_server, tmp_path)
    outcome: list[BaseException | Path] = []

    def fetch() -> None:
        try:
            outcome.append(c.fetch(link))
        except BaseException as err:  # what the thread met is the subject of the test
            outcome.append(err)

    thread = threading.Thread(target=fetch)
    thread.start()
    _wait_for_bytes(c)

    c.close()
    assert not thread.is_alive()  # it ended before close() returned
    assert outcome and isinstance(outcome[0], (Stopped, RuntimeError))  # given up, not finished
    kept = _kept(c)
    assert 0 < kept < SIZE
    _resumed(f, url, tmp_path / "cache", kept, index_server)


def test_nothing_is_prefetched_offline_without_a_hash_or_from_a_local_folder(
    index_server: IndexServer, tmp_path: Path,
) -> None:
    data = os.urandom(1000)
    hashless = ServedFile("small-1.0-py3-none-any.whl", data, pep658=False)
    url = index_server.add("flat", "/flat", [hashless])  # a flat page publishes no hash
    source = Source("wheels", "flat", Url.parse(url), trusted=True)
    with _client(url, tmp_path / "cache") as c:
        (link,) = c.project_page(source, "small").files
        assert link.best_hash is None
        assert c.prefetch_file(link) is None
        local = tmp_path / "small-1.0-py3-none-any.whl"
        local.write_bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        on_disk = FileLink(local.name, Url(local.as_uri()), source, hashes={"sha256": digest})
        assert c.prefetch_file(on_disk) is None
    with _client(url, tmp_path / "cache", offline=True) as c:
        hashed = FileLink(link.filename, link.url, source, hashes={"sha256": digest})
        assert c.prefetch_file(hashed) is None
    assert not _file_gets(index_server) and not index_server.requests(hashless.filename)


class _Progress(NullReporter):
    def __init__(self) -> None:
        self.progress: list[int] = []
        self.fetched: list[tuple[str, bool]] = []

    def fetch_progress(self, filename: str, done: int, size: int | None) -> None:
        self.progress.append(done)

    def file_fetched(self, filename: str, size: int, *, from_cache: bool) -> None:
        self.fetched.append((filename, from_cache))


def test_the_plan_fetch_shows_the_progress_of_a_download_the_resolution_started(
    served: tuple[ServedFile, str], index_server: IndexServer, tmp_path: Path,
) -> None:
    f, url = served
    index_server.fault("/files/", "slow", seconds=PACE)
    seen = _Progress()
    with _client(url, tmp_path / "cache") as c:
        link = _link(c, url)
        assert c.prefetch_file(link) is not None
        pkg = LockedPackage(name="big", version="1.0", url=str(link.url), filename=f.filename,
                            sha256=f.sha256, size=SIZE)
        summary = fetch_all([Fetch(pkg, str(tmp_path / "plan" / f.filename))], c, seen)
    assert summary.downloaded == 1  # downloaded in this run, though not by the plan's fetch
    assert seen.fetched == [(f.filename, False)]
    assert len(seen.progress) >= 3 and seen.progress == sorted(seen.progress)
    assert 0 < seen.progress[0] < SIZE  # the bytes of the download under way, as they grew
    assert _file_gets(index_server) == [None]


def test_the_downloads_of_guesses_the_plan_dropped_stop_and_a_later_fetch_resumes_one(
    index_server: IndexServer, tmp_path: Path,
) -> None:
    # The look-ahead guessed two files; the plan needs one. The other's download stops, and
    # if something in the same run needs it after all, it is fetched, from the bytes kept.
    kept = ServedFile("keep-1.0-py3-none-any.whl", os.urandom(SIZE), pep658=False)
    other = ServedFile("other-1.0-py3-none-any.whl", os.urandom(SIZE), pep658=False)
    url = index_server.add("simple", "/simple", [kept, other])
    index_server.fault("/files/", "slow", seconds=PACE)
    source = Source("base index", "simple", Url.parse(url))
    with _client(url, tmp_path / "cache") as c:
        (keep_link,) = c.project_page(source, "keep").files
        (other_link,) = c.project_page(source, "other").files
        kept_fut, other_fut = c.prefetch_file(keep_link), c.prefetch_file(other_link)
        assert kept_fut is not None and other_fut is not None
        time.sleep(4 * PACE)  # both under way
        began = time.monotonic()
        c.drop_prefetches([keep_link])
        assert other_fut.exception(timeout=5) is not None
        assert time.monotonic() - began < 1.0
        assert hashlib.sha256(c.fetch(keep_link).read_bytes()).hexdigest() == kept.sha256
        assert kept_fut.exception() is None
        again = c.fetch(other_link)  # needed after all: fetched now, resumed from the kept bytes
    assert hashlib.sha256(again.read_bytes()).hexdigest() == other.sha256
    ranges = [r.range for r in index_server.requests(other.filename) if r.method == "GET"]
    assert ranges and ranges[-1] is not None and ranges[-1].startswith("bytes=")
