"""Build real sdists at test time: a tiny project with its own in-tree PEP 517 backend, packed by hand.

The backend lives inside the project (``backend-path``), so preparing its metadata needs no
download; it can still name build requirements, which the test then serves from the loopback index.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

_BACKEND = '''\
"""A PEP 517 backend just big enough to prepare metadata (and log each hook it runs)."""
import pathlib

NAME = {name!r}
VERSION = {version!r}
REQUIRES = {requires!r}
BUILD_REQUIRES = {build_requires!r}
LOG = {log!r}
FROM_HELPER = {from_helper!r}


def _log(hook):
    if LOG:
        with open(LOG, "a") as f:
            f.write(hook + "\\n")


def get_requires_for_build_wheel(config_settings=None):
    _log("get_requires_for_build_wheel")
    return list(BUILD_REQUIRES)


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    import warnings

    _log("prepare_metadata_for_build_wheel")
    warnings.warn("a warning meant for the project's authors")  # as setuptools warns
    requires = list(REQUIRES)
    if FROM_HELPER:
        import build_helper  # installed into the build environment from the index
        requires.append(build_helper.DEPENDENCY)
    dist = NAME.replace("-", "_")
    folder = pathlib.Path(metadata_directory) / f"{{dist}}-{{VERSION}}.dist-info"
    folder.mkdir()
    lines = ["Metadata-Version: 2.1", f"Name: {{NAME}}", f"Version: {{VERSION}}"]
    lines += [f"Requires-Dist: {{r}}" for r in requires]
    (folder / "METADATA").write_text("\\n".join(lines) + "\\n\\n")
    return folder.name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("this stand-in backend only prepares metadata")
'''


@dataclass(frozen=True)
class BuiltSdist:
    path: Path
    name: str
    version: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def pkg_info_text(name: str, version: str, requires: Iterable[str] = (), *, metadata_version: str = "2.2",
                  dynamic: Sequence[str] = (), requires_python: str | None = None) -> str:
    lines = [f"Metadata-Version: {metadata_version}", f"Name: {name}", f"Version: {version}"]
    lines += [f"Dynamic: {field}" for field in dynamic]
    if requires_python:
        lines.append(f"Requires-Python: {requires_python}")
    lines += [f"Requires-Dist: {r}" for r in requires]
    return "\n".join(lines) + "\n\nA tiny project.\n"


def build_sdist(
    dest: Path, name: str, version: str, *, requires: Iterable[str] = (), static: bool = True,
    build_requires: Sequence[str] = (), from_helper: bool = False, log: Path | None = None,
    fmt: str = ".tar.gz", requires_python: str | None = None,
) -> BuiltSdist:
    """An sdist of ``name`` ``version``; ``static`` False marks Requires-Dist dynamic (PEP 643)."""
    dest.mkdir(parents=True, exist_ok=True)
    requires = list(requires)
    base = f"{canonicalize_name(name).replace('-', '_')}-{version}"
    pkg_info = pkg_info_text(
        name, version, requires if static else (), requires_python=requires_python,
        dynamic=() if static else ("Requires-Dist",),
    )
    backend = _BACKEND.format(name=name, version=version, requires=requires,
                              build_requires=list(build_requires), log=str(log) if log else "",
                              from_helper=from_helper)
    pyproject = (
        "[build-system]\nrequires = []\nbuild-backend = \"tinybackend\"\nbackend-path = [\"_backend\"]\n\n"
        f"[project]\nname = \"{name}\"\nversion = \"{version}\"\n"
        + ("" if static else "dynamic = [\"dependencies\"]\n")
    )
    members = {
        f"{base}/PKG-INFO": pkg_info,
        f"{base}/pyproject.toml": pyproject,
        f"{base}/_backend/tinybackend.py": backend,
        f"{base}/{base.split('-')[0]}/__init__.py": f"__version__ = {version!r}\n",
    }
    path = dest / f"{base}{fmt}"
    if fmt == ".zip":
        with zipfile.ZipFile(path, "w") as zf:
            for member, text in members.items():
                zf.writestr(zipfile.ZipInfo(member, date_time=(2024, 1, 1, 0, 0, 0)), text)
    else:
        with tarfile.open(path, "w:gz") as tf:
            for member, text in members.items():
                data = text.encode()
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), 1_704_067_200, 0o644
                tf.addfile(info, io.BytesIO(data))
    return BuiltSdist(path, name, version)
