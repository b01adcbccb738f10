"""`jetpip lock` and `install` on a request the route's constraints push far below its newest release."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import WheelSpec, build_wheel

BASE = [
    WheelSpec("bigapp", "1.4", requires=["numpy"]),
    WheelSpec("bigapp", "2.0", requires=["numpy>=2"]),
    WheelSpec("bigapp", "3.1", requires=["numpy>=2"]),
    WheelSpec("numpy", "1.26.4"),
    WheelSpec("numpy", "2.1.0"),
]
WHY = "bigapp 3.1 requires numpy>=2; route jp6-cu126 constrains numpy<2 (the Jetson torch 2.8 wheels are " \
      "built against NumPy 1)"


@pytest.fixture
def index_args(index_server: IndexServer, tmp_path: Path) -> list[str]:
    """A cross JetPack 6.2 Target whose base index and CUDA sources are on the loopback server."""
    base = [ServedFile.from_path(build_wheel(tmp_path / "base", spec).path) for spec in BASE]
    base_url = index_server.add("simple", "/simple", base)
    cuda_url = index_server.add("devpi", "/jp6/cu126", [])
    flat_url = index_server.add("flat", "/redist/jp/v61/pytorch", [])
    overlay = tmp_path / "indexes.toml"
    overlay.write_text(
        f'[sources.jal-jp6-cu126]\nname = "loopback jp6/cu126"\nkind = "devpi"\nurl = "{cuda_url}"\n'
        f'[sources.nv-jp-v61]\nname = "loopback jp/v61"\nkind = "flat"\nurl = "{flat_url}"\n',
        encoding="utf-8",
    )
    return ["--root", str(tmp_path), "--jetpack", "6.2", "--python-version", "3.10", "--platform",
            "linux_aarch64", "--indexes", str(overlay), "--index-url", f"{base_url}/"]


def jetpip(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("command", ["lock", "install"])
def test_a_downgrade_is_a_warning_that_names_the_cause(command: str, index_args: list[str]) -> None:
    result = jetpip(command, "bigapp", "--dry-run", *index_args)

    if command == "lock":
        assert result.exit_code == 0, result.output
        assert "bigapp==1.4" in result.stdout
    # install stops later, at the cross Target; the warning comes first either way
    assert f"warning: bigapp 1.4 is locked, 2 major releases below 3.1, the newest release for this " \
           f"Target: {WHY}" in " ".join(result.stderr.split())


@pytest.mark.parametrize("command", ["lock", "install"])
def test_strict_versions_makes_the_downgrade_an_error_with_a_hint(
    command: str, index_args: list[str]
) -> None:
    result = jetpip(command, "bigapp", "--dry-run", "--strict-versions", *index_args)

    assert result.exit_code == 4, result.output
    err = " ".join(result.stderr.split())
    assert "error: requests would be locked far below their newest release (--strict-versions)" in err
    assert WHY in err
    assert "hint: ask for the newest release yourself" in err


def test_strict_versions_lets_a_request_at_its_newest_release_through(index_args: list[str]) -> None:
    result = jetpip("lock", "numpy", "--dry-run", "--strict-versions", *index_args)

    assert result.exit_code == 0, result.output
    assert "numpy==1.26.4" in result.stdout  # one major below 2.1.0, under the route's numpy<2
