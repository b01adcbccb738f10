"""Shared fixtures: environment isolation, the loopback index server, wheels built at test time."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.server import IndexServer
from tests.support.wheels import BuiltWheel, WheelSpec, build_wheel

# Real venvs and the loopback mirror for the install and command tests.
pytest_plugins = ["tests.support.venv_fixtures"]


@pytest.fixture(autouse=True)
def _isolate_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop PIP_* / JETPIP_* / proxy settings and point every cache and config dir at a temp dir."""
    for key in list(os.environ):
        if key.startswith(("PIP_", "JETPIP_", "UV_")) or key.lower() in (
            "http_proxy", "https_proxy", "all_proxy", "no_proxy",
        ):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    # pip inside test venvs must not read this machine's pip.conf files either.
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_DISABLE_PIP_VERSION_CHECK", "1")
    monkeypatch.setenv("PIP_NO_INPUT", "1")


@pytest.fixture
def index_server() -> Iterator[IndexServer]:
    """A started loopback index server; add mounts with ``server.add(kind, prefix, files)``."""
    server = IndexServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def wheel_dir(tmp_path: Path) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    return d


@pytest.fixture
def make_wheel(wheel_dir: Path):  # type: ignore[no-untyped-def]
    """``make_wheel(name, version, **WheelSpec fields) -> BuiltWheel``."""

    def _make(name: str, version: str, **kw: object) -> BuiltWheel:
        return build_wheel(wheel_dir, WheelSpec(name=name, version=version, **kw))  # type: ignore[arg-type]

    return _make
