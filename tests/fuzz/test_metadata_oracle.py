"""Core metadata headers of any shape, against packaging.metadata's email parser.

tests/index/test_metadata.py writes METADATA the way build backends do. Here the header is any
sequence of fields (known and unknown names in any case, repeated, folded over lines, empty,
with colons, tabs and non-ASCII in the values, LF or CRLF) before a body that looks like more
fields: the reader must give every field packaging gives, and what packaging cannot give a
value (a single field written twice) the reader gives the first.
"""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email

from jetpip.errors import MetadataError
from jetpip.index.metadata import DistMetadata

_NAMES = ["Name", "Version", "Requires-Dist", "Requires-Python", "Provides-Extra", "Summary",
          "Metadata-Version", "Classifier", "X-Unknown"]
_field_name = st.sampled_from(_NAMES).flatmap(lambda n: st.sampled_from([n, n.lower(), n.upper()]))
_value_char = st.sampled_from("abcXYZ019.-_<>=!~;,[]()\"' :\té")
_value = st.text(_value_char, max_size=16).map(str.strip)
_line = st.tuples(_field_name, _value, st.lists(_value.filter(bool), max_size=2))


def _text(lines: list[tuple[str, str, list[str]]], body: str, eol: str) -> bytes:
    out = []
    for name, value, folds in lines:
        out.append(f"{name}: {value}")
        out += [f"{' ' if i % 2 else chr(9)}{fold}" for i, fold in enumerate(folds)]
    return (eol.join(out) + eol + eol + body).encode()


def _unfolded(value: object) -> object:
    """RFC 5322 unfolding (a line break before a space or tab is dropped), which packaging leaves to
    the caller: a folded value is one logical line."""
    if isinstance(value, list):
        return [_unfolded(v) for v in value]
    return re.sub(r"\r?\n(?=[ \t])", "", value) if isinstance(value, str) else value


_SINGLE = {"name": "name", "version": "version", "requires-python": "requires_python"}
_MULTI = {"requires-dist": "requires_dist", "provides-extra": "provides_extra"}


@settings(max_examples=400, deadline=None)
@given(st.lists(_line, max_size=8), st.sampled_from(["", "Name: body\nVersion: 9\n", "text"]),
       st.sampled_from(["\n", "\r\n"]))
def test_header_fields_are_those_packaging_reads(
    lines: list[tuple[str, str, list[str]]], body: str, eol: str
) -> None:
    """400 headers: every field the reader needs, as packaging's email parser gives it."""
    data = _text(lines, body, eol)
    raw, unparsed = parse_email(data)
    try:
        meta = DistMetadata.parse(data)
    except MetadataError:
        # Only a header without a Name or Version is refused: packaging finds none either, or the
        # first it finds is empty (packaging keeps it; the reader takes it as missing).
        first = {f: raw.get(f) or (unparsed.get(f) or [""])[0] for f in ("name", "version")}
        assert not first["name"] or not first["version"]
        return
    for field, key in _SINGLE.items():
        got = getattr(meta, key)
        if field in unparsed:  # written twice: packaging keeps every value, the reader the first
            assert (got or None) == (_unfolded(unparsed[field][0]) or None)
        else:
            assert (got or None) == (_unfolded(raw.get(key)) or None)  # type: ignore[misc]
    for key in _MULTI.values():
        assert list(getattr(meta, key)) == _unfolded(raw.get(key, []))  # type: ignore[misc]
