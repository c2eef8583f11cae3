"""What the models know about each wire field: its attribute, documented key, JSON kind, and the
metadata tools show (description, known values, read-only)."""

from __future__ import annotations

import enum
from typing import Any, NamedTuple


class Kind(enum.Enum):
    """The JSON shape of a documented field."""

    BOOL = "boolean"
    INT = "integer"
    STR = "string"
    DICT = "object"  # an object the reference does not describe (``decimal_separator``)
    OBJECT = "object of a documented table"
    OBJECT_LIST = "array of objects of a documented table"
    INT_LIST = "array of integers"


JSON_TYPES: dict[Kind, type] = {
    Kind.BOOL: bool,
    Kind.INT: int,
    Kind.STR: str,
    Kind.DICT: dict,
    Kind.OBJECT: dict,
    Kind.OBJECT_LIST: list,
    Kind.INT_LIST: list,
}
"""The Python type ``orjson``/``json`` decode each kind into (``type(v) is t``: a bool is no int)."""

SCALAR_KINDS = frozenset({Kind.BOOL, Kind.INT, Kind.STR, Kind.DICT})
"""Kinds whose value is kept as decoded (no nested model to build)."""

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
"""The range of the server's integers (Go ``int64``)."""


class FieldSpec(NamedTuple):
    attr: str
    """The snake_case attribute name."""
    wire: str
    """The key as the reference spells it; written by ``to_dict()``."""
    kind: Kind
    nested: Any = None
    """The model class of an OBJECT / OBJECT_LIST field, else ``None``."""
    also: tuple[Kind, ...] = ()
    """Other shapes the field has been seen in (its documented type drifted): accepted as readily as
    the documented one, on decode and in updates."""
    values: tuple[Any, ...] = ()
    """Known values (documented, or found against the live API). Not a closed set: the server may
    add values, and every value of the field's type is accepted."""
    read_only: bool = False
    """The server refuses to set it (or only returns it)."""
    omitted_if_empty: bool = False
    """The server leaves the key out when its value is empty (``false``, ``0``, ``""``)."""
    doc: str = ""
    """The reference's description, plus what Toggl's other documentation adds."""
    item_key: str | None = None
    """For a list of objects the server merges by one attribute (``code`` of an alpha feature): an
    update is compared, and sent, item by item."""
    item_sent: tuple[str, ...] = ()
    """For such a list: the item attributes an update sends (the others are returned, not set)."""

    @property
    def kinds(self) -> tuple[Kind, ...]:
        """Every shape the field is accepted in, the documented one first."""
        return (self.kind, *self.also)

    @property
    def json_types(self) -> tuple[type, ...]:
        """The Python types a decoded JSON value of this field may have (``type(v) in ...``)."""
        return tuple(dict.fromkeys(JSON_TYPES[k] for k in self.kinds))

    def describe(self) -> str:
        """What the field accepts, in words (for error messages and tools)."""
        return " or ".join(describe(k, self.nested) for k in self.kinds)


def describe(kind: Kind, nested: Any = None) -> str:
    """Human wording of what a field accepts, for error messages."""
    name = getattr(nested, "__name__", "object")
    return {
        Kind.BOOL: "a bool",
        Kind.INT: "an int",
        Kind.STR: "a str",
        Kind.DICT: "a dict",
        Kind.OBJECT: f"a {name} or a mapping of its fields",
        Kind.OBJECT_LIST: f"a list of {name} (or mappings of its fields)",
        Kind.INT_LIST: "a list of ints",
    }[kind]


OMITTED_NOTE = "omitted by the server when empty"


def summary(spec: FieldSpec) -> str:
    """One line about a field, for docstrings and tools: its documented key, then what is known."""
    parts = [f"``{spec.wire}``"]
    if spec.omitted_if_empty:
        parts.append(OMITTED_NOTE)
    if spec.read_only:
        parts.append("read-only")
    if spec.doc:
        parts.append(spec.doc)
    if spec.also:
        parts.append(
            f"documented as {spec.kind.value}, also seen as " + " or ".join(k.value for k in spec.also)
        )
    if spec.values:
        shown = ", ".join(f"``{v}``" for v in spec.values)
        parts.append(f"known values: {shown} (others are accepted)")
    return "; ".join(parts)
