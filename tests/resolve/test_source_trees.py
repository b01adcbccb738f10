"""Source trees in requirements files: directories, -e, file: and git URLs, read, resolved and locked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from packaging.pylock import Pylock

from jetpip.cli import cli
from jetpip.errors import UsageError
from jetpip.lock.pylock import load_lock
from jetpip.resolve.requirements import RequirementLine, read_requirement_files
from tests.support.git_http import git_over_http
from tests.support.projects import git, git_project, write_project
from tests.support.server import IndexServer
from tests.support.wheels import WheelSpec, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cross_lock(tmp_path: Path, index: str, *args: str | Path) -> Result:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    argv = ["lock", "--root", root, "--python-version", f"{sys.version_info[0]}.{sys.version_info[1]}",
            "--platform", "linux_x86_64", "--glibc", "2.35", "--index-url", index, *args]
    return CliRunner().invoke(cli, [str(a) for a in argv], catch_exceptions=False)


@pytest.fixture
def index(index_server: IndexServer, tmp_path: Path) -> str:
    six = build_wheel(tmp_path / "wheels", WheelSpec(name="six", version="1.17.0"))
    return index_server.add("simple", "/simple", [six.path])


def test_a_project_directory_is_locked_as_a_directory_relative_to_the_lock(
    tmp_path: Path, index: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(tmp_path / "work" / "app", "app", "0.3", requires=("six>=1.16",))
    write_project(tmp_path / "work" / "lib", "my-lib", "1.2")
    (tmp_path / "work" / "r.txt").write_text("-e ./app\nfile://" + str(tmp_path / "work" / "lib") + "\n")
    monkeypatch.chdir(tmp_path / "work")  # as pip: a relative path is read from the working directory
    out = tmp_path / "locks" / "pylock.toml"
    out.parent.mkdir()
    result = cross_lock(tmp_path, index, "-r", "r.txt", "-o", out)
    assert result.exit_code == 0, result.output
    doc = tomllib.loads(out.read_text())
    Pylock.from_dict(doc)  # packaging's own validation
    by_name = {p["name"]: p for p in doc["packages"]}
    assert by_name["app"]["directory"] == {"path": "../work/app", "editable": True}
    assert by_name["my-lib"]["directory"] == {"path": "../work/lib", "editable": False}
    assert "version" not in by_name["app"]  # PEP 751: a directory's version may change after the lock
    assert by_name["app"]["tool"]["jetpip"]["version"] == "0.3"
    assert by_name["six"]["version"] == "1.17.0"  # its dependency, from the index
    back = load_lock(out).by_name()
    assert back["app"].project is not None and back["app"].project.location == str(tmp_path / "work" / "app")
    assert back["app"].project.editable and back["app"].version == "0.3"


def test_a_git_url_is_locked_at_the_commit_its_revision_names(tmp_path: Path, index: str) -> None:
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    url = (tmp_path / "repo").as_uri()
    (tmp_path / "r.txt").write_text(f"git+{url}@v1.0#egg=gitpkg\n")
    out = tmp_path / "pylock.toml"
    result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", out)
    assert result.exit_code == 0, result.output
    doc = tomllib.loads(out.read_text())
    Pylock.from_dict(doc)
    (pkg,) = doc["packages"]
    assert (pkg["name"], pkg["version"]) == ("gitpkg", "1.0")
    assert pkg["vcs"] == {"type": "git", "url": url, "requested-revision": "v1.0",
                          "commit-id": commits["1.0"]}
    # the default branch, named by 'name @ URL', is its newest commit
    (tmp_path / "r.txt").write_text(f"gitpkg @ git+{url}\n")
    result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", out)
    assert result.exit_code == 0, result.output
    (pkg,) = tomllib.loads(out.read_text())["packages"]
    assert pkg["version"] == "2.0" and pkg["vcs"]["commit-id"] == commits["2.0"]
    assert "requested-revision" not in pkg["vcs"]
    back = load_lock(out).by_name()["gitpkg"].project
    assert back is not None and (back.commit, back.location) == (commits["2.0"], url)


def test_a_git_url_with_credentials_over_http_is_locked_and_said_without_them(
    tmp_path: Path, index: str,
) -> None:
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0",))
    with git_over_http(tmp_path / "repo", "fleet", "s3cret") as (url, seen):
        host = url.removeprefix("http://")
        (tmp_path / "r.txt").write_text(f"gitpkg @ git+http://fleet:s3cret@{host}@v1.0\n")
        out = tmp_path / "pylock.toml"

        result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", out)

        assert result.exit_code == 0, result.output
        (pkg,) = tomllib.loads(out.read_text())["packages"]
        assert pkg["vcs"]["url"] == url and pkg["vcs"]["commit-id"] == commits["1.0"]
        assert "s3cret" not in out.read_text() and "s3cret" not in result.output
        assert any(h.startswith("Basic ") for h in seen)  # git answered the server's challenge

        (tmp_path / "r.txt").write_text(f"gitpkg @ git+http://fleet:wr0ng@{host}@v1.0\n")
        refused = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")

    assert refused.exit_code != 0
    assert "wr0ng" not in refused.output  # the user name may show, as pip shows it: fleet:****@
    assert f"{tmp_path / 'r.txt'}:1:" in refused.output and "Authentication failed" in refused.output
    assert "hint: the repository wants other credentials" in refused.output and "~/.netrc" in refused.output


def test_a_full_commit_id_and_a_branch_are_revisions_too(tmp_path: Path, index: str) -> None:
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    git(tmp_path / "repo", "branch", "stable", commits["1.0"])
    url = (tmp_path / "repo").as_uri()
    for rev, version in ((commits["1.0"], "1.0"), ("stable", "1.0"), ("main", "2.0")):
        (tmp_path / "r.txt").write_text(f"gitpkg @ git+{url}@{rev}\n")
        result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
        assert result.exit_code == 0, result.output
        (pkg,) = tomllib.loads((tmp_path / "l.toml").read_text())["packages"]
        assert (pkg["version"], pkg["vcs"]["commit-id"]) == (version, commits[version])


def test_a_revision_the_repository_lacks_is_an_error_naming_the_line(tmp_path: Path, index: str) -> None:
    git_project(tmp_path / "repo", "gitpkg", ("1.0",))
    (tmp_path / "r.txt").write_text(f"gitpkg @ git+{(tmp_path / 'repo').as_uri()}@v9\n")
    result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
    assert result.exit_code != 0
    assert f"{tmp_path / 'r.txt'}:1:" in result.output and "no branch, tag or commit 'v9'" in result.output


def test_a_name_that_is_not_the_projects_is_an_error(tmp_path: Path, index: str) -> None:
    write_project(tmp_path / "app", "app", "0.3")
    (tmp_path / "r.txt").write_text(f"other @ {(tmp_path / 'app').as_uri()}\n")
    result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
    assert result.exit_code != 0
    assert "the line names the project other, and" in result.output and "is app" in result.output



def test_a_project_folder_is_built_under_only_binary_as_pip_builds_it(tmp_path: Path, index: str) -> None:
    write_project(tmp_path / "app", "app", "0.3", requires=("six",))
    write(tmp_path / "r.txt", f"--only-binary :all:\n{tmp_path / 'app'}\n")
    result = cross_lock(tmp_path, index, "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
    assert result.exit_code == 0, result.output
    names = [p["name"] for p in tomllib.loads((tmp_path / "l.toml").read_text())["packages"]]
    assert names == ["app", "six"]


def test_hash_checking_mode_refuses_a_source_tree_as_pip_does(tmp_path: Path) -> None:
    write_project(tmp_path / "app", "app", "0.3")
    write(tmp_path / "r.txt", f"six==1.17.0 --hash=sha256:{'a' * 64}\n{tmp_path / 'app'}\n")
    with pytest.raises(UsageError, match=r"r.txt:2: hash-checking mode .* cannot check the source tree"):
        read_requirement_files([tmp_path / "r.txt"])


def test_arguments_are_read_as_the_same_lines_of_a_requirements_file(
    tmp_path: Path, index: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(tmp_path / "work" / "app", "app", "0.3", requires=("six",))
    write_project(tmp_path / "work" / "lib", "my-lib", "1.2")
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    git_line = f"gitpkg @ git+{(tmp_path / 'repo').as_uri()}@v1.0"
    monkeypatch.chdir(tmp_path / "work")  # relative paths from the working directory, as pip reads them
    write(tmp_path / "work" / "r.txt", f"-e ./app\n./lib\n{git_line}\n")
    from_file = cross_lock(tmp_path, index, "-r", "r.txt", "-o", tmp_path / "file.toml")
    assert from_file.exit_code == 0, from_file.output
    from_args = cross_lock(tmp_path, index, "-e", "./app", "./lib", git_line, "-o", tmp_path / "args.toml")
    assert from_args.exit_code == 0, from_args.output
    by_file, by_args = (tomllib.loads((tmp_path / n).read_text()) for n in ("file.toml", "args.toml"))
    assert by_args["packages"] == by_file["packages"]
    by_name = {p["name"]: p for p in by_args["packages"]}
    assert by_name["app"]["directory"] == {"path": "work/app", "editable": True}
    assert by_name["gitpkg"]["vcs"]["commit-id"] == commits["1.0"]
    assert by_args["tool"]["jetpip"]["command"][:5] == ["lock", "./lib", git_line, "-e", "./app"]


def test_an_argument_that_names_nothing_is_an_error_as_a_line_is(tmp_path: Path, index: str) -> None:
    result = cross_lock(tmp_path, index, "./nowhere", "-o", tmp_path / "l.toml")
    assert result.exit_code == 2
    assert f"command line: './nowhere' names {Path.cwd() / 'nowhere'}, which does not exist" in result.output
    result = cross_lock(tmp_path, index, "-e", "six", "-o", tmp_path / "l.toml")
    assert result.exit_code == 2 and "the option --editable needs a local project directory" in result.output


def test_no_build_refuses_a_source_tree_at_lock_time_naming_the_line(tmp_path: Path, index: str) -> None:
    write_project(tmp_path / "app", "app", "0.3")
    write(tmp_path / "r.txt", f"six\n{tmp_path / 'app'}\n")
    result = cross_lock(tmp_path, index, "--no-build", "-r", tmp_path / "r.txt", "-o", tmp_path / "l.toml")
    assert result.exit_code == 2
    assert f"{tmp_path / 'r.txt'}:2: --no-build, and the line names the source tree {tmp_path / 'app'}" \
        in result.output
    assert "hint: drop --no-build; or build a wheel of the project" in result.output
    result = cross_lock(tmp_path, index, "--no-build", "-e", tmp_path / "app", "-o", tmp_path / "l.toml")
    assert result.exit_code == 2
    assert "command line: --no-build, and the line names the source tree" in result.output
    assert not (tmp_path / "l.toml").exists()


def test_a_repository_is_mirrored_once_and_a_locked_commit_is_not_fetched_again(
    tmp_path: Path, index: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JETPIP_CACHE_DIR", str(tmp_path / "cache"))
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    url = (tmp_path / "repo").as_uri()

    def lock(rev: str) -> Result:
        result = cross_lock(tmp_path, index, f"gitpkg @ git+{url}@{rev}", "-o", tmp_path / "l.toml")
        assert result.exit_code == 0, result.output
        return result

    assert "cloning git+" in lock("v1.0").output
    again = lock("v1.0").output  # a tag may move: fetched into the mirror, never cloned again
    assert "fetching git+" in again and "cloning" not in again
    mirrors = [p for p in (tmp_path / "cache").rglob("*") if p.is_dir() and (p / "objects").is_dir()]
    assert len(mirrors) == 1 and (mirrors[0] / "HEAD").is_file()
    # a full commit id the mirror holds asks the repository nothing: it may even be gone
    (tmp_path / "repo").rename(tmp_path / "gone")
    for version in ("1.0", "2.0"):  # packed already, and not yet: checked out of the mirror
        quiet = lock(commits[version]).output
        assert "cloning" not in quiet and "fetching" not in quiet
        (pkg,) = tomllib.loads((tmp_path / "l.toml").read_text())["packages"]
        assert (pkg["version"], pkg["vcs"]["commit-id"]) == (version, commits[version])
        assert pkg["vcs"]["requested-revision"] == commits[version]  # this line's revision
    result = cross_lock(tmp_path, index, f"other @ git+{url}@{commits['2.0']}", "-o", tmp_path / "l.toml")
    assert result.exit_code == 2 and "the line names the project other, and" in result.output
    # offline, a tag is read from the mirror as it is; what it never fetched is said
    result = cross_lock(tmp_path, index, "--offline", f"gitpkg @ git+{url}@v1.0", "-o", tmp_path / "l.toml")
    assert result.exit_code == 0, result.output
    result = cross_lock(tmp_path, index, "--offline", f"gitpkg @ git+{url}@v9", "-o", tmp_path / "l.toml")
    assert result.exit_code == 3 and f"--offline, and jetpip's mirror of git+{url}@v9 has no revision 'v9'" \
        in result.output


# -- the reader, and the real pip beside it ---------------------------------------------------


def test_source_trees_and_local_files_read_as_pip_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_project(tmp_path / "app", "app", "0.3")
    wheel = build_wheel(tmp_path / "dist", WheelSpec(name="six", version="1.17.0"))
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "reqs" / "r.txt", "\n".join([
        "-e ./app",
        "./app[extra1,Extra2] ; python_version >= '3'",
        f"app @ {(tmp_path / 'app').as_uri()}",
        f"file://{tmp_path / 'app'}#egg=app",
        "dist/six-1.17.0-py3-none-any.whl",
        "git+https://u:hunter2@h.example/o/x.git@v1.0#egg=x&subdirectory=pkg",
        "y[cli] @ git+file:///srv/y.git ; sys_platform == 'linux'",
        "--pre",
    ]) + "\n")
    inputs = read_requirement_files([tmp_path / "reqs" / "r.txt"])
    lines = [r for r in inputs.requirements if isinstance(r, RequirementLine)]
    refs = [r.project for r in lines]
    app = str(tmp_path / "app")  # from the working directory, as pip reads a relative path
    assert [(p.kind, p.location, p.editable, p.name) for p in refs if p] == [
        ("directory", app, True, None), ("directory", app, False, None), ("directory", app, False, "app"),
        ("directory", app, False, "app"), ("vcs", "https://u:hunter2@h.example/o/x.git", False, "x"),
        ("vcs", "file:///srv/y.git", False, "y")]
    assert refs[1] is not None and (refs[1].extras, refs[1].marker) == (("extra1", "extra2"),
                                                                        'python_version >= "3"')
    x, y = refs[5], refs[6]
    assert x is not None and (x.revision, x.subdirectory, x.public_url()) == (
        "v1.0", "pkg", "https://h.example/o/x.git")
    assert y is not None and (y.revision, y.extras, y.marker) == (None, ("cli",), 'sys_platform == "linux"')
    six = lines[4]  # a local wheel file: the direct URL of that file
    assert (six.text, six.url, six.project) == ("six==1.17.0", wheel.path.as_uri(), None)
    assert inputs.pre and inputs.first_option() is not None
    assert len(inputs.projects) == 6
    assert "hunter2" not in repr(inputs)


def test_source_trees_local_files_and_pre_read_as_pip_reads_them(
    tmp_path: Path, index_server: IndexServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    here = tmp_path / "proj"
    write_project(here / "app", "app", "0.3", requires=("six>=1.16",))
    write_project(here / "libs" / "lib", "my-lib", "1.2")
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    local = build_wheel(here / "dist", WheelSpec(name="localpkg", version="0.5"))
    built = [build_wheel(tmp_path / "idx", WheelSpec(name=n, version=v)).path
             for n, v in (("six", "1.17.0"), ("prepkg", "1.0"), ("prepkg", "2.0rc1"))]
    base = index_server.add("simple", "/base/simple", built)
    repo = (tmp_path / "repo").as_uri()
    write(here / "requirements.txt", "\n".join([
        "--pre",
        "-e ./app",
        f"my-lib @ {(here / 'libs' / 'lib').as_uri()}",
        f"git+{repo}@v1.0#egg=gitpkg",
        "dist/" + local.filename,
        "prepkg",
        "./libs/lib ; sys_platform == 'win32'",
    ]) + "\n")
    monkeypatch.chdir(here)  # pip reads a relative path from the working directory
    report = tmp_path / "report.json"
    run = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps", "--report",
         str(report), "--index-url", base, "-r", "requirements.txt"],
        capture_output=True, text=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull}, timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    pips = {}
    for item in json.loads(report.read_text())["install"]:
        info = item["download_info"]
        extra = info.get("vcs_info", {}).get("commit_id") or info.get("dir_info", {}).get("editable", False)
        pips[item["metadata"]["name"]] = (item["metadata"]["version"], info["url"], extra)

    out = tmp_path / "locks" / "pylock.toml"
    out.parent.mkdir()
    result = cross_lock(tmp_path, base, "-r", "requirements.txt", "-o", out)
    assert result.exit_code == 0, result.output
    ours = {}
    for pkg in tomllib.loads(out.read_text())["packages"]:
        if not pkg["tool"]["jetpip"]["requested"]:
            continue  # pip ran with --no-deps
        version = pkg.get("version") or pkg["tool"]["jetpip"]["version"]
        if "directory" in pkg:
            folder = (out.parent / pkg["directory"]["path"]).resolve()
            ours[pkg["name"]] = (version, folder.as_uri(), pkg["directory"]["editable"])
        elif "vcs" in pkg:
            ours[pkg["name"]] = (version, pkg["vcs"]["url"], pkg["vcs"]["commit-id"])
        else:
            ours[pkg["name"]] = (version, pkg["wheels"][0]["url"], False)
    assert ours == pips
    assert pips["gitpkg"] == ("1.0", repo, commits["1.0"]) and pips["prepkg"][0] == "2.0rc1"
    assert pips["app"] == ("0.3", (here / "app").as_uri(), True)
