"""Source trees named by requirements lines: git checkouts at a resolved commit, packed into sdists.

A project directory or a checkout reaches the resolver as the sdist its own build backend packs,
so the sdist path (metadata, lock hash, build in the target) serves it unchanged. Beside each
packed sdist lies ``project.json``, the tree it came from: the lock records that tree, not the sdist.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import canonicalize_name

from jetpip.errors import IndexFetchError, UsageError
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


def pack(ref: ProjectRef, cache: Cache, indexes: BuildIndexes, *, where: str = "",
         on_step: Callable[[str], None] | None = None) -> PackedProject:
    """Pack the tree ``ref`` names (cloning a VCS one first) and keep its metadata for the resolver.

    ``where`` ("file:line") leads every message. A checkout is packed once per commit; a local
    directory is packed on every call, since its files may have changed.
    """
    at = f"{where}: " if where else ""
    root = cache.root / "projects"
    if ref.kind == "directory":
        out = root / "dir" / _digest(ref.location)
        shutil.rmtree(out, ignore_errors=True)
        if on_step is not None:
            on_step(f"preparing the project in {ref.location} with its build backend (PEP 517)")
        return _packed(ref, Path(ref.location), out, cache, indexes, at)
    with tempfile.TemporaryDirectory(prefix="jetpip-git-") as tmp:
        checkout = Path(tmp) / "checkout"
        if on_step is not None:
            on_step(f"cloning {ref.shown()}")
        commit = clone(ref, checkout, at)
        ref = ref.with_commit(commit)
        out = root / "git" / _digest(ref.public_url()) / commit / _digest(ref.subdirectory or "")
        found = read_packed(out)
        if found is not None:
            return found
        tree = checkout / ref.subdirectory if ref.subdirectory else checkout
        if not tree.is_dir():
            raise UsageError(f"{at}{ref.shown()} has no subdirectory {ref.subdirectory!r} at {commit}",
                             "fix the #subdirectory= of the URL")
        shutil.rmtree(out, ignore_errors=True)
        return _packed(ref, tree, out, cache, indexes, at)


def _packed(ref: ProjectRef, tree: Path, out: Path, cache: Cache, indexes: BuildIndexes,
            at: str) -> PackedProject:
    out.mkdir(parents=True, exist_ok=True)
    sdist, metadata = pack_project(tree, out, indexes, ref.shown())
    meta = DistMetadata.parse(metadata)
    name = canonicalize_name(meta.name)
    if ref.name is not None and ref.name != name:
        raise UsageError(f"{at}the line names the project {ref.name}, and {ref.shown()} is {name}",
                         "fix the name before '@' (or the #egg= fragment)")
    # The resolver reads an sdist's metadata by its hash: keep what the backend prepared there, so
    # the packed sdist is never prepared a second time.
    cache.store_metadata([f"prepared\nsha256:{file_hash(sdist, 'sha256')}"], metadata)
    (out / PROVENANCE).write_text(json.dumps(
        {"project": ref.to_json(), "sdist": sdist.name, "name": name, "version": meta.version}))
    return PackedProject(ref, sdist, name, meta.version)


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


def clone(ref: ProjectRef, dest: Path, at: str = "") -> str:
    """Clone ``ref``'s repository into ``dest``, check out its revision, and return the full commit id."""
    _git(["clone", "--quiet", ref.location, str(dest)], None, ref, at, "clone")
    rev = ref.revision or "HEAD"
    commit = None
    for spelling in (rev, f"origin/{rev}"):
        proc = _git(["rev-parse", "--verify", "--quiet", f"{spelling}^{{commit}}"], dest, ref, at, "",
                    check=False)
        if proc.returncode == 0:
            commit = proc.stdout.strip()
            break
    if commit is None or set(commit) - _HEX:
        raise UsageError(f"{at}{ref.shown()}: the repository has no branch, tag or commit {rev!r}",
                         "name a revision the repository has (git ls-remote URL lists its branches and tags)")
    _git(["checkout", "--quiet", "--detach", commit], dest, ref, at, "check out")
    if (dest / ".gitmodules").is_file():  # as pip: a project's submodules are part of its tree
        _git(["submodule", "update", "--quiet", "--init", "--recursive"], dest, ref, at,
             "fetch the submodules of")
    return commit


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
        tail = "\n".join(f"  {line}" for line in (proc.stderr or proc.stdout).strip().splitlines()[-8:])
        raise IndexFetchError(f"{at}git could not {doing} {ref.shown()} (exit {proc.returncode}):\n"
                              + redact_text(tail),
                              "check the URL and that this machine can reach it (git ls-remote URL)")
    return proc


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


__all__ = ["PROVENANCE", "PackedProject", "clone", "pack", "packed_origin", "read_packed"]
