"""Real venvs for end-to-end installs: one template per kind, copied per test, and the mirror."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.mirror import Mirror, start_mirror

MakeVenv = Callable[..., Path]


def _python(venv: Path) -> Path:
    return venv / "bin" / "python"


@pytest.fixture(scope="session")
def _venv_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {}


@pytest.fixture
def make_venv(
    _venv_templates: dict[str, Path], tmp_path_factory: pytest.TempPathFactory, tmp_path: Path,
) -> MakeVenv:
    """``make_venv(system_site=False, pip=True) -> python``: a fresh venv (a copy of a template)."""

    def make(system_site: bool = False, pip: bool = True, name: str = "venv") -> Path:
        key = f"{'sys' if system_site else 'iso'}-{'pip' if pip else 'nopip'}"
        template = _venv_templates.get(key)
        if template is None:
            template = tmp_path_factory.mktemp("venv-template") / key
            cmd = [sys.executable, "-m", "venv", str(template)]
            if system_site:
                cmd.append("--system-site-packages")
            if not pip:
                cmd.append("--without-pip")
            subprocess.run(cmd, check=True, env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
            _venv_templates[key] = template
        dest = tmp_path / name
        # cp -a keeps the bin/python symlink; a venv finds its prefix from the copied pyvenv.cfg.
        subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
        return _python(dest)

    return make


@pytest.fixture(scope="session")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    """The loopback mirror with the stand-in CUDA wheels and the base-index packages."""
    m = start_mirror(tmp_path_factory.mktemp("mirror"))
    try:
        yield m
    finally:
        m.server.stop()
