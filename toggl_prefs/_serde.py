"""The one cattrs converter, and the hooks it uses for every model.

The hooks are built once per class from the class's field table (``__toggl_fields__``) and do no work
per field that could be done per class: a decode is one dict lookup per key (the exact documented
spelling first, then a lower-cased fallback for the casings live responses use) and one type check.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import cattrs
import orjson
from cattrs.preconf.orjson import make_converter

from ._fieldspec import FieldSpec, Kind
from ._unset import UNSET
from .errors import ResponseDecodeError

log = logging.getLogger("toggl_prefs")

converter: cattrs.Converter = make_converter()
"""The converter behind every model's ``from_dict`` / ``to_dict``."""

_BAD: Any = object()  # a decoder's "wrong JSON type" answer

Decoder = Callable[[Any], Any]
_SCALAR_TYPES: dict[Kind, type] = {Kind.BOOL: bool, Kind.INT: int, Kind.STR: str, Kind.DICT: dict}


def _is_model(t: Any) -> bool:
    from ._base import Model

    return isinstance(t, type) and issubclass(t, Model)


def _is_update(t: Any) -> bool:
    from ._base import UpdateModel

    return isinstance(t, type) and issubclass(t, UpdateModel)


def _list_of(item: Callable[[Any, Any], Any]) -> Decoder:
    def decode(value: list[Any]) -> Any:
        out = []
        for v in value:
            if type(v) is not dict:
                return _BAD
            out.append(item(v, None))
        return out

    return decode


def _int_list(value: list[Any]) -> Any:
    for v in value:
        if type(v) is not int:
            return _BAD
    return list(value)


Entry = tuple[str, str, type, "Decoder | None"]


def _decoder_entry(spec: FieldSpec) -> Entry:
    """(attribute, documented key, the JSON type it needs, the conversion after the check or None)."""
    if spec.kind in _SCALAR_TYPES:
        return spec.attr, spec.wire, _SCALAR_TYPES[spec.kind], None
    if spec.kind is Kind.INT_LIST:
        return spec.attr, spec.wire, list, _int_list
    nested = converter.get_structure_hook(spec.nested)
    if spec.kind is Kind.OBJECT:
        return spec.attr, spec.wire, dict, lambda v: nested(v, None)
    return spec.attr, spec.wire, list, _list_of(nested)


def _convert(entry: Entry, value: Any) -> Any:
    _, _, json_type, convert = entry
    if type(value) is not json_type:
        return _BAD
    return value if convert is None else convert(value)


def _same_key_again(
    data: dict[str, Any], key: str, value: Any, entry: Entry, kwargs: dict[str, Any], extra: dict[str, Any]
) -> None:
    """A key that another casing of the same field already claimed (rare): keep both, losslessly.

    The attribute must end up holding the value that ``to_dict()`` writes under the documented
    spelling, so when that spelling arrives second it takes the attribute over."""
    attr, wire = entry[0], entry[1]
    if key != wire or attr not in kwargs:
        extra[key] = value
        return
    first = next(k for k in data if k != key and k.lower() == key.lower() and k not in extra)
    extra[first] = data[first]
    converted = _convert(entry, value)
    if converted is _BAD:
        del kwargs[attr]
        extra[key] = value
    else:
        kwargs[attr] = converted


def make_structure_hook(cls: type) -> Callable[[Any, Any], Any]:
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    exact = {s.wire: _decoder_entry(s) for s in specs}
    lower = {s.wire.lower(): exact[s.wire] for s in specs}
    name = cls.__name__

    def structure(data: Any, _: Any = None) -> Any:
        if type(data) is not dict:
            if isinstance(data, Mapping):
                data = dict(data)
            else:
                raise TypeError(f"{name} needs a JSON object, not {type(data).__name__}")
        kwargs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in data.items():
            entry = exact.get(key)
            if entry is None:
                entry = lower.get(key.lower()) if type(key) is str else None
                if entry is None:
                    extra[key] = value
                    continue
            attr, wire, json_type, convert = entry
            if attr in kwargs or (extra and wire in extra):
                _same_key_again(data, key, value, entry, kwargs, extra)
                continue
            if type(value) is json_type:
                if convert is None:
                    kwargs[attr] = value
                    continue
                value2 = convert(value)
                if value2 is not _BAD:
                    kwargs[attr] = value2
                    continue
            elif value is None:
                continue  # JSON null carries nothing: the attribute stays None
            log.warning(
                "%s: key %r has a value of JSON type %s, not %s; kept in .extra",
                name,
                key,
                _json_type_name(value),
                json_type.__name__,
            )
            extra[key] = value
        if extra:
            kwargs["extra"] = extra
        return cls(**kwargs)

    return structure


def _json_type_name(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array"}.get(
        type(value), "object" if isinstance(value, dict) else type(value).__name__
    )


def _encoder(spec: FieldSpec) -> Callable[[Any], Any] | None:
    if spec.kind is Kind.DICT:
        return dict
    if spec.kind is Kind.INT_LIST:
        return list
    if spec.kind is Kind.OBJECT:
        return converter.get_unstructure_hook(spec.nested)
    if spec.kind is Kind.OBJECT_LIST:
        item = converter.get_unstructure_hook(spec.nested)
        return lambda v: [item(x) for x in v]
    return None


def make_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Model → wire dict, omitting ``None`` (the server's "omitted if empty")."""
    plan = [(s.attr, s.wire, _encoder(s)) for s in cls.__toggl_fields__]  # type: ignore[attr-defined]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, wire, encode in plan:
            value = getattr(obj, attr)
            if value is not None:
                out[wire] = value if encode is None else encode(value)
        if obj.extra:
            out.update(obj.extra)
        return out

    return unstructure


def make_update_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Update → wire dict of exactly the fields that were set, ``None`` included (JSON null)."""
    plan = [(s.attr, s.wire, _encoder(s)) for s in cls.__toggl_fields__]  # type: ignore[attr-defined]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, wire, encode in plan:
            value = getattr(obj, attr)
            if value is UNSET:
                continue
            out[wire] = value if encode is None or value is None else encode(value)
        if obj.extra:
            out.update(obj.extra)
        return out

    return unstructure


converter.register_structure_hook_factory(_is_model, make_structure_hook)
converter.register_unstructure_hook_factory(_is_model, make_unstructure_hook)
converter.register_unstructure_hook_factory(_is_update, make_update_unstructure_hook)


def loads_object(body: bytes | str, what: str) -> dict[str, Any]:
    """Parse a response body that must be a JSON object, or raise :class:`ResponseDecodeError`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseDecodeError(f"{what}: the body is not valid JSON ({exc})", body=body) from None
    if type(data) is not dict:
        raise ResponseDecodeError(f"{what}: expected a JSON object, got {_json_type_name(data)}", body=body)
    return data


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)
