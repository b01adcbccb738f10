"""Unpack ahead: uv unpacks freshly downloaded wheels into its cache before the steps need them.

uv installs a wheel in two parts: it unpacks the archive into its cache, which is slow for a
wheel of thousands of small files (sympy, networkx) or a big one (a CUDA torch), then links the
files into the environment, which is quick. A second uv process installs wheels into a scratch
directory as soon as they are downloaded; the step that installs them later finds them unpacked
in uv's cache and only links them. uv keys a local wheel by its path and modification time, so
the scratch install reads each file at the very path the step does.

Two waits are filled so:

- ``Unpacker``: while jetpip resolves an install, the files the resolution is about to pin
  download (``IndexClient.prefetch_file``), and each one is unpacked in the next batch. The
  resolution waits on the network most of the time; this work fills it. While a big CUDA build
  downloads, the batches wait for it, and then go with it.
- ``UnpackAhead``: a plan fetched in full before its steps (a sync from a lock, or files the
  resolution did not download) unpacks the later step's wheels in batches as the fetch brings
  them in: the downloads wait on the network, and uv's unpacking fills that wait. Beside a big
  CUDA build they wait until they are all in place, then go to uv in one batch while the big
  build still downloads or unpacks in the guarded step.

Only files downloaded in this run are unpacked ahead: a file already in jetpip's cache is most
likely unpacked already. The target is never touched, and a failed or slow unpack changes
nothing: the step unpacks whatever is missing itself, and reports any real error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from packaging.version import InvalidVersion, Version

from jetpip.install.fetch import place
from jetpip.install.plan import fetched_path, file_line

if TYPE_CHECKING:
    from collections.abc import Iterable
    from concurrent.futures import Future

    from jetpip.index.client import IndexClient
    from jetpip.install.engines import Engine
    from jetpip.install.plan import InstallPlan, Step
    from jetpip.lock.pylock import LockedPackage
    from jetpip.model.target import Interpreter
    from jetpip.resolve.finder import Candidate
    from jetpip.resolve.provider import OnPin

#: A CUDA build at least this big (or of unknown size) is worth unpacking the rest beside.
BIG_BYTES = 64 * 1024 * 1024
#: The longest wait in ``Unpacker.finish`` for a finished download to hand its file over.
HANDOVER_WAIT = 5.0
#: A scratch folder this old was left by a run that was killed; the next unpack removes it.
STALE_SECONDS = 24 * 3600


def downloads_ahead(
    client: IndexClient, interpreter: Interpreter, engine: Engine,
) -> tuple[OnPin, Unpacker | None]:
    """What an install does while it resolves: the hook the resolution calls, and the Unpacker.

    The hook starts downloading each file about to be pinned, unless the target has that
    release already: a release already installed is most often kept, and its file never needed;
    where the plan does replace it (another build), the fetch gets the file then. uv (not pip)
    unpacks each wheel so downloaded (``Unpacker``).
    """
    uv = engine.name == "uv"
    unpacker = Unpacker(engine, files_dir=str(client.cache.root / "installs")) if uv else None
    have = interpreter.installed_by_name()

    def on_pin(cand: Candidate) -> None:
        installed = have.get(cand.name)
        if installed is not None and _same_version(installed.version, cand.version):
            return
        fut = client.prefetch_file(cand.link)
        sha256 = cand.link.hashes.get("sha256")
        if fut is None or unpacker is None or sha256 is None:
            return
        filename = cand.link.filename
        unpacker.expect(filename, big=big_build(cand.guarded, cand.link.size))

        def downloaded(done: Future[object]) -> None:
            path = None if done.cancelled() or done.exception() is not None else done.result()
            wheels = [Wheel(cand.name, path, sha256, filename)] if isinstance(path, Path) else []
            unpacker.add(wheels, release=filename)

        fut.add_done_callback(downloaded)

    return on_pin, unpacker


def big_build(guarded: bool, size: int | None) -> bool:
    """A CUDA build (a guarded name's file) of ``BIG_BYTES`` or more, or of unknown size."""
    return guarded and (size is None or size >= BIG_BYTES)


def _same_version(text: str, version: Version) -> bool:
    try:
        return Version(text) == version
    except InvalidVersion:
        return False


class Wheel(NamedTuple):
    """A wheel for the Unpacker: its project, the file in jetpip's cache, its sha256, its name."""

    name: str
    cached: Path
    sha256: str
    filename: str


class Unpacker:
    """Wheels downloaded while jetpip resolves, unpacked by uv into its cache in batches meanwhile.

    ``add`` takes a wheel as its download ends (from any thread); one uv process at a time
    unpacks every wheel that arrived since the last one started. While a big CUDA build
    downloads (``expect``), the batches wait for it. ``finish`` waits for the batch under way
    (and for a last one with a big build) before the first step; ``stop`` ends the batch under
    way at once (the run failed) and, as the run ends in every case, sees the scratch directory
    removed.
    """

    def __init__(self, engine: Engine, files_dir: str) -> None:
        self._engine = engine
        self.files_dir = files_dir  # where the plan links its fetched files (``fetched_path``)
        # Beside jetpip's cache, which is most often on the filesystem of uv's: uv's hard links
        # work there, where a tmpfs /tmp would make it copy every file.
        root = os.path.join(os.path.dirname(files_dir), "tmp")
        self._scratch = os.path.join(root, f"unpack-{uuid.uuid4().hex[:12]}")
        self._cond = threading.Condition()
        self._waiting: list[tuple[str, str]] = []  # (filename, requirement line)
        self._expected: set[str] = set()  # files downloading, to be handed over as they end
        self._held: set[str] = set()  # the big ones among them: no batch starts before they end
        self._big_waiting = False  # a big one is among the waiting wheels
        self._finishing = False
        self._closing = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._sweeper: threading.Thread | None = None
        self.unpacked: list[str] = []  # filenames handed to uv, batch by batch

    def expect(self, filename: str, *, big: bool) -> None:
        """``filename`` downloads now; ``add(..., release=filename)`` hands it over when that ends.

        A ``big`` one (a CUDA build) is the longest wait of the install, and uv unpacking the
        small wheels meanwhile would take the processor from its download. The batches wait for
        it; the small wheels then go to uv in its batch, and uv's other threads unpack them while
        one inflates the big build.
        """
        with self._cond:
            self._expected.add(filename)
            if big:
                self._held.add(filename)

    def add(self, wheels: Iterable[Wheel], release: str | None = None) -> None:
        """Unpack ``wheels`` in the next batch, all of them in the same one.

        ``release`` names the expected download that ended (whether or not it brought a wheel).
        """
        lines = []
        for wheel in wheels:
            if not wheel.filename.endswith(".whl"):
                continue  # an sdist is built, not unpacked
            path = fetched_path(self.files_dir, wheel.sha256, wheel.filename)
            try:
                place(wheel.cached, Path(path))  # where the step reads it, which is where uv keys it
            except OSError:
                continue
            lines.append((wheel.filename, file_line(wheel.name, path, wheel.sha256)))
        with self._cond:
            big = release in self._held
            if release is not None:
                self._expected.discard(release)
                self._held.discard(release)
            self._cond.notify_all()
            if self._finishing or self._closing or not lines:
                return
            self._waiting.extend(lines)
            self._big_waiting |= big
            if self._thread is None:
                os.makedirs(self._scratch, exist_ok=True)
                sweep(os.path.dirname(self._scratch))
                self._thread = threading.Thread(target=self._batches, name="jetpip-unpack", daemon=True)
                self._thread.start()

    def _next_batch(self) -> list[tuple[str, str]] | None:
        """(Holding the lock.) The wheels of the next batch, once they may start; None: no more."""
        while not self._closing:
            # Once the steps are near, only a big build is worth a batch: with it, uv unpacks the
            # rest on its other threads; without it, the steps unpack them as fast.
            if self._waiting and (self._big_waiting if self._finishing else not self._held):
                batch, self._waiting, self._big_waiting = self._waiting, [], False
                return batch
            if self._finishing:
                return None
            self._cond.wait()
        return None

    def _batches(self) -> None:
        number = 0
        while True:
            with self._cond:
                batch = self._next_batch()
                if batch is None:
                    return
                number += 1
                requirements = f"{self._scratch}.{number}.txt"
                argv = self._engine.unpack(requirements, self._scratch, hashed=True)
                if argv is None:
                    return
                try:
                    with open(requirements, "w", encoding="utf-8") as fh:
                        fh.write("\n".join(line for _, line in batch) + "\n")
                    self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL)
                except OSError:
                    return  # the steps unpack the files themselves
                self.unpacked.extend(name for name, _ in batch)
                proc = self._proc
            proc.wait()
            with contextlib.suppress(OSError):
                os.unlink(requirements)

    def finish(self, fetched: Iterable[str] = ()) -> None:
        """Take no more wheels, wait for the batch under way, and start removing the scratch directory.

        The wheels waiting for a batch are left to the steps, unless a big build is among them:
        they go to uv in one last batch, which unpacks them beside the big build.
        ``fetched``: the plan's files, all fetched by now. A download the resolution started hands
        its file over from its own thread a moment after the fetch that followed it returned:
        each of these is waited for (at most ``HANDOVER_WAIT``). Unlinking the scratch directory's
        thousands of files takes a while: that runs on a thread of its own while the steps run,
        and ``stop`` waits for it.
        """
        wanted = set(fetched)
        with self._cond:
            self._cond.wait_for(lambda: not self._expected & wanted, timeout=HANDOVER_WAIT)
            self._finishing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is None:
            return
        thread.join()
        if self._sweeper is None:
            self._sweeper = threading.Thread(target=shutil.rmtree, args=(self._scratch, True),
                                             name="jetpip-unpack-sweep", daemon=True)
            self._sweeper.start()

    def stop(self) -> None:
        """Stop the batch under way, if any; remove the scratch directory before returning."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            proc, thread = self._proc, self._thread
        if proc is not None and proc.poll() is None:
            proc.kill()
        if thread is not None:
            thread.join()
        if self._sweeper is not None:
            self._sweeper.join()
        elif thread is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)


class UnpackAhead:
    """The later step's fresh wheels, unpacked by an ``Unpacker`` before that step runs.

    Without a big CUDA build, each wheel goes to the Unpacker as its download ends, and uv
    unpacks them in batches while the fetch goes on. Beside a big one, they wait until they
    are all in place, and go to uv in one batch while the big build downloads or installs.
    """

    def __init__(self, plan: InstallPlan, step: Step, wheels: dict[str, LockedPackage],
                 big: set[str]) -> None:
        self.step = step  # the step that waits for the unpack before it starts
        self._unpacker = Unpacker(plan.engine, plan.files_dir)
        self._wheels = wheels  # filename -> the hashed wheel the step installs, fetched by the plan
        self._waiting = set(wheels)
        self._fresh: list[str] = []
        self._streaming = not big  # no big build: each wheel is handed over as it arrives
        self._big_pending = big  # big CUDA builds not yet in place
        self._big_fetched = False  # a big CUDA build was downloaded in this run

    @classmethod
    def for_plan(cls, plan: InstallPlan) -> UnpackAhead | None:
        """The unpack for ``plan``: None unless uv installs wheels it fetches in a step of its own.

        That step is the first one that installs after the CUDA builds' step, or the first one
        that installs where there is no such step.
        """
        if plan.engine.name != "uv":
            return None
        kinds = [s.kind for s in plan.steps]
        first = kinds.index("guarded") + 1 if "guarded" in kinds else 0
        later = [s for s in plan.steps[first:] if s.kind == "install"]
        if not later:
            return None
        step = later[0]
        fetched = {f.package.name: f.package for f in plan.fetches}
        wheels = {fetched[name].filename: fetched[name] for name in step.names
                  if name in fetched and not fetched[name].is_sdist and fetched[name].sha256}
        big = {p.filename for p in fetched.values() if big_build(p.guarded, p.size)}
        return cls(plan, step, wheels, big) if wheels else None

    def file_ready(self, filename: str, fetched: bool) -> None:
        """One file is in place (``fetched``: downloaded now).

        Without a big CUDA build, a wheel downloaded now goes to uv at once. Beside one, the
        unpack starts once every file of the later step is in place, if the big build is still
        downloading or was downloaded now (the wait it fills).
        """
        if filename in self._big_pending:
            self._big_pending.discard(filename)
            self._big_fetched |= fetched
        elif filename in self._waiting:
            self._waiting.discard(filename)
            if fetched:
                self._fresh.append(filename)
        if self._streaming:
            if self._fresh:
                self.start()
        elif not self._waiting and (self._big_pending or self._big_fetched):
            self.start()

    def start(self) -> None:
        """Hand the fresh files so far to the Unpacker; nothing happens when there are none."""
        wheels = []
        for filename in sorted(self._fresh):
            pkg = self._wheels[filename]
            if pkg.sha256:  # always (for_plan): the fetch put it where the step reads it
                path = fetched_path(self._unpacker.files_dir, pkg.sha256, filename)
                wheels.append(Wheel(pkg.name, Path(path), pkg.sha256, filename))
        self._fresh = []
        self._unpacker.add(wheels)  # in the same batch

    def wait(self) -> None:
        """Wait for the unpack to end (its outcome does not matter: the step checks everything)."""
        self._unpacker.finish()

    def stop(self) -> None:
        """Stop the unpack if it still runs (a step failed, or the run was interrupted); remove its files."""
        self._unpacker.stop()


def sweep(folder: str, now: float | None = None) -> None:
    """Remove what runs killed mid-unpack left in ``folder``, older than a day.

    That is scratch folders, and the requirements files beside them.
    """
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
        if stale and entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        elif stale:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)
