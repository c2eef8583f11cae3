"""Decoding and encoding through the one converter: casing, extra, wrong types, omit rules."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toggl_prefs as tp
from toggl_prefs._fieldspec import FieldSpec, Kind

USER_SPECS = tp.UserPreferences.__toggl_fields__
CANONICAL = {s.wire.lower(): s.wire for s in USER_SPECS}

json_scalars = (
    st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.text(max_size=8)
    | st.floats(allow_nan=False, allow_infinity=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def value_for(spec: FieldSpec) -> st.SearchStrategy[Any]:
    """A value of the field's documented JSON type (nested objects with unknown keys too)."""
    if spec.kind is Kind.BOOL:
        return st.booleans()
    if spec.kind is Kind.INT:
        return st.integers(-(2**40), 2**40)
    if spec.kind is Kind.STR:
        return st.text(max_size=10)
    if spec.kind is Kind.DICT:
        return st.dictionaries(st.text(max_size=5), json_scalars, max_size=3)
    if spec.kind is Kind.INT_LIST:
        return st.lists(st.integers(0, 10**6), max_size=4)
    nested = st.fixed_dictionaries(
        {},
        optional={s.wire: value_for(s) for s in spec.nested.__toggl_fields__} | {"x_unknown": json_scalars},
    )
    return nested if spec.kind is Kind.OBJECT else st.lists(nested, max_size=3)


def recase(key: str) -> st.SearchStrategy[str]:
    return st.sampled_from([key, key.lower(), key[:1].upper() + key[1:], key.upper()])


@st.composite
def payloads(draw: st.DrawFn, wrong_types: bool = True) -> dict[str, Any]:
    specs = draw(st.lists(st.sampled_from(USER_SPECS), max_size=25, unique_by=lambda s: s.wire))
    out: dict[str, Any] = {}
    for spec in specs:
        key = draw(recase(spec.wire))
        out[key] = draw(json_values if wrong_types and draw(st.integers(0, 5)) == 0 else value_for(spec))
    unknown = st.text(min_size=1, max_size=12).filter(lambda k: k.lower() not in CANONICAL)
    out.update(draw(st.dictionaries(unknown, json_values, max_size=3)))
    return out


def canonical(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` modulo the casing of documented keys (exact where two casings of one key are sent)."""
    lowered = [k.lower() for k in d]
    return {
        (k.lower() if k.lower() in CANONICAL and lowered.count(k.lower()) == 1 else k): v
        for k, v in d.items()
    }


@settings(max_examples=300, deadline=None)
@given(payloads())
def test_round_trip_is_lossless(d: dict[str, Any]) -> None:
    prefs = tp.UserPreferences.from_dict(d)
    assert canonical(prefs.to_dict()) == canonical(d)
    assert tp.UserPreferences.from_dict(prefs.to_dict()) == prefs
    # well-typed documented keys come back in the documented spelling
    for key in prefs.to_dict():
        if key.lower() in CANONICAL and key not in d:
            assert key == CANONICAL[key.lower()]


@settings(max_examples=200, deadline=None)
@given(payloads(wrong_types=False))
def test_well_typed_payloads_land_in_attributes(d: dict[str, Any]) -> None:
    prefs = tp.UserPreferences.from_dict(d)
    documented = {k for k in d if k.lower() in CANONICAL}
    assert not (documented & set(prefs.extra))
    assert set(prefs.extra) == set(d) - documented


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.text(max_size=10), json_values, max_size=8))
def test_any_json_object_round_trips(d: dict[str, Any]) -> None:
    assert canonical(tp.UserPreferences.from_dict(d).to_dict()) == canonical(d)
    assert tp.WorkspacePreferences.from_dict(d).to_dict() == d


def test_live_casing_is_accepted_and_documented_spelling_written() -> None:
    live = {
        "BeginningOfWeek": 1,
        "CollapseTimeEntries": True,
        "ToSAcceptNeeded": False,
        "TimerView": "calendar",
    }
    prefs = tp.UserPreferences.from_dict(live)
    assert prefs.beginning_of_week == 1
    assert prefs.collapse_time_entries is True
    assert prefs.tos_accept_needed is False
    assert prefs.timer_view == "calendar"
    assert prefs.extra == {}
    assert prefs.to_dict() == {
        "beginningOfWeek": 1,
        "collapseTimeEntries": True,
        "toSAcceptNeeded": False,
        "timerView": "calendar",
    }


def test_two_casings_of_one_key_are_both_kept() -> None:
    d = {"BeginningOfWeek": 2, "beginningOfWeek": 3}
    prefs = tp.UserPreferences.from_dict(d)
    assert prefs.beginning_of_week == 3  # the documented spelling wins the attribute
    assert prefs.extra == {"BeginningOfWeek": 2}
    assert prefs.to_dict() == d


def test_wrong_type_is_kept_in_extra_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    from toggl_prefs import _serde

    _serde._WARNED.clear()
    with caplog.at_level(logging.WARNING, logger="toggl_prefs"):
        prefs = tp.UserPreferences.from_dict(
            {"pomodoro_enabled": "yes", "beginningOfWeek": True, "date_format": 5}
        )
    assert prefs.pomodoro_enabled is None
    assert prefs.beginning_of_week is None
    assert prefs.date_format is None
    assert prefs.extra == {"pomodoro_enabled": "yes", "beginningOfWeek": True, "date_format": 5}
    messages = " ".join(r.getMessage() for r in caplog.records)
    for key in ("pomodoro_enabled", "beginningOfWeek", "date_format"):
        assert key in messages
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="toggl_prefs"):
        for _ in range(3):  # the same surprise again: said once at WARNING, then at DEBUG only
            tp.UserPreferences.from_dict({"pomodoro_enabled": "yes"})
    levels = [r.levelno for r in caplog.records if "pomodoro_enabled" in r.getMessage()]
    assert levels == [logging.DEBUG] * 3


def test_nested_objects_decode_and_keep_their_own_extra() -> None:
    d = {
        "alpha_features": [{"code": "x", "enabled": True, "new_flag": 1}],
        "windows_auto_tracking_rules": [
            {"id": "r1", "parameters": {"keyword": "mail", "zz": 1}, "tag_ids": [1, 2]}
        ],
        "macos_stop_continue_keyboard_shortcut": {"key": 3, "modifiers": 5},
        "decimal_separator": {"anything": "goes"},
    }
    prefs = tp.UserPreferences.from_dict(d)
    assert prefs.alpha_features == [tp.AlphaFeature(code="x", enabled=True, extra={"new_flag": 1})]
    rule = prefs.windows_auto_tracking_rules[0] if prefs.windows_auto_tracking_rules else None
    assert rule is not None and rule.parameters is not None
    assert rule.parameters.keyword == "mail" and rule.parameters.extra == {"zz": 1}
    assert rule.tag_ids == [1, 2]
    assert prefs.macos_stop_continue_keyboard_shortcut == tp.KeyboardShortcut(key=3, modifiers=5)
    assert prefs.decimal_separator == {"anything": "goes"}
    assert prefs.to_dict() == d


def test_a_list_with_a_wrong_item_is_kept_whole_in_extra() -> None:
    prefs = tp.UserPreferences.from_dict(
        {"alpha_features": [{"code": "x"}, 7], "windows_auto_tracking_rules": [{"tag_ids": [1, "a"]}]}
    )
    assert prefs.alpha_features is None
    assert prefs.extra == {"alpha_features": [{"code": "x"}, 7]}
    rules = prefs.windows_auto_tracking_rules
    assert rules is not None and rules[0].tag_ids is None and rules[0].extra == {"tag_ids": [1, "a"]}


def test_null_means_absent_and_is_omitted() -> None:
    prefs = tp.UserPreferences.from_dict({"date_format": None, "theme": "dark"})
    assert prefs.date_format is None
    assert prefs.to_dict() == {"theme": "dark"}


def test_to_dict_omits_none_but_keeps_zero_values() -> None:
    prefs = tp.UserPreferences(pomodoro_enabled=False, beginning_of_week=0, theme="")
    assert prefs.to_dict() == {"pomodoro_enabled": False, "beginningOfWeek": 0, "theme": ""}
    assert tp.UserPreferences().to_dict() == {}


def test_from_json_and_decode_errors() -> None:
    body = orjson.dumps({"date_format": "YYYY-MM-DD"})
    assert tp.UserPreferences.from_json(body).date_format == "YYYY-MM-DD"
    for bad in (b"", b"not json", b"[1, 2]", b'"a string"', b"{"):
        with pytest.raises(tp.ResponseDecodeError):
            tp.UserPreferences.from_json(bad)
    with pytest.raises(TypeError, match="JSON object"):
        tp.UserPreferences.from_dict([1, 2])  # type: ignore[arg-type]


def test_update_sends_exactly_the_fields_set() -> None:
    update = tp.PreferencesUpdate(
        pomodoro_enabled=False, beginning_of_week=0, date_format="", default_task_id=None
    )
    assert update.to_dict() == {
        "pomodoro_enabled": False,
        "beginningOfWeek": 0,
        "date_format": "",
        "default_task_id": None,
    }
    assert tp.PreferencesUpdate().to_dict() == {}
    assert tp.PreferencesUpdate().is_empty()
    assert orjson.loads(update.to_json()) == update.to_dict()


def test_update_nested_values_from_mappings() -> None:
    update = tp.PreferencesUpdate(
        default_project_task={"project_id": 1, "workspace_id": 2},
        alpha_features=[{"code": "a", "enabled": True}, tp.AlphaFeature(code="b", enabled=False)],
        windows_auto_tracking_rules=[{"id": "r", "parameters": {"keyword": "k"}, "tag_ids": (1, 2)}],
    )
    assert update.to_dict() == {
        "default_project_task": {"project_id": 1, "workspace_id": 2},
        "alpha_features": [{"code": "a", "enabled": True}, {"code": "b", "enabled": False}],
        "windows_auto_tracking_rules": [{"id": "r", "parameters": {"keyword": "k"}, "tag_ids": [1, 2]}],
    }


def test_reprs_show_only_what_is_set() -> None:
    assert repr(tp.UserPreferences(theme="dark")) == "UserPreferences(theme='dark')"
    assert repr(tp.PreferencesUpdate(theme=None)) == "PreferencesUpdate(theme=None)"
    assert repr(tp.UNSET) == "UNSET"
    assert not tp.UNSET


@settings(max_examples=300, deadline=None)
@given(payloads(wrong_types=False) | payloads())
def test_fast_path_and_careful_path_agree(d: dict[str, Any]) -> None:
    from toggl_prefs._serde import _careful_structure

    careful = _careful_structure(tp.UserPreferences, USER_SPECS)
    assert tp.UserPreferences.from_dict(d) == careful(d)


def test_fast_path_is_taken_for_full_bodies_in_any_casing(monkeypatch: pytest.MonkeyPatch) -> None:
    from toggl_prefs import _serde

    body: dict[str, Any] = {s.wire: None for s in USER_SPECS}
    body |= {"theme": "dark", "beginningOfWeek": 2, "alpha_features": [{"code": "a", "enabled": True}]}
    hook = _serde.make_structure_hook(tp.UserPreferences)
    calls: list[Any] = []
    monkeypatch.setattr(_serde, "_careful_structure", lambda cls, specs: lambda d: calls.append(d))
    fast = _serde.make_structure_hook(tp.UserPreferences)
    assert fast(body, None) == hook(body, None)
    live = {
        ("Theme" if k == "theme" else "BeginningOfWeek" if k == "beginningOfWeek" else k): v
        for k, v in body.items()
    } | {"brand_new": [1]}
    decoded = fast(live, None)  # other casings and unknown keys stay on the fast path
    assert calls == []
    assert (decoded.theme, decoded.beginning_of_week, decoded.extra) == ("dark", 2, {"brand_new": [1]})
    fast(body | {"Theme": "light"}, None)  # one field in two casings: the careful path
    fast(body | {"theme": 1}, None)  # a wrong type: the careful path
    fast({"theme": "dark"}, None)  # a sparse body: the careful loop visits only its keys
    assert len(calls) == 3
