"""Errors end to end: every documented message from the fake server, retries per status against a
raw server, Retry-After, quota, redirects, size and time bounds, cancellation, no leaks."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer, MockTransport

from .conftest import TOKEN, MakeClient, RawServer, answers, make_client, reply, stall

# -- every documented error, produced by the fake server, typed by the client -----------------


async def test_read_only_tos_field(client: tp.AsyncTogglClient) -> None:
    with pytest.raises(tp.ReadOnlyFieldError, match="ToSAcceptNeeded") as info:
        await client.update_preferences(tos_accept_needed=False)
    assert info.value.status == 400 and info.value.attempts == 1


async def test_invalid_date_and_time_formats(client: tp.AsyncTogglClient) -> None:
    with pytest.raises(tp.InvalidDateFormatError):
        await client.update_preferences(date_format="YYYY/DD/MM")
    with pytest.raises(tp.InvalidTimeOfDayFormatError):
        await client.update_client_preferences("desktop", timeofday_format="HH")


async def test_invalid_feature_code(client: tp.AsyncTogglClient) -> None:
    with pytest.raises(tp.InvalidFeatureCodeError):
        await client.set_alpha_features({"no_such_feature": True})


async def test_unknown_client_passes_the_guard_and_is_refused_by_the_server(
    client: tp.AsyncTogglClient,
) -> None:
    with pytest.raises(tp.UnknownClientError):
        await client.get_client_preferences("mobile")
    with pytest.raises(tp.UnknownClientError):
        await client.update_client_preferences("mobile", theme="dark")


class EmptyBodies:
    """A transport that sends ``{}`` in place of every body (what the client itself never sends)."""

    def __init__(self, inner: MockTransport) -> None:
        self.inner = inner

    def with_auth(self, auth: tp.ApiToken | tp.BasicAuth) -> EmptyBodies:
        return EmptyBodies(self.inner.with_auth(auth))

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        return await self.inner.send(method, path, params=params, body=b"{}" if body else body)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_missing_data_via_extra_only_update(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    # An unknown key reaches the server (nothing the user gave is dropped), which ignores it.
    await client.update_preferences(tp.PreferencesUpdate(extra={"brand_new_pref": 1}))
    assert fake.requests[-1].json == {"brand_new_pref": 1}
    # An empty body (the client refuses to send one) is the server's "Missing data", typed.
    transport = EmptyBodies(MockTransport(fake))
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), transport=transport, rate_limit=None) as empty:
        with pytest.raises(tp.MissingDataError):
            await empty.update_preferences(theme="dark")
    assert fake.requests[-1].json == {}


async def test_workspace_errors(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    with pytest.raises(tp.WorkspaceNotFoundError):
        await client.get_workspace_preferences(999)
    with pytest.raises(tp.WorkspaceNotFoundError):
        await client.update_workspace_preferences(999, disable_expenses=True)
    fake.add_workspace(7)
    with pytest.raises(tp.ForbiddenError, match="does not have access"):
        await client.get_workspace_preferences(7)
    with pytest.raises(tp.ReadOnlyFieldError, match="not writable"):
        await client.update_workspace_preferences(42, initial_pricing_plan=3)
    with pytest.raises(tp.FeatureNotEnabledError) as feature:
        await client.update_workspace_preferences(42, report_locked_at="2024-01-01")
    assert not isinstance(feature.value, tp.QuotaExceededError)
    with pytest.raises(tp.ForbiddenError, match="Permission required"):
        await client.update_workspace_preferences(43, report_locked_at="2024-01-01")
    fake.workspaces[42].locking_enabled = True
    answer = await client.update_workspace_preferences(42, report_locked_at="2024-01-01")
    assert answer.report_locked_at == "2024-01-01"


async def test_bad_credentials_are_403(fake: FakeTogglServer) -> None:
    async with tp.AsyncTogglClient(tp.ApiToken("wrong"), base_url=fake.base_url, rate_limit=None) as client:
        with pytest.raises(tp.ForbiddenError) as info:
            await client.get_preferences()
    assert info.value.attempts == 1
    assert [r.status for r in fake.requests] == [403]


async def test_quota_exhaustion_is_final(make: MakeClient) -> None:
    async with FakeTogglServer(quota_per_hour=2) as server:
        server.add_account(api_token=TOKEN)
        async with make(server.base_url) as client:
            await client.get_preferences()
            await client.get_preferences()
            with pytest.raises(tp.QuotaExceededError) as info:
                await client.get_preferences()
            assert info.value.remaining == 0
            assert info.value.resets_in is not None and info.value.resets_in > 3000
            assert info.value.attempts == 1
            assert len(server.requests) == 3
            assert client.quota.exhausted


async def test_rate_limit_html_429_is_retried_then_succeeds(make: MakeClient) -> None:
    async with FakeTogglServer(rate_limit=50, burst=1) as server:
        server.add_account(api_token=TOKEN)
        policy = tp.RetryPolicy(max_retries=5, backoff_base=0.05, backoff_cap=0.1)
        async with make(server.base_url, retry=policy) as client:
            results = await asyncio.gather(*(client.get_preferences() for _ in range(3)))
    assert len(results) == 3
    statuses = [r.status for r in server.requests]
    assert 429 in statuses and statuses.count(200) == 3


# -- retries per status, against a raw server -------------------------------------------------


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_retryable_statuses_are_retried(raw_server: RawServer, status: int, make: MakeClient) -> None:
    raw_server.script = [reply(status, b"oops"), reply(status, b"oops"), reply(200, b'{"theme": "dark"}')]
    async with make(raw_server.base_url) as client:
        prefs = await client.get_preferences()
    assert prefs.theme == "dark"
    assert raw_server.hits == 3


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_retries_stop_at_max_retries(raw_server: RawServer, status: int, make: MakeClient) -> None:
    raw_server.script = [reply(status, b"still broken")]
    async with make(raw_server.base_url) as client:
        with pytest.raises(tp.APIError) as info:
            await client.update_preferences(theme="dark")  # POSTs retry too: an update is idempotent
    assert info.value.status == status
    assert info.value.attempts == 3
    assert raw_server.hits == 3
    assert raw_server.bodies == [b'{"theme":"dark"}'] * 3


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 409, 301, 302])
async def test_other_statuses_are_not_retried(raw_server: RawServer, status: int, make: MakeClient) -> None:
    raw_server.script = [reply(status, b'"nope"', {"Location": "https://elsewhere.example/"})]
    async with make(raw_server.base_url) as client:
        with pytest.raises(tp.APIError) as info:
            await client.get_preferences()
    assert info.value.status == status
    assert raw_server.hits == 1
    assert info.value.attempts == 1


async def test_redirects_are_not_followed(raw_server: RawServer, make: MakeClient) -> None:
    target = RawServer()
    await target.start()
    try:
        raw_server.script = [reply(302, b"", {"Location": target.base_url + "/me/preferences"})]
        async with make(raw_server.base_url) as client:
            with pytest.raises(tp.APIError) as info:
                await client.get_preferences()
        assert info.value.status == 302
        assert target.hits == 0  # the credentials never travelled
    finally:
        await target.stop()


async def test_retry_after_is_honoured(raw_server: RawServer, make: MakeClient) -> None:
    raw_server.script = [reply(429, b"slow down", {"Retry-After": "1"}), reply(200, b"{}")]
    policy = tp.RetryPolicy(backoff_base=0.001)
    async with make(raw_server.base_url, retry=policy) as client:
        started = time.monotonic()
        await client.get_preferences()
        waited = time.monotonic() - started
    assert waited >= 0.95
    assert raw_server.hits == 2


async def test_retry_after_beyond_the_cap_raises_at_once(raw_server: RawServer, make: MakeClient) -> None:
    raw_server.script = [reply(429, b"<html><h1>429 Too Many Requests</h1></html>", {"Retry-After": "3600"})]
    async with make(raw_server.base_url) as client:
        started = time.monotonic()
        with pytest.raises(tp.RateLimitError) as info:
            await client.get_preferences()
    assert time.monotonic() - started < 1
    assert info.value.retry_after == 3600
    assert info.value.message == "429 Too Many Requests"
    assert raw_server.hits == 1


async def test_transport_errors_are_retried_and_typed(make: MakeClient) -> None:
    async with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN)
        port = server.port
        base = server.base_url
    # the server is gone: connection refused on every attempt
    async with make(base) as client:
        with pytest.raises(tp.TransportError) as info:
            await client.get_preferences()
    assert info.value.attempts == 3
    assert str(port) in str(info.value)
    assert not isinstance(info.value, tp.RequestTimeoutError)


async def test_truncated_body_then_success(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    fake.fail_next(1, truncate=True)
    fake.accounts["alice"].preferences["theme"] = "dark"
    assert (await client.get_preferences()).theme == "dark"
    assert len(fake.requests) == 2


async def test_dropped_post_is_retried(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    fake.fail_next(1, drop=True, method="POST")
    await client.update_preferences(theme="dark")
    assert fake.accounts["alice"].preferences["theme"] == "dark"


@pytest.mark.parametrize(
    ("body", "what"), [(b"not json", "not valid JSON"), (b"[1]", "array"), (b'"ok"', "string")]
)
async def test_undecodable_success_body(
    raw_server: RawServer, body: bytes, what: str, make: MakeClient
) -> None:
    raw_server.script = [reply(200, body)]
    async with make(raw_server.base_url) as client:
        with pytest.raises(tp.ResponseDecodeError, match=what) as info:
            await client.get_preferences()
    assert raw_server.hits == 1  # a bad body is not a transient fault
    assert info.value.body == body.decode()


async def test_update_preferences_accepts_a_plain_string_or_empty_answer(
    raw_server: RawServer, make: MakeClient
) -> None:
    raw_server.script = [reply(200, b'"Successful operation."'), reply(200, b"")]
    async with make(raw_server.base_url) as client:
        await client.update_preferences(theme="x")
        await client.update_preferences(theme="y")
        assert raw_server.hits == 2
        raw_server.script = [reply(200, b"")]
        assert (
            await client.update_workspace_preferences(1, disable_expenses=True) == tp.WorkspacePreferences()
        )


async def test_response_size_is_bounded(raw_server: RawServer, make: MakeClient) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(64):
            await response.write(b" " * 1024)
        return response

    raw_server.script = [reply(200, b"{" + b" " * 5000 + b"}"), chunked, reply(200, b"{}")]
    async with make(raw_server.base_url, max_response_bytes=4096) as client:
        with pytest.raises(tp.ResponseDecodeError, match="limit"):
            await client.get_preferences()
        with pytest.raises(tp.ResponseDecodeError, match="limit"):
            await client.get_preferences()
        await answers(client.get_preferences())  # neither left its connection checked out


async def test_a_server_that_never_answers_times_out(raw_server: RawServer, make: MakeClient) -> None:
    async def hang(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(30)
        raise AssertionError("unreachable")  # pragma: no cover

    raw_server.script = [hang]
    async with make(
        raw_server.base_url, timeout=0.2, retry=tp.RetryPolicy(max_retries=1, backoff_base=0.01)
    ) as client:
        started = time.monotonic()
        with pytest.raises(tp.RequestTimeoutError) as info:
            await client.get_preferences()
        assert time.monotonic() - started < 2
        assert info.value.attempts == 2
        raw_server.script = [reply(200, b"{}")]
        await answers(client.get_preferences())  # no connection left checked out


async def test_a_body_that_stalls_half_way_times_out(raw_server: RawServer, make: MakeClient) -> None:
    raw_server.script = [stall, reply(200, b"{}")]
    async with make(raw_server.base_url, timeout=0.2, retry=tp.RetryPolicy(max_retries=0)) as client:
        with pytest.raises(tp.RequestTimeoutError):
            await client.get_preferences()
        await answers(client.get_preferences())  # no connection left checked out


# -- validation happens before anything is sent ----------------------------------------------


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda c: c.update_preferences(pomodoro_enable=True), TypeError, "did you mean 'pomodoro_enabled'"),
        (lambda c: c.update_preferences(beginningOfWeek=1), TypeError, "beginning_of_week"),
        (lambda c: c.update_preferences(beginning_of_week="1"), TypeError, "must be an int"),
        (lambda c: c.update_preferences(pomodoro_enabled=1), TypeError, "must be a bool"),
        (lambda c: c.update_preferences(), ValueError, "nothing to update"),
        (lambda c: c.update_preferences(tp.PreferencesUpdate()), ValueError, "nothing to update"),
        (lambda c: c.update_preferences(["theme"]), TypeError, "changes must be"),
        (lambda c: c.update_client_preferences("../admin", theme="x"), ValueError, "client"),
        (lambda c: c.get_client_preferences("web/../../x"), ValueError, "client"),
        (lambda c: c.get_client_preferences(""), ValueError, "client"),
        (lambda c: c.get_client_preferences("web", since="yesterday"), TypeError, "since"),
        (lambda c: c.get_workspace_preferences(True), TypeError, "workspace_id"),
        (lambda c: c.get_workspace_preferences(0), ValueError, "positive"),
        (lambda c: c.update_workspace_preferences(1, logo="x"), TypeError, "no field 'logo'"),
        (lambda c: c.update_workspace_preferences(1), ValueError, "nothing to update"),
        (lambda c: c.set_alpha_features({}), ValueError, "non-empty"),
        (lambda c: c.set_alpha_features({"x": "yes"}), TypeError, "bool"),
        (lambda c: c.update_preferences(default_project_task={"project": 1}), TypeError, "project_id"),
    ],
)
async def test_bad_input_is_refused_before_sending(
    fake: FakeTogglServer, client: tp.AsyncTogglClient, call: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        await call(client)
    assert fake.requests == []


# -- cancellation and leaks ------------------------------------------------------------------


async def test_cancel_mid_backoff_stops_at_once(
    raw_server: RawServer, one_connection: aiohttp.ClientSession
) -> None:
    raw_server.script = [reply(503, b"down")]
    policy = tp.RetryPolicy(max_retries=5, backoff_base=10, backoff_cap=10)
    async with make_client(raw_server.base_url, retry=policy, session=one_connection) as client:
        task = asyncio.create_task(client.get_preferences())
        while raw_server.hits < 1:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)  # now sleeping in backoff
        started = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert time.monotonic() - started < 0.5
        assert raw_server.hits == 1
        raw_server.script = [reply(200, b'{"theme": "ok"}')]
        raw_server.hits = 0
        assert (await answers(client.get_preferences())).theme == "ok"  # still usable, nothing leaked


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is new in Python 3.11")
async def test_asyncio_timeout_around_a_call(
    raw_server: RawServer, one_connection: aiohttp.ClientSession
) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return web.Response(body=b"{}")  # pragma: no cover

    raw_server.script = [slow, reply(200, b"{}")]
    async with make_client(raw_server.base_url, session=one_connection) as client:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.2):
                await client.get_preferences()
        await answers(client.get_preferences())  # the cancelled call gave its connection back


async def test_cancel_while_waiting_for_the_throttle(fake: FakeTogglServer) -> None:
    async with make_client(fake.base_url, rate_limit=0.5) as client:
        await client.get_preferences()
        task = asyncio.create_task(client.get_preferences())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(fake.requests) == 1


async def test_no_connection_leaks_after_errors(fake: FakeTogglServer, client: tp.AsyncTogglClient) -> None:
    fake.fail_next(2, status=500)
    fake.fail_next(1, drop=True)
    for call in (
        client.get_preferences(),
        client.get_workspace_preferences(999),
        client.update_preferences(date_format="bad"),
    ):
        try:
            await call
        except tp.TogglError:
            pass
    await answers(client.get_preferences())  # no connection left checked out


async def test_client_used_on_another_loop_is_a_clear_error(fake: FakeTogglServer) -> None:
    import threading

    client = make_client(fake.base_url)
    await client.get_preferences()
    errors: list[BaseException] = []

    def other_loop() -> None:
        try:
            asyncio.run(client.get_preferences())
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=other_loop)
    thread.start()
    thread.join()
    await client.aclose()
    assert errors and isinstance(errors[0], tp.TogglConfigError)
    assert "another event loop" in str(errors[0])
