"""``KEY=VALUE`` on the command line → a typed update field (pure functions)."""

from __future__ import annotations

import difflib
from typing import Any

import orjson

from .._fieldspec import FieldSpec, Kind, describe

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}
_NOT_JSON = object()


class UsageError(ValueError):
    """Bad command-line input: exit code 2, nothing sent."""


def field_for(specs: tuple[FieldSpec, ...], key: str, what: str) -> FieldSpec:
    """The field ``key`` names: its attribute name, or its documented key in any casing."""
    for spec in specs:
        if key == spec.attr:
            return spec
    lowered = key.lower()
    for spec in specs:
        if lowered in (spec.wire.lower(), spec.attr):
            return spec
    close = difflib.get_close_matches(lowered, [s.attr for s in specs], n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise UsageError(f"unknown {what} field {key!r}{hint}")


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


def parse_assignments(specs: tuple[FieldSpec, ...], items: list[str], what: str) -> dict[str, Any]:
    """``["key=value", ...]`` → ``{attribute: value}``; the first bad item raises :class:`UsageError`."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise UsageError(f"expected KEY=VALUE, got {item!r}")
        spec = field_for(specs, key.strip(), what)
        out[spec.attr] = parse_value(spec, text)
    return out
