"""A locked file its index no longer serves as locked: one error, with the re-lock and wheelhouse ways on."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from jetpip.errors import HashMismatchError, IndexFetchError, LockedFileError
from jetpip.model.urls import Url

if TYPE_CHECKING:
    from jetpip.lock.pylock import Lock, LockedPackage

# What a plan resolved a moment ago names a file the index no longer serves: its pages were old.
INSTALL_HINT = ("the index pages jetpip read name a file the index no longer serves as listed: run the "
                "install with --refresh, so every page is read afresh")


def locked_file_error(pkg: LockedPackage, err: IndexFetchError) -> LockedFileError | None:
    """The explained error for a locked file its index no longer serves as locked; None for other failures.

    A 404 or 410, or other bytes under the locked name, fails the same way on every try: the
    index re-uploaded or removed the file. A download cut short is not that, and keeps its error.
    """
    url = Url(pkg.url)
    if isinstance(err, HashMismatchError):
        if err.cut_short:
            return None
        problem = (f"no longer has the locked bytes: {url} now serves sha256 {err.actual or '(unknown)'}, "
                   f"the lock records sha256 {pkg.sha256 or '(none)'}")
    elif err.status in (404, 410):
        said = "410 Gone" if err.status == 410 else "404 Not Found"
        problem = f"is gone from its index: {url} answered HTTP {said}"
    else:
        return None
    source = pkg.source or str(Url(pkg.index or pkg.url))
    return LockedFileError(pkg.filename, f"{pkg.name}=={pkg.version}", source, problem)


def relock_command(lock: Lock, lockfile: str) -> str:
    """The command line that makes ``lock`` again from the index as it is now (``--refresh``).

    A lock records the `jetpip lock` arguments that made it; an older one, its requested lines.
    """
    args: Sequence[str] = lock.command or ("lock", *(lock.requested or ("PKGS",)))
    return "jetpip " + shlex.join([*args, "-o", lockfile, "--refresh"])


def relock_hint(lock: Lock, lockfile: str, *, cached: bool) -> str:
    """The two ways on from a vanished or changed locked file: re-lock, or a wheelhouse of the old build.

    ``cached``: jetpip's cache here still holds the locked file by its old hash.
    """
    quoted = shlex.quote(lockfile)
    lines = [
        "re-lock, so the lock names the files the index serves now:",
        f"  {relock_command(lock, lockfile)}",
        f"  jetpip sync {quoted}",
    ]
    if cached:
        lines += [
            "or keep the locked build: jetpip's cache still holds it by its old hash, so a wheelhouse "
            "can be filled without the index:",
            f"  jetpip download {quoted} -d DIR --offline",
            f"  jetpip sync {quoted} --offline --find-links DIR",
        ]
    else:
        lines.append(
            "or keep the locked build: where a jetpip cache still holds it (the machine that made the "
            f"lock), `jetpip download {quoted} -d DIR` fills a wheelhouse; copy DIR here and run "
            f"`jetpip sync {quoted} --offline --find-links DIR`"
        )
    return "\n".join(lines)


def explain(err: LockedFileError, lock: Lock, lockfile: str | None, cached: Callable[[str], bool]) -> None:
    """Give ``err`` its hint: re-lock ``lockfile`` (None: an install, whose pages were old), or a wheelhouse.

    ``cached(sha256)`` says whether jetpip's cache here holds a file by that hash.
    """
    if lockfile is None:
        err.hint = INSTALL_HINT
        return
    pkg = next((p for p in lock.packages if p.filename == err.filename), None)
    held = pkg is not None and pkg.sha256 is not None and cached(pkg.sha256)
    err.hint = relock_hint(lock, lockfile, cached=held)
