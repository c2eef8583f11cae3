"""What a bulk run *is*, as data: everything that decides what is sent and where, so that a journal
is only ever resumed by the same work.

A fixed update is identified by its fields. An update *function* is identified by what it would
compute: its code (bytecode, constants, names; not line numbers), its defaults, the values its
closure cells hold and the module-level values it reads, recursively through the functions it
calls. Two lambdas, or one function closing over ``theme="dark"`` and then ``theme="blue"``, are
different runs. A value that cannot be fingerprinted the same way in another process (an arbitrary
object, a socket, a lock) makes the function's identity unknowable: the caller names the run with
``run_id=`` instead, and vouches for it.

Classes, modules and built-in functions are identified by their qualified names (their code is a
library's, not the run's). Byte code differs between Python versions: a run resumed under another
Python is a different run, unless it was named with ``run_id=``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import hashlib
import logging
import pathlib
import types
import uuid
from typing import Any

import attrs
import orjson

from .._base import Model, UpdateModel
from ..errors import TogglValidationError

_MAX_RUN_ID = 200
# Values whose str() is their whole, stable identity.
_BY_TEXT = (
    datetime.date,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
    decimal.Decimal,
    fractions.Fraction,
    uuid.UUID,
    pathlib.PurePath,
    range,
    complex,
)


class Opaque(Exception):
    """A value whose identity cannot be computed the same way in another process."""


def check_run_id(run_id: str | None) -> str | None:
    if run_id is None:
        return None
    if not isinstance(run_id, str) or not run_id.strip() or len(run_id) > _MAX_RUN_ID:
        raise TogglValidationError(f"run_id must be a non-empty str of at most {_MAX_RUN_ID} characters")
    if not run_id.isprintable():
        raise TogglValidationError("run_id must not contain control characters")
    return run_id


def describe_update(update: Any, run_id: str | None) -> Any:
    """The identity of ``update`` (an update model, or a function returning one)."""
    if isinstance(update, UpdateModel):
        return {"fields": update.to_dict()}
    name = f"{getattr(update, '__module__', '')}.{getattr(update, '__qualname__', type(update).__qualname__)}"
    if run_id is not None:
        return {"callable": "named by run_id"}  # the caller vouches: the code may change
    try:
        canonical = _canon(update, set())
    except Opaque as exc:
        raise TogglValidationError(
            f"the update function {name} cannot be fingerprinted for the journal: {exc}; pass "
            "run_id='...' to name this run (a later run with the same run_id resumes the journal)"
        ) from None
    digest = hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return {"callable": name, "code": digest[:32]}


def _name(value: Any) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', '?')}"


def _canon(value: Any, seen: set[int]) -> Any:
    """A JSON-able, deterministic form of ``value`` (tagged, so that 1, 1.0, "1" and True differ)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return ["int", str(value)]
    if isinstance(value, float):
        return ["float", repr(value)]
    if isinstance(value, (bytes, bytearray)):
        return ["bytes", bytes(value).hex()]
    if isinstance(value, enum.Enum):
        return ["enum", _name(type(value)), value.name]
    if isinstance(value, _BY_TEXT):
        return [type(value).__qualname__, str(value)]
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return _canon_container(value, seen)
    if isinstance(value, (Model, UpdateModel)):
        return ["model", _name(type(value)), _canon(value.to_dict(), seen)]
    if isinstance(value, (type, types.ModuleType, types.BuiltinFunctionType, types.MethodDescriptorType)):
        return _reference(value, seen)
    if isinstance(value, logging.Logger):
        return ["logger", value.name]
    return _canon_code_or_object(value, seen)


def _canon_container(value: Any, seen: set[int]) -> Any:
    if id(value) in seen:
        raise Opaque(f"it depends on a {type(value).__name__} that contains itself")
    seen = seen | {id(value)}
    if isinstance(value, dict):
        pairs = [[_canon(k, seen), _canon(v, seen)] for k, v in value.items()]
        return ["dict", sorted(pairs, key=_sort_key)]
    items = [_canon(v, seen) for v in value]
    if isinstance(value, (set, frozenset)):
        items.sort(key=_sort_key)
    return [type(value).__qualname__, items]


def _canon_code_or_object(value: Any, seen: set[int]) -> Any:
    if id(value) in seen:
        return ["recursion", _name(value)]  # a function that calls itself, a self-referencing value
    seen = seen | {id(value)}
    if isinstance(value, types.FunctionType):
        return _canon_function(value, seen)
    if isinstance(value, types.CodeType):
        return [
            "code",
            value.co_code.hex(),
            [_canon(c, seen) for c in value.co_consts],
            list(value.co_names),
            [value.co_argcount, value.co_posonlyargcount, value.co_kwonlyargcount, value.co_flags],
        ]
    if isinstance(value, types.MethodType):
        return ["method", _canon(value.__func__, seen), _canon(value.__self__, seen)]
    if isinstance(value, functools.partial):
        return ["partial", _canon(value.func, seen), _canon(value.args, seen), _canon(value.keywords, seen)]
    if attrs.has(type(value)):
        fields = {a.name: _canon(getattr(value, a.name), seen) for a in attrs.fields(type(value))}
        return ["attrs", _name(type(value)), fields, _canon_call(value, seen)]
    if dataclasses.is_dataclass(value):
        fields = {f.name: _canon(getattr(value, f.name), seen) for f in dataclasses.fields(value)}
        return ["dataclass", _name(type(value)), fields, _canon_call(value, seen)]
    raise Opaque(f"it depends on a {type(value).__module__}.{type(value).__qualname__} object")


def _canon_call(value: Any, seen: set[int]) -> Any:
    call = type(value).__dict__.get("__call__")  # a callable instance's behaviour is its class's code
    return _canon(call, seen) if isinstance(call, types.FunctionType) else None


def _canon_function(fn: types.FunctionType, seen: set[int]) -> Any:
    cells = []
    for cell in fn.__closure__ or ():
        try:
            cells.append(_canon(cell.cell_contents, seen))
        except ValueError:  # an empty cell (a variable not yet assigned)
            cells.append(["empty cell"])
    used = {}
    for name in sorted(_global_names(fn.__code__)):
        if name in fn.__globals__:
            try:
                used[name] = _canon(fn.__globals__[name], seen)
            except Opaque as exc:
                raise Opaque(f"{exc} (the global {name!r})") from None
    return [
        "function",
        _name(fn),
        _canon(fn.__code__, seen),
        _canon(fn.__defaults__, seen),
        _canon(fn.__kwdefaults__, seen),
        cells,
        used,
    ]


def _global_names(code: types.CodeType) -> set[str]:
    """Names a code object (and the code nested in it: comprehensions, inner functions) may read
    from its module (attribute names are in the same table; a global that happens to share one is
    included, which can only make two runs look different, never the same)."""
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _global_names(const)
    return names


def _reference(value: Any, seen: set[int]) -> Any:
    if isinstance(value, types.ModuleType):
        return ["module", value.__name__]
    owner = getattr(value, "__self__", None)
    if owner is not None and not isinstance(owner, (types.ModuleType, type)):
        return ["bound builtin", _name(value), _canon(owner, seen)]  # e.g. some_list.append
    return ["reference", _name(value)]


def _sort_key(item: Any) -> bytes:
    return orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
