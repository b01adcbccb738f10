"""indexes.toml, against tomllib: every document tomllib reads is a knowledge base or a JetpipError.

The built-in file, read by tomllib, has one value anywhere replaced by a value of any TOML type
(or removed), and is written back with tomli-w; then it is read as the built-in file and as a
user's overlay. jetpip must refuse it with a JetpipError (never another exception), or take it
with the values tomllib read: the hosts, the source ids and URLs, the guarded names.
"""

from __future__ import annotations

import sys
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from packaging.utils import canonicalize_name

from jetpip.errors import JetpipError
from jetpip.knowledge.base import build_knowledge, builtin_indexes, load_knowledge
from jetpip.knowledge.reader import parse_toml
from jetpip.knowledge.schema import parse_layer

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

BUILTIN = tomllib.loads(builtin_indexes().read_text(encoding="utf-8"))

_scalars = st.one_of(
    st.booleans(), st.integers(-3, 40), st.floats(allow_nan=False, allow_infinity=True),
    st.sampled_from(["", "jp6", "12.6", "36.4", "https://idx.example/simple", "simple", "devpi", "flat",
                     "torch", "tegra234", "not a url", "ftp://x"]),
    st.text(max_size=6), st.just(date(2025, 1, 8)), st.just(datetime(2025, 1, 8, tzinfo=timezone.utc)),
)
_values = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.sampled_from(["url", "kind", "name", "x", "sources"]), inner,
                                         max_size=3), max_leaves=6)


def _paths(doc: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [at] if at else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*at, i))
    return out


PATHS = _paths(BUILTIN)


def _changed(data: st.DataObject) -> dict[str, Any]:
    doc: dict[str, Any] = tomllib.loads(tomli_w.dumps(BUILTIN))  # a deep copy
    path = data.draw(st.sampled_from(PATHS))
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    if isinstance(parent, dict) and data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_values)
    return doc


def _agrees(doc: dict[str, Any], kb: Any) -> None:
    """What the knowledge base holds is what tomllib read."""
    assert set(kb.sources) >= set(doc.get("sources", {}))
    for sid, spec in doc.get("sources", {}).items():
        assert kb.sources[sid].name == (spec.get("name") or sid)  # a source without a name goes by its id
        assert kb.sources[sid].kind == spec["kind"]
    if "guarded" in doc and "names" in doc["guarded"]:
        assert {canonicalize_name(n) for n in doc["guarded"]["names"]} <= kb.guarded
    if "hosts" in doc and "jetson" in doc["hosts"]:
        assert set(doc["hosts"]["jetson"]) <= set(kb.jetson_hosts)


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_the_builtin_file_changed_anywhere_is_read_or_refused(data: st.DataObject) -> None:
    """150 built-in files with one value changed or removed, read as the built-in file."""
    doc = _changed(data)
    text = tomli_w.dumps(doc)
    assert tomllib.loads(text) == doc
    try:
        kb = build_knowledge([parse_layer(parse_toml(text, "indexes.toml"), "indexes.toml", builtin=True)])
    except JetpipError as err:
        assert str(err)
        return
    _agrees(doc, kb)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_an_overlay_changed_anywhere_is_read_or_refused(tmp_path: Path, data: st.DataObject) -> None:
    """100 user overlays (the built-in file with one value changed) under the built-in file."""
    doc = _changed(data)
    doc.pop("format", None)
    overlay = tmp_path / "indexes.toml"
    overlay.write_text(tomli_w.dumps(doc), encoding="utf-8")
    try:
        kb = load_knowledge(overlay, env={})
    except JetpipError as err:
        assert str(err)
        return
    _agrees(doc, kb)


def test_the_builtin_file_itself_reads() -> None:
    _agrees(BUILTIN, build_knowledge([parse_layer(BUILTIN, "indexes.toml", builtin=True)]))

