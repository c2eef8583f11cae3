"""Behaviour shared by every model: (de)serialization, reprs, validation of update values."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Generic, TypeVar, overload

import attrs

from ._fieldspec import FieldSpec, Kind, describe
from ._serde import converter, dumps, loads_object
from ._unset import UNSET, Unset
from .errors import TogglFieldError

M = TypeVar("M", bound="Model")
U = TypeVar("U", bound="UpdateModel")
N = TypeVar("N", bound="Model")


def _short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


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
        """Decode a JSON document; :class:`~toggl_prefs.ResponseDecodeError` if it is not an object."""
        return converter.structure(loads_object(data, cls.__name__), cls)

    def to_dict(self) -> dict[str, Any]:
        """The wire form: documented key spellings, ``None`` fields omitted, ``extra`` merged in."""
        return converter.unstructure(self)  # type: ignore[no-any-return]

    def to_json(self) -> bytes:
        """:meth:`to_dict` as compact JSON bytes."""
        return dumps(self.to_dict())

    def __repr__(self) -> str:
        shown = [
            f"{s.attr}={_short_repr(v)}"
            for s in self.__toggl_fields__
            if (v := getattr(self, s.attr)) is not None
        ]
        if self.extra:
            shown.append(f"extra={_short_repr(self.extra)}")
        return f"{type(self).__name__}({', '.join(shown)})"


def _unknown_name(cls: type, name: object) -> TypeError:
    specs: tuple[FieldSpec, ...] = cls.__toggl_fields__  # type: ignore[attr-defined]
    if not isinstance(name, str):
        return TypeError(f"{cls.__name__} field names are str, not {type(name).__name__}")
    by_wire = {s.wire.lower(): s.attr for s in specs}
    hint = by_wire.get(name.lower())
    if hint is None:
        close = difflib.get_close_matches(name, [s.attr for s in specs], n=1, cutoff=0.6)
        hint = close[0] if close else None
    suffix = f"; did you mean {hint!r}?" if hint else ""
    return TypeError(f"{cls.__name__} has no field {name!r}{suffix}")


def _ok(kind: Kind, value: Any) -> bool:
    """Whether ``value`` (not None) is a valid Python value for a scalar or list-of-int field."""
    if kind is Kind.BOOL:
        return isinstance(value, bool)
    if kind is Kind.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is Kind.STR:
        return isinstance(value, str)
    if kind is Kind.DICT:
        return isinstance(value, dict) and all(isinstance(k, str) for k in value)
    if kind is Kind.INT_LIST:
        return isinstance(value, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        )
    raise AssertionError(kind)  # pragma: no cover - nested kinds use converters


def coerce(spec: FieldSpec, owner: str, value: Any) -> Any:
    """``value`` as the update field ``spec`` stores it, or ``TypeError``. ``UNSET`` and ``None``
    pass; mappings become nested models; sequences become lists."""
    if value is UNSET or value is None:
        return value
    if spec.kind is Kind.OBJECT:
        return nested_value(value, spec.nested)
    if spec.kind is Kind.OBJECT_LIST:
        return nested_list(value, spec.nested)
    if _ok(spec.kind, value):
        return list(value) if spec.kind is Kind.INT_LIST else value
    raise TogglFieldError(
        f"{owner}.{spec.attr} must be {describe(spec.kind, spec.nested)} or None, "
        f"not {type(value).__name__} {_short_repr(value)}"
    )


def nested_value(value: N | Mapping[str, Any] | Unset | None, cls: type[N]) -> N | Unset | None:
    """Accept a nested model or a mapping of its fields (checked strictly) for an update field."""
    if value is UNSET or value is None or isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TogglFieldError(f"expected {describe(Kind.OBJECT, cls)}, not {type(value).__name__}")
    specs = {s.attr: s for s in cls.__toggl_fields__}
    kwargs: dict[str, Any] = {}
    for name, item in value.items():
        spec = specs.get(name)
        if spec is None:
            raise _unknown_name(cls, name)
        if item is None:
            continue
        if spec.kind is Kind.OBJECT:
            kwargs[name] = nested_value(item, spec.nested)
        elif spec.kind is Kind.OBJECT_LIST:
            kwargs[name] = nested_list(item, spec.nested)
        elif _ok(spec.kind, item):
            kwargs[name] = list(item) if spec.kind is Kind.INT_LIST else item
        else:
            raise TogglFieldError(
                f"{cls.__name__}.{name} must be {describe(spec.kind, spec.nested)}, "
                f"not {type(item).__name__} {_short_repr(item)}"
            )
    return cls(**kwargs)


def nested_list(
    value: Iterable[N | Mapping[str, Any]] | Unset | None, cls: type[N]
) -> list[N] | Unset | None:
    if value is UNSET or value is None:
        return value
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TogglFieldError(f"expected {describe(Kind.OBJECT_LIST, cls)}, not {type(value).__name__}")
    return [nested_value(v, cls) for v in value]  # type: ignore[misc]


G = TypeVar("G")
S = TypeVar("S")


class Field(Generic[G, S]):
    """An update field: reads give the value or ``UNSET``; writes are checked and stored sparsely.

    ``G`` is the type read back, ``S`` what may be assigned (a nested field also takes a mapping)."""

    # No __slots__: each field keeps its own __doc__ for help() and IDEs.

    def __init__(self, wire: str, kind: Kind, nested: Any = None, doc: str = "") -> None:
        self.spec = FieldSpec("", wire, kind, nested)
        self.name = ""
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.spec = self.spec._replace(attr=name)

    @overload
    def __get__(self, obj: None, owner: type) -> Field[G, S]: ...
    @overload
    def __get__(self, obj: UpdateModel, owner: type) -> G | None | Unset: ...
    def __get__(self, obj: UpdateModel | None, owner: type) -> Any:
        if obj is None:
            return self
        return obj._values.get(self.name, UNSET)

    def __set__(self, obj: UpdateModel, value: S | None | Unset) -> None:
        value = coerce(self.spec, type(obj).__name__, value)
        if value is UNSET:
            obj._values.pop(self.name, None)
        else:
            obj._values[self.name] = value


@attrs.define(slots=True, init=False, repr=False)
class UpdateModel:
    """Base of the update models: a field is ``UNSET`` unless given, and only given fields are sent.

    An update stores only what was set (``_values``), so building, checking and encoding one costs
    in proportion to the fields it sets, not to the 171 it could."""

    _values: dict[str, Any]
    extra: dict[str, Any]
    """Wire keys the model does not know yet, sent verbatim."""

    __toggl_fields__: ClassVar[tuple[FieldSpec, ...]]
    __toggl_by_attr__: ClassVar[dict[str, FieldSpec]]
    __toggl_read_only__: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **fields: Any) -> None:
        self._values = {}
        self.extra = {}
        by_attr = type(self).__toggl_by_attr__
        name = type(self).__name__
        for attr, value in fields.items():
            spec = by_attr.get(attr)
            if spec is None:
                if attr == "extra":
                    self.extra = _check_extra(name, value)
                    continue
                raise _unknown_name(type(self), attr)
            value = coerce(spec, name, value)
            if value is not UNSET:
                self._values[attr] = value

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
        return converter.unstructure(self)  # type: ignore[no-any-return]

    def to_json(self) -> bytes:
        """The JSON body as compact bytes (what the client sends)."""
        return dumps(self.to_dict())

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
                values[s.attr] = _writable(s.attr, value)
        return cls(**values)

    @classmethod
    def diff(cls: type[U], current: Model, target: Model) -> U:
        """The smallest update that turns ``current`` into ``target``: the fields ``target``
        carries (not ``None``) whose value differs. Read-only fields are left out."""
        return cls.from_preferences(target).without_unchanged(current)

    def without_unchanged(self: U, current: Model) -> U:
        """This update minus the fields that ``current`` already has at the same value.

        A field ``current`` does not carry is kept: the API omits empty values, so a missing key is
        no evidence of the value. Alpha features are compared per ``code``."""
        values: dict[str, Any] = {}
        for name, new in self._values.items():
            old = getattr(current, name, None)
            if name == "alpha_features" and new and old:
                new = _changed_features(new, old)
                if new:
                    values[name] = new
            elif (old is None or new != old) and not (new is None and old is None):
                values[name] = new
        update = type(self)(**values)
        if self.extra:
            update.extra = dict(self.extra)
        return update


def _check_extra(owner: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TogglFieldError(f"{owner}.extra must be a dict of str keys, not {type(value).__name__}")
    return dict(value)


def _writable(name: str, value: Any) -> Any:
    if name == "alpha_features":
        from ._generated import AlphaFeature

        return [AlphaFeature(code=f.code, enabled=f.enabled) for f in value if f.code is not None]
    return value


def _changed_features(new: list[Any], old: list[Any]) -> list[Any]:
    current = {f.code: f.enabled for f in old}
    return [f for f in new if f.code not in current or current[f.code] != f.enabled]
