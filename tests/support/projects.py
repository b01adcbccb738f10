"""Source trees at test time: a project folder with its own in-tree PEP 517 backend, and git repositories.

The backend (``backend-path``) needs nothing from an index: pip, uv and jetpip all build it offline.
It packs sdists, builds wheels and editable wheels, and prepares metadata.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

_BACKEND = '''\
"""A PEP 517 backend that builds this tiny project in every way a frontend asks."""
import base64, hashlib, io, os, pathlib, tarfile, zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFIG = dict(line.split("=", 1) for line in (ROOT / "project.cfg").read_text().splitlines() if "=" in line)
NAME, VERSION = CONFIG["name"], CONFIG["version"]
REQUIRES = [r for r in CONFIG.get("requires", "").split(";;") if r]
DIST = NAME.replace("-", "_")


def _metadata():
    lines = ["Metadata-Version: 2.1", f"Name: {NAME}", f"Version: {VERSION}"]
    return "\\n".join(lines + [f"Requires-Dist: {r}" for r in REQUIRES]) + "\\n\\n"


def get_requires_for_build_wheel(config_settings=None):
    return []


get_requires_for_build_sdist = get_requires_for_build_editable = get_requires_for_build_wheel


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    folder = pathlib.Path(metadata_directory) / f"{DIST}-{VERSION}.dist-info"
    folder.mkdir()
    (folder / "METADATA").write_text(_metadata())
    return folder.name


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def _wheel(wheel_directory, files):
    name = f"{DIST}-{VERSION}-py3-none-any.whl"
    info = f"{DIST}-{VERSION}.dist-info"
    files = dict(files)
    files[f"{info}/METADATA"] = _metadata().encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\\nGenerator: tiny\\nRoot-Is-Purelib: true\\n"
                              b"Tag: py3-none-any\\n")
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            record.append(f"{path},sha256={digest},{len(data)}")
        record.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\\n".join(record) + "\\n")
    return name


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    source = (ROOT / DIST / "__init__.py").read_bytes()
    return _wheel(wheel_directory, {f"{DIST}/__init__.py": source})


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _wheel(wheel_directory, {f"_{DIST}_editable.pth": (str(ROOT) + "\\n").encode()})


def build_sdist(sdist_directory, config_settings=None):
    base = f"{DIST}-{VERSION}"
    members = {"PKG-INFO": _metadata().encode()}
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT).as_posix()
        if path.is_file() and not rel.startswith(".git") and "__pycache__" not in rel:
            members[rel] = path.read_bytes()
    with tarfile.open(os.path.join(sdist_directory, base + ".tar.gz"), "w:gz") as tf:
        for rel, data in sorted(members.items()):
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size, info.mtime, info.mode = len(data), 1_704_067_200, 0o644
            tf.addfile(info, io.BytesIO(data))
    return base + ".tar.gz"
'''


def write_project(dest: Path, name: str, version: str, requires: tuple[str, ...] = ()) -> Path:
    """A project folder ``dest`` (pyproject.toml, in-tree backend, one module); returns ``dest``."""
    dist = name.replace("-", "_")
    (dest / "_backend").mkdir(parents=True, exist_ok=True)
    (dest / dist).mkdir(exist_ok=True)
    (dest / "_backend" / "tinybackend.py").write_text(_BACKEND)
    (dest / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "tinybackend"\nbackend-path = ["_backend"]\n')
    (dest / "project.cfg").write_text(f"name={name}\nversion={version}\nrequires={';;'.join(requires)}\n")
    (dest / dist / "__init__.py").write_text(f"__version__ = {version!r}\n")
    return dest


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; its stdout."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def git_project(repo: Path, name: str, versions: tuple[str, ...]) -> dict[str, str]:
    """A git repository whose commits release ``versions`` in order, each tagged ``v<version>``.

    Returns {version: commit id}; the default branch ``main`` ends at the last version.
    """
    repo.mkdir(parents=True, exist_ok=True)
    git(repo, "init", "--quiet", "--initial-branch=main")
    commits = {}
    for version in versions:
        write_project(repo, name, version)
        git(repo, "add", "-A")
        git(repo, "commit", "--quiet", "-m", f"release {version}")
        git(repo, "tag", f"v{version}")
        commits[version] = git(repo, "rev-parse", "HEAD")
    return commits
