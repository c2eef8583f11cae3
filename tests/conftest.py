"""Shared fixtures: a programmable raw aiohttp server (for faults the fake server does not model)
and a fast retry policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAST_RETRY = tp.RetryPolicy(backoff_base=0.001, backoff_cap=0.005)
TOKEN = "secret-token-1234567890"
T = TypeVar("T")


class RawServer:
    """A loopback aiohttp server that answers each request with the next handler in ``script``
    (the last one repeats), counting hits."""

    def __init__(self) -> None:
        self.script: list[Handler] = []
        self.keep = True  # keep each request and body for inspection (off for soaks)
        self.hits = 0
        self.seen: list[web.Request] = []
        self.bodies: list[bytes] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v9"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.hits += 1
        if self.keep:
            self.seen.append(request)
            self.bodies.append(await request.read())
        handler = self.script[min(self.hits, len(self.script)) - 1]
        return await handler(request)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def reply(status: int = 200, body: bytes | str = b"{}", headers: dict[str, str] | None = None) -> Handler:
    async def handler(_: web.Request) -> web.StreamResponse:
        data = body.encode() if isinstance(body, str) else body
        return web.Response(status=status, body=data, headers=headers or {"Content-Type": "application/json"})

    return handler


async def stall(request: web.Request) -> web.StreamResponse:
    """Sends the headers and half a body, then goes quiet (bounded, so the server task ends)."""
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.content_length = 400
    await response.prepare(request)
    await response.write(b'{"theme": ')
    await asyncio.sleep(3)
    return response


@pytest.fixture
async def raw_server() -> AsyncIterator[RawServer]:
    server = RawServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def fake() -> AsyncIterator[FakeTogglServer]:
    async with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="alice", workspaces={42: "admin", 43: "user"})
        yield server


def _options(base_url: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {"base_url": base_url, "rate_limit": None, "retry": FAST_RETRY, **kwargs}


def make_client(base_url: str, **kwargs: Any) -> tp.AsyncTogglClient:
    return tp.AsyncTogglClient(tp.ApiToken(TOKEN), **_options(base_url, kwargs))


class SyncAsAsync:
    """Drives a :class:`TogglClient` (the blocking facade) with the async client's interface, each
    call in a worker thread so that the test's loop (serving the fake server) keeps running. This is
    how the endpoint and error suites run, unchanged, through the facade."""

    def __init__(self, sync: Any) -> None:
        self.sync = sync

    async def __aenter__(self) -> SyncAsAsync:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.sync.close)

    @property
    def with_raw_response(self) -> SyncAsAsync:
        return SyncAsAsync(self.sync.with_raw_response)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.sync, name)
        if not callable(attr):
            return attr

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(attr, *args, **kwargs)

        return call


MakeClient = Callable[..., tp.AsyncTogglClient]


@pytest.fixture
async def one_connection() -> AsyncIterator[aiohttp.ClientSession]:
    """A session whose pool holds a single connection: a call that leaked its connection makes the
    next call wait for ever (see :func:`answers`), so a leak fails a test through public behaviour."""
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        yield session


async def answers(call: Awaitable[T]) -> T:
    """``call``'s result, failing the test if it cannot get a connection (one was leaked) soon."""
    return await asyncio.wait_for(call, 5)


@pytest.fixture(params=["async", "sync"])
def make(request: pytest.FixtureRequest) -> MakeClient:
    """A client factory: the async client on a one-connection pool (:func:`one_connection`, so that
    a leaked connection shows), or the sync facade behind the async interface."""
    if request.param == "async":
        session = request.getfixturevalue("one_connection")
        return lambda base_url, **kwargs: make_client(base_url, **{"session": session, **kwargs})

    def make_sync(base_url: str, **kwargs: Any) -> tp.AsyncTogglClient:
        sync = tp.TogglClient(tp.ApiToken(TOKEN), **_options(base_url, kwargs))
        return cast(tp.AsyncTogglClient, SyncAsAsync(sync))

    return make_sync


@pytest.fixture
async def client(fake: FakeTogglServer, make: MakeClient) -> AsyncIterator[tp.AsyncTogglClient]:
    async with make(fake.base_url) as c:
        yield c


def open_connections(c: tp.AsyncTogglClient) -> int:
    """Connections the client's connector holds checked out (0 when nothing leaked).

    Reads private state (the client's and aiohttp's): prefer :func:`one_connection` and
    :func:`answers`, which find a leak through public behaviour."""
    session: aiohttp.ClientSession | None = c._transport._session
    if session is None:
        return 0
    connector = session.connector
    assert connector is not None
    return len(connector._acquired)


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)
