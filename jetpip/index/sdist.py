"""Core metadata of a source distribution: its PKG-INFO when static (PEP 643), else the PEP 517 hook.

Preparing metadata runs the project's build backend in a fresh virtual environment whose build
requirements uv installs from the indexes jetpip resolves from. The result is cached by the sdist's
sha256, so a project is prepared once per machine, not once per lock.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import threading
import warnings
import zipfile
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from packaging.version import InvalidVersion, Version

from jetpip.errors import MetadataError
from jetpip.index.cache import Cache
from jetpip.index.config import IndexConfig
from jetpip.index.metadata import header_fields
from jetpip.model.urls import redact_text

# What the resolver reads from metadata; PEP 643 lets a backend leave each of them to build time.
RESOLVER_FIELDS = ("requires-dist", "requires-python", "provides-extra")
_TAIL_LINES = 15  # of a failed backend's output, shown in the error
# One backend run at a time: each is CPU-bound, and the warnings filter below is process-wide.
_HOOKS = threading.Lock()


def pkg_info(archive: Path) -> bytes | None:
    """The sdist's own ``name-version/PKG-INFO`` (not one of a bundled project), or None."""
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                member = next((n for n in zf.namelist() if _is_top_pkg_info(n)), None)
                return zf.read(member) if member is not None else None
        with tarfile.open(archive, "r:gz") as tf:
            for info in tf:
                if info.isfile() and _is_top_pkg_info(info.name):
                    f = tf.extractfile(info)
                    return f.read() if f is not None else None
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise MetadataError(f"{archive.name} is not a readable source archive ({err})",
                            "the file is damaged or not an sdist; report it to its publisher") from err
    return None


def _is_top_pkg_info(name: str) -> bool:
    parts = PurePosixPath(name.lstrip("./")).parts
    return len(parts) == 2 and parts[1] == "PKG-INFO"


def is_static(metadata: bytes) -> bool:
    """True when PKG-INFO fixes what the resolver reads: Metadata-Version >= 2.2, none of it ``Dynamic``."""
    fields = header_fields(metadata)
    try:
        version = Version((fields.get("metadata-version") or ["0"])[0])
    except InvalidVersion:
        return False
    dynamic = {value.strip().lower() for value in fields.get("dynamic", ())}
    return version >= Version("2.2") and not dynamic.intersection(RESOLVER_FIELDS)


@dataclass(frozen=True, repr=False)
class BuildIndexes:
    """Where uv finds build requirements: the configured indexes, as uv's options (credentials kept)."""

    args: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None  # TLS settings, as uv reads them

    def __repr__(self) -> str:
        return redact_text(f"BuildIndexes({self.args!r})")

    @classmethod
    def from_config(cls, config: IndexConfig, *, offline: bool = False) -> BuildIndexes:
        """The uv options for the same indexes, find-links and trusted hosts as ``config``."""
        args: list[str] = ["--offline"] if offline else []
        if config.no_index or not config.index_url:
            args.append("--no-index")
        else:
            args += ["--index-url", config.index_url]
            for url in config.extra_index_urls:
                args += ["--extra-index-url", url]
        for link in config.find_links:
            args += ["--find-links", link]
        for host in config.trusted_hosts:
            args += ["--allow-insecure-host", host]
        env = {"SSL_CERT_FILE": config.cert} if config.cert else {}
        if config.client_cert:
            env["SSL_CLIENT_CERT"] = config.client_cert
        return cls(tuple(args), env)


def sdist_metadata(
    archive: Path, sha256: str, cache: Cache, indexes: BuildIndexes,
    on_prepare: Callable[[], None] | None = None,
) -> tuple[bytes, str]:
    """(core metadata, how it was read) of the sdist at ``archive`` whose sha256 is ``sha256``.

    ``how`` is "pkg-info" (static, PEP 643), "cache" (prepared by an earlier run) or "prepared".
    ``on_prepare`` hears when the build backend is about to run (it takes seconds, or minutes).
    """
    data = pkg_info(archive)
    if data is not None and is_static(data):
        return data, "pkg-info"
    key = f"prepared\nsha256:{sha256}"
    cached = cache.metadata([key])
    if cached is not None:
        return cached, "cache"
    if on_prepare is not None:
        on_prepare()
    prepared = prepare_metadata(archive, indexes)
    cache.store_metadata([key], prepared)
    return prepared, "prepared"


def prepare_metadata(archive: Path, indexes: BuildIndexes, python: str | None = None) -> bytes:
    """METADATA from the project's ``prepare_metadata_for_build_wheel`` hook, in an isolated environment.

    ``python`` runs the backend (default: jetpip's own interpreter, as pip uses its own).
    """
    from build import BuildBackendException, BuildException, ProjectBuilder
    from pyproject_hooks import BuildBackendWarning

    with tempfile.TemporaryDirectory(prefix="jetpip-sdist-") as tmp, _HOOKS, warnings.catch_warnings():
        # pyproject_hooks re-raises the backend's own warnings here ("Unknown distribution option"):
        # they speak to the project's authors, and the core never prints.
        warnings.simplefilter("ignore", BuildBackendWarning)
        work = Path(tmp)
        project = _unpack(archive, work / "src")
        env = _BuildEnv(work / "env", indexes, python or sys.executable, archive.name)
        try:
            builder = ProjectBuilder.from_isolated_env(env, project, runner=_quiet_runner)
            env.install(builder.build_system_requires)
            env.install(builder.get_requires_for_build("wheel"))
            dist_info = Path(builder.metadata_path(work / "out"))
        except BuildBackendException as err:
            raise _backend_error(archive.name, err.exception) from None
        except BuildException as err:
            raise MetadataError(f"cannot prepare the metadata of {archive.name}: {err}",
                                "the sdist's pyproject.toml is not one a build frontend can use; "
                                "ask for a release that ships a wheel") from None
        try:
            return (dist_info / "METADATA").read_bytes()
        except OSError as err:
            raise MetadataError(f"the build backend of {archive.name} wrote no METADATA ({err})",
                                "report it to the project; a release with a wheel avoids the build") from err


def pack_project(project: Path, out: Path, indexes: BuildIndexes, what: str) -> tuple[Path, bytes]:
    """(sdist, METADATA) of the source tree ``project``: its backend's build_sdist and metadata hooks.

    Both run in one isolated environment, so a source tree costs one environment, as an sdist does.
    ``what`` names the tree in messages (a path, or a repository URL without its password).
    """
    from build import BuildBackendException, BuildException, ProjectBuilder
    from pyproject_hooks import BuildBackendWarning

    with tempfile.TemporaryDirectory(prefix="jetpip-project-") as tmp, _HOOKS, warnings.catch_warnings():
        warnings.simplefilter("ignore", BuildBackendWarning)
        work = Path(tmp)
        env = _BuildEnv(work / "env", indexes, sys.executable, what)
        try:
            builder = ProjectBuilder.from_isolated_env(env, project, runner=_quiet_runner)
            env.install(builder.build_system_requires)
            env.install({*builder.get_requires_for_build("sdist"), *builder.get_requires_for_build("wheel")})
            sdist = Path(builder.build("sdist", out))
            dist_info = Path(builder.metadata_path(work / "meta"))
            return sdist, (dist_info / "METADATA").read_bytes()
        except BuildBackendException as err:
            raise _backend_error(what, err.exception) from None
        except (BuildException, OSError) as err:
            raise MetadataError(f"cannot prepare the metadata of {what}: {err}",
                                "the project's pyproject.toml (or setup.py) is not one a build frontend "
                                "can use; `python -m build` in its folder shows the same error") from None


class _BuildEnv:
    """A fresh virtual environment for one backend run (``build.env.IsolatedEnv``), filled by uv."""

    def __init__(self, path: Path, indexes: BuildIndexes, python: str, what: str) -> None:
        self.path = path
        self.indexes = indexes
        self.what = what
        _run([_uv(), "venv", "--quiet", "--python", python, str(path)], what, "create the build environment")
        self._python = str(path / "bin" / "python")

    @property
    def python_executable(self) -> str:
        """The environment's interpreter."""
        return self._python

    def make_extra_environ(self) -> dict[str, str]:
        """The environment's scripts first on PATH; no outer PYTHONPATH leaks in."""
        return {"PATH": os.pathsep.join([str(self.path / "bin"), os.environ.get("PATH", "")]),
                "PYTHONPATH": ""}

    def install(self, requirements: Collection[str]) -> None:
        """Install ``requirements`` with uv from the configured indexes (nothing to do for none)."""
        if requirements:
            cmd = [_uv(), "pip", "install", "--quiet", "--python", self._python, *self.indexes.args,
                   *sorted(requirements)]
            _run(cmd, self.what, "install its build requirements", self.indexes.env)


def _uv() -> str:
    import uv

    return uv.find_uv_bin()


def _run(cmd: Sequence[str], what: str, doing: str, extra: Mapping[str, str] | None = None) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | dict(extra or {})
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise MetadataError(
            f"cannot prepare the metadata of {what}: uv could not {doing} (exit {proc.returncode}):\n"
            + _tail(proc.stderr or proc.stdout),
            "a build requirement is missing from the configured indexes, or uv cannot reach them; "
            "with --offline the cache must hold them. A release that ships a wheel needs no build",
        )


def _quiet_runner(cmd: Sequence[str], cwd: str | None = None,
                  extra_environ: Mapping[str, str] | None = None) -> None:
    """Run a backend hook with its output kept for the error message (pyproject_hooks' runner shape)."""
    env = {**os.environ, **(extra_environ or {})}
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, errors="replace",
                          check=False)
    if proc.returncode != 0:
        raise subprocess.CalledProcessError(proc.returncode, list(cmd), proc.stdout, proc.stderr)


def _backend_error(what: str, cause: Exception) -> MetadataError:
    output = ""
    if isinstance(cause, subprocess.CalledProcessError):
        output = "\n" + _tail(f"{cause.stdout or ''}\n{cause.stderr or ''}")
    return MetadataError(
        f"cannot prepare the metadata of {what}: its build backend failed ({type(cause).__name__}){output}",
        "the project's build needs something this machine lacks (read the output above); or take a "
        "release that ships a wheel (name!=VERSION), or pass --only-binary NAME to take wheels only",
    )


def _tail(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()][-_TAIL_LINES:]
    return redact_text("\n".join(f"  {line}" for line in lines) or "  (no output)")


def _unpack(archive: Path, dest: Path) -> Path:
    """Unpack ``archive`` under ``dest`` (no member may land outside it); return the project folder."""
    dest.mkdir(parents=True)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for name in zf.namelist():
                    _check_member(name, archive.name)
                zf.extractall(dest)
        else:
            with tarfile.open(archive, "r:gz") as tf:
                members = tf.getmembers()
                for info in members:
                    _check_member(info.name, archive.name)
                    if not (info.isfile() or info.isdir()):
                        raise MetadataError(f"{archive.name} holds a link or device ({info.name})",
                                            "jetpip unpacks plain files only; report it to the publisher")
                if hasattr(tarfile, "data_filter"):  # Python 3.12 warns unless a filter is named
                    tf.extractall(dest, members=members, filter="data")
                else:  # pragma: no cover - older patch releases; every member was checked above
                    tf.extractall(dest, members=members)
    except (OSError, tarfile.TarError, zipfile.BadZipFile, EOFError) as err:
        raise MetadataError(f"cannot unpack {archive.name} ({err})",
                            "the file is damaged or not an sdist; report it to its publisher") from err
    tops = [p for p in dest.iterdir() if p.is_dir()]
    return tops[0] if len(tops) == 1 and not (dest / "pyproject.toml").exists() else dest


def _check_member(name: str, what: str) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts:
        raise MetadataError(f"{what} holds a member outside its folder ({name})",
                            "jetpip does not unpack such archives; report it to the publisher")
