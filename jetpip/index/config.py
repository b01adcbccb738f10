"""Index configuration as pip reads it: pip.conf files, PIP_* variables, then jetpip's own flags."""

from __future__ import annotations

import configparser
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from jetpip.errors import UsageError
from jetpip.model.sources import Source
from jetpip.model.target import Interpreter
from jetpip.model.urls import Url, redact_text

PIP_DEFAULT_INDEX = "https://pypi.org/simple"  # pip's PyPI.simple_url: what pip uses when nothing is set
DEFAULT_TIMEOUT = 15.0  # pip's defaults
DEFAULT_RETRIES = 5
SYSTEM_CONFIG = Path("/etc/pip.conf")  # pip reads it after the XDG config dirs
_LIST_KEYS = ("extra-index-url", "find-links", "trusted-host")
# pip's long option names (aliases too) for the settings jetpip reads, as pip's cmdoptions spell them
_OPTIONS = {
    "index-url": "index-url", "pypi-url": "index-url", "extra-index-url": "extra-index-url",
    "find-links": "find-links", "trusted-host": "trusted-host", "cert": "cert", "client-cert": "client-cert",
    "timeout": "timeout", "default-timeout": "timeout", "retries": "retries", "proxy": "proxy",
    "no-index": "no-index",
}


class ConfigError(UsageError):
    """A pip configuration value or file cannot be used."""


@dataclass(frozen=True, repr=False)
class FileOption:
    """One option of a requirements file (``--index-url``, ...), or a direct URL (``direct-url``)."""

    option: str  # the long name, as pip spells it
    value: str  # as written, credentials included
    where: str  # "requirements.txt:3"

    def __repr__(self) -> str:
        return redact_text(f"FileOption({self.option!r}, {self.value!r}, {self.where!r})")


@dataclass(frozen=True)
class HashCheck:
    """The hashes a requirements file allows for one project's file (``--hash``)."""

    name: str  # canonical
    hashes: tuple[str, ...]  # "sha256:<hex>"
    where: str


@dataclass(frozen=True)
class FileSettings:
    """What requirements files add to pip's configuration; pip applies it after the command line."""

    options: tuple[FileOption, ...] = ()
    hash_checks: tuple[HashCheck, ...] = ()
    require_hashes: bool = False  # pip's hash-checking mode: every locked file needs an allowed hash


@dataclass(frozen=True, repr=False)
class IndexConfig:
    """Where packages come from and how to talk to those places (pip's options, resolved).

    The URL settings are kept as given, credentials included, for the transport; ``sources()``
    turns the index URLs into ``Url`` records, which show no password.
    """

    index_url: str | None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    trusted_hosts: tuple[str, ...] = ()
    cert: str | None = None  # CA bundle; None = the system trust store
    client_cert: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    proxy: str | None = None  # pip's --proxy: one proxy for every scheme
    proxies: Mapping[str, str] = field(default_factory=dict, hash=False)  # scheme -> URL, from env
    no_proxy: tuple[str, ...] = ()
    netrc: str | None = None  # path of the netrc file to read credentials from, if any
    no_index: bool = False
    direct_urls: tuple[str, ...] = ()  # wheels named by URL in a requirements file: offered first
    hash_checks: tuple[HashCheck, ...] = ()
    require_hashes: bool = False
    pre: bool = False  # pip's --pre: pre-releases are candidates as final releases are
    origins: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)  # key -> where

    def __repr__(self) -> str:
        # A repr lands in logs and tracebacks: the URL settings show no password there either.
        shown = ", ".join(f"{f.name}={getattr(self, f.name)!r}" for f in fields(self))
        return redact_text(f"IndexConfig({shown})")

    def is_trusted(self, url: Url | str) -> bool:
        """True when ``url``'s host (or host:port) is a trusted host, or it is a local file."""
        parsed = url if isinstance(url, Url) else Url(url)
        scheme = parsed.scheme
        if scheme == "file" or not scheme:
            return True
        host, port = parsed.host, parsed.port
        netloc = f"{host}:{port}" if port else host
        return any(t in (host, netloc) for t in self.trusted_hosts)

    def sources(self) -> list[Source]:
        """Base index, extra indexes, then find-links (a local directory becomes a file:// URL)."""
        out: list[Source] = []
        for text in self.direct_urls:
            # The file the user named is the only one for its project: first, and trusted as pip
            # trusts a direct URL (a --hash on its line is checked when the lock is made).
            url = self._url(text, "direct-url")
            shown = str(url.without_credentials()).partition("#")[0]
            out.append(Source(f"direct URL {shown}", "flat", url, trusted=True))
        if self.index_url and not self.no_index:
            url = self._url(self.index_url, "index-url")
            out.append(Source("base index", "simple", url, trusted=self.is_trusted(url)))
        if not self.no_index:
            for text in self.extra_index_urls:
                url = self._url(text, "extra-index-url")
                out.append(Source(f"extra index {url.without_credentials()}", "simple", url,
                                  trusted=self.is_trusted(url)))
        for link in self.find_links:
            url = self._url(_as_url(link), "find-links")
            out.append(Source(f"find-links {url.without_credentials()}", "flat", url,
                              trusted=self.is_trusted(url)))
        return out

    def _url(self, text: str, key: str) -> Url:
        try:
            return Url.parse(text)
        except ValueError as err:
            raise ConfigError(f"{key} (from {self.origins.get(key, 'default')}): {err}",
                              f"give {key} as a full URL, e.g. https://host/simple") from None


def _as_url(link: str) -> str:
    if "://" in link:
        return link
    path = Path(link).expanduser().resolve()
    return path.as_uri() + ("/" if path.is_dir() else "")


def _xdg_dirs(value: str | None) -> list[str]:
    """XDG_CONFIG_DIRS as the platformdirs of most pips reads it: blank means unset.

    (pip 26 ignores relative entries, here and in XDG_CONFIG_HOME; the pips on JetPack images read
    them from the working directory, and so does jetpip.)
    """
    if value is None or not value.strip():
        return []
    return [os.path.expanduser(d) for d in value.split(os.pathsep) if d]


def config_files(interpreter: Interpreter | None, env: Mapping[str, str]) -> list[Path]:
    """The pip config files, lowest precedence first (pip's ``Configuration.iter_config_files``).

    None when PIP_CONFIG_FILE is os.devnull. When PIP_CONFIG_FILE names a file that exists, pip
    reads no user file (~/.pip, ~/.config/pip): only the global ones, the site one, then that file.
    """
    explicit = env.get("PIP_CONFIG_FILE")
    if explicit == os.devnull:
        return []
    xdg_dirs = _xdg_dirs(env.get("XDG_CONFIG_DIRS")) or ["/etc/xdg"]
    files = [Path(d) / "pip" / "pip.conf" for d in xdg_dirs] + [SYSTEM_CONFIG]
    if not (explicit and os.path.exists(explicit)):
        home = Path(env.get("HOME") or Path.home())
        xdg_home = env.get("XDG_CONFIG_HOME", "")
        config_home = Path(xdg_home) if xdg_home.strip() else home / ".config"
        files += [home / ".pip" / "pip.conf", config_home / "pip" / "pip.conf"]
    if interpreter is not None and interpreter.prefix:
        files.append(Path(interpreter.prefix) / "pip.conf")
    if explicit:
        files.append(Path(explicit))
    return files


def _read_file(path: Path) -> dict[str, dict[str, str]]:
    parser = _PipParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError) as err:
        raise ConfigError(f"cannot read pip config file {path}: {err}",
                          f"fix or remove {path}, or set PIP_CONFIG_FILE=/dev/null") from err
    return {s: dict(parser.items(s)) for s in parser.sections()}


def _option_name(name: str) -> str:
    """A key as pip normalizes it, in a file or a PIP_* name: lower case, '-' for '_', no leading '--'."""
    name = name.lower().replace("_", "-")
    return name[2:] if name.startswith("--") else name


class _PipParser(configparser.RawConfigParser):
    """A config file parser whose keys are normalized as pip's are."""

    def optionxform(self, optionstr: str) -> str:
        return _option_name(optionstr)


def _pip_values(
    per_file: Sequence[tuple[Path, dict[str, dict[str, str]]]], env: Mapping[str, str],
) -> dict[str, tuple[str, str]]:
    """Each setting's (value, where), merged as pip's ``ConfigOptionParser`` merges its configuration.

    Every file's [global], then every file's [install], then the PIP_* variables; a later file's
    key replaces an earlier one's, and an empty value then counts as unset (so it erases a lower
    file's value). Keys are pip's long option names, aliases (``default-timeout``) included.
    """
    by_file: dict[str, dict[str, dict[str, str]]] = {}
    for path, sections in per_file:
        by_file[str(path)] = sections  # pip keys files by name: one named twice keeps its first place
    pooled: dict[str, dict[str, tuple[str, str]]] = {"global": {}, "install": {}, "env": {}}
    for name, sections in by_file.items():
        for section in ("global", "install"):
            for key, value in sections.get(section, {}).items():
                pooled[section][key] = (value, f"{name} [{section}]")
    for var, value in env.items():
        if var.startswith("PIP_") and var[4:].lower() not in ("version", "help"):
            pooled["env"][_option_name(var[4:])] = (value, var)
    out: dict[str, tuple[str, str]] = {}
    for items in pooled.values():
        for key, (value, where) in items.items():
            setting = _OPTIONS.get(key)
            if setting is not None and value:
                out[setting] = (value, where)
    return out


def _split(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return value.split()
    if isinstance(value, Iterable):
        return [str(v) for v in value if v]
    return [str(value)]


def _flag(value: str, where: str) -> bool:
    """A yes/no setting as pip's strtobool reads it."""
    word = value.strip().lower()
    if word in ("y", "yes", "t", "true", "on", "1"):
        return True
    if word in ("n", "no", "f", "false", "off", "0"):
        return False
    raise ConfigError(f"no-index = '{value}' (from {where}) is not a yes/no value",
                      "set no-index to yes/no, true/false or 1/0, as pip requires")


def load_index_config(
    interpreter: Interpreter | None, env: Mapping[str, str], cli: Mapping[str, object],
    files: FileSettings | None = None,
) -> IndexConfig:
    """Resolve the index options with pip's precedence: files ([global] then [install]), env, flags.

    ``files``: requirements files' options, applied last as pip applies them: a file's --index-url
    replaces every index set before it (extra ones included), --no-index drops them all.
    """
    per_file = [(path, _read_file(path)) for path in config_files(interpreter, env) if path.is_file()]
    merged = _pip_values(per_file, env)
    values = {key: value for key, (value, _) in merged.items()}
    origins = {key: where for key, (_, where) in merged.items()}
    lists = {k: _split(values.get(k)) for k in _LIST_KEYS}
    flag_names = {"extra-index-url": "extra_index_url", "find-links": "find_links",
                  "trusted-host": "trusted_host"}
    for key, flag in flag_names.items():
        extra = _split(cli.get(flag))
        if extra:
            lists[key] += [v for v in extra if v not in lists[key]]
            origins[key] = f"--{key}"
    for key in ("index-url", "cert", "client-cert", "timeout", "retries", "proxy"):
        given = cli.get(key.replace("-", "_"))
        if given is not None and given != "":
            values[key], origins[key] = str(given), f"--{key}"
    if cli.get("no_index"):
        values["no-index"], origins["no-index"] = "1", "--no-index"

    no_index = _flag(values["no-index"], origins["no-index"]) if "no-index" in values else False
    index_url = values.get("index-url")
    if not index_url and not no_index:
        # As pip: nothing configured means pip's own default index (a cross Target has no pip to ask).
        index_url = interpreter.pip_default_index if interpreter is not None else None
        origins["index-url"] = "the target's pip default" if index_url else "pip's default index"
        index_url = index_url or PIP_DEFAULT_INDEX
    files = files or FileSettings()
    index_url, no_index = _apply_file_options(files.options, index_url, no_index, lists, origins)
    return IndexConfig(
        index_url=index_url,
        extra_index_urls=tuple(lists["extra-index-url"]),
        find_links=tuple(lists["find-links"]),
        trusted_hosts=tuple(lists["trusted-host"]),
        cert=values.get("cert"),
        client_cert=values.get("client-cert"),
        timeout=_number(values, "timeout", DEFAULT_TIMEOUT, origins, float),
        retries=int(_number(values, "retries", DEFAULT_RETRIES, origins, int)),
        proxy=values.get("proxy"),
        proxies=_env_proxies(env),
        no_proxy=tuple(_split((env.get("NO_PROXY") or env.get("no_proxy") or "").replace(",", " "))),
        netrc=_netrc_path(env),
        no_index=no_index,
        direct_urls=tuple(o.value for o in files.options if o.option == "direct-url"),
        hash_checks=files.hash_checks,
        require_hashes=files.require_hashes,
        pre=bool(cli.get("pre")) or any(o.option == "--pre" for o in files.options),
        origins=origins,
    )


def _apply_file_options(
    options: Sequence[FileOption], index_url: str | None, no_index: bool, lists: dict[str, list[str]],
    origins: dict[str, str],
) -> tuple[str | None, bool]:
    """Apply a requirements file's option lines in file order, as pip's req_file.handle_option_line."""
    for opt in options:
        if opt.option == "--no-index":
            no_index, index_url, lists["extra-index-url"] = True, None, []
            origins["no-index"] = opt.where
        elif opt.option == "--index-url" and not no_index:
            index_url, lists["extra-index-url"] = opt.value, []
            origins["index-url"] = opt.where
        elif opt.option in ("--extra-index-url", "--find-links", "--trusted-host"):
            key = opt.option[2:]
            if key == "extra-index-url" and no_index:
                continue
            if opt.value not in lists[key]:
                lists[key].append(opt.value)
            origins[key] = opt.where
    return index_url, no_index


def _number(values: Mapping[str, str], key: str, default: float, origins: Mapping[str, str],
            kind: type[float] | type[int]) -> float:
    if key not in values:
        return default
    try:
        number = kind(values[key])
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"{key} = '{values[key]}' (from {origins.get(key)}) is not a valid number",
                          f"set {key} to a non-negative {'integer' if kind is int else 'number'}")
    return number


def _env_proxies(env: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for scheme in ("http", "https", "all"):
        value = env.get(f"{scheme}_proxy") or env.get(f"{scheme.upper()}_PROXY")
        if value:
            out[scheme] = value if "://" in value else f"http://{value}"
    return out


def _netrc_path(env: Mapping[str, str]) -> str | None:
    explicit = env.get("NETRC")
    if explicit:
        return explicit
    home = env.get("HOME")
    path = Path(home) / ".netrc" if home else Path.home() / ".netrc"
    return str(path) if path.is_file() else None


def describe(config: IndexConfig) -> Sequence[str]:
    """Lines saying which setting came from where, credentials redacted (for `-v` output)."""
    shown = {
        "index-url": str(Url(config.index_url)) if config.index_url else "(none)",
        "extra-index-url": " ".join(str(Url(u)) for u in config.extra_index_urls) or "(none)",
        "find-links": " ".join(str(Url(u)) for u in config.find_links) or "(none)",
        "trusted-host": " ".join(config.trusted_hosts) or "(none)",
    }
    return [f"{k}: {v}  [{config.origins.get(k, 'default')}]" for k, v in shown.items()]
