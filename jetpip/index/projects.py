"""Source trees named by requirements lines: git checkouts at a resolved commit, packed into sdists.

A repository is kept as a bare mirror in the cache (fetched into, never cloned twice); a commit
is checked out of it into a temporary folder only when it has not been packed before.

A project directory or a checkout reaches the resolver as the sdist its own build backend packs,
so the sdist path (metadata, lock hash, build in the target) serves it unchanged. Beside each
packed sdist lies ``project.json``, the tree it came from: the lock records that tree, not the sdist.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from jetpip.errors import IndexFetchError, OfflineMissError, UsageError
from jetpip.index.cache import Cache, file_hash
from jetpip.index.metadata import DistMetadata
from jetpip.index.sdist import BuildIndexes, pack_project
from jetpip.model.projects import ProjectRef
from jetpip.model.urls import redact_text

PROVENANCE = "project.json"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class PackedProject:
    """A source tree packed into an sdist, with the name and version its metadata gives."""

    ref: ProjectRef  # a VCS reference carries the commit it resolved to
    sdist: Path
    name: str  # canonical
    version: str


def pack(ref: ProjectRef, cache: Cache, indexes: BuildIndexes, *, where: str = "", offline: bool = False,
         on_step: Callable[[str], None] | None = None) -> PackedProject:
    """Pack the tree ``ref`` names (checking a VCS one out first) and keep its metadata for the resolver.

    ``where`` ("file:line") leads every message. A checkout is packed once per commit; a local
    directory is packed on every call, since its files may have changed. A ``ref`` that names its
    commit (one read from a lock) is checked out at that very commit.
    """
    at = f"{where}: " if where else ""
    root = cache.root / "projects"
    if ref.kind == "directory":
        out = root / "dir" / _digest(ref.location)
        shutil.rmtree(out, ignore_errors=True)
        if on_step is not None:
            on_step(f"preparing the project in {ref.location} with its build backend (PEP 517)")
        return _packed(ref, Path(ref.location), out, cache, indexes, at)
    mirror = Mirror(cache.root / "git" / _digest(ref.public_url()), ref, at, on_step)
    ref = ref.with_commit(mirror.commit(offline=offline))
    out = root / "git" / _digest(ref.public_url()) / str(ref.commit) / _digest(ref.subdirectory or "")
    found = read_packed(out)
    if found is not None:
        _check_name(ref, found.name, at)
        # The line's own extras and marker; and the commit reached by another revision is recorded
        # with this one, since the lock reads the record beside the sdist.
        public = dataclasses.replace(ref, location=ref.public_url())
        if found.ref.to_json() != public.to_json():
            _write_provenance(out, dataclasses.replace(found, ref=public))
        return dataclasses.replace(found, ref=public)
    with tempfile.TemporaryDirectory(prefix="jetpip-git-") as tmp:
        checkout = Path(tmp) / "checkout"
        mirror.check_out(str(ref.commit), checkout)
        tree = checkout / ref.subdirectory if ref.subdirectory else checkout
        if not tree.is_dir():
            raise UsageError(f"{at}{ref.shown()} has no subdirectory {ref.subdirectory!r} at {ref.commit}",
                             "fix the #subdirectory= of the URL")
        shutil.rmtree(out, ignore_errors=True)
        return _packed(ref, tree, out, cache, indexes, at)


def _packed(ref: ProjectRef, tree: Path, out: Path, cache: Cache, indexes: BuildIndexes,
            at: str) -> PackedProject:
    out.mkdir(parents=True, exist_ok=True)
    sdist, metadata = pack_project(tree, out, indexes, ref.shown())
    meta = DistMetadata.parse(metadata)
    name = canonicalize_name(meta.name)
    _check_name(ref, name, at)
    # The resolver reads an sdist's metadata by its hash: keep what the backend prepared there, so
    # the packed sdist is never prepared a second time.
    cache.store_metadata([f"prepared\nsha256:{file_hash(sdist, 'sha256')}"], metadata)
    # What is kept names the repository without its credentials: the lock and direct_url.json
    # record only that, and the cache is no place for a password.
    if ref.kind == "vcs":
        ref = dataclasses.replace(ref, location=ref.public_url())
    packed = PackedProject(ref, sdist, name, meta.version)
    _write_provenance(out, packed)
    return packed


def _check_name(ref: ProjectRef, name: str, at: str) -> None:
    if ref.name is not None and ref.name != name:
        raise UsageError(f"{at}the line names the project {ref.name}, and {ref.shown()} is {name}",
                         "fix the name before '@' (or the #egg= fragment)")


def _write_provenance(out: Path, packed: PackedProject) -> None:
    (out / PROVENANCE).write_text(json.dumps({"project": packed.ref.to_json(), "sdist": packed.sdist.name,
                                              "name": packed.name, "version": packed.version}))


def read_packed(folder: Path) -> PackedProject | None:
    """The packed project kept in ``folder``, or None when there is none (or it is damaged)."""
    try:
        data = json.loads((folder / PROVENANCE).read_text())
        ref = ProjectRef.from_json(data["project"])
        sdist = folder / str(data["sdist"])
        if not sdist.is_file():
            return None
        return PackedProject(ref, sdist, str(data["name"]), str(data["version"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def packed_origin(url: str) -> ProjectRef | None:
    """The source tree a packed sdist's ``file:`` URL came from; None for any other URL."""
    parts = urlsplit(url)
    if parts.scheme != "file":
        return None
    found = read_packed(Path(unquote(parts.path)).parent)
    return found.ref if found is not None else None


class Mirror:
    """A bare mirror of one repository in jetpip's cache: cloned once, fetched into when a revision moves.

    Every fetch names the repository's URL on git's command line, so its credentials are never
    written into the mirror; a temporary checkout of one commit is made from the mirror.
    """

    def __init__(self, path: Path, ref: ProjectRef, at: str = "",
                 on_step: Callable[[str], None] | None = None) -> None:
        self.path, self.ref, self.at, self.on_step = path, ref, at, on_step

    def commit(self, *, offline: bool = False) -> str:
        """The full commit id the reference names: its ``commit``, else its revision (None: HEAD).

        A full commit id the mirror holds is taken as it is; anything else is fetched first (a
        branch or tag may have moved), except ``offline``, which reads the mirror as it is.
        """
        wanted = self.ref.commit or self.ref.revision
        full = wanted is not None and _is_full_id(wanted)
        with _held(self.path.with_name(self.path.name + ".lock")):
            fresh = not (self.path / "HEAD").is_file()
            found = self._resolve(wanted) if not fresh and (full or offline) else None
            if found is None and offline:
                raise OfflineMissError(
                    f"{self.at}--offline, and jetpip's mirror of {self.ref.shown()} has no "
                    f"{'commit' if full else 'revision'} {wanted or 'HEAD'!r}",
                    "run the same command once with network access, which fetches it into the mirror")
            if found is None:
                self._fetch(fresh)
                found = self._resolve(wanted)
            if found is None and full and wanted is not None:
                # A commit on no branch or tag (a pull request's head, say): asked for by its id.
                self._git(["fetch", "--quiet", self.ref.location, f"+{wanted}:refs/jetpip/commits/{wanted}"],
                          self.path, f"fetch the commit {wanted} of", check=False)
                (self.path / "FETCH_HEAD").unlink(missing_ok=True)
                found = self._resolve(wanted)
        if found is None and self.ref.commit:
            raise UsageError(f"{self.at}{self.ref.shown()}: the repository has no commit {wanted!r}",
                             "the locked commit is gone from the repository (a force-push rewrites history): "
                             "lock again with `jetpip lock`, which takes the commit the revision names now")
        if found is None:
            raise UsageError(f"{self.at}{self.ref.shown()}: the repository has no branch, tag or commit "
                             f"{wanted!r}", "name a revision the repository has (git ls-remote URL lists its "
                             "branches and tags)")
        return found

    def check_out(self, commit: str, dest: Path) -> None:
        """Check ``commit`` out into ``dest``, with its submodules, and verify HEAD is that commit."""
        # --shared borrows the mirror's objects: nothing is copied, and a commit on no branch is there.
        self._git(["clone", "--quiet", "--shared", "--no-checkout", str(self.path), str(dest)], None,
                  "check out")
        # Relative submodule URLs are read from the origin: the repository's own, not the mirror.
        self._git(["remote", "set-url", "origin", self.ref.location], dest, "check out")
        self._git(["checkout", "--quiet", "--detach", commit], dest, "check out")
        head = self._git(["rev-parse", "HEAD"], dest, "check out").stdout.strip()
        if head != commit:
            raise IndexFetchError(f"{self.at}{self.ref.shown()}: the checkout is at {head}, not at {commit}",
                                  "remove jetpip's mirror of the repository (`jetpip cache clean`) and retry")
        if (dest / ".gitmodules").is_file():  # as pip: a project's submodules are part of its tree
            self._git(["submodule", "update", "--quiet", "--init", "--recursive"], dest,
                      "fetch the submodules of")

    def _fetch(self, fresh: bool) -> None:
        if self.on_step is not None:
            self.on_step(f"{'cloning' if fresh else 'fetching'} {self.ref.shown()} into jetpip's mirror")
        if fresh:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(self.path, ignore_errors=True)  # a mirror left half-made
            self._git(["init", "--quiet", "--bare", str(self.path)], None, "keep a mirror of")
        try:
            # Branches and tags as the repository has them, and its HEAD (its default branch).
            self._git(["fetch", "--quiet", "--prune", "--force", self.ref.location,
                       "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+HEAD:refs/jetpip/HEAD"],
                      self.path, "clone" if fresh else "fetch")
        except IndexFetchError:
            if fresh:  # the next run clones again, rather than fetch into an empty mirror
                shutil.rmtree(self.path, ignore_errors=True)
            raise
        finally:
            # FETCH_HEAD names the URL fetched from: no password stays behind in it.
            (self.path / "FETCH_HEAD").unlink(missing_ok=True)

    def _resolve(self, wanted: str | None) -> str | None:
        if wanted is not None and wanted.startswith("-"):
            return None  # git would read it as an option
        spelled = "refs/jetpip/HEAD" if wanted in (None, "HEAD") else wanted
        proc = self._git(["rev-parse", "--verify", "--quiet", f"{spelled}^{{commit}}"], self.path, "",
                         check=False)
        commit = proc.stdout.strip()
        if proc.returncode != 0 or not commit or set(commit) - _HEX:
            return None
        return commit

    def _git(self, args: list[str], cwd: Path | None, doing: str,
             check: bool = True) -> subprocess.CompletedProcess[str]:
        return _git(args, cwd, self.ref, self.at, doing, check)


@contextlib.contextmanager
def _held(lock: Path) -> Iterator[None]:
    """Hold ``lock`` (a file beside the mirror): another jetpip fetching the same repository waits."""
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_full_id(text: str) -> bool:
    return len(text) in (40, 64) and not set(text.lower()) - _HEX


def _git(args: list[str], cwd: Path | None, ref: ProjectRef, at: str, doing: str,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git")
    if git is None:
        raise UsageError(f"{at}{ref.shown()} is a git requirement, and git is not on PATH",
                         "install git (apt install git), or name a wheel or sdist of the project instead")
    # No prompt: a repository that asks for a password fails at once, with git's own message.
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "LC_ALL": "C"}
    proc = subprocess.run([git, *args], cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                          check=False)
    if check and proc.returncode != 0:
        said = (proc.stderr or proc.stdout).strip()
        tail = "\n".join(f"  {line}" for line in said.splitlines()[-8:])
        hint = "check the URL and that this machine can reach it (git ls-remote URL)"
        if any(sign in said for sign in _REFUSED):
            hint = ("the repository wants other credentials: put the right user and password (or "
                    "token) in the URL, or in ~/.netrc for that host, which git reads; jetpip never "
                    "prompts, and never writes them to a lock")
        raise IndexFetchError(f"{at}git could not {doing} {ref.shown()} (exit {proc.returncode}):\n"
                              + redact_text(tail), hint)
    return proc


# What git says when a server refuses it for want of (the right) credentials, prompts being off.
_REFUSED = ("Authentication failed", "could not read Username", "could not read Password",
            "The requested URL returned error: 401", "The requested URL returned error: 403")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["PROVENANCE", "Mirror", "PackedProject", "pack", "packed_origin", "read_packed"]
