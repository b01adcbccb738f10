"""The driver on real venvs with each engine: fetch, plan, run, origins, re-assert, check (no resolver)."""

from __future__ import annotations

import base64
import csv
import dataclasses
import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from uv import find_uv_bin

from jetpip.errors import LockedFileError, PipStepError
from jetpip.index.cache import default_cache_dir
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.install.ahead import Unpacker, Wheel
from jetpip.install.driver import InstallOutcome, RunResult, SubprocessRunner, execute
from jetpip.install.engines import ENGINES, Engine, EngineName, pick_engine
from jetpip.install.fetch import link_of
from jetpip.install.plan import InstallPlan, build_plan
from jetpip.interpreter.probe import probe_interpreter
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import Interpreter
from tests.support.mirror import Mirror
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import (
    build_of,
    commands_naming,
    installed,
    pip_install,
    run_python,
    takes_ctrl_c,
    uv_installs,
    uv_with_log,
)
from tests.support.wheels import BuiltWheel

GUARDED = ("torch", "torchvision", "onnxruntime-gpu")

each_engine = pytest.mark.parametrize("engine", ENGINES)


def served_url(mirror: Mirror, wheel: BuiltWheel, build: str) -> str:
    mount = next(m for m in mirror.server.mounts if m.prefix == ("/jp6/cu126" if build == "jetson"
                                                                  else "/simple"))
    served = next(f for f in mount.files if f.filename == wheel.filename)
    return mirror.server.url + mount.file_path(served)


def locked(mirror: Mirror, name: str, version: str, build: str = "pypi") -> LockedPackage:
    w = mirror.wheel(name, version, build)
    return LockedPackage(name=name, version=version, url=served_url(mirror, w, build),
                         filename=w.filename, sha256=w.sha256, size=w.path.stat().st_size,
                         guarded=build == "jetson", requires=tuple(_requires(w)))


def _requires(w: BuiltWheel) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in w.metadata.decode().splitlines()
            if line.startswith("Requires-Dist:")]


def base_lock(mirror: Mirror, *extra: LockedPackage) -> Lock:
    return Lock(packages=(
        locked(mirror, "torch", "2.8.0", "jetson"),
        locked(mirror, "onnxruntime-gpu", "1.23.0", "jetson"),
        locked(mirror, "numpy", "1.26.4"),
        locked(mirror, "packaging", "24.1"),
        locked(mirror, "typing-extensions", "4.12.2"),
        *extra,
    ))


def store(cache: Path) -> IndexClient:
    # No retries: a test server's 500 must fail the fetch at once.
    return IndexClient(IndexConfig(index_url=None, retries=0), cache_dir=cache)


def plan_for(python: Path, lock: Lock, engine: EngineName, mode: str = "sync",
             compile_bytecode: bool = False) -> InstallPlan:
    before = probe_interpreter(str(python))
    return build_plan(lock, before, mode=mode,  # type: ignore[arg-type]
                      engine=pick_engine(before, engine, compile_bytecode=compile_bytecode))


def apply(python: Path, lock: Lock, engine: EngineName, cache: Path, mode: str = "sync",
          compile_bytecode: bool = False) -> tuple[InstallPlan, InstallOutcome]:
    before = probe_interpreter(str(python))
    plan = plan_for(python, lock, engine, mode, compile_bytecode)
    with store(cache) as files:
        outcome = execute(plan, runner=SubprocessRunner(), probe=probe_interpreter, files=files,
                          guarded_names=GUARDED, before=before)
    return plan, outcome


@each_engine
def test_pypi_torch_and_cpu_onnxruntime_are_replaced_by_the_cuda_builds(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    base = mirror.wheels
    pip_install(python, "--no-deps", str(base["torch-2.8.0-pypi"].path),
                str(base["onnxruntime-1.23.0-pypi"].path))
    assert build_of(python, "torch") == "pypi"

    plan, outcome = apply(python, base_lock(mirror), engine, tmp_path / "cache", mode="install")

    assert plan.steps[0].kind == "uninstall" and plan.steps[0].names == ("onnxruntime", "torch")
    assert plan.steps[0].argv[:3] == ((str(python), "-m", "pip") if engine == "pip"
                                      else (plan.engine.program[0], "pip", "uninstall"))
    assert build_of(python, "torch") == "jetson"
    assert build_of(python, "onnxruntime") == "jetson"
    assert "onnxruntime" not in installed(python)
    assert outcome.ok and outcome.to_json()["engine"] == engine


@each_engine
def test_second_run_is_a_noop(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    apply(python, base_lock(mirror), engine, tmp_path / "cache")
    plan, outcome = apply(python, base_lock(mirror), engine, tmp_path / "cache")
    assert plan.is_noop
    assert outcome.ran == []


@each_engine
def test_gpu_build_overwritten_by_the_cpu_one_is_restored(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    apply(python, base_lock(mirror), engine, tmp_path / "cache")
    pip_install(python, "--no-deps", str(mirror.wheels["onnxruntime-1.23.0-pypi"].path))
    assert build_of(python, "onnxruntime") == "pypi"  # the CPU files now shadow the GPU build

    apply(python, base_lock(mirror), engine, tmp_path / "cache", mode="install")

    assert build_of(python, "onnxruntime") == "jetson"
    assert "onnxruntime" not in installed(python)


@each_engine
def test_sync_removes_extras_and_keeps_pip(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheels["extra-thing-0.1-pypi"].path))
    tools = {"pip", "setuptools", "wheel"} & set(installed(python))
    assert "pip" in tools
    apply(python, base_lock(mirror), engine, tmp_path / "cache")
    have = installed(python)
    assert "extra-thing" not in have and tools <= set(have)
    assert {"torch", "onnxruntime-gpu", "numpy", "packaging", "typing-extensions"} <= set(have)


@each_engine
def test_sync_in_a_system_site_venv_leaves_the_system_packages(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv(system_site=True)
    before = probe_interpreter(str(python))
    system = {d.name for d in before.installed if d.in_system_site}
    plan = plan_for(python, base_lock(mirror), engine)
    assert not any(set(s.names) & system for s in plan.steps if s.kind == "uninstall")
    apply(python, base_lock(mirror), engine, tmp_path / "cache")
    after = probe_interpreter(str(python))
    assert system == {d.name for d in after.installed if d.in_system_site}
    assert build_of(python, "torch") == "jetson"


@each_engine
def test_every_installed_file_names_its_locked_url_and_hash(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    lock = base_lock(mirror)

    _, outcome = apply(python, lock, engine, tmp_path / "cache")

    assert sorted(outcome.origins) == sorted(p.name for p in lock.packages)
    dists = {d.name: d for d in probe_interpreter(str(python)).installed}
    for pkg in lock.packages:
        info = Path(dists[pkg.name].location)
        record = json.loads((info / "direct_url.json").read_text())
        assert record == {"url": pkg.url, "archive_info": {"hash": f"sha256={pkg.sha256}",
                                                           "hashes": {"sha256": pkg.sha256}}}
        assert dists[pkg.name].direct_url == pkg.url  # what doctor and the re-assert read
        assert (info / "INSTALLER").read_text().strip() == engine
        rows = {r[0]: r for r in csv.reader((info / "RECORD").read_text().splitlines()) if r}
        data = (info / "direct_url.json").read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        assert rows[f"{info.name}/direct_url.json"][1:] == [f"sha256={digest}", str(len(data))]
    # The record survives the engine's own uninstall: RECORD still lists every file it wrote.
    uninstall = plan_for(python, Lock(packages=lock.packages[2:]), engine).steps[0]
    assert uninstall.names == ("onnxruntime-gpu", "torch")
    assert subprocess.run(uninstall.argv, capture_output=True).returncode == 0
    assert not list(Path(dists["torch"].location).parent.glob("torch-*.dist-info"))


def test_a_file_in_the_cache_is_not_fetched_again_for_another_environment(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    first, second = make_venv(name="first"), make_venv(name="second")
    _, one = apply(first, base_lock(mirror), "uv", tmp_path / "cache")
    asked = len(mirror.server.requests())

    _, two = apply(second, base_lock(mirror), "pip", tmp_path / "cache")

    assert (one.fetched.files, one.fetched.downloaded) == (5, 5)
    assert (two.fetched.files, two.fetched.downloaded) == (5, 0)
    assert len(mirror.server.requests()) == asked  # not one request: every file came from the cache
    assert installed(second) == installed(first)


def test_a_file_that_fails_its_hash_changes_nothing(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheel("torch", "2.8.0").path))
    before = installed(python)
    good = base_lock(mirror)
    bad = Lock(packages=tuple(
        LockedPackage(**{**p.__dict__, "sha256": "0" * 64}) if p.name == "numpy" else p
        for p in good.packages))

    with pytest.raises(LockedFileError) as err:
        apply(python, bad, "uv", tmp_path / "cache", mode="install")

    assert "numpy-1.26.4-py3-none-any.whl (numpy==1.26.4, from " in str(err.value)
    assert f"no longer has the locked bytes: {served_url(mirror, mirror.wheel('numpy', '1.26.4'), 'pypi')} " \
        f"now serves sha256 {mirror.wheel('numpy', '1.26.4').sha256}, the lock records sha256 {'0' * 64}" \
        in str(err.value)
    assert "nothing was installed or removed: every file is fetched before the first step" in str(err.value)
    assert installed(python) == before


@each_engine
def test_a_failing_step_stops_the_plan_and_a_rerun_repairs(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheel("torch", "2.8.0").path))
    # A locked file that is not a wheel at all, with the lock's hash of those bytes: it fetches
    # fine, and the engine fails on it in step 3, after steps 1 (uninstall) and 2 (CUDA builds).
    broken = tmp_path / mirror.wheel("numpy", "1.26.4").filename
    broken.write_bytes(b"not a zip file")
    numpy = LockedPackage(name="numpy", version="1.26.4", url=broken.as_uri(), filename=broken.name,
                          sha256=hashlib.sha256(broken.read_bytes()).hexdigest())
    bad = Lock(packages=tuple(numpy if p.name == "numpy" else p for p in base_lock(mirror).packages))

    with pytest.raises(PipStepError) as err:
        apply(python, bad, engine, tmp_path / "cache", mode="install")

    text = str(err.value)
    assert "step 3 of 3, 'install the other pinned wheels by exact file and hash', failed" in text
    assert f"({engine} exit status" in text and f"{engine} said:" in text
    assert "later steps did not run" in text
    assert "removed so far: torch" in text
    assert err.value.hint and "run the same jetpip command again" in err.value.hint
    assert build_of(python, "torch") == "jetson"  # step 2 ran
    assert "numpy" not in installed(python)

    apply(python, base_lock(mirror), engine, tmp_path / "cache", mode="install")
    assert {"numpy", "onnxruntime-gpu"} <= set(installed(python))


@each_engine
def test_dry_run_plan_names_the_files_and_the_engine_commands(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName,
) -> None:
    python = make_venv()
    before = installed(python)
    plan = plan_for(python, base_lock(mirror), engine)
    text = plan.render()
    assert f"engine: {plan.engine.version}" in text
    assert "fetch 5 files (" in text and served_url(mirror, mirror.wheel("torch", "2.8.0", "jetson"),
                                                    "jetson") in text
    if engine == "pip":
        assert f"{python} -m pip install --no-deps --no-index --disable-pip-version-check --no-compile " \
               "--require-hashes -r" in text
    else:
        assert f"{plan.engine.program[0]} pip install --python {python} --no-deps --no-index --offline " \
               "--require-hashes -r" in text
    # A path that stays the same for the same file; pip gets the bare URL (old pips need it).
    assert f"{'torch @ ' if engine == 'uv' else ''}file://{plan.files_dir}/" in text
    assert installed(python) == before
    assert not os.path.exists(plan.workdir)


@pytest.mark.parametrize(("engine", "compile_bytecode"), [("uv", False), ("uv", True), ("pip", False),
                                                          ("pip", True)])
def test_bytecode_is_written_only_when_asked(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, engine: EngineName, compile_bytecode: bool,
) -> None:
    python = make_venv()
    apply(python, Lock(packages=(locked(mirror, "numpy", "1.26.4"),)), engine, tmp_path / "cache",
          compile_bytecode=compile_bytecode)
    package = Path(run_python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")) / "numpy"
    assert package.is_dir()
    assert bool(list(package.rglob("*.pyc"))) is compile_bytecode


def test_ctrl_c_while_fetching_stops_before_anything_changes(
    make_venv: MakeVenv, mirror: Mirror, index_server: IndexServer, tmp_path: Path,
) -> None:
    python = make_venv()
    index_server.add("devpi", "/jp6/cu126", [mirror.wheel("torch", "2.8.0", "jetson").path])
    index_server.fault("/jp6/cu126/+f/", "stall", seconds=30)
    pkg = locked(mirror, "torch", "2.8.0", "jetson")
    url = pkg.url.replace(mirror.server.url, index_server.url)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import os
        from pathlib import Path
        from jetpip.errors import PipStepError
        from jetpip.index.client import IndexClient
        from jetpip.index.config import IndexConfig
        from jetpip.interpreter.probe import probe_interpreter
        from jetpip.lock.pylock import Lock, LockedPackage
        from jetpip.install.driver import SubprocessRunner, execute
        from jetpip.install.plan import build_plan
        from jetpip.report import NullReporter

        class Says(NullReporter):
            def fetch_started(self, files, size):
                print("fetching", flush=True)

        pkg = LockedPackage(name="torch", version="2.8.0", url={url!r}, filename={pkg.filename!r},
                            sha256={pkg.sha256!r}, guarded=True)
        before = probe_interpreter({str(python)!r})
        plan = build_plan(Lock(packages=(pkg,)), before)
        # The client's own timeout outlasts the test, so only the interrupt can end the fetch.
        files = IndexClient(IndexConfig(index_url=None, retries=0, timeout=120),
                            cache_dir=Path({str(tmp_path / "cache")!r}))
        try:
            execute(plan, runner=SubprocessRunner(), probe=probe_interpreter, files=files, reporter=Says())
        except PipStepError as err:
            print(err, flush=True)
            os._exit(err.exit_code)  # the stalled download's thread is not waited for
    """))
    with subprocess.Popen([sys.executable, "-u", str(script)], stdout=subprocess.PIPE, text=True,
                          preexec_fn=takes_ctrl_c) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "fetching"
            index_server.requests()  # the stalled request is in flight
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:  # a failed assertion must not leave the child to the next test
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    assert "interrupted while fetching the plan's files; nothing was installed or removed" in out
    assert "torch" not in installed(python)


class DraggingRunner(SubprocessRunner):
    """The real engine, plus what a package with an install hook does: put the base-index torch back."""

    def __init__(self, python: Path, decoy: Path, times: int) -> None:
        super().__init__()
        self.python, self.decoy, self.times = python, decoy, times

    def run(self, argv: Sequence[str]) -> RunResult:
        result = super().run(argv)
        if self.times > 0 and "install" in argv:
            self.times -= 1
            super().run([str(self.python), "-m", "pip", "install", "--no-deps", "--force-reinstall",
                         str(self.decoy)])
        return result


@each_engine
def test_reassert_reinstalls_a_cuda_build_replaced_during_the_run(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    plan = plan_for(python, base_lock(mirror), engine)
    runner = DraggingRunner(python, mirror.wheel("torch", "2.8.0").path, times=1)

    with store(tmp_path / "cache") as files:
        outcome = execute(plan, runner=runner, probe=probe_interpreter, files=files, guarded_names=GUARDED,
                          before=before)

    assert [str(m) for m in outcome.reinstalled] == [
        f"torch: installed from {mirror.wheel('torch', '2.8.0').filename}, "
        f"not {mirror.wheel('torch', '2.8.0', 'jetson').filename}"
    ]
    assert [s.kind for s in outcome.ran] == ["guarded", "install", "reassert"]
    assert ("--force-reinstall" if engine == "pip" else "--reinstall") in outcome.ran[-1].argv
    assert build_of(python, "torch") == "jetson"
    torch = next(d for d in probe_interpreter(str(python)).installed if d.name == "torch")
    assert torch.direct_url == base_lock(mirror).packages[0].url  # the re-asserted file names its origin


def test_reassert_fetches_the_file_of_a_cuda_build_the_plan_kept(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    python = make_venv()
    apply(python, base_lock(mirror), "uv", tmp_path / "cache")
    lock = base_lock(mirror, locked(mirror, "extra-thing", "0.1"))
    before = probe_interpreter(str(python))
    plan = plan_for(python, lock, "uv")
    assert [f.package.name for f in plan.fetches] == ["extra-thing"]  # torch is kept: not fetched
    runner = DraggingRunner(python, mirror.wheel("torch", "2.8.0").path, times=1)

    with store(tmp_path / "cache") as files:
        outcome = execute(plan, runner=runner, probe=probe_interpreter, files=files, guarded_names=GUARDED,
                          before=before)

    assert [s.kind for s in outcome.ran] == ["install", "reassert"]
    assert build_of(python, "torch") == "jetson"


@each_engine
def test_reassert_that_cannot_stick_is_an_error(
    make_venv: MakeVenv, mirror: Mirror, engine: EngineName, tmp_path: Path,
) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    plan = plan_for(python, base_lock(mirror), engine)
    runner = DraggingRunner(python, mirror.wheel("torch", "2.8.0").path, times=3)

    with pytest.raises(PipStepError) as err, store(tmp_path / "cache") as files:
        execute(plan, runner=runner, probe=probe_interpreter, files=files, guarded_names=GUARDED,
                before=before)

    text = str(err.value)
    assert "re-assert failed: after a forced reinstall the CUDA builds are still not the planned" in text
    assert "torch: installed from" in text


class Recording(SubprocessRunner):
    """Runs each step for real and keeps what uv said."""

    def __init__(self) -> None:
        super().__init__()
        self.outputs: list[tuple[tuple[str, ...], str]] = []

    def run(self, argv: Sequence[str]) -> RunResult:
        result = super().run(argv)
        self.outputs.append((tuple(argv), result.output))
        return result


def logging_uv(tmp_path: Path) -> tuple[Path, Path]:
    """A uv that writes each command line it gets to a log, then runs the real uv."""
    log = tmp_path / "uv-calls.log"
    script = tmp_path / "uv"
    script.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{find_uv_bin()}" "$@"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, log


def uv_engine(python: Path, uv: Path) -> tuple[Interpreter, Engine]:
    """The probe of ``python``, and the uv engine for it that runs the uv binary ``uv``."""
    before = probe_interpreter(str(python))
    return before, pick_engine(before, "uv", env={**os.environ, "JETPIP_UV": str(uv)})


def uv_over_log(make_venv: MakeVenv, tmp_path: Path) -> tuple[Path, Interpreter, Engine, Path]:
    """A fresh venv, its probe, the uv engine of ``logging_uv`` for it, and that uv's log."""
    uv, log = logging_uv(tmp_path)
    python = make_venv()
    return (python, *uv_engine(python, uv), log)


def fetched_wheel(files: IndexClient, pkg: LockedPackage) -> Wheel:
    """``pkg``'s file, fetched into the cache of ``files``, as the Unpacker takes it."""
    assert pkg.sha256 is not None
    return Wheel(pkg.name, files.fetch(link_of(pkg)), pkg.sha256, pkg.filename)


def install_with(python: Path, lock: Lock, uv: Path, cache: Path) -> Recording:
    before, engine = uv_engine(python, uv)
    plan = build_plan(lock, before, mode="install", engine=engine)
    scratch = Path(plan.files_dir).parent / "tmp"
    earlier = set(scratch.glob("unpack-*"))
    runner = Recording()
    with store(cache) as files:
        outcome = execute(plan, runner=runner, probe=probe_interpreter, files=files,
                          guarded_names=GUARDED, before=before)
    assert outcome.ok
    assert not os.path.exists(plan.workdir)
    assert set(scratch.glob("unpack-*")) <= earlier  # this run's scratch folder went with it
    return runner


# Unpack ahead (install/ahead.py): uv unpacks the later step's fresh wheels while the CUDA
# builds install.


def big_cuda_lock(mirror: Mirror) -> Lock:
    """base_lock, with torch's size unknown: a CUDA build that may be big (the stand-in is not)."""
    lock = base_lock(mirror)
    return Lock(packages=tuple(dataclasses.replace(p, size=None) if p.name == "torch" else p
                               for p in lock.packages))


def test_later_wheels_are_unpacked_while_the_cuda_builds_install(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    uv, log = logging_uv(tmp_path)
    python = make_venv()

    runner = install_with(python, big_cuda_lock(mirror), uv, tmp_path / "cache")

    calls = log.read_text().splitlines()
    unpacks = [c for c in calls if " --target " in c]
    assert len(unpacks) == 1 and "--require-hashes" in unpacks[0]
    guarded, later = runner.outputs[-2:]
    # The later step found numpy, packaging and typing-extensions unpacked: it only linked them.
    assert "Installed 3 packages" in later[1] and "Prepared" not in later[1]
    assert "Prepared 2 packages" in guarded[1]  # the guarded step unpacked its own two
    assert build_of(python, "torch") == "jetson"
    assert {"numpy", "packaging", "typing-extensions"} <= set(installed(python))
    # Nothing of the scratch install reached the target: each dist is there once, by the step.
    site = next(Path(p) for p in probe_interpreter(str(python)).site_packages if "site-packages" in p)
    assert sorted(p.name for p in site.glob("numpy-*.dist-info")) == ["numpy-1.26.4.dist-info"]


def test_scratch_folders_a_killed_run_left_are_removed_by_the_next_unpack(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    uv, _ = logging_uv(tmp_path)
    scratch = default_cache_dir() / "tmp"
    old, recent = scratch / "unpack-0123456789ab", scratch / "unpack-ba9876543210"
    for folder in (old, recent):
        (folder / "pkg").mkdir(parents=True)
    old_list, recent_list = scratch / "unpack-0123456789ab.1.txt", scratch / "unpack-ba9876543210.1.txt"
    for listing in (old_list, recent_list):
        listing.write_text("pkg @ file:///pkg.whl\n")
    for stale in (old, old_list):
        os.utime(stale, (time.time() - 2 * 24 * 3600,) * 2)

    install_with(make_venv(), big_cuda_lock(mirror), uv, tmp_path / "cache")

    assert not old.exists() and recent.exists()  # a run under way may own a recent one
    assert not old_list.exists() and recent_list.exists()


def test_files_from_the_cache_are_left_to_the_step(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    uv, log = logging_uv(tmp_path)
    install_with(make_venv(name="first"), big_cuda_lock(mirror), uv, tmp_path / "cache")
    log.write_text("")

    install_with(make_venv(name="second"), big_cuda_lock(mirror), uv, tmp_path / "cache")

    assert not [c for c in log.read_text().splitlines() if " --target " in c]


class FailingGuardedStep(Recording):
    """Runs each step for real, but the CUDA builds' step fails."""

    def run(self, argv: Sequence[str]) -> RunResult:
        if argv[-1].endswith("-guarded.txt"):
            return RunResult(1, "error: the CUDA step failed")
        return super().run(argv)


def test_a_failing_step_stops_the_unpack_ahead(make_venv: MakeVenv, mirror: Mirror, tmp_path: Path) -> None:
    # A uv whose unpack ahead takes its time: it is still running when the CUDA step fails.
    slow = tmp_path / "uv"
    slow.write_text(f"#!{sys.executable}\nimport os, sys, time\n"
                    "if '--target' in sys.argv:\n    time.sleep(60)\n"
                    f"os.execv({find_uv_bin()!r}, [{find_uv_bin()!r}, *sys.argv[1:]])\n")
    slow.chmod(slow.stat().st_mode | stat.S_IXUSR)
    python = make_venv()
    before, engine = uv_engine(python, slow)
    plan = build_plan(big_cuda_lock(mirror), before, mode="install", engine=engine)

    with store(tmp_path / "cache") as files, pytest.raises(PipStepError) as err:
        execute(plan, runner=FailingGuardedStep(), probe=probe_interpreter, files=files,
                guarded_names=GUARDED, before=before)

    assert "'install CUDA builds by exact file and hash', failed" in str(err.value)
    scratch = Path(plan.files_dir).parent / "tmp"
    assert not commands_naming(f"--target {scratch}")  # the unpack was stopped, not left behind
    assert not os.path.exists(plan.workdir)
    assert not list((Path(plan.files_dir).parent / "tmp").glob("unpack-*"))
    assert "numpy" not in installed(python)


def test_without_a_big_cuda_build_the_later_wheels_are_unpacked_as_they_download(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    # Every CUDA build of this lock is a few kB (a sync's plan, say). uv unpacks the later step's
    # wheels in batches while the fetch goes on; the CUDA builds' step unpacks its own.
    uv, log = uv_with_log(tmp_path)
    python = make_venv()

    runner = install_with(python, base_lock(mirror), uv, tmp_path / "cache")

    batches = [(command, lines) for command, lines in uv_installs(log) if " --target " in command]
    assert batches and all("--require-hashes" in command for command, _ in batches)
    unpacked = {line.split(" @ ")[0] for _, lines in batches for line in lines}
    assert unpacked and unpacked <= {"numpy", "packaging", "typing-extensions"}  # never a CUDA build
    guarded, later = runner.outputs[-2:]
    assert "Prepared 2 packages" in guarded[1]  # the guarded step unpacked its own two
    assert "Installed 3 packages" in later[1]
    assert build_of(python, "torch") == "jetson"
    assert {"numpy", "packaging", "typing-extensions"} <= set(installed(python))


def test_wheels_downloaded_during_the_resolution_are_unpacked_before_the_steps_only_link_them(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    # An install hands each wheel it downloads while resolving to the Unpacker (install/ahead.py):
    # uv unpacks them in batches into its cache, from the very paths the steps read.
    python, before, engine, log = uv_over_log(make_venv, tmp_path)
    lock = base_lock(mirror)
    runner = Recording()
    with store(tmp_path / "cache") as files:
        unpacker = Unpacker(engine, files_dir=str(files.cache.root / "installs"))
        for pkg in lock.packages:  # one at a time, as their downloads end
            unpacker.add([fetched_wheel(files, pkg)])
        deadline = time.monotonic() + 60
        while len(unpacker.unpacked) < len(lock.packages):  # every wheel handed to a batch
            assert time.monotonic() < deadline
            time.sleep(0.01)
        plan = dataclasses.replace(build_plan(lock, before, mode="install", engine=engine,
                                              files_dir=unpacker.files_dir), ahead=unpacker)
        outcome = execute(plan, runner=runner, probe=probe_interpreter, files=files,
                          guarded_names=GUARDED, before=before)

    assert outcome.ok
    assert sorted(unpacker.unpacked) == sorted(p.filename for p in lock.packages)
    installs = [out for argv, out in runner.outputs if "install" in argv]
    assert installs and all("Installed" in out and "Prepared" not in out for out in installs)
    assert build_of(python, "torch") == "jetson"
    assert [c for c in log.read_text().splitlines() if " --target " in c]
    assert not list((files.cache.root / "tmp").glob("unpack-*"))  # the scratch went with the run


def test_while_a_big_cuda_build_downloads_the_small_wheels_wait_for_its_batch(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    # uv unpacking small wheels would take the processor from the big download: they wait, and
    # go to uv with the big build, whose batch unpacks them on its other threads.
    _, _, engine, log = uv_over_log(make_venv, tmp_path)
    lock = base_lock(mirror)
    torch = next(p for p in lock.packages if p.name == "torch")
    small = [p for p in lock.packages if p.name != "torch"]
    with store(tmp_path / "cache") as files:
        unpacker = Unpacker(engine, files_dir=str(files.cache.root / "installs"))
        unpacker.expect(torch.filename, big=True)
        for pkg in small:
            unpacker.expect(pkg.filename, big=False)
        for pkg in small:  # their downloads end first, one at a time
            unpacker.add([fetched_wheel(files, pkg)], release=pkg.filename)
        time.sleep(0.3)
        assert unpacker.unpacked == []  # held back while torch downloads
        unpacker.add([fetched_wheel(files, torch)], release=torch.filename)
        unpacker.finish([p.filename for p in lock.packages])
        unpacker.stop()

    assert sorted(unpacker.unpacked) == sorted(p.filename for p in lock.packages)
    assert len([c for c in log.read_text().splitlines() if " --target " in c]) == 1  # one batch


def test_the_steps_wait_for_a_finished_download_to_reach_the_unpacker(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    # A download ends, the plan's fetch that followed it returns, and only then does the
    # download's thread hand the wheel over: finish waits for it, and unpacks the big build.
    _, _, engine, _ = uv_over_log(make_venv, tmp_path)
    torch = next(p for p in base_lock(mirror).packages if p.name == "torch")
    with store(tmp_path / "cache") as files:
        wheel = fetched_wheel(files, torch)
        unpacker = Unpacker(engine, files_dir=str(files.cache.root / "installs"))
        unpacker.expect(torch.filename, big=True)
        late = threading.Timer(0.3, unpacker.add, args=([wheel],), kwargs={"release": torch.filename})
        late.start()
        unpacker.finish([torch.filename])
        late.join()
        unpacker.stop()

    assert unpacker.unpacked == [torch.filename]


def test_pip_has_no_unpack_ahead(make_venv: MakeVenv, mirror: Mirror, tmp_path: Path) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    plan = build_plan(base_lock(mirror), before, mode="install", engine=pick_engine(before, "pip"))
    assert plan.engine.unpack("r.txt", "into", hashed=True) is None
