"""Every guarded distribution in the environment is re-asserted, not only those the request reaches."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from tests.support.mirror import ORIN_JP62, Mirror, build_wheels, overlay_toml, start_mirror
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import build_of, installed, pip_install


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def on_orin(mirror: Mirror, python: Path, *more: str | Path) -> list[str | Path]:
    return ["--python", python, "--root", ORIN_JP62, "--indexes", mirror.overlay,
            "--index-url", f"{mirror.base_url}/", *more]


@pytest.mark.parametrize("engine", ["uv", "pip"])
def test_a_base_index_torch_the_request_does_not_reach_is_replaced(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path, engine: str,
) -> None:
    own = start_mirror(tmp_path / "mirror", index_server)
    python = make_venv()
    assert jetpip("install", "--installer", engine, *on_orin(own, python, "tinyformers")).exit_code == 0
    # The user's own pip puts the base index's build in, as `pip install torch==2.9.0` does.
    pip_install(python, "--no-deps", "--force-reinstall", str(own.wheel("torch", "2.9.0").path))
    assert build_of(python, "torch") == "pypi"

    result = jetpip("install", "--installer", engine, *on_orin(own, python, "extra-thing"))

    assert result.exit_code == 0, result.output
    # The route has no 2.9.0: the best build that tinyformers' torch>=2.1 allows comes back.
    assert "re-asserting torch: installed, but not builds for route jp6-cu126" in result.output
    assert "replaced  torch 2.8.0 (was 2.9.0) [CUDA build]" in result.output
    assert "installed extra-thing 0.1" in result.output
    assert build_of(python, "torch") == "jetson"
    asked = len(index_server.requests())
    again = jetpip("install", *on_orin(own, python, "extra-thing"))
    assert again.exit_code == 0 and "nothing to do" in again.output and "no index was asked" in again.output
    assert len(index_server.requests()) == asked


def test_a_base_index_build_of_a_version_the_route_has_is_replaced_by_the_same_version(
    make_venv: MakeVenv, mirror: Mirror,
) -> None:
    python = make_venv()
    pip_install(python, "--no-deps", str(mirror.wheel("torch", "2.8.0").path))
    assert build_of(python, "torch") == "pypi"

    result = jetpip("install", *on_orin(mirror, python, "extra-thing"))

    assert result.exit_code == 0, result.output
    assert "replaced  torch 2.8.0 (was 2.8.0) [CUDA build]" in result.output
    assert build_of(python, "torch") == "jetson"
    assert {"torch", "typing-extensions", "extra-thing"} <= set(installed(python))


def test_a_route_without_the_build_warns_and_strict_fails(
    make_venv: MakeVenv, index_server: IndexServer, tmp_path: Path,
) -> None:
    wheels = build_wheels(tmp_path / "wheels")
    # A route whose CUDA index carries no torch at all (a CUDA line with only some wheels published).
    jetson = index_server.add("devpi", "/jp6/cu126", [wheels["onnxruntime-gpu-1.23.0-jetson"].path])
    base = index_server.add("simple", "/simple", sorted((tmp_path / "wheels" / "base").iterdir()))
    flat = index_server.add("flat", "/redist/jp/v61/pytorch", [])
    overlay = tmp_path / "indexes.toml"
    overlay.write_text(overlay_toml(jetson, flat), encoding="utf-8")
    args: list[str | Path] = ["--root", ORIN_JP62, "--indexes", overlay, "--index-url", f"{base}/"]
    python = make_venv()
    pip_install(python, "--no-deps", str(wheels["torch-2.9.0-pypi"].path),
                str(wheels["typing-extensions-4.12.2-pypi"].path))

    strict = jetpip("install", "--python", python, *args, "--strict", "extra-thing")

    assert strict.exit_code == 4, strict.output
    assert "error: torch 2.9.0 is a build tagged" in strict.output
    assert "and route jp6-cu126 has no build of torch that fits the environment; it stays" in strict.output
    assert f"hint: uninstall it (`{python} -m pip uninstall torch`), or install a version the route has" \
        in strict.output
    assert "extra-thing" not in installed(python)

    lenient = jetpip("install", "--python", python, *args, "extra-thing")

    assert lenient.exit_code == 0, lenient.output
    assert "warning: torch 2.9.0 is a build tagged" in lenient.output
    assert "has no build of torch that fits the environment; it stays: uninstall it" in lenient.output
    assert "--strict makes this an error" in lenient.output
    assert "installed extra-thing 0.1" in lenient.output
    assert build_of(python, "torch") == "pypi"
