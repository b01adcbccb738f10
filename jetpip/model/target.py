"""The Target record: device facts plus interpreter facts, the input to every routing decision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from packaging.tags import Tag, compatible_tags, cpython_tags

if TYPE_CHECKING:
    from jetpip.model.documents import FactDocument, TargetDocument


@dataclass(frozen=True)
class Fact:
    """One fact and where it came from (a file, a package, a table, a flag)."""

    value: str
    source: str

    def to_json(self) -> FactDocument:
        """Return the fact as ``{"value": ..., "source": ...}``."""
        return {"value": self.value, "source": self.source}


@dataclass(frozen=True)
class Device:
    """Raw device facts read from a root directory; no table lookups happen here."""

    root: str
    is_jetson: bool
    model: Fact | None = None
    soc: Fact | None = None  # "tegra234", the last entry of device-tree compatible
    l4t: Fact | None = None  # "36.4.3"
    jetpack: Fact | None = None  # only when a package says so (nvidia-jetpack "6.2")
    cuda: Fact | None = None  # full toolkit version, "12.6.85"
    cudnn: Fact | None = None  # "9.3.0"
    tensorrt: Fact | None = None  # "10.3.0"
    kernel: Fact | None = None  # "5.15.148-tegra"
    gpu_name: Fact | None = None  # from nvidia-smi, when present
    gpu_capability: Fact | None = None  # "8.9", from nvidia-smi --query-gpu=compute_cap
    driver: Fact | None = None  # the NVIDIA kernel driver, "580.159.04" (discrete GPUs, Thor)
    arch_kind: Fact | None = None  # "tegra" or "sbsa", from direct evidence only
    in_container: Fact | None = None  # "yes" / "no"
    memory_gib: Fact | None = None  # total RAM, from proc/meminfo
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class InstalledDist:
    """One distribution installed in the target interpreter, as its .dist-info says."""

    name: str  # canonical (PEP 503 normalised)
    version: str
    location: str  # the .dist-info directory
    requires: tuple[str, ...] = ()
    installer: str | None = None
    direct_url: str | None = None  # the url of direct_url.json, if any
    archive_sha256: str | None = None  # the sha256 direct_url.json records for the file installed
    wheel_tags: tuple[str, ...] = ()  # Tag lines of the WHEEL file
    in_system_site: bool = False  # found in the base interpreter's site-packages of a venv


@dataclass(frozen=True)
class Interpreter:
    """Facts about the target Python: probed from a live interpreter or synthesised for a cross target."""

    executable: str | None  # None when synthesised from flags
    version: str  # "3.10.12"
    implementation: str  # "cpython"
    platforms: tuple[str, ...]  # platform tags, best first: manylinux_2_35_aarch64 ... linux_aarch64
    markers: Mapping[str, str] = field(default_factory=dict, hash=False)  # PEP 508 environment
    abi: str | None = None  # "cp310"; None means the implementation's default
    glibc: str | None = None  # "2.35"
    is_venv: bool = False
    system_site_packages: bool = False
    externally_managed: bool = False
    pip_version: str | None = None
    pip_default_index: str | None = None  # pip's own default index URL, as the target's pip states it
    prefix: str | None = None
    base_prefix: str | None = None
    site_packages: tuple[str, ...] = ()
    installed: tuple[InstalledDist, ...] = ()
    dist_path: tuple[str, ...] = ()  # the sys.path entries ``installed`` was read from

    @property
    def python_version(self) -> str:
        """Major.minor, e.g. ``"3.10"``."""
        return ".".join(self.version.split(".")[:2])

    def tags(self) -> list[Tag]:
        """Wheel tags this interpreter accepts, best first."""
        major, minor = (int(p) for p in self.python_version.split("."))
        if self.implementation != "cpython":
            return list(compatible_tags((major, minor), platforms=list(self.platforms)))
        abis = [self.abi] if self.abi else None
        return list(cpython_tags((major, minor), abis=abis, platforms=list(self.platforms))) + list(
            compatible_tags((major, minor), f"cp{major}{minor}", platforms=list(self.platforms))
        )

    def installed_by_name(self) -> dict[str, InstalledDist]:
        """Installed distributions keyed by canonical name (the first one on sys.path wins)."""
        out: dict[str, InstalledDist] = {}
        for dist in self.installed:
            out.setdefault(dist.name, dist)
        return out


@dataclass(frozen=True)
class Target:
    """What jetpip resolves for: the device (after table lookups) and the interpreter."""

    device: Device
    interpreter: Interpreter
    l4t: Fact | None = None
    jetpack: Fact | None = None
    cuda: Fact | None = None  # "12.6", major.minor
    cudnn: Fact | None = None
    tensorrt: Fact | None = None
    soc: Fact | None = None
    compute_capability: Fact | None = None  # "8.7"
    arch_kind: Fact | None = None  # "tegra" | "sbsa"
    machine: str = "aarch64"
    warnings: tuple[str, ...] = ()

    @property
    def is_jetson(self) -> bool:
        """True when the facts (read or given) describe a Jetson."""
        return self.device.is_jetson or self.l4t is not None or self.jetpack is not None

    @property
    def python_version(self) -> str:
        """Major.minor of the target interpreter."""
        return self.interpreter.python_version

    def tags(self) -> list[Tag]:
        """Wheel tags of the target interpreter, best first."""
        return self.interpreter.tags()

    def marker_environment(self) -> dict[str, str]:
        """The PEP 508 marker environment of the Target (never of the machine jetpip runs on)."""
        return dict(self.interpreter.markers)

    def to_json(self) -> TargetDocument:
        """The stable JSON form documented in docs/detect.md (schema ``jetpip.target/1``)."""
        def fact(f: Fact | None) -> FactDocument | None:
            return f.to_json() if f else None

        interp = self.interpreter
        return {
            "schema": "jetpip.target/1",
            "is_jetson": self.is_jetson,
            "machine": self.machine,
            "device": {
                "root": self.device.root,
                "model": fact(self.device.model),
                "soc": fact(self.soc),
                "compute_capability": fact(self.compute_capability),
                "l4t": fact(self.l4t),
                "jetpack": fact(self.jetpack),
                "cuda": fact(self.cuda),
                "cuda_full": fact(self.device.cuda),
                "cudnn": fact(self.cudnn),
                "tensorrt": fact(self.tensorrt),
                "arch_kind": fact(self.arch_kind),
                "kernel": fact(self.device.kernel),
                "gpu_name": fact(self.device.gpu_name),
                "driver": fact(self.device.driver),
                "in_container": fact(self.device.in_container),
                "memory_gib": fact(self.device.memory_gib),
            },
            "interpreter": {
                "executable": interp.executable,
                "version": interp.version,
                "implementation": interp.implementation,
                "abi": interp.abi,
                "platforms": list(interp.platforms),
                "glibc": interp.glibc,
                "is_venv": interp.is_venv,
                "system_site_packages": interp.system_site_packages,
                "externally_managed": interp.externally_managed,
                "pip_version": interp.pip_version,
                "pip_default_index": interp.pip_default_index,
                "python_version": interp.python_version,
                "prefix": interp.prefix,
                "base_prefix": interp.base_prefix,
                "site_packages": list(interp.site_packages),
                "markers": dict(interp.markers),
                "installed": {d.name: d.version for d in interp.installed},
            },
            "warnings": list(self.warnings) + list(self.device.warnings),
        }


@dataclass(frozen=True)
class TargetOverrides:
    """Facts given by hand (CLI flags); each wins over what was detected."""

    jetpack: str | None = None
    l4t: str | None = None
    cuda: str | None = None
    soc: str | None = None
    compute_capability: str | None = None
    arch_kind: str | None = None  # "tegra" | "sbsa"
    python_version: str | None = None  # "3.10" or "3.10.12"
    platform: str | None = None  # "linux_aarch64"; implies a synthesised interpreter
    glibc: str | None = None

    @property
    def is_cross(self) -> bool:
        """True when the interpreter must be synthesised rather than probed."""
        return self.platform is not None or self.python_version is not None
