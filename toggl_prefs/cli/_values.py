"""``KEY=VALUE`` on the command line → a typed update field (pure functions)."""

from __future__ import annotations

import argparse
import difflib
from typing import Any

import orjson

from .._fieldspec import FieldSpec, Kind, describe
from .._urls import CLIENT_TYPES
from ._fields import FieldInfo, ModelName, fields, find

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NOT_JSON = object()


class UsageError(ValueError):
    """Bad command-line input: exit code 2, nothing sent."""


_WHAT: dict[ModelName, str] = {"user": "preference", "workspace": "workspace preference"}
_COMMAND: dict[ModelName, str] = {"user": "toggl-prefs set", "workspace": "toggl-prefs workspace set ID"}


def field_for(model: ModelName, key: str) -> FieldInfo:
    """The writable field ``key`` names (attribute name, or documented key in any casing).

    A read-only field, a field of the other model or a typo is a :class:`UsageError` that says
    what to do instead."""
    info = find(model, key)
    if info is not None:
        if info.read_only:
            spelled = info.name if info.wire == info.name else f"{info.name} ({info.wire})"
            raise UsageError(f"{spelled} is read-only: the server sets it")
        return info
    other: ModelName = "workspace" if model == "user" else "user"
    elsewhere = find(other, key)
    if elsewhere is not None and not elsewhere.read_only:
        raise UsageError(
            f"{key!r} is not a {_WHAT[model]} but a {_WHAT[other]}: "
            f"use {_COMMAND[other]} {elsewhere.name}=VALUE"
        )
    names = {
        n: info.name for info in fields(model) if not info.read_only for n in (info.name, info.wire.lower())
    }
    close = difflib.get_close_matches(key.lower(), list(names), n=1, cutoff=0.6)
    hint = f"; did you mean {names[close[0]]!r}?" if close else " (toggl-prefs fields lists them)"
    raise UsageError(f"unknown {_WHAT[model]} field {key!r}{hint}")


def client_type(text: str) -> str:
    """An argparse ``type=`` for ``--client``: a documented client type, refused locally otherwise
    (the API answers 400 "Unknown client" to anything else)."""
    if text in CLIENT_TYPES:
        return text
    close = difflib.get_close_matches(text.lower(), CLIENT_TYPES, n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise argparse.ArgumentTypeError(f"unknown client type {text!r}: use {' or '.join(CLIENT_TYPES)}{hint}")


def parse_value(spec: FieldSpec, text: str) -> Any:
    """``text`` as a value of the field's type; ``null`` is JSON null (clears the field)."""
    if text == "null":
        return None
    if spec.kind is Kind.BOOL:
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
    elif spec.kind is Kind.INT:
        try:
            return int(text, 10)
        except ValueError:
            pass
    elif spec.kind is Kind.STR:
        return text
    else:
        try:
            value = orjson.loads(text)
        except orjson.JSONDecodeError:
            value = _NOT_JSON
        expected = list if spec.kind in (Kind.OBJECT_LIST, Kind.INT_LIST) else dict
        if isinstance(value, expected):
            return value
    raise UsageError(
        f"{spec.attr}: {text!r} is not {describe(spec.kind, spec.nested)}"
        + (" (JSON)" if spec.kind not in (Kind.BOOL, Kind.INT, Kind.STR) else "")
        + (" (true/false)" if spec.kind is Kind.BOOL else "")
    )


def parse_assignments(model: ModelName, items: list[str]) -> dict[str, Any]:
    """``["key=value", ...]`` → ``{attribute: value}``; the first bad item raises :class:`UsageError`."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        spec = field_for(model, key.strip()).spec
        out[spec.attr] = parse_value(spec, text)
    return out
