"""The transport seam: a custom ``transport=`` gets the client's retries, throttle, quota, error
mapping, timeout and body limit; credentials reach it through ``with_auth``; ``MockTransport``
serves a fake server's state without a socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs.bulk import Account
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.testing import FakeTogglServer, MockTransport

from .conftest import TOKEN

Answer = tuple[int, Mapping[str, str], bytes]


class Scripted:
    """A transport that answers from a script (the last answer repeats) and notes what it got."""

    def __init__(self, *answers: Answer | BaseException) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, str, Mapping[str, str] | None, bytes | None]] = []
        self.closed = 0

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> Answer:
        self.sent.append((method, path, params, body))
        answer = self.answers[min(len(self.sent), len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def aclose(self) -> None:
        self.closed += 1


class Signing(Scripted):
    """A scripted transport that takes the client's credentials."""

    def __init__(self, *answers: Answer | BaseException) -> None:
        super().__init__(*answers)
        self.signed_in: list[tp.ApiToken | tp.BasicAuth] = []

    def with_auth(self, auth: tp.ApiToken | tp.BasicAuth) -> Signing:
        self.signed_in.append(auth)
        return self


OK: Answer = (200, {"content-type": "application/json"}, b'{"theme": "dark"}')


def client(transport: Any, **options: Any) -> tp.AsyncTogglClient:
    return tp.AsyncTogglClient(transport=transport, **{"rate_limit": None, **options})


def test_the_protocol_is_public_and_structural() -> None:
    assert isinstance(Scripted(), tp.Transport)
    assert isinstance(MockTransport(), tp.Transport)
    assert not isinstance(object(), tp.Transport)


async def test_a_custom_transport_gets_the_retries() -> None:
    transport = Scripted((503, {}, b"down"), tp.TransportError("reset"), OK)
    policy = tp.RetryPolicy(max_retries=2, backoff_base=0.001)
    async with client(transport, retry=policy) as toggl:
        raw = await toggl.with_raw_response.get_preferences()
    assert raw.parsed.theme == "dark" and raw.attempts == 3
    assert [s[:2] for s in transport.sent] == [("GET", "/me/preferences")] * 3


async def test_a_custom_transport_gets_the_error_mapping_quota_and_headers_any_case() -> None:
    quota = {"x-toggl-quota-remaining": "0", "x-toggl-quota-resets-in": "60"}
    transport = Scripted(
        (400, {}, b'"Unknown client."'),
        (402, quota, b"You have hit your hourly limit"),
        (429, {"retry-after": "3600"}, b"<html>429</html>"),
    )
    async with client(transport) as toggl:
        with pytest.raises(tp.UnknownClientError):
            await toggl.get_client_preferences("mobile")
        with pytest.raises(tp.QuotaExceededError) as spent:
            await toggl.get_preferences()
        assert (spent.value.remaining, spent.value.resets_in) == (0, 60)
        assert toggl.quota == tp.Quota(0, 60)
        with pytest.raises(tp.RateLimitError) as limited:
            await toggl.get_preferences()
        assert limited.value.retry_after == 3600
    assert len(transport.sent) == 3  # 400, 402 and a too-long Retry-After are final


async def test_a_custom_transport_gets_the_throttle() -> None:
    transport = Scripted(OK)
    async with client(transport, rate_limit=20) as toggl:
        started = time.monotonic()
        for _ in range(4):
            await toggl.get_preferences()
        assert time.monotonic() - started >= 0.14  # 3 intervals of 50 ms at least


async def test_a_custom_transport_gets_the_timeout_and_the_body_limit() -> None:
    class Slow(Scripted):
        async def send(self, *args: Any, **kwargs: Any) -> Answer:
            await super().send(*args, **kwargs)
            await asyncio.sleep(10)
            raise AssertionError("unreachable")  # pragma: no cover

    slow = Slow(OK)
    async with client(slow, timeout=30, max_retries=1, retry=None) as toggl:
        started = time.monotonic()
        with pytest.raises(tp.RequestTimeoutError) as info:
            await toggl.get_preferences(timeout=0.1)
        assert time.monotonic() - started < 5
    assert info.value.attempts == 2 and len(slow.sent) == 2
    big = Scripted((200, {}, b"{" + b" " * 5000 + b"}"))
    async with client(big, max_response_bytes=4096) as toggl:
        with pytest.raises(tp.ResponseDecodeError, match="limit"):
            await toggl.get_preferences()
    assert len(big.sent) == 1


async def test_the_client_encodes_and_the_transport_sends() -> None:
    transport = Scripted((200, {}, b""))
    async with client(transport) as toggl:
        await toggl.update_client_preferences("desktop", theme="dark", pomodoro_enabled=False)
        transport.answers = [OK]
        await toggl.get_client_preferences("web", since=1_500)
    assert transport.sent == [
        ("POST", "/me/preferences/desktop", None, b'{"theme":"dark","pomodoro_enabled":false}'),
        ("GET", "/me/preferences/web", {"since": "1500"}, None),
    ]


@pytest.mark.parametrize("answer", [(200, {}, "text"), (200, b"body"), ("200", {}, b""), None])
async def test_a_transport_that_returns_something_else_is_a_clear_error(answer: Any) -> None:
    async with client(Scripted(answer)) as toggl:
        with pytest.raises(tp.TogglConfigError, match=r"Scripted.send\(\) must return"):
            await toggl.get_preferences()


# -- credentials -----------------------------------------------------------------------------------


async def test_with_auth_hands_the_client_credentials_to_the_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    transport = Signing(OK)
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), transport=transport) as toggl:
        await toggl.get_preferences()
    assert transport.signed_in == [tp.ApiToken(TOKEN)]
    monkeypatch.setenv("TOGGL_API_TOKEN", "from-env")
    tp.AsyncTogglClient(transport=transport)
    assert transport.signed_in[-1] == tp.ApiToken("from-env")  # the same rule as without a transport


def test_a_transport_without_with_auth_carries_its_own_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOGGL_API_TOKEN", "TOGGL_EMAIL", "TOGGL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    tp.AsyncTogglClient(transport=Scripted(OK))  # no credentials needed, none read
    with pytest.raises(tp.TogglConfigError, match="no with_auth"):
        tp.AsyncTogglClient(tp.ApiToken(TOKEN), transport=Scripted(OK))  # they would not be sent


@pytest.mark.parametrize(
    ("options", "match"),
    [({"user_agent": "me/1"}, "user_agent"), ({"transport": "aiohttp"}, "send")],
)
def test_transport_options_that_would_be_lost_are_refused(options: dict[str, Any], match: str) -> None:
    with pytest.raises(tp.TogglError, match=match):
        tp.AsyncTogglClient(**{"transport": Scripted(OK), **options})


async def test_a_session_and_a_transport_together_are_refused() -> None:
    import aiohttp

    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        with pytest.raises(tp.TogglConfigError, match="not both"):
            tp.AsyncTogglClient(transport=Scripted(OK), session=session)


# -- closing ----------------------------------------------------------------------------------------


async def test_the_transport_closes_with_the_client_that_owns_it_once() -> None:
    transport = Scripted(OK)
    toggl = client(transport)
    copy = toggl.with_options(timeout=5)
    await copy.get_preferences()
    await copy.aclose()
    assert transport.closed == 0 and not toggl.closed  # a copy closes only itself
    other = toggl.with_options(timeout=6)
    await toggl.aclose()
    await toggl.aclose()
    await other.aclose()
    assert transport.closed == 1 and other.closed


# -- MockTransport -----------------------------------------------------------------------------------


@pytest.fixture
def server() -> FakeTogglServer:
    server = FakeTogglServer(quota_per_hour=30)  # never started: no socket
    server.add_account(api_token=TOKEN, key="alice", preferences={"theme": "dark"}, workspaces={42: "admin"})
    return server


async def test_mock_transport_serves_the_fake_server_without_a_socket(server: FakeTogglServer) -> None:
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN), transport=MockTransport(server), rate_limit=None
    ) as toggl:
        assert (await toggl.get_preferences()).theme == "dark"
        await toggl.update_preferences(theme="light", beginning_of_week=1)
        raw = await toggl.with_raw_response.get_preferences()
        assert raw.parsed.theme == "light" and raw.parsed.beginning_of_week == 1
        assert raw.quota.remaining == 27 and toggl.quota.remaining == 27
        assert raw.headers["content-type"].startswith("application/json")
        assert (await toggl.update_workspace_preferences(42, disable_expenses=True)).disable_expenses is True
        with pytest.raises(tp.InvalidDateFormatError):
            await toggl.update_preferences(date_format="YYYY/DD/MM")
        with pytest.raises(tp.WorkspaceNotFoundError):
            await toggl.get_workspace_preferences(7)
        server.add_workspace(7)
        with pytest.raises(tp.ForbiddenError):
            await toggl.get_workspace_preferences(7)
    assert [(r.method, r.path, r.account, r.status) for r in server.requests[:2]] == [
        ("GET", "/api/v9/me/preferences", "alice", 200),
        ("POST", "/api/v9/me/preferences", "alice", 200),
    ]
    assert server.requests[0].headers["Authorization"] == "Basic ***"
    assert server.port == 0  # never listened


async def test_mock_transport_signs_in_with_the_client_credentials(server: FakeTogglServer) -> None:
    server.add_account(email="bob@example.com", password="pw", key="bob", preferences={"theme": "light"})
    transport = MockTransport(server)
    async with tp.AsyncTogglClient(tp.BasicAuth("Bob@Example.com", "pw"), transport=transport) as bob:
        assert (await bob.get_preferences()).theme == "light"
    async with tp.AsyncTogglClient(tp.ApiToken("wrong"), transport=transport) as stranger:
        with pytest.raises(tp.ForbiddenError):
            await stranger.get_preferences()
    assert [r.account for r in server.requests] == ["bob", None]


async def test_mock_transport_plays_the_server_faults(server: FakeTogglServer) -> None:
    policy = tp.RetryPolicy(max_retries=3, backoff_base=0.001)
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN), transport=MockTransport(server), rate_limit=None, retry=policy
    ) as toggl:
        server.fail_next(1, drop=True)
        server.fail_next(1, truncate=True)
        server.fail_next(1, status=503)
        raw = await toggl.with_raw_response.get_preferences()
        assert raw.parsed.theme == "dark" and raw.attempts == 4
        server.fail_next(5, status=None, delay=5)
        with pytest.raises(tp.RequestTimeoutError):
            await toggl.get_preferences(timeout=0.05)


def test_mock_transport_serves_the_blocking_client_and_bulk_runs(server: FakeTogglServer) -> None:
    transport = MockTransport(server)
    with tp.TogglClient(tp.ApiToken(TOKEN), transport=transport, rate_limit=None) as toggl:
        assert toggl.get_preferences().theme == "dark"
        assert toggl.with_raw_response.update_preferences(theme="light").status == 200
    server.add_account(api_token="t2", key="carol")
    accounts = [Account("alice", tp.ApiToken(TOKEN)), Account("carol", tp.ApiToken("t2"))]
    update = tp.PreferencesUpdate(theme="dark")
    results = list(bulk_sync.apply_all(accounts, update, transport=transport, rate_limit=None))
    assert sorted((r.key, r.ok, r.changed) for r in results) == [("alice", True, True), ("carol", True, True)]
    assert {a.preferences.get("theme") for a in server.accounts.values()} == {"dark"}


def test_a_bulk_run_needs_a_transport_that_signs_in_each_account() -> None:
    with pytest.raises(tp.TogglConfigError, match="with_auth"):
        list(bulk_sync.fetch_all([Account("a", tp.ApiToken(TOKEN))], transport=Scripted(OK)))


def test_mock_transport_refuses_what_is_not_a_fake_server() -> None:
    with pytest.raises(tp.TogglConfigError, match="FakeTogglServer"):
        MockTransport("http://127.0.0.1:8080")  # type: ignore[arg-type]
    assert "token" not in repr(MockTransport().with_auth(tp.ApiToken("token")))
