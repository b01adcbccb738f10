"""pylock.toml (PEP 751): the Lock record, written from a Resolution and read back for sync."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.utils import canonicalize_name

from jetpip import __version__
from jetpip.errors import LockError
from jetpip.index.cache import file_hash
from jetpip.lock.tomlwrite import dumps as toml_dumps
from jetpip.model.links import is_sdist_filename
from jetpip.model.projects import ProjectRef
from jetpip.model.urls import Url

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from jetpip.model.target import Target
    from jetpip.resolve.resolution import Resolution

#: The layout of ``[tool.jetpip]``; bumped when a reader of an older one would misread it.
LOCK_FORMAT = 1


@dataclass(frozen=True)
class LockedPackage:
    """One pinned file, a wheel or an sdist: everything the installer needs, nothing it must look up again.

    The filename tells which: an sdist (``.tar.gz``, ``.zip``) is written as ``[packages.sdist]``.
    """

    name: str  # canonical
    version: str
    url: str  # exact file URL (credentials never stored)
    filename: str
    sha256: str | None  # None only for files from a trusted source without a hash
    size: int | None = None
    upload_time: str | None = None
    index: str | None = None  # the index (or flat page) URL it came from
    source: str | None = None  # the Source's human label
    guarded: bool = False
    requires: tuple[str, ...] = ()  # Requires-Dist, for jetpip's own consistency check
    requested: bool = False  # named by the user (top level)
    required_by: tuple[str, ...] = ()  # canonical names of the packages that need it
    # A source tree (a directory, a git commit): written as [packages.directory] or [packages.vcs].
    # In a lock just made, url, filename and sha256 name the sdist the tree was packed into; in a
    # lock read back they are empty until the tree is packed again.
    project: ProjectRef | None = None

    @property
    def is_sdist(self) -> bool:
        """True for a source distribution, which the target builds before it installs it."""
        return is_sdist_filename(self.filename)


@dataclass(frozen=True)
class Lock:
    """A whole solution for one Target."""

    packages: tuple[LockedPackage, ...]
    target: Mapping[str, Any] = field(default_factory=dict, hash=False)  # [tool.jetpip.target]
    requires_python: str | None = None
    environments: tuple[str, ...] = ()
    requested: tuple[str, ...] = ()  # the user's requirement strings
    route: str | None = None  # the knowledge base's route key, e.g. "jp6-cu126"
    constraints: tuple[str, ...] = ()  # route and user constraints that applied
    notes: tuple[str, ...] = ()  # policies that applied (pre-release, substitution)
    command: tuple[str, ...] = ()  # the `jetpip lock` arguments that made it (no -o, no credentials)
    stale: tuple[str, ...] = ()  # indexes that were down: cached pages of theirs stood in, with their age

    def by_name(self) -> dict[str, LockedPackage]:
        """Packages keyed by canonical name."""
        return {p.name: p for p in self.packages}

    def guarded(self) -> list[LockedPackage]:
        """The CUDA builds, in lock order."""
        return [p for p in self.packages if p.guarded]


# -- from a resolution ---------------------------------------------------------


def target_summary(target: Target) -> dict[str, str]:
    """The Target facts a lock records: JetPack, L4T, CUDA, Python, platform (only those known)."""
    interp = target.interpreter
    facts = {
        "jetpack": target.jetpack.value if target.jetpack else None,
        "l4t": target.l4t.value if target.l4t else None,
        "cuda": target.cuda.value if target.cuda else None,
        "soc": target.soc.value if target.soc else None,
        "compute_capability": target.compute_capability.value if target.compute_capability else None,
        "arch_kind": target.arch_kind.value if target.arch_kind else None,
        "python": interp.python_version,
        "implementation": interp.implementation,
        "abi": interp.abi,
        "platform": interp.platforms[-1] if interp.platforms else None,
        "glibc": interp.glibc,
        "machine": target.machine,
    }
    return {k: v for k, v in facts.items() if v}


def environment_marker(target: Target) -> str:
    """A PEP 508 marker true only for the Target's platform and Python line."""
    env = target.marker_environment()
    machine = env.get("platform_machine") or target.machine
    sys_platform = env.get("sys_platform") or "linux"
    return (
        f'sys_platform == "{sys_platform}" and platform_machine == "{machine}"'
        f' and python_version == "{target.python_version}"'
    )


def lock_from_resolution(resolution: Resolution) -> Lock:
    """Turn a Resolution into a Lock for its Target (pure; no IO)."""
    packages = []
    for pin in resolution.pins:
        link = pin.link
        sha = link.hashes.get("sha256") if link.hashes else None
        packages.append(
            LockedPackage(
                name=pin.name,
                version=pin.version,
                url=_written(link.url),
                filename=link.filename,
                sha256=sha,
                size=link.size,
                upload_time=_normal_time(link.upload_time),
                index=_written(_index_url(pin.source.kind, pin.source.url)),
                source=pin.source.name,
                guarded=pin.guarded,
                requires=tuple(pin.requires),
                requested=pin.requested,
                required_by=tuple(pin.required_by),
            )
        )
    target = resolution.target
    return Lock(
        packages=tuple(sorted(packages, key=lambda p: p.name)),
        target=target_summary(target),
        requires_python=f"=={target.python_version}.*",
        environments=(environment_marker(target),),
        requested=tuple(resolution.requested),
        route=resolution.route_key,
        constraints=tuple(resolution.constraints),
        notes=tuple(resolution.notes),
    )


def with_trees(lock: Lock) -> Lock:
    """``lock`` with each package packed from a source tree marked with that tree (read beside the sdist)."""
    if not any(pkg.url.startswith("file:") for pkg in lock.packages):
        return lock  # no packed tree: the build machinery stays unloaded
    from jetpip.index.projects import packed_origin

    packages = []
    for pkg in lock.packages:
        ref = packed_origin(pkg.url) if pkg.url.startswith("file:") else None
        packages.append(replace(pkg, project=ref, index=None) if ref is not None else pkg)
    return replace(lock, packages=tuple(packages))


def fill_hashes(lock: Lock, fetch: Callable[[LockedPackage], Path]) -> Lock:
    """Give every package without a published sha256 the hash of its file (``fetch`` downloads it).

    Flat link pages (NVIDIA's redist directories) publish no hashes; a lock records one anyway,
    so an install later checks the very bytes that were locked.
    """
    packages = []
    for pkg in lock.packages:
        if not pkg.sha256:
            path = fetch(pkg)
            digest = file_hash(path, "sha256")
            pkg = replace(pkg, sha256=digest, size=pkg.size if pkg.size is not None else path.stat().st_size)
        packages.append(pkg)
    return replace(lock, packages=tuple(packages))


# -- writing -------------------------------------------------------------------


def lock_to_dict(lock: Lock, base: Path | None = None) -> dict[str, Any]:
    """The pylock.toml document as a dict, keys in a fixed order.

    ``base``: the lock file's folder; a source directory's path is written relative to it (absolute
    when None), as PEP 751 asks.
    """
    doc: dict[str, Any] = {"lock-version": "1.0"}
    if lock.environments:
        doc["environments"] = list(lock.environments)
    if lock.requires_python:
        doc["requires-python"] = lock.requires_python
    doc["created-by"] = "jetpip"
    doc["packages"] = [_package_dict(p, base) for p in sorted(lock.packages, key=lambda p: p.name)]
    tool: dict[str, Any] = {"format": LOCK_FORMAT, "version": __version__}
    if lock.route:
        tool["route"] = lock.route
    tool["requested"] = list(lock.requested)
    if lock.constraints:
        tool["constraints"] = list(lock.constraints)
    if lock.notes:
        tool["notes"] = list(lock.notes)
    if lock.command:
        tool["command"] = list(lock.command)
    if lock.stale:
        tool["stale"] = list(lock.stale)
    tool["target"] = {k: lock.target[k] for k in sorted(lock.target)}
    tool["guarded"] = {p.name: p.version for p in sorted(lock.guarded(), key=lambda p: p.name)}
    doc["tool"] = {"jetpip": tool}
    return doc


def dump_lock(lock: Lock, base: Path | None = None) -> str:
    """Render ``lock`` as pylock.toml text; the same lock always gives the same bytes."""
    for pkg in lock.packages:
        if not pkg.sha256 and pkg.project is None:
            raise LockError(
                f"{pkg.filename} has no sha256, and a pylock.toml needs a hash for every file",
                "the source did not publish one; download the file once so its hash can be recorded",
            )
    # Not validated here: the tests read the locks this writes back through packaging.pylock.
    return toml_dumps(lock_to_dict(lock, base))


def write_lock(lock: Lock, path: Path) -> None:
    """Write ``lock`` to ``path`` (replacing it only once the new text is complete)."""
    text = dump_lock(lock, path.resolve().parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def _tree_dict(pkg: LockedPackage, ref: ProjectRef, base: Path | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": pkg.name}
    if ref.kind == "directory":
        # No version: a directory's files (and so its version) may change after the lock (PEP 751).
        path = os.path.relpath(ref.location, base) if base is not None else ref.location
        out["directory"] = {"path": Path(path).as_posix(), "editable": ref.editable}
    else:
        out["version"] = pkg.version
        vcs: dict[str, Any] = {"type": ref.vcs or "git", "url": ref.public_url()}
        if ref.revision:
            vcs["requested-revision"] = ref.revision
        vcs["commit-id"] = ref.commit or ""
        if ref.subdirectory:
            vcs["subdirectory"] = ref.subdirectory
        out["vcs"] = vcs
    meta: dict[str, Any] = {"guarded": pkg.guarded, "requested": pkg.requested, "version": pkg.version,
                            "requires": list(pkg.requires), "required-by": sorted(pkg.required_by)}
    out["tool"] = {"jetpip": meta}
    return out


def _package_dict(pkg: LockedPackage, base: Path | None = None) -> dict[str, Any]:
    if pkg.project is not None:
        return _tree_dict(pkg, pkg.project, base)
    file: dict[str, Any] = {"name": pkg.filename, "url": pkg.url}
    if pkg.upload_time:
        file["upload-time"] = _parse_time(pkg.upload_time)
    if pkg.size is not None:
        file["size"] = pkg.size
    file["hashes"] = {"sha256": pkg.sha256} if pkg.sha256 else {}
    out: dict[str, Any] = {"name": pkg.name, "version": pkg.version}
    if pkg.index:
        out["index"] = pkg.index
    if pkg.is_sdist:
        out["sdist"] = file
    else:
        out["wheels"] = [file]
    meta: dict[str, Any] = {"guarded": pkg.guarded, "requested": pkg.requested}
    if pkg.source:
        meta["source"] = pkg.source
    meta["requires"] = list(pkg.requires)
    meta["required-by"] = sorted(pkg.required_by)
    out["tool"] = {"jetpip": meta}
    return out


# -- reading -------------------------------------------------------------------


def load_lock(path: str | Path) -> Lock:
    """Read and validate a pylock.toml; a LockError says what is wrong and where."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise LockError(f"cannot read {p}: {err.strerror or err}", "check the path") from err
    return parse_lock(text, str(p))


def parse_lock(text: str, origin: str = "pylock.toml") -> Lock:
    """Parse pylock.toml text into a Lock (pure)."""
    from packaging.pylock import (  # with its logging: only to read
        PackageSdist,
        PackageWheel,
        Pylock,
        PylockValidationError,
    )

    hint = "regenerate it with `jetpip lock`"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise LockError(f"{origin} is not valid TOML: {err}", hint) from err
    try:
        pylock = Pylock.from_dict(doc)
    except PylockValidationError as err:
        raise LockError(f"{origin} is not a valid pylock.toml: {err}", hint) from err
    tool = _table(doc.get("tool", {}), "tool", origin).get("jetpip", {})
    tool = _table(tool, "tool.jetpip", origin)
    fmt = tool.get("format", LOCK_FORMAT)
    if fmt != LOCK_FORMAT:
        raise LockError(
            f"{origin} has [tool.jetpip] format {fmt!r}; this jetpip reads format {LOCK_FORMAT}",
            "regenerate it with this version of `jetpip lock`",
        )
    packages = []
    for i, pkg in enumerate(pylock.packages):
        if pkg.directory is not None or pkg.vcs is not None:
            packages.append(_read_tree(pkg, i, doc["packages"][i], origin))
            continue
        files: list[PackageWheel | PackageSdist] = [*(pkg.wheels or []), *([pkg.sdist] if pkg.sdist else [])]
        if len(files) != 1 or pkg.version is None:
            raise LockError(
                f"{origin}: packages[{i}] ({pkg.name}) has {len(pkg.wheels or [])} wheels and "
                f"{'an' if pkg.sdist else 'no'} sdist{'' if pkg.version else ' and no version'}; "
                "jetpip needs one pinned file (a wheel or an sdist) per package",
                hint,
            )
        wheel = files[0]
        if not wheel.url:
            kind = "sdist" if pkg.sdist else "wheel"
            raise LockError(f"{origin}: packages[{i}] ({pkg.name}) has no {kind} url", hint)
        meta = _table((pkg.tool or {}).get("jetpip", {}), f"packages[{i}].tool.jetpip", origin)
        packages.append(
            LockedPackage(
                name=canonicalize_name(pkg.name),
                # As written: packaging normalizes NVIDIA's "nv23.06" to "nv23.6", unlike the filename.
                version=str(doc["packages"][i]["version"]),
                url=wheel.url,
                filename=wheel.filename,
                sha256=wheel.hashes.get("sha256"),
                size=wheel.size,
                upload_time=_normal_time(wheel.upload_time),
                index=pkg.index,
                source=_opt_str(meta.get("source")),
                guarded=bool(meta.get("guarded", False)),
                requires=_str_tuple(meta.get("requires", ()), f"packages[{i}].tool.jetpip.requires", origin),
                requested=bool(meta.get("requested", False)),
                required_by=_str_tuple(
                    meta.get("required-by", ()), f"packages[{i}].tool.jetpip.required-by", origin
                ),
            )
        )
    target = _table(tool.get("target", {}), "tool.jetpip.target", origin)
    return Lock(
        packages=tuple(packages),
        target={str(k): str(v) for k, v in target.items()},
        requires_python=str(pylock.requires_python) if pylock.requires_python else None,
        environments=tuple(str(m) for m in pylock.environments or ()),
        requested=_str_tuple(tool.get("requested", ()), "tool.jetpip.requested", origin),
        route=_opt_str(tool.get("route")),
        constraints=_str_tuple(tool.get("constraints", ()), "tool.jetpip.constraints", origin),
        notes=_str_tuple(tool.get("notes", ()), "tool.jetpip.notes", origin),
        command=_str_tuple(tool.get("command", ()), "tool.jetpip.command", origin),
        stale=_str_tuple(tool.get("stale", ()), "tool.jetpip.stale", origin),
    )


def _read_tree(pkg: Any, i: int, raw: Mapping[str, Any], origin: str) -> LockedPackage:
    """A [packages.directory] or [packages.vcs] entry; a relative path is read from the lock's folder."""
    meta = _table((pkg.tool or {}).get("jetpip", {}), f"packages[{i}].tool.jetpip", origin)
    version = raw.get("version", meta.get("version"))
    if not isinstance(version, str):
        raise LockError(f"{origin}: packages[{i}] ({pkg.name}) gives no version, in the package or in "
                        "[packages.tool.jetpip]", "regenerate it with `jetpip lock`")
    if pkg.directory is not None:
        folder = Path(origin).parent if origin.endswith(".toml") else Path.cwd()
        # PEP 751: the project's root is `subdirectory` within the tree at `path`.
        inside = pkg.directory.subdirectory or ""
        location = os.path.normpath(folder.resolve() / pkg.directory.path / inside)
        ref = ProjectRef("directory", location, bool(pkg.directory.editable), canonicalize_name(pkg.name))
    else:
        vcs = pkg.vcs
        location = vcs.url or (Path(vcs.path).resolve().as_uri() if vcs.path else "")
        ref = ProjectRef("vcs", location, False, canonicalize_name(pkg.name), vcs.type,
                         vcs.requested_revision, vcs.commit_id, vcs.subdirectory)
    return LockedPackage(
        name=canonicalize_name(pkg.name), version=version, url="", filename="", sha256=None,
        guarded=bool(meta.get("guarded", False)),
        requires=_str_tuple(meta.get("requires", ()), f"packages[{i}].tool.jetpip.requires", origin),
        requested=bool(meta.get("requested", False)),
        required_by=_str_tuple(meta.get("required-by", ()), f"packages[{i}].tool.jetpip.required-by", origin),
        project=ref,
    )


def _table(value: object, key: str, origin: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise LockError(f"{origin}: [{key}] must be a table", "regenerate it with `jetpip lock`")
    return value


def _str_tuple(value: object, key: str, origin: str) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise LockError(f"{origin}: {key} must be a list of strings", "regenerate it with `jetpip lock`")
    return tuple(value)


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


# -- small helpers -------------------------------------------------------------


def _parse_time(value: str) -> datetime:
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc)


def _normal_time(value: str | datetime | None) -> str | None:
    """One spelling per instant, so a lock read back and written again gives the same bytes."""
    if value is None:
        return None
    try:
        stamp = value if isinstance(value, datetime) else _parse_time(value)
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.astimezone(timezone.utc).isoformat()


def _index_url(kind: str, url: Url) -> Url:
    return url.child("+simple/") if kind == "devpi" else url.child("") if kind == "simple" else url


def _written(url: Url) -> str:
    """``url`` as a lock records it: without credentials, which stay in the user's settings."""
    return str(url.without_credentials())
