"""The corpus mirror: recorded real pages and metadata, stand-in CUDA wheels and sdists, served on 127.0.0.1.

Layout, for one target:
  /simple/<name>/                 the recorded real page (its files answer 404, their metadata 200)
  /files/<sha256>/<filename>      a stand-in sdist built from the recorded PKG-INFO (sdists only)
  <jetson prefix>/+simple/<name>/ the stand-in CUDA builds (devpi layout), the only Jetson source
A route's other sources are served empty: a flat page with no links, a simple index with no projects.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from bench.mirror import Mirror, MirrorServer
from bench.pages import PageFile, page_of
from tests.support.corpus import TARGETS, CorpusTarget, Project, Row
from tests.support.wheels import build_wheel

_EMPTY_FLAT = b"<html><body><h1>Index of pytorch/</h1><pre></pre></body></html>"

# An in-tree build backend: the stand-in sdist builds a wheel holding the recorded metadata only.
_BACKEND = '''"""A stand-in build backend: the metadata of the real sdist, no code."""
import base64, hashlib, os, zipfile

def _meta():
    # What the real backend prepares (BUILT-METADATA, when PKG-INFO is not static), else PKG-INFO;
    # an empty BUILT-METADATA: the real backend fails.
    path = "BUILT-METADATA" if os.path.exists("BUILT-METADATA") else "PKG-INFO"
    with open(path, "rb") as f:
        data = f.read()
    if not data:
        raise RuntimeError("this project's build backend fails here (as the real one did when recorded)")
    return data

def _names():
    name = version = ""
    for line in _meta().decode().splitlines():
        if line.startswith("Name: "):
            name = line[6:].strip().replace("-", "_").replace(".", "_").lower()
        elif line.startswith("Version: "):
            version = line[9:].strip()
    return name, version

def get_requires_for_build_wheel(config_settings=None):
    return []

def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    name, version = _names()
    info = os.path.join(metadata_directory, f"{name}-{version}.dist-info")
    os.makedirs(info, exist_ok=True)
    with open(os.path.join(info, "METADATA"), "wb") as f:
        f.write(_meta())
    return os.path.basename(info)

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = _names()
    info = f"{name}-{version}.dist-info"
    wheel = b"Wheel-Version: 1.0\\nGenerator: stand-in\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    files = {f"{info}/METADATA": _meta(), f"{info}/WHEEL": wheel}
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = ("\\n".join(record + [f"{info}/RECORD,,"]) + "\\n").encode()
    filename = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, filename), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return filename
'''

_PYPROJECT = b"""[build-system]
requires = []
build-backend = "standin_backend"
backend-path = ["."]
"""


def build_sdist(dest: Path, filename: str, pkg_info: str, built: str | None = None) -> Path:
    """A stand-in sdist named ``filename``: the recorded PKG-INFO and a backend that needs nothing and
    prepares ``built`` (what the real backend prepares; "": it fails), or PKG-INFO when ``built`` is None."""
    dest.mkdir(parents=True, exist_ok=True)
    top = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename.rsplit(".", 1)[0]
    members = {"PKG-INFO": pkg_info.encode(), "pyproject.toml": _PYPROJECT,
               "standin_backend.py": _BACKEND.encode()}
    if built is not None and built != pkg_info:
        members["BUILT-METADATA"] = built.encode()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o644
            tar.addfile(info, io.BytesIO(data))
    path = dest / (top + ".tar.gz")
    path.write_bytes(gzip.compress(raw.getvalue(), mtime=0))
    return path


def build_corpus_mirror(target: CorpusTarget, projects: Iterable[Project], workdir: Path) -> Mirror:
    """The mirror one target's locks read: the record on the base path, stand-ins on the Jetson path."""
    mirror = Mirror()
    names = []
    for project in projects:
        rows = [_row(mirror, project, r, workdir / "sdists") for r in project.rows]
        mirror.publish(["/simple"], page_of(project.name, [r for r in rows if r is not None]))
        names.append(project.name)
    stand_ins: dict[str, list[PageFile]] = {}
    for spec in target.stand_ins:
        built = build_wheel(workdir / "stand-ins" / target.key, spec)
        data = built.path.read_bytes()
        sha = hashlib.sha256(data).hexdigest()
        url = f"{target.jetson_prefix}/+f/{sha[:3]}/{sha[3:16]}/{quote(built.filename)}"
        mirror.blobs[url] = built.path
        mirror.blobs[url + ".metadata"] = built.metadata
        stand_ins.setdefault(built.name, []).append(PageFile(
            filename=built.filename, url=url, sha256=sha, size=len(data),
            requires_python=spec.requires_python, core_metadata=hashlib.sha256(built.metadata).hexdigest(),
            upload_time="2025-08-01T00:00:00Z"))
    for name, files in stand_ins.items():
        mirror.publish([f"{target.jetson_prefix}/+simple"], page_of(name, files))
    for source, kind in target.others.items():
        if kind == "flat":
            mirror.flat[f"/{source}/"] = _EMPTY_FLAT
    mirror.names = tuple(sorted(names))
    return mirror


def _row(mirror: Mirror, project: Project, row: Row, sdists: Path) -> PageFile | None:
    meta = project.metadata.get(row.filename)
    sha, core = row.sha256, None  # metadata the record lacks is not offered: a read of it fails plainly
    if meta is not None and row.filename.endswith(".whl"):
        body = meta.encode()
        core = hashlib.sha256(body).hexdigest()
        mirror.blobs[f"/files/{sha}/{row.filename}.metadata"] = body
    elif meta is not None:
        path = build_sdist(sdists, row.filename, meta, project.build_result(row.filename))
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        mirror.blobs[f"/files/{sha}/{row.filename}"] = path
        core = None
    return PageFile(filename=row.filename, url=f"/files/{sha}/{quote(row.filename)}", sha256=sha,
                    requires_python=row.requires_python, yanked=row.yanked, core_metadata=core)


def overlay_toml(target: CorpusTarget, base: str) -> str:
    """An indexes.toml layer that points the target's route at the served stand-ins and empty sources."""
    parts = ["format = 1\n", f"""
[sources.{target.jetson_source}]
name = "loopback {target.jetson_prefix.strip('/')}"
kind = "devpi"
url = "{base}{target.jetson_prefix}"
jetson = true
platforms = ["linux_aarch64"]
"""]
    for source, kind in target.others.items():
        url = f"{base}/{source}/" if kind == "flat" else f"{base}/{source}"
        jetson = "jetson = true\n" if kind == "flat" else ""
        parts.append(f"""
[sources.{source}]
name = "loopback {source} (empty)"
kind = "{kind}"
url = "{url}"
{jetson}platforms = ["linux_aarch64", "manylinux_2_28_aarch64"]
""")
    return "".join(parts)


def serve(mirror: Mirror) -> MirrorServer:
    """Start serving ``mirror`` on an ephemeral loopback port."""
    return MirrorServer(mirror).start()


@contextmanager
def target_mirrors(tmp_path_factory: pytest.TempPathFactory, projects: Iterable[Project],
                   prefix: str) -> Iterator[dict[str, tuple[MirrorServer, Path]]]:
    """Per target key, a started mirror of ``projects`` and its indexes.toml overlay; stopped on exit."""
    projects = list(projects)
    out: dict[str, tuple[MirrorServer, Path]] = {}
    try:
        for key, target in TARGETS.items():
            work = tmp_path_factory.mktemp(f"{prefix}-{key}")
            server = serve(build_corpus_mirror(target, projects, work))
            overlay = work / "indexes.toml"
            overlay.write_text(overlay_toml(target, server.url), encoding="utf-8")
            out[key] = (server, overlay)
        yield out
    finally:
        for server, _ in out.values():
            server.stop()
