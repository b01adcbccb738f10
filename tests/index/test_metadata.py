"""Core metadata, against the libraries jetpip's readers stand in for.

The header reader gives the fields packaging's email parser gives; the zip reader, given a wheel
whole or only its tail plus ranges, gives the bytes ``zipfile`` reads for ``*.dist-info/METADATA``.
"""

from __future__ import annotations

import io
import struct
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email

from jetpip.errors import MetadataError
from jetpip.index.metadata import (
    TAIL_BYTES,
    DistMetadata,
    metadata_from_ranges,
    metadata_from_wheel_bytes,
)

_requirement = st.sampled_from([
    "numpy>=1.21", "packaging", 'torch (>=2.0) ; extra == "torch"', "tqdm>4.60; python_version >= '3.8'",
    'onnxruntime>=1.16.0; extra == "onnx"', "huggingface-hub<1.0,>=0.34.0", "Requests[socks]!=2.0",
])
_body = st.sampled_from(["", "A description.\nRequires-Dist: not-a-field\n", "Name: another\n"])


@settings(max_examples=200, deadline=None)
@given(
    name=st.from_regex(r"[A-Za-z][A-Za-z0-9._-]{0,12}[A-Za-z0-9]", fullmatch=True),
    version=st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){0,2}", fullmatch=True),
    requires=st.lists(_requirement, max_size=6),
    extras=st.lists(st.sampled_from(["onnx", "torch", "local"]), max_size=3, unique=True),
    python=st.one_of(st.none(), st.sampled_from([">=3.8", ">=3.9,<3.14"])),
    body=_body,
    crlf=st.booleans(),
)
def test_fields_match_packagings_parser(
    name: str, version: str, requires: list[str], extras: list[str], python: str | None, body: str,
    crlf: bool,
) -> None:
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {r}" for r in requires]
    lines += [f"Provides-Extra: {e}" for e in extras]
    lines += [f"Requires-Python: {python}"] if python else []
    lines += ["Description-Content-Type: text/markdown", "Summary: a folded", "  summary line"]
    text = "\n".join(lines) + "\n\n" + body
    data = (text.replace("\n", "\r\n") if crlf else text).encode()
    raw, _ = parse_email(data)
    meta = DistMetadata.parse(data)
    assert (meta.name, meta.version) == (raw["name"], raw["version"])
    assert list(meta.requires_dist) == raw.get("requires_dist", [])
    assert list(meta.provides_extra) == raw.get("provides_extra", [])
    assert meta.requires_python == raw.get("requires_python")


def test_metadata_without_a_version_is_an_error() -> None:
    with pytest.raises(MetadataError) as err:
        DistMetadata.parse(b"Metadata-Version: 2.1\nName: demo\n\nVersion: 1.0 (in the body)\n")
    assert "no Version field" in err.value.message and err.value.hint


# -- reading METADATA out of the zip, against zipfile ---------------------------------------------

_DIST_INFO = "demo_pkg-1.0.dist-info"
_METHODS = {"stored": zipfile.ZIP_STORED, "deflated": zipfile.ZIP_DEFLATED}


class _Unseekable(io.BytesIO):
    """A stream zipfile cannot seek back in: it writes sizes in data descriptors, as streamed wheels have."""

    def seekable(self) -> bool:
        return False

    def seek(self, offset: int, whence: int = 0) -> int:
        raise io.UnsupportedOperation("unseekable")


def _zip(
    others: list[tuple[str, bytes, int]], metadata: bytes, *, at: int, method: int, comment: bytes,
    streamed: bool = False, zip64: str = "no", limit: int = 0,
) -> bytes:
    """A wheel-shaped zip written by zipfile: ``others`` around METADATA, which sits at ``at``.

    ``zip64``: "local" gives METADATA a zip64 local header only; "full" makes zipfile write what it
    writes past 4 GiB (its limit is lowered to ``limit`` bytes, so a small file crosses it): zip64
    local headers, zip64 extra fields for the sizes and offsets past the limit, and zip64 end
    records once the central directory is past it. The classic end record then gets the 0xFFFF...
    markers other zip writers put there (zipfile keeps the small true values).
    """
    buf = _Unseekable() if streamed else io.BytesIO()
    with pytest.MonkeyPatch.context() as patch:
        if zip64 == "full":
            patch.setattr(zipfile, "ZIP64_LIMIT", limit)
        with zipfile.ZipFile(buf, "w") as zf:
            zf.comment = comment
            entries = [(n, d, m, zip64 == "full") for n, d, m in others]
            entries.insert(at, (f"{_DIST_INFO}/METADATA", metadata, method, zip64 != "no"))
            for name, data, compress, force in entries:
                info = zipfile.ZipInfo(name, (2020, 2, 2, 0, 0, 0))
                info.compress_type = compress
                with zf.open(info, "w", force_zip64=force) as out:
                    out.write(data)
    data = buf.getvalue()
    end = len(data) - 22 - len(comment)
    if data[end - 20 : end - 16] == b"PK\x06\x07":  # zipfile wrote the zip64 end records
        markers = struct.pack("<HHII", 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF)
        data = data[: end + 8] + markers + data[end + 20 :]
    return data


def _oracle(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read(f"{_DIST_INFO}/METADATA")


def _ranged(data: bytes, tail_bytes: int) -> tuple[bytes, list[tuple[int, int]]]:
    """METADATA read as the client reads it: the last ``tail_bytes`` first, then ranges on demand."""
    calls: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        assert 0 <= start <= end < len(data), f"range {start}-{end} of a {len(data)}-byte file"
        calls.append((start, end))
        return data[start : end + 1]

    return metadata_from_ranges(len(data), data[-tail_bytes:], read), calls


_member_names = st.one_of(
    st.from_regex(r"demo_pkg/[a-z_]{1,10}\.py", fullmatch=True),
    st.sampled_from([  # near misses of the METADATA member, which must not be read for it
        "demo_pkg/METADATA", f"{_DIST_INFO}/METADATA.bak", f"{_DIST_INFO}/licenses/METADATA",
        "demo_pkg-1.0.data/purelib/x.dist-info/METADATA", f"{_DIST_INFO}/", "données/é.txt",
    ]),
)
_others = st.lists(
    st.tuples(_member_names, st.binary(max_size=600),
              st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2])),
    max_size=40, unique_by=lambda entry: entry[0],
)
# METADATA text with the odd bytes a header can hold; long enough at times to reach past a tail.
_metadata = st.builds(
    lambda head, body, repeat: (head + "\n\n" + body * repeat).encode(),
    st.just("Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0"),
    st.text(max_size=200), st.integers(1, 40),
)


@settings(max_examples=200, deadline=None)
@given(
    others=_others, metadata=_metadata, where=st.floats(0, 1), method=st.sampled_from(sorted(_METHODS)),
    comment=st.binary(max_size=120).filter(lambda c: b"PK" not in c), streamed=st.booleans(),
    zip64=st.sampled_from(["no", "local", "full"]), limit=st.integers(0, 3000),
    tail_share=st.floats(0, 1),
)
def test_metadata_read_by_ranges_is_what_zipfile_reads(
    others: list[tuple[str, bytes, int]], metadata: bytes, where: float, method: str, comment: bytes,
    streamed: bool, zip64: str, limit: int, tail_share: float,
) -> None:
    """200 zips: stored and deflated METADATA anywhere among up to 40 members, comments, data
    descriptors, zip64 records; each read from a tail of any length that holds the end record."""
    data = _zip(others, metadata, at=round(where * len(others)), method=_METHODS[method], comment=comment,
                streamed=streamed, zip64=zip64, limit=limit)
    expected = _oracle(data)
    assert metadata_from_wheel_bytes(data) == expected
    # The shortest tail that still holds the end record, the whole file, and lengths between.
    shortest = 22 + len(comment)
    tail_bytes = shortest + round(tail_share * (len(data) - shortest))
    got, calls = _ranged(data, tail_bytes)
    assert got == expected
    assert len(set(calls)) == len(calls), "a range was asked for twice"
    assert tail_bytes < len(data) or calls == [], "the whole file was in hand"


def test_a_tail_without_the_end_record_is_an_error_the_client_answers_with_a_download() -> None:
    data = _zip([], b"Name: demo-pkg\nVersion: 1.0\n", at=0, method=zipfile.ZIP_STORED, comment=b"c" * 100)
    with pytest.raises(MetadataError, match="end-of-central-directory"):
        _ranged(data, 22 + 99)


def test_metadata_compressed_another_way_is_an_error_the_client_answers_with_a_download() -> None:
    data = _zip([], b"Name: demo-pkg\nVersion: 1.0\n", at=0, method=zipfile.ZIP_BZIP2, comment=b"")
    with pytest.raises(MetadataError, match="compression method 12"):
        _ranged(data, len(data))
    assert metadata_from_wheel_bytes(data) == _oracle(data)


def test_a_wheel_of_many_files_is_read_with_few_bytes() -> None:
    """3000 members: the central directory outgrows the first tail and is fetched with one more range."""
    others = [(f"demo_pkg/m{i}.py", b"x = %04d\n" % i * 100, zipfile.ZIP_STORED) for i in range(3000)]
    metadata = b"Metadata-Version: 2.1\nName: demo-pkg\nVersion: 1.0\n\n" + b"text " * 2000
    data = _zip(others, metadata, at=1500, method=zipfile.ZIP_DEFLATED, comment=b"")
    got, calls = _ranged(data, TAIL_BYTES)
    assert got == _oracle(data)
    read = TAIL_BYTES + sum(end - start + 1 for start, end in calls)
    assert len(calls) == 2 and read < len(data) // 8, (calls, len(data))
