"""Cancellation at every stage of a call, ``asyncio.timeout()``, and an interrupted sync call: each
stops at once, leaks nothing, and leaves the client usable."""

from __future__ import annotations

import asyncio
import signal
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp

from ..conftest import RawServer, answers, reply, stall
from .conftest import TOKEN, record
from .test_fault_matrix import client_tasks

OK = reply(200, b'{"theme": "ok"}')
Make = Callable[..., tp.AsyncTogglClient]


async def hang(_: web.Request) -> web.StreamResponse:
    await asyncio.sleep(3)
    return web.Response(body=b"{}")


async def cancel_at(
    stage: str,
    client: tp.AsyncTogglClient,
    reached: Callable[[], bool],
    good: RawServer,
    run: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    before = client_tasks()

    async def go() -> Any:
        return await (run() if run else client.get_preferences())

    task = asyncio.create_task(go())
    deadline = time.monotonic() + 3
    while not reached():
        assert time.monotonic() < deadline, f"never reached {stage}"
        await asyncio.sleep(0.005)
    await asyncio.sleep(0.05)
    assert not task.done(), f"the call finished before it could be cancelled at {stage}"
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    took = time.monotonic() - started
    assert took < 0.5
    await asyncio.sleep(0.01)
    assert client_tasks() <= before
    # Still usable, and nothing leaked: the same pool (of one connection: a connection the cancelled
    # call kept would block this call), pointed at a good server.
    assert (await answers(client.with_options(base_url=good.base_url).get_preferences())).theme == "ok"
    record(
        "cancellation", stage=stage, stopped_within=f"{took * 1000:.0f} ms", leaks="none", usable_after="yes"
    )


@pytest.fixture
async def good() -> Any:
    server = RawServer()
    server.script = [OK]
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def make(one_connection: aiohttp.ClientSession) -> Callable[..., tp.AsyncTogglClient]:
    """Clients on a pool of one connection (see ``answers``)."""

    def make(base_url: str, **options: Any) -> tp.AsyncTogglClient:
        options = {"rate_limit": None, "session": one_connection, **options}
        return tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=base_url, **options)

    return make


async def test_cancel_while_waiting_for_the_throttle(
    raw_server: RawServer, good: RawServer, make: Make
) -> None:
    raw_server.script = [OK]
    async with make(raw_server.base_url, rate_limit=2) as client:
        await client.get_preferences()
        hits = raw_server.hits
        await cancel_at("waiting for the throttle", client, lambda: True, good)
        assert raw_server.hits == hits  # the cancelled call never went out


async def test_cancel_while_connecting(good: RawServer, make: Make) -> None:
    # A listener whose accept queue is full: the kernel drops further SYNs, so connect() hangs.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    try:
        async with make(f"http://127.0.0.1:{port}/api/v9", timeout=10) as client:
            await cancel_at("connecting", client, lambda: True, good)
    finally:
        for s in [*fillers, listener]:
            s.close()


async def test_cancel_while_waiting_for_the_answer(
    raw_server: RawServer, good: RawServer, make: Make
) -> None:
    raw_server.script = [hang]
    async with make(raw_server.base_url) as client:
        await cancel_at("waiting for the answer", client, lambda: raw_server.hits >= 1, good)


async def test_cancel_while_reading_the_body(raw_server: RawServer, good: RawServer, make: Make) -> None:
    raw_server.script = [stall]
    async with make(raw_server.base_url) as client:
        await cancel_at("reading the body", client, lambda: raw_server.hits >= 1, good)


async def test_cancel_while_backing_off(raw_server: RawServer, good: RawServer, make: Make) -> None:
    raw_server.script = [reply(503, b"down")]
    policy = tp.RetryPolicy(max_retries=3, backoff_base=20, backoff_cap=20)
    async with make(raw_server.base_url, retry=policy) as client:
        await cancel_at("backing off between retries", client, lambda: raw_server.hits >= 1, good)
        assert raw_server.hits == 1


async def test_cancel_while_sending_an_update(raw_server: RawServer, good: RawServer, make: Make) -> None:
    raw_server.script = [hang]
    async with make(raw_server.base_url) as client:
        await cancel_at(
            "waiting for an update's answer",
            client,
            lambda: raw_server.hits >= 1,
            good,
            run=lambda: client.update_preferences(theme="x"),
        )


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.timeout() is new in Python 3.11")
async def test_asyncio_timeout_bounds_a_whole_call(
    raw_server: RawServer, good: RawServer, make: Make
) -> None:
    raw_server.script = [reply(503, b"down")]
    policy = tp.RetryPolicy(max_retries=5, backoff_base=1, backoff_cap=1)
    async with make(raw_server.base_url, retry=policy) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.3):
                await client.get_preferences()
        took = time.monotonic() - started
        assert took < 0.6
        assert (await answers(client.with_options(base_url=good.base_url).get_preferences())).theme == "ok"
    record(
        "cancellation",
        stage="asyncio.timeout(0.3) around a call that keeps failing",
        stopped_within=f"{took * 1000:.0f} ms",
        leaks="none",
        usable_after="yes",
    )


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_sync_call_interrupted_by_ctrl_c() -> None:
    from toggl_prefs.testing import FakeTogglServer

    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, preferences={"theme": "ok"})
        server.fail_next(1, status=None, delay=3.0)
        with tp.TogglClient(tp.ApiToken(TOKEN), base_url=server.base_url, rate_limit=None) as client:
            main = threading.main_thread().ident
            assert main is not None
            timer = threading.Timer(0.2, lambda: signal.pthread_kill(main, signal.SIGINT))
            timer.start()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                client.get_preferences()
            took = time.monotonic() - started - 0.2
            timer.join()
            assert client.get_preferences().theme == "ok"
    record(
        "cancellation",
        stage="sync facade call interrupted by Ctrl-C (SIGINT)",
        stopped_within=f"{max(took, 0) * 1000:.0f} ms",
        leaks="none",
        usable_after="yes",
    )
