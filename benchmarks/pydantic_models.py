"""A pydantic v2 model of the same shape as ``UserPreferences`` (the decode peer)."""

from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

import toggl_prefs as tp
from toggl_prefs._fieldspec import Kind

_SCALARS: dict[Kind, Any] = {
    Kind.BOOL: bool,
    Kind.INT: int,
    Kind.STR: str,
    Kind.DICT: dict[str, Any],
    Kind.INT_LIST: list[int],
}
_CACHE: dict[type, type[BaseModel]] = {}


def model_for(cls: type) -> type[BaseModel]:
    if cls in _CACHE:
        return _CACHE[cls]
    fields: dict[str, Any] = {}
    for spec in cls.__toggl_fields__:  # type: ignore[attr-defined]
        if spec.kind in _SCALARS:
            typ: Any = _SCALARS[spec.kind]
        elif spec.kind is Kind.OBJECT:
            typ = model_for(spec.nested)
        else:
            typ = list[model_for(spec.nested)]  # type: ignore[misc]
        fields[spec.attr] = (Optional[typ], Field(default=None, alias=spec.wire))  # noqa: UP045
    config = ConfigDict(extra="allow", populate_by_name=True)
    model: type[BaseModel] = create_model(f"P{cls.__name__}", __config__=config, **fields)
    _CACHE[cls] = model
    return model


PydanticUserPreferences = model_for(tp.UserPreferences)
