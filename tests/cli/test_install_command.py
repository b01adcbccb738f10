"""`jetpip install`, `sync` and `download` end to end: real venvs, real pip, the loopback mirror."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from uv import find_uv_bin

from jetpip.cli import cli
from jetpip.interpreter.probe import probe_interpreter
from tests.support.mirror import ORIN_JP62, Mirror, start_mirror
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import build_of, commands_naming, installed, pip_install, uv_installs, uv_with_log


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def on_orin(mirror: Mirror, python: Path, *more: str | Path) -> list[str | Path]:
    return ["--python", python, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/", *more]


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_install_replaces_a_pypi_torch_and_removes_the_cpu_onnxruntime(
    make_venv: MakeVenv, mirror: Mirror, engine: str,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheel("torch", "2.9.0").path),
                str(mirror.wheel("onnxruntime", "1.23.0").path))

    result = jetpip("install", "--installer", engine, *on_orin(mirror, python, "glinerish"))

    assert result.exit_code == 0, result.output
    assert "removed   onnxruntime 1.23.0: CPU build that shadows onnxruntime-gpu" in result.output
    assert "replaced  torch 2.8.0 (was 2.9.0) [CUDA build]" in result.output
    assert f"done with {engine} " in result.output  # the engine, with its version
    assert "broken requirement" not in result.output
    assert build_of(python, "torch") == "jetson"
    assert build_of(python, "onnxruntime") == "jetson"
    have = installed(python)
    assert "onnxruntime" not in have and have["onnxruntime-gpu"] == "1.23.0"

    asked = len(mirror.server.requests())
    again = jetpip("install", *on_orin(mirror, python, "glinerish"))
    assert again.exit_code == 0
    assert ("nothing to do: 1 requirement(s) already satisfied by the 7 installed packages they reach; "
            "no index was asked (CUDA builds in place: onnxruntime-gpu 1.23.0, torch 2.8.0)") in again.output
    assert len(mirror.server.requests()) == asked
    # --json always plans, so its output keeps its schema; the plan has nothing to change.
    planned = jetpip("install", *on_orin(mirror, python, "--json", "glinerish"))
    assert planned.exit_code == 0 and json.loads(planned.stdout)["schema"]
    assert len(mirror.server.requests()) > asked


def test_a_later_dependency_pinning_torch_cannot_replace_the_cuda_build(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    assert jetpip("install", *on_orin(mirror, python, "torch")).exit_code == 0

    refused = jetpip("install", *on_orin(mirror, python, "pinner"))

    assert refused.exit_code == 4
    assert "torch==2.9.0" in refused.output
    assert build_of(python, "torch") == "jetson"
    assert "pinner" not in installed(python)

    # Plain pip does what the field reports describe: the pin drags in the base-index torch.
    pip_install(python, "--index-url", f"{mirror.base_url}/", "pinner")
    assert build_of(python, "torch") == "pypi"
    repaired = jetpip("install", *on_orin(mirror, python, "torch"))
    # The CUDA build is back; pinner's unmet pin fails the run, loudly, with the way out.
    assert repaired.exit_code == 6, repaired.output
    assert "replaced  torch 2.8.0 (was 2.9.0) [CUDA build]" in repaired.output
    assert "broken requirement: pinner 1.0 requires torch==2.9.0, but torch 2.8.0 is installed" \
        in repaired.output
    assert "every step ran: the planned packages and the CUDA builds are installed" in repaired.output
    assert f"hint: pinner did not come from this plan: uninstall (`{python} -m pip uninstall pinner`)" \
        in repaired.output
    assert build_of(python, "torch") == "jetson"
    assert installed(python)["pinner"] == "1.0"  # the environment stays as installed

    again = jetpip("install", *on_orin(mirror, python, "torch"))
    assert again.exit_code == 6  # a re-run has nothing to do, and still says what is broken
    assert "nothing to do" in again.output and "broken requirement: pinner 1.0" in again.output
    subprocess.run([str(python), "-m", "pip", "uninstall", "--yes", "pinner"], check=True,
                   capture_output=True)
    assert jetpip("install", *on_orin(mirror, python, "torch")).exit_code == 0


def test_dry_run_prints_every_pip_command_and_changes_nothing(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheel("onnxruntime", "1.23.0").path))
    before = installed(python)

    result = jetpip("install", *on_orin(mirror, python, "--dry-run", "glinerish"))

    assert result.exit_code == 0, result.output
    out = result.output
    uv = find_uv_bin()
    assert "engine: uv " in out and f"({uv})" in out
    assert f"1. remove shadowing and replaced distributions\n   $ {uv} pip uninstall --python {python} " \
        "onnxruntime" in out
    assert f"{uv} pip install --python {python} --no-deps --no-index --offline --require-hashes -r" in out
    torch = mirror.wheel("torch", "2.8.0", "jetson").filename
    assert f"   {torch}  http://127.0.0.1:" in out  # fetched from its URL first
    assert "torch @ file:///" in out and "/installs/" in out and f"/{torch} --hash=sha256:" in out
    assert "re-assert" in out and "dry run: nothing was changed" in out
    assert installed(python) == before

    with_pip = jetpip("install", *on_orin(mirror, python, "--dry-run", "--installer", "pip",
                                          "--compile-bytecode", "glinerish"))
    assert f"   $ {python} -m pip uninstall --yes --disable-pip-version-check onnxruntime" in with_pip.output
    assert "-m pip install --no-deps --no-index --disable-pip-version-check --require-hashes -r" \
        in with_pip.output

    as_json = jetpip("install", *on_orin(mirror, python, "--dry-run", "--json", "tinyformers"))
    doc = json.loads(as_json.stdout)
    assert doc["schema"] == "jetpip.plan/1" and doc["engine"]["name"] == "uv"
    assert [s["kind"] for s in doc["steps"]] == ["guarded", "install"]
    assert doc["steps"][0]["argv"][:3] == [uv, "pip", "install"]
    assert installed(python) == before


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_lock_then_sync_into_a_fresh_venv_gives_the_same_set(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, engine: str,
) -> None:
    lockfile = tmp_path / "pylock.toml"
    first = make_venv(name="first")
    assert jetpip("install", *on_orin(mirror, first, "glinerish")).exit_code == 0
    locked = jetpip("lock", *on_orin(mirror, first, "glinerish", "-o", lockfile))
    assert locked.exit_code == 0, locked.output

    fresh = make_venv(name="fresh")
    pip_install(fresh, "--no-deps", str(mirror.wheel("extra-thing", "0.1").path))
    synced = jetpip("sync", lockfile, "--installer", engine, *on_orin(mirror, fresh))

    assert synced.exit_code == 0, synced.output
    assert "removed   extra-thing 0.1: not in the lock" in synced.output
    assert installed(fresh) == installed(first)
    assert build_of(fresh, "torch") == "jetson"
    again = jetpip("sync", lockfile, *on_orin(mirror, fresh))
    assert "nothing to do" in again.output


def test_sync_leaves_the_system_site_packages_of_a_venv_alone(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    lockfile = tmp_path / "pylock.toml"
    python = make_venv(system_site=True)
    assert jetpip("lock", *on_orin(mirror, python, "tinyformers", "-o", lockfile)).exit_code == 0
    result = jetpip("sync", lockfile, *on_orin(mirror, python, "--dry-run"))
    assert result.exit_code == 0
    assert "uninstall" not in result.output  # the base interpreter's packages are not the lock's business


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_download_then_offline_sync_needs_no_network(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path, engine: str,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    lockfile, wheelhouse = tmp_path / "pylock.toml", tmp_path / "wheelhouse"
    python = make_venv()
    assert jetpip("lock", *on_orin(own, python, "tinyformers", "-o", lockfile)).exit_code == 0
    fetched = jetpip("download", lockfile, "-d", wheelhouse)
    assert fetched.exit_code == 0, fetched.output
    assert (wheelhouse / own.wheel("torch", "2.8.0", "jetson").filename).is_file()
    index_server.stop()  # the air gap

    offline: list[str | Path] = ["--python", python, "--root", ORIN_JP62, "--indexes", own.overlay]
    result = jetpip("sync", lockfile, *offline, "--find-links", wheelhouse, "--offline",
                    "--installer", engine)

    assert result.exit_code == 0, result.output
    assert build_of(python, "torch") == "jetson"
    assert {"tinyformers", "numpy", "packaging", "typing-extensions"} <= set(installed(python))
    # Installed from the wheelhouse, recorded as the locked file of its index.
    torch = next(d for d in probe_interpreter(str(python)).installed if d.name == "torch")
    assert torch.direct_url and torch.direct_url.startswith(own.jetson_url + "/")


def test_offline_sync_names_the_missing_files(make_venv: MakeVenv, mirror: Mirror, tmp_path: Path) -> None:
    lockfile = tmp_path / "pylock.toml"
    python = make_venv()
    assert jetpip("lock", *on_orin(mirror, python, "tinyformers", "-o", lockfile)).exit_code == 0
    (tmp_path / "wh").mkdir()
    shutil.copy(mirror.wheel("numpy", "1.26.4").path, tmp_path / "wh")
    result = jetpip("sync", lockfile, *on_orin(mirror, python, "--find-links", tmp_path / "wh", "--offline"))
    assert result.exit_code == 3
    assert "--offline, and 4 locked file(s) are not in" in result.output
    assert mirror.wheel("torch", "2.8.0", "jetson").filename in result.output
    assert "jetpip download pylock.toml -d DIR" in result.output


def test_a_wheelhouse_file_with_another_hash_is_refused(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    lockfile = tmp_path / "pylock.toml"
    python = make_venv()
    assert jetpip("lock", *on_orin(mirror, python, "tinyformers", "-o", lockfile)).exit_code == 0
    (tmp_path / "wh").mkdir()
    name = mirror.wheel("numpy", "1.26.4").filename
    (tmp_path / "wh" / name).write_bytes(b"not the locked file")
    result = jetpip("sync", lockfile, *on_orin(mirror, python, "--find-links", tmp_path / "wh"))
    assert result.exit_code == 3
    assert f"{name} has sha256" in result.output and "but the lock records" in result.output
    assert "numpy" not in installed(python)


def test_sync_refuses_a_lock_made_for_another_device(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    lockfile = tmp_path / "pylock.toml"
    python = make_venv()
    assert jetpip("lock", *on_orin(mirror, python, "tinyformers", "-o", lockfile)).exit_code == 0
    thor = ORIN_JP62.parent / "jp70-thor-r38.2"
    result = jetpip("sync", lockfile, "--python", python, "--root", thor, "--indexes", mirror.overlay)
    assert result.exit_code == 1
    assert "was made for another target" in result.output
    assert "locked for CUDA 12.6, this target has 13.0" in result.output
    assert "hint: re-lock on (or for) this device" in result.output
    assert installed(python) == {k: v for k, v in installed(python).items()}  # nothing ran
    assert "torch" not in installed(python)


def _fake_system_python(tmp_path: Path) -> Path:
    """A real interpreter outside any venv whose stdlib carries the PEP 668 marker."""
    import sysconfig

    prefix = tmp_path / "system"
    stdlib = Path(sysconfig.get_paths(vars={"base": sys.base_prefix, "installed_base": sys.base_prefix})
                  ["stdlib"])
    libdir = prefix / "lib" / stdlib.name
    libdir.mkdir(parents=True)
    for entry in stdlib.iterdir():
        if entry.name == "site-packages":
            (libdir / entry.name).mkdir()
        else:
            (libdir / entry.name).symlink_to(entry)
    (libdir / "EXTERNALLY-MANAGED").write_text("[externally-managed]\nError=use apt\n")
    (prefix / "bin").mkdir()
    exe = prefix / "bin" / "python3"
    shutil.copy2(os.path.realpath(sys._base_executable), exe)  # type: ignore[attr-defined]
    return exe


def test_an_externally_managed_python_is_refused_with_the_venv_fix(mirror: Mirror, tmp_path: Path) -> None:
    python = _fake_system_python(tmp_path)
    result = jetpip("install", *on_orin(mirror, python, "tinyformers"))
    assert result.exit_code == 1
    assert "is externally managed (PEP 668)" in result.output
    assert "python3 -m venv --system-site-packages .venv" in result.output
    assert "tensorrt and cv2" in result.output and "--break-system-packages" in result.output


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_break_system_packages_reaches_the_installer(mirror: Mirror, tmp_path: Path, engine: str) -> None:
    python = _fake_system_python(tmp_path)
    site = python.parent.parent / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / \
        "site-packages"
    import pip

    pip_dir = Path(pip.__file__).parent
    for entry in [pip_dir, *pip_dir.parent.glob("pip-*.dist-info")]:
        (site / entry.name).symlink_to(entry)
    # The target's own pip refuses this Python unless jetpip hands it the flag.
    plain = subprocess.run([str(python), "-m", "pip", "install", "--no-index", "--no-deps",
                            str(mirror.wheel("tinyformers", "4.40.0").path)], capture_output=True, text=True)
    assert plain.returncode != 0 and "externally-managed-environment" in plain.stdout + plain.stderr

    refused = jetpip("install", *on_orin(mirror, python, "--installer", engine, "tinyformers"))
    assert refused.exit_code == 1 and "externally managed (PEP 668)" in refused.output

    result = jetpip("install", *on_orin(mirror, python, "--installer", engine, "--break-system-packages",
                                        "tinyformers"))

    assert result.exit_code == 0, result.output
    assert "tinyformers" in installed(python)
    assert build_of(python, "torch") == "jetson"
    assert (site / "torch").is_dir()


def test_a_python_without_pip_installs_with_uv_and_is_refused_by_pip(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv(pip=False)
    refused = jetpip("install", *on_orin(mirror, python, "--installer", "pip", "tinyformers"))
    assert refused.exit_code == 1
    assert "has no pip, and jetpip installs with the target's own pip here" in refused.output
    assert f"{python} -m ensurepip --upgrade" in refused.output

    result = jetpip("install", *on_orin(mirror, python, "tinyformers"))  # uv needs no pip in the target
    assert result.exit_code == 0, result.output
    assert "tinyformers" in installed(python) and build_of(python, "torch") == "jetson"


def test_where_uv_cannot_run_pip_installs_and_one_line_says_why(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    python = make_venv()
    broken = tmp_path / "uv"
    broken.write_text("#!/nonexistent/interpreter\n")
    broken.chmod(0o755)
    monkeypatch.setenv("JETPIP_UV", str(broken))

    result = jetpip("install", *on_orin(mirror, python, "tinyformers"))

    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if "uv is not used" in line]
    assert notes == [f"note: installing with the target's pip: uv is not used, because {broken} does not "
                     "run here (No such file or directory)"]
    assert "tinyformers" in installed(python)
    asked = jetpip("install", *on_orin(mirror, python, "--installer", "uv", "glinerish"))
    assert asked.exit_code == 2 and "error: --installer uv, but" in asked.output


def test_uv_reads_a_new_interpreter_while_jetpip_resolves_and_a_failing_warm_up_changes_nothing(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # uv learns a Python it has not seen by running it. jetpip has it do that during the
    # resolution (`uv python find`), waits for it, and only then starts the first step; that
    # step finds the interpreter in uv's cache. The warm-up may fail: it is only a warm-up.
    log = tmp_path / "uv.log"
    uv = tmp_path / "uv"
    uv.write_text(f'#!/bin/sh\necho "start $*" >> "{log}"\n'
                  f'if [ "$1 $2" = "python find" ] && [ -e "{tmp_path}/fail" ]; then exit 3; fi\n'
                  f'"{find_uv_bin()}" "$@"; rc=$?\necho "end $*" >> "{log}"\nexit $rc\n')
    uv.chmod(0o755)
    monkeypatch.setenv("JETPIP_UV", str(uv))
    python = make_venv()

    result = jetpip("install", *on_orin(mirror, python, "tinyformers"))

    assert result.exit_code == 0, result.output
    calls = log.read_text().splitlines()
    warm = [i for i, c in enumerate(calls) if c.startswith("start python find") and c.endswith(f" {python}")]
    steps = [i for i, c in enumerate(calls) if c.startswith("start pip install") and " --target " not in c]
    assert len(warm) == 1 and steps
    assert calls.index(calls[warm[0]].replace("start", "end", 1)) < steps[0]
    assert "tinyformers" in installed(python)

    (tmp_path / "fail").touch()
    log.unlink()
    again = jetpip("install", *on_orin(mirror, make_venv(name="second"), "tinyformers"))
    assert again.exit_code == 0, again.output
    assert any(c.startswith("start python find") for c in log.read_text().splitlines())
    assert "python find" not in again.output

    log.unlink()
    shown = jetpip("install", "--dry-run", *on_orin(mirror, make_venv(name="shown"), "tinyformers"))
    assert shown.exit_code == 0, shown.output
    assert not any(c.startswith("start python find") for c in log.read_text().splitlines())  # runs nothing

    log.unlink()
    third = make_venv(name="third")
    with_pip = jetpip("install", "--installer", "pip", *on_orin(mirror, third, "tinyformers"))
    assert with_pip.exit_code == 0, with_pip.output
    assert not log.exists()  # pip installs: uv is not started at all


def requirements_logging_uv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """jetpip's uv, for this test: ``uv_with_log``. Returns the log."""
    uv, log = uv_with_log(tmp_path)
    monkeypatch.setenv("JETPIP_UV", str(uv))
    return log


def test_the_files_download_and_unpack_while_jetpip_resolves(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each file the resolution is about to pin downloads meanwhile, and uv unpacks what arrived
    # into its cache (a scratch install). That ends before the first step, which reads each wheel
    # at the very path the scratch install did: uv keys what it unpacked by that path.
    log = requirements_logging_uv(tmp_path, monkeypatch)
    python = make_venv()
    # 20 ms per request, as a near index: the resolution waits on it, and the wheels arrive during it.
    monkeypatch.setattr(mirror.server, "delay", 0.02)

    result = jetpip("install", "-v", *on_orin(mirror, python, "glinerish"))

    assert result.exit_code == 0, result.output
    assert "7 downloaded, 0 already in the cache" in result.output  # fetched ahead still counts
    runs = uv_installs(log)
    unpacks = [lines for command, lines in runs if " --target " in command]
    steps = [(command, lines) for command, lines in runs if " --target " not in command]
    assert unpacks and steps
    calls = log.read_text().splitlines()
    first_step = calls.index(steps[0][0])
    assert all(calls.index(c.replace("start", "end", 1)) < first_step
               for c in calls if c.startswith("start pip install") and " --target " in c)
    stepped = {line for _, lines in steps for line in lines}
    assert {line for lines in unpacks for line in lines} <= stepped  # the same paths, the same hashes
    assert all(" --hash=sha256:" in line for lines in unpacks for line in lines)
    assert build_of(python, "torch") == "jetson" and "glinerish" in installed(python)
    assert not list((Path(os.environ["XDG_CACHE_HOME"]) / "jetpip").glob("*/tmp/unpack-*"))
    assert not list(Path(os.environ["XDG_CACHE_HOME"]).glob("jetpip/*/tmp/unpack-*.txt"))


def test_while_a_cuda_build_of_unknown_size_downloads_the_other_wheels_wait_to_unpack_beside_it(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The Jetson index answers in HTML, which gives no file sizes: torch may be hundreds of MB.
    # While it downloads (held up here), the wheels that arrive wait; then uv gets them in one
    # scratch install, torch with them, before the first step.
    log = requirements_logging_uv(tmp_path, monkeypatch)
    python = make_venv()
    jetson = next(m for m in mirror.server.mounts if m.prefix == "/jp6/cu126")
    monkeypatch.setattr(jetson, "json", False)
    torch = mirror.wheel("torch", "2.8.0", build="jetson")
    served = next(f for f in jetson.files if f.filename == torch.filename)
    monkeypatch.setattr(mirror.server, "faults", [])  # the mirror serves the whole session: undone after
    mirror.server.fault(jetson.file_path(served), "stall", seconds=1.0, exact=True)

    result = jetpip("install", "-v", *on_orin(mirror, python, "glinerish"))

    assert result.exit_code == 0, result.output
    unpacks = [lines for command, lines in uv_installs(log) if " --target " in command]
    names = [[line.split(" @ ")[0] for line in lines] for lines in unpacks]
    # glinerish may have been unpacked before torch was guessed; the rest went with torch.
    assert "torch" in names[-1] and len(names[-1]) > 1, names
    assert all("torch" not in batch for batch in names[:-1]), names
    assert build_of(python, "torch") == "jetson" and "glinerish" in installed(python)


def test_a_release_the_target_has_is_not_fetched_ahead_and_a_dry_run_fetches_nothing(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    numpy = mirror.wheel("numpy", "1.26.4")
    pip_install(python, "--no-deps", str(numpy.path))
    mirror.server.log.clear()

    shown = jetpip("install", "--dry-run", *on_orin(mirror, python, "tinyformers"))
    assert shown.exit_code == 0, shown.output
    assert not [r for r in mirror.server.requests() if r.path.endswith(".whl")]

    result = jetpip("install", *on_orin(mirror, python, "tinyformers"))
    assert result.exit_code == 0, result.output
    fetched = {r.path.rsplit("/", 1)[-1] for r in mirror.server.requests() if r.path.endswith(".whl")}
    assert numpy.filename not in fetched  # kept as installed: its file is never needed
    assert {"tinyformers", "torch", "packaging"} <= {name.split("-")[0] for name in fetched}


def test_a_resolution_that_fails_after_files_began_to_download_leaves_nothing_behind(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    # tinyformers and its dependencies are guessed and start downloading; the constraint on
    # torch then leaves no CUDA build, and the resolution fails.
    python = make_venv()
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("torch==1.0.0\n")

    result = jetpip("install", *on_orin(mirror, python, "tinyformers", "-c", constraints))

    assert result.exit_code != 0
    assert "torch" in result.output and "hint:" in result.output
    assert "tinyformers" not in installed(python)
    cache = Path(os.environ["XDG_CACHE_HOME"]) / "jetpip"
    assert not list(cache.glob("*/tmp/unpack-*"))
    assert not [c for c in commands_naming(str(cache)) if " --target " in c]


def test_install_with_cross_target_flags_is_refused_after_resolving(mirror: Mirror) -> None:
    result = jetpip("install", "--root", ORIN_JP62, "--indexes", mirror.overlay, "--index-url",
                    f"{mirror.base_url}/", "--python-version", "3.10", "--platform", "linux_aarch64",
                    "extra-thing")
    assert result.exit_code == 2
    assert "installing needs a real interpreter" in result.output
    assert "jetpip lock" in result.output


@pytest.mark.parametrize(("root", "python", "arch", "tag", "flags"), [
    ("jp70-thor-r38.2", "3.12", "11.0", "v2.9.1",
     ['USE_XNNPACK="0"', '/targets/sbsa-linux/include/cccl"']),
    ("jp62-agx-orin-r36.4.3", "3.12", "8.7", "v2.8.0", []),
    ("jp512-xavier-nx-r35.4", "3.8", "7.2", "v2.1.2", []),
])
def test_no_wheel_prints_the_source_build_hint_for_the_device(
    index_server: IndexServer, tmp_path: Path, root: str, python: str, arch: str, tag: str,
    flags: list[str],
) -> None:
    empty = index_server.add("flat", "/empty", [])
    devpi = index_server.add("devpi", "/cuda", [])
    base = index_server.add("simple", "/simple", [])
    ids = ("jal-jp6-cu126", "nv-jp-v61", "jal-sbsa-cu130", "pytorch-cu130", "jal-jp5-cu114",
           "nv-jp-v512", "nv-jp-v511", "nv-jp-v51")
    overlay = tmp_path / "indexes.toml"
    rows = []
    for sid in ids:
        kind, url = ("flat", empty) if sid.startswith("nv-") else ("devpi", devpi)
        rows.append(f'\n[sources.{sid}]\nname = "loopback {sid}"\nkind = "{kind}"\nurl = "{url}"\n'
                    'jetson = true\nplatforms = ["linux_aarch64"]\n')
    overlay.write_text("format = 1\n" + "".join(rows))

    result = jetpip("install", "--root", ORIN_JP62.parent / root, "--indexes", overlay,
                    "--index-url", f"{base}/", "--python-version", python, "--platform", "linux_aarch64",
                    "torch")

    assert result.exit_code == 4, result.output
    out = result.output
    assert "No wheel of torch for this Target" in out
    assert "loopback" in out  # what was searched
    assert f'TORCH_CUDA_ARCH_LIST="{arch}"' in out
    assert f"--branch {tag} " in out
    assert 'USE_NCCL="0"' in out and 'USE_DISTRIBUTED="0"' in out
    assert 'CMAKE_POLICY_VERSION_MINIMUM="3.5"' in out
    assert "MAX_JOBS" in out
    for flag in flags:
        assert flag in out
    assert "Or instead:" in out and "container" in out


def test_offline_install_uses_the_cache_that_download_filled(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    lockfile = tmp_path / "pylock.toml"
    assert jetpip("lock", *on_orin(own, python, "tinyformers", "-o", lockfile)).exit_code == 0
    assert jetpip("download", lockfile, "-d", tmp_path / "wh").exit_code == 0
    index_server.stop()

    result = jetpip("install", *on_orin(own, python, "--offline", "tinyformers"))

    assert result.exit_code == 0, result.output
    assert build_of(python, "torch") == "jetson"
    assert "tinyformers" in installed(python)

    missing = jetpip("install", *on_orin(own, python, "--offline", "glinerish"))
    assert missing.exit_code == 3
    assert "offline, and the cache has no copy of" in missing.output and "glinerish" in missing.output
    assert "hint: install --offline reads only jetpip's own cache" in missing.output
    assert "jetpip sync pylock.toml --find-links DIR --offline" in missing.output
    assert "glinerish" not in installed(python)


def test_offline_install_with_a_file_missing_from_the_cache_changes_nothing(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    # A lock reads the index pages (and keeps them), but not the files the index gives hashes for.
    assert jetpip("lock", *on_orin(own, python, "tinyformers", "-o", tmp_path / "pylock.toml")).exit_code == 0
    index_server.stop()
    pip_install(python, "--no-deps", str(own.wheel("torch", "2.9.0").path))
    before = installed(python)

    result = jetpip("install", *on_orin(own, python, "--offline", "tinyformers"))

    assert result.exit_code == 3, result.output
    assert "offline, and the cache has no copy of" in result.output
    assert "nothing was installed or removed: every file is fetched before the first step" in result.output
    assert "hint: install --offline reads only jetpip's own cache" in result.output
    assert installed(python) == before


def test_offline_install_after_an_online_install_needs_no_network(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    assert jetpip("install", *on_orin(own, python, "tinyformers")).exit_code == 0
    index_server.stop()
    other = make_venv(name="other")

    # The online install left its index pages and every file in jetpip's cache.
    result = jetpip("install", *on_orin(own, other, "--offline", "tinyformers"))

    assert result.exit_code == 0, result.output
    assert installed(other) == installed(python)
    assert build_of(other, "torch") == "jetson"


# -- the fast path: an environment that already meets the request asks no index ------------------


def _index_requests(mirror: Mirror) -> int:
    return len(mirror.server.requests())


def test_a_satisfied_environment_takes_the_fast_path_and_asks_no_index(
    make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    python = make_venv()
    reqs = tmp_path / "requirements.txt"
    reqs.write_text("glinerish\ntorch>=2.1\n", encoding="utf-8")
    assert jetpip("install", *on_orin(mirror, python, "-r", reqs)).exit_code == 0
    before, have = _index_requests(mirror), installed(python)

    again = jetpip("install", *on_orin(mirror, python, "-r", reqs))

    assert again.exit_code == 0, again.output
    assert "nothing to do: 2 requirement(s) already satisfied" in again.output
    assert "no index was asked" in again.output and "torch 2.8.0" in again.output
    assert _index_requests(mirror) == before  # not one page, metadata or file request
    assert installed(python) == have


def test_a_base_index_torch_in_place_of_the_cuda_build_is_not_satisfied(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    assert jetpip("install", *on_orin(mirror, python, "torch")).exit_code == 0
    # torch 2.9.0 meets "torch" by version, but it is the base index's build, not one for this device.
    pip_install(python, "--no-deps", "--force-reinstall", str(mirror.wheel("torch", "2.9.0").path))
    before = _index_requests(mirror)

    result = jetpip("install", *on_orin(mirror, python, "torch"))

    assert result.exit_code == 0, result.output
    assert "already satisfied" not in result.output
    assert "replaced  torch 2.8.0 (was 2.9.0) [CUDA build]" in result.output
    assert _index_requests(mirror) > before
    assert build_of(python, "torch") == "jetson"


def test_an_unmet_requirement_is_not_satisfied(make_venv: MakeVenv, mirror: Mirror) -> None:
    python = make_venv()
    assert jetpip("install", *on_orin(mirror, python, "torch")).exit_code == 0

    result = jetpip("install", *on_orin(mirror, python, "torch", "tinyformers"))

    assert result.exit_code == 0, result.output
    assert "already satisfied" not in result.output
    assert "installed tinyformers" in result.output
    assert "tinyformers" in installed(python)


def test_a_cpu_onnxruntime_shadowing_the_gpu_build_is_not_satisfied(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    assert jetpip("install", *on_orin(mirror, python, "glinerish")).exit_code == 0
    pip_install(python, "--no-deps", str(mirror.wheel("onnxruntime", "1.23.0").path))

    result = jetpip("install", *on_orin(mirror, python, "glinerish"))

    assert result.exit_code == 0, result.output
    assert "already satisfied" not in result.output
    assert "removed   onnxruntime 1.23.0: CPU build that shadows onnxruntime-gpu" in result.output
    assert "onnxruntime" not in installed(python)
    assert build_of(python, "onnxruntime") == "jetson"
