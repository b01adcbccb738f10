"""Index files: fetched into the cache by hash, resumed when cut short, checked before use."""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from jetpip.errors import HashMismatchError, OfflineMissError, UntrustedFileError
from jetpip.index.cache import CHUNK, Cache, Partial, file_hash
from jetpip.index.config import IndexConfig
from jetpip.index.local import local_path
from jetpip.model.links import HASH_NAMES, FileLink
from jetpip.model.urls import Url
from jetpip.report import Reporter

if TYPE_CHECKING:  # loaded by the first request: a warm run needs no HTTP
    from jetpip.index.transport import Http

_REUPLOAD_NOTE = (
    " This is a Jetson index, which is known to re-upload files under the same name:"
    " the file probably changed after its hash was recorded."
)


class Stopped(Exception):
    """A download given up part way, because the run no longer needs the file (a prefetch, say)."""


class FileFetcher:
    """Brings index files into the cache, hash-checked; the index client runs it once per file per run."""

    def __init__(self, cache: Cache, config: IndexConfig, reporter: Reporter, http: Callable[[], Http], *,
                 offline: bool) -> None:
        self.cache = cache
        self.config = config
        self.reporter = reporter
        self.offline = offline
        self._http = http  # started by the first request that needs it

    def cached(self, link: FileLink) -> Path | None:
        """The file in the cache by the link's hash; None when it is not there or the link has no hash."""
        best = link.best_hash
        return self.cache.wheel(*best) if best is not None else None

    def fetch(self, link: FileLink, on_fetch: Callable[[Path], None] | None = None,
              stop: threading.Event | None = None) -> Path:
        """The hash-checked file in the cache; fetched only when the cache does not hold its hash.

        A download raises Stopped once ``stop`` is set; the bytes it wrote so far stay, and the
        next download of the file resumes from them.
        """
        best = link.best_hash
        if best is not None:
            hit = self.cached(link)
            if hit is not None:
                return hit
        else:
            if not (link.source.trusted or self.config.is_trusted(link.url)):
                host = link.url.host or link.url.origin
                raise UntrustedFileError(
                    f"{link.filename} from {link.source.name} ({link.url}) has no hash "
                    "to check it against, and its source is not trusted",
                    f"if you trust {host}, pass --trusted-host {host} (or set trusted-host in pip.conf)",
                )
            self.reporter.warning(
                f"{link.filename} ({link.url}) has no published hash; accepted unchecked "
                f"because {link.source.name} is trusted"
            )
            known = self.cache.url_hash(cache_key(link.url))
            hit = self.cache.wheel("sha256", known) if known else None
            if hit is not None:
                return hit
        if self.offline:
            raise OfflineMissError(
                f"offline, and the cache has no copy of {link.filename} ({link.url})",
                "run once without --offline to fill the cache, or drop --offline",
            )
        if link.url.scheme == "file":
            src = local_path(link.url)
            fd, tmp = self.cache.temp_file()
            if on_fetch is not None:
                on_fetch(tmp)
            with os.fdopen(fd, "wb") as out, src.open("rb") as f:
                shutil.copyfileobj(f, out, CHUNK)
            return self._accept(link, tmp, None)
        plain = cache_key(link.url)
        # Filed by hash where there is one: the same file from another URL resumes too (it is checked).
        with self.cache.partial(f"{best[0]}:{best[1]}" if best else f"url\n{plain}") as part:
            if on_fetch is not None:
                on_fetch(part.path)
            kept = part.path.is_file() and part.path.stat().st_size > 0
            resumed = kept and (best is not None or part.validator(plain) is not None)
            try:
                return self._download(link, part, plain, stop)
            except HashMismatchError as err:
                if err.cut_short or not resumed:
                    raise
            return self._download(link, part, plain, stop)  # the kept bytes did not fit the rest: whole, once

    def store(self, link: FileLink, body: bytes) -> Path:
        """Keep ``body``, already fetched whole, as the hash-checked file of ``link``."""
        fd, tmp = self.cache.temp_file()
        with os.fdopen(fd, "wb") as out:
            out.write(body)
        try:
            return self._accept(link, tmp, None)
        finally:
            tmp.unlink(missing_ok=True)

    def _download(self, link: FileLink, part: Partial, plain: str, stop: threading.Event | None) -> Path:
        best = link.best_hash
        running = _RunningHash(best[0] if best is not None else "sha256")

        def take(offset: int, chunk: bytes) -> None:
            if stop is not None and stop.is_set():
                raise Stopped(link.filename)
            running.update(offset, chunk)

        try:
            short = self._http().download(
                link.url.secret(), part.path, what="file", validator=part.validator(plain),
                resume=best is not None, remember=lambda v: part.remember(plain, v), on_bytes=take,
            )
        finally:
            running.close()
        try:
            return self._accept(link, part.path, short, running.digest_of(part.path))
        except HashMismatchError:
            if short is None:
                part.discard()  # bytes that proved wrong are never resumed
            raise

    def _accept(self, link: FileLink, tmp: Path, short: tuple[int, int] | None,
                known: str | None = None) -> Path:
        """Check ``tmp`` (``known``: its hash, taken as it was written) and file it in the cache."""
        best = link.best_hash
        algo, expected = best if best is not None else ("sha256", None)
        actual = known or file_hash(tmp, algo)
        if short is not None or (expected is not None and actual != expected):
            hash_mismatch(link, link.url, algo, expected, actual, short, what="file")
        if expected is None:
            self.cache.store_url_hash(cache_key(link.url), actual)
        return self.cache.store_wheel(algo, actual, tmp)


class _RunningHash:
    """The hash of a file taken from its bytes as they are written, when they come in order.

    Hashing a big file after its download costs as long again as reading it (0.17 s for a 262 MB
    wheel). Here each piece is hashed as it comes, on the download's own thread. Once a file has
    grown past ``THREAD_AFTER``, a thread of its own hashes each further piece while the next one
    arrives (hashlib lets go of the interpreter lock). A small file is not worth that thread: a
    cold install of 45 wheels, 44 of them under 16 MiB, took 0.07 to 0.11 s less with them hashed
    on their download's thread. The 262 MB stand-in torch took 0.05 to 0.08 s more without it.
    Bytes that an earlier try left in the file are not seen here: that file is hashed from disk.
    """

    THREAD_AFTER = 16 * 1024 * 1024

    def __init__(self, algo: str) -> None:
        self.algo = algo
        self._restart()
        self._pieces: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=8)
        self._worker: threading.Thread | None = None

    def _restart(self) -> None:
        self._hash = hashlib.new(self.algo)
        self._seen = 0
        self._whole = True

    def update(self, offset: int, chunk: bytes) -> None:
        """Take ``chunk``, written at ``offset``."""
        if self._worker is None and offset == self._seen and offset >= self.THREAD_AFTER:
            self._worker = threading.Thread(target=self._work, name="jetpip-hash", daemon=True)
            self._worker.start()
        if self._worker is None:
            self._take(offset, chunk)
        else:
            self._pieces.put((offset, chunk))

    def _take(self, offset: int, chunk: bytes) -> None:
        if offset == 0:  # the file is written from its start (again, after a server ignored a range)
            self._restart()
        if offset != self._seen:
            self._whole = False
            return
        self._hash.update(chunk)
        self._seen += len(chunk)

    def _work(self) -> None:
        while (piece := self._pieces.get()) is not None:
            self._take(*piece)

    def close(self) -> None:
        """Wait until every piece taken so far is hashed."""
        if self._worker is not None:
            self._pieces.put(None)
            self._worker.join()
            self._worker = None

    def digest_of(self, path: Path) -> str | None:
        """The hex digest of ``path`` if every byte in it went through ``update``; else None."""
        self.close()
        try:
            size = path.stat().st_size
        except OSError:
            return None
        return self._hash.hexdigest() if self._whole and self._seen == size else None


def place(cached: Path, dest_dir: Path, filename: str) -> Path:
    """Put the cached file into ``dest_dir`` as ``filename``: a hard link where the filesystem allows."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / filename
    if dest.exists() and os.path.samefile(dest, cached):
        return dest
    tmp = dest.with_name(f".{dest.name}.part")
    tmp.unlink(missing_ok=True)
    try:
        os.link(cached, tmp)
    except OSError:
        shutil.copyfile(cached, tmp)
    os.replace(tmp, dest)
    return dest


def verify_bytes(link: FileLink, data: bytes, hashes: Mapping[str, str], *, what: str, url: Url) -> None:
    """Raise HashMismatchError unless ``data`` has the strongest of the advertised ``hashes``."""
    for algo in HASH_NAMES:  # the strongest advertised hash decides
        if algo in hashes:
            actual = hashlib.new(algo, data).hexdigest()
            if actual != hashes[algo]:
                hash_mismatch(link, url, algo, hashes[algo], actual, None, what=what)
            return


def hash_mismatch(link: FileLink, url: Url, algo: str, expected: str | None, actual: str,
                  short: tuple[int, int] | None, *, what: str) -> NoReturn:
    """Raise the error for a file that does not match its hash, or that was cut ``short`` (got, total)."""
    note = _REUPLOAD_NOTE if link.source.jetson and not short else ""
    head = (f"the {what} {url} was cut short: {short[0]} of {short[1]} bytes arrived (kept: the next "
            "try resumes from there)" if short else f"the {what} {url} does not match its hash")
    err = HashMismatchError(
        f"{head}\n"
        f"  expected {algo}: {expected or '(unknown)'}\n  actual   {algo}: {actual}{note}",
        "run again to retry the download; if it keeps failing, refresh the index page with "
        "--refresh (and re-lock if a lock recorded the old hash)",
    )
    err.cut_short, err.actual = short is not None, actual
    raise err


def cache_key(url: Url) -> str:
    """The text the cache files ``url`` under: credentials change who asks, not what is there."""
    return str(url.without_credentials())
