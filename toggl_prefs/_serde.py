"""The one cattrs converter, and the hooks it uses for every model.

The hooks are built once per class from the class's field table (``__toggl_fields__``), most of them
as generated straight-line functions, so that no work is done per field that could be done per
class. Decoding has two paths: a fast one for the common body (documented keys, in any casing, with
the documented JSON types), and a careful one that handles everything else losslessly (duplicate
casings, wrong types kept in ``extra`` with a warning, nulls). Both give the same result; the tests
check that they agree on generated payloads.

Generated functions are named after what they do and the class they serve
(``structure_UserPreferences``), and their source is registered with :mod:`linecache` under a file
name of their own, so that tracebacks show the generated line and ``inspect.getsource`` works.
"""

from __future__ import annotations

import json
import linecache
import logging
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import cattrs
import orjson
from cattrs.preconf.orjson import make_converter

from ._fieldspec import INT64_MIN, SCALAR_KINDS, FieldSpec, Kind
from .errors import ResponseDecodeError, TogglFieldError

log = logging.getLogger("toggl_prefs")

converter: cattrs.Converter = make_converter()
"""The converter behind every model's ``from_dict`` / ``to_dict``."""

_BAD: Any = object()  # a decoder's "wrong JSON type" answer
_NONE = type(None)

Decoder = Callable[[Any], Any]


# -- generated code -------------------------------------------------------------------------------


def _compile(lines: list[str], namespace: dict[str, Any], name: str, owner: type) -> Any:
    """Define the generated function ``name`` (source built from ``owner``'s own field table).

    The source goes into :mod:`linecache` under a file name of its own (as cattrs does for its
    generated code), so that a traceback through it shows the line that failed."""
    source = "\n".join(lines) + "\n"
    filename = _unique_filename(name, owner, source)
    namespace.setdefault("__name__", __name__)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - no outside input reaches the source
    return namespace[name]


def _unique_filename(name: str, owner: type, source: str) -> str:
    base = f"<toggl_prefs generated {name} for {owner.__module__}.{owner.__qualname__}"
    entry = (len(source), None, source.splitlines(keepends=True))
    for n in range(1, 1000):
        filename = f"{base}>" if n == 1 else f"{base} #{n}>"
        cached = linecache.cache.setdefault(filename, (*entry, filename))
        if cached[:3] == entry:  # ours, or the same source generated again (a second converter)
            return filename
    raise AssertionError(f"no free file name for {base}")  # pragma: no cover


def _types_name(types: tuple[type, ...]) -> str:
    """The namespace name of a type tuple in generated code: ``int_``, ``dict_or_str_``."""
    return "_or_".join(t.__name__ for t in types) + "_"


def _takes(name: str, types: tuple[type, ...]) -> str:
    """Generated test that the value ``name`` has one of ``types`` or is None. With one type, two
    identity tests: cheaper in CPython than a look-up in a tuple, and this runs once per field."""
    if len(types) == 1:
        return f"(type({name}) is {types[0].__name__} or {name} is None)"
    return f"type({name}) in {_types_name(types)}"


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


Entry = tuple[str, str, tuple[type, ...], "Callable[..., Any] | None"]


def _decoder_entry(spec: FieldSpec) -> Entry:
    """(attribute, documented key, the JSON types it takes, the conversion after the check or None)."""
    if all(k in SCALAR_KINDS for k in spec.kinds):
        return spec.attr, spec.wire, spec.json_types, None
    assert not spec.also, f"{spec.attr}: only scalar fields can have drifted types"
    if spec.kind is Kind.INT_LIST:
        return spec.attr, spec.wire, (list,), _int_list
    nested = converter.get_structure_hook(spec.nested)
    if spec.kind is Kind.OBJECT:
        return spec.attr, spec.wire, (dict,), nested  # a generated structure_X(data, _=None)
    flat = _flat_list(spec.nested)
    return spec.attr, spec.wire, (list,), flat if flat is not None else _list_of(nested)


_FLAT_LISTS: dict[type, Decoder] = {}


def _decoder_namespace(cls: type, specs: tuple[FieldSpec, ...]) -> dict[str, Any]:
    """What the generated decoders of ``cls`` refer to."""
    # Read models have no validators or converters, so filling slots directly is what __init__ does.
    hooked = cls.__dict__.get("__setattr__", object.__setattr__) is not object.__setattr__
    assert not hooked, f"{cls.__name__} must not hook attribute setting"
    namespace = {
        "cls": cls,
        "new": object.__new__,
        "careful": _careful_structure(cls, specs),
        "BAD": _BAD,
        "dict_only": _DICT_ONLY,
        "wires": frozenset(s.wire for s in specs),
    }
    # None passes: a JSON null (or an absent key) leaves the attribute None, as the careful path does.
    for spec in specs:
        namespace[_types_name(spec.json_types)] = (*spec.json_types, _NONE)
    return namespace


def _flat_list(cls: type) -> Decoder | None:
    """For a list of small all-scalar objects (alpha features, auto-tracking rules' kin): one
    generated loop that builds every item inline, with no call per item. Items it cannot take
    (another casing, an unknown key, a wrong type) go through the class's careful decoder."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    if not all(k in SCALAR_KINDS for s in specs for k in s.kinds):
        return None
    if cls in _FLAT_LISTS:
        return _FLAT_LISTS[cls]
    name = f"structure_list_of_{cls.__name__}"
    names = [f"v{i}" for i in range(len(specs))]
    lines = [
        f"def {name}(items):",
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
        + " and ".join(_takes(n, s.json_types) for n, s in zip(names, specs, strict=True))
        + "):",
        "            append(careful(data))",
        "            continue",
        "        obj = new(cls)",
        *(f"        obj.{s.attr} = {n}" for n, s in zip(names, specs, strict=True)),
        "        obj.extra = {}",
        "        append(obj)",
        "    return out",
    ]
    decode: Decoder = _compile(lines, _decoder_namespace(cls, specs), name, cls)
    _FLAT_LISTS[cls] = decode
    return decode


def _convert(entry: Entry, value: Any) -> Any:
    _, _, json_types, convert = entry
    if type(value) not in json_types:
        return _BAD
    return value if convert is None else convert(value)


def _same_key_again(
    model: str,
    data: dict[str, Any],
    key: str,
    value: Any,
    entry: Entry,
    kwargs: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    """A key that another casing of the same field already claimed (rare): keep both, losslessly,
    and say so: keys match case-insensitively, so the body named one field twice.

    The attribute must end up holding the value that ``to_dict()`` writes under the documented
    spelling, so when that spelling arrives second it takes the attribute over."""
    attr, wire = entry[0], entry[1]
    earlier = next(k for k in data if k != key and k.lower() == key.lower())
    _warn_once(
        ("casing", model, wire),
        "%s: keys %r and %r name the same field (%s; keys match case-insensitively); the attribute "
        "holds the documented spelling %r if present, else the first, and the other is kept in .extra",
        model,
        earlier,
        key,
        attr,
        wire,
    )
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
    call (binding a keyword argument per field is quadratic in CPython). Anything else (another casing, an
    unknown key, a wrong type) sends the whole body through :func:`_careful_structure`, which
    handles every case losslessly."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    namespace = _decoder_namespace(cls, specs)
    namespace["split"] = _splitter(specs, namespace["wires"])
    # The fast path visits every field; for a sparse body (a live GET carries about ten keys) the
    # careful loop, which visits only the keys present, is quicker.
    namespace["sparse"] = len(specs) // 6 if len(specs) > 40 else 0
    name = f"structure_{cls.__name__}"
    lines = [
        f"def {name}(data, _=None):",
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
        _, _, json_types, convert = _decoder_entry(spec)
        if convert is None:
            lines.append(f"    if not {_takes(value, json_types)}:")
            lines.append("        return careful(source)")
        else:
            namespace[f"convert{i}"] = convert
            lines.append(f"    if {value} is not None:")
            lines.append(f"        if type({value}) is not {json_types[0].__name__}:")
            lines.append("            return careful(source)")
            lines.append(f"        {value} = convert{i}({value})")
            lines.append(f"        if {value} is BAD:")
            lines.append("            return careful(source)")
        lines.append(f"    obj.{spec.attr} = {value}")
    lines += ["    obj.extra = extra", "    return obj"]
    structure: Callable[[Any, Any], Any] = _compile(lines, namespace, name, cls)
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
    against a parameter per field costs more than filling the slots directly (read models have no
    validators or converters to skip)."""
    name = f"build_{cls.__name__}"
    lines = [f"def {name}(kwargs):", "    obj = new(cls)"]
    lines += [f"    obj.{s.attr} = None" for s in specs]
    lines += [
        "    obj.extra = {}",
        "    for name, value in kwargs.items():",
        "        setattr(obj, name, value)",
        "    return obj",
    ]
    build: Callable[[dict[str, Any]], Any] = _compile(lines, {"cls": cls, "new": object.__new__}, name, cls)
    return build


def _careful_structure(cls: type, specs: tuple[FieldSpec, ...]) -> Callable[[Any], Any]:
    build = _builder(cls, specs)
    exact = {s.wire: _decoder_entry(s) for s in specs}
    # Live answers capitalise some keys (BeginningOfWeek): found at the first look-up too.
    for s in specs:
        exact.setdefault(s.wire[:1].upper() + s.wire[1:], exact[s.wire])
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
            attr, wire, json_types, convert = entry
            if attr in kwargs or (extra and wire in extra):
                _same_key_again(name, data, key, value, entry, kwargs, extra)
                continue
            if type(value) in json_types:
                if convert is None:
                    kwargs[attr] = value
                    continue
                value2 = convert(value)
                if value2 is not _BAD:
                    kwargs[attr] = value2
                    continue
            elif value is None:
                continue  # JSON null carries nothing: the attribute stays None
            _warn_once(
                (name, key, _json_type_name(value)),
                "%s: key %r has a value of JSON type %s, not %s; kept in .extra",
                name,
                key,
                _json_type_name(value),
                " or ".join(_JSON_NAMES.get(t, t.__name__) for t in json_types),
            )
            extra[key] = value
        if extra:
            kwargs["extra"] = extra
        return build(kwargs)

    return structure


_WARNED: set[tuple[str, ...]] = set()
_WARNED_MAX = 1024


def _warn_once(seen: tuple[str, ...], message: str, *args: Any) -> None:
    """Warn once per kind of surprise: a server that changed a field's type would otherwise flood
    the log of a bulk run with one identical warning per account. Repeats go to DEBUG."""
    first = seen not in _WARNED
    if first and len(_WARNED) < _WARNED_MAX:
        _WARNED.add(seen)
    log.log(logging.WARNING if first else logging.DEBUG, message + ("" if first else " (again)"), *args)


_JSON_NAMES: dict[type, str] = {
    bool: "boolean",
    int: "number",
    float: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def _json_type_name(value: Any) -> str:
    return _JSON_NAMES.get(type(value), "object" if isinstance(value, dict) else type(value).__name__)


# -- encoding -------------------------------------------------------------------------------------


def _kind_encoder(kind: Kind, nested: Any) -> Callable[[Any], Any] | None:
    if kind is Kind.DICT:
        return dict
    if kind is Kind.INT_LIST:
        return list
    if kind is Kind.OBJECT:
        return converter.get_unstructure_hook(nested)
    if kind is Kind.OBJECT_LIST:
        item = converter.get_unstructure_hook(nested)
        return lambda v: list(map(item, v))
    return None


def _encoder(spec: FieldSpec) -> Callable[[Any], Any] | None:
    if not spec.also:
        return _kind_encoder(spec.kind, spec.nested)
    # A field seen in several shapes: encode each value by its own shape.
    by_type = {t: _kind_encoder(k, spec.nested) for k, t in zip(spec.kinds, spec.json_types, strict=True)}

    def encode(value: Any) -> Any:
        encode_as = by_type.get(type(value))
        return value if encode_as is None else encode_as(value)

    return encode


def make_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Model → wire dict, omitting ``None`` (the server's "omitted if empty"): one generated
    straight-line function per class, with nested encoders bound once."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    namespace: dict[str, Any] = {}
    name = f"unstructure_{cls.__name__}"
    lines = [f"def {name}(obj):", "    out = {}"]
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
    unstructure: Callable[[Any], dict[str, Any]] = _compile(lines, namespace, name, cls)
    return unstructure


def make_update_unstructure_hook(cls: type) -> Callable[[Any], dict[str, Any]]:
    """Update → wire dict of exactly the fields that were set, ``None`` included (JSON null)."""
    plan = {s.attr: (s.wire, _encoder(s)) for s in cls.__toggl_fields__}  # type: ignore[attr-defined]

    def unstructure(obj: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, value in obj._values.items():
            wire, encode = plan[attr]
            out[wire] = value if encode is None or value is None else encode(value)
        if obj._extra:
            out.update(obj._extra)
        return out

    return unstructure


def register(model: type, update: type) -> None:
    """Use these hooks for every subclass of ``model`` (read models) and ``update`` (updates)."""

    def is_model(t: Any) -> bool:
        return isinstance(t, type) and issubclass(t, model)

    def is_update(t: Any) -> bool:
        return isinstance(t, type) and issubclass(t, update)

    converter.register_structure_hook_factory(is_model, make_structure_hook)
    converter.register_unstructure_hook_factory(is_model, make_unstructure_hook)
    converter.register_unstructure_hook_factory(is_update, make_update_unstructure_hook)


# -- bytes ----------------------------------------------------------------------------------------


def loads_object(body: bytes | str, what: str) -> dict[str, Any]:
    """Parse a response body that must be a JSON object, or raise :class:`ResponseDecodeError`.

    orjson reads it first (fast). orjson silently keeps only the last of duplicate keys and reads
    integers beyond 64 bits as floats; when the body is not exactly what orjson writes back from
    its reading (so something may have been lost), it is read again with the standard library, which
    keeps integers exact and reports duplicate keys (the last value is kept, as Toggl's Go decoder
    does, with a warning)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ResponseDecodeError(f"{what}: the body is not valid JSON ({exc})", body=body) from None
    if type(parsed) is not dict:
        raise ResponseDecodeError(f"{what}: expected a JSON object, got {_json_type_name(parsed)}", body=body)
    data: dict[str, Any] = parsed
    # Proof that the reading lost nothing: the body is exactly what orjson writes for it (so no key
    # was dropped and no integer became a float). A compact body, as Go's encoder writes it, passes
    # with one C-speed dump and compare (~4 us for a full 13 KB body).
    try:
        if orjson.dumps(data) == body:
            return data
    except TypeError:  # nested deeper than orjson writes (it reads deeper)
        return _loads_exact(body, what)
    if not _read_losslessly(body, data):
        data = _loads_exact(body, what)
    return data


def _read_losslessly(body: bytes | bytearray | memoryview | str, data: Any) -> bool:
    """The same proof for a body that is not ``bytes`` or ends in white space (a newline)."""
    dumped = orjson.dumps(data)
    raw = body.encode() if isinstance(body, str) else bytes(body)
    return raw.startswith(dumped) and not raw[len(dumped) :].strip()


def _loads_exact(body: bytes | bytearray | memoryview | str, what: str) -> dict[str, Any]:
    """The standard library's reading of a body orjson already accepted: integers exact, duplicate
    keys found (the last value kept, with a warning naming the key)."""
    repeated: dict[str, int] = {}

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            for key, count in Counter(k for k, _ in items).items():
                if count > 1:
                    repeated[key] = max(count, repeated.get(key, 0))
        return obj

    raw = body if isinstance(body, (bytes, str)) else bytes(body)
    try:
        data: dict[str, Any] = json.loads(raw, object_pairs_hook=pairs)
    except RecursionError:
        raise ResponseDecodeError(
            f"{what}: the body is nested too deeply to read exactly", body=raw
        ) from None
    except ValueError as exc:  # e.g. an integer longer than Python's int/str conversion limit
        raise ResponseDecodeError(f"{what}: the body cannot be read exactly ({exc})", body=raw) from None
    for key, count in repeated.items():
        _warn_once(
            ("duplicate", what, key),
            "%s: the response has key %r %d times in one object; the last value is kept (as Toggl's Go "
            "decoder reads it)",
            what,
            key,
            count,
        )
    return data


def dumps(data: Any) -> bytes:
    """Compact JSON bytes. Integers beyond 64 bits (kept exactly from a response, or given in
    ``extra``) are more than orjson writes: such a document is written by the standard library."""
    try:
        return orjson.dumps(data)
    except TypeError:
        if not _has_big_int(data):
            raise
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _has_big_int(value: Any, depth: int = 0) -> bool:
    if type(value) is int:
        return not INT64_MIN <= value <= 2**64 - 1
    if depth > 256:
        return False
    if isinstance(value, dict):
        return any(_has_big_int(v, depth + 1) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_big_int(v, depth + 1) for v in value)
    return False
