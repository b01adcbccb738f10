"""The pip driver on real venvs with the real pip: plan, run, re-assert, check (no resolver)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from jetpip.errors import PipStepError
from jetpip.install.driver import PipResult, SubprocessPipRunner, execute
from jetpip.install.plan import build_plan
from jetpip.interpreter.probe import probe_interpreter
from jetpip.lock.pylock import Lock, LockedPackage
from tests.support.mirror import Mirror
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import build_of, installed, pip_install
from tests.support.wheels import BuiltWheel

GUARDED = ("torch", "torchvision", "onnxruntime-gpu")


def served_url(mirror: Mirror, wheel: BuiltWheel, build: str) -> str:
    mount = next(m for m in mirror.server.mounts if m.prefix == ("/jp6/cu126" if build == "jetson"
                                                                  else "/simple"))
    served = next(f for f in mount.files if f.filename == wheel.filename)
    return mirror.server.url + mount.file_path(served)


def locked(mirror: Mirror, name: str, version: str, build: str = "pypi") -> LockedPackage:
    w = mirror.wheel(name, version, build)
    return LockedPackage(name=name, version=version, url=served_url(mirror, w, build),
                         filename=w.filename, sha256=w.sha256, guarded=build == "jetson",
                         requires=tuple(_requires(w)))


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


def apply(python: Path, lock: Lock, mode: str = "sync") -> tuple[object, object]:
    before = probe_interpreter(str(python))
    # No retries: a test server's 500 must fail the step at once.
    plan = build_plan(lock, before, mode=mode, install_args=("--retries", "0"))  # type: ignore[arg-type]
    outcome = execute(plan, runner=SubprocessPipRunner(), probe=probe_interpreter,
                      guarded_names=GUARDED, before=before)
    return plan, outcome


def test_pypi_torch_and_cpu_onnxruntime_are_replaced_by_the_cuda_builds(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    base = mirror.wheels
    pip_install(python, "--no-deps", str(base["torch-2.8.0-pypi"].path),
                str(base["onnxruntime-1.23.0-pypi"].path))
    assert build_of(python, "torch") == "pypi"

    plan, outcome = apply(python, base_lock(mirror), mode="install")

    assert plan.steps[0].names == ("onnxruntime", "torch")  # type: ignore[attr-defined]
    assert build_of(python, "torch") == "jetson"
    assert build_of(python, "onnxruntime") == "jetson"
    assert "onnxruntime" not in installed(python)
    assert outcome.ok  # type: ignore[attr-defined]


def test_second_run_is_a_noop(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    apply(python, base_lock(mirror))
    plan, outcome = apply(python, base_lock(mirror))
    assert plan.is_noop  # type: ignore[attr-defined]
    assert outcome.ran == []  # type: ignore[attr-defined]


def test_gpu_build_overwritten_by_the_cpu_one_is_restored(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    apply(python, base_lock(mirror))
    pip_install(python, "--no-deps", str(mirror.wheels["onnxruntime-1.23.0-pypi"].path))
    assert build_of(python, "onnxruntime") == "pypi"  # the CPU files now shadow the GPU build

    apply(python, base_lock(mirror), mode="install")

    assert build_of(python, "onnxruntime") == "jetson"
    assert "onnxruntime" not in installed(python)


def test_sync_removes_extras_and_keeps_pip(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheels["extra-thing-0.1-pypi"].path))
    tools = {"pip", "setuptools", "wheel"} & set(installed(python))
    assert "pip" in tools
    apply(python, base_lock(mirror))
    have = installed(python)
    assert "extra-thing" not in have and tools <= set(have)
    assert {"torch", "onnxruntime-gpu", "numpy", "packaging", "typing-extensions"} <= set(have)


def test_sync_in_a_system_site_venv_leaves_the_system_packages(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv(system_site=True)
    before = probe_interpreter(str(python))
    system = {d.name for d in before.installed if d.in_system_site}
    plan = build_plan(base_lock(mirror), before, mode="sync")
    assert not any(set(s.names) & system for s in plan.steps if s.kind == "uninstall")
    apply(python, base_lock(mirror))
    after = probe_interpreter(str(python))
    assert system == {d.name for d in after.installed if d.in_system_site}
    assert build_of(python, "torch") == "jetson"


def test_a_failing_step_stops_the_plan_and_a_rerun_repairs(
    make_venv: MakeVenv, mirror: Mirror, index_server: IndexServer,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheels["torch-2.8.0-pypi"].path))
    # The same files on a second server whose CUDA files fail: step 1 (uninstall) runs, step 2 fails.
    jetson = [mirror.wheel(n, v, "jetson").path
              for n, v in (("torch", "2.8.0"), ("onnxruntime-gpu", "1.23.0"))]
    index_server.add("devpi", "/jp6/cu126", jetson)
    bad = Lock(packages=tuple(
        LockedPackage(**{**p.__dict__, "url": p.url.replace(mirror.server.url, index_server.url)})
        if p.guarded else p for p in base_lock(mirror).packages))
    index_server.fault("/jp6/cu126/+f/", "500")

    with pytest.raises(PipStepError) as err:
        apply(python, bad, mode="install")

    text = str(err.value)
    assert "step 2 of 3, 'install CUDA builds by exact URL and hash', failed" in text
    assert "later steps did not run" in text
    assert "removed so far: torch" in text
    assert "pip said:" in text
    assert err.value.hint and "run the same jetpip command again" in err.value.hint
    assert "numpy" not in installed(python)  # step 3 never ran

    apply(python, base_lock(mirror), mode="install")
    assert build_of(python, "torch") == "jetson"
    assert {"numpy", "onnxruntime-gpu"} <= set(installed(python))


def test_dry_run_plan_rendering_changes_nothing(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    before = installed(python)
    plan = build_plan(base_lock(mirror), probe_interpreter(str(python)))
    text = plan.render()
    assert f"{python} -m pip install --no-deps --no-index" in text
    assert installed(python) == before
    assert not os.path.exists(plan.workdir)


def test_ctrl_c_during_a_step_reports_the_step_and_stops(
    make_venv: MakeVenv, mirror: Mirror, index_server: IndexServer, tmp_path: Path,
) -> None:
    python = make_venv()
    index_server.add("devpi", "/jp6/cu126", [mirror.wheel("torch", "2.8.0", "jetson").path])
    index_server.fault("/jp6/cu126/+f/", "stall", seconds=30)
    pkg = locked(mirror, "torch", "2.8.0", "jetson")
    url = pkg.url.replace(mirror.server.url, index_server.url)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from jetpip.errors import PipStepError
        from jetpip.interpreter.probe import probe_interpreter
        from jetpip.lock.pylock import Lock, LockedPackage
        from jetpip.install.driver import SubprocessPipRunner, execute
        from jetpip.install.plan import build_plan
        pkg = LockedPackage(name="torch", version="2.8.0", url={url!r}, filename={pkg.filename!r},
                            sha256={pkg.sha256!r}, guarded=True)
        before = probe_interpreter({str(python)!r})
        # pip's own timeout outlasts the test, so only the interrupt can end the step.
        plan = build_plan(Lock(packages=(pkg,)), before, install_args=("--retries", "0", "--timeout", "120"))
        print("ready", flush=True)
        try:
            execute(plan, runner=SubprocessPipRunner(echo=print), probe=probe_interpreter)
        except PipStepError as err:
            print(err, flush=True)
            sys.exit(err.exit_code)
    """))
    # -u: each line pip prints reaches this test at once, while pip still waits on the stall.
    with subprocess.Popen([sys.executable, "-u", str(script)], stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
            for line in proc.stdout:  # pip names the file, then fetches it from the stalled server
                if line.startswith("Collecting torch"):
                    break
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:  # a failed assertion must not leave the child to the next test
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130
    assert "'install CUDA builds by exact URL and hash', was interrupted" in out
    assert "torch" not in installed(python)


class DraggingRunner(SubprocessPipRunner):
    """Real pip, plus what a package with an install hook does: put the base-index torch back."""

    def __init__(self, decoy: Path, times: int) -> None:
        super().__init__()
        self.decoy, self.times = decoy, times

    def run(self, argv: Sequence[str]) -> PipResult:
        result = super().run(argv)
        if self.times > 0 and "install" in argv:
            self.times -= 1
            super().run([argv[0], "-m", "pip", "install", "--no-deps", "--force-reinstall",
                         str(self.decoy)])
        return result


def test_reassert_reinstalls_a_cuda_build_replaced_during_the_run(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    plan = build_plan(base_lock(mirror), before)
    runner = DraggingRunner(mirror.wheel("torch", "2.8.0").path, times=1)

    outcome = execute(plan, runner=runner, probe=probe_interpreter, guarded_names=GUARDED, before=before)

    assert [str(m) for m in outcome.reinstalled] == [
        f"torch: installed from {mirror.wheel('torch', '2.8.0').filename}, "
        f"not {mirror.wheel('torch', '2.8.0', 'jetson').filename}"
    ]
    assert [s.kind for s in outcome.ran] == ["guarded", "install", "reassert"]
    assert "--force-reinstall" in outcome.ran[-1].args
    assert build_of(python, "torch") == "jetson"


def test_reassert_that_cannot_stick_is_an_error(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    before = probe_interpreter(str(python))
    plan = build_plan(base_lock(mirror), before)
    runner = DraggingRunner(mirror.wheel("torch", "2.8.0").path, times=3)

    with pytest.raises(PipStepError) as err:
        execute(plan, runner=runner, probe=probe_interpreter, guarded_names=GUARDED, before=before)

    text = str(err.value)
    assert "re-assert failed: after a forced reinstall the CUDA builds are still not the planned" in text
    assert "torch: installed from" in text
