"""The TOML writer for locks, against the libraries it stands in for.

Oracles: ``tomllib`` must read back what it writes as the same document (every value shape a
lock holds, below), and where ``tomli_w`` is installed the bytes must be the ones it writes.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jetpip.lock.tomlwrite import dumps

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

try:
    import tomli_w
except ImportError:  # not a test dependency: the byte comparison runs where it is installed
    tomli_w = None

# The characters a string must escape, and those it must not: quote, backslash, the control
# characters with short escapes and without, tab (written as it is), DEL, the characters of TOML's
# own syntax, and non-ASCII across the planes; then anything else.
_TRICKY = '"\\\b\t\n\f\r\x00\x01\x1b\x1f\x7f\'#=[]{}.,: é\u00a0\u2028漢\U0001f40d'
_text = st.text(st.sampled_from(_TRICKY) | st.characters(codec="utf-8"), max_size=24)
# Keys: bare ones (package names, "lock-version"), empty ones, and ones that need quotes
# (dots, spaces, quotes, non-ASCII), which a header must quote part by part.
_keys = st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True) | st.text(max_size=10)
# A lock's times: upload times in UTC, with and without microseconds; local times, dates, and
# offsets in whole minutes (the most a TOML offset holds) are covered for a writer used elsewhere.
_times = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                 timezones=st.just(timezone.utc)),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1)),
    st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1),
                 timezones=st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
                     lambda m: timezone(timedelta(minutes=m)))),
    st.dates(),
)
_scalars = st.one_of(
    _text, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.booleans(), _times,
)
# Arrays of scalars, of mixed scalars, and arrays of arrays; the empty array too.
_arrays = st.recursive(st.lists(_scalars, max_size=4), lambda inner: st.lists(inner, max_size=3),
                       max_leaves=8)
# Tables nest, and a key can hold an array of tables ([[packages]], [[packages.wheels]]).
_tables: st.SearchStrategy[dict[str, object]] = st.recursive(
    st.dictionaries(_keys, _scalars | _arrays, max_size=4),
    lambda inner: st.dictionaries(
        _keys, st.one_of(_scalars, _arrays, inner, st.lists(inner, min_size=1, max_size=3)), max_size=5
    ),
    max_leaves=16,
)


@settings(max_examples=200, deadline=None)
@given(_tables)
def test_what_it_writes_reads_back_as_the_same_document(doc: dict[str, object]) -> None:
    """200 documents: nested tables, arrays of tables, arrays of arrays, every scalar a lock holds."""
    assert tomllib.loads(dumps(doc)) == doc


@pytest.mark.skipif(tomli_w is None, reason="tomli-w is not installed")
@settings(max_examples=200, deadline=None)
@given(_tables)
def test_it_writes_the_bytes_tomli_w_writes(doc: dict[str, object]) -> None:
    """200 documents, byte for byte against tomli-w."""
    # The one deliberate difference: tomli-w writes an array of small tables inline on one line;
    # a lock keeps every table of an array as a [[header]] section, as pylock.toml examples do.
    # tomli-w told that no inline table fits its line length writes exactly that layout.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tomli_w._writer.MAX_LINE_LENGTH", -1)
        expected = tomli_w.dumps(doc)
    assert dumps(doc) == expected


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


def test_the_escapes_and_quoted_keys_it_writes() -> None:
    doc = {"a.b": {"": '"\\\b\t\n\f\r\x00\x1f\x7fé', "ok_key-1": [[1, 2], [], [date(2024, 2, 29)]]}}
    assert dumps(doc) == (
        '["a.b"]\n'
        '"" = "\\"\\\\\\b\t\\n\\f\\r\\u0000\\u001f\\u007fé"\n'
        "ok_key-1 = [\n"
        "    [\n        1,\n        2,\n    ],\n"
        "    [],\n"
        "    [\n        2024-02-29,\n    ],\n"
        "]\n"
    )
    assert tomllib.loads(dumps(doc)) == doc


@pytest.mark.parametrize(("value", "kind"), [(1.5, "float"), (None, "NoneType"), ([{"a": 1}, 2], "dict")])
def test_a_value_it_does_not_take_is_named(value: object, kind: str) -> None:
    # A table inside an array of other values would be an inline table: no lock holds one.
    with pytest.raises(TypeError, match=kind):
        dumps({"x": value})
