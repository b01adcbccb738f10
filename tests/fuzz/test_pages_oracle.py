"""Project pages of any shape, against the standard library: html.parser for HTML, json for PEP 691.

tests/index/test_pages.py writes pages the ways servers write them. Here the pages are token soup
(tags cut off, quotes left open, anchors never closed, comments never ended) and JSON documents
of any shape: the scanner must find the links html.parser finds, and the files json reads, and
never raise. Then three 1 MB pages that made the scanner quadratic.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import urljoin

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jetpip.index.pages import parse_simple_html, parse_simple_json, scan_html
from jetpip.model.sources import Source

PROJECT = "demo-pkg"
PAGE_URL = "https://idx.example/simple/demo-pkg/"
SRC = Source("test", "simple", "https://idx.example/simple")
WHEELS = [f"demo_pkg-{v}-py3-none-any.whl" for v in ("1.0", "2.0", "3.0rc1")]


class _Hrefs(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        first: dict[str, str] = {}
        for name, value in attrs:
            first.setdefault(name, value or "")
        if tag == "a" and first.get("href"):
            self.hrefs.append(first["href"])


def html_oracle(text: str) -> list[str]:
    """The URL of every wheel link html.parser reads on the page, in page order, each once."""
    parser = _Hrefs()
    parser.feed(text)
    parser.close()
    out: list[str] = []
    for href in parser.hrefs:
        url = urljoin(PAGE_URL, href.strip()).partition("#")[0]
        if url.rsplit("/", 1)[-1] in WHEELS and url not in out:
            out.append(url)
    return out


# Pieces a page is made of, well formed or not. The scanner reads tags without knowing which tag
# it is in, so the soup keeps "<a " and "<!--" where HTML reads them as markup: a tag name always
# ends ("<ahref=" names another tag), and there are no comments, which would fall inside tags here
# (the page tests and the 1 MB page below hold comments where pages have them). No <script>,
# <style> or <base>, which it reads differently by design (tests/index/test_pages.py says how).
_TOKENS = st.sampled_from([
    "<a ", "<A\n", " ", "\n", "\t", "href=", "HREF = ", "data-yanked", "data-yanked=", "=", '"', "'", ">",
    "</a>", "</A >", "<br/>", "<p>", "</p>", "text", "&amp;", "&gt;", "x", "/",
    *(f'<a href="{w}">' for w in WHEELS), *(f"href={w}" for w in WHEELS), *(f"'{w}'" for w in WHEELS),
    *(f'"{w}#sha256=00"' for w in WHEELS),
])

# A page ends as pages do, in a closed tag: a tag the end cuts off is dropped in HTML, where
# html.parser reads on from the character after its '<' (the scanner follows HTML).
_soup = st.lists(_TOKENS, max_size=40).map(lambda tokens: "".join(tokens) + "</body>\n")


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_soup)
def test_any_html_offers_the_links_html_parser_reads(text: str) -> None:
    """400 pages of up to 40 tokens: every wheel link html.parser reads, and no other, in order."""
    page = parse_simple_html(text, PAGE_URL, SRC, PROJECT)
    assert [str(f.url) for f in page.files] == html_oracle(text)


# JSON of any shape, with the keys a PEP 691 page holds, values of every JSON type in them.
_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                          st.text(max_size=8), st.sampled_from(WHEELS), st.just("sha256"))
_keys = st.sampled_from(["files", "filename", "url", "hashes", "sha256", "yanked", "requires-python",
                         "core-metadata", "size", "upload-time", "meta", "name"]) | st.text(max_size=4)
_json = st.recursive(_json_scalars, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(_keys, inner, max_size=5), max_leaves=20)


def json_oracle(text: str) -> list[str]:
    """The URL of every demo-pkg wheel json reads in the page's "files", in order, each once."""
    doc = json.loads(text)
    files = doc.get("files") if isinstance(doc, dict) else None
    out: list[str] = []
    for entry in files if isinstance(files, list) else ():
        if isinstance(entry, dict) and entry.get("filename") in WHEELS and isinstance(entry.get("url"), str):
            url = urljoin(PAGE_URL, entry["url"].strip()).partition("#")[0]
            if url not in out:
                out.append(url)
    return out


@settings(max_examples=400, deadline=None)
@given(_json)
def test_any_json_offers_the_files_json_reads(doc: object) -> None:
    """400 JSON documents of any shape: the demo-pkg wheels json reads, and the page never raises."""
    text = json.dumps(doc)
    page = parse_simple_json(text.encode(), PAGE_URL, SRC, PROJECT)
    assert [str(f.url) for f in page.files] == json_oracle(text)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_are_a_page_or_a_reject_never_an_error(data: bytes) -> None:
    """200 byte strings, as HTML and as JSON: each reads as a page (perhaps of no files)."""
    for parse in (parse_simple_html, parse_simple_json):
        page = parse(data, PAGE_URL, SRC, PROJECT)
        assert isinstance(page.files, tuple) and isinstance(page.rejects, tuple)


# -- pages that once took the scanner quadratic time ---------------------------------------------
# Each is 1 MB. The scanner reads one in well under a second; a quadratic one took minutes to
# hours (a run that hangs here is that regression), so no timer is needed to tell them apart.

_MB = 1 << 20


def _rows(n: int, close: str) -> str:
    return "".join(f'<a href="demo_pkg-1.0.{i}-py3-none-any.whl#sha256=00">{i}{close}<br/>\n'
                   for i in range(n))


def _big(make: str) -> str:
    row_bytes = len(_rows(1, "</a>"))
    if make == "anchors never closed":
        return _rows(_MB // row_bytes, "")
    if make == "a tag never ended":
        return _rows(100, "</a>") + "<a x " * (_MB // 5)
    return _rows(100, "</a>") + "<!--" + "<a x>" * (_MB // 5)  # a comment never ended


def test_a_page_of_anchors_never_closed_offers_every_link() -> None:
    text = _big("anchors never closed")
    assert len(text) >= _MB * 0.9
    parser = _Hrefs()
    parser.feed(text)
    parser.close()
    page = parse_simple_html(text, PAGE_URL, SRC, PROJECT)
    assert len(page.files) == text.count("<a ") == len(parser.hrefs)


def test_a_page_ending_in_a_tag_never_ended_offers_the_links_before_it() -> None:
    text = _big("a tag never ended")
    assert len(scan_html(text, PAGE_URL).rows("1.0.99")) == 1
    assert len(parse_simple_html(text, PAGE_URL, SRC, PROJECT).files) == 100


def test_a_comment_never_ended_hides_the_rest_of_the_page() -> None:
    text = _big("a comment never ended")
    assert len(parse_simple_html(text, PAGE_URL, SRC, PROJECT).files) == 100
