"""File links: the record of one offered file, and lenient wheel filenames."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from packaging.tags import Tag, parse_tag
from packaging.utils import BuildTag, canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.errors import WheelNameError
from jetpip.model.sources import Source
from jetpip.model.urls import Url

# Hash names pip accepts in a link fragment; strongest first, so verification picks the best one.
HASH_NAMES = ("sha512", "sha384", "sha256", "sha224", "sha1", "md5")
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")

@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel filename, read leniently (NVIDIA and old non-normalised names)."""

    name: str  # canonical (PEP 503)
    version: Version
    build: BuildTag
    tags: frozenset[Tag]


_BUILD = re.compile(r"^(\d+)(.*)$")
_NAME_OK = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$")


def lenient_version(text: str, filename: str) -> Version:
    """The version part of a wheel filename, read leniently; raise WheelNameError when it is none."""
    try:
        return Version(text)
    except InvalidVersion:
        pass
    # NVIDIA JetPack 4 names carry two local labels ("1.11.0a0+17540c5+nv22.01"): join them.
    head, plus, local = text.partition("+")
    candidates = []
    if plus:
        candidates.append(f"{head}+{local.replace('+', '.')}")
    # Old tools wrote '-' as '_' inside versions ("1.0_post1", "2.0_rc1").
    candidates.append(text.replace("_", "-"))
    if plus:
        candidates.append(f"{head.replace('_', '-')}+{local.replace('+', '.').replace('-', '.')}")
    for candidate in candidates:
        try:
            return Version(candidate)
        except InvalidVersion:
            continue
    raise WheelNameError(filename, f"version '{text}' is not a PEP 440 version")


def _split_wheel(shown: str) -> list[str]:
    if not shown.endswith(".whl"):
        raise WheelNameError(shown, "not a wheel (no .whl suffix)")
    parts = shown[: -len(".whl")].split("-")
    if len(parts) not in (5, 6):
        raise WheelNameError(shown, f"a wheel name has 5 or 6 dash-separated parts, this has {len(parts)}")
    return parts


def _check_tail(shown: str, parts: list[str]) -> BuildTag:
    build: BuildTag = ()
    if len(parts) == 6:
        match = _BUILD.match(parts[2])
        if not match:
            raise WheelNameError(shown, f"build tag '{parts[2]}' does not start with a digit")
        build = (int(match[1]), match[2])
    if not all(parts[-3:]):
        raise WheelNameError(shown, "empty compatibility tag")
    return build


def _name_version(shown: str, name: str, version: str) -> tuple[str, Version]:
    if not _NAME_OK.match(name):
        raise WheelNameError(shown, f"'{name}' is not a valid project name")
    return canonicalize_name(name), lenient_version(version, shown)


def _wheel_parts(shown: str) -> tuple[str, Version, BuildTag, list[str]]:
    parts = _split_wheel(shown)
    name, version = _name_version(shown, parts[0], parts[1])
    return name, version, _check_tail(shown, parts), parts[-3:]


def wheel_project(filename: str, memo: dict[tuple[str, str], str | WheelNameError]) -> str:
    """The canonical project of a wheel filename, checked short of its tags; raise WheelNameError why not.

    ``memo`` keeps the name and version checks of one page: big pages repeat each pair for every build.
    """
    parts = _split_wheel(filename)
    key = (parts[0], parts[1])
    checked = memo.get(key)
    if checked is None:
        try:
            checked = memo[key] = _name_version(filename, *key)[0]
        except WheelNameError as err:
            checked = memo[key] = err
    if isinstance(checked, WheelNameError):
        raise WheelNameError(filename, checked.reason)
    _check_tail(filename, parts)
    return checked


@functools.lru_cache(maxsize=8192)
def parse_wheel_name(filename: str) -> WheelName:
    """Split a wheel filename into name, version, build tag and tags; raise WheelNameError why not."""
    shown = unquote(filename)
    try:
        name, version, build, tag_parts = _wheel_parts(shown)
        tags = parse_tag("-".join(tag_parts))
    except WheelNameError:
        raise
    except Exception as err:  # packaging raises InvalidTag, InvalidVersion, ValueError...
        # Real pages hold names packaging refuses ("pydantic-0.18-py36+-none-any.whl"); such a file is
        # a reject with its reason, never a crash of the whole run.
        raise WheelNameError(shown, f"{type(err).__name__}: {err}") from None
    return WheelName(name, version, build, tags)


def sdist_project(filename: str) -> str | None:
    """The canonical name prefix of an sdist filename, if it looks like one (name-version.ext)."""
    lower = filename.lower()
    for suffix in SDIST_SUFFIXES:
        if lower.endswith(suffix):
            stem = filename[: -len(suffix)]
            name, sep, version = stem.rpartition("-")
            return canonicalize_name(name) if sep and version[:1].isdigit() else None
    return None


@dataclass(frozen=True)
class FileLink:
    """One distribution file a source offers, with what the source says about it."""

    filename: str  # unquoted
    url: Url  # absolute, without fragment or credentials (the transport applies those per host)
    source: Source
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    yanked: str | None = None  # None = not yanked; "" or a reason = yanked
    metadata_hashes: Mapping[str, str] | None = field(default=None, hash=False, compare=False)
    size: int | None = None
    upload_time: str | None = None

    @property
    def sha256(self) -> str | None:
        """The advertised sha256, if any."""
        return self.hashes.get("sha256")

    @property
    def best_hash(self) -> tuple[str, str] | None:
        """The strongest advertised (algorithm, hex digest), if any."""
        for name in HASH_NAMES:
            if name in self.hashes:
                return name, self.hashes[name]
        return None

    @property
    def is_wheel(self) -> bool:
        """True for a .whl file."""
        return self.filename.endswith(".whl")

    @property
    def metadata_url(self) -> Url:
        """The PEP 658 metadata file URL."""
        return self.url.appended(".metadata")

    def wheel_name(self) -> WheelName:
        """The parsed filename (raises WheelNameError)."""
        return parse_wheel_name(self.filename)
