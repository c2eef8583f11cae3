"""Shared fixtures: a programmable raw aiohttp server (for faults the fake server does not model)
and a fast retry policy."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAST_RETRY = tp.RetryPolicy(backoff_base=0.001, backoff_cap=0.005)
TOKEN = "secret-token-1234567890"


class RawServer:
    """A loopback aiohttp server that answers each request with the next handler in ``script``
    (the last one repeats), counting hits."""

    def __init__(self) -> None:
        self.script: list[Handler] = []
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


def make_client(base_url: str, **kwargs: object) -> tp.AsyncTogglClient:
    options: dict[str, object] = {"base_url": base_url, "rate_limit": None, "retry": FAST_RETRY}
    options.update(kwargs)
    return tp.AsyncTogglClient(tp.ApiToken(TOKEN), **options)  # type: ignore[arg-type]


@pytest.fixture
async def client(fake: FakeTogglServer) -> AsyncIterator[tp.AsyncTogglClient]:
    async with make_client(fake.base_url) as c:
        yield c


def open_connections(c: tp.AsyncTogglClient) -> int:
    """Connections the client's connector holds (acquired or pooled)."""
    session: aiohttp.ClientSession = c._transport.session()
    connector = session.connector
    assert connector is not None
    return len(connector._acquired)


async def settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)
