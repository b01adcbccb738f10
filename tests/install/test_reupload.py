"""A file re-uploaded under the same name: the explained error, the re-lock it offers, the replacement."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from jetpip.errors import LockedFileError
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.install.fetch import Fetch, fetch_all
from jetpip.install.vanished import relock_command, relock_hint
from jetpip.interpreter.probe import probe_interpreter
from jetpip.lock.pylock import Lock, LockedPackage, load_lock
from tests.support.mirror import ORIN_JP62, Mirror, cuda_tag, start_mirror
from tests.support.server import IndexServer, ServedFile
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import installed
from tests.support.wheels import WheelSpec, build_wheel


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def on_orin(mirror: Mirror, python: Path, *more: str | Path) -> list[str | Path]:
    return ["--python", python, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/", *more]


def reupload_torch(mirror: Mirror, dest: Path) -> tuple[str, ServedFile]:
    """The CUDA torch rebuilt under the same file name; devpi moves it, and answers 410 at the old URL."""
    mount = next(m for m in mirror.server.mounts if m.prefix == "/jp6/cu126")
    old = next(f for f in mount.files if f.project == "torch")
    old_path = mount.file_path(old)
    spec = WheelSpec("torch", "2.8.0", requires=["typing-extensions>=4.10"], build="jetson", tag=cuda_tag(),
                     files={"torch/_rebuilt.txt": "the same version, built again"})
    new = ServedFile.from_path(build_wheel(dest, spec).path)
    assert new.filename == old.filename and new.sha256 != old.sha256
    mount.files[mount.files.index(old)] = new
    mirror.server.fault(old_path, "410")
    return old_path, new


def hint_command(output: str, verb: str) -> list[str]:
    """The arguments of the first ``jetpip <verb> ...`` line the hint prints."""
    line = next(line.strip() for line in output.splitlines() if line.strip().startswith(f"jetpip {verb} "))
    return shlex.split(line)[1:]


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_a_reupload_is_explained_then_a_relock_replaces_the_build(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    engine: str,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    lockfile = tmp_path / "pylock.toml"
    assert jetpip("lock", *on_orin(own, python, "torch", "-o", lockfile)).exit_code == 0
    assert load_lock(lockfile).command[:2] == ("lock", "torch")  # the command that made it
    synced = jetpip("sync", lockfile, "--installer", engine, *on_orin(own, python))
    assert synced.exit_code == 0, synced.output
    old_path, new = reupload_torch(own, tmp_path / "rebuilt")

    # Another machine (its own environment and cache): the locked file must come from the index.
    monkeypatch.setenv("JETPIP_CACHE_DIR", str(tmp_path / "other-cache"))
    other = make_venv(name="other")
    failed = jetpip("sync", lockfile, "--installer", engine, *on_orin(own, other))

    assert failed.exit_code == 3, failed.output
    out = failed.output
    assert (f"error: {new.filename} (torch==2.8.0, from loopback jp6/cu126) is gone from its index: "
            f"{index_server.url}{old_path} answered HTTP 410 Gone") in out
    assert "this index re-uploads or removes files" in out
    assert "hint: re-lock, so the lock names the files the index serves now:" in out
    assert f"jetpip sync {lockfile}" in out
    assert ("where a jetpip cache still holds it (the machine that made the lock), "
            f"`jetpip download {lockfile}") in out
    assert "run the same jetpip command again" not in out and "index settings" not in out
    assert "torch" not in installed(other)
    downloaded = jetpip("download", lockfile, "-d", tmp_path / "wh")
    assert downloaded.exit_code == 3
    assert "HTTP 410 Gone" in downloaded.output and "hint: re-lock" in downloaded.output

    # The re-lock line, exactly as printed, makes a lock of the file the index serves now.
    relock = jetpip(*hint_command(out, "lock"))
    assert relock.exit_code == 0, relock.output
    assert load_lock(lockfile).by_name()["torch"].sha256 == new.sha256
    replaced = jetpip("sync", lockfile, "--installer", engine, *on_orin(own, python))

    assert replaced.exit_code == 0, replaced.output
    assert ("replaced  torch 2.8.0 (was 2.8.0) [CUDA build]: same file name, different hash "
            "(re-uploaded upstream)") in replaced.output
    torch = next(d for d in probe_interpreter(str(python)).installed if d.name == "torch")
    assert torch.archive_sha256 == new.sha256
    assert (Path(torch.location).parent / "torch" / "_rebuilt.txt").is_file()
    again = jetpip("sync", lockfile, *on_orin(own, python))
    assert "nothing to do" in again.output


def test_the_dry_run_of_a_sync_says_why_a_same_version_build_is_replaced(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    lockfile = tmp_path / "pylock.toml"
    assert jetpip("lock", *on_orin(own, python, "torch", "-o", lockfile)).exit_code == 0
    assert jetpip("sync", lockfile, *on_orin(own, python)).exit_code == 0
    reupload_torch(own, tmp_path / "rebuilt")
    assert jetpip("lock", *on_orin(own, python, "torch", "-o", lockfile)).exit_code == 0

    planned = jetpip("sync", lockfile, *on_orin(own, python, "--dry-run"))
    as_json = jetpip("sync", lockfile, *on_orin(own, python, "--dry-run", "--json"))

    assert "torch 2.8.0 is replaced: same file name, different hash (re-uploaded upstream)" in planned.output
    action = next(a for a in json.loads(as_json.stdout)["actions"] if a["name"] == "torch")
    assert action["action"] == "replace" and action["reason"].startswith("same file name, different hash")
    assert installed(python)["torch"] == "2.8.0"


def test_other_bytes_at_the_locked_url_name_both_hashes_and_the_lock_entry(
    index_server: IndexServer, tmp_path: Path,
) -> None:
    first = build_wheel(tmp_path / "a", WheelSpec("extra-thing", "0.1"))
    locked = LockedPackage(name="extra-thing", version="0.1", url="", filename=first.filename,
                           sha256=first.sha256, source="loopback redist")
    rebuilt = build_wheel(tmp_path / "b", WheelSpec("extra-thing", "0.1", files={"x.txt": "again"}))
    # A flat page keeps a file's URL when the file is replaced: the bytes change under the same URL.
    url = index_server.add("flat", "/redist", [rebuilt.path]) + rebuilt.filename
    pkg = LockedPackage(**{**locked.__dict__, "url": url})

    with IndexClient(IndexConfig(index_url=None, retries=0), cache_dir=tmp_path / "cache") as client, \
            pytest.raises(LockedFileError) as caught:
        fetch_all([Fetch(pkg, str(tmp_path / "out" / pkg.filename))], client)

    text = str(caught.value)
    assert text.startswith(f"{pkg.filename} (extra-thing==0.1, from loopback redist) no longer has the "
                           f"locked bytes: {url} now serves sha256 {rebuilt.sha256}, the lock records "
                           f"sha256 {first.sha256}")
    assert "this index re-uploads or removes files" in text


def test_a_cut_short_download_keeps_its_own_error(index_server: IndexServer, tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "a", WheelSpec("extra-thing", "0.1"))
    url = index_server.add("flat", "/redist", [wheel.path]) + wheel.filename
    index_server.fault(wheel.filename, "truncate")
    pkg = LockedPackage(name="extra-thing", version="0.1", url=url, filename=wheel.filename,
                        sha256=wheel.sha256)

    with IndexClient(IndexConfig(index_url=None, retries=0), cache_dir=tmp_path / "cache") as client, \
            pytest.raises(Exception) as caught:
        fetch_all([Fetch(pkg, str(tmp_path / "out" / pkg.filename))], client)

    assert not isinstance(caught.value, LockedFileError)
    assert "cut short" in str(caught.value)


def test_the_relock_command_replays_the_lock_and_the_wheelhouse_way_needs_the_cached_file() -> None:
    made = Lock(packages=(), requested=("torch>=2", "numpy"),
                command=("lock", "torch>=2", "-r", "req s.txt", "--index-url", "http://h/simple"))
    assert relock_command(made, "locks/pylock.toml") == (
        "jetpip lock 'torch>=2' -r 'req s.txt' --index-url http://h/simple -o locks/pylock.toml --refresh")
    older = Lock(packages=(), requested=("torch>=2", "numpy"))  # a lock from before the command was kept
    assert relock_command(older, "pylock.toml") == "jetpip lock 'torch>=2' numpy -o pylock.toml --refresh"

    cached = relock_hint(made, "pylock.toml", cached=True)
    assert "jetpip's cache still holds it by its old hash" in cached
    assert ("  jetpip download pylock.toml -d DIR --offline\n"
            "  jetpip sync pylock.toml --offline --find-links DIR") in cached
    assert "the machine that made the lock" in relock_hint(made, "pylock.toml", cached=False)


def test_the_lock_command_is_kept_without_credentials(index_server: IndexServer, tmp_path: Path) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    lockfile = tmp_path / "pylock.toml"
    secret = own.base_url.replace("http://", "http://fleet:s3cret@")
    result = jetpip("lock", "--python-version", "3.10", "--platform", "linux_aarch64", "--root", ORIN_JP62,
                    "--indexes", own.overlay, "--index-url", f"{secret}/", "extra-thing", "-o", lockfile)
    assert result.exit_code == 0, result.output
    command = load_lock(lockfile).command
    assert command == ("lock", "extra-thing", "--root", str(ORIN_JP62), "--python-version", "3.10",
                       "--platform", "linux_aarch64", "--indexes", str(own.overlay),
                       "--index-url", f"{own.base_url}/")
    assert "s3cret" not in lockfile.read_text()


def test_an_install_whose_page_names_a_removed_file_says_to_read_the_pages_afresh(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    wheel = own.wheel("extra-thing", "0.1")
    # A lock keeps the file's metadata: the install then asks the index for the file alone.
    assert jetpip("lock", *on_orin(own, python, "extra-thing", "-o", tmp_path / "pylock.toml")).exit_code == 0
    index_server.fault(f"/{wheel.filename}", "404")

    result = jetpip("install", *on_orin(own, python, "extra-thing"))

    assert result.exit_code == 3, result.output
    assert f"error: {wheel.filename} (extra-thing==0.1, from " in result.output
    assert "is gone from its index: " in result.output and "answered HTTP 404 Not Found" in result.output
    assert "hint: the index pages jetpip read name a file the index no longer serves as listed: run the " \
        "install with --refresh" in result.output
    assert "extra-thing" not in installed(python)
