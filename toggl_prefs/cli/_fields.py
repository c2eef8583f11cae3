"""What the command line knows about each preference field, read from the generated models.

The one place the CLI reads model metadata (``__toggl_fields__``, ``__toggl_read_only__``, the update
fields' docs): when the generator changes how it keeps them, only this module follows.
"""

from __future__ import annotations

import functools
from typing import Any, Literal, NamedTuple

from .._fieldspec import FieldSpec, Kind
from .._generated import (
    PreferencesUpdate,
    UserPreferences,
    WorkspacePreferences,
    WorkspacePreferencesUpdate,
)

ModelName = Literal["user", "workspace"]
MODELS: tuple[ModelName, ...] = ("user", "workspace")

_CLASSES: dict[ModelName, tuple[type[Any], type[Any]]] = {
    "user": (UserPreferences, PreferencesUpdate),
    "workspace": (WorkspacePreferences, WorkspacePreferencesUpdate),
}

# Remarks the docstrings carry that are not what a field means (read-only is a column of its own).
_NOT_MEANINGS = {"omitted by the server when empty", "read-only"}


class FieldInfo(NamedTuple):
    name: str
    """The attribute name (``beginning_of_week``)."""
    wire: str
    """The key as the API documents it (``beginningOfWeek``)."""
    type: str
    meaning: str
    allowed: tuple[str, ...]
    """Known values, where the reference or live testing found them; empty when any value of the type goes."""
    read_only: bool
    spec: FieldSpec


def specs(model: ModelName | type[Any]) -> tuple[FieldSpec, ...]:
    """The field specs of a read model (by name) or of any model class, in documented order."""
    cls = _CLASSES[model][0] if isinstance(model, str) else model
    found: tuple[FieldSpec, ...] = cls.__toggl_fields__
    return found


def type_name(spec: FieldSpec) -> str:
    nested = getattr(spec.nested, "__name__", "object")
    return {
        Kind.BOOL: "bool",
        Kind.INT: "int",
        Kind.STR: "str",
        Kind.DICT: "object",
        Kind.OBJECT: nested,
        Kind.OBJECT_LIST: f"list[{nested}]",
        Kind.INT_LIST: "list[int]",
    }[spec.kind]


def _meaning(update_cls: type[Any], attr: str) -> str:
    """The documented description, from the update field's docstring (``\\`\\`wire\\`\\`; text``)."""
    doc = getattr(update_cls.__dict__.get(attr), "__doc__", None) or ""
    parts = [p.strip() for p in doc.split(";")[1:]]
    return "; ".join(p for p in parts if p and p not in _NOT_MEANINGS)


@functools.cache
def fields(model: ModelName) -> tuple[FieldInfo, ...]:
    """Every field of ``model``, with what the CLI can tell about it.

    The generator's metadata (a spec's ``doc``, ``values`` and ``read_only``) first; the update
    field's docstring gives the meaning where the spec carries none."""
    update_cls = _CLASSES[model][1]
    writable = {s.attr for s in update_cls.__toggl_fields__} - set(update_cls.__toggl_read_only__)
    out = []
    for spec in specs(model):
        out.append(
            FieldInfo(
                name=spec.attr,
                wire=spec.wire,
                type=type_name(spec),
                meaning=spec.doc or _meaning(update_cls, spec.attr),
                allowed=tuple(str(v) for v in spec.values),
                read_only=spec.read_only or spec.attr not in writable,
                spec=spec,
            )
        )
    return tuple(out)


def find(model: ModelName, key: str) -> FieldInfo | None:
    """The field ``key`` names: its attribute name, or its documented key in any casing."""
    lowered = key.lower()
    for info in fields(model):
        if key == info.name or lowered in (info.wire.lower(), info.name):
            return info
    return None
