"""jetpip doctor against real venvs that really have each problem (stand-in packages, real pip)."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from click.testing import CliRunner

from jetpip.cli import cli
from jetpip.doctor.checks import Check, Facts, arch_coverage, interpreter_checks
from jetpip.doctor.run import DoctorContext, DoctorReport, diagnose
from jetpip.errors import InterpreterError
from jetpip.model.sources import Route, Source
from jetpip.model.urls import Url
from tests.support.wheels import WheelSpec, build_wheel, host_platform_tag

JETSON_TAG = f"py3-none-{host_platform_tag()}"  # what a Jetson index build carries on this machine
PYPI_TAG = f"py3-none-manylinux_2_17_{platform.machine()}"  # a base-index build
NMS = "operator torchvision::nms does not exist"
NUMPY_MSG = (
    "\\nA module that was compiled using NumPy 1.x cannot be run in\\n"
    "NumPy 2.2.6 as it may crash. To support both 1.x and 2.x\\n"
    "versions of NumPy, modules must be compiled with NumPy 2.0.\\n"
)


# --- stand-in packages ------------------------------------------------------------------


def fake_torch(version: str, *, cuda: str | None, available: bool = True,
               capability: tuple[int, int] = (8, 7), arch: Iterable[str] = ("sm_87",), device: str = "Orin",
               prelude: str = "", warn: str | None = None) -> dict[str, str]:
    """A torch package whose torch.cuda answers as the case needs."""
    arch_flags = " ".join(arch)
    body = f'''{prelude}
__version__ = {version!r}
import warnings as _w

class version:
    cuda = {cuda!r}

class _C:
    @staticmethod
    def _cuda_getArchFlags():
        return {arch_flags!r} if version.cuda else None

class cuda:
    @staticmethod
    def is_available():
        {f"_w.warn({warn!r})" if warn else "pass"}
        return {available!r} and version.cuda is not None
    @staticmethod
    def get_arch_list():
        return {arch_flags!r}.split() if cuda.is_available() else []
    @staticmethod
    def get_device_name(i=0):
        return {device!r}
    @staticmethod
    def get_device_capability(i=0):
        return {capability!r}
    @staticmethod
    def device_count():
        return 1

class backends:
    class cudnn:
        @staticmethod
        def version():
            return 90300 if version.cuda else None

class ops:
    class torchvision:
        nms = object()
'''
    files = {"torch/__init__.py": body}
    if cuda:
        files["torch/lib/libtorch_cuda.so"] = ""  # what a CUDA build's RECORD lists
    return files


def wheel(wheels: Path, name: str, version: str, tag: str = JETSON_TAG, **kw: object) -> Path:
    return build_wheel(wheels, WheelSpec(name=name, version=version, tag=tag, **kw)).path  # type: ignore[arg-type]


# --- real venvs ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def venv_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One venv with pip, made once; cases copy it (making a venv with pip takes seconds)."""
    path = tmp_path_factory.mktemp("template") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", str(path)], check=True, capture_output=True)
    return path


MakeEnv = Callable[..., Path]


@pytest.fixture(scope="session")
def make_env(venv_template: Path, tmp_path_factory: pytest.TempPathFactory) -> MakeEnv:
    """``make_env(name, wheels, system_site=False, pip=True) -> python``: a venv with the wheels installed."""

    def _make(name: str, wheels: Iterable[Path], *, system_site: bool = False, pip: bool = True) -> Path:
        root = tmp_path_factory.mktemp(name) / "venv"
        shutil.copytree(venv_template, root, symlinks=True)
        py = root / "bin" / "python"
        paths = [str(w) for w in wheels]
        if paths:
            subprocess.run(
                [str(py), "-m", "pip", "--isolated", "--disable-pip-version-check", "install",
                 "--no-index", "--no-deps", "--no-compile", "-q", *paths],
                check=True, capture_output=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
            )
        if system_site:
            cfg = root / "pyvenv.cfg"
            cfg.write_text(cfg.read_text().replace("include-system-site-packages = false",
                                                   "include-system-site-packages = true"))
        if not pip:
            subprocess.run([str(py), "-m", "pip", "--isolated", "uninstall", "-y", "-q", "pip"],
                           check=True, capture_output=True)
        return py

    return _make


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("jetson-wheels")


def jp6_route(wheels: Path) -> Route:
    src = Source(name="jetson-ai-lab jp6/cu126 (test mirror)", kind="flat", url=Url.parse(wheels.as_uri()),
                 jetson=True, platforms=(host_platform_tag(),))
    return Route(key="jp6-cu126", summary="JetPack 6, CUDA 12.6", sources=(src,),
                 guarded=frozenset({"torch", "torchvision", "torchaudio", "onnxruntime-gpu"}),
                 constraints=("numpy<2",))


def orin(route: Route | None, root: Path | str = "/") -> DoctorContext:
    return DoctorContext(root=str(root), is_jetson=True, compute_capability="8.7",
                         compute_capability_source="tegra234", cuda="12.6", arch_kind="tegra",
                         summary="Jetson AGX Orin", route=route)


def by_id(report: DoctorReport) -> dict[str, Check]:
    return {c.id: c for c in report.checks}


# --- a healthy Jetson environment --------------------------------------------------------


@pytest.fixture(scope="session")
def healthy(make_env: MakeEnv, wheels: Path) -> Path:
    return make_env("healthy", [
        wheel(wheels, "torch", "2.8.0", files=fake_torch("2.8.0", cuda="12.6")),
        wheel(wheels, "torchvision", "0.23.0", requires=["torch==2.8.0"],
              files={"torchvision/ops/__init__.py": ""}),
        wheel(wheels, "numpy", "1.26.4"),
        wheel(wheels, "onnxruntime-gpu", "1.23.0", module="onnxruntime", files={
            "onnxruntime/__init__.py": "def get_available_providers():\n"
            "    return ['TensorrtExecutionProvider', 'CUDAExecutionProvider', 'CPUExecutionProvider']\n"}),
    ], system_site=True)


def test_healthy_jetson_env_passes_every_check(healthy: Path, wheels: Path, tmp_path: Path) -> None:
    libdir = tmp_path / "usr/lib/aarch64-linux-gnu"
    libdir.mkdir(parents=True)
    (libdir / "libcudnn.so.9").write_bytes(b"")
    report = diagnose(str(healthy), orin(jp6_route(wheels), tmp_path))
    checks = by_id(report)
    assert report.ok, [c for c in report.checks if c.status != "ok"]
    assert checks["torch.cuda_build"].message == "torch 2.8.0: a CUDA 12.6 build"
    assert checks["torch.gpu"].message == "torch sees Orin (compute capability 8.7)"
    assert checks["torch.arch"].message.startswith("sm_87 is in the arch list")
    assert "jetson-ai-lab jp6/cu126 (test mirror)" in checks["torch.source"].message
    assert checks["torchvision.matches_torch"].status == "ok"
    assert "CUDAExecutionProvider" in checks["onnxruntime.providers"].message
    assert checks["numpy.abi"].message == "numpy 1.26.4 (route constraint numpy<2 holds)"
    assert checks["libs.libcudnn.so.9"].message == f"libcudnn.so.9 at {libdir / 'libcudnn.so.9'}"
    assert "interpreter.system_site_packages" not in checks


def test_missing_cudnn9_is_named_with_the_apt_fix(healthy: Path, wheels: Path, tmp_path: Path) -> None:
    report = diagnose(str(healthy), orin(jp6_route(wheels), tmp_path))  # an empty root: no cuDNN anywhere
    check = by_id(report)["libs.libcudnn.so.9"]
    assert check.status == "fail"
    assert "needed by torch 2.8.0 (built against cuDNN 9); onnxruntime-gpu 1.23.0" in check.message
    assert check.fix == ("sudo apt-get install libcudnn9-cuda-12",)
    assert not report.ok


def test_cli_json_schema_on_a_non_jetson(healthy: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--python", str(healthy), "--root", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["schema"] == "jetpip.doctor/1"
    assert data["ok"] is True
    assert data["python"]["executable"] == str(healthy)
    assert set(data["counts"]) == {"ok", "warn", "fail", "error", "skip"}
    first = data["checks"][0]
    assert set(first) == {"id", "title", "status", "message", "fix", "details"}
    ids = [c["id"] for c in data["checks"]]
    assert ids[:2] == ["interpreter.pip", "interpreter.externally_managed"]
    assert "torch.arch" in ids and "libs.libcudnn.so.9" not in ids  # no Jetson: no Jetson library rules


# --- seed 000: a CPU torch from the base index on a Jetson, with NumPy 2 ----------------


@pytest.fixture(scope="session")
def cpu_torch(make_env: MakeEnv, wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    pypi = tmp_path_factory.mktemp("pypi")
    return make_env("cpu-torch", [
        wheel(pypi, "torch", "2.10.0+cpu", tag=PYPI_TAG, files=fake_torch("2.10.0+cpu", cuda=None)),
        wheel(pypi, "numpy", "2.2.6", tag=PYPI_TAG),
    ])


def test_cpu_torch_on_a_jetson_fails_with_the_fix(cpu_torch: Path, wheels: Path) -> None:
    report = diagnose(str(cpu_torch), orin(jp6_route(wheels)))
    checks = by_id(report)
    py = str(cpu_torch)
    assert checks["torch.cuda_build"].status == "fail"
    message = checks["torch.cuda_build"].message
    assert "torch 2.10.0+cpu is a CPU-only build (torch.version.cuda is None)" in message
    assert "Torch not compiled with CUDA enabled" in message
    assert checks["torch.cuda_build"].fix == (f"jetpip install torch --python {py}",)
    assert checks["torch.gpu"].status == "skip"
    src = checks["torch.source"]
    assert src.status == "fail"
    assert "not a build from route jp6-cu126" in src.message
    assert src.details["wheel_platforms"] == [PYPI_TAG.rsplit("-", 1)[1]]
    numpy = checks["numpy.abi"]
    assert numpy.status == "fail"
    assert "numpy 2.2.6 is installed, but route jp6-cu126's CUDA wheels were built against NumPy <2" \
        in numpy.message
    assert numpy.fix == (f"jetpip install 'numpy<2' --python {py}",)
    # A venv on a Jetson without --system-site-packages hides JetPack's tensorrt.
    assert checks["interpreter.system_site_packages"].status == "warn"
    assert "libs.libcudnn.so.9" not in checks  # a CPU build needs no cuDNN


def test_cli_text_output_and_exit_status(cpu_torch: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--python", str(cpu_torch), "--root", str(tmp_path)])
    assert result.exit_code == 1
    out = result.output
    assert f"jetpip doctor: {cpu_torch} (Python " in out
    assert "FAIL   torch.cuda_build" in out
    assert f"fix: jetpip install torch --python {cpu_torch}" in out
    assert out.rstrip().endswith("problems: 1 failed")


def write_orin_root(root: Path) -> Path:
    """A JetPack 6.2 AGX Orin as its files say it (the forms KNOWLEDGE.md §3 quotes)."""
    (root / "etc").mkdir(parents=True)
    (root / "etc/nv_tegra_release").write_text(
        "# R36 (release), REVISION: 4.3, GCID: 38968081, BOARD: generic, EABI: aarch64, "
        "DATE: Wed Jan  8 01:49:37 UTC 2025\n")
    (root / "proc/device-tree").mkdir(parents=True)
    (root / "proc/device-tree/model").write_bytes(b"NVIDIA Jetson AGX Orin Developer Kit\0")
    (root / "proc/device-tree/compatible").write_bytes(
        b"nvidia,p3737-0000+p3701-0005\0nvidia,p3701-0005\0nvidia,tegra234\0")
    (root / "usr/local/cuda").mkdir(parents=True)
    (root / "usr/local/cuda/version.json").write_text('{"cuda_nvcc": {"version": "12.6.85"}}')
    return root


def test_cli_on_a_detected_orin_uses_the_routes_numpy_constraint(cpu_torch: Path, tmp_path: Path) -> None:
    root = write_orin_root(tmp_path / "orin")
    result = CliRunner().invoke(cli, ["doctor", "--python", str(cpu_torch), "--root", str(root), "--json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    assert data["device"]["is_jetson"] is True
    assert data["device"]["route"] == "jp6-cu126"
    assert data["device"]["compute_capability"] == "8.7"
    assert "JetPack 6.2" in data["device"]["summary"]
    checks = {c["id"]: c for c in data["checks"]}
    assert checks["numpy.abi"]["status"] == "fail"
    assert "route jp6-cu126's CUDA wheels were built against NumPy <2" in checks["numpy.abi"]["message"]
    assert checks["torch.source"]["status"] == "fail"
    assert checks["interpreter.system_site_packages"]["status"] == "warn"


# --- seed 001: stale torchvision, CPU onnxruntime beside onnxruntime-gpu, NumPy 2 --------


@pytest.fixture(scope="session")
def seed001(make_env: MakeEnv, wheels: Path) -> Path:
    numpy_aware = (
        "import sys as _s, numpy as _np\n"
        f"if int(_np.__version__.split('.')[0]) >= 2:\n    _s.stderr.write({NUMPY_MSG!r})\n"
    )
    ort = "def get_available_providers():\n    return {!r}\n"
    return make_env("seed001", [
        wheel(wheels, "torch", "2.8.0", files=fake_torch("2.8.0", cuda="12.6", prelude=numpy_aware)),
        wheel(wheels, "torchvision", "0.16.1", files={
            "torchvision/__init__.py": f"import torch\nraise RuntimeError({NMS!r})\n"}),
        wheel(wheels, "torchaudio", "2.8.0", requires=["torch==2.8.0"]),
        wheel(wheels, "numpy", "2.2.6"),
        wheel(wheels, "onnxruntime-gpu", "1.23.0", module="onnxruntime", files={
            "onnxruntime/__init__.py": ort.format(["CUDAExecutionProvider", "CPUExecutionProvider"])}),
        # Installed last, as a dependency would pull it in: its files overwrite the GPU build's.
        wheel(wheels, "onnxruntime", "1.23.0", tag=PYPI_TAG, files={
            "onnxruntime/__init__.py": ort.format(["AzureExecutionProvider", "CPUExecutionProvider"])}),
    ])


def test_stale_torchvision_is_reported_with_the_nms_text(seed001: Path) -> None:
    checks = by_id(diagnose(str(seed001)))
    tv = checks["torchvision.matches_torch"]
    assert tv.status == "fail"
    assert "torchvision 0.16.1 is built for torch==2.1.* (the torch release pairing)" in tv.message
    assert "but torch 2.8.0 is installed" in tv.message
    assert f"RuntimeError: {NMS}" in tv.message
    assert tv.fix[0] == f"jetpip install 'torch==2.8.0' torchvision --python {seed001}"
    assert checks["torchaudio.matches_torch"].status == "ok"


def test_cpu_onnxruntime_shadowing_the_gpu_build(seed001: Path) -> None:
    checks = by_id(diagnose(str(seed001)))
    assert checks["onnxruntime.shadow"].status == "fail"
    assert "onnxruntime 1.23.0 (CPU) and onnxruntime-gpu 1.23.0 are both installed" in checks[
        "onnxruntime.shadow"].message
    prov = checks["onnxruntime.providers"]
    assert prov.status == "fail"
    assert "CUDAExecutionProvider is not available" in prov.message
    assert "AzureExecutionProvider, CPUExecutionProvider" in prov.message
    assert prov.fix == (f"{seed001} -m pip uninstall -y onnxruntime onnxruntime-gpu",
                        f"jetpip install onnxruntime-gpu --python {seed001}")


def test_numpy2_seen_by_torch_without_a_route(seed001: Path) -> None:
    check = by_id(diagnose(str(seed001)))["numpy.abi"]
    assert check.status == "fail"
    assert "A module that was compiled using NumPy 1.x cannot be run in NumPy 2" in check.message
    assert check.fix == (f"jetpip install 'numpy<2' --python {seed001}",)


# --- Thor with a cu128 wheel: nothing in the arch list runs on sm_110 -------------------


def test_cu128_wheel_on_thor_has_no_kernel_image(make_env: MakeEnv, tmp_path_factory: pytest.TempPathFactory,
                                                  wheels: Path) -> None:
    other = tmp_path_factory.mktemp("pytorch-cu128")
    py = make_env("thor", [wheel(other, "torch", "2.8.0+cu128", tag=PYPI_TAG, files=fake_torch(
        "2.8.0+cu128", cuda="12.8", capability=(11, 0), device="NVIDIA Thor",
        arch=("sm_80", "sm_90", "sm_100", "sm_120", "compute_120")))])
    route = Route(key="sbsa-cu130", summary="Thor", guarded=frozenset({"torch"}), sources=(
        Source(name="jetson-ai-lab sbsa/cu130 (test mirror)", kind="flat", url=Url.parse(wheels.as_uri()),
               jetson=True, platforms=(host_platform_tag(),)),))
    ctx = DoctorContext(is_jetson=True, compute_capability="11.0", cuda="13.0", arch_kind="sbsa", route=route)
    checks = by_id(diagnose(str(py), ctx))
    arch = checks["torch.arch"]
    assert arch.status == "fail"
    listed = "sm_80 sm_90 sm_100 sm_120 compute_120"
    assert f"nothing in torch's arch list ({listed}) runs on compute capability 11.0" in arch.message
    assert "no kernel image is available for execution on the device" in arch.message
    assert arch.fix == (f"jetpip install torch --python {py}", "jetpip hint torch")
    assert checks["torch.source"].status == "fail"


# --- a torch that cannot even be imported --------------------------------------------------


def test_torch_crashing_on_import_is_reported_not_raised(make_env: MakeEnv, wheels: Path) -> None:
    crash = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    py = make_env("crash", [wheel(wheels, "torch", "2.8.0", files={"torch/__init__.py": crash}),
                            wheel(wheels, "torchvision", "0.23.0")])
    result = CliRunner().invoke(cli, ["doctor", "--python", str(py), "--root", "/nonexistent-root"])
    assert result.exit_code == 1, result.output
    assert "ERROR  torch.import" in result.output
    assert "could not run: importing torch crashed with SIGSEGV" in result.output
    assert "could not run: an earlier import crashed with SIGSEGV" in result.output
    assert "problems: " in result.output and "2 could not run" in result.output


def test_torch_hanging_on_import_hits_the_time_limit(make_env: MakeEnv, wheels: Path) -> None:
    hang = "import time\ntime.sleep(300)\n"
    py = make_env("hang", [wheel(wheels, "torch", "2.8.0", files={"torch/__init__.py": hang}),
                           wheel(wheels, "numpy", "1.26.4")])
    # 5 s, not less: the other probes must finish inside the same limit on a loaded machine.
    report = diagnose(str(py), timeout=5)
    checks = by_id(report)
    assert checks["torch.import"].status == "error"
    assert checks["torch.import"].message == "could not run: importing torch timed out after 5 s"
    assert checks["numpy.abi"].status == "ok"  # the other probes still ran
    assert not report.ok


def test_missing_library_at_import_maps_to_the_library_check(make_env: MakeEnv, wheels: Path) -> None:
    text = "raise ImportError('libcudnn.so.9: cannot open shared object file: No such file or directory')\n"
    files = {"torch/__init__.py": text, "torch/lib/libtorch_cuda.so": ""}
    py = make_env("nocudnn", [wheel(wheels, "torch", "2.8.0", files=files)])
    checks = by_id(diagnose(str(py), orin(jp6_route(wheels), "/nonexistent-root")))
    assert checks["torch.import"].status == "fail"
    assert "libcudnn.so.9: cannot open shared object file" in checks["torch.import"].message
    assert checks["torch.cuda_build"].message == "torch 2.8.0: its RECORD lists libtorch_cuda"
    lib = checks["libs.libcudnn.so.9"]
    assert lib.status == "fail"
    assert "torch (import fails without it)" in lib.message
    assert lib.fix == ("sudo apt-get install libcudnn9-cuda-12",)


# --- the interpreter -----------------------------------------------------------------------


def test_venv_without_pip(make_env: MakeEnv) -> None:
    py = make_env("nopip", [], pip=False)
    check = by_id(diagnose(str(py)))["interpreter.pip"]
    assert check.status == "fail"
    assert check.fix == (f"{py} -m ensurepip --upgrade",)


def test_externally_managed_interpreter_gets_the_venv_fix() -> None:
    env = {"has_pip": True, "externally_managed": True, "is_venv": False, "dists": []}
    facts = Facts.build(env, {}, "/usr/bin/python3")
    check = {c.id: c for c in interpreter_checks(facts, DoctorContext(is_jetson=True))}[
        "interpreter.externally_managed"]
    assert check.status == "warn"
    assert "externally-managed-environment" in check.message
    assert check.fix[0] == "python3 -m venv --system-site-packages ~/venv"


@pytest.mark.parametrize("version", ["3.6.15", "3.8.18"])
def test_probe_runs_on_jetpack_era_pythons(version: str) -> None:
    py = Path(f"/root/.pyenv/versions/{version}/bin/python")
    if not py.exists():
        pytest.skip(f"Python {version} is not installed here")
    report = diagnose(str(py))
    assert report.python_version == version
    assert by_id(report)["torch.installed"].status == "skip"


def test_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InterpreterError, match="cannot run the target interpreter"):
        diagnose(str(tmp_path / "nope" / "python"))
    result = CliRunner().invoke(cli, ["doctor", "--python", str(tmp_path / "nope" / "python")])
    assert result.exit_code == 1
    assert "error: --python" in result.output and "no such file" in result.output


def test_cross_target_flags_are_refused() -> None:
    result = CliRunner().invoke(cli, ["doctor", "--python-version", "3.10"])
    assert result.exit_code == 2
    assert "doctor checks a live interpreter" in result.output


# --- the compute capability rule (pure) ---------------------------------------------------


@pytest.mark.parametrize(("arch", "cap", "native", "binary", "ptx"), [
    # seed 003: no sm_89 in the list, but sm_86 cubins run on an L4 (8.9)
    (["sm_75", "sm_80", "sm_86", "sm_90"], "8.9", None, "sm_86", None),
    (["sm_90"], "8.9", None, None, None),
    # a cu128 build on Thor (11.0 under CUDA 13): PTX for 12.0 cannot JIT down to 11.0
    (["sm_80", "sm_90", "sm_100", "sm_120", "compute_120"], "11.0", None, None, None),
    # the sbsa/cu130 build measured on Orin: only sm_110 and sm_121
    (["sm_110", "sm_121"], "8.7", None, None, None),
    # pytorch.org cu130 on Orin: the sm_80 code runs on 8.7
    (["sm_80", "sm_90", "sm_100", "sm_110", "sm_120"], "8.7", None, "sm_80", None),
    (["sm_87"], "8.7", "sm_87", None, None),
    (["compute_80"], "8.7", None, None, "compute_80"),
    (["sm_90a"], "9.0", "sm_90a", None, None),
    (["sm_80a"], "8.7", None, None, None),  # arch-specific code runs only on its exact GPU
    (["sm_110"], "11.0", "sm_110", None, None),
])
def test_arch_coverage(arch: list[str], cap: str, native: str | None, binary: str | None,
                       ptx: str | None) -> None:
    cov = arch_coverage(arch, cap)
    assert (cov.native, cov.binary, cov.ptx) == (native, binary, ptx)
    assert cov.runs == bool(native or binary or ptx)


# --- a CUDA build that cannot see the GPU; an onnxruntime-gpu without its CUDA provider ----


def test_gpu_not_visible_and_cuda_provider_missing(make_env: MakeEnv, wheels: Path) -> None:
    warn = "CUDA initialization: Unexpected error from cudaGetDeviceCount()"
    py = make_env("nogpu", [
        wheel(wheels, "torch", "2.8.0", files=fake_torch("2.8.0", cuda="12.6", available=False, warn=warn)),
        wheel(wheels, "onnxruntime-gpu", "1.23.0", module="onnxruntime", files={
            "onnxruntime/__init__.py": "def get_available_providers():\n"
                                       "    return ['CPUExecutionProvider']\n"}),
    ])
    report = diagnose(str(py), orin(None))
    checks = by_id(report)
    gpu = checks["torch.gpu"]
    assert gpu.status == "fail"
    assert gpu.message == f"torch is a CUDA build but torch.cuda.is_available() is False: {warn}"
    assert "on the device: add your user to the 'video' and 'render' groups" in gpu.fix
    assert checks["torch.cuda_build"].status == "ok"
    prov = checks["onnxruntime.providers"]
    assert prov.status == "fail"
    assert prov.message == ("CUDAExecutionProvider is not available (onnxruntime-gpu lacks it here; "
                            "providers: CPUExecutionProvider)")
    assert not report.ok


# --- system libraries: OpenBLAS for NVIDIA's JP5 builds, NVPL and cuDSS for sbsa/cu130 ----


def test_jp5_redist_torch_needs_openblas(make_env: MakeEnv, wheels: Path, tmp_path: Path) -> None:
    nv = "2.1.0a0+41361538.nv23.06"
    files = fake_torch(nv, cuda="11.4", capability=(7, 2), arch=("sm_72", "sm_87"), device="Xavier")
    py = make_env("jp5", [wheel(wheels, "torch", nv, files=files)])
    ctx = DoctorContext(root=str(tmp_path), is_jetson=True, compute_capability="7.2", cuda="11.4",
                        arch_kind="tegra", summary="Jetson Xavier NX")
    check = by_id(diagnose(str(py), ctx))["libs.libopenblas.so.0"]
    assert check.status == "fail"
    assert check.message == ("libopenblas.so.0 is not on the library path; needed by "
                             f"torch {nv} (NVIDIA's redist builds link OpenBLAS)")
    assert check.fix == ("sudo apt-get install libopenblas-dev",)

    libdir = tmp_path / "usr/lib/aarch64-linux-gnu"
    libdir.mkdir(parents=True)
    (libdir / "libopenblas.so.0").write_bytes(b"")
    again = by_id(diagnose(str(py), ctx))
    assert again["libs.libopenblas.so.0"].status == "ok"
    assert "libs.libcudnn.so.9" not in again  # a torch 2.1 build links cuDNN 8, not 9


def test_sbsa_cu130_torch_needs_nvpl_and_cudss(make_env: MakeEnv, wheels: Path, tmp_path: Path) -> None:
    py = make_env("sbsa", [wheel(wheels, "torch", "2.9.0", files=fake_torch(
        "2.9.0", cuda="13.0", capability=(11, 0), arch=("sm_110",), device="NVIDIA Thor"))])
    ctx = DoctorContext(root=str(tmp_path), is_jetson=True, compute_capability="11.0", cuda="13.0",
                        arch_kind="sbsa", summary="Jetson AGX Thor")
    report = diagnose(str(py), ctx)
    checks = by_id(report)
    for lib, fix in (("libnvpl_blas", "sudo apt-get install nvpl"),
                     ("libcudss.so.0", "sudo apt-get install cudss")):
        assert checks[f"libs.{lib}"].status == "fail"
        assert checks[f"libs.{lib}"].message == (f"{lib} is not on the library path; needed by torch 2.9.0 "
                                                 "(the sbsa/cu130 builds link it undeclared)")
        assert checks[f"libs.{lib}"].fix[0].startswith(fix)
    assert checks["libs.libcudnn.so.9"].fix == ("sudo apt-get install libcudnn9-cuda-13",)
    assert not report.ok

    libdir = tmp_path / "usr/lib/aarch64-linux-gnu"
    libdir.mkdir(parents=True)
    for name in ("libnvpl_blas_lp64_gomp.so.0", "libcudss.so.0", "libcudnn.so.9"):
        (libdir / name).write_bytes(b"")
    fixed = by_id(diagnose(str(py), ctx))
    libs = ("libnvpl_blas", "libcudss.so.0", "libcudnn.so.9")
    assert {fixed[f"libs.{lib}"].status for lib in libs} == {"ok"}


# --- torchaudio on torch's stable ABI; a machine with a discrete GPU ----------------------


def test_torchaudio_from_2_11_goes_with_every_later_torch(make_env: MakeEnv, wheels: Path) -> None:
    # indexes.toml [stable_abi]: one torchaudio >= 2.11 build runs with its torch and every later one
    newer = make_env("ta-newer", [
        wheel(wheels, "torch", "2.12.0", files=fake_torch("2.12.0", cuda="13.0")),
        wheel(wheels, "torchaudio", "2.11.0"),
    ])
    check = by_id(diagnose(str(newer), orin(None)))["torchaudio.matches_torch"]
    assert check.status == "ok", check.message
    older = make_env("ta-older", [
        wheel(wheels, "torch", "2.10.0", files=fake_torch("2.10.0", cuda="13.0")),
        wheel(wheels, "torchaudio", "2.11.0"),
    ])
    check = by_id(diagnose(str(older), orin(None)))["torchaudio.matches_torch"]
    assert check.status == "fail"
    assert "torchaudio 2.11.0 is built for torch>=2.11 (built on torch's stable ABI" in check.message


def gpu_host(route: Route) -> DoctorContext:
    return DoctorContext(root="/", is_jetson=False, compute_capability="9.0",
                         compute_capability_source="nvidia-smi", cuda="13.0",
                         summary="not a Jetson, GPU NVIDIA H200", route=route)


def test_discrete_gpu_host_checks_the_arch_and_refuses_a_cpu_torch(make_env: MakeEnv, wheels: Path) -> None:
    from jetpip.knowledge.base import load_knowledge
    from jetpip.model.target import Device, Fact, Interpreter, TargetOverrides

    kb = load_knowledge(env={})
    device = Device(root="/", is_jetson=False, driver=Fact("580.159.04", "sys/module/nvidia/version"),
                    gpu_capability=Fact("9.0", "nvidia-smi"))
    interp = Interpreter(executable=None, version="3.12.3", implementation="cpython",
                         platforms=("linux_x86_64",), markers={"platform_machine": "x86_64"})
    route = kb.route_for(kb.make_target(device, interp, TargetOverrides()))
    assert route.key == "gpu-x86_64-cu130"
    # As seen on an H200 host: a CUDA 13.0 build with sm_90 in its list
    cuda = make_env("h200-cuda", [wheel(wheels, "torch", "2.11.0", tag=PYPI_TAG, files=fake_torch(
        "2.11.0", cuda="13.0", capability=(9, 0), device="NVIDIA H200",
        arch=("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120")))])
    checks = by_id(diagnose(str(cuda), gpu_host(route)))
    assert checks["torch.arch"].status == "ok" and "sm_90" in checks["torch.arch"].message
    assert checks["torch.source"].status == "ok"
    cpu = make_env("h200-cpu", [wheel(wheels, "torch", "2.11.0+cpu", tag=PYPI_TAG,
                                      files=fake_torch("2.11.0+cpu", cuda=None))])
    source = by_id(diagnose(str(cpu), gpu_host(route)))["torch.source"]
    assert source.status == "fail" and "CPU-only" in source.message
    assert source.fix == (f"jetpip install torch --python {cpu}",)
