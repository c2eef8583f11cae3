"""What a fake server's set-up accepts as stored preferences: documented keys in any casing (as the
Go server matches them) or the models' attribute names; anything else is a mistake, refused with the
closest known name, unless it is put under ``extra`` on purpose (served verbatim)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from .._fieldspec import FieldSpec
from .._generated import UserPreferences, WorkspacePreferences
from ..errors import TogglFieldError, TogglValidationError

EXTRA = "extra"
"""The key (the models' attribute) under which deliberate unknown keys go, verbatim."""


class _Fields:
    """Look-up of one model's fields by wire key (any casing) or attribute name (any casing)."""

    def __init__(self, specs: tuple[FieldSpec, ...], *, stored: str) -> None:
        self.specs = specs
        self.by_name: dict[str, FieldSpec] = {}
        for spec in specs:
            self.by_name[spec.attr.lower()] = spec
            self.by_name[spec.wire.lower()] = spec
        self.stored = stored
        """``"wire"``: store the documented spelling; ``"lower"``: lower case (workspace fields)."""

    def key(self, spec: FieldSpec) -> str:
        return spec.wire if self.stored == "wire" else spec.wire.lower()

    def unknown(self, name: str, where: str) -> TogglFieldError:
        close = difflib.get_close_matches(name.lower(), list(self.by_name), n=1, cutoff=0.6)
        hint = f"; did you mean {self.by_name[close[0]].attr!r}?" if close else ""
        return TogglFieldError(
            f"{where}: no preference {name!r}{hint} (keys are documented names in any casing or "
            f"attribute names; put a deliberately unknown key under {EXTRA!r})"
        )


USER_FIELDS = _Fields(UserPreferences.__toggl_fields__, stored="wire")
WORKSPACE_FIELDS = _Fields(WorkspacePreferences.__toggl_fields__, stored="lower")


def stored_preferences(fields: _Fields, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` as the fake server stores them: known keys in their stored spelling with a value of
    the right JSON type (``None`` means not set), and the ``extra`` mapping's keys verbatim."""
    if not isinstance(values, Mapping):
        raise TogglFieldError(f"{where}: expected a mapping of preferences, not {type(values).__name__}")
    out: dict[str, Any] = {}
    extra: Any = {}
    for name, value in values.items():
        if not isinstance(name, str):
            raise TogglFieldError(f"{where}: preference names are str, not {type(name).__name__}")
        if name.lower() == EXTRA:
            extra = value
            continue
        spec = fields.by_name.get(name.lower())
        if spec is None:
            raise fields.unknown(name, where)
        if value is None:
            continue
        if type(value) not in spec.json_types:
            raise TogglFieldError(
                f"{where}: {name!r} must be {spec.describe()}, "
                f"not {type(value).__name__}; put a deliberately wrong value under "
                f"{EXTRA!r}"
            )
        out[fields.key(spec)] = value
    out.update(extra_keys(extra, where))
    return out


def extra_keys(extra: Any, where: str) -> dict[str, Any]:
    """The deliberate unknown keys: a mapping of str keys, kept verbatim."""
    if not isinstance(extra, Mapping) or not all(isinstance(k, str) for k in extra):
        raise TogglValidationError(f"{where}: {EXTRA} must be a mapping with str keys")
    return dict(extra)
