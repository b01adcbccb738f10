"""``jetpip doctor``: run the probe in the target Python, each part under a time limit, and judge it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from jetpip.doctor.checks import Check, Facts, all_checks
from jetpip.doctor.model import DoctorContext, PartRun
from jetpip.doctor.parts import EnvPart, ImportPart, read_env, read_import
from jetpip.errors import InterpreterError
from jetpip.interpreter.launch import probe_argv

if TYPE_CHECKING:
    from jetpip.model.documents import DoctorDocument, StatusCounts

SCHEMA: Final = "jetpip.doctor/1"
MARK = "@@jetpip-doctor@@ "
DEFAULT_TIMEOUT = 120.0
# The parts the probe can report, by the process that reports them.
_TORCH_FAMILY = ("torch", "torchvision", "torchaudio")

# Library directories searched under --root, besides ldconfig's cache (read only when root is /).
_LIB_DIRS = (
    "usr/lib/aarch64-linux-gnu", "usr/lib/aarch64-linux-gnu/nvidia", "usr/lib/aarch64-linux-gnu/tegra",
    "usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib", "usr/local/lib",
    "usr/local/cuda/lib64", "usr/local/cuda/targets/aarch64-linux/lib",
    "usr/local/cuda/targets/sbsa-linux/lib", "usr/local/cuda/targets/x86_64-linux/lib",
)


@dataclass(frozen=True)
class DoctorReport:
    """Every check for one interpreter, in a fixed order."""

    python: str
    python_version: str | None
    context: DoctorContext
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when no check failed or was unable to run."""
        return not any(c.failed for c in self.checks)

    def counts(self) -> StatusCounts:
        """How many checks ended in each status."""
        out: StatusCounts = {"ok": 0, "warn": 0, "fail": 0, "error": 0, "skip": 0}
        for c in self.checks:
            out[c.status] += 1
        return out

    def to_json(self) -> DoctorDocument:
        """The stable JSON form (schema ``jetpip.doctor/1``) documented in docs/doctor.md."""
        ctx = self.context
        return {
            "schema": SCHEMA,
            "ok": self.ok,
            "python": {"executable": self.python, "version": self.python_version},
            "device": {"is_jetson": ctx.is_jetson, "summary": ctx.summary,
                       "compute_capability": ctx.compute_capability, "cuda": ctx.cuda,
                       "route": ctx.route.key if ctx.route else None, "notes": list(ctx.notes)},
            "counts": self.counts(),
            "checks": [c.to_json() for c in self.checks],
        }


def parse_probe_output(stdout: str) -> tuple[EnvPart | None, dict[str, ImportPart]]:
    """The probe's marked lines: part ``env`` and the import parts by name, each checked as it is read.

    Other output (a package's prints) is ignored.
    """
    env: EnvPart | None = None
    parts: dict[str, ImportPart] = {}
    for line in stdout.splitlines():
        if line.startswith(MARK):
            try:
                data = json.loads(line[len(MARK):])
            except ValueError:
                continue
            if not isinstance(data, dict) or not isinstance(data.get("part"), str):
                continue
            if data["part"] == "env":
                env = read_env(data)
            else:
                parts[data["part"]] = read_import(data)
    return env, parts


def run_part(python: str, args: Sequence[str], timeout: float) -> PartRun:
    """Run one probe process in the target interpreter; a hang or crash becomes ``failure``."""
    with tempfile.TemporaryDirectory(prefix="jetpip-doctor-") as cwd:
        try:
            proc = subprocess.Popen(
                probe_argv(python, "doctor_facts", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, cwd=cwd, start_new_session=True,
            )
        except OSError as err:
            raise InterpreterError(
                f"cannot run the target interpreter {python}: {err.strerror or err}",
                "pass --python with the path of a working Python 3.6+ interpreter",
            ) from err
        failure = None
        try:
            out, errout = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # The whole process group: an import may have started helpers of its own.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            out, errout = proc.communicate()
            failure = f"timed out after {timeout:g} s"
    stdout = out.decode("utf-8", "replace")
    stderr = errout.decode("utf-8", "replace")
    if failure is None and proc.returncode != 0:
        if proc.returncode < 0:
            try:
                name = signal.Signals(-proc.returncode).name
            except ValueError:
                name = f"signal {-proc.returncode}"
            failure = f"crashed with {name}"
        else:
            last = [ln for ln in stderr.splitlines() if ln.strip()]
            failure = f"exited with status {proc.returncode}" + (f": {last[-1].strip()}" if last else "")
    env, parts = parse_probe_output(stdout)
    return PartRun(parts, failure, stderr, env)


def _lib_dirs(root: str) -> list[str]:
    return [os.path.join(root, d) for d in _LIB_DIRS]


def collect(python: str, context: DoctorContext, timeout: float = DEFAULT_TIMEOUT) -> dict[str, PartRun]:
    """Run the probe: the interpreter first, then the heavy imports side by side."""
    use_ldconfig = os.path.realpath(context.root) == "/"
    request = json.dumps({"lib_dirs": _lib_dirs(context.root), "ldconfig": use_ldconfig})
    env_run = run_part(python, ["env", request], timeout)
    if env_run.env is None:
        why = env_run.failure or "it printed no result"
        raise InterpreterError(
            f"the target interpreter {python} did not answer the doctor probe: {why}",
            "doctor needs a Python 3.6+ interpreter; check --python"
            + (f"\n{env_run.stderr.strip().splitlines()[-1]}" if env_run.stderr.strip() else ""),
        )
    installed = {d["name"] for d in env_run.env.get("dists", [])}
    jobs: dict[str, list[str]] = {}
    family = [n for n in _TORCH_FAMILY[1:] if n in installed]
    if "torch" in installed or family:
        jobs["torch"] = ["torch", *family]
    if "numpy" in installed:
        jobs["numpy"] = ["numpy"]
    if installed & {"onnxruntime", "onnxruntime-gpu"}:
        jobs["onnxruntime"] = ["onnxruntime"]
    runs = {"env": env_run}
    with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
        futures = {key: pool.submit(run_part, python, args, timeout) for key, args in jobs.items()}
        for key, fut in futures.items():
            runs[key] = fut.result()
    return runs


def diagnose(python: str, context: DoctorContext | None = None, *,
             timeout: float = DEFAULT_TIMEOUT) -> DoctorReport:
    """Check the environment of ``python`` and return every verdict (never raises for a broken package)."""
    ctx = context or DoctorContext()
    runs = collect(python, ctx, timeout)
    env = runs["env"].env or {}  # collect raised already if the probe gave none
    facts = Facts.build(env, runs, shlex.quote(python))
    checks = all_checks(facts, ctx)
    return DoctorReport(python=python, python_version=env.get("version"), context=ctx, checks=tuple(checks))
