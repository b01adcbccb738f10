"""Helpers for end-to-end tests: plain pip, and reading what a venv holds and imports."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path


def pip_install(python: Path, *args: str) -> None:
    """Plain pip, as a user would run it (to put an environment in a known bad state)."""
    subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", *args],
                   check=True, capture_output=True)


def run_python(python: Path, code: str) -> str:
    """Run ``code`` in the target interpreter and return its stdout."""
    out = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def installed(python: Path) -> dict[str, str]:
    """name -> version of what the venv itself holds (its system site-packages left out)."""
    from jetpip.interpreter.probe import probe_interpreter

    return {d.name: d.version for d in probe_interpreter(str(python)).installed if not d.in_system_site}


def build_of(python: Path, module: str) -> str:
    """The stand-in marker of ``module`` as the target imports it: "jetson" or "pypi"."""
    return run_python(python, f"import {module}; print({module}.BUILD)")


def uv_with_log(folder: Path) -> tuple[Path, Path]:
    """A uv for jetpip (``JETPIP_UV``) that logs each command it runs, then runs the real uv.

    The log gets ``start ARGS``, then each line of the command's requirements file (``-r``,
    its last argument) indented by two spaces, and ``end ARGS`` once the command is done
    (``uv_installs`` reads it). Returns the uv and its log.
    """
    from uv import find_uv_bin

    log, uv = folder / "uv.log", folder / "uv"
    uv.write_text(f'#!/bin/sh\nfor a in "$@"; do last="$a"; done\n'
                  f'case "$*" in *" -r "*) sed "s/^/  /" "$last" > "$last.log" ;; esac\n'
                  f'echo "start $*" >> "{log}"\n'
                  f'case "$*" in *" -r "*) cat "$last.log" >> "{log}"; rm -f "$last.log" ;; esac\n'
                  f'"{find_uv_bin()}" "$@"; rc=$?\necho "end $*" >> "{log}"\nexit $rc\n')
    uv.chmod(0o755)
    return uv, log


def uv_installs(log: Path) -> list[tuple[str, list[str]]]:
    """(command, requirement lines) of each uv install in a ``uv_with_log`` log, in the order they started."""
    runs: list[tuple[str, list[str]]] = []
    for line in log.read_text().splitlines():
        if line.startswith("start pip install"):
            runs.append((line, []))
        elif line.startswith("  ") and runs:
            runs[-1][1].append(line.strip())
    return runs


def commands_naming(text: str) -> list[str]:
    """The command lines of this machine's processes that contain ``text``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended meanwhile
        if text in args:
            found.append(args)
    return found


def takes_ctrl_c() -> None:
    """``preexec_fn`` of a child that a test interrupts: SIGINT acts on it, as on a command typed in
    a shell, even when the test run itself was started with SIGINT ignored (a background job of a
    script, `nohup ... &`), a disposition children would otherwise inherit."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
