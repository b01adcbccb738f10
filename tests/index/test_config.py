"""Index configuration: pip.conf files, PIP_* variables and flags, with pip's precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jetpip.errors import IndexFetchError
from jetpip.index import config as config_mod
from jetpip.index.client import IndexClient
from jetpip.index.config import (
    PIP_DEFAULT_INDEX,
    ConfigError,
    FileOption,
    FileSettings,
    IndexConfig,
    load_index_config,
)
from jetpip.model.sources import Source
from jetpip.model.target import Interpreter
from jetpip.model.urls import Url
from tests.support.server import IndexServer


def interp(prefix: Path | None = None, default: str | None = "https://default.example/simple") -> Interpreter:
    return Interpreter(executable=None, version="3.10.12", implementation="cpython",
                       platforms=("linux_aarch64",), pip_default_index=default,
                       prefix=str(prefix) if prefix else None)


@pytest.fixture
def files_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An environment in which pip config files are read, all of them under tmp_path."""
    monkeypatch.setattr(config_mod, "SYSTEM_CONFIG", tmp_path / "etc" / "pip.conf")
    return {"HOME": str(tmp_path / "home"), "XDG_CONFIG_HOME": str(tmp_path / "home" / ".config"),
            "XDG_CONFIG_DIRS": str(tmp_path / "xdg")}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_devnull_loads_no_files_and_falls_back_to_the_targets_pip_default(tmp_path: Path) -> None:
    write(tmp_path / "prefix" / "pip.conf", "[global]\nindex-url = https://site.example/simple\n")
    cfg = load_index_config(interp(tmp_path / "prefix"), {"PIP_CONFIG_FILE": os.devnull}, {})
    assert cfg.index_url == "https://default.example/simple"
    assert cfg.origins["index-url"] == "the target's pip default"
    (src,) = cfg.sources()
    assert (src.name, src.kind, src.url) == ("base index", "simple", Url("https://default.example/simple"))
    assert (cfg.timeout, cfg.retries) == (15.0, 5)  # the defaults docs/configuration.md gives


def test_nothing_configured_means_pips_default_index_as_pip_does() -> None:
    # A cross Target has no pip to ask, and a target's pip may not state its default: pip itself
    # then reads its own default index. The configuration says so; nothing is fetched here.
    for interpreter in (None, interp(default=None)):
        cfg = load_index_config(interpreter, {"PIP_CONFIG_FILE": os.devnull}, {})
        assert cfg.index_url == PIP_DEFAULT_INDEX
        assert cfg.origins["index-url"] == "pip's default index"
        (src,) = cfg.sources()
        assert (src.name, src.url) == ("base index", Url(PIP_DEFAULT_INDEX))
    # pip's own constant, where this environment has pip to read it from
    pip_index = pytest.importorskip("pip._internal.models.index")
    assert pip_index.PyPI.simple_url == PIP_DEFAULT_INDEX
    # --no-index still means no index at all (download reads only local files)
    assert load_index_config(None, {"PIP_CONFIG_FILE": os.devnull}, {"no_index": True}).sources() == []


def test_a_requirements_files_index_url_replaces_every_index_before_it() -> None:
    # pip's req_file.handle_option_line: index_urls = [file's --index-url]; the command line's
    # --index-url and every --extra-index-url (config, flags, or the file's earlier lines) drop out.
    flags = {"index_url": "https://cli.example/simple", "extra_index_url": ["https://cli-extra.example/simple"]}
    files = FileSettings(options=(
        FileOption("--extra-index-url", "https://early.example/simple", "r.txt:1"),
        FileOption("--index-url", "https://file.example/simple", "r.txt:2"),
        FileOption("--extra-index-url", "https://late.example/simple", "r.txt:3"),
        FileOption("--find-links", "/srv/wheels", "r.txt:4"),
        FileOption("--trusted-host", "late.example", "r.txt:5"),
    ))
    cfg = load_index_config(None, {"PIP_CONFIG_FILE": os.devnull,
                                   "PIP_EXTRA_INDEX_URL": "https://env.example/simple"}, flags, files)
    assert cfg.index_url == "https://file.example/simple"
    assert cfg.extra_index_urls == ("https://late.example/simple",)
    assert cfg.find_links == ("/srv/wheels",) and cfg.trusted_hosts == ("late.example",)
    assert cfg.origins["index-url"] == "r.txt:2" and cfg.origins["extra-index-url"] == "r.txt:3"
    assert cfg.is_trusted("https://late.example/x.whl")


def test_a_requirements_files_extra_index_url_adds_to_the_command_line() -> None:
    flags = {"index_url": "https://cli.example/simple"}
    files = FileSettings(options=(
        FileOption("--extra-index-url", "https://jetson.example/jp6/cu126", "r:1"),))
    cfg = load_index_config(None, {"PIP_CONFIG_FILE": os.devnull}, flags, files)
    assert [str(s.url) for s in cfg.sources()] == ["https://cli.example/simple", "https://jetson.example/jp6/cu126"]


def test_a_requirements_files_no_index_drops_every_index_and_later_ones() -> None:
    files = FileSettings(options=(
        FileOption("--no-index", "", "r:1"),
        FileOption("--index-url", "https://ignored.example/simple", "r:2"),
        FileOption("--extra-index-url", "https://ignored.example/x", "r:3"),
        FileOption("--find-links", "/srv/wheels", "r:4"),
    ))
    cfg = load_index_config(None, {"PIP_CONFIG_FILE": os.devnull}, {"index_url": "https://c.example"}, files)
    assert cfg.no_index and cfg.index_url is None and cfg.extra_index_urls == ()
    assert [s.kind for s in cfg.sources()] == ["flat"]


def test_direct_urls_come_first_and_are_trusted_and_the_repr_hides_passwords() -> None:
    files = FileSettings(options=(
        FileOption("direct-url", "https://u:secret@files.example/six-1.17.0-py3-none-any.whl", "r:1"),))
    cfg = load_index_config(None, {"PIP_CONFIG_FILE": os.devnull}, {"index_url": "https://i.example"}, files)
    first = cfg.sources()[0]
    assert first.kind == "flat" and first.trusted
    assert first.name == "direct URL https://files.example/six-1.17.0-py3-none-any.whl"
    assert "secret" not in repr(cfg) and "secret" not in repr(files)


def test_file_precedence_global_then_install_sections(tmp_path: Path, files_env: dict[str, str]) -> None:
    write(tmp_path / "etc" / "pip.conf", "[global]\nindex-url = https://etc.example/simple\ntimeout = 7\n")
    write(tmp_path / "xdg" / "pip" / "pip.conf", "[install]\nindex-url = https://xdg-install.example/simple\n")
    write(tmp_path / "home" / ".pip" / "pip.conf", "[global]\nretries = 2\n")
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf",
          "[global]\nindex_url = https://user.example/simple\nretries = 3\n"
          "extra-index-url =\n    https://a.example/simple\n    https://b.example/simple\n")
    write(tmp_path / "prefix" / "pip.conf", "[global]\ntrusted-host = a.example\n")
    cfg = load_index_config(interp(tmp_path / "prefix"), files_env, {})
    # pip applies every file's [global], then every file's [install]
    assert cfg.index_url == "https://xdg-install.example/simple"
    assert cfg.timeout == 7.0 and cfg.retries == 3  # the XDG user file comes after ~/.pip
    assert cfg.extra_index_urls == ("https://a.example/simple", "https://b.example/simple")
    names = [(s.name, s.trusted) for s in cfg.sources()]
    assert names == [("base index", False), ("extra index https://a.example/simple", True),
                     ("extra index https://b.example/simple", False)]


def test_pip_config_file_env_is_read_last(tmp_path: Path, files_env: dict[str, str]) -> None:
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf", "[global]\nindex-url = https://user/simple\n")
    explicit = write(tmp_path / "explicit.conf", "[global]\nindex-url = https://explicit/simple\n")
    cfg = load_index_config(interp(), {**files_env, "PIP_CONFIG_FILE": str(explicit)}, {})
    assert cfg.index_url == "https://explicit/simple"
    assert cfg.origins["index-url"] == f"{explicit} [global]"


def test_env_beats_files_and_flags_beat_env(tmp_path: Path, files_env: dict[str, str]) -> None:
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf",
          "[install]\nindex-url = https://file/simple\nextra-index-url = https://file-extra/simple\n")
    env = {**files_env, "PIP_INDEX_URL": "https://env/simple",
           "PIP_EXTRA_INDEX_URL": "https://env-x1/simple https://env-x2/simple", "PIP_TIMEOUT": "30",
           "PIP_TRUSTED_HOST": "env-x1"}
    cfg = load_index_config(interp(), env, {})
    assert cfg.index_url == "https://env/simple" and cfg.origins["index-url"] == "PIP_INDEX_URL"
    assert cfg.extra_index_urls == ("https://env-x1/simple", "https://env-x2/simple")
    assert cfg.timeout == 30.0
    cli: dict[str, object] = {"index_url": "https://flag/simple", "extra_index_url": ("https://flag-x/simple",),
                              "timeout": 2.5, "retries": 0, "find_links": (), "trusted_host": ()}
    cfg = load_index_config(interp(), env, cli)
    assert cfg.index_url == "https://flag/simple" and cfg.timeout == 2.5 and cfg.retries == 0
    # like pip, list flags add to what the config gave
    assert cfg.extra_index_urls == ("https://env-x1/simple", "https://env-x2/simple", "https://flag-x/simple")
    assert cfg.sources()[1].trusted


def test_find_links_local_directory_becomes_a_file_url(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    cfg = load_index_config(interp(), {"PIP_CONFIG_FILE": os.devnull,
                                       "PIP_FIND_LINKS": f"{wheelhouse} https://redist.example/pytorch/"}, {})
    base, local, remote = cfg.sources()
    assert base.kind == "simple"
    assert (local.kind, local.url, local.trusted) == ("flat", Url(wheelhouse.as_uri() + "/"), True)
    assert (remote.kind, remote.url, remote.trusted) == (
        "flat", Url("https://redist.example/pytorch/"), False)


def test_bad_number_names_the_setting_and_its_origin() -> None:
    with pytest.raises(ConfigError) as err:
        load_index_config(interp(), {"PIP_CONFIG_FILE": os.devnull, "PIP_RETRIES": "many"}, {})
    assert "retries = 'many' (from PIP_RETRIES)" in str(err.value)
    assert "non-negative integer" in (err.value.hint or "")


def test_unreadable_config_file(tmp_path: Path, files_env: dict[str, str]) -> None:
    bad = write(tmp_path / "home" / ".config" / "pip" / "pip.conf", "index-url = no section header\n")
    with pytest.raises(ConfigError) as err:
        load_index_config(interp(), files_env, {})
    assert str(bad) in str(err.value) and "PIP_CONFIG_FILE" in (err.value.hint or "")


def test_proxies_netrc_and_credentials_redacted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    write(home / ".netrc", "machine idx.example login u password p\n")
    env = {"PIP_CONFIG_FILE": os.devnull, "HOME": str(home), "HTTPS_PROXY": "proxy.corp:3128",
           "http_proxy": "http://p2:8080", "NO_PROXY": "localhost,.internal",
           "PIP_INDEX_URL": "https://me:topsecret@idx.example/simple"}
    cfg = load_index_config(interp(), env, {})
    assert cfg.proxies == {"https": "http://proxy.corp:3128", "http": "http://p2:8080"}
    assert cfg.no_proxy == ("localhost", ".internal")
    assert cfg.netrc == str(home / ".netrc")
    assert "topsecret" not in cfg.sources()[0].name
    assert all("topsecret" not in line for line in config_mod.describe(cfg))
    assert "topsecret" not in repr(cfg) and "me:****@" in repr(cfg)
    assert cfg.sources()[0].url.secret() == "https://me:topsecret@idx.example/simple"  # for the transport


def test_an_index_url_that_is_no_url_is_a_config_error_without_the_password() -> None:
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_EXTRA_INDEX_URL": "me:topsecret@idx.example/simple"}
    cfg = load_index_config(interp(), env, {})
    with pytest.raises(ConfigError) as err:
        cfg.sources()
    assert "extra-index-url (from PIP_EXTRA_INDEX_URL)" in str(err.value)
    assert "topsecret" not in str(err.value) and "https://" in (err.value.hint or "")


def test_is_trusted_matches_host_or_host_and_port() -> None:
    cfg = IndexConfig(index_url=None, trusted_hosts=("a.example", "b.example:8443"))
    assert cfg.is_trusted("https://a.example:9000/simple")
    assert cfg.is_trusted("https://b.example:8443/x") and not cfg.is_trusted("https://b.example/x")
    assert cfg.is_trusted("file:///srv/wheels/") and not cfg.is_trusted("https://c.example/")


def test_every_pip_setting_from_a_file_then_env_then_flag(tmp_path: Path, files_env: dict[str, str]) -> None:
    # Each setting jetpip honours, as docs/configuration.md lists them, at each of pip's three levels.
    wheelhouse = tmp_path / "wh"
    wheelhouse.mkdir()
    write(tmp_path / "home" / ".config" / "pip" / "pip.conf",
          "[global]\nindex-url = https://file/simple\nextra-index-url = https://file-x/simple\n"
          f"find-links = {wheelhouse}\ntrusted-host = file-x\ncert = /etc/ssl/file-ca.pem\n"
          "client-cert = /etc/ssl/file-client.pem\ntimeout = 11\nretries = 4\nproxy = http://file-proxy:3128\n")
    cfg = load_index_config(interp(), files_env, {})
    assert (cfg.index_url, cfg.extra_index_urls, cfg.find_links, cfg.trusted_hosts) == (
        "https://file/simple", ("https://file-x/simple",), (str(wheelhouse),), ("file-x",))
    assert cfg.sources()[-1].url == Url(wheelhouse.as_uri() + "/")
    assert (cfg.cert, cfg.client_cert, cfg.timeout, cfg.retries) == (
        "/etc/ssl/file-ca.pem", "/etc/ssl/file-client.pem", 11.0, 4)
    assert cfg.proxy == "http://file-proxy:3128"

    env = {**files_env, "PIP_CERT": "/env/ca.pem", "PIP_CLIENT_CERT": "/env/client.pem", "PIP_RETRIES": "1",
           "PIP_TIMEOUT": "9", "PIP_FIND_LINKS": "https://env-links.example/"}
    cfg = load_index_config(interp(), env, {})
    assert (cfg.cert, cfg.client_cert, cfg.timeout, cfg.retries) == ("/env/ca.pem", "/env/client.pem", 9.0, 1)
    assert cfg.origins["cert"] == "PIP_CERT"
    assert cfg.find_links == ("https://env-links.example/",)

    flags: dict[str, object] = {"cert": "/flag/ca.pem", "client_cert": "/flag/client.pem", "retries": 0,
                                "timeout": 1.5, "find_links": ("https://flag-links.example/",),
                                "trusted_host": ("flag-host",)}
    cfg = load_index_config(interp(), env, flags)
    assert (cfg.cert, cfg.client_cert, cfg.timeout, cfg.retries) == (
        "/flag/ca.pem", "/flag/client.pem", 1.5, 0)
    assert cfg.origins["cert"] == "--cert" and cfg.origins["client-cert"] == "--client-cert"
    assert cfg.find_links == ("https://env-links.example/", "https://flag-links.example/")
    assert cfg.trusted_hosts == ("file-x", "flag-host")


def test_pips_default_timeout_is_the_transports(index_server: IndexServer, tmp_path: Path) -> None:
    # pip's --default-timeout (PIP_DEFAULT_TIMEOUT, default-timeout in pip.conf) is its --timeout.
    url = index_server.add("simple", "/simple", [])
    index_server.fault("/simple/demo/", "stall", seconds=3)
    env = {"PIP_CONFIG_FILE": os.devnull, "PIP_INDEX_URL": url, "PIP_DEFAULT_TIMEOUT": "0.3",
           "PIP_RETRIES": "0"}
    cfg = load_index_config(None, env, {})
    assert (cfg.timeout, cfg.origins["timeout"]) == (0.3, "PIP_DEFAULT_TIMEOUT")
    with IndexClient(cfg, cache_dir=tmp_path / "cache") as c, pytest.raises(IndexFetchError) as err:
        c.project_page(Source("b", "simple", Url.parse(url)), "demo")
    assert "no answer within 0.3 s (1 tries)" in str(err.value)


def test_an_existing_pip_config_file_hides_the_user_files(tmp_path: Path, files_env: dict[str, str]) -> None:
    user = write(tmp_path / "home" / ".config" / "pip" / "pip.conf",
                 "[global]\nindex-url = https://user/simple\nretries = 2\n")
    legacy = write(tmp_path / "home" / ".pip" / "pip.conf", "[global]\ntimeout = 9\n")
    explicit = write(tmp_path / "explicit.conf", "[install]\nextra-index-url = https://explicit/simple\n")
    env = {**files_env, "PIP_CONFIG_FILE": str(explicit)}
    read = config_mod.config_files(interp(), env)
    assert user not in read and legacy not in read and read[-1] == explicit
    cfg = load_index_config(interp(), env, {})
    assert (cfg.index_url, cfg.retries, cfg.timeout) == ("https://default.example/simple", 5, 15.0)
    # A PIP_CONFIG_FILE that names no file leaves the user files in place, as pip does.
    cfg = load_index_config(interp(), {**files_env, "PIP_CONFIG_FILE": str(tmp_path / "missing.conf")}, {})
    assert (cfg.index_url, cfg.retries, cfg.timeout) == ("https://user/simple", 2, 9.0)
