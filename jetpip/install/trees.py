"""The source trees a lock names, packed again for sync: a folder from its path, a git entry at its commit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from jetpip.errors import UsageError
from jetpip.index.cache import file_hash
from jetpip.index.projects import pack
from jetpip.index.sdist import BuildIndexes

if TYPE_CHECKING:
    from jetpip.index.client import IndexClient
    from jetpip.lock.pylock import Lock, LockedPackage
    from jetpip.report import Reporter


def unpacked_trees(lock: Lock) -> list[LockedPackage]:
    """The [packages.directory] and [packages.vcs] entries of a lock read back, not yet packed."""
    return [p for p in lock.packages if p.project is not None and not p.filename]


def tree_files(lock: Lock) -> dict[str, str]:
    """{sdist filename: path} of each tree packed into jetpip's cache: handed over as it is, never fetched."""
    return {p.filename: unquote(urlsplit(p.url).path) for p in lock.packages
            if p.project is not None and p.filename and p.url.startswith("file:")}


def packed_lock(lock: Lock, client: IndexClient, reporter: Reporter | None = None, *,
                origin: str = "pylock.toml") -> Lock:
    """``lock`` with each source tree packed into the sdist the plan builds, and that sdist's hash.

    A folder is packed as its files are now (editable where the lock says); a git entry is checked
    out at its ``commit-id`` from jetpip's mirror of the repository, and nothing else is taken. The
    entry keeps its tree, so the install records it in ``direct_url.json``.
    """
    trees = unpacked_trees(lock)
    if not trees:
        return lock
    indexes = BuildIndexes.from_config(client.config, offline=client.offline)
    packages = []
    for pkg in lock.packages:
        ref = pkg.project
        if pkg not in trees or ref is None:
            packages.append(pkg)
            continue
        if ref.kind == "directory" and not any((Path(ref.location) / f).is_file()
                                               for f in ("pyproject.toml", "setup.py")):
            raise UsageError(f"{origin}: {pkg.name} is locked from the folder {ref.location}, which holds no "
                             "project (no pyproject.toml or setup.py there)",
                             "the lock's path is read from the lock file's folder: keep the lock where it "
                             "was made, beside the project, or lock again with `jetpip lock`")
        packed = pack(ref, client.cache, indexes, where=f"{origin}: {pkg.name}", offline=client.offline,
                      on_step=reporter.step if reporter is not None else None)
        if packed.version != pkg.version and reporter is not None:
            # A folder's files may change after the lock (PEP 751 gives it no version): sync takes them.
            reporter.warning(f"{pkg.name} is locked at {pkg.version}, and {ref.shown()} now builds "
                             f"{packed.version}; that is what is installed")
        sdist = packed.sdist
        packages.append(replace(pkg, version=packed.version, url=sdist.as_uri(), filename=sdist.name,
                                sha256=file_hash(sdist, "sha256"), size=sdist.stat().st_size,
                                project=ref if ref.kind == "directory" else packed.ref))
    return replace(lock, packages=tuple(packages))
