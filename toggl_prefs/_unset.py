"""The ``UNSET`` sentinel: "leave this field alone", as opposed to ``None`` (send JSON null)."""

from __future__ import annotations

import enum
from typing import Final, Literal


class _UnsetType(enum.Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"

    __str__ = __repr__

    def __bool__(self) -> bool:
        # ``if update.field:`` must not treat "not set" as a truthy value.
        return False


UNSET: Final = _UnsetType.UNSET
"""Default of every update field: the field is not sent at all."""

Unset = Literal[_UnsetType.UNSET]
"""The type of :data:`UNSET`, for annotations."""
