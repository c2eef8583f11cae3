"""Behaviour shared by every model: (de)serialization, exports, reprs, validation of update values.

Everything a caller hands an update is checked when it is given (or assigned), so that a bad value
is a :class:`~toggl_prefs.TogglValidationError` naming the field before anything is sent: JSON types,
the server's 64-bit integer range, lists without holes, ``extra`` values JSON can carry (no NaN or
Infinity), and ``extra`` keys that do not shadow a known field.
"""

from __future__ import annotations

import difflib
import functools
import math
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar, overload

import attrs

from ._fieldspec import INT64_MAX, INT64_MIN, FieldSpec, Kind, describe, summary
from ._serde import converter, dumps, loads_object, register
from ._unset import UNSET, Unset
from .errors import TogglFieldError, TogglValidationError

M = TypeVar("M", bound="Model")
U = TypeVar("U", bound="UpdateModel")
N = TypeVar("N", bound="Model")

_MAX_DEPTH = 200  # below orjson's nesting limit for writing


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_STRUCTURE: dict[type, Any] = {}  # from_json's decoder per class, without the converter's dispatch


class Model:
    """Base of the read models (``UserPreferences``, ``WorkspacePreferences`` and nested tables)."""

    __slots__ = ()
    __toggl_fields__: ClassVar[tuple[FieldSpec, ...]]
    extra: dict[str, Any]

    @classmethod
    def from_dict(cls: type[M], data: Mapping[str, Any]) -> M:
        """Decode a JSON object as the API sends it. Keys match case-insensitively; unknown keys
        and known keys with a value of the wrong JSON type are kept in ``extra`` (the latter with a
        logged warning). Raises ``TypeError`` if ``data`` is not a mapping."""
        return converter.structure(data, cls)

    @classmethod
    def from_json(cls: type[M], data: bytes | str) -> M:
        """Decode a JSON document; :class:`~toggl_prefs.ResponseDecodeError` if it is not an object.

        Integers of any size are kept exactly; a key repeated in one object keeps its last value (as
        the server's own decoder does), with a logged warning."""
        hook = _STRUCTURE.get(cls) or _STRUCTURE.setdefault(cls, converter.get_structure_hook(cls))
        return hook(loads_object(data, cls.__name__), cls)  # type: ignore[no-any-return]

    @classmethod
    def from_python(cls: type[M], data: Mapping[str, Any]) -> M:
        """The inverse of :meth:`to_python`: a model from a mapping of attribute names (nested
        objects as mappings too, unknown keys under ``"extra"``), checked as an update's values are."""
        return nested_value(data, cls, cls.__name__)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """The wire form: documented key spellings, ``None`` fields omitted, ``extra`` merged in."""
        return converter.unstructure(self)  # type: ignore[no-any-return]

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON bytes."""
        return dumps(self.to_dict())

    def to_python(self) -> dict[str, Any]:
        """Plain data keyed by attribute name (``beginning_of_week``, not ``beginningOfWeek``):
        ``None`` fields omitted, nested models as dicts, unknown keys under ``"extra"`` when there
        are any. A copy: changing it leaves the model alone. :meth:`from_python` reads it back."""
        out = {s.attr: _plain(v) for s in self.__toggl_fields__ if (v := getattr(self, s.attr)) is not None}
        if self.extra:
            out["extra"] = _plain(self.extra)
        return out

    def __repr__(self) -> str:
        shown = [
            f"{s.attr}={_short_repr(v)}"
            for s in self.__toggl_fields__
            if (v := getattr(self, s.attr)) is not None
        ]
        if self.extra:
            shown.append(f"extra={_short_repr(self.extra)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.to_python()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _unknown_name(cls: type, name: object, where: str = "") -> TogglFieldError:
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    where = where or cls.__name__
    if not isinstance(name, str):
        return TogglFieldError(f"{where} field names are str, not {type(name).__name__}")
    by_wire = {s.wire.lower(): s.attr for s in specs}
    hint = by_wire.get(name.lower())
    if hint is None:
        close = difflib.get_close_matches(name, [s.attr for s in specs], n=1, cutoff=0.6)
        hint = close[0] if close else None
    suffix = f"; did you mean {hint!r}?" if hint else ""
    return TogglFieldError(f"{where} has no field {name!r}{suffix}")


# -- checking values ------------------------------------------------------------------------------


def _shape(kind: Kind, nested: Any, value: Any) -> bool:
    """Whether ``value`` (not None) is a Python value of the field shape ``kind``."""
    if kind is Kind.BOOL:
        return isinstance(value, bool)
    if kind is Kind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.STR:
        return isinstance(value, str)
    if kind is Kind.DICT:
        return isinstance(value, Mapping)
    if kind is Kind.OBJECT:
        return isinstance(value, (nested, Mapping))
    if kind is Kind.INT_LIST:
        return isinstance(value, (list, tuple))
    return isinstance(value, Iterable) and not isinstance(value, (str, bytes, Mapping))  # OBJECT_LIST


def check_value(spec: FieldSpec, value: Any, owner: str) -> Any:
    """``value`` as the field ``spec`` of ``owner`` (a path such as ``PreferencesUpdate`` or
    ``PreferencesUpdate.alpha_features[0]``) stores it: lists as lists, mappings as models. A bad
    value is a :class:`TogglValidationError` naming the field. ``UNSET`` and ``None`` pass."""
    if value is UNSET or value is None:
        return value
    # The common case in a few identity tests: a plain bool, str or int for a field of that kind.
    kind, t = spec.kind, type(value)
    if (t is bool and kind is Kind.BOOL) or (t is str and kind is Kind.STR):
        return value
    if t is int and kind is Kind.INT and INT64_MIN <= value <= INT64_MAX:
        return value
    where = f"{owner}.{spec.attr}"
    shape = next((k for k in spec.kinds if _shape(k, spec.nested, value)), None)
    if shape is None:
        raise TogglFieldError(
            f"{where} must be {spec.describe()} or None, not {type(value).__name__} {_short_repr(value)}"
        )
    kind = shape
    if kind is Kind.INT:
        return _int64(value, where)
    if kind is Kind.INT_LIST:
        return [_int_item(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if kind is Kind.DICT:
        return _json_value(value, where)
    if kind is Kind.OBJECT:
        return nested_value(value, spec.nested, where)
    if kind is Kind.OBJECT_LIST:
        return nested_list(value, spec.nested, where)
    return value


def _int64(value: int, where: str) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise TogglValidationError(
            f"{where} is {value}, outside the server's 64-bit integer range ({INT64_MIN}..{INT64_MAX})"
        )
    return value


def _int_item(value: Any, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TogglFieldError(f"{where} must be an int, not {type(value).__name__} {_short_repr(value)}")
    return _int64(value, where)


def _json_value(value: Any, where: str, depth: int = 0) -> Any:
    """A copy of ``value`` as plain JSON data (dicts, lists, str, int, finite float, bool, None),
    or a :class:`TogglValidationError` naming where in it the problem is."""
    if value is None or isinstance(value, (str, int)):  # bool is an int
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TogglValidationError(f"{where} is {value!r}: JSON has no NaN or Infinity")
        return value
    if depth >= _MAX_DEPTH:
        raise TogglValidationError(f"{where} is nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TogglFieldError(f"{where} has a key of type {type(key).__name__}; JSON keys are str")
            out[key] = _json_value(item, f"{where}[{key!r}]", depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise TogglFieldError(f"{where} is a {type(value).__name__}, which JSON cannot carry")


@functools.cache
def _field_names(cls: type) -> dict[str, str]:
    """Every name that means one of ``cls``'s fields, lower-cased (documented key and attribute name;
    keys match case-insensitively on the server) → the attribute."""
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    names = {s.wire.lower(): s.attr for s in specs}
    names.update({s.attr.lower(): s.attr for s in specs})
    return names


def checked_extra(cls: type, value: Any, where: str) -> dict[str, Any]:
    """``extra`` for a model of ``cls`` that is about to be sent: a mapping of str keys the model does
    not know to JSON values. A key that names a known field (in any casing) is refused: sent
    beside the field, it would silently override it or be overridden."""
    if not isinstance(value, Mapping):
        raise TogglFieldError(f"{where} must be a dict of str keys, not {type(value).__name__}")
    fields = _field_names(cls)
    for key in value:
        if not isinstance(key, str):
            raise TogglFieldError(f"{where} keys must be str, not {type(key).__name__} {_short_repr(key)}")
        attr = fields.get(key.lower())
        if attr is not None:
            raise TogglFieldError(
                f"{where}[{key!r}] is the field {attr} (keys match case-insensitively): set {attr}=... "
                "instead; extra is for keys the model does not know"
            )
    return _json_value(value, where)  # type: ignore[no-any-return]


def nested_value(
    value: N | Mapping[str, Any] | Unset | None, cls: type[N], where: str = ""
) -> N | Unset | None:
    """A nested model from a model or a mapping of its attribute names (unknown keys under
    ``"extra"``), every value checked. A model whose values need no conversion is kept as it is."""
    where = where or cls.__name__
    if value is UNSET or value is None:
        return value
    if isinstance(value, cls):
        return _checked_model(value, where)
    if not isinstance(value, Mapping):
        raise TogglFieldError(f"{where} must be {describe(Kind.OBJECT, cls)}, not {type(value).__name__}")
    specs = _specs_by_attr(cls)
    kwargs: dict[str, Any] = {}
    for name, item in value.items():
        if name == "extra":
            if item:
                kwargs["extra"] = checked_extra(cls, item, f"{where}.extra")
            continue
        spec = specs.get(name)
        if spec is None:
            raise _unknown_name(cls, name, where)
        if item is not None:
            kwargs[name] = check_value(spec, item, where)
    return cls(**kwargs)


def _checked_model(model: N, where: str) -> N:
    """``model`` itself when every value it holds is one an update may send, else a copy with the
    values converted (a tuple as a list, a nested mapping as a model)."""
    cls = type(model)
    kwargs: dict[str, Any] = {}
    same = True
    for spec in cls.__toggl_fields__:
        item = getattr(model, spec.attr)
        if item is not None:
            checked = kwargs[spec.attr] = check_value(spec, item, where)
            same = same and checked is item
    if model.extra:
        kwargs["extra"] = checked_extra(cls, model.extra, f"{where}.extra")
        same = False  # a checked copy: the update does not share a dict with the model
    return model if same else cls(**kwargs)


def _specs_by_attr(cls: type) -> dict[str, FieldSpec]:
    found = _SPECS_BY_ATTR.get(cls)
    if found is None:
        found = _SPECS_BY_ATTR[cls] = {s.attr: s for s in cls.__toggl_fields__}  # type: ignore[attr-defined]
    return found


_SPECS_BY_ATTR: dict[type, dict[str, FieldSpec]] = {}


def nested_list(
    value: Iterable[N | Mapping[str, Any]] | Unset | None, cls: type[N], where: str = ""
) -> list[N] | Unset | None:
    """A list of nested models; an item that is ``None`` is refused (JSON's ``[null]`` is no model)."""
    where = where or f"list of {cls.__name__}"
    if value is UNSET or value is None:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TogglFieldError(
            f"{where} must be {describe(Kind.OBJECT_LIST, cls)}, not {type(value).__name__}"
        )
    out: list[N] = []
    for i, item in enumerate(value):
        if item is None:
            raise TogglFieldError(f"{where}[{i}] must be {describe(Kind.OBJECT, cls)}, not None")
        out.append(nested_value(item, cls, f"{where}[{i}]"))  # type: ignore[arg-type]
    return out


G = TypeVar("G")
S = TypeVar("S")


class Field(Generic[G, S]):
    """An update field: reads give the value or ``UNSET``; writes are checked and stored sparsely.

    ``G`` is the type read back, ``S`` what may be assigned (a nested field also takes a mapping).
    Its :class:`FieldSpec` comes from the read model's field table (:func:`bind_update`), so that
    the table exists once."""

    # No __slots__: each field keeps its own __doc__ for help() and IDEs.

    def __init__(self) -> None:
        self.name = ""
        self.spec = FieldSpec("", "", Kind.STR)  # bound by bind_update()

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Field[G, S]: ...
    @overload
    def __get__(self, obj: UpdateModel, owner: type) -> G | None | Unset: ...
    def __get__(self, obj: UpdateModel | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj._values.get(self.name, UNSET)

    def __set__(self, obj: UpdateModel, value: S | None | Unset) -> None:
        value = check_value(self.spec, value, type(obj).__name__)
        if value is UNSET:
            obj._values.pop(self.name, None)
        else:
            obj._values[self.name] = value


def bind_update(cls: type[UpdateModel], specs: tuple[FieldSpec, ...]) -> None:
    """Give the update model ``cls`` its field table (the read model's, or a part of it) and each of
    its :class:`Field` descriptors its spec and docstring."""
    declared = {name for name, f in vars(cls).items() if isinstance(f, Field)}
    assert declared == {s.attr for s in specs}, f"{cls.__name__}: fields and table differ"
    cls.__toggl_fields__ = specs
    cls.__toggl_by_attr__ = {s.attr: s for s in specs}
    cls.__toggl_read_only__ = frozenset(s.attr for s in specs if s.read_only)
    for spec in specs:
        field = vars(cls)[spec.attr]
        field.spec = spec
        field.__doc__ = summary(spec)


@attrs.define(slots=True, init=False, repr=False)
class UpdateModel:
    """Base of the update models: a field is ``UNSET`` unless given, and only given fields are sent.

    An update stores only what was set (``_values``), so building, checking and encoding one costs
    in proportion to the fields it sets, not to all the fields it could."""

    _values: dict[str, Any]
    _extra: dict[str, Any]

    __toggl_fields__: ClassVar[tuple[FieldSpec, ...]]
    __toggl_by_attr__: ClassVar[dict[str, FieldSpec]]
    __toggl_read_only__: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **fields: Any) -> None:
        self._values = {}
        self._extra = {}
        by_attr = type(self).__toggl_by_attr__
        name = type(self).__name__
        for attr, value in fields.items():
            spec = by_attr.get(attr)
            if spec is None:
                if attr == "extra":
                    self.extra = value
                    continue
                raise _unknown_name(type(self), attr)
            value = check_value(spec, value, name)
            if value is not UNSET:
                self._values[attr] = value

    @property
    def extra(self) -> dict[str, Any]:
        """Wire keys the model does not know yet, sent verbatim: JSON values under keys that name
        no field (checked when given or assigned, and again before sending)."""
        return self._extra

    @extra.setter
    def extra(self, value: Mapping[str, Any]) -> None:
        self._extra = checked_extra(type(self), value, f"{type(self).__name__}.extra")

    @classmethod
    def _checked(cls: type[U], values: dict[str, Any], extra: dict[str, Any]) -> U:
        """An update from values that were checked already (taken from another update)."""
        update = cls.__new__(cls)
        update._values = values
        update._extra = dict(extra)
        return update

    @classmethod
    def build(cls: type[U], changes: U | Mapping[str, Any] | None = None, /, **fields: Any) -> U:
        """An update from another update or a mapping of attribute names, plus keyword fields
        (which win). Unknown names raise ``TypeError`` naming the closest field; wrong value types
        raise ``TypeError``."""
        if changes is None:
            return cls(**fields)
        if isinstance(changes, cls):
            merged: dict[str, Any] = dict(changes._values)
            if changes.extra:
                merged["extra"] = dict(changes.extra)
        elif isinstance(changes, Mapping):
            merged = dict(changes)
        else:
            raise TogglFieldError(
                f"changes must be a {cls.__name__} or a mapping of field names, not {type(changes).__name__}"
            )
        merged.update(fields)
        return cls(**merged)

    def fields_set(self) -> tuple[str, ...]:
        """Attribute names of the fields that will be sent, in the order they were set (``extra``
        not included)."""
        return tuple(self._values)

    def is_empty(self) -> bool:
        """True when the update would send nothing."""
        return not self._values and not self.extra

    def to_dict(self) -> dict[str, Any]:
        """The JSON body: exactly the set fields, by their documented keys; ``None`` as null."""
        if self._extra:  # it may have been changed in place since it was checked
            checked_extra(type(self), self._extra, f"{type(self).__name__}.extra")
        return converter.unstructure(self)  # type: ignore[no-any-return]

    def to_json(self) -> bytes:
        """The JSON body as compact bytes (what the client sends)."""
        return dumps(self.to_dict())

    def to_python(self) -> dict[str, Any]:
        """The set fields by attribute name (an explicit ``None`` included, as :meth:`to_dict`
        sends it), nested models as dicts, ``extra`` when not empty: ``cls(**update.to_python())``
        is an equal update."""
        out = {name: _plain(value) for name, value in self._values.items()}
        if self.extra:
            out["extra"] = _plain(self.extra)
        return out

    def __repr__(self) -> str:
        shown = [f"{name}={_short_repr(value)}" for name, value in self._values.items()]
        if self.extra:
            shown.append(f"extra={_short_repr(self.extra)}")
        return f"{type(self).__name__}({', '.join(shown)})"

    # -- building updates from read models -------------------------------------------------

    @classmethod
    def from_preferences(cls: type[U], prefs: Model) -> U:
        """An update that sets every field ``prefs`` carries, except read-only ones (such as
        ``tos_accept_needed``) and ``extra``: for cloning one account's preferences onto others.
        Alpha features are reduced to their ``code`` and ``enabled`` flag."""
        values: dict[str, Any] = {}
        for s in cls.__toggl_fields__:
            if s.attr in cls.__toggl_read_only__:
                continue
            value = getattr(prefs, s.attr, None)
            if value is not None:
                values[s.attr] = _writable(s, value)
        return cls(**values)

    @classmethod
    def diff(cls: type[U], current: Model, target: Model) -> U:
        """The smallest update that turns ``current`` into ``target``: the fields ``target``
        carries (not ``None``) whose value differs. Read-only fields are left out."""
        return cls.from_preferences(target).without_unchanged(current)

    def without_unchanged(self: U, current: Model) -> U:
        """This update minus the fields that ``current`` already has at the same value.

        A field ``current`` does not carry is kept: the API omits empty values, so a missing key is
        no evidence of the value. Lists the server merges by key (alpha features, by ``code``) are
        compared item by item."""
        values: dict[str, Any] = {}
        by_attr = type(self).__toggl_by_attr__
        for name, new in self._values.items():
            old = getattr(current, name, None)
            spec = by_attr[name]
            if spec.item_key is not None and new and old:
                new = _changed_items(spec, new, old)
                if new:
                    values[name] = new
            elif (old is None or new != old) and not (new is None and old is None):
                values[name] = new
        return type(self)._checked(values, self._extra)


def _writable(spec: FieldSpec, value: Any) -> Any:
    if spec.item_key is None:
        return value
    # A merged list's items carry what the server returns; an update sends only what it sets.
    return [
        spec.nested(**{a: getattr(item, a) for a in spec.item_sent})
        for item in value
        if getattr(item, spec.item_key) is not None
    ]


register(Model, UpdateModel)


def _changed_items(spec: FieldSpec, new: list[Any], old: list[Any]) -> list[Any]:
    """The items of ``new`` that change the server's list: new keys, or a sent attribute that differs."""
    key = spec.item_key
    assert key is not None
    current = {getattr(item, key): item for item in old}
    compared = [a for a in spec.item_sent if a != key]
    return [
        item
        for item in new
        if (was := current.get(getattr(item, key))) is None
        or any(getattr(item, a) != getattr(was, a) for a in compared)
    ]
