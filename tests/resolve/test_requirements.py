"""pip's requirements-file syntax: the reader, what a lock makes of it, and the real pip beside it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from packaging.requirements import Requirement

from jetpip import api
from jetpip.cli import cli
from jetpip.errors import UsageError
from jetpip.index.config import PIP_DEFAULT_INDEX, load_index_config
from jetpip.model.links import BinaryPolicy
from jetpip.resolve.requirements import (
    RequirementLine,
    only_for_extra,
    read_requirement_files,
    read_requirements,
)
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import installed
from tests.support.wheels import BuiltWheel, WheelSpec, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def sha256(wheel: BuiltWheel) -> str:
    return hashlib.sha256(wheel.path.read_bytes()).hexdigest()


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def cross_lock(tmp_path: Path, *args: str | Path) -> Result:
    """`jetpip lock` for a plain x86_64 cross Target (no device, no pip to probe)."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return jetpip("lock", "--root", root, "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
                  "--platform", "linux_x86_64", "--glibc", "2.35", *args)


def lock_file(tmp_path: Path, index_url: str) -> Result:
    """`jetpip lock -r r.txt -o l.toml` against ``index_url``, for a plain cross Target."""
    return cross_lock(tmp_path, "--index-url", index_url, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")


# -- the reader --------------------------------------------------------------------------


def test_nesting_comments_and_continuations(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "more.txt", "attrs>=23 ; python_version >= '3.8'\n-c cons.txt\n")
    write(tmp_path / "sub" / "cons.txt", "numpy<2\n")
    write(tmp_path / "reqs.txt", "# top\n\ntorch  # the CUDA one\ntransformers\\\n  >=4.40\n"
                                 "-r sub/more.txt\n--constraint=extra.txt\n")
    write(tmp_path / "extra.txt", "six==1.17.0\n-r inner.txt\n")
    write(tmp_path / "inner.txt", "attrs\n")  # as pip: -r in a constraints file names requirements
    reqs, cons = read_requirements(tmp_path / "reqs.txt")
    assert [r.text for r in reqs] == ["torch", "transformers  >=4.40", "attrs>=23 ; python_version >= '3.8'",
                                      "attrs"]
    assert reqs[1].where.endswith("reqs.txt:4")
    assert [c.text for c in cons] == ["numpy<2", "six==1.17.0"]


def test_env_vars_expand_as_pip_expands_them(tmp_path: Path) -> None:
    write(tmp_path / "r.txt", "torch==${TORCH_VERSION}\nnumpy${lower}\nsix$HOME\nattrs${UNSET_ONE}\n")
    with pytest.raises(UsageError) as err:
        read_requirement_files([tmp_path / "r.txt"], env={"TORCH_VERSION": "2.8.0", "lower": "==1"})
    # ${TORCH_VERSION} expanded; ${lower} (not uppercase) and an unset name stay as written, so the
    # line reads as pip would read it: here a requirement that cannot be parsed
    assert "r.txt:2" in str(err.value) and "numpy${lower}" in str(err.value)
    write(tmp_path / "r.txt", "torch==${TORCH_VERSION}\n--extra-index-url ${JETSON_INDEX}/jp6/cu126\n")
    inputs = read_requirement_files([tmp_path / "r.txt"],
                                    env={"TORCH_VERSION": "2.8.0", "JETSON_INDEX": "https://jetson.example"})
    assert [r.text for r in inputs.requirements if isinstance(r, RequirementLine)] == ["torch==2.8.0"]
    assert [(o.option, o.value) for o in inputs.options] == [
        ("--extra-index-url", "https://jetson.example/jp6/cu126")]


def test_option_lines_in_every_spelling_are_kept_in_file_order(tmp_path: Path) -> None:
    (tmp_path / "wheels").mkdir()
    write(tmp_path / "inner.txt", "six\n")
    write(tmp_path / "r.txt", "\n".join([
        "--index-url=https://a.example/simple",
        "-i https://b.example/simple",
        "--extra-index-url https://jetson.example/jp6/cu126  # the CUDA index",
        "-f wheels",
        "--find-links https://redist.example/torch/",
        "--trusted-host jetson.example",
        "--only-binary :all:",
        "--no-binary :none:",
        "--prefer-binary",
        "-rinner.txt",
    ]) + "\n")
    inputs = read_requirement_files([tmp_path / "r.txt"])
    assert [(o.option, o.value, o.where.rsplit(":", 1)[1]) for o in inputs.options] == [
        ("--index-url", "https://a.example/simple", "1"),
        ("--index-url", "https://b.example/simple", "2"),
        ("--extra-index-url", "https://jetson.example/jp6/cu126", "3"),
        ("--find-links", str((tmp_path / "wheels").resolve()), "4"),  # relative to the file, as pip
        ("--find-links", "https://redist.example/torch/", "5"),
        ("--trusted-host", "jetson.example", "6"),
        ("--only-binary", ":all:", "7"),
        ("--no-binary", ":none:", "8"),
        ("--prefer-binary", "", "9"),
    ]
    assert inputs.binary == BinaryPolicy(frozenset(), frozenset({":all:"}), prefer_binary=True)
    assert [r.text for r in inputs.requirements if isinstance(r, RequirementLine)] == ["six"]


def test_hashes_on_the_line_and_its_continuations(tmp_path: Path) -> None:
    a, b = "a" * 64, "B" * 64
    write(tmp_path / "r.txt", f"numpy==1.26.4 \\\n    --hash=sha256:{a} \\\n    --hash sha256:{b}\n"
                              f"six==1.17.0 --hash=sha512:{'c' * 128}\n")
    inputs = read_requirement_files([tmp_path / "r.txt"])
    numpy, six = inputs.requirements
    assert isinstance(numpy, RequirementLine) and isinstance(six, RequirementLine)
    assert (numpy.text, numpy.where) == ("numpy==1.26.4", f"{tmp_path / 'r.txt'}:1")
    assert numpy.hashes == (f"sha256:{a}", f"sha256:{b.lower()}")
    assert six.hashes == (f"sha512:{'c' * 128}",)
    assert inputs.hash_mode
    assert [(c.name, c.where.rsplit(":", 1)[1]) for c in inputs.settings().hash_checks] == [
        ("numpy", "1"), ("six", "4")]


def test_a_direct_url_reads_as_its_wheels_name_and_version(tmp_path: Path) -> None:
    url = "https://files.example/wheels/torch-2.8.0-cp310-cp310-linux_aarch64.whl"
    write(tmp_path / "r.txt", f'torch[opt] @ {url} ; python_version >= "3.10"\n')
    (line,) = read_requirement_files([tmp_path / "r.txt"]).requirements
    assert isinstance(line, RequirementLine)
    assert (line.text, line.url) == ('torch[opt]==2.8.0 ; python_version >= "3.10"', url)
    req = Requirement(line.text)
    assert (req.name, req.extras, str(req.specifier)) == ("torch", {"opt"}, "==2.8.0")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-e ./nowhere\n", "the option --editable needs a local project directory"),
        ("-e six\n", "six is not there"),
        ("-e ./sub/six-1.0-py3-none-any.whl\n", "is a file"),
        ("--editable=git+https://h.example/x.git#egg=x\n", "the option --editable cannot be honoured for"),
        ("./local/project\n", "which does not exist"),
        ("/abs/dist/six-1.0-py3-none-any.whl\n", "which does not exist"),
        ("./sub\n", "is not installable: it holds neither pyproject.toml nor setup.py"),
        ("hg+https://h.example/x@v1#egg=x\n", "is a hg requirement; jetpip checks out git only"),
        ("git+https://h.example/x.git@v1#egg=x --hash=sha256:" + "a" * 64 + "\n",
         "--hash cannot name a source"),
        ("file://other.example/abs/pkg\n", "names another host"),
        ("x @ https://h.example/x-1.0.tar.bz2\n", "neither a wheel nor an sdist (x-1.0.tar.bz2) (an sdist"),
        ("numpy @ https://h.example/six-1.17.0.tar.gz\n", "is an sdist of six, not of numpy"),
        ("https://h.example/six-1.17.0-py3-none-any.whl\n", "is a URL without a project name"),
        ("numpy @ https://h.example/six-1.17.0-py3-none-any.whl\n", "is a wheel of six, not of numpy"),
        ("x @ https://h.example/download\n", "names neither a wheel nor an sdist"),
        ("--no-binary --pre\n", "--no-binary needs project names"),
        ("--only-binary=\n", "--only-binary needs project names"),
        ("--only-final :all:\n", "the option --only-final cannot be honoured"),
        ("--use-feature truststore\n", "the option --use-feature cannot be honoured"),
        ("--hash=sha256:" + "a" * 64 + "\n", "--hash with no requirement before it"),
        ("six --config-settings=x=y\n", "the option --config-settings cannot follow a requirement"),
        ("six==1 --hash=md5:abc\n", "--hash=md5:abc is not algorithm:hexdigest"),
        ("--frobnicate\n", "--frobnicate is not an option of a requirements file"),
        ("--index-url\n", "--index-url needs a value"),
        ("-r https://h.example/r.txt\n", "requirements files are read from disk only"),
        ("six>=>1\n", "cannot read the requirement"),
        ("-r reqs.txt\n", "includes itself"),
        ("-r missing.txt\n", "cannot read"),
    ],
)
def test_what_cannot_be_honoured_is_an_error_naming_the_file_line_and_option(
    tmp_path: Path, text: str, message: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write(tmp_path / "reqs.txt", text)
    write(tmp_path / "sub" / "six-1.0-py3-none-any.whl", "")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError) as info:
        read_requirement_files([tmp_path / "reqs.txt"])
    assert message in str(info.value)
    if "cannot read " not in message:
        assert f"{tmp_path / 'reqs.txt'}:" in str(info.value)
    assert info.value.hint


def test_a_direct_url_of_an_sdist_reads_as_its_name_and_version_with_its_hash(tmp_path: Path) -> None:
    digest = "ab" * 32
    url = "https://files.example/src/llama_cpp_python-0.3.16.tar.gz"
    write(tmp_path / "r.txt", f"llama-cpp-python @ {url} --hash=sha256:{digest}\n")
    inputs = read_requirement_files([tmp_path / "r.txt"])
    (line,) = inputs.requirements
    assert isinstance(line, RequirementLine)
    assert (line.text, line.url, line.hashes) == ("llama-cpp-python==0.3.16", url, (f"sha256:{digest}",))
    (direct,) = [o for o in inputs.settings().options if o.option == "direct-url"]
    assert direct.value == f"{url}#sha256={digest}"  # the download is checked against it


def test_binary_lines_apply_in_file_order_as_pip_applies_them(tmp_path: Path) -> None:
    write(tmp_path / "inner.txt", "--only-binary numpy\n")
    write(tmp_path / "r.txt", "--no-binary :all:\n-r inner.txt\n--no-binary=six,Scipy\n--only-binary six\n")
    policy = read_requirement_files([tmp_path / "r.txt"]).binary
    assert policy == BinaryPolicy(frozenset({":all:", "scipy"}), frozenset({"numpy", "six"}))
    assert policy.allows("numpy") == (True, False) and policy.allows("scipy") == (False, True)
    assert policy.allows("other") == (False, True)


def test_a_constraint_cannot_be_a_direct_url(tmp_path: Path) -> None:
    write(tmp_path / "c.txt", "six @ https://h.example/six-1.17.0-py3-none-any.whl\n")
    with pytest.raises(UsageError, match=r"c.txt:1: a constraint cannot be a direct URL"):
        read_requirement_files([], [tmp_path / "c.txt"])


def test_readers_of_plain_requirements_refuse_option_lines_naming_the_line(tmp_path: Path) -> None:
    write(tmp_path / "r.txt", "six\n--extra-index-url https://jetson.example/jp6/cu126\n")
    with pytest.raises(UsageError, match=r"r.txt:2: this reader takes requirement lines only"):
        read_requirements(tmp_path / "r.txt")
    inputs = api.read_requirement_inputs(["attrs"], [str(tmp_path / "r.txt")])
    assert inputs.requirements[0] == "attrs" and len(inputs.requirements) == 2


def test_the_repr_of_a_line_hides_the_password_of_its_url(tmp_path: Path) -> None:
    write(tmp_path / "r.txt", "six @ https://u:hunter2@h.example/six-1.17.0-py3-none-any.whl\n"
                              "--extra-index-url https://u:hunter2@h.example/simple\n")
    inputs = read_requirement_files([tmp_path / "r.txt"])
    assert "hunter2" not in repr(inputs) and "hunter2" not in repr(inputs.settings())


# -- what a lock makes of it ------------------------------------------------------------------


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, BuiltWheel]:
    out = {}
    for name, version, build in [
        ("six", "1.16.0", "pypi"), ("six", "1.17.0", "pypi"), ("attrs", "23.1.0", "pypi"),
        ("attrs", "24.2.0", "pypi"), ("onlyextra", "1.0", "pypi"), ("directpkg", "2.0", "direct"),
        ("localpkg", "0.5", "pypi"), ("packaging", "24.0", "pypi"), ("packaging", "25.0", "pypi"),
    ]:
        out[f"{name}-{version}"] = build_wheel(tmp_path / "built" / f"{name}-{version}",
                                               WheelSpec(name=name, version=version, build=build))
    # the same name and version on the base index, other bytes: a direct URL must not take it
    out["directpkg-2.0-index"] = build_wheel(tmp_path / "built" / "dp-index",
                                             WheelSpec(name="directpkg", version="2.0", build="index"))
    return out


@pytest.fixture
def served(index_server: IndexServer, wheels: dict[str, BuiltWheel]) -> dict[str, str]:
    elsewhere = ("onlyextra", "localpkg", "directpkg-2.0")
    on_base = [w.path for k, w in wheels.items() if not k.startswith(elsewhere)]
    base = index_server.add("simple", "/base/simple", [*on_base, wheels["directpkg-2.0-index"].path])
    extra = index_server.add("simple", "/extra/simple", [wheels["onlyextra-1.0"].path])
    direct = index_server.add("flat", "/direct", [wheels["directpkg-2.0"].path])
    return {"base": base, "extra": extra, "direct": f"{direct}directpkg-2.0-py3-none-any.whl"}


def locked(path: Path) -> dict[str, tuple[str, str, str]]:
    doc = tomllib.loads(path.read_text())
    return {p["name"]: (p["version"], p["wheels"][0]["url"], p["wheels"][0]["hashes"]["sha256"])
            for p in doc["packages"]}


def test_a_lock_takes_the_direct_url_file_and_the_files_extra_index(
    tmp_path: Path, served: dict[str, str], wheels: dict[str, BuiltWheel],
) -> None:
    direct = wheels["directpkg-2.0"]
    write(tmp_path / "r.txt", f"--extra-index-url {served['extra']}\n"
                              f"directpkg @ {served['direct']} --hash=sha256:{sha256(direct)}\n"
                              f"onlyextra==1.0 --hash=sha256:{sha256(wheels['onlyextra-1.0'])}\n")
    result = lock_file(tmp_path, served["base"])
    assert result.exit_code == 0, result.output
    got = locked(tmp_path / "l.toml")
    assert got["directpkg"] == ("2.0", served["direct"], sha256(direct))
    assert got["onlyextra"][1].startswith(served["extra"].rsplit("/", 1)[0])
    assert "accepted unchecked" not in result.output


def test_a_hash_that_does_not_match_the_chosen_file_names_both_hashes(
    tmp_path: Path, served: dict[str, str], wheels: dict[str, BuiltWheel],
) -> None:
    wrong = "0" * 64
    write(tmp_path / "r.txt", f"six==1.17.0 \\\n  --hash=sha256:{wrong}\n")
    result = lock_file(tmp_path, served["base"])
    assert result.exit_code != 0
    assert f"does not match the --hash of {tmp_path / 'r.txt'}:1" in result.output
    assert f"sha256:{wrong}" in result.output and f"sha256:{sha256(wheels['six-1.17.0'])}" in result.output
    assert not (tmp_path / "l.toml").exists()
    # a direct URL's --hash is checked against the bytes the URL serves
    write(tmp_path / "r.txt", f"directpkg @ {served['direct']} --hash=sha256:{wrong}\n")
    result = lock_file(tmp_path, served["base"])
    assert result.exit_code != 0
    assert wrong in result.output and sha256(wheels["directpkg-2.0"]) in result.output


def test_a_cross_lock_with_no_pip_configuration_asks_pips_default_index(tmp_path: Path) -> None:
    # --offline: the run reads only jetpip's cache, so the index it would ask shows in the error
    # without a request leaving the machine.
    result = cross_lock(tmp_path, "--offline", "six", "-o", tmp_path / "l.toml")
    assert result.exit_code != 0
    assert f"the cache has no copy of {PIP_DEFAULT_INDEX}/six/" in result.output
    assert "no package index is configured" not in result.output


# -- beside the real pip -------------------------------------------------------------------------


def pip_dry_run(
    tmp_path: Path, *args: str | Path, env: dict[str, str]
) -> tuple[dict[str, tuple[str, str]], str]:
    """pip's own reading of the same files: {name: (version, url)} of its report, and its log."""
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "-v",
         "--report", str(report), *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **env}, timeout=120, check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    doc = json.loads(report.read_text())
    picked = {item["metadata"]["name"]: (item["metadata"]["version"], item["download_info"]["url"])
              for item in doc["install"]}
    extras = {item["metadata"]["name"]: item.get("requested_extras", []) for item in doc["install"]}
    picked |= {f"{k}[]": (",".join(sorted(v)), "") for k, v in extras.items() if v}
    return picked, run.stdout + run.stderr


def looking_in(log: str, what: str) -> list[str]:
    match = re.search(rf"^Looking in {what}: (.*)$", log, re.MULTILINE)
    return [u.strip() for u in match[1].split(",")] if match else []


def test_jetpip_reads_requirement_files_as_pip_does(
    tmp_path: Path, served: dict[str, str], wheels: dict[str, BuiltWheel], monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = tmp_path / "proj"
    (here / "wheels").mkdir(parents=True)
    (here / "wheels" / wheels["localpkg-0.5"].filename).write_bytes(wheels["localpkg-0.5"].path.read_bytes())
    write(here / "sub" / "more.txt", "localpkg==0.5\n-c cons.txt\npackaging\n")
    write(here / "sub" / "cons.txt", "packaging<25  # the constraint\n")
    write(here / "requirements.txt", "\n".join([
        "# as a Jetson project writes it",
        "--extra-index-url ${EXTRA_INDEX}",
        "-f wheels",
        "-r sub/more.txt",
        "six<1.17 \\",
        '    ; python_version >= "3"',
        "attrs[tests]>=23,<24",
        "onlyextra",
        f"directpkg @ {served['direct']}",
        'winonly ; sys_platform == "win32"',
    ]) + "\n")
    env = {"EXTRA_INDEX": served["extra"], "PIP_CONFIG_FILE": os.devnull}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pip_picked, log = pip_dry_run(tmp_path, "--index-url", served["base"], "-r", here / "requirements.txt",
                                  env=env)

    # the index options: the same indexes and links, in the same order
    inputs = api.read_requirement_inputs([], [str(here / "requirements.txt")])
    config = load_index_config(None, os.environ, {"index_url": served["base"]}, inputs.settings())
    assert looking_in(log, "indexes") == [config.index_url, *config.extra_index_urls]
    assert [os.path.realpath(p) for p in looking_in(log, "links")] == [
        os.path.realpath(p) for p in config.find_links]

    # the requirement set: names, versions the specifiers and constraints allow, the direct file, extras
    result = cross_lock(tmp_path, "--index-url", served["base"], "-r", here / "requirements.txt",
                        "-o", tmp_path / "l.toml")
    assert result.exit_code == 0, result.output
    ours = {name: (version, url) for name, (version, url, _) in locked(tmp_path / "l.toml").items()}
    for line in inputs.requirements:
        assert isinstance(line, RequirementLine)
        req = Requirement(line.text)
        if req.extras:
            ours[f"{req.name}[]"] = (",".join(sorted(req.extras)), "")
    assert ours == pip_picked
    assert pip_picked["directpkg"] == ("2.0", served["direct"]) and pip_picked["six"][0] == "1.16.0"


def test_a_files_index_url_wins_over_the_command_line_in_pip_and_in_jetpip(
    tmp_path: Path, served: dict[str, str],
) -> None:
    # pip applies a requirements file's options after its command line: the file's --index-url
    # replaces the command line's --index-url and every --extra-index-url given before it.
    write(tmp_path / "r.txt", f"--index-url {served['extra']}\nonlyextra\n")
    env = {"PIP_CONFIG_FILE": os.devnull}
    before = {"index_url": served["base"], "extra_index_url": [served["base"] + "2"]}
    picked, log = pip_dry_run(tmp_path, "--index-url", before["index_url"], "--extra-index-url",
                              served["base"] + "2", "-r", tmp_path / "r.txt", env=env)
    inputs = api.read_requirement_inputs([], [str(tmp_path / "r.txt")])
    config = load_index_config(None, env, before, inputs.settings())
    assert looking_in(log, "indexes") == [served["extra"]] == [config.index_url, *config.extra_index_urls]
    assert list(picked) == ["onlyextra"]


@pytest.mark.parametrize(
    ("lines", "ok", "message"),
    [
        (["top==1.0 --hash=sha256:{wrong}"], False, "does not match the --hash of"),
        (["top==1.0 --hash=sha256:{top}"], False, "dep==2.0 --hash=sha256:{dep}"),
        (["--require-hashes", "top==1.0"], False, "top==1.0 --hash=sha256:{top}"),
        (["top>=1.0 --hash=sha256:{top}", "dep==2.0 --hash=sha256:{dep}"], True, ""),
        (["top==1.0", "dep==2.0"], True, ""),
    ],
)
def test_hash_checking_mode_passes_and_fails_where_pip_does(
    tmp_path: Path, index_server: IndexServer, lines: list[str], ok: bool, message: str,
) -> None:
    top = build_wheel(tmp_path / "b", WheelSpec(name="top", version="1.0", requires=["dep"]))
    dep = build_wheel(tmp_path / "b", WheelSpec(name="dep", version="2.0"))
    base = index_server.add("simple", "/hm/simple", [top.path, dep.path])
    hashes = {"top": sha256(top), "dep": sha256(dep), "wrong": "0" * 64}
    write(tmp_path / "r.txt", "\n".join(lines).format(**hashes) + "\n")
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--index-url", base,
         "-r", str(tmp_path / "r.txt")],
        capture_output=True, text=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull}, timeout=120,
        check=False,
    )
    result = lock_file(tmp_path, base)
    assert (pip.returncode == 0) is ok, pip.stdout + pip.stderr
    assert (result.exit_code == 0) is ok, result.output
    assert message.format(**hashes) in result.output


def test_lock_v_says_where_each_index_setting_came_from(tmp_path: Path, served: dict[str, str]) -> None:
    write(tmp_path / "r.txt", f"--index-url {served['base']}\nsix\n")
    result = cross_lock(tmp_path, "-v", "--index-url", "https://ignored.example/simple",
                        "-r", tmp_path / "r.txt", "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"index-url: {served['base']}  [{tmp_path / 'r.txt'}:1]" in result.output
    assert "ignored.example" not in result.output


def test_a_guarded_name_named_by_a_direct_url_stops_the_lock(
    tmp_path: Path, index_server: IndexServer,
) -> None:
    from jetpip.index.client import IndexClient
    from jetpip.model.sources import Route, Source
    from jetpip.model.urls import Url
    from jetpip.resolve.provider import resolve
    from tests.support.targets import make_target

    cuda = build_wheel(tmp_path / "cuda", WheelSpec(name="torch", version="2.8.0", build="jetson"))
    cpu = build_wheel(tmp_path / "cpu", WheelSpec(name="torch", version="2.8.0", build="pypi"))
    route_url = index_server.add("simple", "/jp6/simple", [cuda.path])
    direct = index_server.add("flat", "/direct", [cpu.path]) + cpu.filename
    write(tmp_path / "r.txt", f"torch @ {direct}\n")
    inputs = api.read_requirement_inputs([], [str(tmp_path / "r.txt")])
    config = load_index_config(None, {"PIP_CONFIG_FILE": os.devnull}, {"index_url": route_url},
                               inputs.settings())
    route = Route(key="jp6", summary="", guarded=frozenset({"torch"}),
                  sources=(Source("jp6", "simple", Url(route_url), jetson=True),))
    with IndexClient(config, cache_dir=tmp_path / "c") as client:
        resolution = resolve(inputs.requirements, target=make_target(), route=route, client=client,
                             base_sources=config.sources())
        with pytest.raises(UsageError) as err:
            api.hashed_lock(resolution, client, tmp_path / "w")
    assert f"torch is named by the direct URL {direct}, but the resolution took" in str(err.value)
    assert "guarded" in (err.value.hint or "")


def test_a_local_wheel_named_by_a_file_url_is_locked_with_its_hash(
    tmp_path: Path, served: dict[str, str], wheels: dict[str, BuiltWheel],
) -> None:
    local = wheels["localpkg-0.5"]
    write(tmp_path / "r.txt", f"localpkg @ {local.path.as_uri()} --hash=sha256:{sha256(local)}\n")
    result = lock_file(tmp_path, served["base"])
    assert result.exit_code == 0, result.output
    assert locked(tmp_path / "l.toml")["localpkg"] == ("0.5", local.path.as_uri(), sha256(local))
    assert "accepted unchecked" not in result.output


def test_install_takes_a_files_extra_index_and_checks_its_hashes(
    tmp_path: Path, served: dict[str, str], wheels: dict[str, BuiltWheel], make_venv: MakeVenv,
) -> None:
    python = make_venv()
    root = tmp_path / "root"
    root.mkdir()
    before = installed(python)
    wrong = "0" * 64
    write(tmp_path / "r.txt", f"--extra-index-url {served['extra']}\n"
                              f"onlyextra==1.0 --hash=sha256:{wrong}\n")
    args = ["install", "--python", python, "--root", root, "--index-url", served["base"],
            "-r", tmp_path / "r.txt"]
    result = jetpip(*args)
    assert result.exit_code != 0
    assert f"does not match the --hash of {tmp_path / 'r.txt'}:2" in result.output
    assert installed(python) == before  # nothing was installed
    write(tmp_path / "r.txt", f"--extra-index-url {served['extra']}\n"
                              f"onlyextra==1.0 --hash=sha256:{sha256(wheels['onlyextra-1.0'])}\n")
    result = jetpip(*args)
    assert result.exit_code == 0, result.output
    assert installed(python)["onlyextra"] == "1.0"



@pytest.mark.parametrize(
    ("line", "flag", "expected"),
    [("prepkg", False, "1.0"), ("prepkg", True, "2.0rc1"), ("prepkg<2", True, "1.5rc1"),
     ("prepkg<1.5", True, "1.0"), ("prepkg>=2.0rc1", False, "2.0rc1")],
)
def test_pre_ranks_pre_releases_with_final_releases_as_pip_does(
    tmp_path: Path, index_server: IndexServer, line: str, flag: bool, expected: str,
) -> None:
    built = [build_wheel(tmp_path / "idx", WheelSpec(name="prepkg", version=v)).path
             for v in ("1.0", "1.5rc1", "2.0rc1")]
    base = index_server.add("simple", "/pre/simple", built)
    write(tmp_path / "r.txt", line + "\n")
    picked, _ = pip_dry_run(tmp_path, *(["--pre"] if flag else []), "--index-url", base,
                            "-r", tmp_path / "r.txt", env={"PIP_CONFIG_FILE": os.devnull})
    result = lock_file(tmp_path, base) if not flag else cross_lock(
        tmp_path, "--pre", "--index-url", base, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
    assert result.exit_code == 0, result.output
    assert locked(tmp_path / "l.toml")["prepkg"][0] == picked["prepkg"][0] == expected


@pytest.mark.parametrize("line", [
    'torch>=2; extra == "gpu"', "torch ; extra=='Torch_Vision'", 'a[b]>1 ;  extra == "x-y"  ',
    'torch; extra == "gpu" and python_version >= "3.8"', 'torch; python_version >= "3.8"', "torch",
    'torch; extra == ""', 'torch @ https://h/t.whl ; extra == "gpu"', 'torch; "gpu" == extra',
    'torch; extra != "gpu"', 'torch; (extra == "gpu")',
])
def test_a_line_for_an_extra_is_told_without_parsing_as_packaging_evaluates_it(line: str) -> None:
    # The consistency check and the resolver skip such lines unparsed; where the shortcut answers,
    # packaging's own evaluation must agree: false without the extra, true with exactly that one.
    extra = only_for_extra(line)
    if extra is None:
        return
    marker = Requirement(line).marker
    assert marker is not None
    env = {"python_version": "3.10"}
    assert not marker.evaluate({**env, "extra": ""})
    assert marker.evaluate({**env, "extra": extra})
    assert not marker.evaluate({**env, "extra": extra + "-other"})


def test_the_shortcut_answers_the_plain_extra_lines_only() -> None:
    told = ['torch>=2; extra == "gpu"', "torch ; extra=='Torch_Vision'", 'a[b]>1 ;  extra == "x-y"  ']
    assert [only_for_extra(line) for line in told] == ["gpu", "torch-vision", "x-y"]
    untold = ['torch; extra == "gpu" and python_version >= "3.8"', 'torch; python_version >= "3.8"',
              "torch", 'torch; extra == ""', 'torch @ https://h/t.whl ; extra == "gpu"']
    assert [only_for_extra(line) for line in untold] == [None] * len(untold)

