"""Check a JSON value against a TypedDict: every key named, every required key present, every value typed."""

from __future__ import annotations

import json
import sys
import types
from collections.abc import Mapping, Sequence
from typing import Any, ForwardRef, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict


def mismatches(value: object, hint: Any, *, extra_keys: bool = False, path: str = "$",
               namespace: Mapping[str, Any] | None = None) -> list[str]:
    """Where ``value`` (as ``json.loads`` gives it) departs from ``hint``; empty when it fits.

    ``extra_keys`` lets an object carry keys its TypedDict does not name (a probe's output,
    which prints more than jetpip reads); a document's TypedDict must name every key.
    """
    ns = dict(namespace or {})
    if isinstance(hint, str | ForwardRef):
        text = hint if isinstance(hint, str) else hint.__forward_arg__
        hint = eval(text, ns)  # a name in the module that declared the TypedDict
    if is_typeddict(hint):
        return _typed_dict(value, hint, extra_keys, path)
    origin, args = get_origin(hint), get_args(hint)
    if origin in (Union, types.UnionType):
        found = [mismatches(value, arm, extra_keys=extra_keys, path=path, namespace=ns) for arm in args]
        if any(not f for f in found):
            return []
        return [f"{path}: {value!r} is none of {hint}"]
    if origin is Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin in (list, Sequence):
        if not isinstance(value, list):
            return [f"{path}: {type(value).__name__}, not a list"]
        return [m for i, item in enumerate(value)
                for m in mismatches(item, args[0], extra_keys=extra_keys, path=f"{path}[{i}]", namespace=ns)]
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            return [f"{path}: {type(value).__name__}, not an object"]
        return [m for key, item in value.items()
                for m in mismatches(item, args[1], extra_keys=extra_keys, path=f"{path}.{key}", namespace=ns)]
    return _scalar(value, hint, path)


def assert_fits(doc: object, typed_dict: type, *, extra_keys: bool = False) -> None:
    """Fail with every mismatch when ``doc``, written as JSON and read back, does not fit ``typed_dict``."""
    found = mismatches(json.loads(json.dumps(doc)), typed_dict, extra_keys=extra_keys)
    assert not found, "\n".join(found)


def _typed_dict(value: object, cls: type, extra_keys: bool, path: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{path}: {type(value).__name__}, not an object ({cls.__name__})"]
    ns = vars(sys.modules[cls.__module__])
    hints = get_type_hints(cls, ns)
    required: frozenset[str] = cls.__required_keys__  # type: ignore[attr-defined]
    out = [f"{path}: no key '{k}' ({cls.__name__} requires it)" for k in sorted(required - set(value))]
    if not extra_keys:
        out += [f"{path}: key '{k}' is not in {cls.__name__}" for k in sorted(set(value) - set(hints))]
    for key in sorted(set(value) & set(hints)):
        out += mismatches(value[key], hints[key], extra_keys=extra_keys, path=f"{path}.{key}", namespace=ns)
    return out


def _scalar(value: object, hint: Any, path: str) -> list[str]:
    if hint is None or hint is type(None):
        ok = value is None
    elif hint is bool:
        ok = isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif hint is float:  # JSON writes 2.0 as 2.0, but a float field may hold a whole number
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif hint is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"{path}: the checker does not know the type {hint!r}")
    return [] if ok else [f"{path}: {value!r} is not {getattr(hint, '__name__', hint)}"]
