"""Installed distributions against the lock by file hash: provenance record, else RECORD, else the name."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from jetpip._probes.interpreter_facts import read_direct_url
from jetpip.install.engines import Engine
from jetpip.install.origin import REUPLOADED, file_mismatch, record_matches
from jetpip.install.plan import build_plan, mismatch
from jetpip.interpreter.probe import probe_interpreter
from jetpip.lock.pylock import Lock, LockedPackage
from jetpip.model.target import InstalledDist, Interpreter
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.wheels import BuiltWheel, WheelSpec, build_wheel

OLD, NEW = "a" * 64, "b" * 64
URL = "http://127.0.0.1:1/jp6/cu126/+f/abc/def/torch-2.8.0-cp310-cp310-linux_aarch64.whl"
PIP = Engine("pip", "/venv/bin/python", ("/venv/bin/python", "-m", "pip"), "pip 24.0")


def locked(sha: str = NEW, *, guarded: bool = True, url: str = URL) -> LockedPackage:
    return LockedPackage(name="torch", version="2.8.0", url=url, filename=url.rsplit("/", 1)[1], sha256=sha,
                         guarded=guarded)


def dist(sha: str | None, url: str | None = URL, location: str = "/venv/torch-2.8.0.dist-info",
         ) -> InstalledDist:
    return InstalledDist(name="torch", version="2.8.0", location=location, direct_url=url, archive_sha256=sha,
                         wheel_tags=("cp310-cp310-linux_aarch64",))


def interp(*dists: InstalledDist) -> Interpreter:
    return Interpreter(executable="/venv/bin/python", version="3.10.12", implementation="cpython",
                       platforms=("linux_aarch64",), abi="cp310", is_venv=True, pip_version="24.0",
                       installed=dists)


def test_the_recorded_hash_decides_for_a_build_with_the_locked_file_name() -> None:
    assert mismatch(locked(), dist(NEW)) is None
    assert mismatch(locked(), dist(OLD)) == REUPLOADED
    assert REUPLOADED == "same file name, different hash (re-uploaded upstream)"
    moved = URL.replace("+f/abc/def", "+f/123/456")  # devpi moves a re-upload: the name stays
    assert mismatch(locked(url=moved), dist(OLD)) == REUPLOADED
    assert mismatch(locked(url=moved), dist(NEW)) is None


def test_a_record_without_a_hash_keeps_the_name_based_decision() -> None:
    assert mismatch(locked(), dist(None)) is None  # pip recorded the URL, not the hash
    assert file_mismatch(locked(sha=""), dist(OLD)) is None  # nothing locked to compare with


def test_sync_replaces_a_reuploaded_build_and_keeps_the_locked_one() -> None:
    plain = locked(guarded=False)
    same = build_plan(Lock(packages=(plain,)), interp(dist(NEW)), mode="sync", engine=PIP, workdir="/tmp/w")
    assert same.is_noop
    plan = build_plan(Lock(packages=(plain,)), interp(dist(OLD)), mode="sync", engine=PIP, workdir="/tmp/w")
    [action] = plan.actions
    assert (action.kind, action.installed, action.reason) == ("replace", "2.8.0", REUPLOADED)
    assert [s.kind for s in plan.steps] == ["uninstall", "install"]  # out first, then the locked file
    assert "torch 2.8.0 is replaced: same file name, different hash (re-uploaded upstream)" in plan.render()


def test_the_probe_reads_both_forms_of_the_archive_hash(tmp_path: Path) -> None:
    new_form, old_form, none = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    new_form.write_text(json.dumps({"url": URL, "archive_info": {"hash": f"sha256={OLD}",
                                                                 "hashes": {"sha256": NEW}}}))
    old_form.write_text(json.dumps({"url": URL, "archive_info": {"hash": f"sha256={OLD.upper()}"}}))
    none.write_text(json.dumps({"url": "file:///src", "dir_info": {"editable": True}}))
    assert read_direct_url(str(new_form)) == (URL, NEW)
    assert read_direct_url(str(old_form)) == (URL, OLD)
    assert read_direct_url(str(none)) == ("file:///src", None)
    assert read_direct_url(str(tmp_path / "missing.json")) == (None, None)


def _served(index_server: IndexServer, wheel: BuiltWheel) -> str:
    return index_server.add("simple", "/simple", [wheel.path])


def test_an_index_install_without_a_record_is_compared_by_record_when_the_wheel_is_at_hand(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    python = make_venv()
    first = build_wheel(tmp_path / "a", WheelSpec("extra-thing", "0.1"))
    again = {"extra_thing/x.txt": "again"}
    rebuilt = build_wheel(tmp_path / "b", WheelSpec("extra-thing", "0.1", files=again))
    # From an index, as a user's own pip would: no direct_url.json, so no hash on record.
    base = _served(index_server, first)
    subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--index-url", f"{base}/",
                    "extra-thing"],
                   check=True, capture_output=True)
    installed = next(d for d in probe_interpreter(str(python)).installed if d.name == "extra-thing")
    assert installed.direct_url is None and installed.archive_sha256 is None

    assert record_matches(Path(installed.location), first.path) is True
    assert record_matches(Path(installed.location), rebuilt.path) is False
    pkg = LockedPackage(name="extra-thing", version="0.1", url=f"{base}/x/{rebuilt.filename}",
                        filename=rebuilt.filename, sha256=rebuilt.sha256)
    before = probe_interpreter(str(python))
    at_hand = build_plan(Lock(packages=(pkg,)), before, mode="sync", workdir=str(tmp_path / "w"),
                         local_files={pkg.filename: str(rebuilt.path)})
    action = next(a for a in at_hand.actions if a.name == "extra-thing")
    assert action.kind == "replace"
    assert action.reason == f"its files differ from those of {pkg.filename} (by RECORD)"
    # The wheel not at hand: nothing can tell the builds apart, so name and version decide.
    away = build_plan(Lock(packages=(pkg,)), before, mode="sync", workdir=str(tmp_path / "w"),
                      files_dir=str(tmp_path / "nothing-fetched"))
    assert next(a for a in away.actions if a.name == "extra-thing").kind == "keep"
    assert file_mismatch(pkg, installed, first.path) is None


def test_record_matches_skips_what_installers_rewrite_and_reads_only_wheels(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "w", WheelSpec("extra-thing", "0.1"))
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel.path) as zf:
        zf.extractall(site)
    info = site / "extra_thing-0.1.dist-info"
    record = (info / "RECORD").read_text()
    extra = f"{info.name}/INSTALLER,sha256=zzz,4\n{info.name}/direct_url.json,,\n"
    (info / "RECORD").write_text(record + extra)
    assert record_matches(info, wheel.path) is True
    not_a_wheel = tmp_path / "x.whl"
    not_a_wheel.write_bytes(b"not a zip")
    assert record_matches(info, not_a_wheel) is None
    assert record_matches(tmp_path / "nowhere.dist-info", wheel.path) is None


def test_a_build_from_the_locked_sdist_is_not_taken_for_a_reupload() -> None:
    url = URL.replace("-cp310-cp310-linux_aarch64.whl", ".tar.gz")
    sdist = LockedPackage(name="torch", version="2.8.0", url=url, filename="torch-2.8.0.tar.gz", sha256=NEW)
    built = dist(OLD, url="file:///cache/builds/torch-2.8.0-cp310-cp310-linux_aarch64.whl")
    assert file_mismatch(sdist, built) is None
    assert file_mismatch(sdist, dist(OLD, url=sdist.url)) == REUPLOADED
