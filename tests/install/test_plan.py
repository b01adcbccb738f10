"""The plan builder, the re-assert rule and the consistency check, on synthesised environments."""

from __future__ import annotations

from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from jetpip.errors import LockError, UsageError
from jetpip.install.engines import Engine, pick_engine
from jetpip.install.fits import check_lock_fits
from jetpip.install.plan import build_plan, mismatch
from jetpip.install.verify import check_consistency, reassert, satisfies
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import Device, InstalledDist, Interpreter, Target

JETSON = "http://127.0.0.1:1/jp6/cu126/+f/abc/def"
BASE = "http://127.0.0.1:1/files/aa"
MARKERS = {"python_version": "3.10", "platform_machine": "aarch64", "sys_platform": "linux",
           "python_full_version": "3.10.12", "implementation_name": "cpython"}


def pkg(name: str, version: str, *, guarded: bool = False, tag: str = "cp310-cp310-linux_aarch64",
        requires: tuple[str, ...] = (), sha: str | None = "0" * 64) -> LockedPackage:
    fname = f"{name.replace('-', '_')}-{version}-{tag}.whl"
    return LockedPackage(name=name, version=version, url=f"{JETSON if guarded else BASE}/{fname}",
                         filename=fname, sha256=sha, guarded=guarded, requires=requires)


def dist(name: str, version: str, *, direct_url: str | None = None, tags: tuple[str, ...] = (),
         system: bool = False, requires: tuple[str, ...] = ()) -> InstalledDist:
    return InstalledDist(name=name, version=version, location=f"/venv/{name}.dist-info",
                         requires=requires, direct_url=direct_url, wheel_tags=tags, in_system_site=system)


def interp(*dists: InstalledDist) -> Interpreter:
    return Interpreter(executable="/venv/bin/python", version="3.10.12", implementation="cpython",
                       platforms=("linux_aarch64",), markers=MARKERS, abi="cp310", is_venv=True,
                       pip_version="24.0", installed=dists)


PIP = Engine("pip", "/venv/bin/python", ("/venv/bin/python", "-m", "pip"), "pip 24.0")
UV = Engine("uv", "/venv/bin/python", ("/opt/uv", "pip"), "uv 0.9.0")

TORCH = pkg("torch", "2.8.0", guarded=True)
ORT_GPU = pkg("onnxruntime-gpu", "1.23.0", guarded=True)
NUMPY = pkg("numpy", "1.26.4", tag="py3-none-any")


def test_fresh_environment_fetches_then_installs_guarded_first_then_the_rest_by_file_and_hash() -> None:
    plan = build_plan(Lock(packages=(NUMPY, TORCH)), interp(), engine=PIP, workdir="/tmp/w", files_dir="/c")
    assert [s.kind for s in plan.steps] == ["guarded", "install"]
    assert [(f.package.url, f.path) for f in plan.fetches] == [
        (NUMPY.url, f"/c/{'0' * 64}/{NUMPY.filename}"), (TORCH.url, f"/c/{'0' * 64}/{TORCH.filename}")]
    guarded, rest = plan.steps
    assert guarded.argv == (
        "/venv/bin/python", "-m", "pip", "install", "--no-deps", "--no-index",
        "--disable-pip-version-check", "--no-compile", "--require-hashes", "-r", "/tmp/w/01-guarded.txt",
    )
    zeros = '0' * 64
    # pip gets a bare file URL: the pip of Python 3.6 (18.1) reads `name @ file:` as a file name.
    assert guarded.requirements == (f"file:///c/{zeros}/{TORCH.filename} --hash=sha256:{zeros}",)
    assert rest.requirements == (f"file:///c/{'0' * 64}/{NUMPY.filename} --hash=sha256:{'0' * 64}",)
    with_uv = build_plan(Lock(packages=(NUMPY, TORCH)), interp(), engine=UV, workdir="/tmp/w", files_dir="/c")
    assert with_uv.steps[0].requirements == (
        f"torch @ file:///c/{zeros}/{TORCH.filename} --hash=sha256:{zeros}",)
    text = plan.render()
    assert "engine: pip 24.0 (the target's own)" in text
    assert "fetch 2 files into jetpip's cache" in text and f"   {TORCH.filename}  {TORCH.url}" in text
    assert "--require-hashes -r /tmp/w/01-guarded.txt" in text
    assert "re-assert" in text and "torch 2.8.0" in text


def test_a_fetched_file_keeps_one_path_across_runs_and_another_hash_gets_another(tmp_path: Path) -> None:
    # uv reuses what it unpacked from a local wheel only when the path is the same as last time
    first = build_plan(Lock(packages=(TORCH,)), interp(), engine=UV, workdir=str(tmp_path / "a"))
    again = build_plan(Lock(packages=(TORCH,)), interp(), engine=UV, workdir=str(tmp_path / "b"))
    assert [f.path for f in first.fetches] == [f.path for f in again.fetches]
    assert not first.fetches[0].path.startswith(str(tmp_path))  # not under a run's own folder
    reuploaded = pkg("torch", "2.8.0", guarded=True, sha="1" * 64)  # same file name, other bytes
    other = build_plan(Lock(packages=(reuploaded,)), interp(), engine=UV, workdir=str(tmp_path / "a"))
    assert other.fetches[0].path != first.fetches[0].path


def test_the_uv_engine_runs_the_same_steps_with_its_own_commands() -> None:
    env = interp(dist("torch", "2.8.0", tags=("cp310-cp310-manylinux_2_28_aarch64",)))
    plan = build_plan(Lock(packages=(NUMPY, TORCH)), env, engine=UV, workdir="/tmp/w")
    assert [s.kind for s in plan.steps] == ["uninstall", "guarded", "install"]
    assert plan.steps[0].argv == ("/opt/uv", "pip", "uninstall", "--python", "/venv/bin/python", "torch")
    assert plan.steps[1].argv == (
        "/opt/uv", "pip", "install", "--python", "/venv/bin/python", "--no-deps", "--no-index", "--offline",
        "--require-hashes", "-r", "/tmp/w/02-guarded.txt",
    )
    forced = plan.reassert_step([TORCH]).argv
    assert "--reinstall" in forced and forced[-2:] == ("-r", "/tmp/w/reassert.txt")
    doc = plan.to_json()
    assert doc["engine"]["name"] == "uv" and doc["steps"][1]["argv"][0] == "/opt/uv"


def test_bytecode_and_consent_options_reach_every_command() -> None:
    for name, compiled in (("uv", "--compile-bytecode"), ("pip", None)):
        engine = pick_engine(interp(), name, compile_bytecode=True, break_system_packages=True)  # type: ignore[arg-type]
        install, uninstall = engine.install("/r.txt", hashed=True), engine.uninstall(["x"])
        assert "--break-system-packages" in install and "--break-system-packages" in uninstall
        assert "--no-compile" not in install
        assert compiled is None or compiled in install


def test_uv_that_cannot_run_falls_back_to_pip_and_says_why(tmp_path: Path) -> None:
    broken = tmp_path / "uv"
    broken.write_text("not a program")  # not executable
    engine = pick_engine(interp(), env={"JETPIP_UV": str(broken)})
    assert engine.name == "pip" and engine.program == ("/venv/bin/python", "-m", "pip")
    assert engine.why and engine.why.startswith(f"uv is not used, because {broken} does not run here")
    with pytest.raises(UsageError) as err:
        pick_engine(interp(), "uv", env={"JETPIP_UV": str(broken)})
    assert "--installer uv, but" in str(err.value) and err.value.hint and "JETPIP_UV" in err.value.hint


def test_uv_is_the_default_engine() -> None:
    engine = pick_engine(interp())
    assert engine.name == "uv" and engine.why is None
    assert engine.version and engine.version.startswith("uv ")


def test_satisfied_environment_is_a_noop_that_says_so() -> None:
    env = interp(dist("torch", "2.8.0", direct_url=TORCH.url), dist("numpy", "1.26.4"))
    plan = build_plan(Lock(packages=(NUMPY, TORCH)), env)
    assert plan.is_noop
    assert "nothing to do: all 2 packages are already installed as planned" in plan.render()


def test_pypi_torch_of_the_same_version_is_uninstalled_then_replaced() -> None:
    env = interp(dist("torch", "2.8.0", tags=("cp310-cp310-manylinux_2_28_aarch64",)))
    plan = build_plan(Lock(packages=(TORCH,)), env)
    assert [s.kind for s in plan.steps] == ["uninstall", "guarded"]
    assert plan.steps[0].names == ("torch",)
    (action,) = plan.actions
    assert action.kind == "replace" and "manylinux_2_28_aarch64" in action.reason


def test_cpu_onnxruntime_is_removed_and_a_kept_gpu_build_reinstalled() -> None:
    env = interp(dist("onnxruntime", "1.23.0"), dist("onnxruntime-gpu", "1.23.0", direct_url=ORT_GPU.url))
    plan = build_plan(Lock(packages=(ORT_GPU,)), env)
    assert plan.steps[0].names == ("onnxruntime", "onnxruntime-gpu")
    assert plan.steps[1].names == ("onnxruntime-gpu",)
    removed = [a for a in plan.actions if a.kind == "remove"]
    assert [a.name for a in removed] == ["onnxruntime"]
    assert "shadows onnxruntime-gpu" in removed[0].reason


def test_torchvision_built_for_the_old_torch_is_removed_when_torch_changes() -> None:
    env = interp(dist("torch", "2.3.0"), dist("torchvision", "0.18.0"))
    plan = build_plan(Lock(packages=(TORCH,)), env)
    assert plan.steps[0].names == ("torch", "torchvision")
    reasons = {a.name: a.reason for a in plan.actions}
    assert "another torch" in reasons["torchvision"]


def test_torchvision_is_left_alone_when_torch_is_kept() -> None:
    env = interp(dist("torch", "2.8.0", direct_url=TORCH.url), dist("torchvision", "0.18.0"))
    assert build_plan(Lock(packages=(TORCH,)), env).is_noop


def test_sync_removes_extras_but_keeps_pip_tools_and_system_site_packages() -> None:
    env = interp(dist("pip", "24.0"), dist("setuptools", "70"), dist("wheel", "0.43"),
                 dist("requests", "2.0"), dist("tensorrt", "10.3.0", system=True),
                 dist("numpy", "1.26.4"))
    plan = build_plan(Lock(packages=(NUMPY,)), env, mode="sync")
    (step,) = plan.steps
    assert step.kind == "uninstall" and step.names == ("requests",)
    install = build_plan(Lock(packages=(NUMPY,)), env, mode="install")
    assert install.is_noop


def test_system_copy_of_a_guarded_name_is_shadowed_not_uninstalled() -> None:
    env = interp(dist("torch", "2.1.0", system=True))
    plan = build_plan(Lock(packages=(TORCH,)), env)
    assert [s.kind for s in plan.steps] == ["guarded"]


def test_files_without_a_hash_get_their_own_step_without_require_hashes() -> None:
    bare = pkg("local-thing", "1.0", tag="py3-none-any", sha=None)
    plan = build_plan(Lock(packages=(NUMPY, bare)), interp())
    assert [("--require-hashes" in s.argv) for s in plan.steps] == [True, False]


def test_wheelhouse_files_are_installed_as_they_are_and_not_fetched() -> None:
    files = {TORCH.filename: "/wh/" + TORCH.filename}
    plan = build_plan(Lock(packages=(TORCH, NUMPY)), interp(), local_files=files)
    assert plan.steps[0].requirements[0].startswith(f"torch @ file:///wh/{TORCH.filename} --hash=")
    assert [f.package.name for f in plan.fetches] == ["numpy"]


def test_mismatch_reads_direct_url_then_wheel_tags() -> None:
    assert mismatch(TORCH, dist("torch", "2.8.0", direct_url=TORCH.url)) is None
    assert mismatch(TORCH, dist("torch", "2.8.0", tags=("cp310-cp310-linux_aarch64",))) is None
    why = mismatch(TORCH, dist("torch", "2.8.0", direct_url=f"{BASE}/torch-2.8.0-cp310-cp310-x.whl"))
    assert why == f"installed from torch-2.8.0-cp310-cp310-x.whl, not {TORCH.filename}"
    assert mismatch(TORCH, dist("torch", "2.9.0")) == "version 2.9.0, not the planned 2.8.0"


def test_reassert_lists_missing_and_foreign_builds() -> None:
    env = interp(dist("torch", "2.9.0"))
    found = reassert([TORCH, ORT_GPU], env)
    assert [str(m) for m in found] == [
        "torch: version 2.9.0, not the planned 2.8.0", "onnxruntime-gpu: not installed",
    ]


@pytest.mark.parametrize(("spec", "version", "guarded", "ok"), [
    (">=2.1", "2.1.0a0+41361538.nv23.06", True, True),
    ("==2.1.0", "2.1.0a0+41361538.nv23.06", True, True),
    (">=2.1", "2.1.0a0+41361538.nv23.06", False, False),
    (">=2.2", "2.1.0a0+41361538.nv23.06", True, False),
    ("<2", "2.0.0", False, False),
    (">=1.0", "1.1rc1", False, True),
])
def test_prerelease_policy(spec: str, version: str, guarded: bool, ok: bool) -> None:
    assert satisfies(SpecifierSet(spec), version, guarded=guarded) is ok


def test_consistency_check_reports_broken_and_missing_requirements() -> None:
    env = interp(
        dist("torch", "2.1.0a0+41361538.nv23.06"),
        dist("app", "1.0", requires=("torch>=2.1", "numpy<2", "missing-thing",
                                     'winonly; sys_platform == "win32"', 'extra-only; extra == "x"')),
        dist("numpy", "2.1.0"),
    )
    broken = [str(b) for b in check_consistency(env, guarded=["torch"])]
    assert broken == [
        "app 1.0 requires numpy<2, but numpy 2.1.0 is installed",
        "app 1.0 requires missing-thing, which is not installed",
    ]


def _target(**facts: str) -> Target:
    from jetpip.model.target import Fact

    return Target(device=Device(root="/", is_jetson=True), interpreter=interp(),
                  **{k: Fact(v, "test") for k, v in facts.items()})  # type: ignore[arg-type]


def test_lock_for_another_target_is_refused_with_every_difference() -> None:
    lock = Lock(packages=(pkg("torch", "2.8.0", guarded=True, tag="cp312-cp312-linux_aarch64"),),
                target={"cuda": "13.0", "python": "3.12", "l4t": "38.2.2"},
                environments=('python_version == "3.12"',), requires_python="==3.12.*")
    with pytest.raises(LockError) as err:
        check_lock_fits(lock, _target(cuda="12.6", l4t="36.4.3"))
    text = str(err.value)
    assert "was made for another target" in text
    assert "locked for CUDA 13.0, this target has 12.6" in text
    assert "locked for L4T major 38, this target has 36" in text
    assert "requires-python ==3.12.*, this is Python 3.10.12" in text
    assert "does not install on this interpreter" in text
    assert err.value.hint and "jetpip lock" in err.value.hint


def test_lock_for_this_target_passes() -> None:
    lock = Lock(packages=(TORCH,), target={"cuda": "12.6", "python": "3.10", "l4t": "36.4.3"},
                environments=('python_version == "3.10" and platform_machine == "aarch64"',))
    check_lock_fits(lock, _target(cuda="12.6", l4t="36.4.3"))


def test_system_site_requirements_count_only_where_the_venv_shadows_them() -> None:
    env = interp(
        dist("numpy", "2.1.0"),
        dist("opencv", "4.8.0", system=True, requires=("numpy<2", "absent-system-dep")),
        dist("other", "1.0", system=True, requires=("numpy-financial",)),
    )
    assert [str(b) for b in check_consistency(env)] == [
        "opencv 4.8.0 requires numpy<2, but numpy 2.1.0 is installed",
    ]


def test_a_requirement_on_the_cpu_name_is_met_by_the_gpu_build() -> None:
    env = interp(dist("onnxruntime-gpu", "1.23.0"), dist("app", "1.0", requires=("onnxruntime>=1.20",)),
                 dist("old", "1.0", requires=("onnxruntime>=1.24",)))
    broken = [str(b) for b in check_consistency(env, substitutions={"onnxruntime": "onnxruntime-gpu"})]
    assert broken == ["old 1.0 requires onnxruntime>=1.24, but onnxruntime-gpu 1.23.0 is installed"]
