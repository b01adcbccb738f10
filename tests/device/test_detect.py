"""Device detection: the pure parsers, fuzzed, and detect_device over the fixture roots."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetpip.device import detect, parsers
from jetpip.device.detect import QUERY_ARGS, detect_device
from jetpip.device.parsers import (
    GpuQuery,
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
from jetpip.knowledge.base import load_builtin_knowledge
from tests.device.golden import fixture_device
from tests.device.golden import render as render_golden

ROOTS = Path(__file__).parent.parent / "fixtures" / "roots"

# --- parsers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "l4t", "board"),
    [
        ("# R35 (release), REVISION: 4.1, GCID: 33958178, BOARD: t186ref, EABI: aarch64, "
         "DATE: Tue Aug  1 19:57:35 UTC 2023", "35.4.1", "t186ref"),
        ("# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
         "DATE: Wed Jan  8 01:49:37 UTC 2025", "36.4.3", "generic"),
        ("# R38 (release), REVISION: 2.2, GCID: 42205042, BOARD: generic, EABI: aarch64, "
         "DATE: Thu Sep 25 22:47:11 UTC 2025", "38.2.2", "generic"),
        ("# R32 (release), REVISION: 7.1, GCID: 29818004, BOARD: t210ref", "32.7.1", "t210ref"),
    ],
)
def test_nv_tegra_release_real_lines(line: str, l4t: str, board: str) -> None:
    text = line + "\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n"
    release = parse_nv_tegra_release(text)
    assert release is not None
    assert release.l4t == l4t
    assert release.board == board


@pytest.mark.parametrize(
    "text", ["", "\n\n", "# R36 (release), REVIS", "R36 REVISION 4.3", "# KERNEL_VARIANT: oot\n"]
)
def test_nv_tegra_release_rejects_malformed(text: str) -> None:
    assert parse_nv_tegra_release(text) is None


def test_dpkg_status_keeps_only_installed_packages() -> None:
    text = (
        "Package: nvidia-l4t-core\nStatus: install ok installed\nArchitecture: arm64\n"
        "Version: 36.4.3-20250107174145\nDescription: NVIDIA Core Package\n"
        " continuation line: Version: 1.0\n\n"
        "Package: nvidia-jetpack\nStatus: deinstall ok config-files\nVersion: 6.1+b123\n\n"
        "Package: libc6\nStatus: install ok installed\nVersion: 2.35-0ubuntu3.8\n"
    )
    assert parse_dpkg_status(text) == {
        "nvidia-l4t-core": "36.4.3-20250107174145",
        "libc6": "2.35-0ubuntu3.8",
    }


@pytest.mark.parametrize(
    ("version", "expected"),
    [("36.4.3-20250107174145", "36.4.3"), ("32.7.1-20220219090432", "32.7.1"),
     ("38.2.2-20250925153837", "38.2.2"), ("garbage", None), ("36-1", None), ("", None)],
)
def test_l4t_from_core_version(version: str, expected: str | None) -> None:
    assert l4t_from_core_version(version) == expected


@pytest.mark.parametrize(
    ("version", "expected"),
    [("6.2+b77", "6.2"), ("5.1.2-b104", "5.1.2"), ("7.0-b128", "7.0"), ("4.6.1-b110", "4.6.1"),
     ("b77", None), ("6", None)],
)
def test_jetpack_from_package_version(version: str, expected: str | None) -> None:
    assert jetpack_from_package_version(version) == expected


def test_device_tree_model_and_compatible() -> None:
    assert parse_dt_model(b"NVIDIA Jetson AGX Thor Developer Kit\0") == (
        "NVIDIA Jetson AGX Thor Developer Kit"
    )
    entries = parse_dt_compatible(
        b"nvidia,p3768-0000+p3767-0005-super\0nvidia,p3767-0005\0nvidia,tegra234\0"
    )
    assert entries == ("nvidia,p3768-0000+p3767-0005-super", "nvidia,p3767-0005", "nvidia,tegra234")
    assert soc_from_compatible(entries) == "tegra234"
    assert soc_from_compatible(("raspberrypi,4-model-b", "brcm,bcm2711")) is None
    assert parse_dt_model(b"") is None
    assert parse_dt_model(b"\xff\xfe\x00junk") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("5.15.148-tegra\n", ("5.15.148-tegra", True)), ("6.8.12-tegra", ("6.8.12-tegra", True)),
     ("6.8.0-45-generic\n", ("6.8.0-45-generic", False)), ("", None), ("tegra", None)],
)
def test_kernel_release(text: str, expected: tuple[str, bool] | None) -> None:
    assert parse_kernel_release(text) == expected


def test_cuda_version_files() -> None:
    payload = '{"cuda": {"name": "CUDA SDK", "version": "12.6.20240730"},' \
              ' "cuda_nvcc": {"name": "CUDA NVCC", "version": "12.6.85"}}'
    assert parse_cuda_version_json(payload) == "12.6.85"
    assert parse_cuda_version_json('{"cuda": {"version": "13.0.48"}}') == "13.0.48"
    assert parse_cuda_version_json('{"cuda_nvcc": {"version": 12}}') is None
    assert parse_cuda_version_json("[1, 2]") is None
    assert parse_cuda_version_json('{"cuda": {"name": "CUDA SDK", "vers') is None
    assert parse_cuda_version_txt("CUDA Version 10.2.300\n") == "10.2.300"
    assert parse_cuda_version_txt("CUDA 10") is None


def test_cudnn_and_tensorrt_headers() -> None:
    cudnn = "#define CUDNN_MAJOR 9\n#define CUDNN_MINOR 3\n#define CUDNN_PATCHLEVEL 0\n" \
            "#define CUDNN_VERSION (CUDNN_MAJOR * 10000 + CUDNN_MINOR * 100 + CUDNN_PATCHLEVEL)\n"
    assert parse_cudnn_header(cudnn) == "9.3.0"
    direct = "#define NV_TENSORRT_MAJOR 10 //!< TensorRT major version.\n" \
             "#define NV_TENSORRT_MINOR 3 //!< minor\n#define NV_TENSORRT_PATCH 0\n"
    assert parse_tensorrt_header(direct) == "10.3.0"
    # TensorRT 10.13 (JetPack 7) defines the public macros through the enterprise ones.
    indirect = "#define TRT_MAJOR_ENTERPRISE 10\n#define TRT_MINOR_ENTERPRISE 13\n" \
               "#define TRT_PATCH_ENTERPRISE 3\n#define NV_TENSORRT_MAJOR TRT_MAJOR_ENTERPRISE\n" \
               "#define NV_TENSORRT_MINOR TRT_MINOR_ENTERPRISE\n" \
               "#define NV_TENSORRT_PATCH TRT_PATCH_ENTERPRISE\n"
    assert parse_tensorrt_header(indirect) == "10.13.3"
    assert parse_tensorrt_header("#define NV_TENSORRT_MAJOR TRT_MAJOR_UNDEFINED\n") is None
    # a self-referencing macro must not loop
    assert parse_cudnn_header("#define CUDNN_MAJOR A\n#define A CUDNN_MAJOR\n#define CUDNN_MINOR 1\n") is None


def test_nvidia_smi_meminfo_cgroup() -> None:
    smi = "GPU 0: NVIDIA Thor (UUID: GPU-8f3c1a2b-0000-1111-2222-333344445555)\n"
    assert parse_nvidia_smi_list(smi) == ("NVIDIA Thor",)
    assert parse_nvidia_smi_list("No devices were found\n") == ()
    assert parsers.arch_kind_from_gpu_name("NVIDIA Thor") == "sbsa"
    assert parsers.arch_kind_from_gpu_name("Orin (nvgpu)") == "tegra"
    # DGX Spark and Grace servers: aarch64 SBSA with a regular NVIDIA driver
    assert parsers.arch_kind_from_gpu_name("NVIDIA GB10") == "sbsa"
    assert parsers.arch_kind_from_gpu_name("NVIDIA GH200 480GB") == "sbsa"
    assert parsers.arch_kind_from_gpu_name("NVIDIA H200") is None
    assert parse_meminfo_gib("MemTotal:       65890700 kB\nMemFree: 1 kB\n") == "62.8"
    assert parse_meminfo_gib("MemFree: 1 kB\n") is None
    assert parse_in_container_cgroup("12:devices:/docker/3f2a9c\n")
    assert parse_in_container_cgroup("0::/kubepods/besteffort/pod1\n")
    assert not parse_in_container_cgroup("0::/init.scope\n")


# Lines as an H200 host printed them (docs/detect.md, "Seen on a discrete-GPU host").
H200_NVRM = ("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  "
             "(nixbld@)  \nGCC version:  gcc version 15.3.0 (GCC) \n")


def test_driver_version_files() -> None:
    assert parse_module_version("580.159.04\n") == "580.159.04"
    assert parse_module_version("nvidia\n") is None
    assert parse_proc_driver_version(H200_NVRM) == "580.159.04"
    # the proprietary module's wording
    assert parse_proc_driver_version(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.127.05  Tue Oct  8 03:22:07 UTC 2024\n") == (
        "550.127.05")
    assert parse_proc_driver_version("GCC version:  gcc version 15.3.0 (GCC)\n") is None


def test_nvidia_smi_query() -> None:
    assert parse_nvidia_smi_query("NVIDIA H200, 9.0\n") == (GpuQuery("NVIDIA H200", "9.0"),)
    assert parse_nvidia_smi_query("name, compute_cap\nNVIDIA L4, 8.9\nNVIDIA GB10, 12.1\n") == (
        GpuQuery("NVIDIA L4", "8.9"), GpuQuery("NVIDIA GB10", "12.1"))
    # an old driver that cannot report the field, and an error message
    assert parse_nvidia_smi_query("Tesla K80, [N/A]\n") == (GpuQuery("Tesla K80", None),)
    assert parse_nvidia_smi_query("NVIDIA-SMI has failed because it couldn't communicate\n") == ()


# --- fuzzing: no input crashes a parser ---------------------------------------------------------

TEXT_PARSERS = [
    parse_nv_tegra_release, parse_dpkg_status, l4t_from_core_version, jetpack_from_package_version,
    parse_kernel_release, parse_cuda_version_json, parse_cuda_version_txt, parse_cudnn_header,
    parse_tensorrt_header, parse_nvidia_smi_list, parse_meminfo_gib, parse_in_container_cgroup,
    parse_module_version, parse_proc_driver_version, parse_nvidia_smi_query,
]

# text that looks like the real files, so the fuzzer reaches past the first check
_near_miss = st.one_of(
    st.text(),
    st.builds(lambda a, b: f"# R{a} (release), REVISION: {b}", st.text(max_size=6), st.text(max_size=8)),
    st.builds(lambda a: "#define NV_TENSORRT_MAJOR " + a, st.text(max_size=12)),
    st.builds(lambda a: '{"cuda_nvcc": {"version": ' + a, st.text(max_size=12)),
    st.builds(lambda a: "Package: nvidia-l4t-core\nVersion: " + a, st.text(max_size=20)),
)


@pytest.mark.parametrize("parser", TEXT_PARSERS, ids=lambda p: p.__name__)
@settings(max_examples=150, deadline=None)
@given(text=_near_miss)
def test_text_parsers_never_crash(parser, text: str) -> None:  # type: ignore[no-untyped-def]
    parser(text)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=256))
def test_device_tree_parsers_never_crash(data: bytes) -> None:
    model = parse_dt_model(data)
    assert model is None or model.isprintable()
    soc = soc_from_compatible(parse_dt_compatible(data))
    assert soc is None or soc.startswith("tegra")


# --- detect_device over the fixture roots --------------------------------------------------------

JETSONS = {
    # root: (l4t, jetpack from dpkg, soc, cuda, cudnn, tensorrt, arch kind, model fragment)
    "jp46-nano-r32.7": ("32.7.1", "4.6.1", "tegra210", "10.2.300", "8.2.1", "8.2.1", "tegra", "Nano"),
    "jp512-xavier-nx-r35.4": ("35.4.1", "5.1.2", "tegra194", "11.4.315", "8.6.0", "8.5.2", "tegra",
                              "Xavier NX"),
    "jp60-orin-nano-r36.3": ("36.3.0", "6.0", "tegra234", "12.2.140", "8.9.4", "8.6.2", "tegra",
                             "Orin Nano"),
    "jp62-agx-orin-r36.4.3": ("36.4.3", "6.2", "tegra234", "12.6.68", "9.3.0", "10.3.0", "tegra",
                              "AGX Orin"),
    "jp62-orin-nano-super-r36.4.3": ("36.4.3", None, "tegra234", "12.6.68", "9.3.0", "10.3.0",
                                     "tegra", "Super"),
    "jp70-thor-r38.2": ("38.2.2", "7.0", "tegra264", "13.0.48", "9.12.0", "10.13.3", "sbsa", "Thor"),
    "jp71-thor-r38.4": ("38.4.0", "7.1", "tegra264", "13.0.88", "9.12.0", "10.13.3", "sbsa", "Thor"),
    "jp72-agx-orin-r39.0": ("39.0.0", "7.2", "tegra234", "13.2.51", "9.20.0", "10.16.0", "sbsa",
                            "AGX Orin"),
    "r40-future-thor": ("40.0.0", None, "tegra264", "13.2.51", "9.20.0", "10.16.0", "sbsa", "Thor"),
}


def _value(fact):  # type: ignore[no-untyped-def]
    return fact.value if fact is not None else None


@pytest.mark.parametrize("name", sorted(JETSONS))
def test_fixture_jetsons(name: str) -> None:
    l4t, jetpack, soc, cuda, cudnn, trt, kind, model = JETSONS[name]
    root = ROOTS / name
    device = detect_device(root)
    assert device.is_jetson
    assert device.warnings == ()
    assert (_value(device.l4t), _value(device.jetpack), _value(device.soc)) == (l4t, jetpack, soc)
    assert (_value(device.cuda), _value(device.cudnn), _value(device.tensorrt)) == (cuda, cudnn, trt)
    assert _value(device.arch_kind) == kind
    assert device.model is not None and model in device.model.value
    assert device.kernel is not None and device.kernel.value.endswith("-tegra")
    assert _value(device.in_container) == "no"
    assert device.memory_gib is not None
    # every fact names the file it came from, inside the fixture root
    assert device.l4t is not None and device.l4t.source == str(root / "etc/nv_tegra_release")
    assert device.cuda is not None and device.cuda.source.startswith(str(root / "usr/local/cuda"))
    assert device.gpu_name is None  # nvidia-smi is asked only when the root is /


def test_agx_orin_symlinks_resolve_inside_the_root() -> None:
    # proc/device-tree -> /sys/firmware/devicetree/base and cudnn_version.h ->
    # /etc/alternatives/... are absolute links, as on a real JetPack 6 image
    root = ROOTS / "jp62-agx-orin-r36.4.3"
    assert os.readlink(root / "proc/device-tree").startswith("/")
    device = detect_device(root)
    assert device.model is not None and device.model.value == "NVIDIA Jetson AGX Orin Developer Kit"
    assert device.cudnn is not None and device.cudnn.value == "9.3.0"
    assert device.jetpack is not None
    assert device.jetpack.source.endswith("var/lib/dpkg/status (nvidia-jetpack 6.2+b77)")


def test_absolute_links_never_reach_the_host(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    # on the host /etc/hostname exists; inside this root it does not
    os.symlink("/etc/hostname", tmp_path / "etc" / "nv_tegra_release")
    os.symlink("/proc/self/status", tmp_path / "meminfo-link")
    device = detect_device(tmp_path)
    assert device.l4t is None
    assert not device.is_jetson
    assert device.warnings == ()


def test_x86_workstation_is_not_a_jetson() -> None:
    device = detect_device(ROOTS / "x86-workstation")
    assert not device.is_jetson
    assert device.l4t is None and device.soc is None and device.arch_kind is None
    assert _value(device.cuda) == "12.4.131"
    assert _value(device.kernel) == "6.8.0-45-generic"
    assert device.warnings == ()


def test_fixture_roots_match_the_golden_snapshot() -> None:
    assert (Path(__file__).parent / "golden" / "roots.txt").read_text(encoding="utf-8") == (
        render_golden(load_builtin_knowledge())), (
        "tests/device/golden/roots.txt is stale: run "
        "`.venv/bin/python -m tests.device.golden > tests/device/golden/roots.txt`")


def test_h200_host_reads_the_driver_and_the_gpu() -> None:
    root = ROOTS / "h200-x86_64-driver580"
    device = fixture_device(root.name)
    assert not device.is_jetson
    assert device.driver is not None and device.driver.value == "580.159.04"
    assert device.driver.source == str(root / "sys/module/nvidia/version")
    assert _value(device.gpu_name) == "NVIDIA H200" and _value(device.gpu_capability) == "9.0"
    assert device.gpu_capability is not None and device.gpu_capability.source == "nvidia-smi " + " ".join(
        QUERY_ARGS)
    # no version.json on that host: the directory /usr/local/cuda leads to names the toolkit
    assert device.cuda is not None and device.cuda.value == "13.0"
    assert "directory name" in device.cuda.source
    assert _value(device.in_container) == "yes"
    assert device.warnings == ()


def test_procfs_driver_file_when_sysfs_has_none(tmp_path: Path) -> None:
    (tmp_path / "proc/driver/nvidia").mkdir(parents=True)
    (tmp_path / "proc/driver/nvidia/version").write_text(H200_NVRM)
    device = detect_device(tmp_path)
    assert device.driver is not None and device.driver.value == "580.159.04"
    assert device.driver.source.endswith("proc/driver/nvidia/version")


def test_no_nvidia_gpu_means_no_driver_and_no_gpu() -> None:
    device = fixture_device("x86-workstation")
    assert device.driver is None and device.gpu_name is None and device.gpu_capability is None


def test_nvidia_smi_without_compute_cap_falls_back_to_its_list(tmp_path: Path) -> None:
    answers = {"-L": "GPU 0: Tesla K80 (UUID: GPU-0)\n"}
    device = detect_device(tmp_path, nvidia_smi=lambda args: answers.get(args[0]))
    assert device.gpu_name is not None and device.gpu_name.value == "Tesla K80"
    assert device.gpu_name.source == "nvidia-smi -L" and device.gpu_capability is None


def test_container_with_only_nv_tegra_release() -> None:
    root = ROOTS / "container-tegra-release-only"
    device = detect_device(root)
    assert device.is_jetson
    assert _value(device.l4t) == "36.4.3"
    assert device.in_container is not None
    assert device.in_container.value == "yes" and device.in_container.source == str(root / ".dockerenv")
    assert device.cuda is None and device.soc is None


@pytest.mark.parametrize(
    ("name", "bad_files"),
    [
        ("broken-empty", ["etc/nv_tegra_release", "proc/device-tree/model",
                          "usr/local/cuda/version.json"]),
        ("broken-garbage", ["etc/nv_tegra_release", "proc/device-tree/model",
                            "usr/local/cuda/version.json",
                            "usr/include/aarch64-linux-gnu/cudnn_version.h", "proc/meminfo"]),
        ("broken-truncated", ["etc/nv_tegra_release", "proc/device-tree/compatible",
                              "usr/local/cuda/version.json",
                              "usr/include/aarch64-linux-gnu/cudnn_version.h",
                              "usr/include/aarch64-linux-gnu/NvInferVersion.h"]),
    ],
)
def test_broken_files_warn_and_carry_on(name: str, bad_files: list[str]) -> None:
    root = ROOTS / name
    device = detect_device(root)
    for rel in bad_files:
        assert any(w.startswith(str(root / rel) + ":") for w in device.warnings), (rel, device.warnings)
    assert len(device.warnings) == len(bad_files)
    # the other sources still answer: the L4T comes from dpkg, the kernel says Tegra
    assert device.is_jetson
    assert device.l4t is not None and device.l4t.value == "36.4.3"
    assert "nvidia-l4t-core" in device.l4t.source
    assert _value(device.arch_kind) == "tegra"


def test_l4t_disagreement_is_a_warning(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 1, BOARD: generic, EABI: aarch64\n"
    )
    (tmp_path / "var/lib/dpkg").mkdir(parents=True)
    (tmp_path / "var/lib/dpkg/status").write_text(
        "Package: nvidia-l4t-core\nStatus: install ok installed\nVersion: 35.4.1-20230801124926\n"
    )
    device = detect_device(tmp_path)
    assert _value(device.l4t) == "36.4.3"
    assert any("L4T differs" in w and "35.4.1" in w for w in device.warnings)


def test_unreadable_file_is_a_warning(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads everything; a directory where a file belongs is unreadable for anyone
        (tmp_path / "etc/nv_tegra_release").mkdir(parents=True)
        (tmp_path / "etc/nv_tegra_release/x").write_text("")
    else:
        (tmp_path / "etc").mkdir()
        path = tmp_path / "etc/nv_tegra_release"
        path.write_text("# R36 (release), REVISION: 4.3\n")
        path.chmod(0)
    device = detect_device(tmp_path)
    assert device.l4t is None
    assert [w for w in device.warnings if "nv_tegra_release: cannot be read" in w]


def test_nvidia_smi_is_asked_only_for_the_real_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'GPU 0: NVIDIA Thor (UUID: GPU-00000000-1111-2222-3333-444455556666)'\n")
    smi.chmod(smi.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    on_host = detect_device("/")
    assert on_host.gpu_name is not None
    assert on_host.gpu_name.value == "NVIDIA Thor" and on_host.gpu_name.source == "nvidia-smi -L"
    # this build machine has no CUDA targets dir, so the Thor name is the SBSA evidence
    if on_host.arch_kind is not None and on_host.arch_kind.source == "nvidia-smi -L":
        assert on_host.arch_kind.value == "sbsa"
    in_fixture = detect_device(ROOTS / "jp70-thor-r38.2")
    assert in_fixture.gpu_name is None


def test_nvidia_smi_failure_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    smi = bindir / "nvidia-smi"
    smi.write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n")
    smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    assert detect.query_nvidia_smi() is None
    assert detect_device("/").gpu_name is None


def test_live_root_reads_procfs() -> None:
    # procfs refuses a single multi-megabyte read; the kernel release must still come through
    device = detect_device("/")
    assert device.kernel is not None
    assert device.kernel.value == os.uname().release
    assert device.kernel.source == "/proc/sys/kernel/osrelease"
    assert not [w for w in device.warnings if w.startswith("/proc/")]



def test_live_root_kernel_read_refused_falls_back_to_uname_without_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Some kernels answer a procfs read with ENOMEM; on the running system that is no fault of the user's.
    real = detect._read_limited

    def refuse_osrelease(path: Path) -> bytes:
        if str(path).endswith("kernel/osrelease"):
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        return real(path)

    monkeypatch.setattr(detect, "_read_limited", refuse_osrelease)
    device = detect_device("/")
    assert device.kernel is not None
    assert device.kernel.value == os.uname().release
    assert device.kernel.source == "uname"
    assert not [w for w in device.warnings if "osrelease" in w]


def test_fixture_root_unreadable_kernel_file_is_a_warning_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Under a --root the running kernel is not the target's: no uname fallback, and the user hears why.
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/osrelease").write_text("5.15.148-tegra\n")
    real = detect._read_limited

    def refuse_osrelease(path: Path) -> bytes:
        if str(path).endswith("kernel/osrelease"):
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        return real(path)

    monkeypatch.setattr(detect, "_read_limited", refuse_osrelease)
    device = detect_device(str(tmp_path))
    assert device.kernel is None
    assert f"{tmp_path}/proc/sys/kernel/osrelease: cannot be read (Cannot allocate memory)" in device.warnings


_EVIDENCE = [
    "etc/nv_tegra_release", "var/lib/dpkg/status", "proc/device-tree/model",
    "proc/device-tree/compatible", "proc/sys/kernel/osrelease", "usr/local/cuda/version.json",
    "usr/local/cuda/version.txt", "usr/include/aarch64-linux-gnu/cudnn_version.h",
    "usr/include/aarch64-linux-gnu/NvInferVersion.h", "proc/meminfo", "proc/1/cgroup",
]


@settings(max_examples=60, deadline=None)
@given(contents=st.lists(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)),
                         min_size=len(_EVIDENCE), max_size=len(_EVIDENCE)))
def test_detect_device_never_crashes_on_any_file_contents(
    tmp_path_factory: pytest.TempPathFactory, contents: list[bytes]
) -> None:
    root = tmp_path_factory.mktemp("fuzzroot")
    for rel, data in zip(_EVIDENCE, contents, strict=True):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    device = detect_device(root)
    for warning in device.warnings:
        assert warning.startswith(str(root)) or warning.startswith("L4T differs")
