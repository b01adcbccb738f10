"""Pure parsers of the device's evidence files: text or bytes in, facts out, no I/O."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class TegraRelease:
    """The first line of /etc/nv_tegra_release: ``# R36 (release), REVISION: 4.3, ...``."""

    major: int
    revision: str  # "4.3"
    board: str | None = None  # unreliable on recent releases ("generic"); kept for display

    @property
    def l4t(self) -> str:
        """The L4T version, major + revision: ``"36.4.3"``."""
        return f"{self.major}.{self.revision}"


_TEGRA_RE = re.compile(
    r"^#\s*R(?P<major>\d{1,4})\s*\((?:release|[^)]*)\)\s*,\s*REVISION:\s*(?P<rev>\d{1,4}(?:\.\d{1,4}){0,3})\b"
)
_BOARD_RE = re.compile(r",\s*BOARD:\s*([A-Za-z0-9_.+-]+)")  # a field of its own, not text in another


def parse_nv_tegra_release(text: str) -> TegraRelease | None:
    """Parse the release line of nv_tegra_release; None when no line has the expected form."""
    for line in text.splitlines():
        m = _TEGRA_RE.match(line.strip())
        if m:
            board = _BOARD_RE.search(line)
            return TegraRelease(
                major=int(m.group("major")),
                revision=m.group("rev"),
                board=board.group(1) if board else None,
            )
    return None


def parse_dpkg_status(text: str) -> dict[str, str]:
    """Map package name to version for every package dpkg records as installed."""
    out: dict[str, str] = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if not line or line[0] in " \t":
                continue  # continuation lines belong to Description and friends
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip().lower()] = value.strip()
        name, version = fields.get("package"), fields.get("version")
        status = fields.get("status", "install ok installed").split()
        if name and version and status[-1:] == ["installed"]:
            out[name] = version
    return out


_LEADING_VERSION = re.compile(r"^(?:\d+:)?(\d{1,4}(?:\.\d{1,4}){0,3})(?=$|[-+~])")


def l4t_from_core_version(version: str) -> str | None:
    """``nvidia-l4t-core`` 36.4.3-20250107174145 -> 36.4.3 (the part before the build stamp)."""
    m = _LEADING_VERSION.match(version.strip())
    if not m or "." not in m.group(1):
        return None
    return m.group(1)


def jetpack_from_package_version(version: str) -> str | None:
    """``nvidia-jetpack`` 6.2+b77 -> 6.2, 5.1.2-b104 -> 5.1.2, 7.0-b128 -> 7.0."""
    m = _LEADING_VERSION.match(version.strip())
    if not m or "." not in m.group(1):
        return None
    return m.group(1)


def _dt_strings(data: bytes) -> list[str]:
    """Device-tree string properties: NUL-separated, NUL-terminated, plain ASCII in practice."""
    text = data.decode("utf-8", errors="replace")
    return [part.strip() for part in text.split("\0") if part.strip()]


def parse_dt_model(data: bytes) -> str | None:
    """The board name in /proc/device-tree/model (a NUL-terminated string)."""
    parts = _dt_strings(data)
    if not parts or "\ufffd" in parts[0] or not parts[0].isprintable():
        return None
    return parts[0]


def parse_dt_compatible(data: bytes) -> tuple[str, ...]:
    """The entries of /proc/device-tree/compatible (a NUL-separated list, most specific first)."""
    return tuple(p for p in _dt_strings(data) if "\ufffd" not in p and p.isprintable())


_SOC_RE = re.compile(r"^nvidia,(tegra\d+)$")


def soc_from_compatible(entries: tuple[str, ...]) -> str | None:
    """The SoC: the last ``nvidia,tegraNNN`` entry (the list ends in the SoC) -> ``tegraNNN``."""
    for entry in reversed(entries):
        m = _SOC_RE.match(entry.strip().lower())
        if m:
            return m.group(1)
    return None


def parse_kernel_release(text: str) -> tuple[str, bool] | None:
    """The kernel release and whether it is an L4T kernel (``5.15.148-tegra``)."""
    release = text.strip()
    if not release or not re.fullmatch(r"\d+\.\d+[\w.+~-]*", release):
        return None
    return release, release.endswith("-tegra")


def parse_cuda_version_json(text: str) -> str | None:
    """The toolkit version in /usr/local/cuda/version.json (``cuda_nvcc.version``, else ``cuda``)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("cuda_nvcc", "cuda_cudart", "cuda"):
        entry = data.get(key)
        if isinstance(entry, dict):
            version = entry.get("version")
            if isinstance(version, str) and re.fullmatch(r"\d+\.\d+(\.\d+)*", version.strip()):
                return version.strip()
    return None


def parse_cuda_version_txt(text: str) -> str | None:
    """The toolkit version in JetPack 4's /usr/local/cuda/version.txt (``CUDA Version 10.2.300``)."""
    m = re.search(r"CUDA Version\s+(\d+\.\d+(?:\.\d+)*)", text)
    return m.group(1) if m else None


_DEFINE_RE = re.compile(r"^[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)[ \t]+([^\s/]+)", re.MULTILINE)


def parse_c_defines(text: str) -> dict[str, str]:
    """Object-like ``#define NAME VALUE`` lines of a header (the first token of the value)."""
    return {m.group(1): m.group(2) for m in _DEFINE_RE.finditer(text)}


def _define_int(defines: dict[str, str], name: str) -> int | None:
    value = defines.get(name)
    # TensorRT >= 10.x defines NV_TENSORRT_MAJOR through TRT_MAJOR_ENTERPRISE; follow a few hops.
    for _ in range(4):
        if value is None:
            return None
        if re.fullmatch(r"\d{1,6}", value):
            return int(value)
        value = defines.get(value)
    return None


def _header_version(text: str, names: tuple[str, str, str]) -> str | None:
    defines = parse_c_defines(text)
    parts = [_define_int(defines, n) for n in names]
    if parts[0] is None or parts[1] is None:
        return None
    return ".".join(str(p) for p in parts if p is not None)


def parse_cudnn_header(text: str) -> str | None:
    """The cuDNN version from cudnn_version*.h (CUDNN_MAJOR / MINOR / PATCHLEVEL)."""
    return _header_version(text, ("CUDNN_MAJOR", "CUDNN_MINOR", "CUDNN_PATCHLEVEL"))


def parse_tensorrt_header(text: str) -> str | None:
    """TensorRT version from NvInferVersion.h (NV_TENSORRT_MAJOR / MINOR / PATCH)."""
    return _header_version(text, ("NV_TENSORRT_MAJOR", "NV_TENSORRT_MINOR", "NV_TENSORRT_PATCH"))


def parse_nvidia_smi_list(text: str) -> tuple[str, ...]:
    """GPU names from ``nvidia-smi -L`` (``GPU 0: NVIDIA Thor (UUID: GPU-...)``)."""
    names = []
    for line in text.splitlines():
        m = re.match(r"^GPU \d+:\s*(.+?)\s*(?:\(UUID:.*\))?\s*$", line.strip())
        if m and m.group(1):
            names.append(m.group(1))
    return tuple(names)


def parse_meminfo_gib(text: str) -> str | None:
    """MemTotal of /proc/meminfo in GiB, one decimal (``"61.4"``)."""
    m = re.search(r"^MemTotal:\s*(\d{1,15})\s*kB", text, re.MULTILINE)
    if not m:
        return None
    return f"{int(m.group(1)) / (1024 * 1024):.1f}"


_CONTAINER_CGROUP = re.compile(r"docker|kubepods|containerd|libpod|lxc|/ecs/|buildkit")


def parse_in_container_cgroup(text: str) -> bool:
    """True when /proc/1/cgroup names a container runtime (cgroup v1 hosts; v2 shows only ``/``)."""
    return any(_CONTAINER_CGROUP.search(line) for line in text.splitlines())


def cuda_arch_kind_from_targets(names: list[str]) -> str | None:
    """Tegra or SBSA from the entries of /usr/local/cuda/targets (``sbsa-linux`` wins)."""
    if "sbsa-linux" in names:
        return "sbsa"
    if "aarch64-linux" in names:
        return "tegra"
    return None


def arch_kind_from_gpu_name(name: str) -> str | None:
    """Thor's nvidia-smi says "NVIDIA Thor" (SBSA); Orin on JetPack 6 reports an nvgpu name."""
    lowered = name.lower()
    if "thor" in lowered:
        return "sbsa"
    if "nvgpu" in lowered or "orin" in lowered:
        return "tegra"
    if "gb10" in lowered or "gh200" in lowered or "gb200" in lowered:
        return "sbsa"  # DGX Spark and the Grace servers: aarch64 SBSA with an NVIDIA driver
    return None


_DRIVER_TEXT = re.compile(r"^\d{2,4}(?:\.\d{1,3}){1,2}$")


def parse_module_version(text: str) -> str | None:
    """The driver in /sys/module/nvidia/version: one line, ``580.159.04``."""
    value = text.strip()
    return value if _DRIVER_TEXT.match(value) else None


_NVRM_RE = re.compile(r"^NVRM version:.*?\s(\d{2,4}(?:\.\d{1,3}){1,2})\s", re.MULTILINE)


def parse_proc_driver_version(text: str) -> str | None:
    """The driver in /proc/driver/nvidia/version: ``NVRM version: NVIDIA UNIX ... Module  580.159.04 ...``."""
    m = _NVRM_RE.search(text + " ")
    return m.group(1) if m else None


@dataclass(frozen=True)
class GpuQuery:
    """One GPU as ``nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader`` lists it."""

    name: str  # "NVIDIA H200"
    compute_capability: str | None  # "9.0"; None when the driver does not report it ("[N/A]")


def parse_nvidia_smi_query(text: str) -> tuple[GpuQuery, ...]:
    """The GPUs of ``nvidia-smi --query-gpu=name,compute_cap --format=csv,noheader``, one per line."""
    gpus = []
    for line in text.splitlines():
        name, sep, cap = line.rpartition(",")
        name, cap = name.strip(), cap.strip()
        if not sep or not name or name.lower() == "name":
            continue  # a header line, or an error message
        gpus.append(GpuQuery(name, cap if re.fullmatch(r"\d{1,2}\.\d", cap) else None))
    return tuple(gpus)
