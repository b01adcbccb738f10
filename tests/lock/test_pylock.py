"""pylock.toml: `jetpip lock` end to end on a loopback mirror, the writer, the reader and its errors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.pylock import Pylock

from jetpip.cli import cli
from jetpip.errors import LockError
from jetpip.lock.pylock import (
    Lock,
    LockedPackage,
    dump_lock,
    fill_hashes,
    load_lock,
    lock_from_resolution,
    parse_lock,
)
from tests.support.server import IndexServer, ServedFile
from tests.support.wheels import WheelSpec, build_wheel

try:
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib  # type: ignore[no-redef]


def _served(tmp: Path, mount: str, **kw: object) -> ServedFile:
    return ServedFile.from_path(build_wheel(tmp / "wheels" / mount, WheelSpec(**kw)).path)  # type: ignore[arg-type]


@pytest.fixture
def mirror(index_server: IndexServer, tmp_path: Path) -> dict[str, str]:
    """A base index and a Jetson devpi mirror (which also shows PyPI's manylinux torch)."""
    index_server.add("simple", "/simple", [
        _served(tmp_path, "base", name="numpy", version="2.2.6", tag="cp310-cp310-manylinux_2_17_aarch64"),
        _served(tmp_path, "base", name="numpy", version="1.26.4", tag="cp310-cp310-manylinux_2_17_aarch64"),
        _served(tmp_path, "base", name="numpy", version="1.26.4", tag="cp311-cp311-manylinux_2_17_x86_64"),
        _served(tmp_path, "base", name="torch", version="2.8.0", tag="cp310-cp310-manylinux_2_28_aarch64"),
        _served(tmp_path, "base", name="gliner", version="0.2.21", requires=["torch>=2.0"],
                extras={"onnx": ["onnxruntime>=1.19"]}),
        _served(tmp_path, "base", name="onnxruntime", version="1.23.2",
                tag="cp310-cp310-manylinux_2_27_aarch64"),
    ])
    index_server.add("devpi", "/jp6/cu126", [
        _served(tmp_path, "jal", name="torch", version="2.8.0", tag="cp310-cp310-linux_aarch64",
                requires=["numpy"], build="jetson"),
        _served(tmp_path, "jal", name="onnxruntime-gpu", version="1.23.0", tag="cp310-cp310-linux_aarch64",
                requires=["numpy>=1.21"], build="jetson"),
        _served(tmp_path, "pypi-through-devpi", name="torch", version="2.8.0",
                tag="cp310-cp310-manylinux_2_28_aarch64"),
    ])
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
            "url": index_server.url}


def _lock_args(mirror: dict[str, str], *more: str) -> list[str]:
    return ["lock", "--root", mirror["root"], "--jetpack", "6.2", "--python-version", "3.10",
            "--platform", "linux_aarch64", "--index-url", mirror["index"], "--indexes", mirror["overlay"],
            *more]


def _run(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cross_target_lock_validates_and_pins_the_jetson_build(
    mirror: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "pylock.toml"
    code, stdout, stderr = _run(_lock_args(mirror, "torch", "gliner[onnx]", "-o", str(out)))
    assert code == 0, stderr
    text = out.read_text()
    doc = tomllib.loads(text)
    Pylock.from_dict(doc)  # packaging's own validation
    pkgs = {p["name"]: p for p in doc["packages"]}
    assert set(pkgs) == {"torch", "numpy", "gliner", "onnxruntime-gpu"}  # no CPU onnxruntime
    torch_wheel = pkgs["torch"]["wheels"][0]
    assert torch_wheel["name"] == "torch-2.8.0-cp310-cp310-linux_aarch64.whl"
    assert "/jp6/cu126/+f/" in torch_wheel["url"]
    assert len(torch_wheel["hashes"]["sha256"]) == 64 and torch_wheel["size"] > 0
    assert "upload-time" in torch_wheel
    assert pkgs["torch"]["index"].endswith("/jp6/cu126/+simple/")
    assert pkgs["numpy"]["version"] == "1.26.4"  # the route's numpy<2
    assert pkgs["numpy"]["wheels"][0]["name"].endswith("cp310-cp310-manylinux_2_17_aarch64.whl")
    assert pkgs["onnxruntime-gpu"]["tool"]["jetpip"]["source"] == "jetson-ai-lab jp6/cu126"
    assert pkgs["numpy"]["index"] == mirror["index"] + "/"
    tool = doc["tool"]["jetpip"]
    assert tool["target"]["jetpack"] == "6.2"
    assert tool["target"]["python"] == "3.10"
    assert tool["target"]["platform"] == "linux_aarch64"
    assert tool["target"]["cuda"] == "12.6"
    assert tool["guarded"] == {"onnxruntime-gpu": "1.23.0", "torch": "2.8.0"}
    assert tool["requested"] == ["torch", "gliner[onnx]"]
    assert doc["environments"] == [
        'sys_platform == "linux" and platform_machine == "aarch64" and python_version == "3.10"'
    ]
    assert "torch==2.8.0  (jetson-ai-lab jp6/cu126) [guarded]" in stdout
    assert "met by onnxruntime-gpu" in stderr


def test_lock_is_deterministic_and_round_trips(mirror: dict[str, str], tmp_path: Path) -> None:
    first, second = tmp_path / "a.toml", tmp_path / "b.toml"
    assert _run(_lock_args(mirror, "gliner[onnx]", "numpy", "-o", str(first)))[0] == 0
    assert _run(_lock_args(mirror, "numpy", "gliner[onnx]", "-o", str(second), "--refresh"))[0] == 0
    lock_a, lock_b = load_lock(first), load_lock(second)
    assert {p.name: p.url for p in lock_a.packages} == {p.name: p.url for p in lock_b.packages}
    assert first.read_bytes() == dump_lock(lock_a).encode()  # read back, written again: same bytes
    again = tmp_path / "c.toml"
    assert _run(_lock_args(mirror, "gliner[onnx]", "numpy", "-o", str(again)))[0] == 0
    assert again.read_bytes() == first.read_bytes()
    torch = lock_a.by_name()["torch"]
    assert torch.guarded and torch.source == "jetson-ai-lab jp6/cu126" and torch.required_by == ("gliner",)
    assert lock_a.target["jetpack"] == "6.2" and lock_a.route == "jp6-cu126"
    assert [p.name for p in lock_a.guarded()] == ["onnxruntime-gpu", "torch"]


def test_dry_run_json_shows_sources_and_writes_nothing(mirror: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "pylock.toml"
    code, stdout, _ = _run(_lock_args(mirror, "torch", "--dry-run", "--json", "-o", str(out)))
    assert code == 0
    assert not out.exists()
    doc = json.loads(stdout)
    assert doc["schema"] == "jetpip.resolution/1" and doc["lock"] is None
    by_name = {p["name"]: p for p in doc["packages"]}
    assert by_name["torch"]["source"] == "jetson-ai-lab jp6/cu126"
    assert by_name["torch"]["guarded"] is True
    assert by_name["numpy"]["source"] == "base index"
    (torch_node,) = doc["tree"]
    assert torch_node["name"] == "torch" and torch_node["dependencies"][0]["name"] == "numpy"


def test_lock_reads_requirement_and_constraint_files(mirror: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "cons.txt").write_text("numpy<1.26.4  # nothing fits: proves -c applies\n")
    (tmp_path / "reqs.txt").write_text("# app\ntorch\n-c cons.txt\n")
    code, _, stderr = _run(_lock_args(mirror, "-r", str(tmp_path / "reqs.txt"), "--dry-run"))
    assert code == 4
    assert "torch 2.8.0 requires numpy; your constraints (-c) say numpy<1.26.4" in stderr


def test_lock_guarded_wheel_missing_exits_with_explanation(mirror: dict[str, str]) -> None:
    code, _, stderr = _run([*_lock_args(mirror, "torch", "--dry-run"), "--python-version", "3.12"])
    assert code == 4
    assert "no wheel or sdist of torch" in stderr
    assert "jetson-ai-lab jp6/cu126" in stderr
    assert "built for another Python (cp310)" in stderr
    assert "manylinux_2_28_aarch64 is not one of linux_aarch64" in stderr


def test_lock_conflict_exit_code_and_message(mirror: dict[str, str], index_server: IndexServer,
                                             tmp_path: Path) -> None:
    index_server.add_files("/simple", [_served(tmp_path, "base", name="oldlib", version="1.0",
                                               requires=["torch<2.7"])])
    code, _, stderr = _run(_lock_args(mirror, "torch", "oldlib", "--dry-run"))
    assert code == 4
    assert ("oldlib 1.0 requires torch<2.7, but torch is pinned to 2.8.0 from jetson-ai-lab jp6/cu126"
            in stderr)
    assert "hint: ways out:" in stderr


# -- the reader and writer ---------------------------------------------------------


def _pkg(name: str = "six", **kw: object) -> LockedPackage:
    base = dict(name=name, version="1.17.0", url=f"https://example.invalid/{name}-1.17.0-py2.py3-none-any.whl",
                filename=f"{name}-1.17.0-py2.py3-none-any.whl", sha256="a" * 64, size=10,
                upload_time="2024-12-04T17:35:26.475Z")
    base.update(kw)
    return LockedPackage(**base)  # type: ignore[arg-type]


def test_dump_then_parse_round_trip_is_exact() -> None:
    lock = Lock(packages=(_pkg(), _pkg("attrs", guarded=True, requires=("six",))),
                target={"python": "3.10"}, requires_python="==3.10.*", requested=("six", "attrs"))
    text = dump_lock(lock)
    back = parse_lock(text)
    assert dump_lock(back) == text
    assert [p.name for p in back.packages] == ["attrs", "six"]  # sorted
    assert back.by_name()["attrs"].requires == ("six",)
    assert back.by_name()["six"].upload_time == "2024-12-04T17:35:26.475000+00:00"


def test_dump_refuses_a_file_without_hash() -> None:
    with pytest.raises(LockError, match="has no sha256"):
        dump_lock(Lock(packages=(_pkg(sha256=None),)))


def test_fill_hashes_records_the_downloaded_file(tmp_path: Path) -> None:
    wheel = tmp_path / "six-1.17.0-py2.py3-none-any.whl"
    wheel.write_bytes(b"wheel bytes")
    lock = fill_hashes(Lock(packages=(_pkg(sha256=None, size=None),)), lambda pkg: wheel)
    (pkg,) = lock.packages
    import hashlib

    assert pkg.sha256 == hashlib.sha256(b"wheel bytes").hexdigest() and pkg.size == 11


@pytest.mark.parametrize("kind", ["devpi", "simple", "flat"])
def test_a_lock_records_urls_without_credentials(kind: str) -> None:
    from jetpip.model.links import FileLink
    from jetpip.model.sources import Source
    from jetpip.model.urls import Url
    from jetpip.resolve.resolution import Pin, Resolution
    from tests.support.targets import make_target

    source = Source("fleet", kind, Url.parse("https://fleet:s3cret@idx.example/jp6/cu126/"))  # type: ignore[arg-type]
    link = FileLink("six-1.17.0-py2.py3-none-any.whl", source.url.child("f/six-1.17.0-py2.py3-none-any.whl"),
                    source, {"sha256": "0" * 64})
    pin = Pin("six", "1.17.0", link, source, guarded=False, requires=(), required_by=(), requested=True)
    lock = lock_from_resolution(Resolution((pin,), (), (), ("six",), make_target(), "jp6-cu126"))

    (pkg,) = lock.packages
    assert pkg.url == "https://idx.example/jp6/cu126/f/six-1.17.0-py2.py3-none-any.whl"
    assert pkg.index == {"devpi": "https://idx.example/jp6/cu126/+simple/",
                         "simple": "https://idx.example/jp6/cu126/", "flat": "https://idx.example/jp6/cu126/"}[kind]
    assert "fleet" not in dump_lock(lock).replace('source = "fleet"', "")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lock-version = [", "is not valid TOML"),
        ('created-by = "x"\npackages = []\n', "is not a valid pylock.toml"),
        ('lock-version = "2.0"\ncreated-by = "x"\npackages = []\n', "is not a valid pylock.toml"),
        ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\n[tool.jetpip]\nformat = 99\n',
         "format 99; this jetpip reads format 1"),
        ('lock-version = "1.0"\ncreated-by = "x"\n[[packages]]\nname = "six"\nversion = "1.0"\n'
         '[[packages.wheels]]\nname = "six-1.0-py3-none-any.whl"\nurl = "https://h/six-1.0-py3-none-any.whl"\n'
         'hashes = {sha256 = "aa"}\n[[packages.wheels]]\nname = "six-1.0-py2-none-any.whl"\n'
         'url = "https://h/six-1.0-py2-none-any.whl"\nhashes = {sha256 = "bb"}\n',
         "has 2 wheels and no sdist; jetpip needs one pinned file (a wheel or an sdist) per package"),
        ('lock-version = "1.0"\ncreated-by = "x"\npackages = []\ntool = {jetpip = {requested = "six"}}\n',
         "tool.jetpip.requested must be a list of strings"),
    ],
)
def test_parse_lock_errors(text: str, message: str) -> None:
    with pytest.raises(LockError) as info:
        parse_lock(text, "pylock.toml")
    assert message in str(info.value)
    assert info.value.hint


def test_load_lock_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="cannot read"):
        load_lock(tmp_path / "absent.toml")


def test_replace_keeps_lock_fields() -> None:
    lock = Lock(packages=(_pkg(),), route="jp6-cu126", notes=("n",))
    assert replace(lock, packages=()).route == "jp6-cu126"


def _sdist_pkg(**kw: object) -> LockedPackage:
    return _pkg("gym", version="0.26.2", url="https://example.invalid/gym-0.26.2.tar.gz",
                filename="gym-0.26.2.tar.gz", **kw)


def test_an_sdist_is_written_as_packages_sdist_and_read_back() -> None:
    lock = Lock(packages=(_pkg(), _sdist_pkg(requires=("numpy>=1.18",))), target={"python": "3.10"},
                requires_python="==3.10.*", requested=("gym",))
    text = dump_lock(lock)
    doc = tomllib.loads(text)
    pylock = Pylock.from_dict(doc)  # packaging's own validation of [packages.sdist]
    gym = next(p for p in pylock.packages if p.name == "gym")
    assert gym.wheels is None and gym.sdist is not None
    assert (gym.sdist.name, gym.sdist.url, gym.sdist.size) == (
        "gym-0.26.2.tar.gz", "https://example.invalid/gym-0.26.2.tar.gz", 10)
    assert gym.sdist.hashes == {"sha256": "a" * 64} and gym.sdist.upload_time is not None
    back = parse_lock(text)
    assert back.by_name()["gym"].is_sdist and not back.by_name()["six"].is_sdist
    assert back.by_name()["gym"].requires == ("numpy>=1.18",)
    assert dump_lock(back) == text


def test_a_directory_subdirectory_names_the_project_inside_the_path(tmp_path: Path) -> None:
    # PEP 751: `subdirectory` is where the project root is within the source tree at `path`.
    text = (
        'lock-version = "1.0"\ncreated-by = "another-tool"\n\n'
        '[[packages]]\nname = "app"\nversion = "0.1"\n'
        '[packages.directory]\npath = "src"\nsubdirectory = "pkg"\n'
    )
    Pylock.from_dict(tomllib.loads(text))  # a valid lock, by packaging's reading

    lock = parse_lock(text, origin=str(tmp_path / "pylock.toml"))

    ref = lock.by_name()["app"].project
    assert ref is not None and Path(ref.location) == tmp_path / "src" / "pkg"


def test_a_package_with_both_a_wheel_and_an_sdist_is_refused() -> None:
    doc = tomllib.loads(dump_lock(Lock(packages=(_sdist_pkg(),))))
    doc["packages"][0]["wheels"] = [{"name": "gym-0.26.2-py3-none-any.whl", "url": "https://example.invalid/g.whl",
                                     "hashes": {"sha256": "b" * 64}}]
    import tomli_w

    with pytest.raises(LockError, match=r"has 1 wheels and an sdist; jetpip needs one pinned file"):
        parse_lock(tomli_w.dumps(doc))
