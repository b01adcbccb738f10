"""The tools under test and the command line each gets for a lock, an install and a no-op re-run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEVICE_ROOT = ROOT / "tests" / "fixtures" / "roots" / "jp62-agx-orin-r36.4.3"


@dataclass(frozen=True)
class Cmd:
    """One timed command: argv plus the environment it runs in."""

    argv: list[str]
    env: dict[str, str]


@dataclass
class Setup:
    """Everything the commands share: the mirror's URL, the interpreters, the scratch dirs."""

    index_url: str  # the devpi-like path, as jetson-containers configures pip
    work: Path
    bench_python: Path  # runs pip (the newest pip in full mode)
    lock_python: Path  # an empty venv: the interpreter locks are made for
    overlay: Path  # indexes.toml layered over jetpip's: the Jetson source -> the mirror
    uv: Path | None
    jetpip: Path | None
    reqs: Path
    quick: bool
    versions: dict[str, str] = field(default_factory=dict)
    ca: Path | None = None  # the CA that signed the https mirror's certificate
    # jetpip's lock of ``reqs`` and what is made of it (``lock_plan`` in run.py): the lock itself, for
    # the syncs; the same files as a requirements file of URLs and hashes, for pip's; and each file
    # downloaded beforehand, as a requirements file of local paths, for uv-files.
    plan_lock: Path | None = None
    lock_reqs: Path | None = None
    files: Path | None = None

    @property
    def https(self) -> bool:
        return self.index_url.startswith("https:")


# Where OpenSSL, requests and curl look for a CA bundle: the https scenario names its own CA.
TRUST_VARS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def clean_env(cache: Path) -> dict[str, str]:
    """No user pip config, no proxies, caches and HOME under ``cache`` (cold = an empty one)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIP_", "UV_", "JETPIP_", "VIRTUAL_ENV"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
        and k not in TRUST_VARS
        and k != "PYTHONDONTWRITEBYTECODE"  # every tool runs from bytecode, as an installed one does
    }
    env.update(
        HOME=str(cache / "home"),
        XDG_CACHE_HOME=str(cache / "xdg"),
        XDG_CONFIG_HOME=str(cache / "cfg"),
        PIP_CONFIG_FILE=os.devnull,
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_NO_CONFIG="1",
        UV_PYTHON_DOWNLOADS="never",
        NO_COLOR="1",
    )
    return env


UV_MISSING = "uv is not installed (it comes with the `test` extra: pip install -e '.[test]')"


class Tool:
    """A tool's commands; ``missing[command]`` says why it cannot run here (shown in the output)."""

    name = ""
    # Whether its install writes bytecode: each tool runs with its own default.
    bytecode = ""
    # The scenarios (kind, cache, latency ms, scheme) the tool runs in; None: all of them.
    only: frozenset[tuple[str, str, int, str]] | None = None

    def __init__(self) -> None:
        self.missing: dict[str, str] = {}

    def runs_in(self, scenario: tuple[str, str, int, str]) -> bool:
        return self.only is None or scenario in self.only

    def lock(self, s: Setup, cache: Path, out: Path) -> Cmd:
        raise NotImplementedError

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        raise NotImplementedError

    def sync(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        """Install jetpip's lock of the requirements (``s.plan_lock``) into a fresh venv."""
        raise NotImplementedError


def planned(path: Path | None) -> Path:
    """``path``, made by ``lock_plan`` in run.py before any scenario that needs it."""
    if path is None:
        raise RuntimeError("the plan's lock was not made (bench/run.py: lock_plan)")
    return path


class Jetpip(Tool):
    """jetpip from the checkout ``source``, started as the venv's ``jetpip`` script starts it."""

    name = "jetpip"
    bytecode = "not compiled: its default engine, uv, with uv's default (--compile-bytecode would)"

    def __init__(self, s: Setup, source: Path = ROOT, name: str = "jetpip") -> None:
        super().__init__()
        self.name = name
        self.script = s.work / "bin" / name
        for command in ("lock", "install"):
            if s.jetpip is None:
                self.missing[command] = "jetpip is not installed in this interpreter's environment"
                continue
            write_launcher(self.script, s.jetpip, source)
            probe = subprocess.run([str(self.script), command, "--help"], capture_output=True, text=True)
            if probe.returncode != 0:
                last = (probe.stderr.strip().splitlines() or ["?"])[-1]
                self.missing[command] = f"`jetpip {command}` is not available: {last}"

    def _common(self, s: Setup) -> list[str]:
        return ["--root", str(DEVICE_ROOT), "--indexes", str(s.overlay), "--index-url", s.index_url, "-q"]

    def lock(self, s: Setup, cache: Path, out: Path) -> Cmd:
        argv = [
            str(self.script),
            "lock",
            "-r",
            str(s.reqs),
            "-o",
            str(out / "pylock.toml"),
            "--python",
            str(s.lock_python),
            *self._common(s),
        ]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        argv = [
            str(self.script),
            "install",
            "-r",
            str(s.reqs),
            "--python",
            str(venv / "bin" / "python"),
            *self._common(s),
        ]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})

    def sync(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        argv = [str(self.script), "sync", str(planned(s.plan_lock)), "--python", str(venv / "bin" / "python"),
                *self._common(s)]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})


class JetpipPip(Jetpip):
    """jetpip with ``--installer pip``: the same plan and fetch, pip as the engine (installs only)."""

    bytecode = "compiled: pip's default, as its engine"

    def __init__(self, s: Setup, source: Path = ROOT) -> None:
        super().__init__(s, source, name="jetpip-pip")

    def runs_in(self, scenario: tuple[str, str, int, str]) -> bool:
        return scenario[0] in ("install", "noop", "big", "big-link")

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        cmd = super().install(s, venv, cache)
        return Cmd([*cmd.argv, "--installer", "pip"], cmd.env)


class Pip(Tool):
    name = "pip"
    bytecode = "compiled: pip's default"

    def lock(self, s: Setup, cache: Path, out: Path) -> Cmd:
        argv = [
            str(s.bench_python),
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "-q",
            "--report",
            str(out / "pip-report.json"),
            "--index-url",
            s.index_url,
            *pip_trusted_host(s),
            "--cache-dir",
            str(cache / "pip"),
            "-r",
            str(s.reqs),
        ]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        argv = [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "-q",
            "--index-url",
            s.index_url,
            *pip_trusted_host(s),
            "--cache-dir",
            str(cache / "pip"),
            "-r",
            str(s.reqs),
        ]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})

    def sync(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        """pip installs no pylock.toml: the lock's files as URLs with their hashes, as a pip user would."""
        argv = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                "--require-hashes", *pip_trusted_host(s), "--cache-dir", str(cache / "pip"),
                "-r", str(planned(s.lock_reqs))]
        return Cmd(argv, {**clean_env(cache), **pip_trust(s)})


class Uv(Tool):
    name = "uv"
    bytecode = "not compiled: uv's default"

    def __init__(self, s: Setup) -> None:
        super().__init__()
        if s.uv is None:
            self.missing = {"lock": UV_MISSING, "install": UV_MISSING}

    def lock(self, s: Setup, cache: Path, out: Path) -> Cmd:
        argv = [
            str(s.uv),
            "pip",
            "compile",
            "-q",
            str(s.reqs),
            "-o",
            str(out / "uv-requirements.txt"),
            "--index-url",
            s.index_url,
            "--cache-dir",
            str(cache / "uv"),
            "--python",
            str(s.lock_python),
        ]
        return Cmd(argv, {**clean_env(cache), **uv_trust(s)})

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        argv = [
            str(s.uv),
            "pip",
            "install",
            "-q",
            "-r",
            str(s.reqs),
            "--index-url",
            s.index_url,
            "--cache-dir",
            str(cache / "uv"),
            "--python",
            str(venv / "bin" / "python"),
        ]
        return Cmd(argv, {**clean_env(cache), **uv_trust(s)})

    def sync(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        """uv installs a pylock.toml itself."""
        return uv_exact(s, planned(s.plan_lock), venv, cache)


class UvFiles(Tool):
    """uv installing the files of jetpip's plan from local disk: an install's part after the fetch.

    ``uv pip install --no-deps --no-index --require-hashes`` of jetpip's own lock, every file
    downloaded beforehand (``Setup.files``): what jetpip's default engine runs once its fetch is
    done, here as one step. An install that fetches first ends about this long after its fetch,
    less what it unpacked ahead. The network plays no part, so it runs at 0 ms only, and has no
    no-op row.
    """

    name = "uv-files"
    bytecode = "not compiled: uv's default"
    only = frozenset({("install", "cold", 0, "http"), ("install", "warm", 0, "http"),
                      ("big", "cold", 0, "http"), ("big", "warm", 0, "http")})

    def __init__(self, s: Setup) -> None:
        super().__init__()
        if s.uv is None:
            self.missing["install"] = UV_MISSING

    def install(self, s: Setup, venv: Path, cache: Path) -> Cmd:
        return uv_exact(s, planned(s.files), venv, cache)


def uv_exact(s: Setup, requirements: Path, venv: Path, cache: Path) -> Cmd:
    """uv installing exactly the files ``requirements`` names, each checked against its hash."""
    argv = [str(s.uv), "pip", "install", "-q", "--no-deps", "--no-index", "--require-hashes",
            "-r", str(requirements), "--cache-dir", str(cache / "uv"),
            "--python", str(venv / "bin" / "python")]
    return Cmd(argv, {**clean_env(cache), **uv_trust(s)})


def write_launcher(script: Path, installed: Path, source: Path) -> None:
    """The venv's ``jetpip`` script with ``source`` first on sys.path.

    Every jetpip, the working tree's too, starts this way, so an A/B between two checkouts differs
    in the checkout only. (PYTHONPATH would do the same, but it reaches the interpreter probe and
    the pip that jetpip starts in the target.)
    """
    shebang = installed.read_text().splitlines()[0]
    if not Path(shebang[2:]).name.startswith("python"):  # pip's sh trampoline for long paths
        shebang = f"#!{sys.executable}"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text(
        f"{shebang}\nimport sys\nsys.path.insert(0, {str(source)!r})\n"
        "from jetpip.cli import run\nsys.exit(run())\n"
    )
    script.chmod(0o755)


def pip_trusted_host(s: Setup) -> list[str]:
    # pip caches HTTP only for https and trusted hosts; the public index is https. Over https the
    # certificate is checked, as it is on the public index.
    return [] if s.https else ["--trusted-host", "127.0.0.1"]


def pip_trust(s: Setup) -> dict[str, str]:
    """pip's own setting for a CA bundle, which jetpip reads as pip does."""
    return {"PIP_CERT": str(s.ca)} if s.https and s.ca else {}


def uv_trust(s: Setup) -> dict[str, str]:
    """uv takes a CA bundle from SSL_CERT_FILE."""
    return {"SSL_CERT_FILE": str(s.ca)} if s.https and s.ca else {}


def tools(s: Setup) -> list[Tool]:
    return [Jetpip(s), JetpipPip(s), Pip(), Uv(s), UvFiles(s)]


def command_of(kind: str) -> str:
    """The tool command a scenario runs: ``lock``, ``sync``, or for installs and no-ops ``install``."""
    return kind if kind in ("lock", "sync") else "install"


# -- interpreters --------------------------------------------------------------


def bench_venv(cache: Path, say: object = print) -> Path:
    """The bench's own venv (full mode): the newest pip, uv and pyinstrument, from the base index."""
    venv = cache / "venv"
    py = venv / "bin" / "python"
    if not (venv / "bin" / "uv").exists() or not (venv / "bin" / "pyinstrument").exists():
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        print("installing pip, uv and pyinstrument into", venv)
        subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "--upgrade", "pip", "uv", "pyinstrument"], check=True
        )
    return py


def pip_wheel(bench_python: Path, cache: Path) -> Path:
    """The wheel of the bench venv's pip, so fresh venvs get the same pip without the network."""
    version = subprocess.run(
        [str(bench_python), "-c", "import pip; print(pip.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = cache / "pip-wheel"
    found = sorted(dest.glob(f"pip-{version}-*.whl"))
    if not found:
        subprocess.run(
            [
                str(bench_python),
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                f"pip=={version}",
                "-d",
                str(dest),
            ],
            check=True,
        )
        found = sorted(dest.glob(f"pip-{version}-*.whl"))
    return found[0]


def make_venv(path: Path, pip_whl: Path | None) -> Path:
    """A fresh venv with pip, copied from a template made once (pip from ``pip_whl``, else ensurepip)."""
    template = path.parent / "venv-template"
    if not template.exists():
        if pip_whl is None:
            subprocess.run([sys.executable, "-m", "venv", str(template)], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(template)], check=True)
            # pip runs from its own wheel to install itself.
            assert zipfile.is_zipfile(pip_whl)
            subprocess.run(
                [
                    str(template / "bin" / "python"),
                    f"{pip_whl}/pip",
                    "install",
                    "-q",
                    "--no-index",
                    "--disable-pip-version-check",
                    str(pip_whl),
                ],
                check=True,
                env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
            )
    if path.exists():
        shutil.rmtree(path)
    # A venv's interpreter and site-packages do not depend on its own path; only script
    # shebangs do, and every tool here runs `python -m pip`.
    shutil.copytree(template, path, symlinks=True)
    return path


def find_uv(prefer: Path | None) -> Path | None:
    """uv next to ``prefer`` (the bench venv), else next to this interpreter, else on PATH."""
    for d in (prefer, Path(sys.executable).parent):
        if d is not None and (d / "uv").exists():
            return d / "uv"
    found = shutil.which("uv")
    return Path(found) if found else None


def find_jetpip() -> Path | None:
    here = Path(sys.executable).parent / "jetpip"
    if here.exists():
        return here
    found = shutil.which("jetpip")
    return Path(found) if found else None


def version_of(argv: list[str]) -> str:
    try:
        got = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except OSError:
        return "?"
    return (got.stdout.strip() or got.stderr.strip()).splitlines()[0] if got.returncode == 0 else "?"
