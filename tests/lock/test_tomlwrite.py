"""The TOML writer for locks: what it writes reads back as the same document."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetpip.lock.tomlwrite import dumps

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

_keys = st.text(min_size=1, max_size=12)  # bare and quoted keys alike
_scalars = st.one_of(
    st.text(max_size=30),  # quotes, backslashes, control characters, non-ASCII
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.booleans(),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.just(timezone.utc)).map(lambda d: d.replace(microsecond=0)),
)
_values = st.one_of(_scalars, st.lists(st.text(max_size=20), max_size=4))
_tables = st.recursive(
    st.dictionaries(_keys, _values, max_size=4),
    lambda inner: st.dictionaries(
        _keys, st.one_of(_values, inner, st.lists(inner, min_size=1, max_size=3)), max_size=4
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_tables)
def test_what_it_writes_reads_back_as_the_same_document(doc: dict[str, object]) -> None:
    assert tomllib.loads(dumps(doc)) == doc


def test_the_layout_of_a_lock() -> None:
    doc = {
        "lock-version": "1.0",
        "environments": ['sys_platform == "linux"'],
        "packages": [
            {"name": "torch", "wheels": [{"name": "t.whl", "upload-time": datetime(
                2025, 1, 8, 1, 49, 37, tzinfo=timezone(timedelta(0))), "hashes": {"sha256": "ab"}}],
             "tool": {"jetpip": {"requires": [], "guarded": True}}},
        ],
        "tool": {"jetpip": {"format": 1, "target": {"python": "3.10"}}},
    }
    assert dumps(doc) == (
        'lock-version = "1.0"\n'
        "environments = [\n"
        '    "sys_platform == \\"linux\\"",\n'
        "]\n"
        "\n"
        "[[packages]]\n"
        'name = "torch"\n'
        "\n"
        "[[packages.wheels]]\n"
        'name = "t.whl"\n'
        "upload-time = 2025-01-08 01:49:37+00:00\n"
        "\n"
        "[packages.wheels.hashes]\n"
        'sha256 = "ab"\n'
        "\n"
        "[packages.tool.jetpip]\n"
        "requires = []\n"
        "guarded = true\n"
        "\n"
        "[tool.jetpip]\n"
        "format = 1\n"
        "\n"
        "[tool.jetpip.target]\n"
        'python = "3.10"\n'
    )


def test_a_value_it_does_not_take_is_named() -> None:
    with pytest.raises(TypeError, match="float"):
        dumps({"x": 1.5})
