"""Source trees installed into real venvs: a directory, an editable project, a git commit; sync refuses."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from jetpip.cli import cli
from tests.support.projects import git_project, write_project
from tests.support.server import IndexServer
from tests.support.venv_fixtures import MakeVenv
from tests.support.venvs import installed, run_python
from tests.support.wheels import WheelSpec, build_wheel


def jetpip(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def origin(python: Path, name: str) -> dict[str, object]:
    code = f"import importlib.metadata as m; print(m.distribution({name!r}).read_text('direct_url.json'))"
    return dict(json.loads(run_python(python, code)))


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
    got = installed(python)
    assert (got["app"], got["my-lib"], got["gitpkg"], got["six"]) == ("0.3", "1.2", "1.0", "1.17.0")
    assert origin(python, "app") == {"url": app.as_uri(), "dir_info": {"editable": True}}
    assert origin(python, "my-lib") == {"url": lib.as_uri(), "dir_info": {"editable": False}}
    assert origin(python, "gitpkg") == {"url": repo, "vcs_info": {
        "vcs": "git", "commit_id": commits["1.0"], "requested_revision": "v1.0"}}
    # the editable install runs the project's own files
    (app / "app" / "__init__.py").write_text("__version__ = 'edited'\n")
    assert run_python(python, "import app; print(app.__version__)") == "edited"

    # a lock names the trees; sync says it cannot build them and what to do instead
    lock = tmp_path / "pylock.toml"
    result = jetpip("lock", "--python", python, "--root", root, "--index-url", index,
                    "-r", tmp_path / "r.txt", "-o", lock)
    assert result.exit_code == 0, result.output
    result = jetpip("sync", lock, "--python", python, "--root", root)
    assert result.exit_code != 0
    assert "the lock names source trees, which `jetpip sync` does not build yet" in result.output
    assert "jetpip install -r" in result.output
