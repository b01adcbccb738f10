"""--no-binary, --only-binary and --prefer-binary beside the real pip: the same files pick the same files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
from click.testing import CliRunner

from jetpip.cli import cli
from tests.support.sdists import build_sdist
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import WheelSpec, build_wheel

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]


@pytest.fixture
def index(index_server: IndexServer, tmp_path: Path) -> str:
    """'both' 1.0 (a wheel and an sdist) and 1.1 (an sdist only); 'other' 2.0 as a wheel and an sdist."""
    files = [
        build_wheel(tmp_path / "wheels", WheelSpec(name="both", version="1.0")).path,
        build_sdist(tmp_path / "sdists", "both", "1.0").path,
        build_sdist(tmp_path / "sdists", "both", "1.1").path,
        build_wheel(tmp_path / "wheels", WheelSpec(name="other", version="2.0")).path,
        build_sdist(tmp_path / "sdists", "other", "2.0").path,
    ]
    return index_server.add("simple", "/simple", [ServedFile.from_path(f) for f in files])


def _pip_picks(tmp_path: Path, index: str, reqs: Path) -> dict[str, str]:
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
         "--index-url", index, "--report", str(report), "-r", str(reqs)],
        capture_output=True, text=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull}, timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads(report.read_text())
    return {item["metadata"]["name"]: unquote(item["download_info"]["url"].rsplit("/", 1)[-1])
            for item in doc["install"]}


def _jetpip_picks(tmp_path: Path, index: str, reqs: Path) -> dict[str, str]:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    out = tmp_path / "pylock.toml"
    args = ["lock", "--root", str(root), "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
            "--platform", "linux_x86_64", "--glibc", "2.35", "--index-url", index, "-r", str(reqs),
            "-o", str(out)]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    packages = tomllib.loads(out.read_text())["packages"]
    return {p["name"]: (p["sdist"] if "sdist" in p else p["wheels"][0])["name"] for p in packages}


@pytest.mark.parametrize("lines", [
    "both\nother\n",
    "both==1.0\nother\n",
    "--no-binary both\nboth==1.0\nother\n",
    "--only-binary :all:\nboth\nother\n",
    "--no-binary :all:\n--only-binary other\nboth\nother\n",
    "--only-binary=:all:\n--no-binary=:none:\n--no-binary=other\nboth\nother\n",
    "--prefer-binary\nboth\nother\n",
])
def test_binary_options_pick_the_files_pip_picks(index: str, tmp_path: Path, lines: str) -> None:
    reqs = tmp_path / "requirements.txt"
    reqs.write_text(lines)
    assert _jetpip_picks(tmp_path, index, reqs) == _pip_picks(tmp_path, index, reqs)
