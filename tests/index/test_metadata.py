"""Core metadata: jetpip's header reader gives the fields packaging's email parser gives."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.metadata import parse_email

from jetpip.errors import MetadataError
from jetpip.index.metadata import DistMetadata

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
