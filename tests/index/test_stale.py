"""Stale-if-error against the real loopback server: a down index, a warm cache, and what the user sees."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from packaging.pylock import Pylock

from jetpip.cli import cli
from jetpip.errors import IndexUnreachableError
from jetpip.index.cache import Cache
from jetpip.index.client import IndexClient
from jetpip.index.config import IndexConfig
from jetpip.index.stale import age_text
from jetpip.lock.pylock import parse_lock
from jetpip.model.sources import Source
from jetpip.model.urls import Url
from jetpip.report import RecordingReporter
from tests.support.mirror import ORIN_JP62, start_mirror
from tests.support.server import IndexServer
from tests.support.wheels import WheelSpec, build_wheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

SECRET = "s3cret"


def _with_secret(url: str) -> str:
    return url.replace("http://", f"http://fleet:{SECRET}@", 1)


def _client(url: str, cache_dir: Path, reporter: RecordingReporter | None = None, **kw: bool) -> IndexClient:
    return IndexClient(IndexConfig(index_url=url, retries=1), cache_dir=cache_dir, reporter=reporter, **kw)


def _age_page(cache_dir: Path, page_url: str, seconds: float) -> None:
    """Make the cached page as old as ``seconds``, as if the last run had been that long ago."""
    cache = Cache(cache_dir)
    page = cache.page(page_url, "simple")
    assert page is not None
    cache.store_page(page_url, "simple", dataclasses.replace(page, fetched_at=time.time() - seconds))


@pytest.fixture
def warm(index_server: IndexServer, tmp_path: Path) -> tuple[str, Path]:
    """An index with one project whose page is cached, three hours old; the URL carries credentials."""
    wheel = build_wheel(tmp_path / "wheels", WheelSpec("demo", "1.0"))
    url = _with_secret(index_server.add("simple", "/simple", [wheel.path]))
    cache_dir = tmp_path / "cache"
    with _client(url, cache_dir) as c:
        assert c.project_page(Source("base index", "simple", Url.parse(url)), "demo").found
    _age_page(cache_dir, f"{Url(url).without_credentials()}/demo/", 3 * 3600)
    return url, cache_dir


@pytest.mark.parametrize("fault", ["stopped", "503", "reset"])
def test_a_down_index_is_read_from_the_cache_with_a_warning(
    warm: tuple[str, Path], index_server: IndexServer, fault: str,
) -> None:
    url, cache_dir = warm
    if fault == "stopped":
        index_server.stop()
    else:
        index_server.fault("/simple/", "503" if fault == "503" else "drop")
    reporter = RecordingReporter()
    with _client(url, cache_dir, reporter) as c:
        page = c.project_page(Source("base index", "simple", Url.parse(url)), "demo")
        record = c.stale_record()
    assert page.found and [f.filename for f in page.files] == ["demo-1.0-py3-none-any.whl"]
    (warning,) = reporter.warnings
    shown = str(Url(url).without_credentials())
    reason = {"stopped": "Connection refused", "503": "(HTTP 503)", "reset": "Server disconnected"}[fault]
    assert warning.startswith(f"{shown} cannot be reached (") and reason in warning
    assert f"using the copy of {shown}/demo/ from 3 h ago" in warning
    assert SECRET not in warning
    (line,) = record
    assert line.startswith(f"{shown}: unreachable (") and "1 cached page used, the oldest fetched" in line


def test_refresh_makes_a_down_index_an_error_that_names_the_cached_copy(
    warm: tuple[str, Path], index_server: IndexServer,
) -> None:
    url, cache_dir = warm
    index_server.fault("/simple/", "503")
    with _client(url, cache_dir, refresh=True) as c, pytest.raises(IndexUnreachableError) as err:
        c.project_page(Source("base index", "simple", Url.parse(url)), "demo")
    assert "answered HTTP 503 on all 2 tries" in str(err.value)
    assert "from 3 h ago is cached: drop --refresh" in (err.value.hint or "")
    assert SECRET not in f"{err.value} {err.value.hint}"


def test_a_cold_cache_still_fails_with_the_offline_and_wheelhouse_hint(
    index_server: IndexServer, tmp_path: Path,
) -> None:
    url = _with_secret(index_server.add("simple", "/simple", []))
    index_server.stop()
    with _client(url, tmp_path / "cache") as c, pytest.raises(IndexUnreachableError) as err:
        c.project_page(Source("base index", "simple", Url.parse(url)), "demo")
    hint = err.value.hint or ""
    assert "--offline" in hint and "jetpip download pylock.toml -d DIR" in hint
    assert SECRET not in f"{err.value} {hint}"


def test_offline_stays_strict(warm: tuple[str, Path], index_server: IndexServer) -> None:
    url, cache_dir = warm
    reporter = RecordingReporter()
    before = len(index_server.requests())
    with _client(url, cache_dir, reporter, offline=True) as c:
        assert c.project_page(Source("base index", "simple", Url.parse(url)), "demo").found
        assert c.stale_record() == ()
    assert reporter.warnings == [] and len(index_server.requests()) == before


def test_age_text() -> None:
    assert [age_text(s) for s in (4, 600, 3 * 3600 + 100, 3 * 86400)] == ["4 s", "10 min", "3 h", "3 days"]


def test_a_lock_made_while_the_index_is_down_says_so(tmp_path: Path) -> None:
    server = IndexServer().start()
    try:
        mirror = start_mirror(tmp_path / "mirror", server)
        env = {"JETPIP_CACHE_DIR": str(tmp_path / "cache")}
        lockfile = tmp_path / "pylock.toml"
        args = ["lock", "tinyformers", "--python", sys.executable, "--root", str(ORIN_JP62), "--indexes",
                str(mirror.overlay), "--index-url", _with_secret(f"{mirror.base_url}/"), "--retries", "0",
                "-o", str(lockfile)]
        first = CliRunner().invoke(cli, args, env=env)
        assert first.exit_code == 0, first.output
        assert "stale" not in tomllib.loads(lockfile.read_text())["tool"]["jetpip"]
        fresh_lock = lockfile.read_text()
    finally:
        server.stop()

    again = CliRunner().invoke(cli, args, env=env)
    assert again.exit_code == 0, again.output
    assert "cannot be reached" in again.stderr and "using the copy of" in again.stderr
    tool = tomllib.loads(lockfile.read_text())["tool"]["jetpip"]
    assert any(line.startswith(f"{mirror.base_url}/: unreachable (") for line in tool["stale"])
    assert parse_lock(lockfile.read_text()).stale == tuple(tool["stale"])  # read back as written
    Pylock.from_dict(tomllib.loads(lockfile.read_text()))  # still a valid PEP 751 lock
    # The same files as the lock made while the index was up.
    assert tomllib.loads(lockfile.read_text())["packages"] == tomllib.loads(fresh_lock)["packages"]

    refused = CliRunner().invoke(cli, [*args, "--refresh"], env=env)
    assert refused.exit_code == 3 and "drop --refresh" in refused.stderr
    for result in (first, again, refused):
        assert SECRET not in result.stdout + result.stderr
    assert SECRET not in lockfile.read_text()
