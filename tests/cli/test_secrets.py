"""No password in any output: every failing path of the command line, with credentials everywhere.

Each run gives ``fleet:s3cret@`` to the base index (``--index-url`` or ``PIP_INDEX_URL``), an
extra index, the mirror of the route's sources (``JETPIP_MIRROR``) and a find-links page, all
served by the loopback index. Whatever the command prints (stdout, stderr, ``--json``, ``-v``)
and every file it writes (the lock, the cache) must hold the redacted form only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from jetpip.errors import JetpipError, ResolutionError
from jetpip.report import RecordingReporter
from tests.support.mirror import ORIN_JP62, Mirror, start_mirror
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import installed, pip_install, uv_installs, uv_with_log
from tests.support.wheels import WheelSpec, build_wheel

SECRET = "s3cret"
SHOWN = "fleet:****@"  # the one redacted form, wherever a URL with these credentials is printed


def with_secret(url: str) -> str:
    return url.replace("http://", f"http://fleet:{SECRET}@", 1)


@dataclass
class Site:
    """The loopback mirror plus an extra index and a find-links page, and the run's environment."""

    mirror: Mirror
    extra_url: str
    flat_url: str
    tmp: Path
    env: dict[str, str] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)  # written by a run: checked for the secret too

    @property
    def server(self) -> IndexServer:
        return self.mirror.server

    def options(self, python: str | Path = sys.executable, *, base_flag: bool = True) -> list[str]:
        """Target and index options: the device, the overlay, every index with the credentials."""
        base = with_secret(f"{self.mirror.base_url}/")
        out = ["--python", str(python), "--root", str(ORIN_JP62), "--indexes", str(self.mirror.overlay),
               "--extra-index-url", with_secret(f"{self.extra_url}/"),
               "--find-links", with_secret(self.flat_url), "--trusted-host", "127.0.0.1", "--retries", "0"]
        if base_flag:
            out += ["--index-url", base]
        else:
            self.env["PIP_INDEX_URL"] = base
        return out

    def run(self, *args: str | Path) -> Result:
        result = CliRunner().invoke(cli, [str(a) for a in args], env=self.env, catch_exceptions=False)
        assert_no_secret(result, self)
        return result


def assert_no_secret(result: Result, site: Site) -> None:
    """The secret appears in no output and no file the run wrote (the cache included).

    The command line redacts what it prints once more; the error the core raised is checked
    as raised, so a message that relies on that last pass fails here too.
    """
    for name, text in (("stdout", result.stdout), ("stderr", result.stderr)):
        assert SECRET not in text, f"{SECRET} in {name}:\n{text}"
    raised = result.exception.__context__ if result.exception is not None else None
    if isinstance(raised, JetpipError):
        assert SECRET not in f"{raised}\n{raised.hint}", f"{SECRET} in the {type(raised).__name__}"
    cache = Path(site.env["JETPIP_CACHE_DIR"])
    for path in [*site.files, *(p for p in cache.rglob("*") if p.is_file())]:
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"{SECRET} in {path}"


@pytest.fixture
def site(index_server: IndexServer, tmp_path: Path) -> Iterator[Site]:
    mirror = start_mirror(tmp_path / "mirror", index_server)
    wheels = tmp_path / "more"
    # A filename that says 1.0 over metadata that says 2.0: jetpip warns and goes by the filename.
    odd = build_wheel(wheels, WheelSpec("oddver", "2.0", filename_version="1.0"))
    # A wheel whose .dist-info names another project: jetpip warns, pip refuses to install it.
    other = build_wheel(wheels, WheelSpec("otherpkg", "1.0"))
    bad = other.path.rename(other.path.with_name("badpkg-1.0-py3-none-any.whl"))
    # Its own prefix: a simple mount serves its files from the folder next to it ("/extra/files").
    extra = index_server.add("simple", "/extra/simple",
                             [odd.path, bad, build_wheel(wheels, WheelSpec("extraonly", "1.0")).path])
    flat = index_server.add("flat", "/flat", [build_wheel(wheels, WheelSpec("flatonly", "1.0")).path])
    port = index_server.url.rsplit(":", 1)[1]
    env = {
        # The route's CUDA sources go through a mirror that wants credentials.
        "JETPIP_MIRROR": f"http://127.0.0.1:{port}={with_secret(f'http://127.0.0.1:{port}')}",
        "JETPIP_CACHE_DIR": str(tmp_path / "cache"),
    }
    yield Site(mirror, extra, flat, tmp_path, env)


# -- exit 3: a fetch fails ---------------------------------------------------------------------------


@pytest.mark.parametrize("failing", ["base index", "extra index", "mirror", "find-links"])
def test_a_failed_fetch_names_the_url_without_its_password(site: Site, failing: str) -> None:
    options, wanted = site.options(), "torch"
    if failing == "base index":
        site.server.fault("/simple/", "500")
    elif failing == "extra index":
        dead = with_secret("http://127.0.0.1:9/extra/simple/")  # nothing listens on port 9
        options[options.index("--extra-index-url") + 1] = dead
        wanted = "extraonly"  # the base index has no page for it, so the extra index is asked
    elif failing == "mirror":
        site.server.fault("/jp6/cu126/+simple/", "500")
    else:
        site.server.fault("/flat/", "500")
        wanted = "flatonly"

    result = site.run("lock", *options, wanted, "-o", site.tmp / "pylock.toml")

    assert result.exit_code == 3, result.output
    assert SHOWN in result.stderr  # the failing URL is named, redacted
    assert not (site.tmp / "pylock.toml").exists()


def test_a_file_from_the_mirror_that_is_gone(site: Site) -> None:
    site.server.fault("/jp6/cu126/+f/", "404")  # the CUDA build's files, and their metadata files

    result = site.run("lock", *site.options(), "torch")

    assert result.exit_code == 3, result.output
    assert "answered HTTP 404" in result.stderr  # a file's URL, which never holds credentials


# -- exit 4: nothing fits --------------------------------------------------------------------------


def test_a_file_without_hash_from_an_untrusted_find_links_page_is_passed_over(site: Site) -> None:
    options = site.options()
    options.remove("--trusted-host")
    options.remove("127.0.0.1")

    result = site.run("lock", *options, "flatonly")

    assert result.exit_code == 4, result.output
    assert "no hash, and the source is not trusted" in result.stderr


@pytest.mark.parametrize("base_flag", [True, False], ids=["--index-url", "PIP_INDEX_URL"])
def test_no_candidate_lists_every_source_searched_without_passwords(site: Site, base_flag: bool) -> None:
    result = site.run("lock", *site.options(base_flag=base_flag), "no-such-project")

    assert result.exit_code == 4, result.output
    searched = result.stderr.split("searched:")[1]
    # The base index, the extra index, the find-links page, then the route's two mirrored sources.
    assert searched.count(SHOWN) == 5


@pytest.mark.parametrize("command", ["lock", "install"])
def test_a_guarded_wheel_missing_behind_the_mirror_shows_the_mirror_redacted(
    site: Site, command: str, make_venv: MakeVenv,
) -> None:
    python = make_venv() if command == "install" else sys.executable

    result = site.run(command, *site.options(python), "-v", "torch==9.9")

    assert result.exit_code == 4, result.output
    # The error's own list of sources, then the source-build hint's: both show the mirror.
    assert result.stderr.count(f"http://{SHOWN}127.0.0.1") >= 4
    assert "No wheel of torch for this Target" in result.stderr


def test_a_conflict_with_the_guarded_pin(site: Site) -> None:
    result = site.run("lock", *site.options(), "-v", "pinner")

    assert result.exit_code == 4, result.output
    assert "torch==2.9.0" in result.stderr


# -- exit 5 and 6: the install itself --------------------------------------------------------------


def test_a_failing_pip_step(site: Site, make_venv: MakeVenv) -> None:
    python = make_venv()

    result = site.run("install", *site.options(python, base_flag=False), "-v", "badpkg")

    assert result.exit_code == 5, result.output
    assert "uv said:" in result.stderr  # the default engine
    assert "its metadata names the project 'otherpkg'" in result.stderr  # the warning, before the failure


def test_broken_requirements_after_the_install(site: Site, make_venv: MakeVenv) -> None:
    python = make_venv()
    needy = build_wheel(site.tmp / "local", WheelSpec("needy", "1.0", requires=["absent-dep"]))
    pip_install(python, "--no-deps", str(needy.path))

    result = site.run("install", *site.options(python, base_flag=False), "-v", "--json", "extraonly")

    assert result.exit_code == 6, result.output
    assert "needy 1.0 requires absent-dep" in result.stderr
    assert json.loads(result.stdout)["broken"]
    assert "extraonly" in installed(python)


# -- what succeeds still prints URLs: JSON, -v, the lock, detect and hint -------------------------


@pytest.mark.parametrize("base_flag", [True, False], ids=["--index-url", "PIP_INDEX_URL"])
def test_lock_json_verbose_and_the_lock_file(site: Site, base_flag: bool) -> None:
    lockfile = site.tmp / "pylock.toml"
    site.files.append(lockfile)

    result = site.run("lock", *site.options(base_flag=base_flag), "-v", "--json", "-o", lockfile,
                      "torch", "extraonly", "flatonly", "oddver")

    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    indexes = {p["name"]: p["index"] for p in doc["packages"]}
    assert all(SHOWN in indexes[name] for name in ("torch", "extraonly", "flatonly", "oddver"))
    assert f"page http://{SHOWN}" in result.stderr  # -v names each page it reads
    assert "has no published hash; accepted unchecked" in result.stderr  # the find-links file
    assert "its metadata says 2.0" in result.stderr
    text = lockfile.read_text()
    assert "fleet" not in text.replace('source = "', "")  # no user either: the lock has no credentials
    assert doc["pylock"]["packages"]


def test_install_dry_run_json(site: Site, make_venv: MakeVenv) -> None:
    python = make_venv()
    result = site.run("install", *site.options(python), "--dry-run", "--json", "torch", "flatonly")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == "jetpip.plan/1"


@pytest.mark.parametrize("as_json", [False, True])
def test_detect_and_hint_show_the_mirror_redacted(site: Site, as_json: bool) -> None:
    target = ["--root", str(ORIN_JP62), "--indexes", str(site.mirror.overlay), "--python", sys.executable]
    more = ["--json"] if as_json else []
    detected = site.run("detect", *target, *more, "-v")
    hinted = site.run("hint", "torch", *target, *more)
    assert detected.exit_code == 0 and hinted.exit_code == 0
    assert SHOWN in detected.stdout and SHOWN in hinted.stdout


# -- the library: what the core hands its caller, before the command line redacts once more --------


class _Lines(RecordingReporter):
    """Every line the core reports: pages, pins and steps as well as notes and warnings."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def page_fetched(self, url: str, *, from_cache: bool) -> None:
        self.lines.append(url)

    def pinned(self, name: str, version: str, source: str) -> None:
        self.lines.append(source)

    def step(self, description: str) -> None:
        self.lines.append(description)


def test_the_library_reports_and_raises_no_password(site: Site) -> None:
    from jetpip import api

    env = {**os.environ, **site.env}
    kb, target, route = api.load_target(root=ORIN_JP62, python=sys.executable,
                                        indexes_file=site.mirror.overlay, env=env)
    flags = {"index_url": with_secret(f"{site.mirror.base_url}/"),
             "extra_index_url": (with_secret(f"{site.extra_url}/"),),
             "find_links": (with_secret(site.flat_url),), "trusted_host": ("127.0.0.1",), "retries": 0}
    reporter = _Lines()
    texts: list[str] = []
    with api.index_client(target.interpreter, flags, reporter=reporter, env=env) as client:
        common = {"kb": kb, "target": target, "route": route, "client": client, "reporter": reporter}
        resolution = api.resolve_for(["torch", "extraonly", "flatonly", "oddver"], [], **common)
        texts += [json.dumps(resolution.to_json()), *resolution.tree_lines(), repr(resolution)]
        for wanted in ("no-such-project", "torch==9.9"):
            with pytest.raises(ResolutionError) as err:
                api.resolve_for([wanted], [], **common)
            texts.append(f"{err.value}\n{err.value.hint}\n{err.value!r}")
        texts.append(repr(client.config))
    texts += [*reporter.lines, *reporter.notes, *reporter.warnings]

    assert SHOWN in "\n".join(texts)  # the URLs are there, redacted
    for text in texts:
        assert SECRET not in text, text


def test_a_cuda_file_that_fails_while_it_downloads_ahead(site: Site, make_venv: MakeVenv) -> None:
    # The CUDA build starts downloading during the resolution, through the mirror that wants
    # credentials; its file (not its metadata) fails, and the install says so, without them.
    mount = next(m for m in site.server.mounts if m.prefix == "/jp6/cu126")
    torch = next(f for f in mount.files if f.filename.startswith("torch-2.8.0"))
    site.server.fault(mount.file_path(torch), "500", exact=True)
    python = make_venv()

    result = site.run("install", *site.options(python), "torch")

    assert result.exit_code == 3, result.output
    # A locked file's URL holds no credentials: the transport adds them, and the message names it bare.
    assert f"/{torch.filename} answered HTTP 500" in result.stderr and "@127.0.0.1" not in result.stderr
    assert "nothing was installed or removed" in result.stderr
    assert "torch" not in installed(python)


def test_a_sync_whose_file_fails_while_the_others_unpack(site: Site, make_venv: MakeVenv) -> None:
    # The lock names the CUDA build behind the credentialed mirror; a sync fetches every file and
    # has uv unpack each wheel as it arrives. One file of the base index then times out.
    python = make_venv()
    lock = site.tmp / "pylock.toml"
    site.files.append(lock)
    assert site.run("lock", *site.options(python), "torch", "numpy", "packaging", "-o", lock).exit_code == 0
    uv, log = uv_with_log(site.tmp)
    site.env["JETPIP_UV"] = str(uv)
    site.files.append(log)  # uv's requirements files, as the log copied them
    site.server.fault("/packaging-", "stall", seconds=3.0)

    result = site.run("sync", lock, *site.options(python), "--timeout", "1", "-v")

    assert result.exit_code == 3, result.output
    assert "packaging-24.1-py3-none-any.whl" in result.stderr and "nothing was installed" in result.stderr
    batches = [lines for command, lines in uv_installs(log) if " --target " in command]
    assert any(line.startswith("numpy @ ") for lines in batches for line in lines)  # unpacking had begun
    assert not {"torch", "numpy", "packaging"} & set(installed(python))
    scratch = Path(site.env["JETPIP_CACHE_DIR"]) / "tmp"
    assert not list(scratch.glob("unpack-*"))  # the unpack under way went with the run
