"""The origin record: direct_url.json as pip writes it for a URL install, and its RECORD line kept true."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from pathlib import Path

from jetpip.install.origin import origin_document, record_origins, write_origin
from jetpip.lock.pylock import LockedPackage
from jetpip.model.target import InstalledDist

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
