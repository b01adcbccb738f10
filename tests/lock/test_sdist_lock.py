"""`jetpip lock` with sdists on a loopback mirror: [packages.sdist] entries, binary options, guarded names."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.pylock import Pylock

from jetpip.cli import cli
from jetpip.lock.pylock import load_lock
from tests.support.sdists import build_sdist
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import WheelSpec, build_wheel

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]


def _wheel(tmp: Path, name: str, version: str, **kw: object) -> ServedFile:
    return ServedFile.from_path(build_wheel(tmp / "wheels", WheelSpec(name=name, version=version, **kw)).path)  # type: ignore[arg-type]


def _sdist(tmp: Path, name: str, version: str, **kw: object) -> ServedFile:
    return ServedFile.from_path(build_sdist(tmp / "sdists", name, version, **kw).path)  # type: ignore[arg-type]


@pytest.fixture
def mirror(index_server: IndexServer, tmp_path: Path) -> dict[str, str]:
    """A base index with wheels and sdists, and a Jetson devpi index that shows a torch sdist only."""
    log = tmp_path / "hooks.log"
    index_server.add("simple", "/simple", [
        _wheel(tmp_path, "six", "1.17.0"),
        _sdist(tmp_path, "tiny-static", "1.0", requires=["six>=1.16"]),
        _wheel(tmp_path, "both", "1.0"),
        _sdist(tmp_path, "both", "1.0"),
        _sdist(tmp_path, "both", "1.1"),
        _sdist(tmp_path, "tiny-dynamic", "3.0", requires=["six"], static=False, log=log),
    ])
    index_server.add("devpi", "/jp6/cu126", [_sdist(tmp_path, "torch", "2.8.0"),
                                             _sdist(tmp_path, "pycuda", "2025.1")])
    index_server.add("flat", "/redist/jp/v61/pytorch", [])
    overlay = tmp_path / "indexes.toml"
    overlay.write_text(
        "format = 1\n[mirrors]\n"
        f'"https://pypi.jetson-ai-lab.io" = "{index_server.url}"\n'
        f'"https://developer.download.nvidia.com/compute/redist/jp/" = "{index_server.url}/redist/jp/"\n'
    )
    root = tmp_path / "not-a-jetson"
    root.mkdir()
    return {"overlay": str(overlay), "index": index_server.url + "/simple", "root": str(root),
            "log": str(log), "url": index_server.url}


def _lock(mirror: dict[str, str], out: Path, *more: str) -> tuple[int, str]:
    args = ["lock", "--root", mirror["root"], "--jetpack", "6.2", "--python-version", "3.10",
            "--platform", "linux_aarch64", "--index-url", mirror["index"], "--indexes", mirror["overlay"],
            "-o", str(out), *more]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stderr


def _files(out: Path) -> dict[str, str]:
    """Each locked package's filename, read through packaging's own pylock validation."""
    pylock = Pylock.from_dict(tomllib.loads(out.read_text()))
    return {p.name: (p.sdist.filename if p.sdist else p.wheels[0].filename) for p in pylock.packages}  # type: ignore[index]


def test_sdists_lock_as_packages_sdist_with_their_hash(mirror: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "pylock.toml"
    code, stderr = _lock(mirror, out, "tiny-static", "both")
    assert code == 0, stderr
    # both 1.1 has only an sdist and is the newest release: as pip, it wins over 1.0's wheel.
    assert _files(out) == {"tiny-static": "tiny_static-1.0.tar.gz", "both": "both-1.1.tar.gz",
                           "six": "six-1.17.0-py3-none-any.whl"}
    doc = tomllib.loads(out.read_text())
    static = next(p for p in doc["packages"] if p["name"] == "tiny-static")
    assert "wheels" not in static
    assert static["sdist"]["url"].startswith(mirror["url"]) and len(static["sdist"]["hashes"]["sha256"]) == 64
    assert static["sdist"]["size"] > 0 and "upload-time" in static["sdist"]
    lock = load_lock(out)
    assert lock.by_name()["tiny-static"].is_sdist and lock.by_name()["tiny-static"].requires == ("six>=1.16",)
    assert not lock.by_name()["six"].is_sdist


@pytest.mark.parametrize(("options", "reqs", "taken"), [
    ((), "both==1.0\n", "both-1.0-py3-none-any.whl"),  # a fitting wheel wins within its version
    (("--no-binary", "both"), "both==1.0\n", "both-1.0.tar.gz"),
    (("--only-binary", ":all:"), "both\n", "both-1.0-py3-none-any.whl"),
    (("--prefer-binary",), "both\n", "both-1.0-py3-none-any.whl"),
    (("--no-build",), "both\n", "both-1.0-py3-none-any.whl"),
    ((), "--no-binary both\nboth==1.0\n", "both-1.0.tar.gz"),
    ((), "--only-binary=:all:\nboth\n", "both-1.0-py3-none-any.whl"),
    ((), "--prefer-binary\nboth\n", "both-1.0-py3-none-any.whl"),
    (("--only-binary", ":all:"), "--no-binary both\nboth==1.0\n", "both-1.0.tar.gz"),  # the file comes after
    (("--no-build",), "--no-binary both\nboth\n", "both-1.0-py3-none-any.whl"),  # no line undoes --no-build
])
def test_binary_options_from_the_command_line_and_requirements_files(
    mirror: dict[str, str], tmp_path: Path, options: tuple[str, ...], reqs: str, taken: str
) -> None:
    (tmp_path / "reqs.txt").write_text(reqs)
    out = tmp_path / "pylock.toml"
    code, stderr = _lock(mirror, out, *options, "-r", str(tmp_path / "reqs.txt"))
    assert code == 0, stderr
    assert _files(out)["both"] == taken


def test_only_binary_with_only_an_sdist_on_offer_says_which_option_refused_it(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    code, stderr = _lock(mirror, tmp_path / "pylock.toml", "tiny-static", "--only-binary", "tiny-static")
    assert code == 4
    assert "tiny_static-1.0.tar.gz" in stderr
    assert "--only-binary tiny-static takes wheels only" in stderr


def test_an_sdist_of_a_guarded_name_is_refused_with_a_hint(mirror: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "pylock.toml"
    code, stderr = _lock(mirror, out, "torch")
    assert code == 4
    assert "torch-2.8.0.tar.gz" in stderr
    assert "source distribution of a guarded CUDA package" in stderr
    assert "a plain build would be CPU-only" in stderr
    assert "hint:" in stderr
    assert not out.exists()


def test_an_sdist_of_a_guarded_name_with_a_build_recipe_is_locked_from_the_route(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    # pycuda has a [builds.pycuda] recipe in the knowledge base: the target builds its CUDA variant.
    out = tmp_path / "pylock.toml"
    code, stderr = _lock(mirror, out, "pycuda")
    assert code == 0, stderr
    pycuda = load_lock(out).by_name()["pycuda"]
    assert pycuda.is_sdist and pycuda.guarded and pycuda.source == "jetson-ai-lab jp6/cu126"


def test_a_second_lock_prepares_no_metadata_again(mirror: dict[str, str], tmp_path: Path) -> None:
    for run in ("a", "b"):
        code, stderr = _lock(mirror, tmp_path / f"{run}.toml", "tiny-dynamic", "--refresh")
        assert code == 0, stderr
        assert _files(tmp_path / f"{run}.toml") == {"tiny-dynamic": "tiny_dynamic-3.0.tar.gz",
                                                    "six": "six-1.17.0-py3-none-any.whl"}
    hooks = Path(mirror["log"]).read_text().split()
    assert hooks.count("prepare_metadata_for_build_wheel") == 1


def test_a_direct_url_of_an_sdist_locks_that_file_and_checks_its_hash(
    mirror: dict[str, str], index_server: IndexServer, tmp_path: Path
) -> None:
    sdist = build_sdist(tmp_path / "elsewhere", "direct-pkg", "0.3")
    index_server.add("flat", "/downloads", [ServedFile.from_path(sdist.path)])
    url = f"{index_server.url}/downloads/{sdist.filename}"
    (tmp_path / "reqs.txt").write_text(f"direct-pkg @ {url} --hash=sha256:{sdist.sha256}\n")
    out = tmp_path / "pylock.toml"
    code, stderr = _lock(mirror, out, "-r", str(tmp_path / "reqs.txt"))
    assert code == 0, stderr
    locked = load_lock(out).by_name()["direct-pkg"]
    assert (locked.url, locked.sha256, locked.is_sdist) == (url, sdist.sha256, True)
    (tmp_path / "reqs.txt").write_text(f"direct-pkg @ {url} --hash=sha256:{'0' * 64}\n")
    code, stderr = _lock(mirror, tmp_path / "bad.toml", "-r", str(tmp_path / "reqs.txt"))
    assert code != 0 and "0" * 64 in stderr and sdist.sha256 in stderr
