"""The fault matrix: each fault, for GET and POST, through the async client and the sync facade.

For every case: the right typed error (or success), the right number of attempts, a bounded time,
no connection, task or thread left behind, and no credential in any log line, error or repr."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web

import toggl_prefs as tp

from ..conftest import RawServer, reply, stall
from .conftest import EMAIL, PASSWORD, TOKEN, assert_no_secret, record
from .test_hostile_wire import BAD_GZIP, bomb

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
POLICY = tp.RetryPolicy(max_retries=2, backoff_base=0.01, backoff_cap=0.05, retry_after_cap=5)
OK_BODY = b'{"theme": "dark"}'


async def abort(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.abort()  # reset before any byte of an answer
    return web.Response()


async def truncated(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 400
    await response.prepare(request)
    await response.write(b'{"theme": "da')
    assert request.transport is not None
    request.transport.abort()  # reset during the body
    return response


async def never(_: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3)  # longer than the client waits (bounded, so the server task ends)
    return web.Response(body=OK_BODY)


async def gigantic(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    chunk = b" " * 65536
    for _ in range(64):  # 4 MiB at most, far over the client's 256 KiB limit here
        try:
            await response.write(chunk)
        except (ConnectionError, RuntimeError):
            break
    return response


QUOTA = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1800"}
FEATURE = b'"Workspace needs to have the Locking time entries feature enabled"'
HTML_429 = b"<html><head><title>429 Too Many Requests</title></head><body><h1>429</h1></body></html>"
PAST = formatdate(time.time() - 60, usegmt=True)


@dataclass
class Case:
    name: str
    script: list[Handler]
    outcome: type[Exception] | None  # None: success
    attempts: int
    seconds: float = 3.0
    methods: tuple[str, ...] = ("GET", "POST")
    options: dict[str, Any] = field(default_factory=dict)
    get_only_outcome: type[Exception] | None = None  # a body only GET decodes
    get_attempts: int | None = None  # where aiohttp itself retries an idempotent GET once, unseen

    def attempts_for(self, method: str) -> int:
        return self.get_attempts if method == "GET" and self.get_attempts is not None else self.attempts

    def expected(self, method: str) -> type[Exception] | None:
        return self.get_only_outcome if method == "GET" and self.get_only_outcome else self.outcome


CASES = [
    Case(
        "5xx burst shorter than the retries",
        [reply(503, b"down"), reply(502, b"bad"), reply(200, OK_BODY)],
        None,
        3,
    ),
    Case("5xx burst longer than the retries (500)", [reply(500, b"boom")], tp.ServerError, 3),
    Case("5xx burst longer than the retries (504)", [reply(504, b"<html>gateway</html>")], tp.ServerError, 3),
    Case(
        "429 without Retry-After, then ok",
        [reply(429, HTML_429, {"Content-Type": "text/html"}), reply(200, OK_BODY)],
        None,
        2,
    ),
    Case(
        "429 Retry-After: 1 (seconds)",
        [reply(429, HTML_429, {"Retry-After": "1"}), reply(200, OK_BODY)],
        None,
        2,
    ),
    Case(
        "429 Retry-After: an HTTP date in the past",
        [reply(429, b"", {"Retry-After": PAST}), reply(200, OK_BODY)],
        None,
        2,
    ),
    Case(
        "429 Retry-After: absurd (one day)",
        [reply(429, HTML_429, {"Retry-After": "86400"})],
        tp.RateLimitError,
        1,
        1.0,
    ),
    Case(
        "429 Retry-After: garbage",
        [reply(429, b"", {"Retry-After": "soon-ish"}), reply(200, OK_BODY)],
        None,
        2,
    ),
    Case(
        "429 HTML page on every attempt",
        [reply(429, HTML_429, {"Content-Type": "text/html"})],
        tp.RateLimitError,
        3,
    ),
    Case("402 quota spent (headers at 0)", [reply(402, b"quota", QUOTA)], tp.QuotaExceededError, 1, 1.0),
    Case("402 plan feature", [reply(402, FEATURE)], tp.FeatureNotEnabledError, 1, 1.0),
    Case("reset before the answer, then ok", [abort, reply(200, OK_BODY)], None, 2, get_attempts=1),
    Case("reset during the body, then ok", [truncated, reply(200, OK_BODY)], None, 2),
    Case("reset on every attempt", [truncated], tp.TransportError, 3),
    Case(
        "accepts and never answers",
        [never],
        tp.RequestTimeoutError,
        2,
        2.5,
        options={"timeout": 0.3, "retry": tp.RetryPolicy(max_retries=1, backoff_base=0.01)},
    ),
    Case(
        "body stalls half-way",
        [stall],
        tp.RequestTimeoutError,
        2,
        2.5,
        options={"timeout": 0.3, "retry": tp.RetryPolicy(max_retries=1, backoff_base=0.01)},
    ),
    Case(
        "non-JSON 200 body",
        [reply(200, b"<html>maintenance</html>")],
        None,
        1,
        get_only_outcome=tp.ResponseDecodeError,
    ),
    Case(
        "JSON 200 body that is not an object",
        [reply(200, b"[1, 2, 3]")],
        None,
        1,
        get_only_outcome=tp.ResponseDecodeError,
    ),
    Case("gigantic body", [gigantic], tp.ResponseDecodeError, 1, options={"max_response_bytes": 256 * 1024}),
    Case(
        "gzip bomb: 65 KB inflating to 64 MiB (200)",
        [bomb(200)],
        tp.ResponseDecodeError,
        1,
        options={"max_response_bytes": 1024 * 1024},
    ),
    Case(
        "gzip bomb: 65 KB inflating to 64 MiB (503, not retried)",
        [bomb(503)],
        tp.ResponseDecodeError,
        1,
        options={"max_response_bytes": 1024 * 1024},
    ),
    Case(
        "gzip body that fails to decode",
        [reply(200, BAD_GZIP, {"Content-Encoding": "gzip", "Content-Type": "application/json"})],
        tp.ResponseDecodeError,
        1,
    ),
    Case(
        "503 Retry-After: absurd (one hour)",
        [reply(503, b"maintenance", {"Retry-After": "3600"})],
        tp.ServerError,
        1,
        1.0,
    ),
]


@pytest.fixture(params=["async", "sync", "async, email+password"])
def flavour(request: pytest.FixtureRequest) -> str:
    """Which client, and (for the secret scan) which kind of credential."""
    return str(request.param)


def credentials(flavour: str) -> tp.ApiToken | tp.BasicAuth:
    return tp.BasicAuth(EMAIL, PASSWORD) if "password" in flavour else tp.ApiToken(TOKEN)


def client_tasks() -> set[asyncio.Task[Any]]:
    """Tasks running client code (toggl_prefs or aiohttp's client), not the test servers'."""
    out = set()
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        filename = getattr(code, "co_filename", "")
        if "toggl_prefs" in filename or "aiohttp/client" in filename or "aiohttp/connector" in filename:
            out.add(task)
    return out


async def call(flavour: str, method: str, base_url: str, options: dict[str, Any]) -> tuple[Any, int, int]:
    """(outcome, attempts, connections still checked out) for one call; closes the client."""
    kwargs = {"base_url": base_url, "rate_limit": None, "retry": POLICY, **options}
    if flavour.startswith("async"):
        client = tp.AsyncTogglClient(credentials(flavour), **kwargs)
        try:
            outcome: Any = await (
                client.get_preferences() if method == "GET" else client.update_preferences(theme="x")
            )
        except tp.TogglError as exc:
            outcome = exc
        finally:
            session = client._transport._session
            held = len(session.connector._acquired) if session and session.connector else 0
            assert_no_secret(repr(client))
            await client.aclose()
        return outcome, client._attempts_made, held

    def blocking() -> tuple[Any, int, int]:
        before = {t.ident for t in threading.enumerate() if t.name.startswith("toggl-prefs")}
        sync = tp.TogglClient(credentials(flavour), **kwargs)
        try:
            if method == "GET":
                result: Any = sync.get_preferences()
            else:
                sync.update_preferences(theme="x")
                result = None
        except tp.TogglError as exc:
            result = exc
        session = sync.async_client._transport._session
        held = len(session.connector._acquired) if session and session.connector else 0
        assert_no_secret(repr(sync))
        sync.close()
        after = {t.ident for t in threading.enumerate() if t.name.startswith("toggl-prefs")}
        assert after <= before, "the facade left a thread"
        return result, sync.async_client._attempts_made, held

    return await asyncio.to_thread(blocking)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_fault(case: Case, method: str, flavour: str, raw_server: RawServer, secret_scan: Any) -> None:
    raw_server.script = list(case.script)
    tasks_before = client_tasks()
    started = time.monotonic()
    outcome, attempts, held = await call(flavour, method, raw_server.base_url, case.options)
    elapsed = time.monotonic() - started
    expected = case.expected(method)
    if expected is None:
        assert not isinstance(outcome, Exception), repr(outcome)
    else:
        assert type(outcome) is expected, repr(outcome)
        assert isinstance(outcome, tp.TogglError) and outcome.attempts == attempts
        assert_no_secret(str(outcome), repr(outcome), getattr(outcome, "body", ""))
    assert attempts == case.attempts_for(method)
    assert raw_server.hits >= attempts
    assert elapsed < case.seconds
    assert held == 0, "a connection was left checked out"
    await asyncio.sleep(0)
    assert client_tasks() <= tasks_before, "a client task was left behind"
    record(
        "faults",
        fault=case.name,
        method=method,
        client=flavour,
        outcome=expected.__name__ if expected else "success",
        attempts=attempts,
        seconds=f"{elapsed:.2f} (bound {case.seconds:g})",
    )


async def test_connection_refused(flavour: str, secret_scan: Any) -> None:
    server = RawServer()
    await server.start()
    base = server.base_url
    await server.stop()  # nothing listens there any more
    for method in ("GET", "POST"):
        started = time.monotonic()
        outcome, attempts, held = await call(flavour, method, base, {})
        assert type(outcome) is tp.TransportError and attempts == 3 and held == 0
        assert time.monotonic() - started < 2
        record(
            "faults",
            fault="connection refused",
            method=method,
            client=flavour,
            outcome="TransportError",
            attempts=attempts,
            seconds=f"{time.monotonic() - started:.2f} (bound 2)",
        )


async def test_redirect_to_another_host_keeps_the_credentials(
    flavour: str, raw_server: RawServer, secret_scan: Any
) -> None:
    elsewhere = RawServer()
    await elsewhere.start()
    try:
        location = f"http://localhost:{elsewhere.port}/steal"
        raw_server.script = [reply(302, b"", {"Location": location}), reply(307, b"", {"Location": location})]
        for method in ("GET", "POST"):
            outcome, attempts, _ = await call(flavour, method, raw_server.base_url, {})
            assert isinstance(outcome, tp.APIError) and outcome.status in (302, 307) and attempts == 1
            record(
                "faults",
                fault="redirect to another host",
                method=method,
                client=flavour,
                outcome=f"APIError {outcome.status}; other host contacted {elsewhere.hits} times",
                attempts=attempts,
                seconds="-",
            )
        assert elsewhere.hits == 0
    finally:
        await elsewhere.stop()
