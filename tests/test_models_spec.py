"""Every documented field and nested table is modelled, with its documented type."""

from __future__ import annotations

import json
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import _generated as generated
from toggl_prefs._fieldspec import Kind

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "tests" / "data" / "preferences-fields.json"
SPEC = json.loads(SPEC_PATH.read_text())
TABLES: dict[str, list[dict[str, Any]]] = SPEC["user_preferences_objects"]
SHARED = ROOT.parent / "shared" / "spec" / "preferences-fields.json"

KIND_OF = {
    "boolean": {Kind.BOOL},
    "integer": {Kind.INT},
    "string": {Kind.STR},
    "object": {Kind.OBJECT, Kind.DICT},
    "Array of object": {Kind.OBJECT_LIST},
    "Array of integer": {Kind.INT_LIST},
}
PY_OF = {"boolean": bool, "integer": int, "string": str}


def hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, vars(generated))


def non_none(hint: Any) -> set[Any]:
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) else (hint,)
    return {a for a in args if a is not type(None) and a is not tp.Unset}


def test_vendored_spec_matches_shared_copy() -> None:
    if not SHARED.exists():
        pytest.skip("no ../shared/spec beside this checkout (only CI and developers have it)")
    assert json.loads(SHARED.read_text()) == SPEC


def test_generated_models_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "gen_models.py"), "--check"], check=False)
    assert result.returncode == 0, "toggl_prefs/_generated.py is stale: run python tools/gen_models.py"


def test_user_preferences_has_all_171_fields_with_documented_types() -> None:
    documented = TABLES["UserPreferences"]
    assert len(documented) == 171
    specs = {s.wire: s for s in tp.UserPreferences.__toggl_fields__}
    assert set(specs) == {f["name"] for f in documented}
    types_ = hints(tp.UserPreferences)
    for field in documented:
        spec = specs[field["name"]]
        assert spec.kind in KIND_OF[field["type"]], field
        if field["type"] in PY_OF:
            assert non_none(types_[spec.attr]) == {PY_OF[field["type"]]}, field


@pytest.mark.parametrize("table", [t for t in TABLES if t != "UserPreferences"])
def test_nested_tables_are_modelled(table: str) -> None:
    holder = next(
        s
        for cls in (tp.UserPreferences, tp.WindowsAutoTrackingRule)
        for s in cls.__toggl_fields__
        if s.wire == table
    )
    nested = holder.nested
    assert nested is not None, f"{table} should be a nested class"
    wires = {s.wire: s for s in nested.__toggl_fields__}
    assert set(wires) == {f["name"] for f in TABLES[table]}
    for field in TABLES[table]:
        assert wires[field["name"]].kind in KIND_OF[field["type"]], (table, field)


def test_snake_case_names() -> None:
    attrs_ = {s.wire: s.attr for s in tp.UserPreferences.__toggl_fields__}
    assert attrs_["beginningOfWeek"] == "beginning_of_week"
    assert attrs_["toSAcceptNeeded"] == "tos_accept_needed"
    assert attrs_["reportRoundingStepInMinutes"] == "report_rounding_step_in_minutes"
    assert all(a == a.lower() and a.isidentifier() for a in attrs_.values())
    lowered = [w.lower() for w in attrs_]
    assert len(set(lowered)) == len(lowered), "two documented keys differ only in case"


def test_workspace_models() -> None:
    ws_post = next(e for e in SPEC["endpoints"] if e["method"] == "POST" and "workspaces" in e["path"])
    body = {f["name"]: f["type"] for f in ws_post["body_fields"]}
    assert len(body) == 10
    read = {s.wire: s for s in tp.WorkspacePreferences.__toggl_fields__}
    assert set(read) == set(body) | {"logo"}
    update = {s.wire for s in tp.WorkspacePreferencesUpdate.__toggl_fields__}
    assert update == set(body)
    for name, json_type in body.items():
        assert read[name].kind in KIND_OF[json_type]


def test_update_model_mirrors_read_model() -> None:
    read = [(s.attr, s.wire, s.kind) for s in tp.UserPreferences.__toggl_fields__]
    update = [(s.attr, s.wire, s.kind) for s in tp.PreferencesUpdate.__toggl_fields__]
    assert read == update
    blank = tp.PreferencesUpdate()
    assert all(getattr(blank, a) is tp.UNSET for a, _, _ in update)
