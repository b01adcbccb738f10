"""The page scanner, against the standard library: html.parser reads PEP 503 pages, json PEP 691 pages.

Hypothesis writes project pages the many ways servers write them; a reference reader built on
``html.parser.HTMLParser`` (or ``json.loads``) says which files each page offers, and the scanner
must find exactly those, in page order, with the same URL, hashes, Requires-Python, yank and
metadata, and must file every other project's wheel and every sdist as a reject.

Where the scanner reads less than html.parser, by design, the pages written here stay inside it:
it reads only the first ``<base>`` tag, and no ``<script>`` or ``<style>`` content as code
(tests/fuzz/test_pages_oracle.py reads pages of any shape).
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from random import Random
from urllib.parse import parse_qsl, quote, unquote, urljoin, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.utils import parse_sdist_filename, parse_wheel_filename

from jetpip.index.pages import ProjectPage, parse_flat_page, parse_simple_html, parse_simple_json
from jetpip.model.links import HASH_NAMES
from jetpip.model.sources import Source

PROJECT = "demo-pkg"
PAGE_URL = "https://idx.example/simple/demo-pkg/"
SRC = Source("test", "simple", "https://idx.example/simple")


@dataclass(frozen=True)
class Offered:
    """What a page says about one file, as the reference reader takes it."""

    filename: str
    url: str
    hashes: dict[str, str]
    requires_python: str | None
    yanked: str | None
    metadata: dict[str, str] | None
    size: int | None = None
    upload_time: str | None = None


# -- the reference readers --------------------------------------------------------------------------


def _known(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The hashes whose algorithm pip knows, with hex digests, in lower case."""
    return {algo.lower(): digest.lower() for algo, digest in pairs
            if algo.lower() in HASH_NAMES and digest and all(c in string.hexdigits for c in digest)}


def _hashes(text: str) -> dict[str, str]:
    """``algo=hex&...`` read as a query string."""
    return _known(parse_qsl(text))


def _split(base: str, href: str) -> tuple[str, str, dict[str, str]]:
    url, _, fragment = urljoin(base, href.strip()).partition("#")  # HTML strips spaces round a URL
    return url, unquote(urlsplit(url).path.rsplit("/", 1)[-1]), _hashes(fragment)


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, str]] = []
        self.base: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        first: dict[str, str] = {}
        for name, value in attrs:
            # HTML ignores a repeated attribute: the first one counts (pip's dict(attrs) keeps the last).
            first.setdefault(name, value or "")
        if tag == "a" and first.get("href"):
            self.anchors.append(first)
        elif tag == "base" and self.base is None:
            self.base = first.get("href")


def html_oracle(text: str, page_url: str) -> list[Offered]:
    """The files of a PEP 503 page (with PEP 592, 658 and 714 attributes), read by html.parser."""
    parser = _Anchors()
    parser.feed(text)
    parser.close()
    base = urljoin(page_url, parser.base.strip()) if parser.base else page_url
    out = []
    for attrs in parser.anchors:
        url, filename, hashes = _split(base, attrs["href"])
        meta = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))  # PEP 714
        rp = (attrs.get("data-requires-python") or "").strip()
        out.append(Offered(
            filename, url, hashes, requires_python=rp or None, yanked=attrs.get("data-yanked"),
            metadata=None if meta is None or meta.strip().lower() == "false" else _hashes(meta.strip()),
        ))
    return out


def json_oracle(text: str, page_url: str) -> list[Offered]:
    """The files of a PEP 691 page, read by json."""
    out = []
    for entry in json.loads(text)["files"]:
        url, _, hashes = _split(page_url, entry["url"])
        hashes |= _known(entry["hashes"].items())
        yanked = entry.get("yanked", False)
        meta = entry.get("core-metadata", entry.get("dist-info-metadata", False))
        out.append(Offered(
            entry["filename"], url, hashes, entry.get("requires-python"),
            # PEP 691: a reason is a non-empty string; "" is not a reason, so not a yank either.
            yanked="" if yanked is True else yanked or None,
            metadata=None if meta is False else {} if meta is True else _known(meta.items()),
            size=entry.get("size"), upload_time=entry.get("upload-time"),
        ))
    return out


def expected(offered: list[Offered], *, flat: bool) -> tuple[list[Offered], list[tuple[str, str]]]:
    """The project's wheels and sdists, and the rejects: (on a per-project page) other projects' files.

    A flat page is shared by many projects, so it says nothing of the others' files.
    """
    files, rejects = [], []
    for file in offered:
        if file.filename.endswith(".whl"):
            owner = parse_wheel_filename(file.filename)[0]
        else:
            owner = parse_sdist_filename(file.filename)[0]
        if owner == PROJECT:
            files.append(file)
        elif not flat:
            rejects.append((file.filename, f"belongs to project '{owner}'"))
    return files, rejects


def found(page: ProjectPage) -> tuple[list[Offered], list[tuple[str, str]]]:
    files = [Offered(f.filename, str(f.url), dict(f.hashes), f.requires_python, f.yanked,
                     None if f.metadata_hashes is None else dict(f.metadata_hashes), f.size, f.upload_time)
             for f in page.files]
    # The finder reads a page one version at a time: that path must find the same files.
    by_version = {str(f.url) for texts in page.version_order() for t in texts for f in page.links_of(t)}
    assert by_version == {file.url for file in files}
    return files, list(page.rejects)


# -- what pages hold ------------------------------------------------------------------------------

_versions = st.one_of(
    st.lists(st.integers(0, 999), min_size=1, max_size=3).map(lambda parts: ".".join(map(str, parts))),
    st.sampled_from(["2.1.0a0+41361538.nv23.06", "1.0.post1", "3.0rc1", "1!2.0", "0.9.dev2025+cu130.g378"]),
)
_tags = st.sampled_from([
    "py3-none-any", "py2.py3-none-any", "cp310-cp310-linux_aarch64",
    "cp38-cp38-manylinux_2_17_aarch64.manylinux2014_aarch64",
])


def _wheel(names: list[str]) -> st.SearchStrategy[str]:
    return st.builds("{}-{}{}-{}.whl".format, st.sampled_from(names), _versions,
                     st.sampled_from(["", "-1", "-2local"]), _tags)


_filenames = st.lists(
    st.one_of(
        _wheel(["demo_pkg", "Demo_Pkg", "demo.pkg", "DEMO_PKG"]),  # spellings of the project
        _wheel(["other_pkg", "demo_pkg_extra"]),
        st.builds("{}-{}{}".format, st.sampled_from(["demo_pkg", "other"]), _versions,
                  st.sampled_from([".tar.gz", ".zip"])),
    ),
    max_size=8, unique=True,
)
_hex = st.text("0123456789abcdefABCDEF", min_size=1, max_size=16)
_algos = st.sampled_from(["sha256", "SHA256", "md5", "sha512", "blake2b"])  # blake2b: pip knows no such
_hash_dicts = st.dictionaries(_algos.map(str.lower), _hex, max_size=2)
_printable = st.characters(codec="utf-8", exclude_categories=["C"])
# Requires-Python as indexes write it, and reasons with quotes, '<', '>', '&' and non-ASCII.
_requires_python = st.sampled_from([">=3.8", "<4,>=3.9", ">=3.6, !=3.0.*", " >=3.10 ", "~=3.11"])
_reasons = st.text(st.sampled_from("\"'<>&=; é漢") | _printable, max_size=12)


@dataclass(frozen=True)
class File:
    filename: str
    href: str  # without the fragment
    fragment: dict[str, str]
    requires_python: str | None
    yanked: str | bool  # False: not yanked; True: yanked without a reason
    metadata: dict[str, str] | bool
    metadata_keys: tuple[str, ...]  # which of PEP 714's two names carry it


@st.composite
def _files(draw: st.DrawFn) -> list[File]:
    out = []
    for filename in draw(_filenames):
        name = draw(st.sampled_from([quote(filename), filename]))  # '+' written as %2B or as it is
        href = draw(st.sampled_from([
            f"https://files.example/packages/ab/cd/{name}", f"/files/{name}", f"../../files/{name}", name,
        ]))
        out.append(File(
            filename, href, draw(st.dictionaries(_algos, _hex, max_size=2)),
            draw(st.none() | _requires_python), draw(st.booleans() | _reasons),
            draw(st.booleans() | _hash_dicts),
            draw(st.sampled_from([("data-core-metadata",), ("data-dist-info-metadata",),
                                  ("data-core-metadata", "data-dist-info-metadata")])),
        ))
    return out


# -- writing HTML the ways servers do ---------------------------------------------------------------
# The layout choices come from a Random seeded by hypothesis: drawing each choice from hypothesis
# made a page ten times slower to write, and a failing page is shown whole anyway.

_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}
_SPACES = [" ", "  ", "\n", "\n       ", "\t"]
_EXTRA = [  # attributes no index reads, one of them quoting what looks like an attribute
    'rel="internal"', "class='wheel file'", "title=x", 'title="href=decoy-1.0-py3-none-any.whl >"',
    'data-requires-python="&gt;=99"',  # a repeated attribute: HTML keeps the first
]
_BETWEEN = [
    "\n", "<br/>\n", "<br>", "", '<p class="note">old builds below</p>', "<!-- generated by a tool -->",
    '<!-- <a href="demo_pkg-0.0.1-py3-none-any.whl">withdrawn</a> -->',  # commented out: no link
]


def _escaped(rnd: Random, value: str, quote_char: str) -> str:
    """``value`` as attribute text: what the quoting forbids escaped, anything else at times."""
    must = "&" + quote_char if quote_char else "&\"'<>=` \t\n\r\f"
    out = []
    for char in value:
        if char not in must and rnd.random() < 0.9:
            out.append(char)
        elif char in _NAMED and rnd.random() < 0.5:
            out.append(_NAMED[char])
        else:
            out.append(rnd.choice([f"&#{ord(char)};", f"&#x{ord(char):X};", f"&#x{ord(char):x};"]))
    return "".join(out)


def _attribute(rnd: Random, name: str, value: str | None) -> str:
    name = rnd.choice([name, name.upper()])
    if value is None:
        return name
    quote_char = rnd.choice(['"', "'", ""] if value else ['"', "'"])
    equals = rnd.choice(["=", " = ", "=\n  "])
    return f"{name}{equals}{quote_char}{_escaped(rnd, value, quote_char)}{quote_char}"


def _anchor(rnd: Random, file: File) -> str:
    fragment = "&".join(f"{algo}={digest}" for algo, digest in file.fragment.items())
    href = file.href + (f"#{fragment}" if fragment else "")
    attrs = [_attribute(rnd, "href", rnd.choice([href, f" {href}\n"]))]
    if file.requires_python is not None:
        attrs.append(_attribute(rnd, "data-requires-python", file.requires_python))
    if file.yanked is not False:
        attrs.append(_attribute(rnd, "data-yanked", None if file.yanked is True else file.yanked))
    if file.metadata is not False:
        value = "true" if file.metadata is True else "&".join(f"{k}={v}" for k, v in file.metadata.items())
        keys = file.metadata_keys  # with both, the older name says something else: the newer one counts
        given = [value or "true", "sha256=00"]
        attrs.extend(_attribute(rnd, key, text) for key, text in zip(keys, given, strict=False))
    attrs += rnd.sample(_EXTRA, rnd.randint(0, 2))
    rnd.shuffle(attrs)
    spaced = "".join(rnd.choice(_SPACES) + attr for attr in attrs) + rnd.choice(["", " ", "\n"])
    tag = rnd.choice(["a", "A"])
    text = rnd.choice([_escaped(rnd, file.filename, '"'), "<span>file</span>", "", "x & y"])
    return f"<{tag}{spaced}>{text}</{tag}{rnd.choice(['', ' '])}>"


@st.composite
def html_pages(draw: st.DrawFn) -> tuple[str, int]:
    """A page and how many files it links."""
    files, rnd = draw(_files()), Random(draw(st.integers(0, 2**32)))
    base = rnd.choice([None, "https://mirror.example/root/simple/demo-pkg/", "/mirror/demo-pkg/"])
    head = '<!DOCTYPE html>\n<html>\n  <head>\n    <meta name="pypi:repository-version" content="1.1">\n'
    head += "    <title>Links for demo-pkg</title>\n"
    if base is not None:
        head += f'    <base href="{base}">\n'
    body = "".join(rnd.choice(_BETWEEN) + _anchor(rnd, file) for file in files)
    body = f"  <body>\n    <h1>Links for demo-pkg</h1>\n{body}\n  </body>\n"
    return f"{head}  </head>\n{body}</html>\n", len(files)


@st.composite
def json_pages(draw: st.DrawFn) -> tuple[str, int]:
    """A PEP 691 page and how many files it lists."""
    files, rnd = draw(_files()), Random(draw(st.integers(0, 2**32)))
    entries = []
    for file in files:
        fragment = "&".join(f"{algo}={digest}" for algo, digest in file.fragment.items())
        entry: dict[str, object] = {
            "filename": file.filename, "url": file.href + (f"#{fragment}" if fragment else ""),
            # Some repeat the URL's hashes, some contradict them: the "hashes" key counts.
            "hashes": {algo.lower(): rnd.choice([digest, "0" + digest])
                       for algo, digest in file.fragment.items() if rnd.random() < 0.5},
        }
        if file.requires_python is not None:
            entry["requires-python"] = file.requires_python
        if file.yanked is not False or rnd.random() < 0.5:
            entry["yanked"] = file.yanked
        keys = rnd.choice([("core-metadata",), ("dist-info-metadata",),
                           ("core-metadata", "dist-info-metadata")])
        for key in keys:  # with both, the older name says something else: the newer one counts
            entry[key] = file.metadata if key == keys[0] else {"sha256": "00"}
        if rnd.random() < 0.5:
            entry["size"] = rnd.randrange(2**40)
            entry["upload-time"] = "2025-01-08T01:49:37.123456Z"
        if rnd.random() < 0.5:
            entry["gpg-sig"] = False
        items = list(entry.items())
        rnd.shuffle(items)
        entries.append(dict(items))
    doc = {"meta": {"api-version": "1.1"}, "name": PROJECT, "files": entries, "versions": []}
    text = json.dumps(doc, indent=rnd.choice([None, 1, "\t"]), ensure_ascii=rnd.random() < 0.5,
                      sort_keys=rnd.random() < 0.5)
    return text, len(entries)


# -- the properties ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(html_pages())
def test_html_pages_offer_what_html_parser_reads(page: tuple[str, int]) -> None:
    """200 pages of up to 8 links: both quotings and none, entities, attribute order and case, spaces,
    comments, extra tags, base URLs; read as a project's page and as a flat page."""
    text, count = page
    offered = html_oracle(text, PAGE_URL)
    assert len(offered) == count  # the reference reads every link the page was written with
    assert found(parse_simple_html(text, PAGE_URL, SRC, PROJECT)) == expected(offered, flat=False)
    assert found(parse_flat_page(text.encode(), PAGE_URL, SRC, PROJECT)) == expected(offered, flat=True)


@settings(max_examples=200, deadline=None)
@given(json_pages())
def test_json_pages_offer_what_json_reads(page: tuple[str, int]) -> None:
    """200 pages of up to 8 files: key order, indentation, escaped non-ASCII, either metadata key."""
    text, count = page
    offered = json_oracle(text, PAGE_URL)
    assert len(offered) == count
    assert found(parse_simple_json(text.encode(), PAGE_URL, SRC, PROJECT)) == expected(offered, flat=False)


def test_a_raw_greater_than_in_a_quoted_value_stays_in_the_value() -> None:
    # PEP 503 asks for "&gt;", but pages written by hand or by small tools put ">=3.9" as it is.
    text = '<a href="demo_pkg-1.0-py3-none-any.whl" data-requires-python=">=3.9" data-yanked="a > b">x</a>'
    (file,) = parse_simple_html(text, PAGE_URL, SRC, PROJECT).files
    assert (file.requires_python, file.yanked) == (">=3.9", "a > b")


def test_a_link_in_a_comment_is_no_link() -> None:
    text = ('<!-- <a href="demo_pkg-1.0-py3-none-any.whl">1.0</a> -->'
            '<a href="demo_pkg-2.0-py3-none-any.whl">2.0</a>')
    assert [f.filename for f in parse_simple_html(text, PAGE_URL, SRC, PROJECT).files] == [
        "demo_pkg-2.0-py3-none-any.whl"
    ]


def test_a_link_with_spaces_round_its_url_is_found_by_version() -> None:
    page = parse_simple_html('<a href=" demo_pkg-1.0-py3-none-any.whl\n">1.0</a>', PAGE_URL, SRC, PROJECT)
    assert [f.filename for t in page.version_order() for f in page.links_of(t[0])] == [
        "demo_pkg-1.0-py3-none-any.whl"
    ]
