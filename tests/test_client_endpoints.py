"""The six endpoints and set_alpha_features against the fake server: what goes on the wire and
what comes back."""

from __future__ import annotations

import gc
from datetime import datetime, timezone
from typing import Any

import aiohttp
import pytest

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer

from .conftest import TOKEN, MakeClient, RawServer, make_client, reply


async def test_get_preferences_decodes_live_casing(
    fake: FakeTogglServer, client: tp.AsyncTogglClient
) -> None:
    fake.accounts["alice"].preferences.update({"BeginningOfWeek": 1, "date_format": "DD.MM.YYYY"})
    prefs = await client.get_preferences()
    assert isinstance(prefs, tp.UserPreferences)
    assert prefs.beginning_of_week == 1
    assert prefs.date_format == "DD.MM.YYYY"
    assert prefs.alpha_features is not None and {f.code for f in prefs.alpha_features} == set(
        fake.alpha_features
    )
    request = fake.requests[-1]
    assert (request.method, request.path, request.json) == ("GET", "/api/v9/me/preferences", None)
    assert request.headers["Authorization"] == "Basic ***"
    assert request.headers["User-Agent"].startswith(f"toggl-prefs/{tp.__version__}")


async def test_update_sends_exactly_the_given_fields(
    fake: FakeTogglServer, client: tp.AsyncTogglClient
) -> None:
    await client.update_preferences(pomodoro_enabled=False, beginning_of_week=0, date_format="YYYY-MM-DD")
    assert fake.requests[-1].json == {
        "pomodoro_enabled": False,
        "beginningOfWeek": 0,
        "date_format": "YYYY-MM-DD",
    }
    assert fake.requests[-1].headers["Content-Type"] == "application/json"
    prefs = await client.get_preferences()
    assert prefs.pomodoro_enabled is False
    assert prefs.date_format == "YYYY-MM-DD"
    assert prefs.beginning_of_week is None  # zero value of an "omitted if empty" field: the server drops it


@pytest.mark.parametrize(
    "changes",
    [
        tp.PreferencesUpdate(theme="dark", default_task_id=None),
        {"theme": "dark", "default_task_id": None},
    ],
)
async def test_update_accepts_an_update_object_or_a_mapping(
    fake: FakeTogglServer, client: tp.AsyncTogglClient, changes: Any
) -> None:
    await client.update_preferences(changes)
    assert fake.requests[-1].json == {"theme": "dark", "default_task_id": None}


async def test_keyword_fields_override_changes(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    await client.update_preferences({"theme": "dark", "show_all_entries": True}, theme="light")
    assert fake.requests[-1].json == {"theme": "light", "show_all_entries": True}


async def test_client_preferences_and_since(fake: FakeTogglServer, make: MakeClient) -> None:
    clock = [1_000.0]
    fake.wall_clock = lambda: clock[0]
    async with make(fake.base_url) as client:
        await client.update_client_preferences("desktop", theme="dark")
        clock[0] = 2_000.0
        await client.update_client_preferences("desktop", tp.PreferencesUpdate(show_dock_icon=True))
        everything = await client.get_client_preferences("desktop")
        assert (everything.theme, everything.show_dock_icon) == ("dark", True)
        recent = await client.get_client_preferences("desktop", since=1_500)
        assert (recent.theme, recent.show_dock_icon) == (None, True)
        assert fake.requests[-1].query == {"since": "1500"}
        aware = datetime.fromtimestamp(1_500, tz=timezone.utc)
        assert (await client.get_client_preferences("desktop", since=aware)).show_dock_icon is True
        assert fake.requests[-1].query == {"since": "1500"}
        assert (await client.get_client_preferences("web")).to_dict() == {}
        assert fake.requests[-1].path == "/api/v9/me/preferences/web"


async def test_workspace_preferences(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    fake.workspaces[42].preferences["hide_start_end_times"] = True
    ws = await client.get_workspace_preferences(42)
    assert ws.hide_start_end_times is True
    assert ws.logo
    answer = await client.update_workspace_preferences(42, disable_expenses=True)
    assert isinstance(answer, tp.WorkspacePreferences)
    assert answer.disable_expenses is True
    assert fake.requests[-1].json == {"disable_expenses": True}
    update = tp.WorkspacePreferencesUpdate(disable_approvals=False)
    await client.update_workspace_preferences(42, update)
    assert fake.requests[-1].json == {"disable_approvals": False}
    assert (await client.get_workspace_preferences(42)).disable_approvals is False


async def test_set_alpha_features(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    await client.set_alpha_features({"goals": True, "focus_mode": False})
    assert fake.requests[-1].json == {
        "alpha_features": [{"code": "goals", "enabled": True}, {"code": "focus_mode", "enabled": False}]
    }
    prefs = await client.get_preferences()
    assert prefs.alpha_features is not None
    assert {f.code: f.enabled for f in prefs.alpha_features}["goals"] is True
    await client.set_alpha_features({"goals": False}, client="web")
    assert fake.requests[-1].path == "/api/v9/me/preferences/web"


async def test_basic_auth_with_email_and_password(fake: FakeTogglServer) -> None:
    fake.add_account(email="Bob@Example.com", password="pw-123", preferences={"theme": "dark"})
    async with tp.AsyncTogglClient(
        tp.BasicAuth("bob@example.com", "pw-123"), base_url=fake.base_url, rate_limit=None
    ) as client:
        assert (await client.get_preferences()).theme == "dark"


async def test_shared_session_is_not_closed(fake: FakeTogglServer) -> None:
    fake.add_account(api_token="second")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        first = tp.AsyncTogglClient(
            tp.ApiToken(TOKEN), base_url=fake.base_url, session=session, rate_limit=None
        )
        second = tp.AsyncTogglClient(
            tp.ApiToken("second"), base_url=fake.base_url, session=session, rate_limit=None
        )
        async with first, second:
            await first.get_preferences()
            await second.get_preferences()
        assert not session.closed
        assert [r.account for r in fake.requests[-2:]] == ["alice", fake.requests[-1].account]
        assert fake.requests[-1].account != "alice"
    assert first.closed


async def test_own_session_is_closed_and_client_refuses_after(fake: FakeTogglServer) -> None:
    client = make_client(fake.base_url)
    await client.get_preferences()  # lazily opened
    states = [client.closed]
    await client.aclose()
    await client.aclose()  # idempotent
    assert [*states, client.closed] == [False, True]
    with pytest.raises(tp.TogglConfigError, match="closed"):
        await client.get_preferences()
    # An unclosed session would be a ResourceWarning (an error in this suite) once collected.
    del client
    gc.collect()


async def test_quota_is_updated_from_every_response(make: MakeClient) -> None:
    async with FakeTogglServer(quota_per_hour=30) as server:
        server.add_account(api_token=TOKEN)
        async with make(server.base_url) as client:
            assert client.quota == tp.Quota()
            await client.get_preferences()
            assert client.quota.remaining == 29
            await client.update_preferences(theme="dark")
            assert client.quota.remaining == 28
            assert client.quota.resets_in is not None and 0 < client.quota.resets_in <= 3600


async def test_throttle_spaces_requests(make: MakeClient) -> None:
    async with FakeTogglServer(rate_limit=20, burst=1) as server:
        server.add_account(api_token=TOKEN)
        async with make(server.base_url, rate_limit=10, retry=tp.RetryPolicy(max_retries=0)) as client:
            import time

            started = time.monotonic()
            for _ in range(4):
                await client.get_preferences()  # the server would answer 429 if they came too fast
            assert time.monotonic() - started >= 0.29
            assert [r.status for r in server.requests] == [200] * 4


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # session auth= is deprecated, still accepted
async def test_a_session_with_credentials_of_its_own_is_a_clear_error(fake: FakeTogglServer) -> None:
    async with aiohttp.ClientSession(
        auth=aiohttp.BasicAuth("someone", "else"), cookie_jar=aiohttp.DummyCookieJar()
    ) as session:
        client = tp.AsyncTogglClient(
            tp.ApiToken(TOKEN), base_url=fake.base_url, session=session, rate_limit=None
        )
        with pytest.raises(tp.TogglConfigError, match="credentials of its own"):
            await client.get_preferences()
    assert fake.requests == []


async def test_a_plain_session_gets_a_cookie_warning(fake: FakeTogglServer) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.warns(UserWarning, match="DummyCookieJar"):
            tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=fake.base_url, session=session)
        client = tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=fake.base_url)
        with pytest.warns(UserWarning, match="DummyCookieJar"):
            client.with_options(session=session)


# -- raw responses --------------------------------------------------------------------------------

RAW_CALLS: list[tuple[str, Any, type]] = [
    ("get_preferences", lambda c: c.get_preferences(), tp.UserPreferences),
    ("update_preferences", lambda c: c.update_preferences(theme="dark"), type(None)),
    ("get_client_preferences", lambda c: c.get_client_preferences("web", since=1), tp.UserPreferences),
    ("update_client_preferences", lambda c: c.update_client_preferences("web", theme="x"), type(None)),
    ("get_workspace_preferences", lambda c: c.get_workspace_preferences(42), tp.WorkspacePreferences),
    (
        "update_workspace_preferences",
        lambda c: c.update_workspace_preferences(42, disable_expenses=True),
        tp.WorkspacePreferences,
    ),
    ("set_alpha_features", lambda c: c.set_alpha_features({"goals": True}), type(None)),
]


@pytest.mark.parametrize(("name", "call", "parsed"), RAW_CALLS, ids=[n for n, _, _ in RAW_CALLS])
async def test_every_endpoint_has_a_raw_response_from_the_same_single_request(
    make: MakeClient, name: str, call: Any, parsed: type
) -> None:
    async with FakeTogglServer(quota_per_hour=30) as server:
        server.add_account(api_token=TOKEN, workspaces={42: "admin"})
        async with make(server.base_url) as client:
            raw = await call(client.with_raw_response)
            assert isinstance(raw, tp.RawResponse)
            assert (raw.status, raw.attempts, raw.request_id) == (200, 1, None)
            assert isinstance(raw.parsed, parsed)
            assert raw.headers["content-type"].startswith("application/json")
            assert raw.quota == tp.Quota(29, raw.quota.resets_in) == client.quota
            assert raw.quota.resets_in is not None
        assert len(server.requests) == 1  # the same request: no second one for the headers
        if parsed is not type(None):
            async with make(server.base_url) as client:
                assert raw.parsed == await call(client)


async def test_a_raw_response_after_retries_is_the_answer_that_succeeded(
    raw_server: RawServer, make: MakeClient
) -> None:
    raw_server.script = [
        reply(503, b"down", {"X-Request-Id": "first"}),
        reply(200, b'{"theme": "dark"}', {"X-Request-Id": "req-42", "Content-Type": "application/json"}),
    ]
    async with make(raw_server.base_url) as client:
        raw = await client.with_raw_response.get_preferences()
    assert (raw.status, raw.attempts, raw.request_id, raw.parsed.theme) == (200, 2, "req-42", "dark")
    assert raw.quota == tp.Quota()
    assert "req-42" in repr(raw) and "theme" not in repr(raw)


async def test_a_failed_raw_call_raises_the_same_typed_error(client: tp.AsyncTogglClient) -> None:
    with pytest.raises(tp.UnknownClientError):
        await client.with_raw_response.get_client_preferences("mobile")
    with pytest.raises(TypeError, match="did you mean"):
        await client.with_raw_response.update_preferences(pomodoro_enable=True)
