"""The shared option groups: one record each, the same options on every command that takes them."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest

from jetpip.cli import cli
from jetpip.cli.options import IndexOptions, TargetOptions
from jetpip.report import NullReporter

TARGET_COMMANDS = ("detect", "doctor", "hint", "install", "lock", "sync")
INDEX_COMMANDS = ("download", "install", "lock", "sync")


def _options(command: str) -> set[str]:
    found = cli.commands[command]
    return {p.name for p in found.params if isinstance(p, click.Option) and p.name}


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_each_command_takes_the_whole_target_and_index_groups_or_none(command: str) -> None:
    target = {f.name for f in dataclasses.fields(TargetOptions)}
    index = {f.name for f in dataclasses.fields(IndexOptions)}
    have = _options(command)
    assert (target <= have) == (command in TARGET_COMMANDS)
    assert not (target & have) or target <= have
    assert (index <= have) == (command in INDEX_COMMANDS)
    assert not (index & have) or index <= have


def test_target_options_build_the_overrides() -> None:
    options = TargetOptions(jetpack="6.2", cuda="12.6", platform="linux_aarch64", python_version="3.10")
    overrides = options.overrides()
    assert (overrides.jetpack, overrides.cuda, overrides.platform) == ("6.2", "12.6", "linux_aarch64")
    assert overrides.is_cross
    assert not TargetOptions(python="/usr/bin/python3").overrides().is_cross


def test_index_options_win_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "https://env.example/simple")
    monkeypatch.setenv("JETPIP_CACHE_DIR", str(tmp_path / "c"))
    index = IndexOptions(extra_index_url=("https://x.example/simple",), trusted_host=("x.example",),
                         timeout=3.0, offline=True)
    with index.client(None, NullReporter()) as c:
        assert c.config.index_url == "https://env.example/simple"
        assert [s.trusted for s in c.config.sources()] == [False, True]
        assert c.config.timeout == 3.0 and c.offline
        assert c.cache.base == tmp_path / "c"
    with index.client(None, NullReporter(), no_index=True) as c:
        assert c.config.no_index and list(c.config.sources()) == []  # only trust and TLS apply
