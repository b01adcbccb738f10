"""Device facts from a root directory: thin readers of each evidence file, the parsers do the work."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path, PurePosixPath

from jetpip.device.parsers import (
    arch_kind_from_gpu_name,
    cuda_arch_kind_from_targets,
    jetpack_from_package_version,
    l4t_from_core_version,
    parse_cuda_version_json,
    parse_cuda_version_txt,
    parse_cudnn_header,
    parse_dpkg_status,
    parse_dt_compatible,
    parse_dt_model,
    parse_in_container_cgroup,
    parse_kernel_release,
    parse_meminfo_gib,
    parse_module_version,
    parse_nv_tegra_release,
    parse_nvidia_smi_list,
    parse_nvidia_smi_query,
    parse_proc_driver_version,
    parse_tensorrt_header,
    soc_from_compatible,
)
from jetpip.model.target import Device, Fact

__all__ = ["detect_device"]

_MAX_READ = 4 * 1024 * 1024  # a dpkg status file is a few MB at most; nothing else comes close


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
    homes = _cuda_homes(fs)
    version = _first_parsed(fs, (
        candidate for home in homes for candidate in (
            (f"{home}/version.json", parse_cuda_version_json, "cuda_nvcc version"),
            (f"{home}/version.txt", parse_cuda_version_txt, "'CUDA Version x.y.z' line"),
        )
    ))
    kind = None
    for home in homes:
        value = cuda_arch_kind_from_targets(fs.listdir(f"{home}/targets"))
        if value:
            dirname = "sbsa-linux" if value == "sbsa" else "aarch64-linux"
            kind = Fact(value, fs.display(f"{home}/targets/{dirname}"))
            break
    if version is None:
        # Some toolkit installs ship no version.json (seen on an H200 host with CUDA 13.0): the
        # versioned directory the links lead to still names the release.
        named = next((h for h in homes if re.fullmatch(r"usr/local/cuda-\d+\.\d+", h)), None)
        real = fs.resolve("usr/local/cuda")
        if real is not None and re.fullmatch(r"cuda-\d+\.\d+", real.name):
            named = f"usr/local/{real.name}"
        if named is not None:
            version = Fact(named.rsplit("-", 1)[1], f"{fs.display(named)} (directory name; no version.json)")
    return version, kind


_INCLUDE_DIRS = ("usr/include/aarch64-linux-gnu", "usr/include", "usr/local/cuda/include")


def _read_header_version(
    fs: _Root, names: tuple[str, ...], parse: Callable[[str], str | None], what: str
) -> Fact | None:
    return _first_parsed(fs, ((f"{d}/{name}", parse, what) for d in _INCLUDE_DIRS for name in names))


NvidiaSmi = Callable[[Sequence[str]], "str | None"]
"""Runs nvidia-smi with these arguments and returns its output, or None when it is absent or fails."""

QUERY_ARGS = ("--query-gpu=name,compute_cap", "--format=csv,noheader")


def run_nvidia_smi(args: Sequence[str], timeout: float = 5.0) -> str | None:
    """The output of the nvidia-smi on PATH, or None when it is absent or fails."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        proc = subprocess.run(
            [exe, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def query_nvidia_smi(timeout: float = 5.0) -> tuple[str, ...] | None:
    """GPU names from the nvidia-smi on PATH, or None when it is absent or fails."""
    out = run_nvidia_smi(["-L"], timeout)
    return None if out is None else parse_nvidia_smi_list(out)


def _read_driver(fs: _Root) -> Fact | None:
    """The NVIDIA kernel driver's version: the module's sysfs entry, else procfs."""
    return _first_parsed(fs, (("sys/module/nvidia/version", parse_module_version, "driver version"),
                              ("proc/driver/nvidia/version", parse_proc_driver_version, "driver version")))


def _first_parsed(
    fs: _Root, candidates: Iterable[tuple[str, Callable[[str], str | None], str]]
) -> Fact | None:
    """The first (path, parser, what it holds) that exists and parses; one that does not is malformed."""
    for rel, parse, what in candidates:
        text = fs.read_text(rel)
        if text is None:
            continue
        value = parse(text)
        if value is not None:
            return Fact(value, fs.display(rel))
        fs.malformed(rel, what)
    return None


def _read_gpu(smi: NvidiaSmi) -> tuple[Fact | None, Fact | None]:
    """The first GPU's name and compute capability from nvidia-smi (its query, else ``-L``)."""
    out = smi(QUERY_ARGS)
    gpus = parse_nvidia_smi_query(out) if out is not None else ()
    source = "nvidia-smi " + " ".join(QUERY_ARGS)
    if gpus:
        gpu = gpus[0]
        cap = Fact(gpu.compute_capability, source) if gpu.compute_capability else None
        return Fact(gpu.name, source), cap
    # Older drivers lack the compute_cap field; -L still names the GPU.
    listed = smi(["-L"])
    names = parse_nvidia_smi_list(listed) if listed is not None else ()
    return (Fact(names[0], "nvidia-smi -L") if names else None), None


def _run_smi(args: Sequence[str]) -> str | None:
    return run_nvidia_smi(args)


def _read_container(fs: _Root) -> Fact:
    for marker in (".dockerenv", "run/.containerenv"):
        if fs.exists(marker):
            return Fact("yes", fs.display(marker))
    text = fs.read_text("proc/1/cgroup")
    if text is not None and parse_in_container_cgroup(text):
        return Fact("yes", fs.display("proc/1/cgroup"))
    return Fact("no", "no /.dockerenv, /run/.containerenv or container cgroup")


def detect_device(root: Path | str = "/", *, run_nvidia_smi: bool | None = None,
                  nvidia_smi: NvidiaSmi | None = None) -> Device:
    """Read every piece of device evidence under ``root``; malformed files become warnings.

    nvidia-smi reports on the machine jetpip runs on, so it is asked only when ``root``
    is ``/`` (or when ``run_nvidia_smi`` says so explicitly). ``nvidia_smi`` replaces the
    real one: a fixture root comes with the output its machine printed.
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

    gpu_name = gpu_capability = None
    ask = run_nvidia_smi if run_nvidia_smi is not None else str(root_path) == "/"
    if nvidia_smi is not None or ask:
        gpu_name, gpu_capability = _read_gpu(nvidia_smi or _run_smi)
        smi_kind = arch_kind_from_gpu_name(gpu_name.value) if gpu_name else None
        if smi_kind and gpu_name and arch_kind is None:
            arch_kind = Fact(smi_kind, gpu_name.source)
    driver = _read_driver(fs)

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
        gpu_capability=gpu_capability,
        driver=driver,
        arch_kind=arch_kind,
        in_container=_read_container(fs),
        memory_gib=memory,
        warnings=tuple(fs.warnings),
    )
