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

# What the reference leaves out (../shared/spec/FACTS.md: values found against the live API; the
# server validates date_format and timeofday_format). Keyed by attribute name.
_KNOWN: dict[str, tuple[str, tuple[str, ...]]] = {
    "beginning_of_week": ("first day of the week (0 = Sunday)", tuple("0123456")),
    "date_format": (
        "how dates are shown",
        ("MM/DD/YYYY", "DD-MM-YYYY", "MM-DD-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "DD.MM.YYYY"),
    ),
    "timeofday_format": ("how times of day are shown: 24-hour or 12-hour clock", ("H:mm", "h:mm A")),
    "duration_format": ("how durations are shown", ("classic", "improved", "decimal")),
    "logo": ("URL of the workspace's logo (returned by the server, not settable here)", ()),
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
    """Known values, where the API or FACTS.md lists them; empty when any value of the type goes."""
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

    The generator's metadata wins (a spec's ``doc``, ``values`` and ``read_only``, where the models
    carry them); the local table fills in only what they leave empty."""
    update_cls = _CLASSES[model][1]
    writable = {s.attr for s in update_cls.__toggl_fields__} - set(update_cls.__toggl_read_only__)
    out = []
    for spec in specs(model):
        known_meaning, known_values = _KNOWN.get(spec.attr, ("", ()))
        documented = str(getattr(spec, "doc", "") or _meaning(update_cls, spec.attr))
        values = tuple(str(v) for v in getattr(spec, "values", ()))
        out.append(
            FieldInfo(
                name=spec.attr,
                wire=spec.wire,
                type=type_name(spec),
                meaning=documented or known_meaning,
                allowed=values or known_values,
                read_only=bool(getattr(spec, "read_only", False)) or spec.attr not in writable,
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
