"""Read a preferences file for ``toggl-prefs import``: strictly, naming the line of what doesn't fit.

The models are lenient on purpose (a response whose value has the wrong type keeps it in ``extra``
so nothing the server said is lost); a file the user wrote is held to the documented types instead,
since a value that silently fell into ``extra`` would be silently not imported.
"""

from __future__ import annotations

import difflib
import json
import re
import sys
from typing import Any, NamedTuple

import orjson

from .._fieldspec import JSON_TYPES, FieldSpec, Kind
from .._generated import UserPreferences
from ._fields import fields, specs
from ._values import UsageError

MAX_IMPORT_BYTES = 8 << 20
"""The largest file ``import`` reads (an export is a few kilobytes)."""
_JSON_NAMES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}


class ImportFile(NamedTuple):
    preferences: UserPreferences
    warnings: tuple[str, ...]
    """Keys that were ignored (unknown), each with its line."""
    notes: tuple[str, ...]
    """Read-only fields in the file, which an import leaves alone."""


def read_source(file: str) -> bytes:
    """The bytes of ``file`` (``-``: stdin), at most :data:`MAX_IMPORT_BYTES`: a larger source (or
    an endless one, such as ``/dev/zero``) is a :class:`UsageError`, not a read of all memory."""
    if file == "-":
        data = sys.stdin.buffer.read(MAX_IMPORT_BYTES + 1)
    else:
        with open(file, "rb") as handle:
            data = handle.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        name = "<stdin>" if file == "-" else file
        raise UsageError(f"{name}: over {MAX_IMPORT_BYTES >> 20} MiB: not a preferences file")
    return data


def read_import_file(raw: bytes, name: str) -> ImportFile:
    """The preferences in ``raw`` (the bytes of file ``name``), keyed by documented key or by
    attribute name. A value of the wrong type, or a key given twice in one object, is a
    :class:`UsageError` naming field and line."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"{name}: not valid JSON: {exc}") from None
    _refuse_repeated_keys(raw, name)
    if not isinstance(data, dict):
        raise UsageError(f"{name}: expected a JSON object of preferences, not {_json_name(data)}")
    reader = _Reader(raw.decode("utf-8", "replace"), name)
    wire = reader.walk(UserPreferences, data, "")
    read_only = {info.wire for info in fields("user") if info.read_only}
    notes = tuple(f"{key} is read-only: not imported" for key in wire if key in read_only)
    return ImportFile(UserPreferences.from_dict(wire), tuple(reader.warnings), notes)


def _refuse_repeated_keys(raw: bytes, name: str) -> None:
    """A key given twice in one object: a JSON parser keeps the last value, so the other would be
    dropped silently (and which one the user meant cannot be known)."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: set[str] = set()
        for key, _ in items:
            if key in seen:
                found = list(re.finditer(r'"' + re.escape(key) + r'"\s*:', text))
                line = f", line {text.count(chr(10), 0, found[-1].start()) + 1}" if found else ""
                raise UsageError(f"{name}{line}: {key} is given twice: keep one of the values")
            seen.add(key)
        return dict(items)

    text = raw.decode("utf-8", "replace")
    json.loads(text, object_pairs_hook=pairs)  # valid JSON: orjson read it already


class _Reader:
    def __init__(self, text: str, name: str) -> None:
        self.text = text
        self.name = name
        self.cursor = 0  # keys are met in document order: each is searched for after the previous
        self.warnings: list[str] = []

    def locate(self, key: str) -> str:
        match = re.compile(r'"' + re.escape(key) + r'"\s*:').search(self.text, self.cursor)
        if match is None:  # an escaped spelling: name the field without a line
            return self.name
        self.cursor = match.end()
        return f"{self.name}, line {self.text.count(chr(10), 0, match.start()) + 1}"

    def walk(self, cls: type[Any], data: dict[str, Any], path: str) -> dict[str, Any]:
        """``data`` re-keyed by documented key, every value checked against the field's kind."""
        by_name: dict[str, FieldSpec] = {}
        for known in specs(cls):
            by_name[known.wire.lower()] = known
            by_name.setdefault(known.attr, known)
        out: dict[str, Any] = {}
        for key, value in data.items():
            where = self.locate(key)
            spec = by_name.get(key) or by_name.get(key.lower())
            if spec is None:
                close = difflib.get_close_matches(key, [s.attr for s in specs(cls)], n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                self.warnings.append(f"{where}: unknown key '{path}{key}' ignored{hint}")
                continue
            if spec.wire in out:
                raise UsageError(f"{where}: {path}{key} is given twice (as {spec.wire} and {spec.attr})")
            out[spec.wire] = self.value(spec, value, f"{path}{key}", where)
        return out

    def value(self, spec: FieldSpec, value: Any, path: str, where: str) -> Any:
        if value is None:
            return None
        kinds: tuple[Kind, ...] = getattr(spec, "kinds", (spec.kind,))  # a drifted field takes several
        if type(value) not in {JSON_TYPES[k] for k in kinds}:
            wanted = " or ".join(_kind_name(k, spec.nested) for k in kinds)
            raise UsageError(f"{where}: {path} must be {wanted}, not {_json_name(value)} {_short(value)}")
        if spec.kind is Kind.OBJECT and isinstance(value, dict):
            return self.walk(spec.nested, value, f"{path}.")
        if spec.kind is Kind.OBJECT_LIST and isinstance(value, list):
            items: list[dict[str, Any]] = []
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    raise UsageError(f"{where}: {path}[{i}] must be an object, not {_json_name(item)}")
                items.append(self.walk(spec.nested, item, f"{path}[{i}]."))
            return items
        if spec.kind is Kind.INT_LIST and isinstance(value, list) and not all(type(v) is int for v in value):
            raise UsageError(f"{where}: {path} must be an array of integers, not {_short(value)}")
        return value


def _kind_name(kind: Kind, nested_cls: Any) -> str:
    nested = getattr(nested_cls, "__name__", "")
    return {
        Kind.BOOL: "a boolean (true/false)",
        Kind.INT: "an integer",
        Kind.STR: "a string",
        Kind.DICT: "an object",
        Kind.OBJECT: f"an object ({nested})",
        Kind.OBJECT_LIST: f"an array of objects ({nested})",
        Kind.INT_LIST: "an array of integers",
    }[kind]


def _json_name(value: Any) -> str:
    return "null" if value is None else _JSON_NAMES.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = orjson.dumps(value).decode()
    return text if len(text) <= 40 else text[:37] + "..."
