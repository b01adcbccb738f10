"""A lock checked against its requirements files: --hash values, hash-checking mode and direct URLs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from jetpip.errors import HashMismatchError, UsageError
from jetpip.index.cache import file_hash
from jetpip.index.config import IndexConfig
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.urls import Url

_HINT = ("the file is not the one the hash was made from: check the version, the index or the URL, "
         "or regenerate the hashes (pip-compile --generate-hashes) if the change is expected")


def check_file_hashes(lock: Lock, config: IndexConfig, fetch: Callable[[LockedPackage], Path]) -> None:
    """Raise when a locked file breaks what the requirements files asked (pip's checks, at lock time).

    ``fetch`` gives the file itself, needed only for a --hash in another algorithm than sha256.
    """
    by_name = {p.name: p for p in lock.packages}
    checks = {c.name: c for c in config.hash_checks}
    for pkg in _check_direct(by_name, config):
        try:
            fetch(pkg)  # a --hash given with a direct URL is checked against the bytes, here and now
        except HashMismatchError as err:
            if pkg.name not in checks:
                raise
            raise HashMismatchError(f"{err.message}\n  (expected: the --hash of {checks[pkg.name].where})",
                                    _HINT) from None
    for pkg in lock.packages:
        check = checks.get(pkg.name)
        if check is None:
            continue
        allowed = set(check.hashes)
        actual = {f"sha256:{pkg.sha256}"} if pkg.sha256 else set()
        for algo in sorted({h.split(":", 1)[0] for h in allowed} - {"sha256"}):
            actual.add(f"{algo}:{file_hash(fetch(pkg), algo)}")
        if not actual & allowed:
            raise HashMismatchError(
                f"{pkg.filename} ({pkg.url}) does not match the --hash of {check.where}:\n"
                f"  expected: {' or '.join(sorted(allowed))}\n  actual:   {' / '.join(sorted(actual))}",
                _HINT,
            )
    if config.require_hashes:
        missing = [p for p in lock.packages if p.name not in checks]
        if missing:
            lines = "\n".join(f"  {p.name}=={p.version} --hash=sha256:{p.sha256}" for p in missing)
            raise UsageError(
                f"hash-checking mode (--require-hashes, or a --hash in the file), and {len(missing)} "
                f"locked package(s) have no --hash in the requirements files:\n{lines}",
                "as pip, every package of the lock needs its hash: add the lines above (they give the "
                "hashes of the files just locked), or drop --require-hashes and every --hash",
            )


def check_direct_urls(lock: Lock, config: IndexConfig) -> None:
    """Raise when a package a direct URL names was locked from elsewhere (needs no download)."""
    _check_direct({p.name: p for p in lock.packages}, config)


def _check_direct(by_name: dict[str, LockedPackage], config: IndexConfig) -> list[LockedPackage]:
    """The locked packages named by direct URLs; raise when one came from elsewhere."""
    out = []
    for text in config.direct_urls:
        url = Url(text)
        wanted = url.without_credentials()
        filename = unquote(urlsplit(str(wanted)).path).rsplit("/", 1)[-1]
        try:
            name = str(parse_wheel_filename(filename)[0])
        except InvalidWheelFilename:
            continue  # the requirements reader lets only wheel URLs through
        pkg = by_name.get(name)
        if pkg is None:
            continue
        if str(Url(pkg.url).without_credentials()) == str(wanted).partition("#")[0]:
            out.append(pkg)
            continue
        raise UsageError(
            f"{name} is named by the direct URL {wanted}, but the resolution took {pkg.filename} from "
            f"{pkg.source or pkg.url}",
            f"{name} is a guarded CUDA package, which comes only from the route's sources: drop the URL "
            "line and name the version instead, or change the route with an --indexes overlay",
        )
    return out
