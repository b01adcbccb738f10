"""Where an installed distribution came from: its direct_url.json names the locked URL and hash.

The engines install local files, so they record a ``file:`` URL in the temporary plan directory.
jetpip writes the record pip writes for an install from a URL instead (PEP 610: the file's URL
and its hash), the same for both engines, so doctor, the re-assert step and the no-op check know
the index and file each distribution came from. The RECORD line of the file is kept true.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from jetpip.model.target import InstalledDist
from jetpip.model.urls import Url

if TYPE_CHECKING:
    from jetpip.lock.pylock import LockedPackage

DIRECT_URL = "direct_url.json"


def origin_document(pkg: LockedPackage) -> dict[str, object]:
    """The direct_url.json of ``pkg`` installed from its locked URL (credentials never written)."""
    archive: dict[str, object] = {}
    if pkg.sha256:
        archive = {"hash": f"sha256={pkg.sha256}", "hashes": {"sha256": pkg.sha256}}
    return {"url": str(Url(pkg.url).without_credentials()), "archive_info": archive}


def record_origins(packages: Iterable[LockedPackage], installed: Iterable[InstalledDist],
                   local: Iterable[str]) -> list[str]:
    """Rewrite direct_url.json of each of ``packages`` that an engine installed from a local file.

    Only a distribution whose record names one of the ``local`` paths the plan handed the engine
    is rewritten: anything else installed it. Returns the names rewritten.
    """
    paths = {os.path.realpath(p) for p in local} | {os.path.abspath(p) for p in local}
    by_name = {d.name: d for d in installed if not d.in_system_site}
    done = []
    for pkg in packages:
        dist = by_name.get(pkg.name)
        if dist is None or not dist.direct_url or not dist.direct_url.startswith("file:"):
            continue
        path = unquote(urlsplit(dist.direct_url).path)
        if path not in paths and os.path.realpath(path) not in paths:
            continue
        write_origin(Path(dist.location), origin_document(pkg))
        done.append(pkg.name)
    return done


def write_origin(dist_info: Path, document: dict[str, object]) -> None:
    """Replace the dist-info's direct_url.json and its line in RECORD, each file written atomically."""
    data = json.dumps(document, sort_keys=True).encode()
    _replace(dist_info / DIRECT_URL, data)
    record = dist_info / "RECORD"
    if not record.is_file():
        return
    entry = f"{dist_info.name}/{DIRECT_URL}"
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = [row for row in csv.reader(io.StringIO(record.read_text(encoding="utf-8"))) if row]
    line = [entry, f"sha256={digest}", str(len(data))]
    for i, row in enumerate(rows):
        if row[0].replace(os.sep, "/") == entry:
            rows[i] = line
            break
    else:
        rows.append(line)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    _replace(record, out.getvalue().encode())


def _replace(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.jetpip")
    tmp.write_bytes(data)
    os.replace(tmp, path)
