"""The fake server's own behaviour, spoken to with raw aiohttp (so the SDK's logic is not involved)."""

from __future__ import annotations

import asyncio
import base64
import threading
from typing import Any

import aiohttp
import pytest

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer
from toggl_prefs.testing.pytest_plugin import TOKEN as PLUGIN_TOKEN


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


TOKEN_AUTH = basic("tok", "api_token")


async def call(
    server: FakeTogglServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method,
            server.base_url + path,
            json=body if raw is None else None,
            data=raw,
            headers=TOKEN_AUTH if headers is None else headers,
        ) as resp,
    ):
        text = await resp.read()
        try:
            data: Any = await resp.json(content_type=None)
        except ValueError:
            data = text.decode()
        return resp.status, data, resp.headers


@pytest.fixture
async def server() -> Any:
    async with FakeTogglServer() as fake:
        fake.add_account(
            api_token="tok",
            key="t",
            preferences={"BeginningOfWeek": 3, "theme": "dark"},
            workspaces={5: "admin", 6: "user"},
        )
        yield fake


async def test_auth_is_required_and_403_otherwise(server: FakeTogglServer) -> None:
    for headers in (
        {},
        basic("nope", "api_token"),
        {"Authorization": "Bearer x"},
        {"Authorization": "Basic !!"},
    ):
        status, _, _ = await call(server, "GET", "/me/preferences", headers=headers)
        assert status == 403
    server.add_account(email="Me@X.io", password="pw")
    assert (await call(server, "GET", "/me/preferences", headers=basic("me@x.io", "pw")))[0] == 200
    assert (await call(server, "GET", "/me/preferences", headers=basic("me@x.io", "PW")))[0] == 403


async def test_keys_are_case_insensitive_and_stored_in_documented_spelling(server: FakeTogglServer) -> None:
    status, _, _ = await call(server, "POST", "/me/preferences", {"TIMERVIEW": "calendar", "Theme": "light"})
    assert status == 200
    assert server.accounts["t"].preferences["timerView"] == "calendar"
    _, data, _ = await call(server, "GET", "/me/preferences")
    assert data["beginningOfWeek"] == 3 and data["theme"] == "light" and data["timerView"] == "calendar"


async def test_zero_values_of_omitted_if_empty_fields_are_dropped(server: FakeTogglServer) -> None:
    await call(
        server, "POST", "/me/preferences", {"beginningOfWeek": 0, "pomodoro_enabled": False, "theme": ""}
    )
    _, data, _ = await call(server, "GET", "/me/preferences")
    assert "beginningOfWeek" not in data and "theme" not in data
    assert data["pomodoro_enabled"] is False  # not an "omitted if empty" field


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/me/preferences", {}, 400, "Missing data"),
        ("/me/preferences", [1], 400, "Missing data"),
        ("/me/preferences", {"toSAcceptNeeded": False}, 400, "Cannot set value for ToSAcceptNeeded"),
        ("/me/preferences", {"date_format": "Y"}, 400, "Value in date_format is invalid"),
        ("/me/preferences", {"timeofday_format": "x"}, 400, "Value in timeofday_format is invalid"),
        (
            "/me/preferences",
            {"alpha_features": [{"code": "zzz", "enabled": True}]},
            400,
            "Invalid feature code(s)",
        ),
        ("/me/preferences/phone", {"theme": "x"}, 400, "Unknown client"),
        ("/workspaces/99/preferences", {"disable_expenses": True}, 400, "Workspace not found"),
        ("/workspaces/5/preferences", {"logo": "x"}, 400, "The field is not writable"),
        (
            "/workspaces/5/preferences",
            {"report_locked_at": "2024-01-01"},
            402,
            "Workspace needs to have the Locking time entries feature enabled",
        ),
        (
            "/workspaces/6/preferences",
            {"report_locked_at": "2024-01-01"},
            403,
            "Permission required to update time entries lock setting.",
        ),
    ],
)
async def test_documented_errors(
    server: FakeTogglServer, path: str, body: Any, status: int, message: str
) -> None:
    got, data, _ = await call(server, "POST", path, body)
    assert (got, data) == (status, message)


async def test_get_errors(server: FakeTogglServer) -> None:
    assert (await call(server, "GET", "/me/preferences/phone"))[1:2] == ("Unknown client.",)
    assert (await call(server, "GET", "/workspaces/99/preferences"))[:2] == (400, "Workspace not found")
    server.add_workspace(77)
    assert (await call(server, "GET", "/workspaces/77/preferences"))[:2] == (
        403,
        "User does not have access to this resource.",
    )


async def test_since_filters_by_modification_time(server: FakeTogglServer) -> None:
    now = [100.0]
    server.wall_clock = lambda: now[0]
    await call(server, "POST", "/me/preferences/web", {"theme": "a"})
    now[0] = 200.0
    await call(server, "POST", "/me/preferences/web", {"show_all_entries": True})
    assert (await call(server, "GET", "/me/preferences/web?since=150"))[1] == {"show_all_entries": True}
    assert (await call(server, "GET", "/me/preferences/web?since=50"))[1] == {
        "theme": "a",
        "show_all_entries": True,
    }
    assert (await call(server, "GET", "/me/preferences/web?since=200"))[1] == {}


async def test_rate_limit_answers_nginx_html_429() -> None:
    clock = [0.0]
    async with FakeTogglServer(rate_limit=1, burst=1, retry_after=True, clock=lambda: clock[0]) as server:
        server.add_account(api_token="tok")
        assert (await call(server, "GET", "/me/preferences"))[0] == 200
        status, body, headers = await call(server, "GET", "/me/preferences")
        assert status == 429 and "<h1>429 Too Many Requests</h1>" in body
        assert headers["Retry-After"] == "1" and headers["Content-Type"].startswith("text/html")
        clock[0] = 1.0
        assert (await call(server, "GET", "/me/preferences"))[0] == 200


async def test_quota_headers_and_402() -> None:
    clock = [0.0]
    async with FakeTogglServer(quota_per_hour=2, clock=lambda: clock[0]) as server:
        server.add_account(api_token="tok")
        _, _, h1 = await call(server, "GET", "/me/preferences")
        assert (h1["X-Toggl-Quota-Remaining"], h1["X-Toggl-Quota-Resets-In"]) == ("1", "3600")
        clock[0] = 600.0
        _, _, h2 = await call(server, "GET", "/me/preferences")
        assert (h2["X-Toggl-Quota-Remaining"], h2["X-Toggl-Quota-Resets-In"]) == ("0", "3000")
        status, _, h3 = await call(server, "GET", "/me/preferences")
        assert status == 402 and h3["X-Toggl-Quota-Remaining"] == "0"
        clock[0] = 3601.0  # the first request left the sliding window
        assert (await call(server, "GET", "/me/preferences"))[0] == 200


async def test_faults_match_path_and_method_and_are_consumed(server: FakeTogglServer) -> None:
    server.fail_next(2, status=502, body="<html>bad gateway</html>", path="/workspaces", method="GET")
    assert (await call(server, "GET", "/me/preferences"))[0] == 200
    assert (await call(server, "POST", "/workspaces/5/preferences", {"disable_expenses": True}))[0] == 200
    assert (await call(server, "GET", "/workspaces/5/preferences"))[:2] == (502, "<html>bad gateway</html>")
    assert (await call(server, "GET", "/workspaces/5/preferences"))[0] == 502
    assert (await call(server, "GET", "/workspaces/5/preferences"))[0] == 200
    assert server.faults == []


async def test_drop_truncate_and_delay(server: FakeTogglServer) -> None:
    server.fail_next(1, drop=True)
    with pytest.raises(aiohttp.ClientError):
        await call(server, "POST", "/me/preferences", {"theme": "x"})
    server.fail_next(1, truncate=True)
    with pytest.raises(aiohttp.ClientPayloadError):
        await call(server, "GET", "/me/preferences")
    server.fail_next(1, status=None, delay=0.3)
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await call(server, "GET", "/me/preferences"))[0] == 200
    assert loop.time() - started >= 0.3


async def test_request_log_redacts_credentials(server: FakeTogglServer) -> None:
    await call(server, "POST", "/me/preferences?x=1", {"theme": "y"}, headers={**TOKEN_AUTH, "Cookie": "s=1"})
    record = server.requests[-1]
    assert (record.method, record.path, record.query, record.json, record.account, record.status) == (
        "POST",
        "/api/v9/me/preferences",
        {"x": "1"},
        {"theme": "y"},
        "t",
        200,
    )
    assert record.headers["Authorization"] == "Basic ***" and record.headers["Cookie"] == "***"
    assert TOKEN_AUTH["Authorization"] not in repr(server.requests)


def test_sync_context_manager_runs_in_a_thread_and_stops() -> None:
    before = set(threading.enumerate())
    with FakeTogglServer() as server:
        server.add_account(api_token="tok", preferences={"theme": "dark"})
        with tp.TogglClient(tp.ApiToken("tok"), base_url=server.base_url, rate_limit=None) as client:
            assert client.get_preferences().theme == "dark"
        assert any(t.name == "fake-toggl-server" for t in threading.enumerate())
    assert set(threading.enumerate()) == before
    with pytest.raises(RuntimeError, match="not started"):
        _ = FakeTogglServer().base_url


async def test_plugin_fixtures(toggl_server: FakeTogglServer, toggl_client: tp.AsyncTogglClient) -> None:
    await toggl_client.update_preferences(pomodoro_enabled=False)
    assert toggl_server.requests[-1].json == {"pomodoro_enabled": False}
    assert toggl_server.accounts["default"].api_token == PLUGIN_TOKEN
    assert (await toggl_client.get_preferences()).pomodoro_enabled is False


# -- add_account / add_workspace: keys as the wire spells them (any casing) or attribute names ----------


@pytest.mark.parametrize(
    "key", ["beginning_of_week", "beginningOfWeek", "BeginningOfWeek", "BEGINNINGOFWEEK", "Beginning_Of_Week"]
)
async def test_add_account_takes_wire_names_in_any_casing_and_attribute_names(key: str) -> None:
    async with FakeTogglServer() as server:
        server.add_account(
            api_token="tok",
            preferences={key: 3, "tos_accept_needed": False},
            client_preferences={"desktop": {"show_dock_icon": True, "TimerView": "calendar"}},
        )
        async with tp.AsyncTogglClient(tp.ApiToken("tok"), base_url=server.base_url, rate_limit=None) as c:
            prefs = await c.get_preferences()
            desktop = await c.get_client_preferences("desktop")
    assert (prefs.beginning_of_week, prefs.tos_accept_needed, prefs.extra) == (3, False, {})
    assert (desktop.show_dock_icon, desktop.timer_view, desktop.extra) == (True, "calendar", {})


@pytest.mark.parametrize(
    ("call", "hint"),
    [
        (lambda s: s.add_account(api_token="t", preferences={"pomodoro_enable": True}), "pomodoro_enabled"),
        (lambda s: s.add_account(api_token="t", preferences={"beginingOfWeek": 1}), "beginning_of_week"),
        (
            lambda s: s.add_account(api_token="t", client_preferences={"desktop": {"show_dok_icon": True}}),
            "show_dock_icon",
        ),
        (
            lambda s: s.add_account(api_token="t", workspaces={5: {"preferences": {"hide_start_times": 1}}}),
            "hide_start_end_times",
        ),
        (lambda s: s.add_workspace(5, preferences={"disable_expense": True}), "disable_expenses"),
    ],
    ids=["user", "user-wire-name", "client", "workspace-of-account", "workspace"],
)
def test_unknown_preference_keys_are_refused_with_the_closest_name(call: Any, hint: str) -> None:
    server = FakeTogglServer()
    with pytest.raises(tp.TogglFieldError, match=f"did you mean '{hint}'") as caught:
        call(server)
    assert "extra" in str(caught.value)  # says how to add an unknown key on purpose
    assert server.accounts == {}


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.add_account(api_token="t", preferences={"beginning_of_week": "monday"}),
        lambda s: s.add_account(api_token="t", client_preferences={"phone": {"theme": "dark"}}),
        lambda s: s.add_account(api_token="t", workspaces={5: {"role": "owner"}}),
        lambda s: s.add_account(api_token="t", workspaces={5: {"locking": True}}),
        lambda s: s.add_workspace(5, preferences={"hide_start_end_times": "yes"}),
    ],
    ids=["wrong-type", "unknown-client", "unknown-role", "unknown-workspace-key", "workspace-wrong-type"],
)
def test_values_the_client_would_read_as_none_are_refused(call: Any) -> None:
    with pytest.raises(tp.TogglValidationError):
        call(FakeTogglServer())


async def test_extra_keys_are_served_verbatim() -> None:
    async with FakeTogglServer() as server:
        server.add_account(
            api_token="tok",
            preferences={"theme": "dark", "extra": {"brandNewFlag": True}},
            extra={"anotherNewKey": 7},
            client_preferences={"web": {"extra": {"webOnly": "x"}}},
            workspaces={5: {"preferences": {"hide_start_end_times": True, "extra": {"ws_new": 1}}}},
        )
        _, data, _ = await call(server, "GET", "/me/preferences")
        _, web, _ = await call(server, "GET", "/me/preferences/web")
        _, ws, _ = await call(server, "GET", "/workspaces/5/preferences")
    assert (data["theme"], data["brandNewFlag"], data["anotherNewKey"]) == ("dark", True, 7)
    assert web == {"webOnly": "x"}
    assert (ws["hide_start_end_times"], ws["ws_new"]) == (True, 1)


# -- credentials never show in the server's state ---------------------------------------------------------


async def test_no_repr_of_the_server_state_shows_a_token_or_password() -> None:
    secret_token, password = "tok-SECRET-0123456789", "pw-SECRET-9876"
    async with FakeTogglServer() as server:
        server.add_account(api_token=secret_token, key="a", workspaces={5: "admin"})
        server.add_account(email="me@example.com", password=password, key="b")
        await call(server, "GET", "/me/preferences", headers=basic(secret_token, "api_token"))
        await call(server, "GET", "/me/preferences", headers=basic("me@example.com", password))
        await call(server, "GET", "/me/preferences", headers=basic(secret_token + "x", "api_token"))
        shown = " ".join(
            [repr(server), str(server), repr(server.accounts), str(server.accounts)]
            + [repr(a) for a in server.accounts.values()]
            + [repr(server.requests), repr(server.workspaces), repr(server.faults)]
        )
    assert secret_token not in shown and password not in shown
    assert "api_token='***'" in repr(server.accounts["a"])  # still says that one is set
    assert "api_token=None" in repr(server.accounts["b"]) and "password='***'" in repr(server.accounts["b"])


async def test_a_drifted_field_is_taken_in_each_shape_it_has_been_seen_in() -> None:
    """``decimal_separator`` is documented as an object but live answers carry a string: the fake
    server takes both (from the field's metadata), in seeded accounts and in a POST."""
    async with FakeTogglServer() as fake:
        fake.add_account(api_token="tok", key="t", preferences={"decimal_separator": ","})
        status, _, _ = await call(fake, "POST", "/me/preferences", {"decimal_separator": {"symbol": "."}})
        assert status == 200
        status, _, _ = await call(fake, "POST", "/me/preferences", {"decimal_separator": "."})
        assert status == 200
        _, data, _ = await call(fake, "GET", "/me/preferences")
        assert data["decimal_separator"] == "."
        status, data, _ = await call(fake, "POST", "/me/preferences", {"decimal_separator": 3})
        assert status == 400 and "decimal_separator" in data
