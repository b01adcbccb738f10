"""The target interpreter: find it, probe it, or synthesise one for a cross target."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from jetpip.errors import InterpreterError, UsageError
from jetpip.interpreter.launch import probe_argv, probe_path

if TYPE_CHECKING:  # loaded when a record is built, so a probe can start before the rest of jetpip
    from jetpip.model.target import InstalledDist, Interpreter

__all__ = [
    "PROBE_PATH",
    "ProbeFacts",
    "ProbeRun",
    "ProbedDist",
    "find_target_python",
    "interpreter_from_probe",
    "platform_tags",
    "probe_interpreter",
    "rescan",
    "synthesize_interpreter",
]

PROBE_PATH = probe_path("interpreter_facts")
PROBE_TIMEOUT = 60.0  # a cold JetPack 4 SD card can take seconds to start Python

# manylinux_2_N aliases of the legacy manylinux tags; pip lists each right after its twin.
_LEGACY_MANYLINUX = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}
_LEGACY_ARCHES = {"x86_64", "i686"}  # manylinux1 and 2010 exist only for these
_MANYLINUX_FLOOR = {"x86_64": 5, "i686": 5}  # every other arch starts at manylinux2014 (2.17)


class ProbedDist(TypedDict, total=False):
    """One entry of the probe's ``installed`` list, as jetpip reads it."""

    name: str  # canonical
    version: str
    location: str
    requires: list[str]
    installer: str | None
    direct_url: str | None
    archive_sha256: str | None
    wheel_tags: list[str]
    in_system_site: bool


class ProbeFacts(TypedDict, total=False):
    """What jetpip reads of the probe's JSON line (jetpip/_probes/interpreter_facts.py).

    The probe runs in another interpreter, so its answer is input: ``interpreter_from_probe``
    checks the type of every key as it reads it. A key of the wrong type counts as absent, except
    ``version``, ``implementation`` and ``machine``, without which there is no interpreter.
    """

    executable: str
    version: str
    implementation: str
    machine: str
    pointer_bits: int
    glibc: str | None
    abi: str | None
    markers: dict[str, str]
    is_venv: bool
    system_site_packages: bool
    externally_managed: bool
    pip_version: str | None
    pip_default_index: str | None
    prefix: str
    base_prefix: str
    site_packages: list[str]
    installed: list[ProbedDist]
    dist_path: list[str]


def find_target_python(python: str | None, env: Mapping[str, str]) -> str:
    """The interpreter to act on: ``--python``, else the active venv, else ``python3`` on PATH."""
    path = env.get("PATH", os.defpath)
    if python:
        candidate = Path(python).expanduser()
        if candidate.is_dir():
            # a venv or prefix directory given instead of its interpreter
            for sub in ("bin/python3", "bin/python"):
                if (candidate / sub).exists():
                    return str(candidate / sub)
            raise InterpreterError(
                f"--python {python}: a directory with no bin/python in it",
                "pass the interpreter itself, e.g. --python .venv/bin/python",
            )
        if os.sep in python or python.startswith("."):
            if not candidate.exists():
                raise InterpreterError(
                    f"--python {python}: no such file",
                    "check the path; create a venv with `python3 -m venv .venv` if there is none",
                )
            if not os.access(candidate, os.X_OK):
                raise InterpreterError(f"--python {python}: not executable", "pass a Python binary")
            return str(candidate)
        found = shutil.which(python, path=path)
        if found is None:
            raise InterpreterError(
                f"--python {python}: not found on PATH",
                "pass a full path, e.g. --python /usr/bin/python3.10",
            )
        return found
    venv = env.get("VIRTUAL_ENV")
    if venv:
        for sub in ("bin/python", "bin/python3"):
            exe = Path(venv) / sub
            if exe.exists():
                return str(exe)
        raise InterpreterError(
            f"VIRTUAL_ENV is set to {venv}, but it has no bin/python",
            "the venv was moved or deleted: `deactivate`, or recreate it with "
            "`python3 -m venv --system-site-packages <dir>`",
        )
    found = shutil.which("python3", path=path)
    if found is None:
        raise InterpreterError(
            "no target Python: no --python, no active venv, and no python3 on PATH",
            "pass --python PATH, activate a venv, or (for a lock from another machine) "
            "give --python-version and --platform",
        )
    return found


class ProbeRun:
    """The probe running inside a target interpreter; start it early, read its facts when needed."""

    def __init__(self, executable: str, timeout: float = PROBE_TIMEOUT) -> None:
        self.executable = executable
        self.timeout = timeout
        try:
            self._proc = subprocess.Popen(
                probe_argv(executable, "interpreter_facts"),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                text=True,
            )
        except OSError as exc:
            raise InterpreterError(
                f"{executable}: cannot run it ({exc.strerror or exc})",
                "pass a working Python 3.6+ interpreter with --python",
            ) from exc

    def cancel(self) -> None:
        """Stop the probe if it still runs (the caller failed before it needed the facts)."""
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.communicate()

    def result(self) -> Interpreter:
        """Wait for the probe and build the Interpreter record; an InterpreterError says what failed."""
        executable, timeout = self.executable, self.timeout
        try:
            stdout, stderr = self._proc.communicate(timeout=timeout)
        except BaseException as exc:
            self.cancel()  # an interrupt, too, must not leave the probe running
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            raise InterpreterError(
                f"{executable}: the interpreter probe did not finish in {timeout:.0f} s",
                "check that the interpreter starts (`<python> -c pass`); a sitecustomize or a "
                "slow disk can stall it",
            ) from exc
        if self._proc.returncode != 0:
            raise InterpreterError(
                f"{executable}: the interpreter probe failed (exit {self._proc.returncode})"
                + _stderr_tail(stderr),
                "jetpip needs a Python 3.6+ interpreter that starts cleanly; run "
                f"`{executable} {PROBE_PATH}` to see the failure",
            )
        lines = [line for line in stdout.splitlines() if line.strip()]
        try:
            data = json.loads(lines[-1]) if lines else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise InterpreterError(
                f"{executable}: the interpreter probe printed no facts" + _stderr_tail(stderr),
                "something in the interpreter's startup (sitecustomize, a .pth file) writes to "
                f"stdout; run `{executable} {PROBE_PATH}` to see it",
            )
        return interpreter_from_probe(data, executable)


def start_probe(python: str | None, env: Mapping[str, str]) -> ProbeRun:
    """Start the probe of the target interpreter ``python`` names (see ``find_target_python``)."""
    return ProbeRun(find_target_python(python, env))


def probe_interpreter(executable: str, timeout: float = PROBE_TIMEOUT) -> Interpreter:
    """Run the probe inside ``executable`` and build its Interpreter record."""
    return ProbeRun(executable, timeout).result()


def _stderr_tail(stderr: str, lines: int = 15) -> str:
    tail = [line for line in stderr.strip().splitlines() if line.strip()][-lines:]
    return (":\n" + "\n".join("    " + line for line in tail)) if tail else ""


def _opt_str(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _items(data: Mapping[str, object], key: str) -> list[object]:
    value = data.get(key)
    return value if isinstance(value, list) else []


def interpreter_from_probe(data: Mapping[str, object], executable: str | None = None) -> Interpreter:
    """Build an Interpreter from the probe's JSON object (``ProbeFacts``); a malformed object is an error."""
    from jetpip.model.target import Interpreter

    version = data.get("version")
    implementation = data.get("implementation")
    machine = data.get("machine")
    if not (isinstance(version, str) and re.match(r"^\d+\.\d+", version)):
        raise InterpreterError(
            f"{executable}: the interpreter probe reported no usable version ({version!r})",
            "jetpip supports CPython 3.6 and newer as targets",
        )
    if not isinstance(implementation, str) or not isinstance(machine, str):
        raise InterpreterError(
            f"{executable}: the interpreter probe's answer lacks implementation or machine",
            "run the probe by hand to check: " f"`{executable} {PROBE_PATH}`",
        )
    glibc = _opt_str(data, "glibc")
    bits = data.get("pointer_bits")
    markers_raw = data.get("markers")
    markers = (
        {str(k): str(v) for k, v in markers_raw.items()} if isinstance(markers_raw, dict) else {}
    )
    installed = tuple(
        _installed_from_probe(item)
        for item in _items(data, "installed")
        if isinstance(item, dict) and isinstance(item.get("name"), str)
    )
    return Interpreter(
        executable=executable or _opt_str(data, "executable"),
        version=version,
        implementation=implementation,
        platforms=platform_tags(_tag_machine(machine, bits if isinstance(bits, int) else 64), glibc),
        markers=markers,
        abi=_opt_str(data, "abi"),
        glibc=glibc,
        is_venv=bool(data.get("is_venv")),
        system_site_packages=bool(data.get("system_site_packages")),
        externally_managed=bool(data.get("externally_managed")),
        pip_version=_opt_str(data, "pip_version"),
        pip_default_index=_opt_str(data, "pip_default_index"),
        prefix=_opt_str(data, "prefix"),
        base_prefix=_opt_str(data, "base_prefix"),
        site_packages=tuple(str(p) for p in _items(data, "site_packages") if p),
        installed=installed,
        dist_path=tuple(p for p in _items(data, "dist_path") if isinstance(p, str) and p),
    )


def rescan(interpreter: Interpreter) -> Interpreter | None:
    """``interpreter`` with its installed distributions read again, here, from the probe's paths.

    The probe's own reader runs in this process over the ``dist_path`` the probe reported, which
    spares starting the target interpreter again after an install step (tens of milliseconds,
    more on a small board). None when the probe reported no paths (a synthesised interpreter).
    """
    import dataclasses

    from jetpip._probes import interpreter_facts

    if not interpreter.dist_path or interpreter.prefix is None:
        return None
    found: list[dict[str, object]] = interpreter_facts.installed_distributions(  # type: ignore[no-untyped-call]
        interpreter.is_venv, interpreter.prefix, interpreter.base_prefix or interpreter.prefix,
        interpreter.dist_path)
    installed = tuple(_installed_from_probe(d) for d in found if isinstance(d.get("name"), str))
    return dataclasses.replace(interpreter, installed=installed)


def _installed_from_probe(item: Mapping[str, object]) -> InstalledDist:
    from jetpip.model.target import InstalledDist

    return InstalledDist(
        name=str(item["name"]),
        version=str(item.get("version") or ""),
        location=str(item.get("location") or ""),
        requires=tuple(str(r) for r in _items(item, "requires")),
        installer=_opt_str(item, "installer"),
        direct_url=_opt_str(item, "direct_url"),
        archive_sha256=_opt_str(item, "archive_sha256"),
        wheel_tags=tuple(str(t) for t in _items(item, "wheel_tags")),
        in_system_site=bool(item.get("in_system_site")),
    )


def _tag_machine(machine: str, pointer_bits: int) -> str:
    """The machine as wheel tags spell it; a 32-bit Python on a 64-bit kernel uses its own."""
    machine = machine.lower().replace("-", "_").replace(".", "_")
    if machine == "arm64":
        machine = "aarch64"
    if pointer_bits == 32:
        machine = {"x86_64": "i686", "aarch64": "armv8l"}.get(machine, machine)
    return machine


def platform_tags(machine: str, glibc: str | None) -> tuple[str, ...]:
    """Linux platform tags best first: ``manylinux_2_N`` down to the arch's floor, then ``linux_*``.

    The order is pip's: each legacy alias (``manylinux2014`` ...) follows its ``manylinux_2_N``.
    Without glibc (musl, or unknown), only ``linux_<machine>`` fits.
    """
    tags: list[str] = []
    m = re.fullmatch(r"(\d+)\.(\d+)", glibc or "")
    if m and int(m.group(1)) == 2:
        floor = _MANYLINUX_FLOOR.get(machine, 17)
        for minor in range(int(m.group(2)), floor - 1, -1):
            tags.append(f"manylinux_2_{minor}_{machine}")
            legacy = _LEGACY_MANYLINUX.get((2, minor))
            if legacy and (minor == 17 or machine in _LEGACY_ARCHES):
                tags.append(f"{legacy}_{machine}")
    tags.append(f"linux_{machine}")
    return tuple(tags)


_PLATFORM_RE = re.compile(
    r"^(?:linux|manylinux_(?P<major>\d+)_(?P<minor>\d+)|manylinux2014)_(?P<machine>[a-z0-9_]+)$"
)


def synthesize_interpreter(python_version: str, platform: str, glibc: str | None) -> Interpreter:
    """An Interpreter for a machine jetpip does not run on (``--python-version``/``--platform``)."""
    from jetpip.model.target import Interpreter

    vm = re.fullmatch(r"(?:cp|py)?(\d)\.?(\d{1,2})(?:\.(\d{1,3}))?", python_version.strip())
    if not vm:
        raise UsageError(
            f"--python-version {python_version}: not a Python version",
            "give major.minor, e.g. --python-version 3.10",
        )
    major, minor, micro = int(vm.group(1)), int(vm.group(2)), int(vm.group(3) or 0)
    if (major, minor) < (3, 6):
        raise UsageError(
            f"--python-version {python_version}: too old for a target",
            "jetpip targets Python 3.6 and newer (JetPack 4 ships 3.6)",
        )
    pm = _PLATFORM_RE.match(platform.strip())
    if not pm:
        raise UsageError(
            f"--platform {platform}: not a Linux platform tag jetpip can target",
            "use linux_aarch64 (Jetson), or a manylinux_2_N_<arch> tag",
        )
    machine = pm.group("machine")
    if glibc is None and pm.group("major"):
        glibc = f"{pm.group('major')}.{pm.group('minor')}"
    if glibc is not None and not re.fullmatch(r"2\.\d{1,3}", glibc):
        raise UsageError(f"--glibc {glibc}: not a glibc version", "give it as 2.N, e.g. --glibc 2.35")
    full = f"{major}.{minor}.{micro}"
    markers = {
        "implementation_name": "cpython",
        "implementation_version": full,
        "os_name": "posix",
        "platform_machine": machine,
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": full,
        "platform_python_implementation": "CPython",
        "python_version": f"{major}.{minor}",
        "sys_platform": "linux",
    }
    return Interpreter(
        executable=None,
        version=full,
        implementation="cpython",
        platforms=platform_tags(machine, glibc),
        markers=markers,
        abi=f"cp{major}{minor}" + ("m" if (major, minor) < (3, 8) else ""),
        glibc=glibc,
    )
