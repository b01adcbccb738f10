"""Device facts from a root directory: pure parsers for each evidence file plus thin readers."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from jetpip.model.target import Device, Fact

__all__ = [
    "TegraRelease",
    "cuda_arch_kind_from_targets",
    "detect_device",
    "jetpack_from_package_version",
    "l4t_from_core_version",
    "parse_c_defines",
    "parse_cuda_version_json",
    "parse_cuda_version_txt",
    "parse_cudnn_header",
    "parse_dpkg_status",
    "parse_dt_compatible",
    "parse_dt_model",
    "parse_in_container_cgroup",
    "parse_kernel_release",
    "parse_meminfo_gib",
    "parse_nv_tegra_release",
    "parse_nvidia_smi_list",
    "parse_tensorrt_header",
    "soc_from_compatible",
]

_MAX_READ = 4 * 1024 * 1024  # a dpkg status file is a few MB at most; nothing else comes close


# --- pure parsers ----------------------------------------------------------------------------


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
_BOARD_RE = re.compile(r"BOARD:\s*([A-Za-z0-9_.+-]+)")


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
    return None


# --- reading a root directory ----------------------------------------------------------------


def _read_limited(path: Path) -> bytes:
    # procfs and sysfs refuse one large read (ENOMEM on some kernels), so read page-sized chunks
    chunks: list[bytes] = []
    size = 0
    with path.open("rb", buffering=0) as fh:
        while size < _MAX_READ:
            chunk = fh.read(4096)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    return b"".join(chunks)[:_MAX_READ]


class _Root:
    """Reads files under a root directory; absolute symlinks resolve inside the root, not on /."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.warnings: list[str] = []

    def display(self, rel: str) -> str:
        """How a file is named in facts and warnings: its real path when root is /."""
        return str(self.root / rel) if str(self.root) != "/" else "/" + rel

    def resolve(self, rel: str) -> Path | None:
        """Follow symlinks component by component, re-anchoring absolute targets at the root."""
        parts = list(PurePosixPath(rel).parts)
        current = self.root
        hops = 0
        while parts:
            part = parts.pop(0)
            if part in ("", "/", "."):
                continue
            if part == "..":
                if current != self.root:
                    current = current.parent
                continue
            candidate = current / part
            if candidate.is_symlink():
                hops += 1
                if hops > 40:
                    return None
                try:
                    target = os.readlink(candidate)
                except OSError:
                    return None
                if target.startswith("/"):
                    current = self.root
                parts = list(PurePosixPath(target).parts) + parts
                continue
            current = candidate
        return current

    def read_bytes(self, rel: str, *, quiet: bool = False) -> bytes | None:
        """The file's bytes, or None when absent; unreadable files become a warning unless quiet."""
        path = self.resolve(rel)
        if path is None or not path.exists():
            return None
        try:
            return _read_limited(path)
        except OSError as exc:
            if not quiet:
                self.warnings.append(f"{self.display(rel)}: cannot be read ({exc.strerror or exc})")
            return None

    def read_text(self, rel: str) -> str | None:
        """The file as UTF-8 text; binary content becomes a warning and None."""
        data = self.read_bytes(rel)
        if data is None:
            return None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            self.warnings.append(f"{self.display(rel)}: not a text file; ignored")
            return None

    def exists(self, rel: str) -> bool:
        path = self.resolve(rel)
        return path is not None and (path.exists() or path.is_symlink())

    def listdir(self, rel: str) -> list[str]:
        path = self.resolve(rel)
        if path is None or not path.is_dir():
            return []
        try:
            return sorted(os.listdir(path))
        except OSError:
            return []

    def malformed(self, rel: str, what: str) -> None:
        self.warnings.append(
            f"{self.display(rel)}: malformed, no {what} found in it; using other sources"
        )


def _fact(value: str | None, source: str) -> Fact | None:
    return Fact(value, source) if value else None


def _read_tegra_release(fs: _Root) -> Fact | None:
    rel = "etc/nv_tegra_release"
    text = fs.read_text(rel)
    if text is None:
        return None
    release = parse_nv_tegra_release(text)
    if release is None:
        fs.malformed(rel, "'# R<major> (release), REVISION: <x.y>' line")
        return None
    return Fact(release.l4t, fs.display(rel))


def _read_dpkg(fs: _Root) -> tuple[Fact | None, Fact | None]:
    rel = "var/lib/dpkg/status"
    text = fs.read_text(rel)
    if text is None:
        return None, None
    installed = parse_dpkg_status(text)
    l4t = jetpack = None
    core = installed.get("nvidia-l4t-core")
    if core is not None:
        value = l4t_from_core_version(core)
        if value is None:
            fs.warnings.append(f"{fs.display(rel)}: nvidia-l4t-core version '{core}' not understood")
        l4t = _fact(value, f"{fs.display(rel)} (nvidia-l4t-core {core})")
    meta = installed.get("nvidia-jetpack")
    if meta is not None:
        value = jetpack_from_package_version(meta)
        if value is None:
            fs.warnings.append(f"{fs.display(rel)}: nvidia-jetpack version '{meta}' not understood")
        jetpack = _fact(value, f"{fs.display(rel)} (nvidia-jetpack {meta})")
    return l4t, jetpack


def _read_device_tree(fs: _Root) -> tuple[Fact | None, Fact | None, bool]:
    """Model, SoC, and whether compatible names an NVIDIA Tegra at all."""
    model = soc = None
    tegra = False
    for base in ("proc/device-tree", "sys/firmware/devicetree/base"):
        raw_model = fs.read_bytes(f"{base}/model")
        if raw_model is not None and model is None:
            name = parse_dt_model(raw_model)
            if name is None:
                fs.malformed(f"{base}/model", "board name")
            model = _fact(name, fs.display(f"{base}/model"))
        raw_compat = fs.read_bytes(f"{base}/compatible")
        if raw_compat is not None and soc is None:
            entries = parse_dt_compatible(raw_compat)
            tegra = any(e.startswith("nvidia,") for e in entries)
            value = soc_from_compatible(entries)
            if value is None and (not entries or tegra):
                # an empty list is broken; a non-NVIDIA board (a Raspberry Pi) is simply not a Jetson
                fs.malformed(f"{base}/compatible", "'nvidia,tegraNNN' entry")
            soc = _fact(value, fs.display(f"{base}/compatible"))
        if model or soc:
            break
    return model, soc, tegra


def _read_kernel(fs: _Root) -> tuple[Fact | None, bool]:
    rel = "proc/sys/kernel/osrelease"
    live = str(fs.root) == "/"
    text = fs.read_text(rel) if not live else _decode(fs.read_bytes(rel, quiet=True))
    source = fs.display(rel)
    if text is None and live:
        # On the running system the kernel itself answers; a procfs quirk is no news to the user.
        text, source = os.uname().release, "uname"
    if text is None:
        return None, False
    parsed = parse_kernel_release(text)
    if parsed is None:
        fs.malformed(rel, "kernel release")
        return None, False
    return Fact(parsed[0], source), parsed[1]


def _decode(data: bytes | None) -> str | None:
    return data.decode("utf-8", "replace") if data is not None else None


def _cuda_homes(fs: _Root) -> list[str]:
    homes = ["usr/local/cuda"] if fs.exists("usr/local/cuda") else []
    versioned = [n for n in fs.listdir("usr/local") if re.fullmatch(r"cuda-\d+(\.\d+)*", n)]
    # Without the /usr/local/cuda link, the newest versioned toolkit is the one builds would find.
    versioned.sort(key=lambda n: tuple(int(p) for p in n[5:].split(".")), reverse=True)
    return homes + [f"usr/local/{n}" for n in versioned]


def _read_cuda(fs: _Root) -> tuple[Fact | None, Fact | None]:
    """The toolkit version and Tegra/SBSA from the layout of its targets directory."""
    version = kind = None
    for home in _cuda_homes(fs):
        if version is None:
            text = fs.read_text(f"{home}/version.json")
            if text is not None:
                value = parse_cuda_version_json(text)
                if value is None:
                    fs.malformed(f"{home}/version.json", "cuda_nvcc version")
                version = _fact(value, fs.display(f"{home}/version.json"))
        if version is None:
            text = fs.read_text(f"{home}/version.txt")
            if text is not None:
                value = parse_cuda_version_txt(text)
                if value is None:
                    fs.malformed(f"{home}/version.txt", "'CUDA Version x.y.z' line")
                version = _fact(value, fs.display(f"{home}/version.txt"))
        if kind is None:
            value = cuda_arch_kind_from_targets(fs.listdir(f"{home}/targets"))
            if value:
                dirname = "sbsa-linux" if value == "sbsa" else "aarch64-linux"
                kind = Fact(value, fs.display(f"{home}/targets/{dirname}"))
        if version and kind:
            break
    return version, kind


_INCLUDE_DIRS = ("usr/include/aarch64-linux-gnu", "usr/include", "usr/local/cuda/include")


def _read_header_version(
    fs: _Root, names: tuple[str, ...], parse: Callable[[str], str | None], what: str
) -> Fact | None:
    for directory in _INCLUDE_DIRS:
        for name in names:
            rel = f"{directory}/{name}"
            text = fs.read_text(rel)
            if text is None:
                continue
            value = parse(text)
            if value is not None:
                return Fact(value, fs.display(rel))
            fs.malformed(rel, what)
    return None


def query_nvidia_smi(timeout: float = 5.0) -> tuple[str, ...] | None:
    """GPU names from the nvidia-smi on PATH, or None when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, "-L"], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if proc.returncode != 0:
        return None
    return parse_nvidia_smi_list(proc.stdout)


def _read_container(fs: _Root) -> Fact:
    for marker in (".dockerenv", "run/.containerenv"):
        if fs.exists(marker):
            return Fact("yes", fs.display(marker))
    text = fs.read_text("proc/1/cgroup")
    if text is not None and parse_in_container_cgroup(text):
        return Fact("yes", fs.display("proc/1/cgroup"))
    return Fact("no", "no /.dockerenv, /run/.containerenv or container cgroup")


def detect_device(root: Path | str = "/", *, run_nvidia_smi: bool | None = None) -> Device:
    """Read every piece of device evidence under ``root``; malformed files become warnings.

    nvidia-smi reports on the machine jetpip runs on, so it is asked only when ``root``
    is ``/`` (or when ``run_nvidia_smi`` says so explicitly).
    """
    root_path = Path(root)
    fs = _Root(root_path)

    l4t = _read_tegra_release(fs)
    dpkg_l4t, jetpack = _read_dpkg(fs)
    if l4t and dpkg_l4t and l4t.value != dpkg_l4t.value:
        # In a container the mounted nv_tegra_release is the host's; the host's driver is what runs.
        fs.warnings.append(
            f"L4T differs: {l4t.source} says {l4t.value}, {dpkg_l4t.source} says "
            f"{dpkg_l4t.value}; using {l4t.value}"
        )
    l4t = l4t or dpkg_l4t
    model, soc, dt_tegra = _read_device_tree(fs)
    kernel, kernel_tegra = _read_kernel(fs)
    cuda, arch_kind = _read_cuda(fs)
    cudnn = _read_header_version(
        fs, ("cudnn_version.h", "cudnn_version_v9.h", "cudnn_version_v8.h"),
        parse_cudnn_header, "CUDNN_MAJOR/CUDNN_MINOR defines",
    )
    tensorrt = _read_header_version(
        fs, ("NvInferVersion.h",), parse_tensorrt_header, "NV_TENSORRT_MAJOR/MINOR defines"
    )

    gpu_name = None
    if run_nvidia_smi if run_nvidia_smi is not None else str(root_path) == "/":
        names = query_nvidia_smi()
        if names:
            gpu_name = Fact(names[0], "nvidia-smi -L")
            smi_kind = arch_kind_from_gpu_name(names[0])
            if smi_kind and arch_kind is None:
                arch_kind = Fact(smi_kind, "nvidia-smi -L")

    meminfo = fs.read_text("proc/meminfo")
    memory = None
    if meminfo is not None:
        gib = parse_meminfo_gib(meminfo)
        if gib is None:
            fs.malformed("proc/meminfo", "MemTotal line")
        memory = _fact(gib, fs.display("proc/meminfo"))

    is_jetson = bool(l4t or jetpack or kernel_tegra or dt_tegra or (soc is not None))
    if not is_jetson and arch_kind is not None and arch_kind.value == "tegra":
        is_jetson = True  # a Tegra CUDA layout without other evidence: a stripped container image
    return Device(
        root=str(root_path),
        is_jetson=is_jetson,
        model=model,
        soc=soc,
        l4t=l4t,
        jetpack=jetpack,
        cuda=cuda,
        cudnn=cudnn,
        tensorrt=tensorrt,
        kernel=kernel,
        gpu_name=gpu_name,
        arch_kind=arch_kind,
        in_container=_read_container(fs),
        memory_gib=memory,
        warnings=tuple(fs.warnings),
    )
