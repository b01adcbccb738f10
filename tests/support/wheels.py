"""Build real, installable wheels at test time (nothing binary is committed)."""

from __future__ import annotations

import base64
import hashlib
import io
import sysconfig
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.utils import canonicalize_name


def host_platform_tag() -> str:
    """The platform tag of the machine the tests run on (``linux_x86_64`` on CI)."""
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")


def host_python_tag() -> str:
    import sys

    return f"cp{sys.version_info[0]}{sys.version_info[1]}"


@dataclass(frozen=True)
class BuiltWheel:
    path: Path
    name: str
    version: str
    metadata: bytes

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


@dataclass
class WheelSpec:
    """What goes into a stand-in wheel."""

    name: str
    version: str
    tag: str = "py3-none-any"
    requires: Iterable[str] = ()
    requires_python: str | None = None
    extras: Mapping[str, Iterable[str]] = field(default_factory=dict)
    build: str = "pypi"  # written to <module>/_jetpip_build; "jetson" marks a CUDA stand-in
    module: str | None = None  # top-level module name; default: the name with '-' -> '_'
    files: Mapping[str, str] = field(default_factory=dict)  # extra files, path -> text
    filename_version: str | None = None  # lie in the filename (NVIDIA style mismatch)


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def metadata_text(spec: WheelSpec) -> str:
    lines = ["Metadata-Version: 2.1", f"Name: {spec.name}", f"Version: {spec.version}"]
    if spec.requires_python:
        lines.append(f"Requires-Python: {spec.requires_python}")
    lines.extend(f"Requires-Dist: {req}" for req in spec.requires)
    for extra, reqs in spec.extras.items():
        lines.append(f"Provides-Extra: {extra}")
        for req in reqs:
            marker = f'extra == "{extra}"'
            if ";" in req:
                base, existing = req.split(";", 1)
                lines.append(f"Requires-Dist: {base.strip()} ; ({existing.strip()}) and {marker}")
            else:
                lines.append(f"Requires-Dist: {req} ; {marker}")
    return "\n".join(lines) + "\n\n"


def build_wheel(dest: Path, spec: WheelSpec) -> BuiltWheel:
    """Write ``spec`` as a wheel into ``dest`` and return it."""
    dest.mkdir(parents=True, exist_ok=True)
    dist = canonicalize_name(spec.name).replace("-", "_")
    module = spec.module or dist
    dist_info = f"{dist}-{spec.version}.dist-info"
    meta = metadata_text(spec).encode()
    wheel = (
        "Wheel-Version: 1.0\nGenerator: jetpip-tests\nRoot-Is-Purelib: "
        f"{'true' if spec.tag.endswith('-none-any') else 'false'}\n"
        + "".join(f"Tag: {t}\n" for t in _expand_tag(spec.tag))
    ).encode()
    contents: dict[str, bytes] = {
        f"{module}/__init__.py": (
            f"__version__ = {spec.version!r}\nBUILD = {spec.build!r}\n"
        ).encode(),
        f"{module}/_jetpip_build": spec.build.encode(),
    }
    for path, text in spec.files.items():
        contents[path] = text.encode()
    contents[f"{dist_info}/METADATA"] = meta
    contents[f"{dist_info}/WHEEL"] = wheel
    record = [_record_line(p, d) for p, d in contents.items()] + [f"{dist_info}/RECORD,,"]
    contents[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    fname_version = spec.filename_version or spec.version
    path = dest / f"{dist}-{fname_version}-{spec.tag}.whl"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in contents.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    path.write_bytes(buf.getvalue())
    return BuiltWheel(path=path, name=spec.name, version=spec.version, metadata=meta)


def _expand_tag(tag: str) -> list[str]:
    py, abi, plat = tag.split("-")
    return [f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split(".")]
