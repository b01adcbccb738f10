"""Pure parsers: wheel filenames, PEP 691 JSON, PEP 503 HTML, flat pages."""

from __future__ import annotations

import json
import marshal
import struct
from dataclasses import asdict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.tags import Tag
from packaging.version import Version

from jetpip.errors import CacheDamagedError, WheelNameError
from jetpip.index.pages import (
    SCAN_FORMAT,
    PageScan,
    ProjectPage,
    parse_flat_page,
    parse_simple_html,
    parse_simple_json,
)
from jetpip.model.links import BinaryPolicy, parse_sdist_name, parse_wheel_name
from jetpip.model.sources import Source
from jetpip.model.urls import Url

SRC = Source("test", "simple", Url.parse("https://idx.example/simple"))
FLAT_URL = "https://redist.example/jp/v512/pytorch/"
FLAT = Source("redist", "flat", Url.parse(FLAT_URL))


@pytest.mark.parametrize(
    ("filename", "version"),
    [
        ("torch-2.1.0a0+41361538.nv23.06-cp38-cp38-linux_aarch64.whl", "2.1.0a0+41361538.nv23.06"),
        ("torch-2.0.0+nv23.05-cp38-cp38-linux_aarch64.whl", "2.0.0+nv23.05"),
        ("torch-2.3.0a0+40ec155e58.nv24.03.13384722-cp310-cp310-linux_aarch64.whl",
         "2.3.0a0+40ec155e58.nv24.03.13384722"),
        ("torch-2.1.0a0%2B41361538.nv23.06-cp38-cp38-linux_aarch64.whl", "2.1.0a0+41361538.nv23.06"),
        # JetPack 4.6.1 names carry two '+' labels
        ("torch-1.11.0a0+17540c5+nv22.01-cp36-cp36m-linux_aarch64.whl", "1.11.0a0+17540c5.nv22.01"),
        ("torch-2.9.0.dev20250827+cu130.g378edb0-cp312-cp312-linux_aarch64.whl",
         "2.9.0.dev20250827+cu130.g378edb0"),
        ("Old.Name-1.0_post1-py2.py3-none-any.whl", "1.0.post1"),
    ],
)
def test_lenient_wheel_names(filename: str, version: str) -> None:
    wheel = parse_wheel_name(filename)
    assert wheel.version == Version(version)
    assert wheel.build == ()


def test_wheel_name_parts() -> None:
    wheel = parse_wheel_name("onnxruntime_gpu-1.23.0-1local-cp310-cp310-linux_aarch64.whl")
    assert wheel.name == "onnxruntime-gpu"
    assert wheel.build == (1, "local")
    assert wheel.tags == frozenset({Tag("cp310", "cp310", "linux_aarch64")})
    multi = parse_wheel_name("six-1.16.0-py2.py3-none-any.whl")
    assert {str(t) for t in multi.tags} == {"py2-none-any", "py3-none-any"}


@pytest.mark.parametrize(
    ("filename", "reason"),
    [
        ("torch-2.1.0.tar.gz", "no .whl suffix"),
        ("torch-cp38-x-cp38-linux_aarch64.whl", "is not a PEP 440 version"),
        ("torch-2.1-x-cp38-cp38-linux_aarch64.whl", "does not start with a digit"),
        ("torch-1.0-py3-none.whl", "5 or 6"),
        ("-1.0-py3-none-any.whl", "not a valid project name"),
        # A real page's file: packaging refuses the interpreter tag 'py36+'.
        ("pydantic-0.18-py36+-none-any.whl", "InvalidTag"),
    ],
)
def test_unparseable_wheel_names_say_why(filename: str, reason: str) -> None:
    with pytest.raises(WheelNameError) as err:
        parse_wheel_name(filename)
    assert reason in err.value.reason
    assert filename in str(err.value)
    assert err.value.hint


def _json_page(files: list[dict[str, object]]) -> bytes:
    return json.dumps({"meta": {"api-version": "1.1"}, "name": "torch", "files": files}).encode()


def test_simple_json_reads_every_field() -> None:
    page = parse_simple_json(
        _json_page([
            {"filename": "torch-2.8.0-cp310-cp310-linux_aarch64.whl",
             "url": "../../+f/abc/def/torch-2.8.0-cp310-cp310-linux_aarch64.whl#sha256=AA11",
             "hashes": {"sha256": "ab12"}, "requires-python": ">=3.9", "size": 123,
             "upload-time": "2025-01-08T01:49:37Z", "core-metadata": {"sha256": "cd34"}},
            {"filename": "torch-2.7.0-cp310-cp310-linux_aarch64.whl", "url": "/t-2.7.whl",
             "hashes": {}, "yanked": "broken build", "dist-info-metadata": True},
            {"filename": "torch-2.6.0-cp310-cp310-linux_aarch64.whl", "url": "/t-2.6.whl",
             "hashes": {}, "yanked": True, "core-metadata": False},
            {"filename": "torch-2.0.tar.gz", "url": "/t.tar.gz", "hashes": {}},
            {"filename": "torch-1.0.tar.bz2", "url": "/t.tar.bz2", "hashes": {}},
            {"filename": "other-1.0.zip", "url": "/o.zip", "hashes": {}},
            {"filename": "numpy-2.0-py3-none-any.whl", "url": "/n.whl", "hashes": {}},
        ]),
        "https://idx.example/jp6/cu126/+simple/torch/", SRC, "torch",
    )
    first, second, third, sdist = page.files
    assert sdist.is_sdist and not sdist.is_wheel and sdist.url == Url("https://idx.example/t.tar.gz")
    assert first.url == Url("https://idx.example/jp6/cu126/+f/abc/def/torch-2.8.0-cp310-cp310-linux_aarch64.whl")
    assert first.hashes == {"sha256": "ab12"}  # the hashes dict wins over the fragment
    assert first.requires_python == ">=3.9" and first.size == 123
    assert first.metadata_hashes == {"sha256": "cd34"} and first.yanked is None
    assert second.yanked == "broken build" and second.metadata_hashes == {}
    assert third.yanked == "" and third.metadata_hashes is None
    assert dict(page.rejects) == {
        "numpy-2.0-py3-none-any.whl": "belongs to project 'numpy'",
        "torch-1.0.tar.bz2": (
            "an old sdist format jetpip does not read (an sdist is a .tar.gz or .zip, PEP 625)"),
        "other-1.0.zip": "belongs to project 'other'",
    }


def test_simple_json_garbage_is_a_reject_not_a_crash() -> None:
    page = parse_simple_json(b"<html>not json</html>", "https://x/simple/a/", SRC, "a")
    assert page.files == () and page.rejects[0][0] == "<page>"


def test_simple_html_reads_pep503_attributes() -> None:
    html = b"""<!DOCTYPE html><html><body>
    <a href="/files/torch-2.8.0-cp310-cp310-linux_aarch64.whl#sha256=ABCD"
       data-requires-python="&gt;=3.9" data-core-metadata="sha256=beef">torch-2.8.0</a><br/>
    <A HREF='https://cdn.example/torch-2.7.0-cp310-cp310-linux_aarch64.whl#md5=12'
       data-yanked="" data-dist-info-metadata="true">x</A>
    <a href="torch-bad-name.whl">bad</a>
    </body></html>"""
    page = parse_simple_html(html, "https://idx.example/simple/torch/", SRC, "torch")
    first, second = page.files
    assert first.url == Url("https://idx.example/files/torch-2.8.0-cp310-cp310-linux_aarch64.whl")
    assert first.hashes == {"sha256": "abcd"}
    assert first.requires_python == ">=3.9" and first.metadata_hashes == {"sha256": "beef"}
    assert second.yanked == "" and second.metadata_hashes == {} and second.hashes == {"md5": "12"}
    assert page.rejects[0][0] == "torch-bad-name.whl"


def test_flat_page_filters_by_project_and_decodes_plus() -> None:
    html = b"""<html><body><h1>Index of /jp/v512/pytorch/</h1><pre><a href="../">../</a>
<a href="torch-2.1.0a0%2B41361538.nv23.06-cp38-cp38-linux_aarch64.whl">torch-2.1.0a0+41361538...</a>
<a href="torchvision-0.16.0-cp38-cp38-linux_aarch64.whl">torchvision</a>
<a href="tensorflow-2.16.1+nv24.06-cp310-cp310-linux_aarch64.whl">tf</a>
</pre></body></html>"""
    page = parse_flat_page(html, FLAT_URL, FLAT, "torch")
    (link,) = page.files
    assert link.filename == "torch-2.1.0a0+41361538.nv23.06-cp38-cp38-linux_aarch64.whl"
    assert link.url.path.endswith("/pytorch/torch-2.1.0a0%2B41361538.nv23.06-cp38-cp38-linux_aarch64.whl")
    assert link.hashes == {} and page.rejects == ()
    assert [f.filename for f in parse_flat_page(html, FLAT_URL, FLAT, "tensorflow").files] == [
        "tensorflow-2.16.1+nv24.06-cp310-cp310-linux_aarch64.whl"
    ]


@pytest.mark.parametrize("page_url", ["https://idx.example/simple/a/", "https://u:secret@idx.example/simple/a/"])
def test_links_never_keep_credentials(page_url: str) -> None:
    html = (b'<a href="https://u:secret@idx.example/f/a-1.0-py3-none-any.whl#sha256=00">a</a>'
            b'<a href="../../f/a-2.0-py3-none-any.whl">b</a>')
    links = parse_simple_html(html, page_url, SRC, "a").files
    assert [link.url.secret() for link in links] == [
        "https://idx.example/f/a-1.0-py3-none-any.whl", "https://idx.example/f/a-2.0-py3-none-any.whl"]


def _same_page(page: ProjectPage) -> None:
    """The page read back from its cached form, and built one version at a time, shows the same files."""
    scan = page._scan
    assert scan is not None
    back = PageScan.from_bytes(scan.to_bytes()[0])
    assert back is not None
    again = ProjectPage(page.name, page.source, back, keep_foreign=page._keep_foreign)
    assert [asdict(f) for f in again.files] == [asdict(f) for f in page.files]
    assert again.rejects == page.rejects
    by_version = [f.url for texts in again.version_order() for t in texts for f in again.links_of(t)]
    assert sorted(by_version, key=str) == sorted((f.url for f in page.files), key=str)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2000))
def test_parsers_never_crash_on_bytes(data: bytes) -> None:
    for parse in (parse_simple_json, parse_simple_html, parse_flat_page):
        _same_page(parse(data, "https://idx.example/simple/p/", SRC, "p"))


def _packed(index: object) -> bytes:
    data = marshal.dumps(index)
    return struct.pack("<Q", len(data)) + data


@pytest.mark.parametrize("data", [b"", b"garbage", _packed((SCAN_FORMAT + 1, "json", "u", [], [], [])),
                                  _packed((SCAN_FORMAT, "xml", "u", [], [], [])), _packed(7),
                                  _packed((SCAN_FORMAT, "json", "u", [("1.0", "x", 1, 2)], [], []))])
def test_a_cached_scan_of_another_form_is_not_read(data: bytes) -> None:
    assert PageScan.from_bytes(data) is None


def test_a_damaged_block_of_a_cached_scan_is_an_error_that_drops_the_copy() -> None:
    page = parse_simple_json(_json_page([{"filename": "torch-2.1.0-cp310-cp310-linux_aarch64.whl",
                                          "url": "t.whl", "hashes": {"sha256": "ab"}}]),
                             "https://idx.example/simple/torch/", SRC, "torch")
    assert page._scan is not None
    data, checked = page._scan.to_bytes()
    dropped: list[bool] = []
    damaged = data[:checked] + bytes([data[checked] ^ 0xFF]) + data[checked + 1:]
    scan = PageScan.from_bytes(damaged, lambda: dropped.append(True))
    assert scan is not None  # the index is intact: the damage shows when the rows are read
    with pytest.raises(CacheDamagedError) as err:
        assert not ProjectPage("torch", SRC, scan).files
    assert "is damaged" in err.value.message and "run the command again" in (err.value.hint or "")
    assert dropped == [True]


_attr = st.sampled_from([
    'href="p-1.0-py3-none-any.whl"', "href=p-1.0-py3-none-any.whl#sha256=zz", 'data-yanked',
    'data-core-metadata="sha256="', 'data-requires-python="&lt;&gt;"', "href='%zz'", 'href=""',
    "href=\"p-1.0-py3-none-any.whl#sha256=ab&md5=cd\"", "href=http://[::1", "href=\"a b c.whl\"",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=20), st.lists(_attr, max_size=4).map(
    lambda attrs: f"<a {' '.join(attrs)}>x</a>")), max_size=12))
def test_html_parsers_never_crash_on_anchor_soup(parts: list[str]) -> None:
    text = "".join(parts)
    for parse in (parse_simple_html, parse_flat_page):
        page = parse(text, "https://idx.example/simple/p/", SRC, "p")
        for link in page.files:
            assert link.filename.endswith(".whl")
        _same_page(page)


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children,
                                                                        max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries(
    {"filename": st.sampled_from(["p-1.0-py3-none-any.whl", "p-x.whl", "p-1.0.tar.gz"]) | st.text()},
    optional={"url": _json_value | st.just("p.whl"), "hashes": _json_value,
              "yanked": _json_value, "core-metadata": _json_value, "size": _json_value,
              "requires-python": _json_value, "upload-time": _json_value},
), max_size=5))
def test_json_parser_never_crashes_on_odd_entries(files: list[dict[str, object]]) -> None:
    page = parse_simple_json(json.dumps({"files": files}), "https://i/simple/p/", SRC, "p")
    for link in page.files:
        assert isinstance(link.hashes, dict)
    _same_page(page)


# -- sdist filenames and the binary policy, against packaging and pip ---------------------------

_sdist_names = st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,10}[A-Za-z0-9]", fullmatch=True)
_sdist_versions = st.sampled_from(["1.0", "2.8.0", "0.1.dev3", "1!2.0", "3.0rc1", "1.0.post2", "2025.1"])


@settings(max_examples=200, deadline=None)
@given(name=_sdist_names, version=_sdist_versions, suffix=st.sampled_from([".tar.gz", ".zip"]))
def test_sdist_names_read_as_packaging_reads_them(name: str, version: str, suffix: str) -> None:
    from packaging.utils import parse_sdist_filename

    filename = f"{name}-{version}{suffix}"
    assert parse_sdist_name(filename) == parse_sdist_filename(filename)


@pytest.mark.parametrize(("filename", "reason"), [
    ("torch-2.1.0.tar.bz2", "not a source distribution"),
    ("nodash.tar.gz", "not a source distribution"),
    ("-1.0.tar.gz", "not a valid project name"),
    ("demo-latest.zip", "is not a PEP 440 version"),
])
def test_what_is_no_sdist_says_why(filename: str, reason: str) -> None:
    with pytest.raises(WheelNameError) as err:
        parse_sdist_name(filename)
    assert reason in err.value.reason


_binary_values = st.lists(st.sampled_from([":all:", ":none:", "numpy", "NumPy", "six", "torch"]),
                          min_size=1, max_size=3).map(",".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["--no-binary", "--only-binary"]), _binary_values), max_size=5))
def test_the_binary_policy_is_pips_format_control(options: list[tuple[str, str]]) -> None:
    from pip._internal.models.format_control import FormatControl

    pip = FormatControl(set(), set())
    for option, value in options:
        named, other = (pip.no_binary, pip.only_binary) if option == "--no-binary" else (
            pip.only_binary, pip.no_binary)
        FormatControl.handle_mutual_excludes(value, named, other)
    policy = BinaryPolicy.parse(options)
    for name in ("numpy", "six", "torch", "other"):
        allowed = pip.get_allowed_formats(name)
        assert policy.allows(name) == ("binary" in allowed, "source" in allowed)


def test_the_binary_policy_says_which_option_refused_a_file() -> None:
    policy = BinaryPolicy.parse([("--no-binary", ":all:"), ("--only-binary", "numpy")])
    assert policy.refusal("numpy", sdist=True) == (
        "source distribution, and --only-binary numpy takes wheels only")
    assert policy.refusal("six", sdist=False) == (
        "a wheel, and --no-binary :all: takes the source distribution only")
    assert policy.refusal("six", sdist=True) is None
    assert not BinaryPolicy.parse([]).prefer_binary
    assert BinaryPolicy.parse([("--prefer-binary", "")]).prefer_binary
