"""What the doctor probe reports, part by part, as jetpip reads it: typed, and checked as it is read.

The probe (jetpip/_probes/doctor_facts.py) runs in the target interpreter, and a broken package
can print anything, so its output is input: each reader keeps the keys of the right type and
drops the rest, and the checks see only what these TypedDicts say.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict


class ErrorFacts(TypedDict):
    """An exception the probe caught: its type, its message, and the text Python would print."""

    type: str
    message: str
    text: str


class _DistKeys(TypedDict):
    name: str  # canonical
    version: str


class DistFacts(_DistKeys, total=False):
    """One installed distribution: its metadata, and the parts of its RECORD doctor needs."""

    location: str
    site: str  # the sys.path entry it was found in
    requires: list[str]
    wheel_tags: list[str]
    installer: str | None
    direct_url: str | None
    record: list[str]  # shared objects and top-level names (detailed distributions only)


class EnvPart(TypedDict, total=False):
    """Part ``env``: the interpreter and its installed distributions, read with no third-party import."""

    executable: str
    version: str
    prefix: str
    base_prefix: str
    is_venv: bool
    system_site_packages: bool
    externally_managed: bool
    has_pip: bool
    tensorrt_in_system_site: list[str]
    dists: list[DistFacts]
    libs: dict[str, str]  # shared-object file name -> where it was first found
    ld_library_path: str


class ImportPart(TypedDict, total=False):
    """Parts ``torch``, ``torchvision``, ``torchaudio``, ``numpy``, ``onnxruntime``: one import each."""

    imported: bool
    version: str
    file: str | None
    error: ErrorFacts  # why the import failed
    # torch
    cuda: str | None  # torch.version.cuda; None for a CPU build
    is_available: bool
    cuda_error: ErrorFacts
    cuda_warnings: list[str]
    arch_list: list[str]
    arch_list_from: str
    device_name: str
    device_capability: str  # "8.7"
    device_count: int
    # torchvision
    ops_error: ErrorFacts  # its C++ ops failed to load ("torchvision::nms does not exist")
    # onnxruntime
    providers: list[str]


def read_error(raw: object) -> ErrorFacts | None:
    """An exception's facts, or None when ``raw`` is not an object."""
    if not isinstance(raw, dict):
        return None
    return {"type": _text(raw.get("type")), "message": _text(raw.get("message")),
            "text": _text(raw.get("text"))}


def read_dist(raw: object) -> DistFacts | None:
    """One distribution's facts; None without a name and a version."""
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        return None
    version = raw.get("version")
    if not isinstance(version, str):
        return None
    dist: DistFacts = {"name": raw["name"], "version": version,
                       "requires": _texts(raw.get("requires")), "wheel_tags": _texts(raw.get("wheel_tags")),
                       "installer": _opt_text(raw.get("installer")),
                       "direct_url": _opt_text(raw.get("direct_url")), "record": _texts(raw.get("record"))}
    if isinstance(location := raw.get("location"), str):
        dist["location"] = location
    if isinstance(site := raw.get("site"), str):
        dist["site"] = site
    return dist


def read_env(raw: Mapping[str, object]) -> EnvPart:
    """Part ``env``, keeping only the keys of the right type."""
    env: EnvPart = {
        "tensorrt_in_system_site": _texts(raw.get("tensorrt_in_system_site")),
        "dists": [d for d in map(read_dist, _list(raw.get("dists"))) if d is not None],
    }
    if isinstance(libs := raw.get("libs"), dict):
        env["libs"] = {k: v for k, v in libs.items() if isinstance(k, str) and isinstance(v, str)}
    if isinstance(flag := raw.get("is_venv"), bool):
        env["is_venv"] = flag
    if isinstance(flag := raw.get("system_site_packages"), bool):
        env["system_site_packages"] = flag
    if isinstance(flag := raw.get("externally_managed"), bool):
        env["externally_managed"] = flag
    if isinstance(flag := raw.get("has_pip"), bool):
        env["has_pip"] = flag
    if isinstance(text := raw.get("executable"), str):
        env["executable"] = text
    if isinstance(text := raw.get("version"), str):
        env["version"] = text
    if isinstance(text := raw.get("prefix"), str):
        env["prefix"] = text
    if isinstance(text := raw.get("base_prefix"), str):
        env["base_prefix"] = text
    if isinstance(text := raw.get("ld_library_path"), str):
        env["ld_library_path"] = text
    return env


def read_import(raw: Mapping[str, object]) -> ImportPart:
    """One import part, keeping only the keys of the right type."""
    part: ImportPart = {}
    if isinstance(flag := raw.get("imported"), bool):
        part["imported"] = flag
    if isinstance(flag := raw.get("is_available"), bool):
        part["is_available"] = flag
    if isinstance(text := raw.get("version"), str):
        part["version"] = text
    if isinstance(text := raw.get("arch_list_from"), str):
        part["arch_list_from"] = text
    if isinstance(text := raw.get("device_name"), str):
        part["device_name"] = text
    if isinstance(text := raw.get("device_capability"), str):
        part["device_capability"] = text
    if "file" in raw:
        part["file"] = _opt_text(raw["file"])
    if "cuda" in raw:
        part["cuda"] = _opt_text(raw["cuda"])
    if (error := read_error(raw.get("error"))) is not None:
        part["error"] = error
    if (error := read_error(raw.get("cuda_error"))) is not None:
        part["cuda_error"] = error
    if (error := read_error(raw.get("ops_error"))) is not None:
        part["ops_error"] = error
    if "cuda_warnings" in raw:
        part["cuda_warnings"] = _texts(raw["cuda_warnings"])
    if "arch_list" in raw:
        part["arch_list"] = _texts(raw["arch_list"])
    if "providers" in raw:
        part["providers"] = _texts(raw["providers"])
    count = raw.get("device_count")
    if isinstance(count, int) and not isinstance(count, bool):
        part["device_count"] = count
    return part


def _list(value: object) -> list[object]:
    return value if isinstance(value, list) else []


def _texts(value: object) -> list[str]:
    """A list of strings; other items are written as text (the checks compare text)."""
    return [str(v) for v in _list(value)]


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _opt_text(value: object) -> str | None:
    return value if isinstance(value, str) else None
