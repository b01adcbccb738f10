"""The big CUDA stand-in: a torch wheel of about 250 MB of incompressible bytes, and a mirror that serves it.

A real Jetson torch wheel is hundreds of megabytes, most of it CUDA kernels that barely compress. The
stand-in has the small stand-in's name, version, tags and requirements, plus one file of random
bytes, so its download and unpacking cost what a real one's do. It is built once into
``bench/.cache/big/`` (never committed) and reused; delete it to build a new one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zipfile
from dataclasses import replace
from pathlib import Path

from packaging.utils import canonicalize_name

from bench.mirror import DEVPI, Mirror, stand_in_specs, wheel_metadata
from bench.pages import PageFile, page_of
from tests.support.wheels import metadata_text

SIZE_MB = 250
CHUNK = 1 << 20
# Incompressible, but stored deflated as wheels are: every tool inflates it, as it would a real .so.
COMPRESS_LEVEL = 1
REQUIREMENT = "torch==2.8.0"


def ensure_big_torch(dest: Path, size_mb: int = SIZE_MB) -> tuple[Path, str, int]:
    """The big torch wheel in ``dest``, built unless already there: (path, sha256, size in bytes)."""
    spec = next(s for s in stand_in_specs() if s.name == "torch")
    path = dest / f"torch-{spec.version}-{spec.tag}.whl"
    facts = dest / "torch.json"  # the hash, so later runs need not read 250 MB to learn it
    if path.is_file() and facts.is_file():
        known = json.loads(facts.read_text())
        if known.get("size") == path.stat().st_size and known.get("size_mb") == size_mb:
            return path, known["sha256"], known["size"]
    dest.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(".part")
    dist_info = f"torch-{spec.version}.dist-info"
    small = {
        "torch/__init__.py": f"__version__ = {spec.version!r}\nBUILD = 'jetson'\n".encode(),
        "torch/_jetpip_build": b"jetson",
        f"{dist_info}/METADATA": metadata_text(spec).encode(),
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: jetpip-bench\nRoot-Is-Purelib: false\n"
            f"Tag: {spec.tag}\n"
        ).encode(),
    }
    record = [_record_line(name, hashlib.sha256(data).digest(), len(data)) for name, data in small.items()]
    with zipfile.ZipFile(part, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as zf:
        for name, data in small.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), data,
                        compress_type=zipfile.ZIP_DEFLATED)
        blob = "torch/lib/libtorch_cuda.so"
        info = zipfile.ZipInfo(blob, date_time=(2024, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        digest = hashlib.sha256()
        with zf.open(info, "w", force_zip64=True) as out:
            for _ in range(size_mb):
                chunk = os.urandom(CHUNK)
                digest.update(chunk)
                out.write(chunk)
        record.append(_record_line(blob, digest.digest(), size_mb * CHUNK))
        record.append(f"{dist_info}/RECORD,,")
        zf.writestr(zipfile.ZipInfo(f"{dist_info}/RECORD", date_time=(2024, 1, 1, 0, 0, 0)),
                    "\n".join(record) + "\n", compress_type=zipfile.ZIP_DEFLATED)
    os.replace(part, path)
    sha = _file_sha256(path)
    size = path.stat().st_size
    facts.write_text(json.dumps({"sha256": sha, "size": size, "size_mb": size_mb}) + "\n")
    return path, sha, size


def with_big_torch(mirror: Mirror, dest: Path) -> tuple[Mirror, int]:
    """A copy of ``mirror`` whose guarded torch is the big stand-in; the rest is shared, not copied."""
    path, sha, size = ensure_big_torch(dest)
    url = f"{DEVPI}/+f/{sha[:3]}/{sha[3:16]}/{path.name}"
    meta = wheel_metadata(path)
    big = replace(mirror, pages=dict(mirror.pages), blobs=dict(mirror.blobs))
    big.blobs[url] = path  # served from a shared map of the file, never read whole (mirror.mapped)
    big.blobs[url + ".metadata"] = meta
    row = PageFile(filename=path.name, url=url, sha256=sha, size=size,
                   core_metadata=hashlib.sha256(meta).hexdigest(), upload_time="2025-01-08T01:49:37Z")
    big.publish([f"{DEVPI}/+simple"], page_of(canonicalize_name("torch"), [row]))
    return big, size


def _record_line(path: str, digest: bytes, size: int) -> str:
    encoded = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return f"{path},sha256={encoded},{size}"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()
