"""Run an install plan with the target interpreter's own pip, then re-assert and check the result."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from jetpip.errors import ExternallyManagedError, NoPipError, PipStepError, UsageError
from jetpip.install.plan import InstallPlan, PipStep
from jetpip.install.verify import BrokenRequirement, Mismatch, check_consistency, reassert, shadows
from jetpip.model.target import Interpreter
from jetpip.model.urls import redact_text
from jetpip.report import NullReporter, Reporter

if TYPE_CHECKING:
    from jetpip.model.documents import InstallDocument

Probe = Callable[[str], Interpreter]

VENV_FIX = "python3 -m venv --system-site-packages .venv"


@dataclass(frozen=True)
class PipResult:
    """What one pip invocation returned."""

    returncode: int
    output: str  # stdout and stderr, interleaved


class PipRunner(Protocol):
    """Runs one pip command line; the seam tests and callers may replace."""

    def run(self, argv: Sequence[str]) -> PipResult:
        """Run ``argv`` to completion and return its status and output."""


class SubprocessPipRunner:
    """Runs pip as a child process of the target interpreter, capturing its output."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo  # receives each output line as it arrives (for -v), passwords redacted

    def run(self, argv: Sequence[str]) -> PipResult:
        """Run ``argv``; a KeyboardInterrupt stops the child and propagates."""
        env = dict(os.environ)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.setdefault("PYTHONUNBUFFERED", "1")  # lines arrive as pip prints them (for -v)
        lines: list[str] = []
        with subprocess.Popen(
            list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
            text=True, encoding="utf-8", errors="replace",
        ) as proc:
            try:
                assert proc.stdout is not None
                for line in proc.stdout:
                    lines.append(line)
                    if self.echo is not None:
                        self.echo(redact_text(line.rstrip("\n")))
                proc.wait()
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        return PipResult(proc.returncode, "".join(lines))


@dataclass
class InstallOutcome:
    """What an executed plan did and what the checks found."""

    plan: InstallPlan
    ran: list[PipStep] = field(default_factory=list)
    reinstalled: list[Mismatch] = field(default_factory=list)  # fixed by re-assert
    broken: list[BrokenRequirement] = field(default_factory=list)
    shadows: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the environment passed every check."""
        return not self.broken and not self.shadows

    def to_json(self) -> InstallDocument:
        """JSON form (schema ``jetpip.install/1``)."""
        return {
            "schema": "jetpip.install/1",
            "plan": self.plan.to_json(),
            "ran": [s.kind for s in self.ran],
            "reasserted": [str(m) for m in self.reinstalled],
            "broken": [str(b) for b in self.broken],
            "shadows": list(self.shadows),
            "ok": self.ok,
        }


def check_target(interpreter: Interpreter, *, break_system_packages: bool = False) -> None:
    """Refuse a target pip cannot (or must not) install into, saying how to fix it."""
    if interpreter.executable is None:
        raise UsageError(
            "installing needs a real interpreter, but the target was given by flags "
            "(--python-version / --platform)",
            "drop the cross-target flags, or use `jetpip lock` for a target you cannot run here",
        )
    if interpreter.externally_managed and not break_system_packages:
        raise ExternallyManagedError(
            f"{interpreter.executable} is externally managed (PEP 668): its packages belong to the "
            "system package manager, and pip would refuse to change them",
            f"create a venv that still sees JetPack's system tensorrt and cv2 bindings:\n"
            f"  {VENV_FIX} && . .venv/bin/activate\n"
            "then run jetpip again; or pass --break-system-packages to install into the system "
            "Python anyway",
        )
    if interpreter.pip_version is None:
        raise NoPipError(
            f"{interpreter.executable} has no pip, and jetpip installs with the target's own pip",
            f"bootstrap it with `{interpreter.executable} -m ensurepip --upgrade` "
            "(or `sudo apt install python3-pip` for the system Python), then run jetpip again",
        )


def execute(
    plan: InstallPlan,
    *,
    runner: PipRunner,
    probe: Probe,
    guarded_names: Sequence[str] = (),
    before: Interpreter | None = None,
    reporter: Reporter | None = None,
) -> InstallOutcome:
    """Run the plan's pip steps in order, then re-assert the CUDA builds and check consistency.

    A failing or interrupted step stops the run: nothing after it runs, and the PipStepError
    says what state the environment is in. Re-running the same command repairs it, since a
    new plan starts from what is installed then. ``before`` is the probe the plan was built
    from; a no-op plan checks it instead of probing again.
    """
    rep = reporter or NullReporter()
    outcome = InstallOutcome(plan)
    interpreter: Interpreter | None
    if plan.is_noop:
        interpreter = before
    else:
        os.makedirs(plan.workdir, exist_ok=True)
        try:
            for number, step in enumerate(plan.steps, 1):
                _run_step(plan, step, number, runner, rep, outcome.ran)
            interpreter = probe(plan.python)
            wrong = reassert(plan.guarded, interpreter)
            if wrong:
                fix = plan.reassert_step([m.package for m in wrong])
                for m in wrong:
                    rep.warning(f"re-assert: {m}; reinstalling the planned file")
                _run_step(plan, fix, len(plan.steps) + 1, runner, rep, outcome.ran)
                interpreter = probe(plan.python)
                still = reassert(plan.guarded, interpreter)
                if still:
                    raise PipStepError(
                        "re-assert failed: after a forced reinstall the CUDA builds are still not "
                        "the planned files:\n" + "\n".join(f"  - {m}" for m in still),
                        "something in the environment replaces them as they install; run "
                        f"`{plan.python} -m pip list` and `jetpip doctor` to find it",
                    )
                outcome.reinstalled = wrong
        finally:
            _cleanup(plan)
    if interpreter is not None:
        outcome.broken = check_consistency(interpreter, guarded_names, plan.substitutions)
        outcome.shadows = shadows(interpreter, plan.substitutions)
    return outcome


def _run_step(
    plan: InstallPlan, step: PipStep, number: int, runner: PipRunner, rep: Reporter, done: list[PipStep],
) -> None:
    if step.requirements_file:
        with open(step.requirements_file, "w", encoding="utf-8") as fh:
            fh.write("\n".join(step.requirements) + "\n")
    rep.step(f"{number}. {step.title}")
    try:
        result = runner.run(step.argv(plan.python))
    except KeyboardInterrupt:
        raise _step_error(plan, step, number, done, None) from None
    if result.returncode != 0:
        raise _step_error(plan, step, number, done, result)
    done.append(step)


def _step_error(
    plan: InstallPlan, step: PipStep, number: int, done: Sequence[PipStep], result: PipResult | None,
) -> PipStepError:
    what = "was interrupted" if result is None else f"failed (pip exit status {result.returncode})"
    lines = [f"step {number} of {len(plan.steps)}, '{step.title}', {what}; later steps did not run"]
    if result is not None:
        tail = result.output.strip().splitlines()[-20:]
        lines.append("pip said:")
        # pip masks the passwords it prints, but not in every message (a URL inside an exception).
        lines.extend(f"  | {redact_text(line)}" for line in tail)
    if done:
        lines.append("environment: steps " + ", ".join(str(i) for i in range(1, len(done) + 1))
                     + " completed; step " + str(number) + " may be partly applied")
    else:
        lines.append("environment: no earlier step ran" + (
            "; pip rolls back a failed install" if step.kind != "uninstall" else ""))
    removed = [n for s in done if s.kind == "uninstall" for n in s.names]
    if removed:
        lines.append("removed so far: " + ", ".join(removed))
    err = PipStepError(
        "\n".join(lines),
        "fix the cause above, then run the same jetpip command again: it plans from what is "
        "installed now and finishes the job",
    )
    if result is None:
        err.exit_code = 130
    return err


def _cleanup(plan: InstallPlan) -> None:
    for name in os.listdir(plan.workdir) if os.path.isdir(plan.workdir) else ():
        os.remove(os.path.join(plan.workdir, name))
    if os.path.isdir(plan.workdir):
        os.rmdir(plan.workdir)
