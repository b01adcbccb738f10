"""File links: the record of one offered file, lenient wheel and sdist filenames, and the binary policy."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
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
# Archive suffixes that look like a source distribution (for reject reasons); only the first two are
# sdists a resolver takes, as packaging.utils.parse_sdist_filename reads them.
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")
SDIST_FORMATS = (".tar.gz", ".zip")


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel filename, read leniently (NVIDIA and old non-normalised names)."""

    name: str  # canonical (PEP 503)
    version: Version
    build: BuildTag
    tags: frozenset[Tag]


_BUILD = re.compile(r"^(\d+)(.*)$")
_NAME_OK = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._]*[A-Za-z0-9])?$")
_PROJECT_OK = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")


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


def is_sdist_filename(filename: str) -> bool:
    """True for a ``.tar.gz`` or ``.zip`` name: the sdist formats a resolver takes (PEP 625)."""
    return filename.endswith(SDIST_FORMATS)


def sdist_version_text(filename: str) -> str | None:
    """The version part of an sdist filename as written (after its last '-'); None for no sdist."""
    if not is_sdist_filename(filename):
        return None
    stem = filename[: -len(".tar.gz")] if filename.endswith(".tar.gz") else filename[: -len(".zip")]
    _, sep, version = stem.rpartition("-")
    return version if sep else None


@functools.lru_cache(maxsize=8192)
def parse_sdist_name(filename: str) -> tuple[str, Version]:
    """(canonical name, version) of an sdist filename; raise WheelNameError why it is none.

    The split is packaging.utils.parse_sdist_filename's (the version follows the last '-'); the
    version is read as leniently as a wheel's, since old sdists carry old spellings.
    """
    shown = unquote(filename)
    version = sdist_version_text(shown)
    if version is None:
        raise WheelNameError(shown, "not a source distribution (name-version.tar.gz or .zip)")
    name = shown[: shown.rindex("-")]
    if not _PROJECT_OK.match(name):  # unlike a wheel's, an sdist's name may hold '-' (PEP 508)
        raise WheelNameError(shown, f"'{name}' is not a valid project name")
    return canonicalize_name(name), lenient_version(version, shown)


@dataclass(frozen=True)
class BinaryPolicy:
    """pip's format control: projects that take wheels only (--only-binary) or sources only (--no-binary).

    Each set holds canonical names, or ":all:" for every project. ``prefer_binary`` (pip's
    --prefer-binary) takes an older wheel over a newer sdist.
    """

    no_binary: frozenset[str] = frozenset()
    only_binary: frozenset[str] = frozenset()
    prefer_binary: bool = False

    @classmethod
    def parse(cls, options: Iterable[tuple[str, str]]) -> BinaryPolicy:
        """The policy after (option, value) pairs, applied in order as pip does.

        Options: "--no-binary" and "--only-binary" with pip's values, "--prefer-binary" with any.
        """
        no: set[str] = set()
        only: set[str] = set()
        prefer = False
        for option, value in options:
            if option == "--prefer-binary":
                prefer = True
                continue
            named, other = (no, only) if option == "--no-binary" else (only, no)
            for item in (v.strip() for v in value.split(",")):
                if item == ":all:":
                    named.clear()
                    other.clear()
                    named.add(":all:")
                elif item == ":none:":
                    named.clear()
                elif item:
                    key = canonicalize_name(item)
                    other.discard(key)
                    named.add(key)
        return cls(frozenset(no), frozenset(only), prefer)

    def allows(self, name: str) -> tuple[bool, bool]:
        """(wheels allowed, sdists allowed) for ``name``: a project named by itself wins over ":all:"."""
        key = canonicalize_name(name)
        if key in self.only_binary:
            return True, False
        if key in self.no_binary:
            return False, True
        if ":all:" in self.only_binary:
            return True, False
        if ":all:" in self.no_binary:
            return False, True
        return True, True

    def refusal(self, name: str, *, sdist: bool) -> str | None:
        """Why the policy passes over an sdist (or a wheel) of ``name``; None when it takes it."""
        wheels, sdists = self.allows(name)
        key = canonicalize_name(name)
        if sdist and not sdists:
            given = key if key in self.only_binary else ":all:"
            return f"source distribution, and --only-binary {given} takes wheels only"
        if not sdist and not wheels:
            given = key if key in self.no_binary else ":all:"
            return f"a wheel, and --no-binary {given} takes the source distribution only"
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
    def is_sdist(self) -> bool:
        """True for a source distribution (.tar.gz or .zip)."""
        return is_sdist_filename(self.filename)

    @property
    def metadata_url(self) -> Url:
        """The PEP 658 metadata file URL."""
        return self.url.appended(".metadata")

    def wheel_name(self) -> WheelName:
        """The parsed filename (raises WheelNameError)."""
        return parse_wheel_name(self.filename)
