"""Source trees (a folder, an editable project, a git commit) installed in real venvs by install and sync."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jetpip.cli import cli
from tests.support.git_http import git_over_http
from tests.support.projects import git, git_project, write_project
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import installed, run_python
from tests.support.wheels import WheelSpec, build_wheel


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def origin(python: Path, name: str) -> dict[str, object]:
    code = f"import importlib.metadata as m; print(m.distribution({name!r}).read_text('direct_url.json'))"
    return dict(json.loads(run_python(python, code)))


def assert_trees(python: Path, app: Path, lib: Path, repo: str, commit: str) -> None:
    """The folder, the editable folder and the git commit are installed, each naming its source."""
    got = installed(python)
    assert (got["app"], got["my-lib"], got["gitpkg"], got["six"]) == ("0.3", "1.2", "1.0", "1.17.0")
    assert origin(python, "app") == {"url": app.as_uri(), "dir_info": {"editable": True}}
    assert origin(python, "my-lib") == {"url": lib.as_uri(), "dir_info": {"editable": False}}
    assert origin(python, "gitpkg") == {"url": repo, "vcs_info": {
        "vcs": "git", "commit_id": commit, "requested_revision": "v1.0"}}


def test_directories_editables_and_git_commits_install_with_their_provenance(
    tmp_path: Path, index_server: IndexServer, make_venv: MakeVenv,
) -> None:
    six = build_wheel(tmp_path / "wheels", WheelSpec(name="six", version="1.17.0"))
    index = index_server.add("simple", "/simple", [six.path])
    app = write_project(tmp_path / "app", "app", "0.3", requires=("six",))
    lib = write_project(tmp_path / "lib", "my-lib", "1.2")
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    repo = (tmp_path / "repo").as_uri()
    (tmp_path / "r.txt").write_text(f"-e {app}\n{lib}\ngit+{repo}@v1.0#egg=gitpkg\n")
    python = make_venv()
    root = tmp_path / "root"
    root.mkdir()
    result = jetpip("install", "--python", python, "--root", root, "--index-url", index,
                    "-r", tmp_path / "r.txt")
    assert result.exit_code == 0, result.output
    assert_trees(python, app, lib, repo, commits['1.0'])
    # the editable install runs the project's own files
    (app / "app" / "__init__.py").write_text("__version__ = 'edited'\n")
    assert run_python(python, "import app; print(app.__version__)") == "edited"

    # a lock names the trees; sync builds them into a fresh venv, each from where the lock says
    lock = tmp_path / "locks" / "pylock.toml"
    lock.parent.mkdir()
    result = jetpip("lock", "--python", python, "--root", root, "--index-url", index,
                    "-r", tmp_path / "r.txt", "-o", lock)
    assert result.exit_code == 0, result.output
    git_project(tmp_path / "repo", "gitpkg", ("3.0",))
    git(tmp_path / "repo", "tag", "--force", "v1.0", "HEAD")  # the tag moves on; the lock's commit does not
    fresh = make_venv(name="fresh")
    result = jetpip("sync", lock, "--python", fresh, "--root", root, "--index-url", index)
    assert result.exit_code == 0, result.output
    assert_trees(fresh, app, lib, repo, commits['1.0'])
    assert run_python(fresh, "import app; print(app.__version__)") == "edited"  # the folder, as it is now
    # a wheelhouse has no file of a tree; offline, each comes from its folder or jetpip's git mirror
    result = jetpip("download", lock, "-d", tmp_path / "wheelhouse")
    assert result.exit_code == 0, result.output
    assert f"warning: gitpkg is locked from the source tree git+{repo}@v1.0; it has no file" in result.output
    assert sorted(p.name for p in (tmp_path / "wheelhouse").iterdir()) == [six.path.name]
    result = jetpip("sync", lock, "--python", fresh, "--root", root, "--offline",
                    "--find-links", tmp_path / "wheelhouse")
    assert result.exit_code == 0, result.output
    assert "replaced  gitpkg 1.0" in result.output and "3 replaced" in result.output

    # --no-build refuses the trees before anything is built; a commit the repository lacks is refused
    result = jetpip("sync", lock, "--python", fresh, "--root", root, "--index-url", index, "--no-build")
    assert result.exit_code != 0
    assert "--no-build, and the lock names source distributions or source trees" in result.output
    assert f"gitpkg 1.0 (git+{repo}@v1.0)" in result.output and f"app 0.3 ({app})" in result.output
    moved = tmp_path / "deeper" / "locks" / "pylock.toml"  # '../app' is read from the lock's own folder
    moved.parent.mkdir(parents=True)
    moved.write_text(lock.read_text())
    result = jetpip("sync", moved, "--python", fresh, "--root", root, "--index-url", index)
    assert result.exit_code != 0
    assert f"app is locked from the folder {tmp_path / 'deeper' / 'app'}, which holds no project" \
        in result.output
    lock.write_text(lock.read_text().replace(commits["1.0"], "0" * 40))
    result = jetpip("sync", lock, "--python", fresh, "--root", root, "--index-url", index)
    assert result.exit_code != 0
    assert f"the repository has no commit '{'0' * 40}'" in result.output


def test_a_git_project_locked_with_credentials_syncs_with_them_from_netrc(
    tmp_path: Path, index_server: IndexServer, make_venv: MakeVenv, monkeypatch: pytest.MonkeyPatch,
) -> None:
    six = build_wheel(tmp_path / "wheels", WheelSpec(name="six", version="1.17.0"))
    index = index_server.add("simple", "/simple", [six.path])
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0",))
    python, root, lock = make_venv(), tmp_path / "root", tmp_path / "pylock.toml"
    root.mkdir()
    with git_over_http(tmp_path / "repo", "fleet", "s3cret") as (url, _):
        host = url.removeprefix("http://")
        result = jetpip("lock", "--python", python, "--root", root, "--index-url", index,
                        f"gitpkg @ git+http://fleet:s3cret@{host}@v1.0", "-o", lock)
        assert result.exit_code == 0, result.output
        assert "s3cret" not in lock.read_text()
        # Another machine: a cache with no mirror of the repository, and the lock holds no password.
        monkeypatch.setenv("JETPIP_CACHE_DIR", str(tmp_path / "elsewhere"))
        refused = jetpip("sync", lock, "--python", python, "--root", root, "--index-url", index)
        assert refused.exit_code != 0 and "hint: the repository wants other credentials" in refused.output
        netrc = Path.home() / ".netrc"
        netrc.write_text(f"machine {host.split(':')[0]} login fleet password s3cret\n")
        netrc.chmod(0o600)

        result = jetpip("sync", lock, "--python", python, "--root", root, "--index-url", index)

    assert result.exit_code == 0, result.output
    assert installed(python)["gitpkg"] == "1.0" and "s3cret" not in result.output
    assert origin(python, "gitpkg") == {"url": url, "vcs_info": {
        "vcs": "git", "commit_id": commits["1.0"], "requested_revision": "v1.0"}}


def test_install_takes_folders_editables_and_git_urls_as_arguments(
    tmp_path: Path, index_server: IndexServer, make_venv: MakeVenv, monkeypatch: pytest.MonkeyPatch,
) -> None:
    six = build_wheel(tmp_path / "wheels", WheelSpec(name="six", version="1.17.0"))
    index = index_server.add("simple", "/simple", [six.path])
    app = write_project(tmp_path / "work" / "app", "app", "0.3", requires=("six",))
    lib = write_project(tmp_path / "work" / "lib", "my-lib", "1.2")
    commits = git_project(tmp_path / "repo", "gitpkg", ("1.0", "2.0"))
    repo = (tmp_path / "repo").as_uri()
    monkeypatch.chdir(tmp_path / "work")  # as pip: a relative path is read from the working directory
    python = make_venv()
    result = jetpip("install", "--python", python, "--root", tmp_path, "--index-url", index,
                    "-e", "./app", "./lib", f"gitpkg @ git+{repo}@{commits['1.0']}")
    assert result.exit_code == 0, result.output
    got = installed(python)
    assert (got["app"], got["my-lib"], got["gitpkg"], got["six"]) == ("0.3", "1.2", "1.0", "1.17.0")
    assert origin(python, "app") == {"url": app.as_uri(), "dir_info": {"editable": True}}
    assert origin(python, "my-lib") == {"url": lib.as_uri(), "dir_info": {"editable": False}}
    assert origin(python, "gitpkg") == {"url": repo, "vcs_info": {
        "vcs": "git", "commit_id": commits["1.0"], "requested_revision": commits["1.0"]}}
