"""``toggl_prefs.testing.mock_toggl``: realistic Toggl answers on an aioresponses mocker, and its
compatibility shim for aiohttp >= 3.14. Unit tests of the client's error mapping and retries run on
it here, where a scripted answer is the natural tool (the real-server suites stay as they are)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import pytest
from aioresponses import aioresponses
from aioresponses.core import RequestMatch

import toggl_prefs as tp
from toggl_prefs.testing import SAMPLE_PREFERENCES, mock_toggl
from toggl_prefs.testing import _aioresponses as compat

BASE = "http://127.0.0.1:9/api/v9"  # never connected to: aioresponses answers
TOKEN = "mock-secret-token-31415926"
FAST = tp.RetryPolicy(backoff_base=0.001, backoff_cap=0.002)


@pytest.fixture
def mocked() -> Iterator[aioresponses]:
    with aioresponses() as m:
        yield m


@pytest.fixture
async def toggl() -> AsyncIterator[tp.AsyncTogglClient]:
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=BASE, rate_limit=None, retry=FAST) as c:
        yield c


# -- realistic answers ---------------------------------------------------------------------------------


async def test_serves_realistic_preferences_for_every_endpoint(
    mocked: aioresponses, toggl: tp.AsyncTogglClient
) -> None:
    state = mock_toggl(mocked, base_url=BASE)
    prefs = await toggl.get_preferences()
    assert (prefs.date_format, prefs.beginning_of_week, prefs.timer_view) == ("MM/DD/YYYY", 1, "calendar")
    assert prefs.alpha_features and {f.code for f in prefs.alpha_features} >= {"new_reports"}
    assert (await toggl.get_client_preferences("desktop")).show_dock_icon is True
    assert (await toggl.get_client_preferences("web", since=1)).show_all_entries is True
    ws = await toggl.get_workspace_preferences(compat.WORKSPACE_ID)
    assert (ws.disable_timesheet_view, ws.logo) == (True, "https://assets.toggl.com/images/workspace.jpg")

    await toggl.update_preferences(date_format="YYYY-MM-DD", beginning_of_week=0)
    await toggl.set_alpha_features({"new_reports": True})
    after = await toggl.get_preferences()
    assert after.date_format == "YYYY-MM-DD" and after.beginning_of_week is None  # 0 is omitted if empty
    assert {f.code: f.enabled for f in after.alpha_features or []}["new_reports"] is True
    assert [(r.method, r.path, r.json) for r in state.requests][-3:-1] == [
        ("POST", "/api/v9/me/preferences", {"date_format": "YYYY-MM-DD", "beginningOfWeek": 0}),
        ("POST", "/api/v9/me/preferences", {"alpha_features": [{"code": "new_reports", "enabled": True}]}),
    ]


async def test_the_servers_own_validation_applies(mocked: aioresponses, toggl: tp.AsyncTogglClient) -> None:
    mock_toggl(
        mocked, base_url=BASE, preferences={"theme": "dark"}, workspaces={7: {"disable_expenses": True}}
    )
    assert (await toggl.get_preferences()).theme == "dark"
    with pytest.raises(tp.InvalidDateFormatError):
        await toggl.update_preferences(date_format="YYYY/DD/MM")
    with pytest.raises(tp.WorkspaceNotFoundError):
        await toggl.get_workspace_preferences(8)
    assert (await toggl.update_workspace_preferences(7, hide_start_end_times=True)).disable_expenses is True


async def test_quota_headers_count_down_and_a_spent_quota_is_402(
    mocked: aioresponses, toggl: tp.AsyncTogglClient
) -> None:
    mock_toggl(mocked, base_url=BASE, quota_per_hour=2)
    await toggl.get_preferences()
    assert (toggl.quota.remaining, toggl.quota.resets_in) == (1, 3600)
    await toggl.get_preferences()
    with pytest.raises(tp.QuotaExceededError) as caught:
        await toggl.get_preferences()
    assert caught.value.remaining == 0 and caught.value.resets_in is not None


async def test_any_credentials_sign_in_and_none_is_403(mocked: aioresponses) -> None:
    mock_toggl(mocked, base_url=BASE)
    async with aiohttp.ClientSession() as session:
        async with session.get(BASE + "/me/preferences") as resp:
            assert (resp.status, await resp.text()) == (403, "Incorrect username and/or password")
        auth = {"Authorization": "Basic " + base64.b64encode(b"someone@example.com:pw").decode()}
        async with session.get(BASE + "/me/preferences", headers=auth) as resp:
            assert resp.status == 200 and (await resp.json())["date_format"] == "MM/DD/YYYY"
        async with session.get(BASE + "/me/nothing", headers=auth) as resp:
            assert resp.status == 404


async def test_the_default_base_url_is_intercepted(mocked: aioresponses) -> None:
    mock_toggl(mocked)  # https://api.track.toggl.com/api/v9: answered by the mock, nothing leaves
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), rate_limit=None) as toggl:
        assert (await toggl.get_preferences()).duration_format == SAMPLE_PREFERENCES["duration_format"]


def test_bad_arguments_are_refused_before_anything_is_registered(mocked: aioresponses) -> None:
    with pytest.raises(tp.TogglValidationError, match="did you mean 'get_preferences'"):
        mock_toggl(mocked, errors={"get_preference": 503})
    with pytest.raises(tp.TogglFieldError, match="did you mean 'pomodoro_enabled'"):
        mock_toggl(mocked, preferences={"pomodoro_enable": True})
    with pytest.raises(tp.TogglValidationError, match="answer"):
        mock_toggl(mocked, errors={"get_preferences": "boom"})
    assert mocked._matches == {}


async def test_no_credential_shows_in_the_recorded_state(
    mocked: aioresponses, toggl: tp.AsyncTogglClient
) -> None:
    state = mock_toggl(mocked, base_url=BASE, errors={"get_preferences": [503]})
    await toggl.get_preferences()
    shown = repr(state) + repr(state.requests) + repr(state.accounts)
    assert TOKEN not in shown and base64.b64encode(f"{TOKEN}:api_token".encode()).decode() not in shown


# -- the client's error mapping, on scripted answers ---------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        tp.UnknownClientError,
        tp.InvalidFeatureCodeError,
        tp.MissingDataError,
        tp.InvalidDateFormatError,
        tp.InvalidTimeOfDayFormatError,
        tp.ReadOnlyFieldError,
        tp.WorkspaceNotFoundError,
        tp.BadRequestError,
        tp.QuotaExceededError,
        tp.FeatureNotEnabledError,
        tp.PaymentRequiredError,
        tp.ForbiddenError,
        tp.NotFoundError,
        tp.RateLimitError,
        tp.ServerError,
    ],
)
async def test_each_documented_error_maps_to_its_class(
    mocked: aioresponses, error: type[tp.APIError]
) -> None:
    mock_toggl(mocked, base_url=BASE, errors={"update_preferences": error})
    no_retry = tp.RetryPolicy(max_retries=0)
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=BASE, rate_limit=None, retry=no_retry) as c:
        with pytest.raises(tp.APIError) as caught:
            await c.update_preferences(theme="dark")
    assert type(caught.value) is error
    assert caught.value.method == "POST" and caught.value.url.endswith("/me/preferences")


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, tp.BadRequestError),
        (402, tp.QuotaExceededError),
        (403, tp.ForbiddenError),
        (404, tp.NotFoundError),
        (429, tp.RateLimitError),
        (502, tp.ServerError),
    ],
)
async def test_a_bare_status_gets_that_statuss_realistic_body(
    mocked: aioresponses, status: int, error: type[tp.APIError]
) -> None:
    mock_toggl(mocked, base_url=BASE, errors={"get_workspace_preferences": status})
    no_retry = tp.RetryPolicy(max_retries=0)
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=BASE, rate_limit=None, retry=no_retry) as c:
        with pytest.raises(error) as caught:
            await c.get_workspace_preferences(compat.WORKSPACE_ID)
    assert caught.value.status == status


async def test_a_custom_answer_and_its_headers(mocked: aioresponses, toggl: tp.AsyncTogglClient) -> None:
    mock_toggl(
        mocked,
        base_url=BASE,
        errors={"get_client_preferences": (400, '"Some brand new message"', {"X-Request-Id": "req-77"})},
    )
    with pytest.raises(tp.BadRequestError) as caught:
        await toggl.get_client_preferences("web")
    assert (caught.value.message, caught.value.request_id) == ("Some brand new message", "req-77")


# -- retries, on scripted answers -----------------------------------------------------------------------


async def test_5xx_and_dropped_connections_are_retried_then_the_real_answer(
    mocked: aioresponses, toggl: tp.AsyncTogglClient
) -> None:
    state = mock_toggl(
        mocked, base_url=BASE, errors={"get_preferences": [503, aiohttp.ServerDisconnectedError(), 502]}
    )
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN),
        base_url=BASE,
        rate_limit=None,
        retry=tp.RetryPolicy(max_retries=3, backoff_base=0.001),
    ) as c:
        assert (await c.get_preferences()).date_format == "MM/DD/YYYY"
    assert [r.status for r in state.requests] == [503, 599, 502, 200]


async def test_retries_stop_after_max_retries(mocked: aioresponses, toggl: tp.AsyncTogglClient) -> None:
    state = mock_toggl(mocked, base_url=BASE, errors={"get_preferences": 500})
    with pytest.raises(tp.ServerError) as caught:
        await toggl.get_preferences()
    assert caught.value.attempts == 3 and len(state.requests) == 3


@pytest.mark.parametrize("error", [tp.QuotaExceededError, tp.ForbiddenError, tp.NotFoundError, 400])
async def test_4xx_are_never_retried(mocked: aioresponses, toggl: tp.AsyncTogglClient, error: Any) -> None:
    state = mock_toggl(mocked, base_url=BASE, errors={"update_workspace_preferences": [error]})
    with pytest.raises(tp.APIError):
        await toggl.update_workspace_preferences(compat.WORKSPACE_ID, hide_start_end_times=True)
    assert len(state.requests) == 1
    # the script is spent: the next call gets the real answer
    assert (await toggl.update_workspace_preferences(compat.WORKSPACE_ID, hide_start_end_times=True)).logo


async def test_a_429_with_retry_after_is_waited_for(mocked: aioresponses, toggl: tp.AsyncTogglClient) -> None:
    state = mock_toggl(
        mocked, base_url=BASE, errors={"get_preferences": [(429, "slow down", {"Retry-After": "0"})]}
    )
    await toggl.get_preferences()
    assert [r.status for r in state.requests] == [429, 200]


async def test_a_timeout_is_a_request_timeout_error(mocked: aioresponses, toggl: tp.AsyncTogglClient) -> None:
    mock_toggl(mocked, base_url=BASE, errors={"get_preferences": asyncio.TimeoutError})
    with pytest.raises(tp.RequestTimeoutError):
        await toggl.get_preferences()


# -- the aiohttp >= 3.14 shim (pnuckowski/aioresponses#289, fix proposed in #288) ----------------------


def test_shim_is_in_place_exactly_when_aioresponses_cannot_build_a_response_alone() -> None:
    if compat.response_class() is not None:
        with pytest.raises(TypeError, match="stream_writer"):
            RequestMatch("http://127.0.0.1/")._build_response("http://127.0.0.1/")
    else:  # aiohttp < 3.14, or an aioresponses with the fix
        RequestMatch("http://127.0.0.1/")._build_response("http://127.0.0.1/").close()


class _UpstreamFixedResponse(aiohttp.ClientResponse):
    """What the upstream fix (#288) amounts to: a stream writer for aiohttp >= 3.14."""

    def __init__(self, method: str, url: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", compat.SentStreamWriter())
        super().__init__(method, url, **kwargs)


async def test_shim_becomes_a_no_op_once_aioresponses_passes_stream_writer(
    monkeypatch: pytest.MonkeyPatch, mocked: aioresponses, toggl: tp.AsyncTogglClient
) -> None:
    original = RequestMatch._build_response

    def fixed(self: RequestMatch, url: Any, **kwargs: Any) -> Any:
        if kwargs.get("response_class") is None and compat.aiohttp_wants_stream_writer():
            kwargs["response_class"] = _UpstreamFixedResponse
        return original(self, url, **kwargs)

    compat.response_class.cache_clear()
    monkeypatch.setattr(RequestMatch, "_build_response", fixed)
    try:
        assert compat.response_class() is None
        mock_toggl(mocked, base_url=BASE)  # and the mock works on the fixed aioresponses alone
        assert (await toggl.get_preferences()).date_format == "MM/DD/YYYY"
    finally:
        monkeypatch.undo()
        compat.response_class.cache_clear()
