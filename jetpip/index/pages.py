"""Project pages in every index form, read lazily: a page is scanned once, its files built on demand.

A scan only groups a page's rows by the version text in their filenames. It names neither the
source nor the project, so the index client caches it as it is, and a warm run reads no JSON or
HTML at all. A row becomes a ``FileLink`` only when the finder reaches its version, or when an error
message needs every file with its reason.
"""

from __future__ import annotations

import functools
import json
import marshal
import re
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from typing import Any
from urllib.parse import quote, unquote, urljoin, urlsplit

from packaging.utils import canonicalize_name
from packaging.version import Version

from jetpip.errors import CacheDamagedError, WheelNameError
from jetpip.model.links import (
    HASH_NAMES,
    FileLink,
    lenient_version,
    parse_sdist_name,
    sdist_project,
    wheel_project,
)
from jetpip.model.sources import Source
from jetpip.model.urls import Url

# Bump when the scan layout changes; a cached scan of another format is fetched again.
# 2: comments dropped, padded hrefs stripped, raw ">" in quoted values; 3: sdists by version;
# 4: every <a> start tag a link, closed or not, its attributes read by HTML's rules.
SCAN_FORMAT = 4
_HEX = re.compile(r"[0-9a-fA-F]+")

Row = Any  # a PEP 691 file entry (a dict), or the attribute text of an HTML anchor (a str)


class PageScan:
    """A page read just far enough to group its rows by version text ("" holds every other row).

    ``order`` lists the version texts best first (final releases newest first, then pre-releases),
    those that read as one version together, so a finder parses only the versions it reaches.

    The cached form (``to_bytes``) is an index followed by one packed block of rows per version
    text. Reading it back (``from_bytes``) reads the index only; a block is read, checked against
    its CRC and unpacked when a run first needs its rows.
    """

    __slots__ = ("_area", "_on_damage", "_rows", "_table", "base_url", "kind", "order", "problems")

    def __init__(
        self, kind: str, base_url: str, rows: dict[str, list[tuple[int, Row]]] | None = None,
        problems: tuple[tuple[str, str], ...] = (), *, order: list[tuple[str, ...]] | None = None,
    ) -> None:
        self.kind = kind  # "json" or "html": how a row becomes a FileLink
        self.base_url = base_url  # what relative links are joined to
        self.problems = problems  # page-level rejects ("<page>", why)
        self._rows = rows or {}
        self._table: dict[str, tuple[int, int, int]] = {}  # packed text -> (offset, size, crc32)
        self._area: bytes | memoryview = b""
        self._on_damage: Callable[[], None] | None = None
        self.order = order if order is not None else _version_order(self._rows)

    def texts(self) -> list[str]:
        """Every version text of the page, "" included."""
        return [*self._rows, *(t for t in self._table if t not in self._rows)]

    def rows(self, text: str) -> list[tuple[int, Row]]:
        """(position on the page, row) of each row whose filename has version text ``text``."""
        rows = self._rows.get(text)
        if rows is None:
            where = self._table.get(text)
            rows = self._rows[text] = self._unpack(*where) if where is not None else []
        return rows

    def _unpack(self, offset: int, size: int, crc: int) -> list[tuple[int, Row]]:
        block = self._area[offset:offset + size]
        try:
            if len(block) != size or zlib.crc32(block) != crc:
                raise ValueError("CRC mismatch")
            rows: list[tuple[int, Row]] = marshal.loads(block)
        except (EOFError, ValueError, TypeError) as err:
            if self._on_damage is not None:
                self._on_damage()
            raise CacheDamagedError(
                f"the cached copy of the page {Url(self.base_url)} is damaged ({err})",
                "run the command again: the damaged copy was removed, and the page is fetched anew",
            ) from None
        return rows

    def to_bytes(self) -> tuple[bytes, int]:
        """The cached form, and how many leading bytes (the index) the cache must check itself."""
        blocks, table, offset = [], [], 0
        for text in self.texts():
            block = marshal.dumps(self.rows(text))
            table.append((text, offset, len(block), zlib.crc32(block)))
            blocks.append(block)
            offset += len(block)
        index = marshal.dumps(
            (SCAN_FORMAT, self.kind, self.base_url, table, list(self.problems), self.order)
        )
        return b"".join([_LENGTH.pack(len(index)), index, *blocks]), _LENGTH.size + len(index)

    @classmethod
    def from_bytes(
        cls, data: bytes | memoryview, on_damage: Callable[[], None] | None = None
    ) -> PageScan | None:
        """The scan ``to_bytes`` wrote, its rows left packed; None for another format or damage."""
        try:
            (size,) = _LENGTH.unpack_from(data)
            end = _LENGTH.size + size
            fmt, kind, base, table, problems, order = marshal.loads(memoryview(data)[_LENGTH.size:end])
            if fmt != SCAN_FORMAT or kind not in _ADDERS or not isinstance(base, str):
                return None
            scan = cls(kind, base, None, tuple((str(f), str(why)) for f, why in problems),
                       order=[tuple(texts) for texts in order])
            scan._table = {str(text): (int(o), int(n), int(c)) for text, o, n, c in table}
        except (EOFError, ValueError, TypeError, struct.error):
            return None
        scan._area = memoryview(data)[end:]  # no copy: blocks are sliced out when first needed
        scan._on_damage = on_damage
        return scan


_LENGTH = struct.Struct("<Q")


def _version_order(rows: Mapping[str, object]) -> list[tuple[str, ...]]:
    by_version: dict[Version, list[str]] = {}
    for text in rows:
        if text:
            try:
                version = lenient_version(unquote(text), text)
            except WheelNameError:
                continue  # such rows show in the rejects, with the reason
            by_version.setdefault(version, []).append(text)
    best = sorted(by_version, key=lambda v: (not v.is_prerelease, v), reverse=True)
    return [tuple(by_version[v]) for v in best]


def _bucketed(kind: str, base_url: str, named: Iterable[tuple[int, Any, Row]]) -> PageScan:
    """Rows grouped by the version text of their filename (the link's spelling); "" for the rest.

    Pages hold tens of thousands of rows, so this loop stays lean: no call per row.
    """
    buckets: dict[str, list[tuple[int, Row]]] = {}
    get = buckets.get
    for i, name, row in named:
        text = ""
        if name.__class__ is str and name.endswith(".whl"):
            if "%" in name:
                name = unquote(name)
            dashes = name.count("-")
            if dashes == 4 or dashes == 5:
                start = name.index("-") + 1
                text = name[start:name.index("-", start)]
        elif name.__class__ is str and (name.endswith(".tar.gz") or name.endswith(".zip")):
            if "%" in name:
                name = unquote(name)
            # As packaging.utils.parse_sdist_filename: the version follows the stem's last '-'.
            text = name[:-7 if name.endswith(".tar.gz") else -4].rpartition("-")[2]
        rows = get(text)
        if rows is None:
            buckets[text] = [(i, row)]
        else:
            rows.append((i, row))
    return PageScan(kind, base_url, buckets)


def scan_json(data: bytes | str, page_url: str) -> PageScan:
    """Scan a PEP 691 JSON project page; never raises (a malformed page becomes a page-level reject)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        return PageScan("json", page_url, problems=(("<page>", f"not valid JSON: {str(err)[:80]}"),))
    files = doc.get("files") if isinstance(doc, dict) else None
    if not isinstance(files, list):
        return PageScan("json", page_url, problems=(("<page>", "JSON page has no 'files' list"),))
    return _bucketed("json", page_url, (
        (i, entry.get("filename"), entry) for i, entry in enumerate(files) if entry.__class__ is dict
    ))


# A lean scanner: real index pages are large, and html.parser is several times slower.
# It reads a start tag as HTML does: attribute names, each with an optional value; a quote right
# after '=' opens a value that may hold '>' (a raw ">=3.9" in data-requires-python), and a value
# without one runs to a space or '>', quotes included. Each start tag is a link, closed by </a>
# or not, and a match never fails once "<a" is read (a tag cut off by the end of the page ends
# there), so no text is scanned twice: waiting for a "</a>" or a ">" that never came made a page
# with many unclosed tags quadratic.
_NAME = r"""[^\s/>][^\s/>=]*"""
_ANCHOR = re.compile(
    rf"""<a(?=[\s/>])((?:[\s/]*{_NAME}(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]*))?)*[\s/]*)(?:(>)|\Z)""",
    re.IGNORECASE,
)
# An unclosed comment runs to the end of the page, as in HTML (and in one pass).
_COMMENT = re.compile(r"<!--(?:.*?-->|.*)", re.DOTALL)
_ATTR = re.compile(rf"""({_NAME})(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?""")
_HREF_FIRST = re.compile(r"""\s*href\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>"'][^\s>]*))""", re.IGNORECASE)
_BASE = re.compile(r"<base\s[^>]*>", re.IGNORECASE)


def _attributes(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in _ATTR.finditer(text):
        value = m[2] if m[2] is not None else m[3] if m[3] is not None else m[4]
        out.setdefault(m[1].lower(), _unescape(value) if value is not None else "")
    return out


def _unescape(value: str) -> str:
    if "&" not in value:
        return value
    import html  # its entity table is large, and most pages never need it

    return html.unescape(value)


def _href(attrs: str) -> str | None:
    first = _HREF_FIRST.match(attrs)  # the usual `<a href="..." data-...>`: no full attribute parse
    if first is None:
        return _attributes(attrs).get("href")
    value: str = first[1] if first[1] is not None else first[2] if first[2] is not None else first[3]
    return _unescape(value)


def _decode(data: bytes | str) -> str:
    return data if isinstance(data, str) else data.decode("utf-8", errors="replace")


def scan_html(data: bytes | str, page_url: str) -> PageScan:
    """Scan a PEP 503 HTML page or a flat link page (NVIDIA redist, --find-links); never raises."""
    text = _decode(data)
    if "<!--" in text:
        text = _COMMENT.sub("", text)  # a link commented out is no link
    base = page_url
    base_tag = _BASE.search(text)
    if base_tag:
        href = _attributes(base_tag.group(0)[5:-1]).get("href")
        if href:
            base = _join(page_url, href) or page_url

    def keyed() -> Iterator[tuple[int, str, Row]]:
        for i, m in enumerate(_ANCHOR.finditer(text)):
            if m[2] is None:
                break  # a tag the end of the page cut off is no tag
            attrs = m[1]
            href = _href(attrs)
            if href:
                yield i, href.strip().partition("#")[0].partition("?")[0].rsplit("/", 1)[-1], attrs

    return _bucketed("html", base, keyed())


def scan_filenames(names: Iterable[str], base_url: str) -> PageScan:
    """A page made from a directory's file names (a local wheelhouse)."""
    entries = ({"filename": n, "url": urljoin(base_url, quote(n))} for n in sorted(names))
    return _bucketed("json", base_url, ((i, e["filename"], e) for i, e in enumerate(entries)))


def scan_page(body: bytes, content_type: str, page_url: str) -> PageScan:
    """Scan an index page by its content type (PEP 691 JSON, else HTML)."""
    return scan_json(body, page_url) if "json" in content_type else scan_html(body, page_url)


# -- rows to FileLinks -----------------------------------------------------------------


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
    """Turns rows into FileLinks and rejects for one project."""

    def __init__(
        self, project: str, source: Source, *, keep_foreign: bool, keep: Callable[[str], bool] | None = None
    ) -> None:
        self.project = project
        self.keep = keep  # a cheap look at each (unquoted) filename: False drops the file unread
        self.source = source
        self.keep_foreign = keep_foreign  # a per-project page keeps other projects' files as rejects
        self.files: list[FileLink] = []
        self.rejects: list[tuple[str, str]] = []
        self.seen: set[Url] = set()
        self.names: dict[tuple[str, str], str | WheelNameError] = {}

    def add(self, filename: str, url: str, **kw: Any) -> None:
        filename = unquote(filename)
        if not filename or "/" in filename:
            return
        if filename.endswith(".whl"):
            if not self.keep_foreign and canonicalize_name(filename.split("-")[0]) != self.project:
                return  # another project on a shared flat page
            try:
                name = wheel_project(filename, self.names)
            except WheelNameError as err:
                self.rejects.append((filename, err.reason))
                return
            if name != self.project:
                if self.keep_foreign:
                    self.rejects.append((filename, f"belongs to project '{name}'"))
                return
        elif filename.endswith((".tar.gz", ".zip")):
            if not self._sdist_is_ours(filename):
                return
        else:
            sdist = sdist_project(filename)
            if sdist == self.project or (self.keep_foreign and sdist is not None):
                self.rejects.append((filename, "an old sdist format jetpip does not read "
                                               "(an sdist is a .tar.gz or .zip, PEP 625)"))
            elif self.keep_foreign and not filename.endswith((".asc", ".sig", ".metadata")):
                self.rejects.append((filename, "neither a wheel nor a source distribution"))
            return
        # A link the page joined to its own URL carries that URL's credentials; the transport
        # applies them per host, so the link keeps none (nor does the lock written from it).
        link = Url(url).without_credentials()
        if link in self.seen:
            return
        self.seen.add(link)
        self.files.append(FileLink(filename=filename, url=link, source=self.source, **kw))


    def _sdist_is_ours(self, filename: str) -> bool:
        """True to build a link for this sdist; a reject (kept when it says something) otherwise."""
        try:
            name = parse_sdist_name(filename)[0]
        except WheelNameError as err:
            if self.keep_foreign or sdist_project(filename) == self.project:
                self.rejects.append((filename, err.reason))
            return False
        if name != self.project:
            if self.keep_foreign:
                self.rejects.append((filename, f"belongs to project '{name}'"))
            return False
        return True


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


def _add_entry(out: _Collector, base_url: str, entry: dict[str, Any]) -> None:
    filename, href = entry.get("filename"), entry.get("url")
    if not isinstance(filename, str) or not isinstance(href, str):
        return
    if out.keep is not None and not out.keep(unquote(filename)):
        return
    joined = _join(base_url, href)
    if joined is None:
        out.rejects.append((filename, "malformed URL"))
        return
    url, _, fragment = joined.partition("#")
    hashes = _hashes_from_fragment(fragment) | _clean_hashes(entry.get("hashes"))
    yanked_raw = entry.get("yanked", False)
    yanked = (yanked_raw if isinstance(yanked_raw, str) else "") if yanked_raw else None
    meta_raw = entry.get("core-metadata", entry.get("dist-info-metadata", False))
    size = entry.get("size")
    rp = entry.get("requires-python")
    ut = entry.get("upload-time")
    out.add(
        filename, url,
        hashes=hashes,
        requires_python=rp if isinstance(rp, str) and rp.strip() else None,
        yanked=yanked,
        # An empty mapping still says the metadata file is there (PEP 691), as pip reads it.
        metadata_hashes=_clean_hashes(meta_raw) if meta_raw or isinstance(meta_raw, dict) else None,
        size=size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None,
        upload_time=ut if isinstance(ut, str) else None,
    )


def _add_anchor(out: _Collector, base_url: str, text: str) -> None:
    attrs = _attributes(text)
    href = attrs.get("href")
    joined = _join(base_url, href) if href else None
    if not joined:
        return
    url, _, fragment = joined.partition("#")
    filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
    if out.keep is not None and not out.keep(filename):
        return
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


_ADDERS: dict[str, Callable[[_Collector, str, Any], None]] = {"json": _add_entry, "html": _add_anchor}


class ProjectPage:
    """What one source offers for one project: its files and the files it could not read, or found=False.

    ``version_order`` and ``links_of`` build the files of one version at a time; ``files`` and
    ``rejects`` build them all, in page order.
    """

    def __init__(
        self, name: str, source: Source, scan: PageScan | None = None, *, found: bool = True,
        url: Url | None = None, keep_foreign: bool = True,
    ) -> None:
        self.name = canonicalize_name(name)
        self.source = source
        self.found = found
        self.url = url  # the page URL
        self._scan = scan
        self._keep_foreign = keep_foreign  # False on a flat page shared by many projects

    def __repr__(self) -> str:
        return f"ProjectPage({self.name!r}, {self.source.name!r}, found={self.found}, url={self.url!r})"

    def version_order(self) -> list[tuple[str, ...]]:
        """The page's version texts best first, those that read as one version together."""
        return self._scan.order if self._scan is not None else []

    def _collector(self, keep: Callable[[str], bool] | None = None) -> _Collector:
        return _Collector(self.name, self.source, keep_foreign=self._keep_foreign, keep=keep)

    def links_of(self, text: str, keep: Callable[[str], bool] | None = None) -> list[FileLink]:
        """The usable-looking files whose filename has version text ``text`` (rejects show in ``rejects``).

        ``keep`` looks at each filename first; the files it refuses are not built at all.
        """
        scan = self._scan
        if scan is None:
            return []
        out, add, base = self._collector(keep), _ADDERS[scan.kind], scan.base_url
        for _, row in scan.rows(text):
            add(out, base, row)
        return out.files

    @functools.cached_property
    def _all(self) -> tuple[tuple[FileLink, ...], tuple[tuple[str, str], ...]]:
        out, scan = self._collector(), self._scan
        if scan is not None:
            out.rejects.extend(scan.problems)
            add, base = _ADDERS[scan.kind], scan.base_url
            every = [r for t in scan.texts() for r in scan.rows(t)]
            for _, row in sorted(every, key=itemgetter(0)):
                add(out, base, row)
        return tuple(out.files), tuple(out.rejects)

    @property
    def files(self) -> tuple[FileLink, ...]:
        """Every file the page offers for the project, in page order."""
        return self._all[0]

    @property
    def rejects(self) -> tuple[tuple[str, str], ...]:
        """(filename, reason) for each file the page holds that could not be read."""
        return self._all[1]


def parse_simple_json(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a PEP 691 JSON project page; never raises (a malformed page becomes a reject)."""
    return ProjectPage(project, source, scan_json(data, page_url), url=Url(page_url))


def parse_simple_html(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a PEP 503 HTML project page (with PEP 592/658/714 attributes); never raises."""
    return ProjectPage(project, source, scan_html(data, page_url), url=Url(page_url))


def parse_flat_page(data: bytes | str, page_url: str, source: Source, project: str) -> ProjectPage:
    """Read a flat link page (find-links, NVIDIA redist listing): only ``project``'s files; never raises."""
    return ProjectPage(project, source, scan_html(data, page_url), url=Url(page_url),
                       keep_foreign=False)


def links_from_filenames(
    names: Iterable[str], base_url: str, source: Source, project: str
) -> ProjectPage:
    """A flat page made from a directory's file names (a local wheelhouse)."""
    return ProjectPage(project, source, scan_filenames(names, base_url), url=Url(base_url),
                       keep_foreign=False)
