"""File links and project pages: records, lenient wheel filenames, and pure parsers of every page form."""

from __future__ import annotations

import functools
import hashlib
import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

from packaging.tags import Tag, parse_tag
from packaging.utils import BuildTag, canonicalize_name
from packaging.version import InvalidVersion, Version

from jetpip.errors import WheelNameError
from jetpip.knowledge import Source

# Hash names pip accepts in a link fragment; strongest first, so verification picks the best one.
HASH_NAMES = ("sha512", "sha384", "sha256", "sha224", "sha1", "md5")
SDIST_SUFFIXES = (".tar.gz", ".zip", ".tar.bz2", ".tar.xz", ".tgz", ".tar")

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<user>[^/@:\s]*)(?::[^/@\s]*)?@")


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``****`` (a bare token user is hidden too)."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    userinfo, _, host = parts.netloc.rpartition("@")
    user, sep, _password = userinfo.partition(":")
    shown = f"{user}:****" if sep else "****"
    return urlunsplit((parts.scheme, f"{shown}@{host}", parts.path, parts.query, parts.fragment))


def strip_credentials(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    if "@" not in url:
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, parts.query,
                       parts.fragment))


def redact_text(text: str) -> str:
    """Every ``scheme://user:password@`` inside free text, redacted."""
    return _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:****@" if m["user"] else
                         f"{m['scheme']}****@", text)


@dataclass(frozen=True)
class WheelName:
    """The parts of a wheel filename, read leniently (NVIDIA and old non-normalised names)."""

    name: str  # canonical (PEP 503)
    version: Version
    build: BuildTag
    tags: frozenset[Tag]


_BUILD = re.compile(r"^(\d+)(.*)$")
_HEX = re.compile(r"[0-9a-fA-F]+")
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
    url: str  # absolute, without fragment; credentials are applied per host by the client
    source: Source
    hashes: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    requires_python: str | None = None
    yanked: str | None = None  # None = not yanked; "" or a reason = yanked
    metadata_hashes: Mapping[str, str] | None = field(default=None, hash=False, compare=False)
    size: int | None = None
    upload_time: str | None = None

    @property
    def redacted_url(self) -> str:
        """The URL with credentials hidden, for messages."""
        return redact_url(self.url)

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
    def metadata_url(self) -> str:
        """The PEP 658 metadata file URL."""
        return self.url + ".metadata"

    def wheel_name(self) -> WheelName:
        """The parsed filename (raises WheelNameError)."""
        return parse_wheel_name(self.filename)


@dataclass(frozen=True)
class ProjectPage:
    """What one source offers for one project: files, or found=False, plus files it could not read."""

    name: str  # canonical
    source: Source
    files: tuple[FileLink, ...] = ()
    found: bool = True
    rejects: tuple[tuple[str, str], ...] = ()  # (filename, reason)
    url: str = ""  # the page URL, redacted
    from_cache: bool = False


def _hashes_from_fragment(fragment: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in fragment.split("&"):
        algo, sep, digest = part.partition("=")
        algo = algo.lower()
        if sep and algo in HASH_NAMES and _HEX.fullmatch(digest):
            out[algo] = digest.lower()
    return out


def _clean_hashes(raw: object) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    out: dict[str, str] = {}
    for k, v in raw.items():
        algo = str(k).lower()
        if algo in HASH_NAMES and isinstance(v, str) and _HEX.fullmatch(v):
            out[algo] = v.lower()
    return out


class _Collector:
    """Turns raw (href, attributes) entries into FileLinks and rejects for one project."""

    def __init__(self, project: str, source: Source, *, keep_foreign: bool) -> None:
        self.project = canonicalize_name(project)
        self.source = source
        self.keep_foreign = keep_foreign  # a per-project page keeps other projects' files as rejects
        self.files: list[FileLink] = []
        self.rejects: list[tuple[str, str]] = []
        self.seen: set[str] = set()
        self.names: dict[tuple[str, str], str | WheelNameError] = {}

    def add(self, filename: str, url: str, **kw: Any) -> None:
        filename = unquote(filename)
        if not filename or "/" in filename:
            return
        if filename.endswith(".whl"):
            if not self.keep_foreign and canonicalize_name(filename.split("-")[0]) != self.project:
                return  # another project on a shared flat page
            try:
                parts = _split_wheel(filename)
                # Big pages repeat each name and version for every build: read each pair once.
                key = (parts[0], parts[1])
                checked = self.names.get(key)
                if checked is None:
                    try:
                        checked = self.names[key] = _name_version(filename, *key)[0]
                    except WheelNameError as err:
                        checked = self.names[key] = err
                if isinstance(checked, WheelNameError):
                    raise WheelNameError(filename, checked.reason)
                name = checked
                _check_tail(filename, parts)
            except WheelNameError as err:
                self.rejects.append((filename, err.reason))
                return
            if name != self.project:
                if self.keep_foreign:
                    self.rejects.append((filename, f"belongs to project '{name}'"))
                return
        else:
            sdist = sdist_project(filename)
            if sdist == self.project or (self.keep_foreign and sdist is not None):
                self.rejects.append((filename, "source distribution; jetpip installs wheels only"))
            elif self.keep_foreign and not filename.endswith((".asc", ".sig", ".metadata")):
                self.rejects.append((filename, "not a wheel"))
            return
        url = strip_credentials(url)
        if url in self.seen:
            return
        self.seen.add(url)
        self.files.append(FileLink(filename=filename, url=url, source=self.source, **kw))

    def page(self, url: str, found: bool = True) -> ProjectPage:
        return ProjectPage(self.project, self.source, tuple(self.files), found, tuple(self.rejects),
                           redact_url(url))


@functools.lru_cache(maxsize=64)
def _origin(base_url: str) -> str | None:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def _join(base_url: str, href: str) -> str | None:
    href = href.strip()
    if href.startswith(("https://", "http://")) and "[" not in href and "]" not in href:
        return href  # the common case on large pages: already absolute
    if href[:1] == "/" and href[1:2] != "/" and "/." not in href and "\\" not in href:
        origin = _origin(base_url)  # host-relative (devpi, mirrors): no full join needed
        if origin is not None and "[" not in origin:
            return origin + href
    try:
        joined = urljoin(base_url, href.strip())
        urlsplit(joined)  # a malformed netloc (a lone '[') raises here, not later
    except ValueError:
        return None
    return joined


def parse_simple_json(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a PEP 691 JSON project page; never raises (a malformed page becomes a reject)."""
    out = _Collector(project, source, keep_foreign=True)
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        out.rejects.append(("<page>", f"not valid JSON: {str(err)[:80]}"))
        return out.page(page_url)
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        out.rejects.append(("<page>", "JSON page has no 'files' list"))
        return out.page(page_url)
    for entry in files:
        if not isinstance(entry, dict):
            continue
        filename, href = entry.get("filename"), entry.get("url")
        if not isinstance(filename, str) or not isinstance(href, str):
            continue
        joined = _join(page_url, href)
        if joined is None:
            out.rejects.append((filename, "malformed URL"))
            continue
        url, _, fragment = joined.partition("#")
        hashes = _hashes_from_fragment(fragment) | _clean_hashes(entry.get("hashes"))
        yanked_raw = entry.get("yanked", False)
        yanked = (yanked_raw if isinstance(yanked_raw, str) else "") if yanked_raw else None
        meta_raw = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        metadata_hashes = None if not meta_raw else _clean_hashes(meta_raw)
        size = entry.get("size")
        rp = entry.get("requires-python")
        ut = entry.get("upload-time")
        out.add(
            filename, url,
            hashes=hashes,
            requires_python=rp if isinstance(rp, str) and rp.strip() else None,
            yanked=yanked,
            metadata_hashes=metadata_hashes,
            size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
            upload_time=ut if isinstance(ut, str) else None,
        )
    return out.page(page_url)


# A lean scanner: real index pages are large, and html.parser is several times slower.
_ANCHOR = re.compile(r"<a(\s[^>]*)?>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_ATTR = re.compile(r"""([^\s=/>"']+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"']+)))?""")
_BASE = re.compile(r"<base\s[^>]*>", re.IGNORECASE)


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        value = m[2] if m[2] is not None else m[3] if m[3] is not None else m[4]
        out.setdefault(m[1].lower(), html.unescape(value) if value is not None else "")
    return out


def iter_anchors(text: str, page_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    """(absolute href with fragment, attributes) of each ``<a href>`` in an HTML page."""
    base = page_url
    base_tag = _BASE.search(text)
    if base_tag:
        href = _attributes(base_tag.group(0)[5:-1]).get("href")
        if href:
            base = _join(page_url, href) or page_url
    for m in _ANCHOR.finditer(text):
        attrs = _attributes(m[1] or "")
        href = attrs.get("href")
        joined = _join(base, href) if href else None
        if joined:
            yield joined, attrs


def _decode(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def _anchor_links(out: _Collector, text: str, page_url: str) -> None:
    for href, attrs in iter_anchors(text, page_url):
        url, _, fragment = href.partition("#")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
        metadata_hashes = None
        if meta is not None and meta.strip().lower() != "false":
            metadata_hashes = _hashes_from_fragment(meta.strip())
        rp = attrs.get("data-requires-python")
        out.add(
            filename, url,
            hashes=_hashes_from_fragment(fragment),
            requires_python=rp.strip() if rp and rp.strip() else None,
            yanked=attrs.get("data-yanked"),
            metadata_hashes=metadata_hashes,
        )


def parse_simple_html(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a PEP 503 HTML project page (with PEP 592/658/714 attributes); never raises."""
    out = _Collector(project, source, keep_foreign=True)
    _anchor_links(out, _decode(data), page_url)
    return out.page(page_url)


def parse_flat_page(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a flat link page (find-links, NVIDIA redist listing): only ``project``'s files; never raises."""
    out = _Collector(project, source, keep_foreign=False)
    _anchor_links(out, _decode(data), page_url)
    return out.page(page_url)


def links_from_filenames(
    names: Iterable[str], base_url: str, source: Source, project: str
) -> ProjectPage:
    """A flat page made from a directory's file names (a local wheelhouse)."""
    out = _Collector(project, source, keep_foreign=False)
    for name in sorted(names):
        out.add(name, urljoin(base_url, quote(name)))
    return out.page(base_url)


def file_digest(data: bytes, algo: str) -> str:
    """Hex digest of ``data`` with ``algo``."""
    return hashlib.new(algo, data).hexdigest()
