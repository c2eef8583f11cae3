"""Model conventions: known values as Literal types (still open to new ones), fields whose documented
type drifted, the attribute-named export, the field metadata the CLI reads, and generated code that
can be debugged like written code."""

from __future__ import annotations

import inspect
import logging
import traceback
import typing
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import _base, _generated, _serde
from toggl_prefs._fieldspec import Kind

# docs/toggl-facts.md "Known values" (found against the live API), copied here so that the test
# does not parse a document.
KNOWN = {
    "date_format": ("MM/DD/YYYY", "DD-MM-YYYY", "MM-DD-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "DD.MM.YYYY"),
    "timeofday_format": ("H:mm", "h:mm A"),
    "duration_format": ("classic", "improved", "decimal"),
}
SPECS = {s.attr: s for s in tp.UserPreferences.__toggl_fields__}


def hint(cls: type, attr: str) -> Any:
    return typing.get_type_hints(cls, vars(_generated))[attr]


def literal_values(annotation: Any) -> set[Any]:
    found: set[Any] = set()
    for arg in typing.get_args(annotation):
        if typing.get_origin(arg) is typing.Literal:
            found.update(typing.get_args(arg))
        else:
            found.update(literal_values(arg))
    return found


# -- known values -----------------------------------------------------------------------------


@pytest.mark.parametrize("attr", sorted(KNOWN))
def test_known_string_values_are_literal_types_open_to_new_ones(attr: str) -> None:
    annotation = hint(tp.UserPreferences, attr)
    assert literal_values(annotation) == set(KNOWN[attr])
    assert str in typing.get_args(annotation)  # a value the server adds later is still a str
    assert SPECS[attr].values == KNOWN[attr]
    documented = tp.PreferencesUpdate.__dict__[attr].__doc__
    assert all(v in documented for v in KNOWN[attr]), documented


@pytest.mark.parametrize("attr", sorted(KNOWN))
def test_an_unknown_value_is_decoded_and_sent_without_complaint(
    attr: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="toggl_prefs"):
        prefs = tp.UserPreferences.from_dict({attr: "brand-new-format"})
    assert getattr(prefs, attr) == "brand-new-format" and prefs.extra == {}
    given: dict[str, Any] = {attr: "brand-new-format"}
    assert tp.PreferencesUpdate(**given).to_dict() == given
    assert not caplog.records


def test_beginning_of_week_documents_its_range() -> None:
    assert SPECS["beginning_of_week"].values == tuple(range(7))
    assert "Sunday" in (tp.PreferencesUpdate.__dict__["beginning_of_week"].__doc__ or "")


# -- a documented type that drifted ------------------------------------------------------------


@pytest.mark.parametrize("value", [",", {"symbol": ",", "thousands": "."}])
def test_decimal_separator_takes_both_of_its_shapes_quietly(
    value: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="toggl_prefs"):
        prefs = tp.UserPreferences.from_dict({"decimal_separator": value})
        careful = tp.UserPreferences.from_dict({"decimal_separator": value, "Theme": "x", "theme": "y"})
    assert prefs.decimal_separator == value and prefs.extra == {}
    assert careful.decimal_separator == value and careful.extra == {"Theme": "x"}
    assert prefs.to_dict() == {"decimal_separator": value}
    update = tp.PreferencesUpdate(decimal_separator=value)
    assert update.to_dict() == {"decimal_separator": value}
    assert not [r for r in caplog.records if "decimal_separator" in r.getMessage()]


def test_a_drifted_type_is_data_not_code() -> None:
    spec = SPECS["decimal_separator"]
    assert (spec.kind, spec.also) == (Kind.DICT, (Kind.STR,))
    assert set(typing.get_args(hint(tp.UserPreferences, "decimal_separator"))) >= {str}
    for module in (_serde, _base):
        assert "decimal_separator" not in Path(module.__file__ or "").read_text()


def test_the_other_shapes_are_still_wrong_types(caplog: pytest.LogCaptureFixture) -> None:
    prefs = tp.UserPreferences.from_dict({"decimal_separator": 5})
    assert prefs.decimal_separator is None and prefs.extra == {"decimal_separator": 5}
    with pytest.raises(tp.TogglFieldError, match="decimal_separator"):
        tp.PreferencesUpdate(decimal_separator=5)  # type: ignore[arg-type]


# -- to_python --------------------------------------------------------------------------------


def full_prefs() -> tp.UserPreferences:
    return tp.UserPreferences.from_dict(
        {
            "beginningOfWeek": 1,
            "theme": "",
            "pomodoro_enabled": False,
            "alpha_features": [{"code": "a", "enabled": True, "new_flag": 1}],
            "windows_auto_tracking_rules": [{"id": "r", "parameters": {"keyword": "k"}, "tag_ids": [1]}],
            "default_project_task": {"project_id": 3},
            "decimal_separator": ",",
            "brand_new": [1, {"a": None}],
        }
    )


def test_to_python_uses_attribute_names_and_omits_what_is_not_there() -> None:
    assert full_prefs().to_python() == {
        "beginning_of_week": 1,
        "theme": "",
        "pomodoro_enabled": False,
        "alpha_features": [{"code": "a", "enabled": True, "extra": {"new_flag": 1}}],
        "windows_auto_tracking_rules": [{"id": "r", "parameters": {"keyword": "k"}, "tag_ids": [1]}],
        "default_project_task": {"project_id": 3},
        "decimal_separator": ",",
        "extra": {"brand_new": [1, {"a": None}]},
    }
    assert tp.UserPreferences().to_python() == {}


def test_to_python_round_trips() -> None:
    prefs = full_prefs()
    assert tp.UserPreferences.from_python(prefs.to_python()) == prefs
    exported = prefs.to_python()
    exported["alpha_features"][0]["code"] = "changed"  # a copy: the model is untouched
    assert prefs.alpha_features is not None and prefs.alpha_features[0].code == "a"

    update = tp.PreferencesUpdate(
        beginning_of_week=0,
        default_task_id=None,  # an explicit None is "clear this field": kept, as to_dict keeps it
        alpha_features=[{"code": "a", "enabled": False}],
        extra={"brand_new": 1},
    )
    assert update.to_python() == {
        "beginning_of_week": 0,
        "default_task_id": None,
        "alpha_features": [{"code": "a", "enabled": False}],
        "extra": {"brand_new": 1},
    }
    assert tp.PreferencesUpdate(**update.to_python()) == update
    ws = tp.WorkspacePreferencesUpdate(disable_approvals=True)
    assert tp.WorkspacePreferencesUpdate(**ws.to_python()) == ws


def test_from_python_checks_like_an_update() -> None:
    with pytest.raises(tp.TogglFieldError, match=r"beginingOfWeek.*beginning_of_week"):
        tp.UserPreferences.from_python({"beginingOfWeek": 1})
    with pytest.raises(tp.TogglFieldError, match="theme"):
        tp.UserPreferences.from_python({"theme": 1})


# -- metadata for tools (the CLI's `fields`) ----------------------------------------------------


def test_field_metadata_is_there_for_tools() -> None:
    tos = SPECS["tos_accept_needed"]
    assert (tos.wire, tos.kind, tos.read_only) == ("toSAcceptNeeded", Kind.BOOL, True)
    assert not SPECS["theme"].read_only and SPECS["theme"].omitted_if_empty
    assert SPECS["alpha_features"].nested is tp.AlphaFeature
    feature = {s.attr: s for s in tp.AlphaFeature.__toggl_fields__}
    assert feature["code"].doc == "Feature code"
    ws = {s.attr: s for s in tp.WorkspacePreferences.__toggl_fields__}
    assert ws["logo"].read_only and not ws["disable_approvals"].read_only
    assert tp.PreferencesUpdate.__toggl_read_only__ == frozenset({"tos_accept_needed"})
    assert {s.attr for s in tp.WorkspacePreferencesUpdate.__toggl_fields__} == set(ws) - {"logo"}


# -- generated code you can debug --------------------------------------------------------------


def generated_hooks() -> dict[str, Any]:
    tp.UserPreferences.from_dict({"alpha_features": [{"code": "a"}]})  # hooks are built on first use
    return {
        "structure": _serde.converter.get_structure_hook(tp.UserPreferences),
        "unstructure": _serde.converter.get_unstructure_hook(tp.UserPreferences),
        "flat": _serde._FLAT_LISTS[tp.AlphaFeature],
    }


@pytest.mark.parametrize("which", ["structure", "unstructure", "flat"])
def test_generated_functions_have_telling_names_and_source(which: str) -> None:
    hook = generated_hooks()[which]
    assert "AlphaFeature" in hook.__name__ or "UserPreferences" in hook.__name__, hook.__name__
    filename = hook.__code__.co_filename
    assert filename != "<string>" and "toggl_prefs" in filename, filename
    source = inspect.getsource(hook)
    assert source.startswith(f"def {hook.__name__}(")


def test_a_failure_inside_generated_code_shows_the_generated_line() -> None:
    unstructure = generated_hooks()["unstructure"]
    with pytest.raises(AttributeError) as caught:
        unstructure(object())  # no attributes at all: fails on the first field it reads
    frames = traceback.extract_tb(caught.value.__traceback__)
    last = frames[-1]
    assert last.filename == unstructure.__code__.co_filename
    assert last.name == unstructure.__name__
    assert last.line is not None and "obj.activity_timeline_display_activity" in last.line
    assert "obj.activity_timeline_display_activity" in "".join(
        traceback.format_tb(caught.value.__traceback__)
    )


def test_two_classes_never_share_a_generated_file_name() -> None:
    hooks = [_serde.converter.get_structure_hook(c) for c in (tp.UserPreferences, tp.WorkspacePreferences)]
    names = {h.__code__.co_filename for h in hooks}
    assert len(names) == 2
