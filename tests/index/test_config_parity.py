"""jetpip's reading of pip's configuration against the real pip, over a matrix of files and variables.

Each case has its own HOME, XDG_CONFIG_HOME and XDG_CONFIG_DIRS; the machine's /etc/pip.conf, if any,
is read by both sides alike. One venv serves every case: its site file is written per case.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from jetpip.index.config import ConfigError, IndexConfig, config_files, load_index_config
from jetpip.interpreter.probe import probe_interpreter
from jetpip.model.target import Interpreter

# Run inside the venv: the options pip's own install command ends up with, then `pip config debug`.
_ORACLE = """
import json, sys
from pip._internal.commands import create_command
opts, _ = create_command("install").parse_args([])
print(json.dumps({"index_url": opts.index_url, "extra_index_urls": opts.extra_index_urls,
    "find_links": opts.find_links, "trusted_hosts": opts.trusted_hosts, "timeout": opts.timeout,
    "retries": opts.retries, "cert": opts.cert, "client_cert": opts.client_cert,
    "proxy": opts.proxy or None, "no_index": bool(opts.no_index)}))
sys.stdout.flush()
from pip._internal.cli.main import main
sys.exit(main(["config", "debug"]))
"""


@dataclass(frozen=True)
class Case:
    """Config files by place ("global", "legacy", "user", "site", "explicit") and PIP_* variables."""

    name: str
    files: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    config_file: str | None = None  # PIP_CONFIG_FILE: "explicit" (the file), "missing", "devnull", "site"
    xdg_home: str = "absolute"  # XDG_CONFIG_HOME: "absolute", or "unset" (~/.config)


G, U = "[global]\n", "[install]\n"
CASES = [
    Case("nothing configured"),
    Case("global file", {"global": G + "index-url = https://g.example/simple\ntimeout = 20\n"}),
    Case("install section beats every global section",
         {"global": U + "index-url = https://g-install.example/simple\n",
          "user": G + "index-url = https://u.example/simple\n"}),
    Case("the XDG user file beats ~/.pip",
         {"legacy": G + "index-url = https://legacy.example/simple\nretries = 2\n",
          "user": G + "index-url = https://u.example/simple\n"}),
    Case("site beats user", {"user": G + "index-url = https://u.example/simple\nproxy = http://u:3128\n",
                             "site": G + "index-url = https://s.example/simple\n"}),
    Case("an existing PIP_CONFIG_FILE skips the user files",
         {"user": G + "index-url = https://u.example/simple\ntrusted-host = u.example\n",
          "legacy": G + "extra-index-url = https://legacy.example/simple\n",
          "site": G + "timeout = 33\n",
          "explicit": G + "find-links = /srv/explicit\n"}, config_file="explicit"),
    Case("a missing PIP_CONFIG_FILE keeps the user files",
         {"user": G + "index-url = https://u.example/simple\n"}, config_file="missing"),
    Case("PIP_CONFIG_FILE=os.devnull reads no file",
         {"global": G + "retries = 1\n", "user": G + "index-url = https://u.example/simple\n",
          "site": G + "timeout = 3\n"}, {"PIP_RETRIES": "2"}, config_file="devnull"),
    Case("PIP_CONFIG_FILE naming the site file", {"site": G + "index-url = https://s.example/simple\n",
                                                  "user": G + "index-url = https://u.example/simple\n"},
         config_file="site"),
    Case("env beats PIP_CONFIG_FILE", {"explicit": U + "index-url = https://e.example/simple\n"},
         {"PIP_INDEX_URL": "https://env.example/simple"}, config_file="explicit"),
    Case("space-separated and multi-line lists",
         {"user": G + "extra-index-url =\n    https://a.example/simple\n    https://b.example/simple\n"
                  "trusted-host = a.example b.example:8443\n"},
         {"PIP_EXTRA_INDEX_URL": "https://x.example/simple  https://y.example/simple",
          "PIP_FIND_LINKS": "/srv/wheels https://links.example/", "PIP_TRUSTED_HOST": "x.example"}),
    Case("default-timeout from a file", {"user": G + "default-timeout = 180\n"}),
    Case("PIP_DEFAULT_TIMEOUT", {"user": G + "timeout = 20\n"}, {"PIP_DEFAULT_TIMEOUT": "180"}),
    Case("timeout in [install] beats default-timeout in [global]",
         {"global": G + "default-timeout = 180\n", "user": U + "timeout = 25\n"}),
    Case("both spellings in one section: the later key wins",
         {"user": G + "timeout = 20\ndefault-timeout = 60\n"}),
    Case("PIP_TIMEOUT", {"site": U + "default-timeout = 180\n"}, {"PIP_TIMEOUT": "7.5"}),
    Case("an empty value in a later file erases an earlier one",
         {"global": G + "index-url = https://g.example/simple\nextra-index-url = https://gx.example/simple\n",
          "user": G + "index-url =\nextra-index-url =\n"}),
    Case("an empty variable leaves the file's value", {"user": G + "index-url = https://u.example/simple\n"},
         {"PIP_INDEX_URL": "", "PIP_EXTRA_INDEX_URL": ""}),
    Case("key spellings: underscores, upper case, a leading --, the pypi-url alias",
         {"user": G + "Index_URL = https://u.example/simple\n--extra-index-url = https://x.example/simple\n",
          "site": U + "pypi-url = https://alias.example/simple\n"}),
    Case("no-index from a file, then PIP_NO_INDEX=off", {"user": G + "no-index = yes\nfind-links = /srv/w\n"},
         {"PIP_NO_INDEX": "off"}),
    Case("no-index = t", {"site": U + "no-index = t\n"}),
    Case("cert, client-cert, proxy and retries in [install]",
         {"site": U + "cert = /s/ca.pem\nclient-cert = /s/client.pem\nproxy = http://p.example:3128\n"
                      "retries = 9\n"},
         {"PIP_CLIENT_CERT": "/env/client.pem"}),
    Case("XDG_CONFIG_HOME unset: ~/.config", {"user": G + "index-url = https://u.example/simple\n"},
         xdg_home="unset"),
]


@dataclass(frozen=True)
class Venv:
    """The shared venv: its python, and the target as jetpip probes it."""

    python: Path
    interpreter: Interpreter


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Venv]:
    path = tmp_path_factory.mktemp("parity") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True,
                   env={**os.environ, "PIP_CONFIG_FILE": os.devnull})
    python = path / "bin" / "python"
    yield Venv(python, probe_interpreter(str(python)))


def _layout(case: Case, root: Path, prefix: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """Write the case's files under ``root`` (the site file into the venv); return the env and paths."""
    home = root / "home"
    xdg_home = {"absolute": root / "xdg-home", "unset": home / ".config"}
    places = {
        "global": root / "xdg-dirs" / "pip" / "pip.conf",
        "legacy": home / ".pip" / "pip.conf",
        "user": xdg_home[case.xdg_home] / "pip" / "pip.conf",
        "site": prefix / "pip.conf",
        "explicit": root / "explicit.conf",
    }
    for place, text in case.files.items():
        places[place].parent.mkdir(parents=True, exist_ok=True)
        places[place].write_text(text)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "XDG_CONFIG_DIRS": str(root / "xdg-dirs"),
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", **case.env}
    if case.xdg_home != "unset":
        env["XDG_CONFIG_HOME"] = str(xdg_home["absolute"])
    chosen = {"explicit": str(places["explicit"]), "missing": str(root / "missing.conf"),
              "devnull": os.devnull, "site": str(places["site"])}
    if case.config_file is not None:
        env["PIP_CONFIG_FILE"] = chosen[case.config_file]
    return env, places


def _pip_reading(python: Path, env: dict[str, str]) -> tuple[dict[str, object], dict[str, list[str]]]:
    """pip's options, and `pip config debug`'s files that exist, with the keys it loaded from each."""
    out = subprocess.run([str(python), "-c", _ORACLE], env=env, capture_output=True, text=True, check=True)
    first, _, debug = out.stdout.partition("\n")
    loaded: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in debug.splitlines():
        found = re.fullmatch(r"  (\S.*), exists: (True|False)", line)
        if found:
            current = loaded.setdefault(found[1], []) if found[2] == "True" else None
        elif line.startswith("    ") and current is not None:
            current.append(line.strip().split(":", 1)[0])
    return json.loads(first), loaded


def _jetpip_reading(config: IndexConfig) -> dict[str, object]:
    return {
        "index_url": config.index_url, "extra_index_urls": list(config.extra_index_urls),
        "find_links": list(config.find_links), "trusted_hosts": list(config.trusted_hosts),
        "timeout": config.timeout, "retries": config.retries, "cert": config.cert,
        "client_cert": config.client_cert, "proxy": config.proxy, "no_index": config.no_index,
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_jetpip_reads_what_pip_reads(case: Case, venv: Venv, tmp_path: Path) -> None:
    prefix = Path(venv.interpreter.prefix or "")
    (prefix / "pip.conf").unlink(missing_ok=True)  # one venv serves every case
    env, _ = _layout(case, tmp_path, prefix)
    try:
        pip_options, pip_files = _pip_reading(venv.python, env)
        config = load_index_config(venv.interpreter, env, {})
        ours = _jetpip_reading(config)
        if pip_options["no_index"]:
            pip_options.pop("index_url"), ours.pop("index_url")  # pip keeps its default, unused
        assert ours == pip_options
        # The files: those pip loaded values from, against those jetpip reads.
        read = [str(p) for p in config_files(venv.interpreter, env) if p.is_file()]
        if case.config_file == "devnull":
            assert read == [] and not any(pip_files.values())
        else:
            assert sorted(set(read) - {os.devnull}) == sorted(set(pip_files) - {os.devnull})
    finally:
        (prefix / "pip.conf").unlink(missing_ok=True)


def test_a_bad_yes_no_value_fails_in_both(venv: Venv, tmp_path: Path) -> None:
    case = Case("bad flag", {"user": G + "no-index = perhaps\n"})
    env, places = _layout(case, tmp_path, tmp_path / "no-site")
    out = subprocess.run([str(venv.python), "-c", _ORACLE], env=env, capture_output=True, text=True)
    assert out.returncode != 0 and "perhaps is not a valid value for no-index" in out.stderr
    with pytest.raises(ConfigError) as err:
        load_index_config(venv.interpreter, env, {})
    assert f"no-index = 'perhaps' (from {places['user']} [global])" in str(err.value)
