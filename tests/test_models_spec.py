"""Every documented field and nested table is modelled, with its documented type; the generated module
is up to date with the spec the package ships."""

from __future__ import annotations

import copy
import importlib.resources
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
from toggl_prefs._base import Model, UpdateModel
from toggl_prefs._fieldspec import Kind

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "tools" / "gen_models.py"
SPEC_TEXT = (importlib.resources.files("toggl_prefs") / "_spec" / "preferences-fields.json").read_text()
SPEC = json.loads(SPEC_TEXT)
TABLES: dict[str, list[dict[str, Any]]] = SPEC["user_preferences_objects"]

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
    """The types of a hint other than None / Unset, with known-value Literals left out (they are
    documentation over the plain type, which is always there)."""
    args = typing.get_args(hint) if isinstance(hint, types.UnionType) or typing.get_origin(hint) else (hint,)
    return {
        a
        for a in args
        if a is not type(None) and a is not tp.Unset and typing.get_origin(a) is not typing.Literal
    }


def generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(GENERATOR), *args], check=False, capture_output=True, text=True, cwd=ROOT
    )


def test_generated_models_are_up_to_date() -> None:
    result = generate("--check")
    assert result.returncode == 0, result.stderr or "toggl_prefs/_generated.py is stale"


def test_the_spec_is_the_packages_own() -> None:
    """No test (and no generator run) needs a file outside the repository."""
    assert not (ROOT / "tests" / "data").exists()
    assert f'"{ROOT / "toggl_prefs" / "_spec"}"' not in GENERATOR.read_text()  # found relative to it
    assert "_spec/preferences-fields.json" in GENERATOR.read_text()


def test_compare_spec_says_what_differs(tmp_path: Path) -> None:
    same = tmp_path / "same.json"
    same.write_text(SPEC_TEXT)
    result = generate("--compare-spec", str(same))
    assert result.returncode == 0, result.stdout + result.stderr

    changed = copy.deepcopy(SPEC)
    changed["user_preferences_objects"]["UserPreferences"].append({"name": "brandNew", "type": "string"})
    theme = next(f for f in changed["user_preferences_objects"]["UserPreferences"] if f["name"] == "theme")
    theme["type"] = "integer"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(changed))
    result = generate("--compare-spec", str(other))
    assert result.returncode == 1
    assert "field brandNew only in the other" in result.stdout
    assert "field theme" in result.stdout and "'integer'" in result.stdout

    assert generate("--compare-spec", str(tmp_path / "missing.json")).returncode == 2


def test_user_preferences_has_every_documented_field_with_its_type() -> None:
    documented = TABLES["UserPreferences"]
    specs = {s.wire: s for s in tp.UserPreferences.__toggl_fields__}
    assert list(specs) == [f["name"] for f in documented]
    types_ = hints(tp.UserPreferences)
    for field in documented:
        spec = specs[field["name"]]
        assert spec.kind in KIND_OF[field["type"]], field
        if field["type"] in PY_OF:
            assert non_none(types_[spec.attr]) == {PY_OF[field["type"]]}, field
        assert spec.omitted_if_empty == bool(field.get("omitted_if_empty")), field


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
    answer = {f["name"] for e in SPEC["endpoints"] if "workspaces" in e["path"] for f in e["response_fields"]}
    read = {s.wire: s for s in tp.WorkspacePreferences.__toggl_fields__}
    assert set(read) == set(body) | answer
    update = {s.wire for s in tp.WorkspacePreferencesUpdate.__toggl_fields__}
    assert update == set(body)
    for name, json_type in body.items():
        assert read[name].kind in KIND_OF[json_type]


def test_top_level_models_follow_the_endpoints() -> None:
    """One read model per resource the endpoints name (not held by another model), documented with
    the paths that answer it; an update model for each resource that is posted to."""
    resources: dict[str, set[str]] = {}
    for e in SPEC["endpoints"]:
        resources.setdefault(e.get("response") or e.get("body") or e["path"], set()).add(e["path"])
    exported = [getattr(generated, n) for n in generated.__all__]
    read = [m for m in exported if isinstance(m, type) and issubclass(m, Model)]
    held = {s.nested for m in read for s in m.__toggl_fields__ if s.nested is not None}
    top = [m for m in read if m not in held]
    assert len(top) == len(resources)
    for paths in resources.values():
        model = next(m for m in top if all(p in (m.__doc__ or "") for p in paths))
        update = getattr(generated, model.__name__.replace("User", "") + "Update")
        assert issubclass(update, UpdateModel)


def test_each_field_table_is_emitted_once() -> None:
    assert tp.PreferencesUpdate.__toggl_fields__ is tp.UserPreferences.__toggl_fields__
    assert set(tp.WorkspacePreferencesUpdate.__toggl_fields__) <= set(
        tp.WorkspacePreferences.__toggl_fields__
    )
    source = Path(generated.__file__).read_text()
    assert source.count("FieldSpec('beginning_of_week'") == 1
    assert source.count("FieldSpec('disable_approvals'") == 1


def test_update_model_mirrors_read_model() -> None:
    read = [(s.attr, s.wire, s.kind) for s in tp.UserPreferences.__toggl_fields__]
    update = [(s.attr, s.wire, s.kind) for s in tp.PreferencesUpdate.__toggl_fields__]
    assert read == update
    blank = tp.PreferencesUpdate()
    assert all(getattr(blank, a) is tp.UNSET for a, _, _ in update)
