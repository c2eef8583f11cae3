"""What the models know about each wire field: its attribute, documented key and JSON kind."""

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


class FieldSpec(NamedTuple):
    attr: str
    """The snake_case attribute name."""
    wire: str
    """The key as the reference spells it; written by ``to_dict()``."""
    kind: Kind
    nested: Any
    """The model class of an OBJECT / OBJECT_LIST field, else ``None``."""


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
