"""Typed reading of indexes.toml tables: the value patterns and a reader whose every failure names the key."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any

from jetpip.errors import KnowledgeError
from jetpip.model.urls import Url, redact_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

L4T = re.compile(r"^\d+(\.\d+){0,2}$")
MAJOR_MINOR = re.compile(r"^\d+\.\d+$")
VERSION = re.compile(r"^\d+(\.\d+){0,3}$")
KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
URL = re.compile(r"^https?://[^\s/]+(/\S*)?$")
ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")

def version_tuple(text: str) -> tuple[int, ...]:
    """``"36.4.3"`` -> ``(36, 4, 3)``; the caller has validated the form."""
    return tuple(int(p) for p in text.split("."))


def prefix_matches(prefix: str, version: str) -> bool:
    """True when ``version`` lies under ``prefix`` component-wise ("36.4" covers "36.4.3", not "36.40")."""
    want = prefix.split(".")
    return version.split(".")[: len(want)] == want


class Reader:
    """Typed access to one file's tables; every failure names the file and the dotted key."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> KnowledgeError:
        """The error for ``key``: names the file and the dotted key, shows no password."""
        # A rejected value may be a URL with its password (a mirror): the message shows none.
        return KnowledgeError(self.path, redact_text(key), redact_text(problem))

    def table(self, value: object, key: str) -> dict[str, Any]:
        """``value`` as a table."""
        if not isinstance(value, dict):
            raise self.fail(key, f"must be a table, got {type(value).__name__}")
        return value

    def keys(self, table: Mapping[str, Any], key: str, allowed: tuple[str, ...],
             required: tuple[str, ...] = ()) -> None:
        """Refuse unknown keys of ``table``; require ``required``."""
        for name in table:
            if name not in allowed:
                raise self.fail(f"{key}.{name}" if key else name,
                                f"unknown key (known: {', '.join(allowed)})")
        for name in required:
            if name not in table:
                raise self.fail(key, f"missing required key '{name}'")

    def string(self, table: Mapping[str, Any], name: str, key: str,
               pattern: re.Pattern[str] | None = None, what: str = "") -> str:
        """A non-empty string, matching ``pattern`` when given."""
        value = table.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(f"{key}.{name}", f"must be a non-empty string, got {value!r}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(f"{key}.{name}", bad(what, value))
        return value

    def opt_string(self, table: Mapping[str, Any], name: str, key: str,
                   pattern: re.Pattern[str] | None = None, what: str = "") -> str | None:
        """Like ``string``, None when absent."""
        if name not in table:
            return None
        return self.string(table, name, key, pattern, what)

    def boolean(self, table: Mapping[str, Any], name: str, key: str, default: bool = False) -> bool:
        """A boolean (``true`` or ``false``)."""
        value = table.get(name, default)
        if not isinstance(value, bool):
            raise self.fail(f"{key}.{name}", f"must be true or false, got {value!r}")
        return value

    def strings(self, table: Mapping[str, Any], name: str, key: str,
                pattern: re.Pattern[str] | None = None, what: str = "") -> tuple[str, ...]:
        """A list of non-empty strings, each matching ``pattern`` when given."""
        value = table.get(name, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(f"{key}.{name}", f"must be a list of non-empty strings, got {value!r}")
        if pattern is not None:
            for item in value:
                if not pattern.match(item):
                    raise self.fail(f"{key}.{name}", bad(what, item))
        return tuple(value)

    def str_map(self, value: object, key: str, key_pattern: re.Pattern[str] | None = None,
                value_pattern: re.Pattern[str] | None = None, what: str = "value") -> dict[str, str]:
        """A table of strings, keys and values checked against the patterns."""
        table = self.table(value, key)
        for k, v in table.items():
            if not isinstance(v, str) or not v:
                raise self.fail(f"{key}.{k}", f"must be a non-empty string, got {v!r}")
            if key_pattern is not None and not key_pattern.match(k):
                raise self.fail(f"{key}.{k}", f"bad key {k!r}")
            if value_pattern is not None and not value_pattern.match(v):
                raise self.fail(f"{key}.{k}", bad(what, v))
        return dict(table)

    def url_map(self, value: object, key: str) -> dict[str, Url]:
        """A table of URL prefix -> URL; the URLs may carry credentials (a mirror's), kept in a ``Url``."""
        table = self.str_map(value, key, URL, URL, "URL")
        return {k: url_value(self, v, f"{key}.{k}") for k, v in table.items()}


def url_value(r: Reader, text: str, key: str) -> Url:
    """``text`` as a Url; a bad one fails naming ``key``."""
    try:
        return Url.parse(text)
    except ValueError as err:
        raise r.fail(key, str(err)) from None


def bad(what: str, value: str) -> str:
    """``("CUDA version (want major.minor)", "12")`` -> ``"bad CUDA version '12' (want major.minor)"``."""
    label, _, want = (what or "value").partition(" (")
    return f"bad {label} {value!r}" + (f" ({want}" if want else "")


def parse_toml(text: str, path: str) -> dict[str, Any]:
    """TOML text -> dict; a syntax error becomes a KnowledgeError naming the line."""
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return data
    except tomllib.TOMLDecodeError as err:
        raise KnowledgeError(path, "toml", f"not valid TOML: {err}") from None

def array(r: Reader, value: object, key: str) -> list[dict[str, Any]]:
    """``value`` as an array of tables."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise r.fail(key, "must be an array of tables ([[" + key + "]])")
    return value

