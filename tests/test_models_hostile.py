"""Hostile values at the model boundary: what the wire may carry (big integers, duplicate keys) and
what a caller may hand an update (None items, integers beyond int64, NaN, extra keys that shadow a
field). Decoding keeps everything exactly or says why; building refuses before anything is sent."""

from __future__ import annotations

import json
import logging
from typing import Any

import orjson
import pytest

import toggl_prefs as tp
from toggl_prefs import _serde
from toggl_prefs.testing import FakeTogglServer

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@pytest.fixture(autouse=True)
def _fresh_warnings() -> None:
    _serde._WARNED.clear()  # each test sees its first warning at WARNING level


def warnings_of(caplog: pytest.LogCaptureFixture) -> str:
    return " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


# -- A: big integers --------------------------------------------------------------------------


@pytest.mark.parametrize("as_text", [False, True])
def test_integers_beyond_64_bits_in_unknown_keys_stay_exact(as_text: bool) -> None:
    body = (
        b'{"theme":"dark","x_big":18446744073709551616,"x_neg":-123456789012345678901234567890,'
        b'"x_list":[1,340282366920938463463374607431768211456],'
        b'"alpha_features":[{"code":"a","x_id":99999999999999999999999}]}'
    )
    prefs = tp.UserPreferences.from_json(body.decode() if as_text else body)
    assert prefs.theme == "dark"
    assert prefs.extra["x_big"] == 2**64 and type(prefs.extra["x_big"]) is int
    assert prefs.extra["x_neg"] == -123456789012345678901234567890
    assert prefs.extra["x_list"] == [1, 2**128]
    assert prefs.alpha_features is not None
    assert prefs.alpha_features[0].extra == {"x_id": 99999999999999999999999}
    # ... and go back out exactly (orjson cannot write them: the encoder falls back)
    assert json.loads(prefs.to_json()) == json.loads(body)


def test_big_integer_in_a_known_int_field_is_kept_exactly() -> None:
    prefs = tp.UserPreferences.from_json(b'{"beginningOfWeek": 123456789012345678901234567890}')
    assert prefs.beginning_of_week == 123456789012345678901234567890
    # Such a value cannot be cloned into an update: refused there, naming the field.
    with pytest.raises(tp.TogglValidationError, match="beginning_of_week"):
        tp.PreferencesUpdate.from_preferences(prefs)


def test_a_compact_body_takes_the_fast_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The exact re-parse is for bodies that need it; what orjson reads losslessly is not parsed twice."""
    calls: list[Any] = []
    exact = _serde._loads_exact

    def counted(body: bytes, what: str) -> dict[str, Any]:
        calls.append(body)
        return exact(body, what)

    monkeypatch.setattr(_serde, "_loads_exact", counted)
    body = orjson.dumps({"theme": "dark", "x": 2**64 - 1, "alpha_features": [{"code": "a"}]})
    assert tp.UserPreferences.from_json(body).extra == {"x": 2**64 - 1}
    assert tp.UserPreferences.from_json(body + b"\n").theme == "dark"  # a trailing newline too
    assert calls == []
    tp.UserPreferences.from_json(b'{"theme": "dark"}')  # not compact: checked the careful way
    assert len(calls) == 1


# -- A: duplicate keys --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "key", "check"),
    [
        (b'{"theme":"dark","theme":"light"}', "theme", lambda p: p.theme == "light"),
        (b'{"x":1, "x":2}', "x", lambda p: p.extra == {"x": 2}),
        (b'{"alpha_features":[{"code":"a","code":"b"}]}', "code", lambda p: p.alpha_features[0].code == "b"),
        (b'{"decimal_separator":{"s":"a","s":"b"}}', "s", lambda p: p.decimal_separator == {"s": "b"}),
    ],
)
def test_a_duplicate_key_keeps_the_last_value_and_says_so(
    body: bytes, key: str, check: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="toggl_prefs"):
        prefs = tp.UserPreferences.from_json(body)
    assert check(prefs)
    message = warnings_of(caplog)
    assert f"'{key}'" in message and "last" in message, message


def test_a_key_repeated_in_another_casing_is_kept_and_said(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="toggl_prefs"):
        prefs = tp.UserPreferences.from_json(b'{"BeginningOfWeek":2,"beginningOfWeek":3}')
    assert prefs.beginning_of_week == 3  # the documented spelling holds the attribute
    assert prefs.extra == {"BeginningOfWeek": 2}  # nothing lost
    message = warnings_of(caplog)
    assert "'BeginningOfWeek'" in message and "'beginningOfWeek'" in message, message


def test_a_body_too_deep_to_check_is_a_decode_error() -> None:
    deep = b'{"x_deep": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001  # orjson reads it; json cannot
    with pytest.raises(tp.ResponseDecodeError, match="deep"):
        tp.UserPreferences.from_json(deep)


# -- B: None items, int64 range --------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"alpha_features": [None]}, "alpha_features[0]"),
        ({"alpha_features": [{"code": "a"}, None]}, "alpha_features[1]"),
        ({"windows_auto_tracking_rules": [None]}, "windows_auto_tracking_rules[0]"),
        ({"macos_auto_tracking_rules": [{"id": "r"}, None]}, "macos_auto_tracking_rules[1]"),
    ],
)
def test_a_none_item_in_a_list_is_refused_when_built(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(tp.TogglFieldError, match=named.replace("[", r"\[")):
        tp.PreferencesUpdate(**fields)
    with pytest.raises(tp.TogglFieldError, match=named.replace("[", r"\[")):
        tp.PreferencesUpdate.build(fields)
    update = tp.PreferencesUpdate()
    with pytest.raises(tp.TogglFieldError):
        setattr(update, next(iter(fields)), next(iter(fields.values())))


@pytest.mark.parametrize(
    ("cls", "fields", "named"),
    [
        (tp.PreferencesUpdate, {"beginning_of_week": 2**64}, "beginning_of_week"),
        (tp.PreferencesUpdate, {"beginning_of_week": INT64_MAX + 1}, "beginning_of_week"),
        (tp.PreferencesUpdate, {"default_task_id": INT64_MIN - 1}, "default_task_id"),
        (
            tp.PreferencesUpdate,
            {"default_project_task": {"project_id": 2**64}},
            "default_project_task.project_id",
        ),
        (
            tp.PreferencesUpdate,
            {"alpha_features": [{"code": "a", "product_id": 2**70}]},
            "alpha_features[0].product_id",
        ),
        (
            tp.PreferencesUpdate,
            {"alpha_features": [tp.AlphaFeature(code="a", product_id=2**64)]},
            "alpha_features[0].product_id",
        ),
        (
            tp.PreferencesUpdate,
            {"windows_auto_tracking_rules": [{"id": "r", "tag_ids": [1, 2**64]}]},
            r"windows_auto_tracking_rules[0].tag_ids[1]",
        ),
        (
            tp.PreferencesUpdate,
            {"macos_stop_continue_keyboard_shortcut": tp.KeyboardShortcut(key=-(2**64))},
            "macos_stop_continue_keyboard_shortcut.key",
        ),
        (tp.WorkspacePreferencesUpdate, {"inc_tos_accepted_by": 2**63}, "inc_tos_accepted_by"),
    ],
)
def test_integers_outside_int64_are_refused_naming_the_field(
    cls: type[Any], fields: dict[str, Any], named: str
) -> None:
    with pytest.raises(tp.TogglValidationError, match=named.replace("[", r"\[").replace(".", r"\.")):
        cls(**fields)


def test_int64_bounds_themselves_are_accepted() -> None:
    update = tp.PreferencesUpdate(beginning_of_week=INT64_MAX, default_task_id=INT64_MIN)
    assert orjson.loads(update.to_json()) == {"beginningOfWeek": INT64_MAX, "default_task_id": INT64_MIN}


def test_a_nested_model_instance_is_checked_like_a_mapping() -> None:
    with pytest.raises(tp.TogglFieldError, match=r"alpha_features\[0\]\.code"):
        tp.PreferencesUpdate(alpha_features=[tp.AlphaFeature(code=5)])  # type: ignore[arg-type]


# -- B: extra ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"x": float("nan")}, "extra['x']"),
        ({"x": float("inf")}, "extra['x']"),
        ({"x": [1, {"y": float("-inf")}]}, "extra['x'][1]['y']"),
    ],
)
def test_nan_and_infinity_in_extra_are_refused(extra: dict[str, Any], named: str) -> None:
    pattern = named.replace("[", r"\[")
    with pytest.raises(tp.TogglValidationError, match=pattern):
        tp.PreferencesUpdate(extra=extra)
    with pytest.raises(tp.TogglValidationError, match=pattern):
        tp.WorkspacePreferencesUpdate(extra=extra)
    update = tp.PreferencesUpdate(theme="dark")
    with pytest.raises(tp.TogglValidationError, match=pattern):
        update.extra = extra
    update.extra.update(extra)  # mutated in place, past every check: caught before it is encoded
    with pytest.raises(tp.TogglValidationError, match=pattern):
        update.to_json()


def test_nan_in_an_untyped_object_field_is_refused() -> None:
    with pytest.raises(tp.TogglValidationError, match="decimal_separator"):
        tp.PreferencesUpdate(decimal_separator={"x": float("nan")})


@pytest.mark.parametrize(
    ("cls", "key", "field"),
    [
        (tp.PreferencesUpdate, "theme", "theme"),
        (tp.PreferencesUpdate, "BeginningOfWeek", "beginning_of_week"),
        (tp.PreferencesUpdate, "beginningofweek", "beginning_of_week"),
        (tp.PreferencesUpdate, "beginning_of_week", "beginning_of_week"),
        (tp.PreferencesUpdate, "TOSACCEPTNEEDED", "tos_accept_needed"),
        (tp.WorkspacePreferencesUpdate, "Disable_Approvals", "disable_approvals"),
    ],
)
def test_extra_keys_that_shadow_a_field_are_refused(cls: type[Any], key: str, field: str) -> None:
    with pytest.raises(tp.TogglFieldError, match=field) as caught:
        cls(extra={key: 1})
    assert repr(key) in str(caught.value)
    with pytest.raises(tp.TogglFieldError, match=field):
        cls.build({"extra": {key: 1}})


def test_extra_values_json_cannot_carry_are_refused() -> None:
    with pytest.raises(tp.TogglFieldError, match=r"extra\['x'\]"):
        tp.PreferencesUpdate(extra={"x": object()})
    with pytest.raises(tp.TogglFieldError, match=r"extra\['x'\]"):
        tp.PreferencesUpdate(extra={"x": {1: "non-str key"}})


def test_unknown_extra_keys_still_go_out_verbatim() -> None:
    update = tp.PreferencesUpdate(extra={"brand_new": {"a": [1, 2.5, None]}, "big": 2**70})
    assert json.loads(update.to_json()) == {"brand_new": {"a": [1, 2.5, None]}, "big": 2**70}


async def test_the_client_refuses_before_sending() -> None:
    async with FakeTogglServer() as server:
        server.add_account(api_token="t1")
        async with tp.AsyncTogglClient(tp.ApiToken("t1"), base_url=server.base_url, rate_limit=None) as toggl:
            for bad in (
                {"beginning_of_week": 2**64},
                {"alpha_features": [None]},
                {"extra": {"theme": "dark"}},
                {"extra": {"x": float("nan")}},
            ):
                with pytest.raises(tp.TogglValidationError):
                    await toggl.update_preferences(**bad)
        assert server.requests == []
