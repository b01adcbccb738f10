"""Faults injected into lock, install, sync and download, and survived (docs/reliability.md).

Each case runs the real command line in a subprocess against the loopback mirror, with a real
venv, and injects one fault: the index answers 5xx, resets or cuts a page short, sends a file
short or with other bytes, loses a locked file (404, 410), or stalls past the timeout; the
installer is killed (SIGKILL) or interrupted (SIGINT) at each of its steps; the cache directory's
disk is full. After the fault the user must see an error and a ``hint:`` line and no traceback
(a killed process says nothing), the cache must hold no half-written entry, and the same command
run again without the fault must reach the planned environment.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from uv import find_uv_bin

from jetpip.index.cache import CACHE_FORMAT
from jetpip.lock.pylock import load_lock
from tests.support.mirror import ORIN_JP62, Mirror, start_mirror
from tests.support.server import IndexServer
from tests.support.venvs import build_of, installed, pip_install, takes_ctrl_c

REQUEST = "glinerish"  # torch and onnxruntime-gpu from the Jetson index, five more from the base index


@dataclass
class Lab:
    """The module's mirror, venv templates, and what a fault-free run gives."""

    mirror: Mirror
    root: Path
    clean: Path  # a venv template with nothing installed
    dirty: Path  # one with the base index's torch and the CPU onnxruntime (shadows) installed
    lockfile: Path  # the lock of REQUEST, made without faults
    planned: dict[str, str]  # name -> version after a fault-free install of REQUEST
    uv_hook: Path

    @property
    def server(self) -> IndexServer:
        return self.mirror.server

    def file_path(self, name: str, version: str, build: str = "pypi") -> str:
        """The exact URL path of a served wheel (its .metadata is another path)."""
        filename = self.mirror.wheel(name, version, build).filename
        for mount in self.server.mounts:
            for served in mount.files:
                if served.filename == filename:
                    return mount.file_path(served)
        raise KeyError(filename)


def _env(home: Path, cache: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PIP_", "JETPIP_", "UV_")) and k.lower() not in ("http_proxy", "https_proxy")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), XDG_CONFIG_HOME=str(home / ".config"),
               PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK="1", JETPIP_CACHE_DIR=str(cache))
    env.update(more)
    return env


def _copy_venv(template: Path, dest: Path) -> Path:
    subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
    return dest / "bin" / "python"


# A stand-in for uv that kills (or interrupts) the whole jetpip process group at its Nth install or
# uninstall call, before the real uv runs, while it runs (50 ms in: done or not, the next run must
# finish the job), or after it: jetpip taken down in that step. The unpack ahead (an install into a
# scratch --target, no step of its own) runs through uncounted.
_UV_HOOK = '''#!{python}
import os, signal, subprocess, sys, time
real, argv = os.environ["FAULT_REAL_UV"], sys.argv[1:]
if "pip" in argv and "--target" not in argv:
    counter = os.environ["FAULT_COUNTER"]
    calls = int(open(counter).read() or 0) + 1 if os.path.exists(counter) else 1
    open(counter, "w").write(str(calls))
    at, when = os.environ.get("FAULT_AT", "0:before").split(":")
    sig = getattr(signal, os.environ.get("FAULT_SIGNAL", "SIGKILL"))
    if calls == int(at):
        if when == "after":
            subprocess.call([real, *argv])
        elif when == "during":
            subprocess.Popen([real, *argv])
            time.sleep(0.05)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        os.killpg(0, sig)
        sys.exit(130)
os.execv(real, [real, *argv])
'''


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("faults")
    mirror = start_mirror(root / "mirror")
    clean = root / "clean"
    subprocess.run([sys.executable, "-m", "venv", str(clean)], check=True,
                   env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    dirty = root / "dirty"
    subprocess.run(["cp", "-a", str(clean), str(dirty)], check=True)
    pip_install(dirty / "bin" / "python", "--no-deps", str(mirror.wheel("torch", "2.9.0").path),
                str(mirror.wheel("onnxruntime", "1.23.0").path))
    hook = root / "uv-hook"
    hook.write_text(_UV_HOOK.format(python=sys.executable))
    hook.chmod(0o755)
    lab = Lab(mirror, root, clean, dirty, root / "pylock.toml", {}, hook)
    home = root / "home"
    reference = _copy_venv(clean, root / "reference")
    env = _env(home, root / "cache")
    done = _jetpip(lab, env, "install", *_on_orin(lab, reference), REQUEST)
    assert done.returncode == 0, done.stderr
    locked = _jetpip(lab, env, "lock", *_on_orin(lab, reference), REQUEST, "-o", lab.lockfile)
    assert locked.returncode == 0, locked.stderr
    lab.planned = installed(reference)
    try:
        yield lab
    finally:
        mirror.server.stop()


@pytest.fixture(autouse=True)
def _no_faults_after(lab: Lab) -> Iterator[None]:
    yield
    lab.server.faults.clear()


def _on_orin(lab: Lab, python: Path) -> list[str | Path]:
    return ["--python", python, "--root", ORIN_JP62, "--indexes", lab.mirror.overlay,
            "--index-url", f"{lab.mirror.base_url}/", "--retries", "1", "--timeout", "1"]


def _jetpip(lab: Lab, env: dict[str, str], *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jetpip", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


# -- what every fault must leave behind -------------------------------------------------------------


def assert_told(run: subprocess.CompletedProcess[str]) -> None:
    """A clear error: a non-zero exit, an error line, a hint, and no traceback."""
    assert run.returncode not in (0, -9), run.stderr
    assert "Traceback" not in run.stderr and "Traceback" not in run.stdout, run.stderr
    assert "error: " in run.stderr, run.stderr
    hints = [line for line in run.stderr.splitlines() if line.startswith("hint: ")]
    assert hints and all(len(h) > len("hint: ") + 10 for h in hints), run.stderr


def assert_cache_sound(cache: Path, *, killed: bool = False) -> int:
    """Every cache entry is whole and matches its hash; no temporary file is left unless killed.

    Returns the number of entries checked.
    """
    root = cache / f"v{CACHE_FORMAT}"
    entries = 0
    for path in sorted(root.rglob("*")) if root.is_dir() else ():
        if not path.is_file():
            continue
        part = path.relative_to(root).parts
        if path.name.startswith(".tmp-") or part[0] == "tmp":
            assert killed, f"a temporary file was left behind: {path}"
            continue
        if part[0] == "wheels":  # wheels/<algo>/<xx>/<digest>
            assert hashlib.new(part[1], path.read_bytes()).hexdigest() == part[-1], path
        elif part[0] in ("pages", "metadata", "urls"):
            head, _, body = path.read_bytes().partition(b"\n")
            header = json.loads(head)
            checked = header.get("checked")
            covered = body[:checked] if isinstance(checked, int) else body
            assert header["body_size"] == len(body), path
            assert header["body_sha256"] == hashlib.sha256(covered).hexdigest(), path
        else:
            continue  # partial downloads, kept to be resumed, are no entries
        entries += 1
    return entries


def assert_planned(lab: Lab, python: Path) -> None:
    assert installed(python) == lab.planned
    assert build_of(python, "torch") == "jetson"
    assert build_of(python, "onnxruntime") == "jetson"


def assert_locked_files(lab: Lab, wheelhouse: Path) -> None:
    for pkg in load_lock(lab.lockfile).packages:
        assert hashlib.sha256((wheelhouse / pkg.filename).read_bytes()).hexdigest() == pkg.sha256


# -- the index fails ------------------------------------------------------------------------------

PAGE = "/simple/numpy/"  # a base-index page every command that resolves reads
INDEX_FAULTS = {  # name: (server fault kind, on a page or on the locked torch file, extra fault settings)
    "5xx": ("500", "either", {}),
    "reset mid-page": ("page-reset", "page", {}),
    "truncated page": ("page-truncate", "page", {}),
    "slow past the timeout": ("stall", "either", {"seconds": 3.0}),
    "truncated file": ("truncate", "file", {}),
    "reset mid-file": ("reset", "file", {"cut": 300}),
    "wrong hash": ("corrupt", "file", {}),
    "404 on a locked file": ("404", "file", {}),
    "410 on a locked file": ("410", "file", {}),
}
RESOLVING = ("lock", "install")  # read pages; sync and download read the lock's files only
CASES = [(command, fault) for command in ("lock", "install", "sync", "download") for fault, (_, where, _) in
         INDEX_FAULTS.items()
         if (where != "file" or command != "lock") and (where != "page" or command in RESOLVING)]


@pytest.mark.parametrize(("command", "fault"), CASES, ids=[f"{c}-{f}" for c, f in CASES])
def test_an_index_fault_is_told_and_a_rerun_converges(
    lab: Lab, tmp_path: Path, command: str, fault: str,
) -> None:
    kind, where, settings = INDEX_FAULTS[fault]
    if where == "page" or (where == "either" and command in RESOLVING):
        lab.server.fault(PAGE, kind, **settings)  # type: ignore[arg-type]
    else:
        path = lab.file_path("torch", "2.8.0", "jetson")
        lab.server.fault(path, kind, exact=True, **settings)  # type: ignore[arg-type]
    cache, wheelhouse, out = tmp_path / "cache", tmp_path / "wheelhouse", tmp_path / "pylock.toml"
    env = _env(tmp_path / "home", cache)
    python = _copy_venv(lab.clean if command in ("lock", "download") else lab.dirty, tmp_path / "venv")
    args: dict[str, list[str | Path]] = {
        "lock": ["lock", *_on_orin(lab, python), REQUEST, "-o", out],
        "install": ["install", *_on_orin(lab, python), REQUEST],
        "sync": ["sync", lab.lockfile, *_on_orin(lab, python)],
        "download": ["download", lab.lockfile, "-d", wheelhouse, "--retries", "1", "--timeout", "1"],
    }

    failed = _jetpip(lab, env, *args[command])

    assert_told(failed)
    assert_cache_sound(cache)
    if command == "lock":
        assert not out.exists()
    lab.server.faults.clear()
    again = _jetpip(lab, env, *args[command])
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert_cache_sound(cache)
    if command == "lock":
        assert {(p.name, p.sha256) for p in load_lock(out).packages} == {
            (p.name, p.sha256) for p in load_lock(lab.lockfile).packages}
    elif command == "download":
        assert_locked_files(lab, wheelhouse)
    else:
        assert_planned(lab, python)


# -- the installer is killed ---------------------------------------------------------------------

# jetpip install of REQUEST into the dirty venv fetches 7 files, then runs 1. remove the shadowing
# onnxruntime and the base index's torch, 2. install the CUDA builds, 3. install the rest, then
# probes the environment and re-asserts the CUDA builds.
KILLS = {
    "SIGKILL while fetching": ("fetch", "SIGKILL"),
    "SIGKILL in step 1 (uninstall shadows)": ("1:before", "SIGKILL"),
    "SIGKILL in step 2 (install CUDA builds)": ("2:before", "SIGKILL"),
    "SIGKILL during step 2": ("2:during", "SIGKILL"),
    "SIGKILL in step 3 (install the rest)": ("3:before", "SIGKILL"),
    "SIGKILL during step 3": ("3:during", "SIGKILL"),
    "SIGKILL at the re-assert": ("3:after", "SIGKILL"),
    "Ctrl-C while fetching": ("fetch", "SIGINT"),
    "Ctrl-C in step 2 (install CUDA builds)": ("2:before", "SIGINT"),
}


@pytest.mark.parametrize("case", list(KILLS))
def test_an_install_killed_in_any_step_is_finished_by_a_rerun(lab: Lab, tmp_path: Path, case: str) -> None:
    at, sig = KILLS[case]
    cache = tmp_path / "cache"
    python = _copy_venv(lab.dirty, tmp_path / "venv")
    hook = {"JETPIP_UV": str(lab.uv_hook), "FAULT_REAL_UV": find_uv_bin(),
            "FAULT_COUNTER": str(tmp_path / "uv-calls"), "FAULT_SIGNAL": sig,
            "FAULT_AT": "0:before" if at == "fetch" else at}
    args = [sys.executable, "-m", "jetpip", "install", *map(str, _on_orin(lab, python)), REQUEST]
    if at == "fetch":
        torch = lab.file_path("torch", "2.8.0", "jetson")
        lab.server.fault(torch, "stall", seconds=5.0, exact=True)
        run = subprocess.Popen(args, env=_env(tmp_path / "home", cache, **hook), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
                               preexec_fn=takes_ctrl_c)
        assert run.stderr is not None
        seen = []
        for line in run.stderr:  # the other files take milliseconds; torch's stalls for 5 s
            seen.append(line)
            if line.startswith("==> fetching"):
                break
        time.sleep(0.5)
        os.killpg(run.pid, getattr(signal, sig))
        stdout, stderr = run.communicate(timeout=60)
        failed = subprocess.CompletedProcess(args, run.returncode, stdout, "".join(seen) + stderr)
        lab.server.faults.clear()
    else:
        failed = subprocess.run(args, env=_env(tmp_path / "home", cache, **hook), text=True,
                                capture_output=True, start_new_session=True, timeout=120,
                                preexec_fn=takes_ctrl_c)

    calls = tmp_path / "uv-calls"  # how many install steps the engine was started for
    if at == "fetch":
        assert not calls.exists()
    else:
        assert calls.read_text() == at.split(":")[0]
    if sig == "SIGKILL":
        assert failed.returncode == -signal.SIGKILL
    else:
        assert_told(failed)
        assert failed.returncode == 130
    assert_cache_sound(cache, killed=sig == "SIGKILL")
    again = _jetpip(lab, _env(tmp_path / "home", cache), "install", *_on_orin(lab, python), REQUEST)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert_planned(lab, python)
    assert_cache_sound(cache, killed=sig == "SIGKILL")


# -- the cache's disk is full ---------------------------------------------------------------------


def _tmpfs(where: Path, size: str) -> str | None:
    """Mount a tmpfs of ``size`` at ``where``; the reason when this machine allows none."""
    where.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        return "no mount command"
    try:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"mount -t tmpfs failed: {err}"
    return None if done.returncode == 0 else f"mount -t tmpfs is not allowed here: {done.stderr.strip()}"


@pytest.mark.parametrize("command", ["lock", "install"])
def test_a_full_cache_disk_is_told_and_a_rerun_converges(lab: Lab, tmp_path: Path, command: str) -> None:
    cache = tmp_path / "cache"
    why = _tmpfs(cache, "24k")
    if why is not None:
        pytest.skip(why)
    try:
        python = _copy_venv(lab.dirty, tmp_path / "venv")
        out = tmp_path / "pylock.toml"
        args: list[str | Path] = [command, *_on_orin(lab, python), REQUEST, *(["-o", out] if command == "lock"
                                                                              else [])]
        env = _env(tmp_path / "home", cache)

        failed = _jetpip(lab, env, *args)

        assert_told(failed)
        assert "space" in failed.stderr.lower() or "disk" in failed.stderr.lower(), failed.stderr
        assert_cache_sound(cache)
        subprocess.run(["mount", "-o", "remount,size=64m", str(cache)], check=True, capture_output=True)
        again = _jetpip(lab, env, *args)
        assert again.returncode == 0, again.stderr
        assert_cache_sound(cache)
        if command == "install":
            assert_planned(lab, python)
    finally:
        subprocess.run(["umount", "-l", str(cache)], check=False, capture_output=True)
