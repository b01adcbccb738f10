"""Unpack ahead: while the CUDA builds install, uv unpacks the other freshly fetched wheels.

uv installs a wheel in two parts: it unpacks the archive into its cache, which is slow for a
wheel of thousands of small files (sympy, networkx), then links the files into the environment,
which is quick. The plan's steps run in order, guarded builds first, so the rest of the wheels
would wait for the whole guarded step before uv unpacked any of them. A second uv process
installs the later step's wheels into a scratch directory meanwhile, as soon as they are
fetched; the later step then finds them unpacked in uv's cache and only links them.

It pays only when there is a wait to fill: a big CUDA build still downloading, or downloaded
in this run, which uv then unpacks in the guarded step. Otherwise the guarded step is short and
the scratch install's links are work the later step does again, so nothing is unpacked ahead.
Only files downloaded in this run are unpacked ahead: uv keys a local wheel by its path and
modification time, so a file already in jetpip's cache is most likely unpacked already. The
target is never touched, and a failed or slow unpack changes nothing: the step unpacks
whatever is missing itself, and reports any real error.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jetpip.install.plan import InstallPlan, Step

#: A CUDA build at least this big (or of unknown size) is worth unpacking the rest beside.
BIG_BYTES = 64 * 1024 * 1024
#: A scratch folder this old was left by a run that was killed; the next unpack removes it.
STALE_SECONDS = 24 * 3600


class UnpackAhead:
    """The later step's fresh wheels, unpacked by uv into its cache while earlier steps run."""

    def __init__(self, plan: InstallPlan, step: Step, lines: dict[str, str], big: set[str]) -> None:
        self.step = step  # the step that waits for the unpack before it starts
        self._workdir = plan.workdir
        # Beside jetpip's cache, which is most often on the filesystem of uv's: uv's hard links
        # work there, where a tmpfs /tmp would make it copy every file.
        scratch = f"unpack-{uuid.uuid4().hex[:12]}"
        self._scratch = os.path.join(os.path.dirname(plan.files_dir), "tmp", scratch)
        self._engine = plan.engine
        self._lines = lines  # filename -> requirement line, for the files the step installs
        self._waiting = set(lines)
        self._fresh: list[str] = []
        self._big_pending = big  # big CUDA builds not yet in place
        self._big_fetched = False  # a big CUDA build was downloaded in this run
        self._proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def for_plan(cls, plan: InstallPlan) -> UnpackAhead | None:
        """The unpack for ``plan``: None unless uv installs a step after the guarded one."""
        kinds = [s.kind for s in plan.steps]
        if plan.engine.name != "uv" or "guarded" not in kinds:
            return None
        later = [s for s in plan.steps[kinds.index("guarded") + 1:] if s.kind == "install"]
        if not later:
            return None
        step = later[0]
        fetched = {f.package.name: f.package for f in plan.fetches}
        lines = {fetched[name].filename: line
                 for name, line in zip(step.names, step.requirements, strict=True)
                 if name in fetched and not fetched[name].is_sdist}
        big = {p.filename for p in fetched.values()
               if p.guarded and (p.size is None or p.size >= BIG_BYTES)}
        return cls(plan, step, lines, big) if lines and big else None

    def file_ready(self, filename: str, fetched: bool) -> None:
        """One file is in place (``fetched``: downloaded now).

        The unpack starts once every file of the later step is in place, if a big CUDA build is
        still downloading or was downloaded now (the wait it fills).
        """
        if filename in self._big_pending:
            self._big_pending.discard(filename)
            self._big_fetched |= fetched
        elif filename in self._waiting:
            self._waiting.discard(filename)
            if fetched:
                self._fresh.append(filename)
        if not self._waiting and (self._big_pending or self._big_fetched):
            self.start()

    def start(self) -> None:
        """Start uv on the fresh files, once; nothing happens when there are none."""
        if self._proc is not None or not self._fresh:
            return
        sweep(os.path.dirname(self._scratch))
        requirements = os.path.join(self._workdir, "unpack-ahead.txt")
        lines = [self._lines[name] for name in sorted(self._fresh)]
        argv = self._engine.unpack(requirements, self._scratch,
                                   hashed=all(" --hash=" in line for line in lines))
        if argv is None:
            return
        try:
            with open(requirements, "w", encoding="utf-8") as fh:
                fh.write("\n".join(lines) + "\n")
            self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL)
        except OSError:
            self._proc = None  # the step unpacks the files itself

    def wait(self) -> None:
        """Wait for the unpack to end (its outcome does not matter: the step checks everything)."""
        if self._proc is not None:
            self._proc.wait()

    def stop(self) -> None:
        """Stop the unpack if it still runs (a step failed, or the run was interrupted); remove its files."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        shutil.rmtree(self._scratch, ignore_errors=True)


def sweep(folder: str, now: float | None = None) -> None:
    """Remove the scratch folders in ``folder`` that runs killed mid-unpack left (older than a day)."""
    cutoff = (time.time() if now is None else now) - STALE_SECONDS
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            stale = entry.name.startswith("unpack-") and entry.stat(follow_symlinks=False).st_mtime < cutoff
        except OSError:
            continue
        if stale:
            shutil.rmtree(entry.path, ignore_errors=True)
