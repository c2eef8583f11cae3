"""What differs on the oldest supported Python (3.10) and on other asyncio Task implementations.

The pure-Python ``asyncio.Task`` (``asyncio.tasks._PyTask``: what pytest-asyncio's runner uses on
3.10, PyPy's only Task, any loop without the C accelerator) resumes a coroutine *inside* an
``except`` block when the future it awaited failed. For the rest of that task step the failure
(aiohttp's exception, whose request and frames hold the Authorization header) is the exception
"being handled", and Python makes it the implicit ``__context__`` of anything raised in that step:
the client's typed error, and the caller's own exceptions. These cases run every call in such a
Task, on every Python version, so that they fail wherever the hole is open."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs import bulk

from .conftest import RawServer, make_client, open_connections, reply, settle, stall

T = TypeVar("T")
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
TOKEN = "py310-SECRET-token-9b1e"
PASSWORD = "py310-SECRET-pass-77c4"
SECRETS = (TOKEN, PASSWORD, "cHkzMTAtU0VDUkVU")  # base64 of "py310-SECRET", the header's start
FAST = tp.RetryPolicy(max_retries=1, backoff_base=0.001, backoff_cap=0.002)


async def in_py_task(coro: Coroutine[Any, Any, T]) -> T:
    """Runs ``coro`` in a pure-Python Task (the one pytest-asyncio uses on 3.10, and PyPy's), and
    the tasks it starts too (a bulk run's workers)."""
    py_task: Any = asyncio.tasks._PyTask  # type: ignore[attr-defined]
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    loop.set_task_factory(lambda loop, inner, **kwargs: py_task(inner, loop=loop, **kwargs))
    try:
        result: T = await py_task(coro, loop=loop)
        return result
    finally:
        loop.set_task_factory(previous)


class Caught(Exception):
    """The caller's own exception, raised after handling the client's (in the same task step)."""


def chain(exc: BaseException | None) -> list[BaseException]:
    """``exc`` and every exception reachable through ``__cause__``/``__context__``."""
    out: list[BaseException] = []
    todo = [exc]
    while todo:
        err = todo.pop()
        if err is None or any(err is seen for seen in out):
            continue
        out.append(err)
        todo += [err.__cause__, err.__context__]
    return out


def no_secret_in_frames(exc: BaseException) -> None:
    """No credential in the repr of any local of any frame of any traceback in the chain."""
    for err in chain(exc):
        tb = err.__traceback__
        while tb is not None:
            for name, value in list(tb.tb_frame.f_locals.items()):
                shown = repr(value) + repr(getattr(value, "__dict__", ""))
                for secret in SECRETS:
                    assert secret not in shown, f"{tb.tb_frame.f_code.co_name}: {name}"
            tb = tb.tb_next


@contextlib.asynccontextmanager
async def socket_server(handler: RawHandler) -> AsyncIterator[str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v9"
    finally:
        server.close()
        await server.wait_closed()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.transport.abort()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 ABC nope\r\n\r\n")
    await writer.drain()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/api/v9"


@contextlib.asynccontextmanager
async def fault(name: str, raw_server: RawServer) -> AsyncIterator[str]:
    if name == "connection refused":
        yield closed_port()
    elif name == "timeout":
        raw_server.script = [stall]
        yield raw_server.base_url
    else:
        async with socket_server(reset if name == "reset" else garbage) as base_url:
            yield base_url


FAULTS = ["connection refused", "reset", "bad status line", "timeout"]


@pytest.mark.parametrize("retries", [0, 1])
@pytest.mark.parametrize("auth", ["token", "password"])
@pytest.mark.parametrize("name", FAULTS)
async def test_a_wire_failure_is_not_the_context_of_what_is_raised_next(
    raw_server: RawServer, name: str, auth: str, retries: int
) -> None:
    credentials = tp.ApiToken(TOKEN) if auth == "token" else tp.BasicAuth("me@example.com", PASSWORD)
    retry = tp.RetryPolicy(max_retries=retries, backoff_base=0.001, backoff_cap=0.002)

    async def calls(base_url: str) -> list[BaseException]:
        caught: list[BaseException] = []
        async with tp.AsyncTogglClient(
            credentials, base_url=base_url, rate_limit=None, retry=retry, timeout=0.3
        ) as client:
            for call in (client.get_preferences, lambda: client.update_preferences(theme="x")):
                try:
                    await call()
                except tp.TogglError as exc:
                    caught.append(exc)
                # The caller's own error, raised outside its except block: in this same task step
                # Python gives it the exception being handled as its context.
                try:
                    raise Caught
                except Caught as own:
                    caught.append(own)
        return caught

    async with fault(name, raw_server) as base_url:
        caught = await in_py_task(calls(base_url))
    expected = tp.RequestTimeoutError if name == "timeout" else tp.TransportError
    assert [type(e) for e in caught] == [expected, Caught, expected, Caught]
    for error in caught:
        assert error.__cause__ is None and error.__context__ is None, (
            f"{type(error).__name__} has {type(error.__context__).__name__} as its context"
        )
        no_secret_in_frames(error)


async def test_a_bulk_run_reports_wire_failures_without_their_context() -> None:
    """Bulk runs call the client the same way: the errors in their results carry no chain either."""
    accounts = [
        bulk.Account("a", tp.ApiToken(TOKEN)),
        bulk.Account("b", tp.BasicAuth("me@example.com", PASSWORD)),
    ]

    async def run() -> list[bulk.BulkResult]:
        return [
            r
            async for r in bulk.fetch_all(
                accounts, base_url=closed_port(), rate_limit=None, retry=FAST, timeout=0.3
            )
        ]

    results = await in_py_task(run())
    assert sorted(r.key for r in results) == ["a", "b"]
    for result in results:
        assert isinstance(result.error, tp.TransportError)
        assert chain(result.error) == [result.error]
        no_secret_in_frames(result.error)


# -- a caller's deadline on 3.10 ------------------------------------------------------------------


@pytest.mark.parametrize("server", ["slow answer", "503 with retries"])
@pytest.mark.parametrize("task", ["C Task", "pure-Python Task"])
async def test_asyncio_wait_for_bounds_a_whole_call(raw_server: RawServer, server: str, task: str) -> None:
    """3.10 has no ``asyncio.timeout()`` (its cases are skipped there): ``asyncio.wait_for``, what
    the README gives for 3.10, stops a call mid-request or mid-retry, leaks nothing, and leaves the
    client usable."""

    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(3)
        return web.Response(body=b"{}")  # pragma: no cover

    raw_server.script = [slow] if server == "slow answer" else [reply(503, b"down")]
    policy = tp.RetryPolicy(max_retries=5, backoff_base=1, backoff_cap=1)
    async with make_client(raw_server.base_url, retry=policy) as client:

        async def bounded() -> float:
            started = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(client.get_preferences(), 0.3)
            return time.monotonic() - started

        took = await (in_py_task(bounded()) if task == "pure-Python Task" else bounded())
        assert took < 2.5  # the server would take 3 s, the retries 5 s
        await settle()
        assert open_connections(client) == 0
        raw_server.script = [reply(200, b'{"theme": "ok"}')]
        raw_server.hits = 0
        assert (await client.get_preferences()).theme == "ok"
