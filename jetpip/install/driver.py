"""Run an install plan: fetch its files, run the engine's steps, record origins, re-assert, check."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from jetpip.errors import ExternallyManagedError, JetpipError, NoPipError, PipStepError, UsageError
from jetpip.install.ahead import UnpackAhead
from jetpip.install.fetch import Fetch, FetchSummary, FileStore, fetch_all
from jetpip.install.origin import record_origins
from jetpip.install.plan import InstallPlan, Step
from jetpip.install.stream import stream
from jetpip.install.verify import BrokenRequirement, Mismatch, check_consistency, reassert, shadows
from jetpip.model.target import Interpreter
from jetpip.model.urls import redact_text
from jetpip.report import NullReporter, Reporter

if TYPE_CHECKING:
    from jetpip.install.build import WheelBuilder
    from jetpip.install.engines import EngineName
    from jetpip.lock.pylock import LockedPackage
    from jetpip.model.documents import InstallDocument

Probe = Callable[[str], Interpreter]

VENV_FIX = "python3 -m venv --system-site-packages .venv"
NOTHING_CHANGED = "nothing was installed or removed: every file is fetched before the first step"


@dataclass(frozen=True)
class RunResult:
    """What one engine command returned."""

    returncode: int
    output: str  # stdout and stderr, interleaved


class Runner(Protocol):
    """Runs one engine command line; the seam tests and callers may replace."""

    def run(self, argv: Sequence[str]) -> RunResult:
        """Run ``argv`` to completion and return its status and output."""


class SubprocessRunner:
    """Runs an engine command as a child process, capturing its output."""

    def __init__(self, echo: Callable[[str], None] | None = None) -> None:
        self.echo = echo  # receives each output line as it arrives (for -v), passwords redacted

    def run(self, argv: Sequence[str]) -> RunResult:
        """Run ``argv``; a KeyboardInterrupt stops the child and propagates."""
        env = dict(os.environ)
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.setdefault("PYTHONUNBUFFERED", "1")  # lines arrive as pip prints them (for -v)
        lines: list[str] = []
        code = stream(argv, env=env, keep=lines, echo=self.echo)
        return RunResult(code, "".join(lines))


@dataclass
class InstallOutcome:
    """What an executed plan did and what the checks found."""

    plan: InstallPlan
    fetched: FetchSummary = field(default_factory=lambda: FetchSummary(0, 0, 0, 0.0))
    from_build_cache: frozenset[str] = frozenset()  # sdists whose wheel an earlier install built
    ran: list[Step] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)  # direct_url.json rewritten to the locked file
    reinstalled: list[Mismatch] = field(default_factory=list)  # fixed by re-assert
    broken: list[BrokenRequirement] = field(default_factory=list)
    shadows: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the environment passed every check."""
        return not self.broken and not self.shadows

    def to_json(self) -> InstallDocument:
        """JSON form (schema ``jetpip.install/1``)."""
        f = self.fetched
        return {
            "schema": "jetpip.install/1",
            "plan": self.plan.to_json(),
            "engine": self.plan.engine.name,
            "fetched": {"files": f.files, "downloaded": f.downloaded, "bytes": f.size,
                        "seconds": round(f.seconds, 3)},
            "built": [{"name": b.package.name, "sdist_sha256": b.package.sha256,
                       "wheel": os.path.basename(self.plan.built[b.package.filename]),
                       "from_cache": b.package.filename in self.from_build_cache}
                      for b in self.plan.builds if b.package.filename in self.plan.built],
            "ran": [s.kind for s in self.ran],
            "reasserted": [str(m) for m in self.reinstalled],
            "origins": sorted(set(self.origins)),
            "broken": [str(b) for b in self.broken],
            "shadows": list(self.shadows),
            "ok": self.ok,
        }


def check_target(interpreter: Interpreter, *, break_system_packages: bool = False,
                 engine: EngineName = "pip", why: str | None = None) -> None:
    """Refuse a target the engine cannot (or must not) install into, saying how to fix it.

    Only the pip engine needs pip in the target; ``why`` says why pip is the engine.
    """
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
    if engine == "pip" and interpreter.pip_version is None:
        because = f" ({why})" if why else ""
        raise NoPipError(
            f"{interpreter.executable} has no pip, and jetpip installs with the target's own pip "
            f"here{because}",
            f"bootstrap it with `{interpreter.executable} -m ensurepip --upgrade` "
            "(or `sudo apt install python3-pip` for the system Python), then run jetpip again",
        )


def execute(
    plan: InstallPlan,
    *,
    runner: Runner,
    probe: Probe,
    files: FileStore | None = None,
    guarded_names: Sequence[str] = (),
    before: Interpreter | None = None,
    reporter: Reporter | None = None,
    builder: WheelBuilder | None = None,
) -> InstallOutcome:
    """Fetch the plan's files, build its sdists, run the steps in order, re-assert the CUDA builds, check.

    Every file is fetched (from ``files``, jetpip's cache by hash first) and hash-checked before
    any step runs, so a failed download changes nothing. A failing or interrupted step stops the
    run: nothing after it runs, and the PipStepError says what state the environment is in.
    Re-running the same command repairs it, since a new plan starts from what is installed then.
    ``builder`` builds the plan's sdists into wheels (or takes them from its cache) after the fetch.
    ``before`` is the probe the plan was built from; a no-op plan checks it instead of probing.
    """
    rep = reporter or NullReporter()
    outcome = InstallOutcome(plan)
    interpreter: Interpreter | None
    if plan.is_noop:
        if plan.ahead is not None:
            plan.ahead.stop()
        interpreter = before
    else:
        os.makedirs(plan.workdir, exist_ok=True)
        # Files the resolution downloaded are being unpacked already; otherwise uv unpacks the
        # later step's wheels as the fetch brings them in, or beside a big CUDA build.
        ahead = UnpackAhead.for_plan(plan) if plan.ahead is None else None
        try:
            outcome.fetched = _fetch(plan.fetches, files, rep, NOTHING_CHANGED,
                                     on_file=ahead.file_ready if ahead else None)
            if plan.ahead is not None:
                plan.ahead.finish(f.package.filename for f in plan.fetches)
            plan, outcome.from_build_cache = _build(plan, builder, rep)
            outcome.plan = plan
            for number, step in enumerate(plan.steps, 1):
                if ahead is not None and step.requirements_file == ahead.step.requirements_file:
                    ahead.wait()
                _run_step(plan, step, number, runner, rep, outcome.ran)
            interpreter = _after_steps(plan, plan.lock.packages, probe, outcome)
            wrong = reassert(plan.guarded, interpreter)
            if wrong:
                for m in wrong:
                    rep.warning(f"re-assert: {m}; reinstalling the planned file")
                _fetch(plan.fetches_for(m.package for m in wrong), files, rep,
                       "the steps before the re-assert ran; run the same command again to finish")
                fix = plan.reassert_step([m.package for m in wrong])
                _run_step(plan, fix, len(plan.steps) + 1, runner, rep, outcome.ran)
                interpreter = _after_steps(plan, [m.package for m in wrong], probe, outcome)
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
            if ahead is not None:
                ahead.stop()
            if plan.ahead is not None:
                plan.ahead.stop()
            shutil.rmtree(plan.workdir, ignore_errors=True)
    if interpreter is not None:
        outcome.broken = check_consistency(interpreter, guarded_names, plan.substitutions)
        outcome.shadows = shadows(interpreter, plan.substitutions)
    return outcome


def _fetch(fetches: Sequence[Fetch], files: FileStore | None, rep: Reporter, state: str,
           on_file: Callable[[str, bool], None] | None = None) -> FetchSummary:
    """Fetch ``fetches``; a failure says ``state``, what the environment is like then."""
    if not fetches:
        return FetchSummary(0, 0, 0, 0.0)
    if files is None:
        raise ValueError("the plan has files to fetch, and no file store was given")
    try:
        return fetch_all(fetches, files, rep, on_file=on_file)
    except JetpipError as err:
        err.message += f"\n{state}"
        raise
    except KeyboardInterrupt:
        stop = PipStepError(f"interrupted while fetching the plan's files; {state}",
                            "run the same jetpip command again: the files already fetched are in the cache")
        stop.exit_code = 130
        raise stop from None


def _build(plan: InstallPlan, builder: WheelBuilder | None,
           rep: Reporter) -> tuple[InstallPlan, frozenset[str]]:
    """The plan whose steps install the wheels built from its sdists; the sdists the build cache served."""
    if not plan.builds:
        return plan, frozenset()
    if builder is None:
        raise ValueError("the plan has sdists to build, and no builder was given")
    from jetpip.install.build import cached_wheel

    cached = frozenset(b.package.filename for b in plan.builds if cached_wheel(Path(b.wheel_dir)))
    sdists = {b.package.filename: plan.path_of(b.package) for b in plan.builds}
    return plan.with_built(builder.build_all(plan.builds, sdists, rep)), cached


def _after_steps(plan: InstallPlan, packages: Sequence[LockedPackage], probe: Probe,
                 outcome: InstallOutcome) -> Interpreter:
    """Probe the environment and make each freshly installed distribution name its locked file."""
    interpreter = probe(plan.python)
    outcome.origins += record_origins([(p, plan.install_path(p)) for p in packages], interpreter.installed)
    return interpreter


def _run_step(
    plan: InstallPlan, step: Step, number: int, runner: Runner, rep: Reporter, done: list[Step],
) -> None:
    if step.requirements_file:
        with open(step.requirements_file, "w", encoding="utf-8") as fh:
            fh.write("\n".join(step.requirements) + "\n")
    rep.step(f"{number}. {step.title}")
    try:
        result = runner.run(step.argv)
    except KeyboardInterrupt:
        raise _step_error(plan, step, number, done, None) from None
    if result.returncode != 0:
        raise _step_error(plan, step, number, done, result)
    done.append(step)


def _step_error(
    plan: InstallPlan, step: Step, number: int, done: Sequence[Step], result: RunResult | None,
) -> PipStepError:
    engine = plan.engine.name
    what = "was interrupted" if result is None else f"failed ({engine} exit status {result.returncode})"
    lines = [f"step {number} of {len(plan.steps)}, '{step.title}', {what}; later steps did not run"]
    if result is not None:
        tail = result.output.strip().splitlines()[-20:]
        lines.append(f"{engine} said:")
        # Installers mask the passwords they print, but not in every message (a URL in an exception).
        lines.extend(f"  | {redact_text(line)}" for line in tail)
    if done:
        lines.append("environment: steps " + ", ".join(str(i) for i in range(1, len(done) + 1))
                     + " completed; step " + str(number) + " may be partly applied")
    else:
        rolls_back = step.kind != "uninstall" and engine == "pip"
        lines.append("environment: no earlier step ran" + ("; pip rolls back a failed install"
                                                           if rolls_back else ""))
    removed = [n for s in done if s.kind == "uninstall" for n in s.names]
    if removed:
        lines.append("removed so far: " + ", ".join(removed))
    first = "run" if result is None else "fix the cause above, then run"  # None: interrupted
    err = PipStepError(
        "\n".join(lines),
        f"{first} the same jetpip command again: it plans from what is installed now and finishes the job",
    )
    if result is None:
        err.exit_code = 130
    return err
