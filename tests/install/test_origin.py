"""The origin record: direct_url.json as pip writes it for a URL install, and its RECORD line kept true."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import subprocess
from pathlib import Path

from uv import find_uv_bin

from jetpip.install.origin import origin_document, record_origins, write_origin
from jetpip.lock.pylock import LockedPackage
from jetpip.model.target import InstalledDist
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import run_python
from tests.support.wheels import WheelSpec, build_wheel

SHA = "ab" * 32
URL = "http://mirror.local/jp6/cu126/+f/abc/torch-2.8.0-cp310-cp310-linux_aarch64.whl"


def torch(url: str = URL) -> LockedPackage:
    return LockedPackage(name="torch", version="2.8.0", url=url, filename=url.rsplit("/", 1)[1], sha256=SHA,
                         guarded=True)


def dist_info(site: Path, direct_url: str | None) -> InstalledDist:
    info = site / "torch-2.8.0.dist-info"
    info.mkdir(parents=True)
    lines = ["torch/__init__.py,sha256=x,10", f"{info.name}/METADATA,sha256=y,20", f"{info.name}/RECORD,,"]
    if direct_url:
        (info / "direct_url.json").write_text(json.dumps({"url": direct_url, "archive_info": {}}))
        lines.insert(2, f"{info.name}/direct_url.json,sha256=old,70")
    (info / "RECORD").write_text("\n".join(lines) + "\n")
    return InstalledDist(name="torch", version="2.8.0", location=str(info), direct_url=direct_url)


def test_the_record_names_the_locked_url_and_hash_never_a_password() -> None:
    doc = origin_document(torch(URL.replace("http://", "http://fleet:s3cret@")))
    assert doc == {"url": URL, "archive_info": {"hash": f"sha256={SHA}", "hashes": {"sha256": SHA}}}


def test_only_a_file_the_plan_handed_the_engine_is_rewritten(tmp_path: Path) -> None:
    local = tmp_path / "plan" / "files" / torch().filename
    ours = dist_info(tmp_path / "a", local.as_uri())
    other = dist_info(tmp_path / "b", "file:///elsewhere/torch-2.8.0-cp310-cp310-linux_aarch64.whl")

    assert record_origins([(torch(), str(local))], [ours]) == ["torch"]
    assert record_origins([(torch(), str(local))], [other]) == []

    info = Path(ours.location)
    assert json.loads((info / "direct_url.json").read_text())["url"] == URL
    rows = (info / "RECORD").read_text().splitlines()
    assert len(rows) == 4 and rows[0] == "torch/__init__.py,sha256=x,10"
    size = len((info / "direct_url.json").read_bytes())
    assert rows[2].startswith(f"{info.name}/direct_url.json,sha256=") and rows[2].endswith(f",{size}")
    assert json.loads((Path(other.location) / "direct_url.json").read_text())["url"].startswith("file:")


def test_a_missing_record_line_is_added(tmp_path: Path) -> None:
    dist = dist_info(tmp_path, None)
    write_origin(Path(dist.location), origin_document(torch()))
    rows = (Path(dist.location) / "RECORD").read_text().splitlines()
    assert rows[-1].startswith("torch-2.8.0.dist-info/direct_url.json,sha256=")


def test_the_record_is_rewritten_as_the_csv_module_reads_and_writes_it(tmp_path: Path) -> None:
    # The row is replaced without parsing the rest, except where a row is quoted: then through csv.
    # Either way the result is what csv gives when it reads the old RECORD and writes the new one.
    info = tmp_path / "torch-2.8.0.dist-info"
    info.mkdir()
    entry = f"{info.name}/direct_url.json"
    plain = ["torch/__init__.py,sha256=x,10", f"{entry},sha256=old,70", "torch/lib/a.so,sha256=z,5", ""]
    quoted = ['"torch/odd,name.py",sha256=q,3', f"{entry},sha256=old,70"]
    missing = ["torch/__init__.py,sha256=x,10", f"{info.name}/RECORD,,"]
    for before in (plain, quoted, missing):
        (info / "RECORD").write_text("\n".join(before) + "\n")
        write_origin(info, origin_document(torch()))
        data = (info / "direct_url.json").read_bytes()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        rows = [row for row in csv.reader(io.StringIO("\n".join(before))) if row]
        new = [entry, f"sha256={digest}", str(len(data))]
        expected = [new if row[0] == entry else row for row in rows]
        if not any(row[0] == entry for row in rows):
            expected.append(new)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(expected)
        assert (info / "RECORD").read_text() == out.getvalue()


def engine_wrote(info: Path, direct_url: dict[str, object]) -> None:
    """A dist-info as an engine leaves it: direct_url.json and a true RECORD row for it."""
    info.mkdir(parents=True)
    data = json.dumps(direct_url).encode()
    (info / "direct_url.json").write_bytes(data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = ["torch/__init__.py,sha256=x,10", f"{info.name}/direct_url.json,sha256={digest},{len(data)}",
            f"{info.name}/RECORD,,"]
    (info / "RECORD").write_text("\n".join(rows) + "\n")


def assert_record_true(info: Path, url: str) -> None:
    data = (info / "direct_url.json").read_bytes()
    assert json.loads(data)["url"] == url
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    rows = [r for r in csv.reader((info / "RECORD").read_text().splitlines()) if r]
    names = ["torch/__init__.py", f"{info.name}/direct_url.json", f"{info.name}/RECORD"]
    assert [r[0] for r in rows] == names
    assert rows[1][1:] == [f"sha256={digest}", str(len(data))]


def test_the_files_an_engine_just_wrote_are_overwritten_in_place(tmp_path: Path) -> None:
    # The engine's record of a local file, longer and shorter than the origin's: both are written
    # into the same files (no new inode), the shorter one padded with white space JSON ignores.
    for name, local in (("long", "file:///" + "x" * 300 + "/torch.whl"), ("short", "file:///p/t.whl")):
        info = tmp_path / name / "torch-2.8.0.dist-info"
        engine_wrote(info, {"url": local, "archive_info": {"hashes": {"sha256": SHA}}})
        inodes = [(info / f).stat().st_ino for f in ("direct_url.json", "RECORD")]

        write_origin(info, origin_document(torch()))

        assert [(info / f).stat().st_ino for f in ("direct_url.json", "RECORD")] == inodes
        assert_record_true(info, URL)
        assert json.loads((info / "direct_url.json").read_text()) == origin_document(torch())


def test_a_record_past_the_engine_s_room_or_a_shared_file_is_renamed_over(tmp_path: Path) -> None:
    # A record that outgrows the disk blocks the engine's file holds would need new room, which a
    # full disk could refuse halfway; a RECORD hard-linked elsewhere (say into a cache) is never
    # written through. Both get new files, and stay true.
    grows = tmp_path / "grows" / "torch-2.8.0.dist-info"  # 3 kB: one block; the origin's is 5 kB
    engine_wrote(grows, {"url": "file:///" + "x" * 3000 + "/t.whl", "archive_info": {}})
    shared = tmp_path / "shared" / "torch-2.8.0.dist-info"
    engine_wrote(shared, {"url": "file:///p/t.whl", "archive_info": {}})
    other = tmp_path / "cache-RECORD"
    os.link(shared / "RECORD", other)
    before = other.read_bytes()
    big = torch(URL.replace("/+f/", "/+f/" + "y" * 5000 + "/"))  # past one block of 4 KiB

    for info, pkg in ((grows, big), (shared, torch())):
        inode = (info / "RECORD").stat().st_ino
        write_origin(info, origin_document(pkg))
        assert (info / "RECORD").stat().st_ino != inode
        assert json.loads((info / "direct_url.json").read_text()) == origin_document(pkg)
    assert_record_true(grows, big.url)
    assert_record_true(shared, URL)
    assert other.read_bytes() == before


def test_an_in_place_record_is_read_and_uninstalled_by_the_real_tools(
    make_venv: MakeVenv, tmp_path: Path,
) -> None:
    # uv installs a local wheel and writes its own record; jetpip's goes into the same files. pip
    # and importlib.metadata read it back, and uv's uninstall removes every file.
    python = make_venv()
    wheel = build_wheel(tmp_path / "wheels", WheelSpec("torch", "2.8.0", build="jetson"))
    uv = find_uv_bin()
    req = tmp_path / "req.txt"
    req.write_text(f"torch @ {wheel.path.as_uri()} --hash=sha256:{wheel.sha256}\n")
    env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv")}
    subprocess.run([uv, "pip", "install", "--python", str(python), "--no-deps", "--no-index",
                    "--require-hashes", "-r", str(req)], check=True, capture_output=True, env=env)
    site = Path(run_python(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    info = site / "torch-2.8.0.dist-info"
    inode = (info / "direct_url.json").stat().st_ino
    url = f"http://mirror.local/+f/{wheel.filename}"
    pkg = LockedPackage(name="torch", version="2.8.0", url=url, filename=wheel.filename, sha256=wheel.sha256)

    write_origin(info, origin_document(pkg))

    assert (info / "direct_url.json").stat().st_ino == inode
    shown = run_python(python, "import importlib.metadata as m, json; d = m.distribution('torch'); "
                               "print(json.dumps([json.loads(d.read_text('direct_url.json')), "
                               "sorted(str(f) for f in d.files)]))")
    record, files = json.loads(shown)
    assert record == origin_document(pkg) and f"{info.name}/direct_url.json" in files
    assert "torch @ http://mirror.local" in subprocess.run(
        [str(python), "-m", "pip", "freeze"], capture_output=True, text=True, check=True).stdout
    subprocess.run([uv, "pip", "uninstall", "--python", str(python), "torch"],
                   check=True, capture_output=True, env=env)
    assert not info.exists() and not (site / "torch").exists()
