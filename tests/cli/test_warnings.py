"""What the commands say about their Target: the same warnings from each, and never a password."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from tests.support.mirror import ORIN_JP62, Mirror
from tests.support.venv_fixtures import MakeVenv

SECRET_URL = "https://fleet:s3cret@127.0.0.1:9/jetpack"
SHOWN_URL = "https://fleet:****@127.0.0.1:9/jetpack"


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def orin_root(tmp_path: Path, edit: Callable[[Path], None]) -> Path:
    """The JetPack 6.2 Orin fixture root, copied and changed by ``edit``."""
    root = tmp_path / "root"
    shutil.copytree(ORIN_JP62, root, symlinks=True)
    edit(root)
    return root


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_sync_prints_the_target_warnings(make_venv: MakeVenv, mirror: Mirror, tmp_path: Path) -> None:
    python, lockfile = make_venv(), tmp_path / "pylock.toml"
    index = ("--indexes", mirror.overlay, "--index-url", f"{mirror.base_url}/")
    assert jetpip("lock", "tinyformers", "--python", python, "--root", ORIN_JP62, *index,
                  "-o", lockfile).exit_code == 0
    # An L4T release the versions table lacks: the nearest R36 row still routes to the locked route.
    root = orin_root(tmp_path, lambda r: replace_in(r / "etc/nv_tegra_release", "REVISION: 4.3",
                                                      "REVISION: 9.9"))

    result = jetpip("sync", lockfile, "--python", python, "--root", root, *index, "--dry-run")

    assert result.exit_code == 0, result.output
    assert "warning: L4T 36.9.9 is not in indexes.toml's versions table; using the nearest R36 row" \
        in result.stderr
    assert "warning: L4T differs:" in result.stderr  # a device warning, as detect prints it
    assert "dry run: nothing was changed" in result.stdout


# Each command that has a Target, with what it needs besides --python and --root.
_COMMANDS: dict[str, Callable[[Mirror, Path], list[str | Path]]] = {
    "detect": lambda mirror, lockfile: ["detect"],
    "detect --json": lambda mirror, lockfile: ["detect", "--json"],
    "detect -q": lambda mirror, lockfile: ["detect", "-q"],
    "hint": lambda mirror, lockfile: ["hint", "torch"],
    "lock": lambda mirror, lockfile: ["lock", "tinyformers", "--dry-run", "--indexes", mirror.overlay,
                                      "--index-url", f"{mirror.base_url}/"],
    "install": lambda mirror, lockfile: ["install", "tinyformers", "--dry-run", "--indexes", mirror.overlay,
                                         "--index-url", f"{mirror.base_url}/"],
    "sync": lambda mirror, lockfile: ["sync", lockfile, "--dry-run", "--indexes", mirror.overlay,
                                      "--index-url", f"{mirror.base_url}/"],
    "doctor": lambda mirror, lockfile: ["doctor", "--check-timeout", "60"],
}


@pytest.mark.parametrize("command", sorted(_COMMANDS))
def test_a_password_in_a_warning_is_redacted_by_every_command(
    command: str, make_venv: MakeVenv, mirror: Mirror, tmp_path: Path,
) -> None:
    python, lockfile = make_venv(), tmp_path / "pylock.toml"
    if command == "sync":
        assert jetpip("lock", "tinyformers", "--python", python, "--root", ORIN_JP62, "--indexes",
                      mirror.overlay, "--index-url", f"{mirror.base_url}/", "-o", lockfile).exit_code == 0
    # The device's package database is text anyone can write; here it holds a URL with a password.
    root = orin_root(tmp_path, lambda r: replace_in(r / "var/lib/dpkg/status", "Version: 6.2+b77",
                                                      f"Version: {SECRET_URL}"))

    result = jetpip(*_COMMANDS[command](mirror, lockfile), "--python", python, "--root", root)

    assert result.exit_code == 0, result.output
    assert f"nvidia-jetpack version '{SHOWN_URL}' not understood" in result.output
    assert "s3cret" not in result.output
