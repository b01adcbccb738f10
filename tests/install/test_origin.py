"""The origin record: direct_url.json as pip writes it for a URL install, and its RECORD line kept true."""

from __future__ import annotations

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

    assert record_origins([torch()], [ours], [str(local)]) == ["torch"]
    assert record_origins([torch()], [other], [str(local)]) == []

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
