"""pylock.toml as jetpip writes it, against tomllib and packaging.pylock; and any TOML it is given.

Every lock jetpip writes (any names, versions, NVIDIA local versions, URLs with odd characters,
sdists and wheels, times, sizes, notes and commands with quotes, newlines and non-ASCII) must read
back through tomllib as the document it meant, validate as PEP 751 with packaging.pylock, and
read back through jetpip as the same lock. Any TOML document tomllib accepts is a lock or a
LockError for jetpip, never a crash.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from typing import Any

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.pylock import Pylock

from jetpip.errors import LockError
from jetpip.lock.pylock import Lock, LockedPackage, dump_lock, lock_to_dict, parse_lock

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

_text = st.text(st.sampled_from('"\\\n\t\'#=[]{} é漢\U0001f40d') | st.characters(codec="utf-8"), max_size=12)
_name = st.from_regex(r"[a-z][a-z0-9]{0,6}(-[a-z0-9]{1,4})?", fullmatch=True)
_version = st.sampled_from(["1.0", "2.1.0a0+41361538.nv23.06", "0.9.dev2025+cu130.g378", "1!2.0", "3.0rc1",
                            "2.8.0"])
_sha = st.text("0123456789abcdef", min_size=64, max_size=64)
_time = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                     timezones=st.just(timezone.utc)).map(lambda t: t.replace(microsecond=0).isoformat())
_url_tail = st.text(st.sampled_from("abc%+~!$&'()*,;=@ "), max_size=6)


@st.composite
def packages(draw: st.DrawFn) -> list[LockedPackage]:
    out = []
    for name in draw(st.lists(_name, max_size=5, unique=True)):
        version = draw(_version)
        sdist = draw(st.booleans())
        tail = ".tar.gz" if sdist else "-cp310-cp310-linux_aarch64.whl"
        filename = f"{name.replace('-', '_')}-{version}{tail}"
        out.append(LockedPackage(
            name=name, version=version, filename=filename, sha256=draw(_sha),
            url=f"https://idx.example/+f/{draw(_url_tail)}/{filename}",
            size=draw(st.none() | st.integers(0, 2**40)), upload_time=draw(st.none() | _time),
            index=draw(st.none() | st.just("https://idx.example/+simple/")),
            source=draw(st.none() | _text.filter(bool)),  # a source always has a name
            guarded=draw(st.booleans()), requires=tuple(draw(st.lists(_text, max_size=3))),
            requested=draw(st.booleans()), required_by=tuple(sorted(draw(st.lists(_name, max_size=3)))),
        ))
    return sorted(out, key=lambda p: p.name)


@st.composite
def locks(draw: st.DrawFn) -> Lock:
    return Lock(
        packages=tuple(draw(packages())),
        target={k: draw(_text) for k in draw(st.lists(st.sampled_from(["jetpack", "l4t", "cuda", "python"]),
                                                       unique=True))},
        requires_python=draw(st.none() | st.just("==3.10.*")),
        environments=tuple(draw(st.lists(st.just('sys_platform == "linux" and platform_machine == "aarch64"'),
                                         max_size=1))),
        requested=tuple(draw(st.lists(_text, max_size=3))), route=draw(st.none() | _text.filter(bool)),
        constraints=tuple(draw(st.lists(_text, max_size=2))), notes=tuple(draw(st.lists(_text, max_size=2))),
        command=tuple(draw(st.lists(_text, max_size=3))), stale=tuple(draw(st.lists(_text, max_size=2))),
    )


def _as_read(doc: object) -> object:
    """The document as tomllib gives it back: times are datetimes either way, tuples are lists."""
    if isinstance(doc, dict):
        return {k: _as_read(v) for k, v in doc.items()}
    if isinstance(doc, (list, tuple)):
        return [_as_read(v) for v in doc]
    return doc


@settings(max_examples=200, deadline=None)
@given(locks())
def test_every_lock_written_reads_back_and_validates(lock: Lock) -> None:
    """200 locks: tomllib reads the document meant, packaging.pylock validates it, jetpip reads it back."""
    text = dump_lock(lock)
    doc = tomllib.loads(text)
    assert doc == _as_read(lock_to_dict(lock))
    Pylock.from_dict(doc).validate()
    assert parse_lock(text) == lock
    assert dump_lock(parse_lock(text)) == text  # the same lock gives the same bytes


# Any TOML document, with the keys a lock holds: jetpip reads it or says why not.
_scalars = st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from(["1.0", "numpy", "", "x.whl"]), _text,
                     _time.map(datetime.fromisoformat))
_keys = st.sampled_from(["lock-version", "packages", "name", "version", "wheels", "sdist", "url", "hashes",
                         "sha256", "tool", "jetpip", "format", "target", "requested", "created-by",
                         "environments", "requires-python", "size", "upload-time", "path"])
_toml = st.recursive(
    _scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=16,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_keys, _toml, max_size=5))
def test_any_toml_is_a_lock_or_a_lock_error(doc: dict[str, object]) -> None:
    """300 TOML documents tomllib accepts: a Lock, or a LockError, never another exception."""
    text = tomli_w.dumps(doc)  # any document: inline tables too, which a lock never holds
    assert tomllib.loads(text) == doc
    try:
        parse_lock(text)
    except LockError as err:
        assert err.hint


def _paths(doc: object, at: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    out = [at] if at else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            out += _paths(value, (*at, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            out += _paths(value, (*at, i))
    return out


@settings(max_examples=300, deadline=None)
@given(locks().filter(lambda lock: bool(lock.packages)), st.data())
def test_a_lock_with_one_value_changed_is_a_lock_or_a_lock_error(lock: Lock, data: st.DataObject) -> None:
    """300 locks with one value anywhere replaced by another of any type, or removed."""
    doc = tomllib.loads(dump_lock(lock))
    path = data.draw(st.sampled_from(_paths(doc)))
    parent: Any = doc
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()) and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(_toml)
    try:
        read = parse_lock(tomli_w.dumps(doc))
    except LockError as err:
        assert err.hint
        return
    for pkg in read.packages:  # what it accepts, it read from the document as written
        assert pkg.url and pkg.filename and isinstance(pkg.version, str)
