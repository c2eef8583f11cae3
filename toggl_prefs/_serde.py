"""The one cattrs converter, and the hooks it uses for every model.

The hooks are built once per class from the class's field table (``__toggl_fields__``), most of them
as generated straight-line functions, so that no work is done per field that could be done per
class. Decoding has two paths: a fast one for the common body (documented keys, in any casing, with
the documented JSON types), and a careful one that handles everything else losslessly (duplicate
casings, wrong types kept in ``extra`` with a warning, nulls). Both give the same result; the tests
check that they agree on generated payloads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import cattrs
import orjson
from cattrs.preconf.orjson import make_converter

from ._fieldspec import JSON_TYPES, FieldSpec, Kind
from .errors import ResponseDecodeError, TogglFieldError

log = logging.getLogger("toggl_prefs")

converter: cattrs.Converter = make_converter()
"""The converter behind every model's ``from_dict`` / ``to_dict``."""

_BAD: Any = object()  # a decoder's "wrong JSON type" answer

Decoder = Callable[[Any], Any]
_SCALAR_TYPES: dict[Kind, type] = {k: JSON_TYPES[k] for k in (Kind.BOOL, Kind.INT, Kind.STR, Kind.DICT)}


def _is_model(t: Any) -> bool:
    from ._base import Model

    return isinstance(t, type) and issubclass(t, Model)


def _is_update(t: Any) -> bool:
    from ._base import UpdateModel

    return isinstance(t, type) and issubclass(t, UpdateModel)


def _list_of(item: Callable[..., Any]) -> Decoder:
    def decode(value: list[Any]) -> Any:
        if not set(map(type, value)) <= _DICT_ONLY:  # C-level check of every item
            return _BAD
        return list(map(item, value))

    return decode


_DICT_ONLY = frozenset({dict})


def _int_list(value: list[Any]) -> Any:
    return list(value) if set(map(type, value)) <= _INT_ONLY else _BAD


_INT_ONLY = frozenset({int})


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
    flat = _flat_list(spec.nested)
    return spec.attr, spec.wire, list, flat if flat is not None else _list_of(nested)


_FLAT_LISTS: dict[type, Decoder] = {}


def _compile(lines: list[str], namespace: dict[str, Any], name: str) -> Any:
    """Define the generated function ``name`` (source built from a model's own field table)."""
    exec("\n".join(lines), namespace)  # noqa: S102 - no outside input reaches the source
    return namespace[name]


def _decoder_namespace(cls: type, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """What the generated decoders of ``cls`` refer to."""
    # Read models have no validators or converters, so filling slots directly is what __init__ does.
    hooked = cls.__dict__.get("__setattr__", object.__setattr__) is not object.__setattr__
    assert not hooked, f"{cls.__name__} must not hook attribute setting"
    return {
        "cls": cls,
        "new": object.__new__,
        "careful": _careful_structure(cls, specs),
        "BAD": _BAD,
        "dict_only": _DICT_ONLY,
        "wires": frozenset(s.wire for s in specs),
        # None passes: a JSON null (or an absent key) leaves the attribute None, as the careful path does.
        **{f"{t.__name__}_": (t, type(None)) for t in (bool, int, str, dict, list)},
    }


def _flat_list(cls: type) -> Decoder | None:
    """For a list of small all-scalar objects (alpha features, auto-tracking rules' kin): one
    generated loop that builds every item inline, with no call per item. Items it cannot take
    (another casing, an unknown key, a wrong type) go through the class's careful decoder."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    if not all(s.kind in _SCALAR_TYPES for s in specs):
        return None
    if cls in _FLAT_LISTS:
        return _FLAT_LISTS[cls]
    names = [f"v{i}" for i in range(len(specs))]
    lines = [
        "def decode(items):",
        "    if not set(map(type, items)) <= dict_only:",
        "        return BAD",
        "    out = []",
        "    append = out.append",
        "    for data in items:",
        "        if not data.keys() <= wires:",
        "            append(careful(data))",
        "            continue",
        "        get = data.get",
        *(f"        {n} = get({s.wire!r})" for n, s in zip(names, specs, strict=True)),
        "        if not ("
        + " and ".join(
            f"type({n}) in {_SCALAR_TYPES[s.kind].__name__}_" for n, s in zip(names, specs, strict=True)
        )
        + "):",
        "            append(careful(data))",
        "            continue",
        "        obj = new(cls)",
        *(f"        obj.{s.attr} = {n}" for n, s in zip(names, specs, strict=True)),
        "        obj.extra = {}",
        "        append(obj)",
        "    return out",
    ]
    decode: Decoder = _compile(lines, _decoder_namespace(cls, specs), "decode")
    _FLAT_LISTS[cls] = decode
    return decode


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
    """The decoder for ``cls``: a generated fast path for the common case, the careful loop for
    the rest.

    The fast path takes a body whose keys are all spelled as documented and whose values all have
    the documented JSON type (or null). It is one function generated per class: a C-level check of
    the key set, then per field one lookup, one type check and one slot store, with no ``__init__``
    call (binding 170 keyword arguments is quadratic in CPython). Anything else (another casing, an
    unknown key, a wrong type) sends the whole body through :func:`_careful_structure`, which
    handles every case losslessly."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    namespace = _decoder_namespace(cls, specs)
    namespace["split"] = _splitter(specs, namespace["wires"])
    # The fast path visits every field; for a sparse body (a live GET carries ~10 of 171 keys) the
    # careful loop, which visits only the keys present, is quicker.
    namespace["sparse"] = len(specs) // 6 if len(specs) > 40 else 0
    lines = [
        "def structure(data, _=None):",
        "    if type(data) is not dict or len(data) < sparse:",
        "        return careful(data)",
        "    source = data",
        "    extra = {}",
        "    if not data.keys() <= wires:",
        "        data = split(data, extra)",
        "        if data is None:",
        "            return careful(source)",
        "    get = data.get",
        "    obj = new(cls)",
    ]
    for i, spec in enumerate(specs):
        value = f"v{i}"
        lines.append(f"    {value} = get({spec.wire!r})")
        if spec.kind in _SCALAR_TYPES:
            lines.append(f"    if type({value}) not in {_SCALAR_TYPES[spec.kind].__name__}_:")
            lines.append("        return careful(source)")
        else:
            _, _, json_type, convert = _decoder_entry(spec)
            namespace[f"convert{i}"] = convert
            lines.append(f"    if {value} is not None:")
            lines.append(f"        if type({value}) is not {json_type.__name__}:")
            lines.append("            return careful(source)")
            lines.append(f"        {value} = convert{i}({value})")
            lines.append(f"        if {value} is BAD:")
            lines.append("            return careful(source)")
        lines.append(f"    obj.{spec.attr} = {value}")
    lines += ["    obj.extra = extra", "    return obj"]
    structure: Callable[[Any, Any], Any] = _compile(lines, namespace, "structure")
    return structure


def _splitter(specs: tuple[FieldSpec, ...], wires: frozenset[str]) -> Callable[[Any, Any], Any]:
    """For a body with keys not spelled as documented: a copy with live casings (``BeginningOfWeek``)
    renamed to the documented spelling and unknown keys moved into ``extra`` (in body order), or
    ``None`` when one field comes in two casings (the careful path keeps both)."""
    lower = {s.wire.lower(): s.wire for s in specs}

    def split(data: dict[Any, Any], extra: dict[Any, Any]) -> dict[Any, Any] | None:
        odd = data.keys() - wires
        known = dict(data)
        for key in [k for k in data if k in odd]:
            value = known.pop(key)
            wire = lower.get(key.lower()) if type(key) is str else None
            if wire is None:
                extra[key] = value
            elif wire in known:
                return None
            else:
                known[wire] = value
        return known

    return split


def _builder(cls: type, specs: tuple[FieldSpec, ...]) -> Callable[[dict[str, Any]], Any]:
    """``cls(**kwargs)`` for a read model, about twice as fast: binding a few keyword arguments
    against 170 parameters costs more than filling the slots directly (read models have no
    validators or converters to skip)."""
    lines = ["def build(kwargs):", "    obj = new(cls)"]
    lines += [f"    obj.{s.attr} = None" for s in specs]
    lines += [
        "    obj.extra = {}",
        "    for name, value in kwargs.items():",
        "        setattr(obj, name, value)",
        "    return obj",
    ]
    build: Callable[[dict[str, Any]], Any] = _compile(lines, {"cls": cls, "new": object.__new__}, "build")
    return build


def _careful_structure(cls: type, specs: tuple[FieldSpec, ...]) -> Callable[[Any], Any]:
    build = _builder(cls, specs)
    exact = {s.wire: _decoder_entry(s) for s in specs}
    lower = {s.wire.lower(): exact[s.wire] for s in specs}
    name = cls.__name__

    def structure(data: Any) -> Any:
        if type(data) is not dict:
            if isinstance(data, Mapping):
                data = dict(data)
            else:
                raise TogglFieldError(f"{name} needs a JSON object, not {type(data).__name__}")
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
            _warn_wrong_type(name, key, _json_type_name(value), json_type.__name__)
            extra[key] = value
        if extra:
            kwargs["extra"] = extra
        return build(kwargs)

    return structure


_WARNED: set[tuple[str, str, str]] = set()
_WARNED_MAX = 1024


def _warn_wrong_type(model: str, key: str, got: str, expected: str) -> None:
    """Warn once per (model, key, type): a server that changed a field's type would otherwise
    flood the log of a bulk run with one identical warning per account. Repeats go to DEBUG."""
    seen = (model, key, got)
    first = seen not in _WARNED
    if first and len(_WARNED) < _WARNED_MAX:
        _WARNED.add(seen)
    log.log(
        logging.WARNING if first else logging.DEBUG,
        "%s: key %r has a value of JSON type %s, not %s; kept in .extra%s",
        model,
        key,
        got,
        expected,
        "" if first else " (again)",
    )


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
        return lambda v: list(map(item, v))
    return None


def make_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Model → wire dict, omitting ``None`` (the server's "omitted if empty"): one generated
    straight-line function per class, with nested encoders bound once."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    lines = ["def unstructure(obj):", "    out = {}"]
    for i, spec in enumerate(specs):
        encode = _encoder(spec)
        lines.append(f"    v = obj.{spec.attr}")
        lines.append("    if v is not None:")
        if encode is None:
            lines.append(f"        out[{spec.wire!r}] = v")
        else:
            namespace[f"encode{i}"] = encode
            lines.append(f"        out[{spec.wire!r}] = encode{i}(v)")
    lines += ["    if obj.extra:", "        out.update(obj.extra)", "    return out"]
    unstructure: Callable[[Any], dict[str, Any]] = _compile(lines, namespace, "unstructure")
    return unstructure


def make_update_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Update → wire dict of exactly the fields that were set, ``None`` included (JSON null)."""
    plan = {s.attr: (s.wire, _encoder(s)) for s in cls.__toggl_fields__}  # type: ignore[attr-defined]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, value in obj._values.items():
            wire, encode = plan[attr]
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
