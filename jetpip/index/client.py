"""The index client: project pages and metadata from every index form, concurrent, cached and verified."""

from __future__ import annotations

import contextlib
import html
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, InvalidStateError, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.errors import IndexUnreachableError, MetadataError, OfflineMissError, WheelNameError
from jetpip.index.cache import Cache, CachedPage, default_cache_dir, file_hash, parse_max_age
from jetpip.index.config import IndexConfig
from jetpip.index.files import FileFetcher, Stopped, cache_key, place, verify_bytes
from jetpip.index.local import DIR_LISTING, local_page
from jetpip.index.metadata import TAIL_BYTES, DistMetadata, metadata_from_ranges, metadata_from_wheel_bytes
from jetpip.index.pages import (
    PageScan,
    ProjectPage,
    parse_flat_page,
    parse_simple_html,
    parse_simple_json,
    scan_filenames,
    scan_html,
    scan_page,
)
from jetpip.index.stale import StaleCopy, StalePages, refresh_hint
from jetpip.model.links import SDIST_FORMATS, BinaryPolicy, FileLink, WheelName, parse_wheel_name
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from jetpip.report import NullReporter, Reporter

if TYPE_CHECKING:  # loaded by the first request: a warm run needs no HTTP
    from jetpip.index.transport import Http

__all__ = [
    "DistMetadata",
    "FileLink",
    "IndexClient",
    "ProjectPage",
    "WheelName",
    "parse_flat_page",
    "parse_simple_html",
    "parse_simple_json",
    "parse_wheel_name",
]

T = TypeVar("T")

SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.1"
)
# Requests in flight at once. The look-ahead opens a whole level of the dependency tree together
# (about 20 names in a transformers closure); a smaller pool queues part of it behind the rest.
MAX_WORKERS = 32
# Files downloaded in the background while the resolution goes on: enough to overlap many small
# files' round trips, few enough to leave the resolution's own requests the bandwidth.
PREFETCH_WORKERS = 6
# How long close() waits for downloads run by fetch() to stop at their next chunk; a stalled
# connection would hold it until its timeout.
CLOSE_WAIT = 2.0
_SCANNED = "x-jetpip/scan"  # a simple page kept as its scan (jetpip.index.pages), not as the page itself


class IndexClient:
    """Reads project pages and metadata from configured sources; one fetch per thing per run."""

    def __init__(
        self,
        config: IndexConfig,
        *,
        cache_dir: Path | None = None,
        reporter: Reporter | None = None,
        offline: bool = False,
        refresh: bool = False,
        max_workers: int = MAX_WORKERS,
        binary: BinaryPolicy | None = None,
    ) -> None:
        self.config = config
        self.binary = binary or BinaryPolicy()  # --no-binary / --only-binary: the finder reads it
        self.cache = Cache(cache_dir if cache_dir is not None else default_cache_dir())
        self.reporter: Reporter = reporter or NullReporter()
        self.offline = offline
        self.refresh = refresh
        self._max_workers = max_workers
        self._http_client: Http | None = None  # made on the first request: a warm run needs none
        self._online = False
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="jetpip-index")
        self._lock = threading.Lock()
        self._memo: dict[tuple[str, object], Future[object]] = {}
        self._devpi_roots: set[Url] = set()
        self._stale = StalePages(self.reporter)  # pages read from the cache because their index was down
        self._files = FileFetcher(self.cache, config, self.reporter, lambda: self.http, offline=offline)
        self._files_pool: ThreadPoolExecutor | None = None  # prefetches, made by the first one
        self._stops: dict[object, threading.Event] = {}  # file key -> set: that prefetch gives up
        self._fetching: set[threading.Event] = set()  # each set: that download by fetch() gives up
        self._fetches_done = threading.Condition(self._lock)  # notified as a download by fetch() ends
        self._grow = threading.Condition()
        self._downloads: dict[object, Path] = {}  # file key -> where this run downloads it
        self._closed = False

    # -- lifecycle ---------------------------------------------------------------
    def __enter__(self) -> IndexClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop queued prefetches, wait for running ones, and close connections.

        Whatever still waits on a dropped fetch gets an error rather than waiting forever.
        """
        with self._lock:
            self._closed = True
            files_pool = self._files_pool
            stops = [*self._stops.values(), *self._fetching]
        for stop in stops:
            stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if files_pool is not None:
            files_pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            pending = [fut for fut in self._memo.values() if not fut.done()]
        for fut in pending:
            with contextlib.suppress(InvalidStateError):
                fut.set_exception(RuntimeError("the index client is closed"))
        self._pool.shutdown(wait=True)  # running fetches end before their connections close
        if files_pool is not None:
            files_pool.shutdown(wait=True)  # prefetches end at their next chunk
        with self._lock:
            # Downloads fetch() runs on its callers' threads (a plan's fetch that failed on another
            # file leaves them running) end at their next chunk too, before the connections close.
            self._fetches_done.wait_for(lambda: not self._fetching, timeout=CLOSE_WAIT)
            http, self._http_client = self._http_client, None
        if http is not None:
            http.close()

    @property
    def went_online(self) -> bool:
        """True once a request of this run went over the network (the cache could not answer)."""
        return self._online

    def stale_record(self) -> tuple[str, ...]:
        """What a lock made in this run records of the cached pages that stood in for a down index."""
        return self._stale.record()

    @property
    def http(self) -> Http:
        """The HTTP session, started on first use."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the index client is closed")
            if self._http_client is None:
                from jetpip.index.transport import Http

                self._online = True
                self._http_client = Http(self.config, max_workers=self._max_workers)
            return self._http_client

    # -- memoisation: one fetch per key per run, shared between threads ----------
    def _claim(self, kind: str, key: object) -> tuple[Future[object], bool]:
        with self._lock:
            fut = self._memo.get((kind, key))
            if fut is not None:
                return fut, False
            fut = Future()
            self._memo[(kind, key)] = fut
            return fut, True

    def _claim_again(self, kind: str, key: object, failed: Future[object]) -> tuple[Future[object], bool]:
        """Claim ``key`` afresh in place of ``failed``, unless another thread did so first."""
        with self._lock:
            current = self._memo.get((kind, key))
            if current is not None and current is not failed:
                return current, False
            fut: Future[object] = Future()
            self._memo[(kind, key)] = fut
            return fut, True

    @staticmethod
    def _fill(fut: Future[object], fn: Callable[[], object]) -> None:
        try:
            result = fn()
        except BaseException as err:
            with contextlib.suppress(InvalidStateError):  # closed meanwhile
                fut.set_exception(err)
        else:
            with contextlib.suppress(InvalidStateError):
                fut.set_result(result)

    def _once(self, kind: str, key: object, fn: Callable[[], T]) -> T:
        fut, mine = self._claim(kind, key)
        if mine:
            self._fill(fut, fn)
        return fut.result()  # type: ignore[return-value]

    def _prefetch(self, kind: str, key: object, fn: Callable[[], object]) -> None:
        fut, mine = self._claim(kind, key)
        if mine:
            try:
                self._pool.submit(self._fill, fut, fn)
            except RuntimeError as err:  # closed
                fut.set_exception(err)

    # -- project pages -----------------------------------------------------------
    def project_page(self, source: Source, name: str) -> ProjectPage:
        """The files ``source`` offers for ``name`` (found=False when it has none)."""
        key = (source, canonicalize_name(name))
        return self._once("page", key, lambda: self._project_page(*key))

    def prefetch_pages(self, pairs: Iterable[tuple[Source, str]]) -> None:
        """Start fetching these pages in the background; returns at once."""
        for source, name in pairs:
            key = (source, canonicalize_name(name))
            self._prefetch("page", key, lambda key=key: self._project_page(*key))  # type: ignore[misc]

    def _project_page(self, source: Source, name: str) -> ProjectPage:
        if source.kind == "flat":
            final, scan = self._once("flat", source.url, lambda: self._flat_scan(source.url))
            page = ProjectPage(name, source, scan, url=Url(final), keep_foreign=False)
            page.found = bool(scan is not None and (page.files or page.rejects))
            return page
        root = source.url
        devpi_url = root.child(f"+simple/{name}/")
        url = devpi_url if root in self._devpi_roots else source.project_url(name)
        raw, scan = self._fetch_page(url, "simple", root)
        if raw.devpi and source.kind == "simple" and "/+simple" not in url.path:
            # A devpi index root configured as a plain index (jetson-containers does this): its bare
            # project path serves a web page to clients it does not take for pip, so use /+simple/.
            with self._lock:
                self._devpi_roots.add(root)
            url = devpi_url
            raw, scan = self._fetch_page(url, "simple", root)
        if raw.status == 404 or scan is None:
            return ProjectPage(name, source, found=False, url=Url(raw.url))
        return ProjectPage(name, source, scan, url=Url(raw.url))

    def _flat_scan(self, url: Url) -> tuple[str, PageScan | None]:
        text = url.secret()
        if url.path.endswith((".whl", *SDIST_FORMATS)) and (url.scheme != "file" or "#" in text):
            # A direct URL names one file: it is a page of that one link (its #sha256= kept), read
            # without a fetch.
            return text, scan_html(f'<a href="{html.escape(text)}"></a>', text)
        raw = self._fetch_page(url, "flat")[0]
        if raw.status == 404:
            return raw.url, None
        if raw.content_type == DIR_LISTING:
            return raw.url, scan_filenames(bytes(raw.body).decode().splitlines(), raw.url)
        return raw.url, scan_html(bytes(raw.body), raw.url)

    def _fetch_page(
        self, url: Url, form: str, index: Url | None = None,
    ) -> tuple[CachedPage, PageScan | None]:
        """The page (from the cache while fresh), and for a simple page its scan; None for a 404.

        When ``index`` (the page itself for a flat page) cannot be reached, a cached copy stands in.
        """
        shown = str(url)
        key = cache_key(url)
        cached = self.cache.page(key, form)
        scan = None
        if cached is not None and form == "simple" and cached.status == 200:
            scan = (PageScan.from_bytes(cached.body, lambda: self.cache.drop_page(key, form))
                    if cached.content_type == _SCANNED else None)
            if scan is None:
                cached = None  # kept by an older jetpip, or unreadable: fetch it again
        if url.scheme == "file":  # this machine's own folder (a packed source tree too): read offline as well
            page = local_page(url)
            self.reporter.page_fetched(shown, from_cache=False)
            return page, self._scan_fresh(page, form)
        if self.offline:
            if cached is None:
                raise OfflineMissError(
                    f"offline, and the cache has no copy of {shown}",
                    "run once without --offline to fill the cache, or drop --offline",
                )
            self.reporter.page_fetched(shown, from_cache=True)
            return cached, scan
        if cached is not None and not self.refresh and cached.is_fresh():
            self.reporter.page_fetched(shown, from_cache=True)
            return cached, scan
        index_key = cache_key(index or url)
        down = self._stale.down(index_key) if cached is not None else None
        if cached is not None and down is not None:  # down earlier in this run: no more tries
            self._stale.use(StaleCopy(index_key, key, cached.fetched_at, down))
            return cached, scan
        headers = {"Accept": SIMPLE_ACCEPT if form == "simple" else "text/html, */*;q=0.1"}
        if cached is not None and cached.status == 200:
            if cached.etag:
                headers["If-None-Match"] = cached.etag
            if cached.last_modified:
                headers["If-Modified-Since"] = cached.last_modified
        try:
            resp = self.http.get(url.secret(), headers, ok=(200, 304, 404, 410), what="index page")
        except IndexUnreachableError as err:
            if cached is None:
                raise
            if self.refresh:
                err.hint = refresh_hint(key, cached.fetched_at)
                raise
            self._stale.use(StaleCopy(index_key, key, cached.fetched_at, err.reason))
            return cached, scan
        now = time.time()
        max_age = parse_max_age(resp.headers.get("cache-control"))
        if resp.status == 304 and cached is not None:
            page = replace(cached, fetched_at=now, max_age=max_age)
            self.cache.store_page(key, form, page)
            self.reporter.page_fetched(shown, from_cache=True)
            return page, scan
        page = CachedPage(
            url=resp.url, status=404 if resp.status in (404, 410) else 200,
            content_type=resp.headers.get("content-type", "text/html").lower(),
            body=resp.body if resp.status == 200 else b"",
            etag=resp.headers.get("etag"), last_modified=resp.headers.get("last-modified"),
            fetched_at=now, max_age=max_age,
            devpi=any(k.startswith("x-devpi-") for k in resp.headers),
        )
        scan = self._scan_fresh(page, form)
        if scan is not None:
            body, checked = scan.to_bytes()
            page = replace(page, content_type=_SCANNED, body=body, checked=checked)
            # Keep the packed form only: the parsed page is freed now, while requests are in flight,
            # and a run unpacks just the versions it reaches, as a warm run does.
            scan = PageScan.from_bytes(body) or scan
        self.cache.store_page(key, form, page)
        self.reporter.page_fetched(shown, from_cache=False)
        return page, scan

    @staticmethod
    def _scan_fresh(page: CachedPage, form: str) -> PageScan | None:
        if form != "simple" or page.status != 200:
            return None
        return scan_page(bytes(page.body), page.content_type, page.url)

    # -- metadata ----------------------------------------------------------------
    def metadata(self, link: FileLink) -> DistMetadata:
        """Core metadata of ``link``: PEP 658 file, else range requests, else the whole file."""
        return self._once("metadata", link.url, lambda: self._metadata(link))

    def prefetch_metadata(self, links: Iterable[FileLink]) -> None:
        """Start fetching metadata of these files in the background; returns at once."""
        for link in links:
            self._prefetch("metadata", link.url, lambda link=link: self._metadata(link))  # type: ignore[misc]

    def _metadata_keys(self, link: FileLink) -> list[str]:
        keys = [f"metadata\n{a}:{d}" for a, d in sorted((link.metadata_hashes or {}).items())]
        keys += [f"file\n{a}:{d}" for a, d in sorted(link.hashes.items())]
        return keys or [f"url\n{cache_key(link.url)}\n{link.size}"]

    def _metadata(self, link: FileLink) -> DistMetadata:
        keys = self._metadata_keys(link)
        data = self.cache.metadata(keys)
        how = "cache"
        if data is None:
            if self.offline:
                raise OfflineMissError(
                    f"offline, and the cache has no metadata of {link.filename} ({link.url})",
                    "run once without --offline to fill the cache, or drop --offline",
                )
            data, how = self._fetch_metadata(link)
            self.cache.store_metadata(keys, data)
        try:
            meta = DistMetadata.parse(data)
        except MetadataError as err:
            raise MetadataError(f"{link.filename} ({link.url}): {err.message}", err.hint) from err
        self._check_names(link, meta)
        self.reporter.metadata_fetched(link.filename, how=how)
        return meta

    def _check_names(self, link: FileLink, meta: DistMetadata) -> None:
        try:
            wheel = parse_wheel_name(link.filename)
        except WheelNameError:
            return
        if canonicalize_name(meta.name) != wheel.name:
            self.reporter.warning(
                f"{link.filename} from {link.source.name}: its metadata names the project "
                f"'{meta.name}', its filename '{wheel.name}'"
            )
        try:
            same = Version(meta.version) == wheel.version
        except InvalidVersion:
            same = False
        if not same:
            self.reporter.warning(
                f"{link.filename} from {link.source.name}: the filename says version {wheel.version}, "
                f"its metadata says {meta.version} (NVIDIA builds do this; accepted)"
            )

    def _fetch_metadata(self, link: FileLink) -> tuple[bytes, str]:
        scheme = link.url.scheme
        if link.metadata_hashes is not None and scheme != "file":
            resp = self.http.get(link.metadata_url.secret(), {}, ok=(200, 404, 410), what="metadata file")
            if resp.status == 200:
                verify_bytes(link, resp.body, link.metadata_hashes, what="metadata file",
                                   url=link.metadata_url)
                return resp.body, "pep658"
        if link.is_wheel and scheme != "file":
            try:
                data = self._range_metadata(link)
            except MetadataError:
                data = None  # an unusual zip layout: the whole file will do
            if data is not None:
                return data, "range"
        path = self.fetch(link)
        if link.is_sdist:
            from jetpip.index.sdist import BuildIndexes, sdist_metadata

            indexes = BuildIndexes.from_config(self.config, offline=self.offline)
            step = f"preparing the metadata of {link.filename} with its build backend (PEP 517)"
            return sdist_metadata(path, file_hash(path, "sha256"), self.cache, indexes,
                                  lambda: self.reporter.step(step))
        try:
            return metadata_from_wheel_bytes(path.read_bytes()), "download"
        except MetadataError as err:
            raise MetadataError(f"{link.filename} ({link.url}): {err.message}", err.hint) from err

    def _range_metadata(self, link: FileLink) -> bytes | None:
        resp = self.http.get(link.url.secret(), {"Range": f"bytes=-{TAIL_BYTES}"}, ok=(200, 206, 416),
                             what="file")
        if resp.status == 200:
            # The server ignored Range and sent the whole file: keep it, it is the download.
            self._store_body(link, resp.body)
            return None
        total = _content_range_total(resp.headers.get("content-range"))
        if resp.status != 206 or total is None:
            return None

        def read(start: int, end: int) -> bytes:
            part = self.http.get(link.url.secret(), {"Range": f"bytes={start}-{end}"}, ok=(206,),
                                 what="file")
            if len(part.body) != end - start + 1:
                raise MetadataError("a range request returned the wrong number of bytes")
            return part.body

        return metadata_from_ranges(total, resp.body, read)

    # -- files -------------------------------------------------------------------
    def download(self, link: FileLink, dest_dir: Path) -> Path:
        """Put the hash-checked file into ``dest_dir`` (from the cache when it has it)."""
        return place(self.fetch(link), dest_dir, link.filename)

    def fetch(self, link: FileLink, *, on_fetch: Callable[[Path], None] | None = None) -> Path:
        """The hash-checked file in the cache: once per run, and never again once the cache holds its hash.

        ``on_fetch`` gets the path the file is being written to when it is fetched now (not from
        the cache), so a caller can watch the download grow; a download a prefetch started counts.
        """
        key = _file_key(link)
        fut, mine = self._claim("file", key)
        while not mine:  # another thread fetches it (a prefetch): watch that download
            if on_fetch is not None:
                path = self._download_path(key, fut)
                if path is not None:
                    on_fetch(path)
            try:
                return fut.result()  # type: ignore[return-value]
            except Stopped:  # a prefetch the plan did not need, and now something does
                fut, mine = self._claim_again("file", key, fut)

        def watch(path: Path) -> None:
            self._growing(key, path)
            if on_fetch is not None:
                on_fetch(path)

        stop = threading.Event()
        with self._lock:
            self._fetching.add(stop)
            if self._closed:
                stop.set()
        try:
            self._fill(fut, lambda: self._files.fetch(link, watch, stop=stop))
        finally:
            with self._lock:
                self._fetching.discard(stop)
                self._fetches_done.notify_all()
        return fut.result()  # type: ignore[return-value]

    def prefetch_file(self, link: FileLink) -> Future[object] | None:
        """Start fetching ``link`` into the cache in the background, if it is not there; returns at once.

        Only files of an index with a hash are taken (a local file needs no fetch). A ``fetch``
        of the same file later in the run waits for this one instead of starting its own. The
        download stops when the client closes (the run ended, or failed, without it): its bytes
        stay in the cache's partial files, and the next download of the file resumes from them.
        Returns the future of the file's path in the cache, or None when nothing was started.
        """
        if (self.offline or link.url.scheme not in ("http", "https") or link.best_hash is None
                or self._files.cached(link) is not None):
            return None
        key = _file_key(link)
        fut, mine = self._claim("file", key)
        if not mine:
            return None
        stop = threading.Event()
        with self._lock:
            if self._files_pool is None and not self._closed:
                self._files_pool = ThreadPoolExecutor(max_workers=PREFETCH_WORKERS,
                                                      thread_name_prefix="jetpip-prefetch")
            pool = self._files_pool
            self._stops[key] = stop
        try:
            if pool is None:
                raise RuntimeError("the index client is closed")
            pool.submit(self._fill, fut, lambda: self._files.fetch(
                link, lambda path: self._growing(key, path), stop=stop))
        except RuntimeError as err:  # closed
            with contextlib.suppress(InvalidStateError):
                fut.set_exception(err)
        return fut

    def drop_prefetches(self, keep: Iterable[FileLink]) -> None:
        """Stop the prefetches of every file but ``keep`` (the files the plan needs).

        A guess the resolution did not pin need not take the bandwidth from the plan's files;
        what it downloaded stays in the cache's partial files for a later run.
        """
        wanted = {_file_key(link) for link in keep}
        with self._lock:
            drop = [stop for key, stop in self._stops.items() if key not in wanted]
        for stop in drop:
            stop.set()

    def downloaded(self, link: FileLink) -> bool:
        """True when this run downloaded ``link`` (a prefetch, say), rather than finding it in the cache."""
        with self._grow:
            return _file_key(link) in self._downloads

    def cached(self, link: FileLink) -> Path | None:
        """The file in the cache by the link's hash, without fetching it; None when it is not there."""
        return self._files.cached(link)

    def _growing(self, key: object, path: Path) -> None:
        with self._grow:
            self._downloads[key] = path
            self._grow.notify_all()

    def _download_path(self, key: object, fut: Future[object]) -> Path | None:
        """Where this run downloads (or downloaded) the file of ``key``; None: it came from the cache."""
        with self._grow:
            while key not in self._downloads and not fut.done():
                self._grow.wait(timeout=0.05)
            return self._downloads.get(key)

    def _store_body(self, link: FileLink, body: bytes) -> None:
        path = self._files.store(link, body)
        fut, mine = self._claim("file", _file_key(link))
        if mine:
            fut.set_result(path)


def _file_key(link: FileLink) -> object:
    """What makes two links the same file: its hash where the index gives one, else its URL sans password."""
    best = link.best_hash
    return best if best is not None else link.url.without_credentials()


def _content_range_total(value: str | None) -> int | None:
    if not value or "/" not in value:
        return None
    total = value.rsplit("/", 1)[1].strip()
    return int(total) if total.isdigit() else None

