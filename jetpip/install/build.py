"""Wheels built from a plan's sdists: in the target's interpreter, isolated, with a recipe's CUDA settings.

pypa/build drives the PEP 517 hooks; the isolated environment is a venv made by the target
interpreter, its build requirements installed by uv from the indexes the install reads. A built
wheel is cached by the sdist's sha256 and the target's tags, so no environment builds it twice.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from jetpip.errors import BuildError
from jetpip.install.sdists import SdistBuild
from jetpip.install.stream import stream
from jetpip.model.target import Interpreter
from jetpip.model.urls import redact_text
from jetpip.report import NullReporter, Reporter

if TYPE_CHECKING:
    from jetpip.index.config import IndexConfig
    from jetpip.knowledge.builds import BuildEnvironment
    from jetpip.lock.pylock import LockedPackage

TAIL_LINES = 25  # of the build's output, in the error


class HookRunner:
    """Runs pypa/build's hook commands with the recipe's environment, keeping their output."""

    def __init__(self, env: Mapping[str, str], echo: Callable[[str], None] | None = None) -> None:
        self.env = dict(env)
        self.echo = echo
        self.output: list[str] = []

    def __call__(self, cmd: Sequence[str], cwd: str | None = None,
                 extra_environ: Mapping[str, str] | None = None) -> None:
        """Run one hook; a failure raises CalledProcessError, which pypa/build wraps."""
        self.run(cmd, cwd=cwd, extra=extra_environ)

    def run(self, cmd: Sequence[str], *, cwd: str | None = None,
            extra: Mapping[str, str] | None = None) -> None:
        """Run ``cmd`` to completion with its output kept; raise CalledProcessError when it fails."""
        code = stream(cmd, env={**self.env, **(extra or {})}, keep=self.output, cwd=cwd, echo=self.echo)
        if code:
            raise subprocess.CalledProcessError(code, list(cmd))

    def tail(self) -> list[str]:
        """The last lines of output, passwords masked (a URL in a traceback)."""
        lines = "".join(self.output).rstrip().splitlines()[-TAIL_LINES:]
        return [redact_text(line) for line in lines]


class WheelBuilder:
    """Builds sdists into wheels for one target interpreter, through the build cache.

    ``config`` gives the indexes and find-links the build requirements come from (the same the
    install reads); ``uv`` is the uv binary (None: the build environment gets pip instead).
    """

    def __init__(
        self,
        interpreter: Interpreter,
        config: IndexConfig | None,
        *,
        uv: str | None,
        guarded: Iterable[str] = (),
        offline: bool = False,
        echo: Callable[[str], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        if interpreter.executable is None:
            raise ValueError("a build needs a probed interpreter")
        self.python = interpreter.executable
        self.interpreter = interpreter
        self.config = config
        self.uv = uv
        self.guarded = {canonicalize_name(n) for n in guarded}
        self.offline = offline
        self.echo = echo
        self.environ = dict(os.environ if environ is None else environ)

    def build_all(self, builds: Sequence[SdistBuild], sdists: Mapping[str, str],
                  reporter: Reporter | None = None) -> dict[str, str]:
        """Build (or take from the cache) each of ``builds``; ``sdists`` maps a filename to the fetched file.

        Returns the sdist filename -> built wheel path the engine installs.
        """
        rep = reporter or NullReporter()
        out = {}
        for item in builds:
            cached = cached_wheel(Path(item.wheel_dir))
            if cached is not None:
                rep.note(f"built wheel of {item.package.name} {item.package.version} taken from the build "
                         f"cache: {cached.name}")
                out[item.package.filename] = str(cached)
                continue
            if item.warning:
                rep.warning(item.warning)
            rep.step(f"build {item.describe()}")
            if item.recipe is not None:
                if item.recipe.apt:
                    rep.note(f"the {item.recipe.recipe} recipe needs these system packages: "
                             f"sudo apt-get install -y {' '.join(item.recipe.apt)}")
                rep.note(f"building {item.package.name} may take {item.recipe.build_time} on this device")
                for name, value in item.recipe.env:
                    if self.environ.get(name, value) != value:
                        rep.note(f"{name}={self.environ[name]} from your environment, in place of the "
                                 f"recipe's {value}")
            start = time.monotonic()
            wheel = self.build(item, Path(sdists[item.package.filename]))
            rep.note(f"built {wheel.name} in {time.monotonic() - start:.1f} s")
            out[item.package.filename] = str(wheel)
        return out

    def build(self, item: SdistBuild, sdist: Path) -> Path:
        """Build ``sdist`` (already hash-checked) and put the wheel into the cache; return its path."""
        dest = Path(item.wheel_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
        runner = HookRunner(self._environment(item.recipe, work / "env"), self.echo)
        try:
            try:
                wheel = self._build_in(item, sdist, work, runner)
            except BuildError:
                raise
            except Exception as err:  # pypa/build's BuildException and BuildBackendException, OSError
                raise _failure(item, runner, err) from None
            done = work / "done"
            done.mkdir()
            os.replace(wheel, done / wheel.name)
            try:
                os.replace(done, dest)
            except OSError:
                if cached_wheel(dest) is None:  # not another build that finished first
                    raise
            found = cached_wheel(dest)
            assert found is not None
            return found
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _build_in(self, item: SdistBuild, sdist: Path, work: Path, runner: HookRunner) -> Path:
        from build import ProjectBuilder

        project = item.package.project
        editable = project is not None and project.editable
        # An editable install points at the project's own folder (PEP 660), never at a copy of it.
        if editable and project is not None:
            source = Path(project.location)
        else:
            source = unpack_sdist(sdist, work / "src")
        python = self._make_env(work / "env", runner)
        if item.recipe is not None and item.recipe.target_site:
            self._see_target_site(python, runner)
        builder = ProjectBuilder(source, python_executable=str(python), runner=runner)
        self._install(item, python, builder.build_system_requires, runner)
        kind: Literal["editable", "wheel"] = "editable" if editable else "wheel"
        self._install(item, python, builder.get_requires_for_build(kind), runner)
        out = Path(builder.build(kind, work / "out"))
        _check_wheel(item.package, out)
        return out

    def _environment(self, recipe: BuildEnvironment | None, env_dir: Path) -> dict[str, str]:
        env = dict(self.environ)
        # The build environment is isolated: the indexes are the install's, given on the command
        # line; only where uv keeps its cache is the user's to say.
        for key in [k for k in env if (k.startswith(("PIP_", "UV_")) and k != "UV_CACHE_DIR")
                    or k in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")]:
            del env[key]
        env["PIP_CONFIG_FILE"] = os.devnull
        path = [str(env_dir / "bin")]
        if recipe is not None:
            env.update(recipe.applied_to(self.environ))
            path += list(recipe.path)
        env["PATH"] = os.pathsep.join([*path, env.get("PATH", os.defpath)])
        env.setdefault("PYTHONIOENCODING", "utf-8")
        env.setdefault("PYTHONUNBUFFERED", "1")
        c = self.config
        if c is not None:
            if c.cert:
                env["SSL_CERT_FILE"] = c.cert
            if c.client_cert:
                env["SSL_CLIENT_CERT"] = c.client_cert
            if c.proxy:
                env["HTTP_PROXY"] = env["HTTPS_PROXY"] = c.proxy
        return env

    def _make_env(self, env_dir: Path, runner: HookRunner) -> Path:
        # The target interpreter makes the venv, so the build runs on the Python the wheel is for.
        if self.uv is not None:
            runner.run([self.uv, "venv", "--no-config", "--quiet", "--python", self.python, str(env_dir)])
        else:
            runner.run([self.python, "-m", "venv", str(env_dir)])
        return env_dir / "bin" / "python"

    def _see_target_site(self, python: Path, runner: HookRunner) -> None:
        # A torch extension compiles against the torch it imports: the target's CUDA build.
        runner.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
        purelib = Path(runner.output[-1].strip())
        dirs = [d for d in self.interpreter.site_packages if os.path.isdir(d)]
        (purelib / "jetpip-target-site.pth").write_text("".join(f"{d}\n" for d in dirs), encoding="utf-8")

    def _install(self, item: SdistBuild, python: Path, requires: Iterable[str], runner: HookRunner) -> None:
        wanted = sorted(set(requires))
        needs_cuda = sorted({_name(r) for r in wanted} & self.guarded)
        if needs_cuda:
            if item.recipe is None or not item.recipe.target_site:
                raise BuildError(
                    f"building {item.package.filename} needs {', '.join(needs_cuda)} in its build "
                    "environment, which would come from the base index: a CPU build, or one made for "
                    "another CUDA",
                    f"add a [builds.{item.package.name}] table with target_site = true to an indexes.toml "
                    "overlay, so the build uses the target's own CUDA build (docs/install.md)",
                )
            wanted = [r for r in wanted if _name(r) not in self.guarded]
        if not wanted:
            return
        if self.uv is not None:
            argv = [self.uv, "pip", "install", "--no-config", "--python", str(python), *self._uv_index_args()]
        else:
            argv = [str(python), "-m", "pip", "install", "--disable-pip-version-check",
                    *self._pip_index_args()]
        runner.run([*argv, *wanted])

    def _uv_index_args(self) -> list[str]:
        return (["--offline"] if self.offline else []) + self._index_args("--allow-insecure-host")

    def _pip_index_args(self) -> list[str]:
        return self._index_args("--trusted-host")

    def _index_args(self, trust_flag: str) -> list[str]:
        """The install's indexes as installer options (``trust_flag``: its trusted-host option)."""
        c = self.config
        if c is None:
            return []
        args: list[str] = []
        if c.no_index:
            args.append("--no-index")
        elif c.index_url:
            args += ["--index-url", c.index_url]
        for url in () if c.no_index else c.extra_index_urls:
            args += ["--extra-index-url", url]
        for link in c.find_links:
            args += ["--find-links", link]
        for host in c.trusted_hosts:
            args += [trust_flag, host]
        return args


def cached_wheel(wheel_dir: Path) -> Path | None:
    """The wheel a cache entry holds, if it is complete."""
    try:
        wheels = [p for p in wheel_dir.iterdir() if p.suffix == ".whl"]
    except OSError:
        return None
    return wheels[0] if len(wheels) == 1 else None


def unpack_sdist(sdist: Path, dest: Path) -> Path:
    """Unpack ``sdist`` under ``dest`` (no member may leave it) and return the project directory."""
    dest.mkdir(parents=True)
    root = dest.resolve()
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as zf:
            for name in zf.namelist():
                _inside(root, name, sdist)
            zf.extractall(root)
    else:
        with tarfile.open(sdist) as tf:
            members = tf.getmembers()
            for m in members:
                _inside(root, m.name, sdist)
                if m.issym() or m.islnk():
                    _inside(root, os.path.join(os.path.dirname(m.name), m.linkname), sdist)
            if hasattr(tarfile, "data_filter"):
                tf.extractall(root, members, filter="data")
            else:  # pragma: no cover - Python 3.10 before 3.10.12
                tf.extractall(root, members)
    entries = [p for p in root.iterdir()]
    project = entries[0] if len(entries) == 1 and entries[0].is_dir() else root
    if not (project / "pyproject.toml").is_file() and not (project / "setup.py").is_file():
        raise BuildError(f"{sdist.name} holds no pyproject.toml or setup.py at its top",
                         "the file is not a buildable source distribution; ask its publisher for a wheel")
    return project


def _inside(root: Path, name: str, sdist: Path) -> None:
    if not (root / name).resolve().is_relative_to(root):
        raise BuildError(f"{sdist.name} names a file outside its own directory ({name!r}); it is not "
                         "unpacked", "the archive is malformed or hostile; do not build it")


def _name(requirement: str) -> str:
    try:
        return canonicalize_name(Requirement(requirement).name)
    except InvalidRequirement:
        return ""


def _check_wheel(pkg: LockedPackage, wheel: Path) -> None:
    try:
        name, version, _, _ = parse_wheel_filename(wheel.name)
        same = name == pkg.name and version == Version(pkg.version)
    except (InvalidWheelFilename, InvalidVersion):
        same = False
    if not same:
        raise BuildError(f"building {pkg.filename} gave {wheel.name}, not {pkg.name} {pkg.version}",
                         "the sdist does not build what its name says; lock again, or ask its publisher")


def _failure(item: SdistBuild, runner: HookRunner, err: Exception) -> BuildError:
    pkg = item.package
    lines = [f"building a wheel from {pkg.filename} ({pkg.name} {pkg.version}) in the target's interpreter "
             f"failed: {redact_text(str(err)) or type(err).__name__}"]
    tail = runner.tail()
    if tail:
        lines.append("the build said (last lines):")
        lines += [f"  | {line}" for line in tail]
    lines.append("nothing was installed: the build runs before the first install step")
    apt = item.recipe.apt if item.recipe else ("build-essential", "python3-dev")
    hint = ("a missing compiler, header or tool is the usual cause: "
            f"`sudo apt-get install -y {' '.join(apt)}`; run again with -v to see the whole build; "
            f"or take a release that publishes a wheel (`--only-binary {pkg.name}`)")
    return BuildError("\n".join(lines), hint)
