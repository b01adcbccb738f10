"""The installers that put a plan's fetched files into the target: uv (the default) or the target's pip."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from jetpip.errors import UsageError
from jetpip.model.target import Interpreter

EngineName = Literal["uv", "pip"]
ENGINES: tuple[EngineName, ...] = ("uv", "pip")

#: The uv binary to run instead of the one the uv package installs (a distribution's own uv, say).
UV_ENV = "JETPIP_UV"
# uv reads interpreters from 3.6 on (JetPack 4); older ones only pip can serve.
UV_OLDEST_PYTHON = (3, 6)
# How long a plan waits for uv's warm-up before it kills it (seconds); it takes about 0.05.
WARM_UP_WAIT = 10.0


@dataclass(frozen=True)
class Engine:
    """One installer bound to one target interpreter: how its install and uninstall commands read.

    Both engines get local files only, with ``--no-deps --no-index`` (and uv ``--offline``): the
    plan has pinned every file, and jetpip has fetched and hash-checked them already.
    """

    name: EngineName
    python: str  # the target interpreter
    program: tuple[str, ...]  # uv: (uv, "pip"); pip: (python, "-m", "pip")
    version: str | None = None  # "uv 0.9.2" / "pip 24.0", as the engine names itself
    compile_bytecode: bool = False
    args: tuple[str, ...] = ()  # what every command gets (--break-system-packages)
    why: str | None = None  # why this engine, when it is not the default one

    def install(self, requirements_file: str, *, hashed: bool, force: bool = False) -> tuple[str, ...]:
        """The command that installs the files a requirements file names (``name @ file:... --hash``)."""
        if self.name == "uv":
            argv = self._uv_install()
            if force:
                argv.append("--reinstall")
            if self.compile_bytecode:
                argv.append("--compile-bytecode")
        else:
            argv = [*self.program, "install", "--no-deps", "--no-index", "--disable-pip-version-check"]
            if force:
                argv.append("--force-reinstall")
            if not self.compile_bytecode:
                argv.append("--no-compile")  # uv's default: bytecode is written on first import
        if hashed:
            argv.append("--require-hashes")
        return (*argv, *self.args, "-r", requirements_file)

    def unpack(self, requirements_file: str, into: str, *, hashed: bool) -> tuple[str, ...] | None:
        """uv: the command that installs the files into the scratch directory ``into``; pip: None.

        uv unpacks each wheel into its cache before it links the files into place, so this leaves
        the wheels unpacked for a later install from the same paths (see ``install/ahead.py``).
        pip keeps no such cache.
        """
        if self.name != "uv":
            return None
        argv = [*self._uv_install(), "--target", into, "--quiet"]
        if hashed:
            argv.append("--require-hashes")
        return (*argv, "-r", requirements_file)

    def warm_up(self) -> Callable[[], None]:
        """Start uv reading the target interpreter into its cache; the call returned waits for it.

        uv learns a Python it has not seen (a new venv, say) by running it, about 45 ms, and caches
        what it learnt by the interpreter's path and change time. Started while jetpip resolves,
        the first install step finds it cached. Nothing else is read or written; pip, or a uv that
        fails here, leaves the steps as they were. The wait kills a warm-up still running at 10 s.
        """
        if self.name != "uv":
            return _nothing
        argv = [self.program[0], "python", "find", "--no-project", "--offline", "--no-python-downloads",
                self.python]
        try:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
        except OSError:
            return _nothing

        def settle() -> None:
            try:
                proc.wait(timeout=WARM_UP_WAIT)
            except subprocess.TimeoutExpired:
                pass
            finally:
                if proc.returncode is None:
                    proc.kill()
                    proc.wait()

        return settle

    def _uv_install(self) -> list[str]:
        """The start of every uv install: into the target, local files only, nothing resolved."""
        return [*self.program, "install", "--python", self.python, "--no-deps", "--no-index", "--offline"]

    def uninstall(self, names: Sequence[str]) -> tuple[str, ...]:
        """The command that removes the distributions ``names``."""
        if self.name == "uv":
            return (*self.program, "uninstall", "--python", self.python, *self.args, *names)
        return (*self.program, "uninstall", "--yes", "--disable-pip-version-check", *self.args, *names)

    def describe(self) -> str:
        """One line for the plan: which installer, where it is, and why it was chosen if not by default."""
        where = self.program[0] if self.name == "uv" else "the target's own"
        line = f"{self.version or self.name} ({where})"
        return f"{line}: {self.why}" if self.why else line


def pick_engine(
    interpreter: Interpreter,
    asked: EngineName | None = None,
    *,
    compile_bytecode: bool = False,
    break_system_packages: bool = False,
    env: Mapping[str, str] | None = None,
) -> Engine:
    """The engine for ``interpreter``: ``asked``, else uv, else the target's pip with the reason.

    Asking for uv where it cannot run is an error; by default jetpip falls back to pip, and the
    engine's ``why`` says why in one line.
    """
    if interpreter.executable is None:
        raise ValueError("an engine needs a probed interpreter")
    python = interpreter.executable
    args = ("--break-system-packages",) if break_system_packages else ()
    pip_version = f"pip {interpreter.pip_version}" if interpreter.pip_version else "pip"
    if asked == "pip":
        return Engine("pip", python, (python, "-m", "pip"), pip_version, compile_bytecode, args)
    uv, version, why_not = find_uv(interpreter, os.environ if env is None else env)
    if uv is not None:
        return Engine("uv", python, (uv, "pip"), version, compile_bytecode, args)
    if asked == "uv":
        raise UsageError(f"--installer uv, but {why_not}",
                         "install uv beside jetpip (`pip install uv`), set JETPIP_UV to a uv binary, "
                         "or drop --installer uv to install with the target's pip")
    return Engine("pip", python, (python, "-m", "pip"), pip_version, compile_bytecode, args,
                  why=f"uv is not used, because {why_not}")


def find_uv(interpreter: Interpreter, env: Mapping[str, str]) -> tuple[str | None, str | None, str]:
    """(uv binary, its version line, "") when uv can install into ``interpreter``; else (None, None, why)."""
    if _version_tuple(interpreter.version) < UV_OLDEST_PYTHON:
        return None, None, f"uv needs a target Python 3.6 or newer, and this one is {interpreter.version}"
    path = env.get(UV_ENV)
    if not path:
        try:
            from uv import find_uv_bin

            path = find_uv_bin()
        except (ImportError, FileNotFoundError):
            return None, None, "uv is not installed beside jetpip"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as err:
        reason = err.strerror if isinstance(err, OSError) and err.strerror else str(err)
        return None, None, f"{path} does not run here ({reason})"
    if out.returncode != 0:
        return None, None, f"`{path} --version` failed with exit status {out.returncode}"
    version = out.stdout.strip().split(" (")[0] or "uv"
    return path, version, ""


def _nothing() -> None:
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)
