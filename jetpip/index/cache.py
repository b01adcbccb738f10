"""The on-disk cache: index pages with validators, metadata and wheels by hash; atomic, self-checking."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import mmap
import os
import re
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path

# Bump when the layout changes; old trees are ignored (and removed by `jetpip cache clean`).
CACHE_FORMAT = 2
CHUNK = 1 << 20  # read and write files in pieces of this size


def default_cache_dir() -> Path:
    """The platformdirs user cache directory of jetpip (JETPIP_CACHE_DIR wins)."""
    override = os.environ.get("JETPIP_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("jetpip", appauthor=False))


@dataclass(frozen=True)
class CachedPage:
    """A page as last seen: the body and what is needed to revalidate it."""

    url: str  # redacted
    status: int  # 200, or 404 for "no such project here"
    content_type: str
    body: bytes | memoryview  # a memoryview over the cached file when the body is checked in parts
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: float = 0.0
    max_age: int | None = None
    devpi: bool = False  # the answer came from a devpi server (X-Devpi-* headers)
    # Only this many leading bytes of the body are covered by the record's hash; the owner of the
    # body checks the rest piece by piece (a page scan: each version's rows carry their own check).
    checked: int | None = None

    def is_fresh(self, now: float | None = None) -> bool:
        """True while Cache-Control max-age says the page needs no revalidation."""
        if self.max_age is None:
            return False
        return ((now if now is not None else time.time()) - self.fetched_at) < self.max_age


def parse_max_age(cache_control: str | None) -> int | None:
    """The max-age of a Cache-Control header; 0 for no-cache / no-store."""
    if not cache_control:
        return None
    value = cache_control.lower()
    if "no-cache" in value or "no-store" in value:
        return 0
    m = re.search(r"max-age\s*=\s*\"?(\d+)", value)
    return int(m[1]) if m else None


def _header(line: bytes) -> dict[str, object] | None:
    try:
        header = json.loads(line)
    except ValueError:
        return None
    return header if isinstance(header, dict) else None


def _key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _stamp(st: os.stat_result) -> str:
    """What identifies one state of a file: rewritten or replaced, it has another stamp."""
    return f"{st.st_ino} {st.st_size} {st.st_mtime_ns}"


def file_hash(path: Path, algo: str) -> str:
    """Hex digest of a file, read in chunks."""
    h = hashlib.new(algo)
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class Partial:
    """A download in progress: its bytes so far, and the validator of the answer they came from."""

    def __init__(self, path: Path, meta_fd: int | None) -> None:
        self.path = path
        self._fd = meta_fd  # the held record; None for a private file nobody resumes

    def validator(self, url: str) -> str | None:
        """The ETag or Last-Modified the bytes so far were sent with, if they came from ``url``."""
        if self._fd is None:
            return None
        size = os.fstat(self._fd).st_size
        try:
            record = json.loads(os.pread(self._fd, size, 0) or b"{}")
        except ValueError:
            return None
        if not isinstance(record, dict) or record.get("url") != url:
            return None
        value = record.get("validator")
        return value if isinstance(value, str) else None

    def remember(self, url: str, validator: str | None) -> None:
        """Record where the bytes being written come from, before they are written."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, json.dumps({"url": url, "validator": validator}).encode(), 0)

    def discard(self) -> None:
        """Forget the bytes so far (they proved wrong)."""
        self.path.unlink(missing_ok=True)
        self.remember("", None)


class Cache:
    """A format-versioned cache tree; every read is checked, a corrupt entry reads as missing."""

    def __init__(self, root: Path) -> None:
        self.base = root
        self.root = root / f"v{CACHE_FORMAT}"

    # -- generic records (header + checked body) --------------------------------
    def _write_record(
        self, path: Path, header: dict[str, object], body: bytes | memoryview, checked: int | None = None
    ) -> None:
        covered = body if checked is None else body[:checked]
        header = dict(header, body_sha256=hashlib.sha256(covered).hexdigest(), body_size=len(body))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(json.dumps(header).encode() + b"\n")
                f.write(body)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _read_record(self, path: Path) -> tuple[dict[str, object], bytes | memoryview] | None:
        try:
            with path.open("rb") as f:
                head = f.readline()
                header = _header(head)
                checked = header.get("checked") if header is not None else None
                if isinstance(checked, int) and header is not None:
                    # Checked in parts: map the file and hash only the part the header covers.
                    # The mapping stays valid if another run replaces the file meanwhile.
                    mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
                    body: bytes | memoryview = memoryview(mapped)[len(head):]
                    covered = body[:checked]
                else:
                    body = covered = f.read()
        except (OSError, ValueError):
            return None
        if (
            header is None
            or header.get("body_size") != len(body)
            or header.get("body_sha256") != hashlib.sha256(covered).hexdigest()
        ):
            path.unlink(missing_ok=True)  # corrupt: forget it so the caller fetches again
            return None
        return header, body

    # -- pages -------------------------------------------------------------------
    def _page_path(self, url: str, form: str) -> Path:
        k = _key(f"{form}\n{url}")
        return self.root / "pages" / k[:2] / k

    def page(self, url: str, form: str) -> CachedPage | None:
        """The cached page of ``url`` fetched as ``form`` ('simple' or 'flat'), if intact."""
        rec = self._read_record(self._page_path(url, form))
        if rec is None:
            return None
        header, body = rec
        try:
            return CachedPage(
                url=str(header["url"]), status=int(header["status"]),  # type: ignore[call-overload]
                content_type=str(header["content_type"]), body=body,
                etag=header.get("etag"),  # type: ignore[arg-type]
                last_modified=header.get("last_modified"),  # type: ignore[arg-type]
                fetched_at=float(header["fetched_at"]),  # type: ignore[arg-type]
                max_age=header.get("max_age"),  # type: ignore[arg-type]
                devpi=bool(header.get("devpi", False)),
                checked=header.get("checked"),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError):
            return None

    def store_page(self, url: str, form: str, page: CachedPage) -> None:
        """Keep ``page`` for ``url``."""
        header = {f.name: getattr(page, f.name) for f in fields(page) if f.name != "body"}
        if page.checked is None:
            del header["checked"]
        self._write_record(self._page_path(url, form), header, page.body, page.checked)

    def drop_page(self, url: str, form: str) -> None:
        """Forget the cached page of ``url`` (found damaged)."""
        self._page_path(url, form).unlink(missing_ok=True)

    # -- metadata ----------------------------------------------------------------
    def _meta_path(self, key: str) -> Path:
        k = _key(key)
        return self.root / "metadata" / k[:2] / k

    def metadata(self, keys: list[str]) -> bytes | None:
        """Cached metadata under the first of ``keys`` present (keys name hashes or URLs)."""
        for key in keys:
            rec = self._read_record(self._meta_path(key))
            if rec is not None:
                return bytes(rec[1])
        return None

    def store_metadata(self, keys: list[str], data: bytes) -> None:
        """Keep metadata under each key."""
        for key in keys:
            self._write_record(self._meta_path(key), {"key": key.split("\n")[0]}, data)

    # -- wheels ------------------------------------------------------------------
    def _wheel_path(self, algo: str, digest: str) -> Path:
        return self.root / "wheels" / algo / digest[:2] / digest

    def _checked_path(self, algo: str, digest: str) -> Path:
        return self.root / "checked" / algo / digest[:2] / digest

    def wheel(self, algo: str, digest: str) -> Path | None:
        """The cached file with this hash; a corrupt one is dropped.

        It is hashed again unless it is the very file last found whole (same inode, size and
        modification time): hashing every file of a warm install again took 40 ms for the 45
        files of the bench closure, and 0.17 s for a 262 MB wheel, on every run.
        """
        path = self._wheel_path(algo, digest)
        try:
            st = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        mark = self._checked_path(algo, digest)
        try:
            if mark.read_text(encoding="ascii") == _stamp(st):
                return path
        except (OSError, UnicodeDecodeError):
            pass
        if file_hash(path, algo) != digest:
            path.unlink(missing_ok=True)
            mark.unlink(missing_ok=True)
            return None
        self._mark_checked(mark, st)
        return path

    def store_wheel(self, algo: str, digest: str, src: Path) -> Path:
        """Move ``src`` (already verified) into the cache; return its cached path."""
        path = self._wheel_path(algo, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, path)
        self._mark_checked(self._checked_path(algo, digest), path.stat())
        return path

    @staticmethod
    def _mark_checked(mark: Path, st: os.stat_result) -> None:
        # A torn or missing mark only costs one more hash of the file.
        with contextlib.suppress(OSError):
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.write_text(_stamp(st), encoding="ascii")

    def temp_file(self) -> tuple[int, Path]:
        """An open temporary file on the cache's filesystem, for a download in progress."""
        d = self.root / "tmp"
        d.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=d, prefix="dl-")
        return fd, Path(name)

    @contextlib.contextmanager
    def partial(self, key: str) -> Iterator[Partial]:
        """The partial download filed under ``key``, held by this process until the block ends.

        Its path stays the same from run to run, so a download cut short is resumed by the next
        one. Another process downloading the same file holds it meanwhile: this one then gets a
        private file that starts empty. A finished download moves the file away; what is left of
        the record then goes too.
        """
        d = self.root / "partial"
        d.mkdir(parents=True, exist_ok=True)
        k = _key(key)
        meta = d / f"{k}.json"
        fd = os.open(meta, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Locked, but perhaps a file another run has just finished with and removed.
                held = os.fstat(fd).st_ino == os.stat(meta).st_ino
            except OSError:
                held = False
            if not held:
                tmp_fd, tmp = self.temp_file()
                os.close(tmp_fd)
                try:
                    yield Partial(tmp, None)
                finally:
                    tmp.unlink(missing_ok=True)
                return
            part = Partial(d / k, fd)
            try:
                yield part
            finally:
                if not part.path.exists():
                    meta.unlink(missing_ok=True)
        finally:
            os.close(fd)  # releases the lock

    def url_hash(self, url: str) -> str | None:
        """The sha256 a hashless file at ``url`` had when last downloaded."""
        rec = self._read_record(self.root / "urls" / _key(url))
        return bytes(rec[1]).decode() if rec else None

    def store_url_hash(self, url: str, sha256: str) -> None:
        """Remember the sha256 of a hashless file."""
        self._write_record(self.root / "urls" / _key(url), {}, sha256.encode())

    # -- maintenance ---------------------------------------------------------------
    def _files(self) -> Iterator[Path]:
        if self.base.is_dir():
            yield from (p for p in self.base.rglob("*") if p.is_file())

    def info(self) -> dict[str, tuple[int, int]]:
        """(entries, bytes) per kind: pages, metadata, wheels, other."""
        out: dict[str, tuple[int, int]] = {}
        for p in self._files():
            rel = p.relative_to(self.base).parts
            kind = rel[1] if len(rel) > 2 and rel[0] == self.root.name else "other"
            if kind not in ("pages", "metadata", "wheels"):
                kind = "other"
            n, size = out.get(kind, (0, 0))
            out[kind] = (n + 1, size + p.stat().st_size)
        return out

    def clean(self) -> int:
        """Remove everything; return the bytes freed."""
        freed = sum(p.stat().st_size for p in self._files())
        if self.base.is_dir():
            shutil.rmtree(self.base)
        return freed
