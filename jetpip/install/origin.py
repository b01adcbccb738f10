"""Where an installed distribution came from: its direct_url.json names the locked URL and hash.

The engines install local files, so they record a ``file:`` URL in the temporary plan directory.
jetpip writes the record pip writes for an install from a URL instead (PEP 610: the file's URL
and its hash), the same for both engines, so doctor, the re-assert step and the no-op check know
the index and file each distribution came from. The RECORD line of the file is kept true.
"""

from __future__ import annotations

import base64
import csv
import errno
import hashlib
import io
import json
import os
import posixpath
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from jetpip.model.target import InstalledDist
from jetpip.model.urls import Url

if TYPE_CHECKING:
    from jetpip.lock.pylock import LockedPackage

DIRECT_URL = "direct_url.json"

#: Why a distribution installed from the locked file name is replaced: the index swapped the file.
REUPLOADED = "same file name, different hash (re-uploaded upstream)"

# Files an installer writes or rewrites itself: they never match the wheel's own RECORD line.
_INSTALLER_FILES = frozenset({"RECORD", "INSTALLER", "REQUESTED", DIRECT_URL})


def origin_document(pkg: LockedPackage) -> dict[str, object]:
    """The direct_url.json of ``pkg`` installed from its locked URL (credentials never written)."""
    ref = pkg.project
    if ref is not None and ref.kind == "directory":  # PEP 610, as pip records a local project
        return {"url": Path(ref.location).as_uri(), "dir_info": {"editable": ref.editable}}
    if ref is not None:
        vcs = {"vcs": ref.vcs or "git", "commit_id": ref.commit or ""}
        vcs |= {"requested_revision": ref.revision} if ref.revision else {}
        sub = {"subdirectory": ref.subdirectory} if ref.subdirectory else {}
        return {"url": ref.public_url(), "vcs_info": vcs, **sub}
    archive: dict[str, object] = {}
    if pkg.sha256:
        archive = {"hash": f"sha256={pkg.sha256}", "hashes": {"sha256": pkg.sha256}}
    return {"url": str(Url(pkg.url).without_credentials()), "archive_info": archive}


def record_origins(handed: Iterable[tuple[LockedPackage, str]],
                   installed: Iterable[InstalledDist]) -> list[str]:
    """Rewrite direct_url.json of each package that an engine installed from the local file handed to it.

    ``handed`` pairs each package with the file the plan gave the engine (the fetched wheel, or
    the wheel built from its sdist). Only a distribution whose record names its own file is
    rewritten: anything else installed it. A pip before 20.1 writes no record at all; then the
    distribution is recorded only when its RECORD lists the files of that wheel, hash for hash.
    Returns the names rewritten.
    """
    by_name = {d.name: d for d in installed if not d.in_system_site}
    done = []
    for pkg, wheel in handed:
        dist = by_name.get(pkg.name)
        if dist is None:
            continue
        if dist.direct_url is None:
            ours = wheel.endswith(".whl") and record_matches(Path(dist.location), Path(wheel)) is True
        else:
            ours = dist.direct_url.startswith("file:") and \
                os.path.realpath(unquote(urlsplit(dist.direct_url).path)) == os.path.realpath(wheel)
        if not ours:
            continue
        write_origin(Path(dist.location), origin_document(pkg))
        done.append(pkg.name)
    return done


def file_mismatch(pkg: LockedPackage, dist: InstalledDist, wheel: Path | None = None) -> str | None:
    """Why the installed ``dist`` is not ``pkg``'s locked file by hash, or None when it is or none can tell.

    The hash comes from the provenance record (direct_url.json's ``archive_info``, which jetpip
    writes for every file it installs, and pip writes for a URL install). Without one, the
    dist's RECORD is compared with the RECORD of the locked ``wheel``, when that file is on disk.
    """
    if not pkg.sha256:
        return None
    if dist.archive_sha256:
        if dist.archive_sha256 == pkg.sha256.lower():
            return None
        got = _url_filename(dist.direct_url) if dist.direct_url else pkg.filename
        if got == pkg.filename:
            return REUPLOADED
        if not pkg.filename.endswith(".whl"):
            return None  # built from the locked sdist: the record may name the wheel built from it
        return f"installed from {got}, not {pkg.filename}"
    if wheel is not None and record_matches(Path(dist.location), wheel) is False:
        return f"its files differ from those of {pkg.filename} (by RECORD)"
    # No record says which file it came from (a plain index install, the wheel not at hand): the
    # name, version and WHEEL tags decide, as pip's "already satisfied" does.
    return None


def record_matches(dist_info: Path, wheel: Path) -> bool | None:
    """Whether every file the ``wheel`` installs is in ``dist_info``'s RECORD with the same hash.

    None when either RECORD cannot be read. Files the installer rewrites (``.data`` scripts,
    the dist-info's own bookkeeping) are not compared.
    """
    import zipfile

    try:
        installed = _record_hashes(dist_info.joinpath("RECORD").read_text(encoding="utf-8"))
        with zipfile.ZipFile(wheel) as zf:
            inside = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD") and n.count("/") == 1]
            if not inside:
                return None
            shipped = _record_hashes(zf.read(inside[0]).decode("utf-8"))
    except (OSError, UnicodeDecodeError, zipfile.BadZipFile):
        return None
    for path, digest in shipped.items():
        top, _, rest = path.partition("/")
        if top.endswith(".data") or (top.endswith(".dist-info") and rest in _INSTALLER_FILES):
            continue
        if installed.get(path) != digest:
            return False
    return True


def _record_hashes(text: str) -> dict[str, str]:
    rows = csv.reader(io.StringIO(text))
    return {row[0].replace(os.sep, "/"): row[1] for row in rows if len(row) >= 2 and row[1]}


def _url_filename(url: str) -> str:
    return unquote(posixpath.basename(urlsplit(url).path))


def write_origin(dist_info: Path, document: dict[str, object]) -> None:
    """Replace the dist-info's direct_url.json and its line in RECORD, each file written atomically.

    Where the engine has just written both files, they are overwritten in place, one write each
    (see ``_overwrite``); otherwise each is written beside and renamed over.
    """
    data = json.dumps(document, sort_keys=True).encode()
    entry = f"{dist_info.name}/{DIRECT_URL}"
    if _overwrite(dist_info, entry, data):
        return
    _replace(dist_info / DIRECT_URL, data)
    record = dist_info / "RECORD"
    if not record.is_file():
        return
    line = _record_row(entry, data)
    text = record.read_text(encoding="utf-8")
    fast = _replace_line(text, entry, ",".join(line))
    if fast is not None:
        _replace(record, fast.encode())
        return
    rows = [row for row in csv.reader(io.StringIO(text)) if row]
    for i, row in enumerate(rows):
        if row[0].replace(os.sep, "/") == entry:
            rows[i] = line
            break
    else:
        rows.append(line)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    _replace(record, out.getvalue().encode())


def _record_row(entry: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [entry, f"sha256={digest}", str(len(data))]


def _overwrite(dist_info: Path, entry: str, data: bytes) -> bool:
    """Write ``data`` over direct_url.json and its RECORD row in place, one write per file.

    Creating a file costs far more than writing into one (a new inode and a journal entry: about
    0.2 ms against 0.015 ms on ext4, and much more while the disk writes back a previous install).
    In place is as safe as a rename only where each file gets one write that leaves it whole, so
    this is done only when:

    - both files exist and are this dist-info's own (one link: never a file shared with a cache);
    - ``data`` fits in the disk blocks the engine's record already holds (a few hundred bytes
      in a block of 4 KiB, most often), so a full disk cannot cut the write short; where it is
      shorter than the record, it is padded with spaces to the record's length (JSON allows
      trailing white space);
    - ``_replace_line`` rewrites RECORD's row for it, and RECORD keeps its length.

    A run killed between the two writes leaves the row's hash stale, as a kill between two renames
    does. False (nothing written) when any condition fails: the caller renames instead.
    """
    flags = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0)
    try:
        url_fd = os.open(dist_info / DIRECT_URL, flags)
    except OSError:
        return False
    try:
        record_fd = os.open(dist_info / "RECORD", flags)
    except OSError:
        os.close(url_fd)
        return False
    try:
        url_stat, record_stat = os.fstat(url_fd), os.fstat(record_fd)
        room = max(url_stat.st_size, getattr(url_stat, "st_blocks", 0) * 512)
        if url_stat.st_nlink != 1 or record_stat.st_nlink != 1 or len(data) > room:
            return False
        old = _read_all(record_fd, record_stat.st_size)
        # One row per line with nothing for _replace_line to tidy: then the same length means
        # the same bytes but for the one row.
        if old is None or not old.endswith(b"\n") or b"\n\n" in old or old.startswith(b"\n"):
            return False
        try:
            text = old.decode("utf-8")
        except UnicodeDecodeError:
            return False
        padded = data.ljust(url_stat.st_size, b" ")
        new = _replace_line(text, entry, ",".join(_record_row(entry, padded)))
        if new is None or len(new.encode()) != len(old):
            return False
        _write_at(url_fd, padded, 0, dist_info / DIRECT_URL)
        # A write cut short anywhere leaves at most that row half new: stale, as a kill between
        # the two writes leaves it.
        _write_at(record_fd, new.encode(), 0, dist_info / "RECORD")
        return True
    finally:
        os.close(url_fd)
        os.close(record_fd)


def _read_all(fd: int, size: int) -> bytes | None:
    """The file's ``size`` bytes, or None when it holds more or fewer (it changed meanwhile)."""
    chunks = []
    while True:
        chunk = os.read(fd, size + 1)
        if not chunk:
            break
        chunks.append(chunk)
    data = b"".join(chunks)
    return data if len(data) == size else None


def _write_at(fd: int, data: bytes, offset: int, path: Path) -> None:
    os.lseek(fd, offset, os.SEEK_SET)
    if os.write(fd, data) != len(data):  # within the file's own bytes: only a failing disk does this
        raise OSError(errno.EIO, "short write", str(path))


def _replace_line(text: str, entry: str, line: str) -> str | None:
    """RECORD ``text`` with the row of ``entry`` set to ``line``, as the CSV writer would write it.

    None when a row may be quoted or written with another separator: then only a CSV reader can
    tell the rows apart. (Reading and writing every row of a big RECORD, 2,900 for transformers,
    through csv was most of the time spent recording origins.)
    """
    if any(c in text for c in '"\r\\') or any(c in entry for c in ',"'):
        return None
    rows = [row for row in text.split("\n") if row]
    head = entry + ","
    for i, row in enumerate(rows):
        if row.startswith(head):
            rows[i] = line
            break
    else:
        rows.append(line)
    return "\n".join(rows) + "\n"


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.jetpip")
    tmp.write_bytes(data)
    os.replace(tmp, path)
