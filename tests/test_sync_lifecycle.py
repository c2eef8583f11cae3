"""The blocking facade's life cycle under concurrency: ``close()`` wakes every pending call (in flight,
backing off, queued for the throttle, not yet started) with its outcome or ``TogglConfigError``;
closing from two threads, from the loop's own thread, or interrupted by Ctrl-C; dropped clients stop
their loop thread; and a blocking call aimed at a server that runs on the caller's own event loop
fails at once instead of hanging.

Every wait here is bounded (``join(timeout)``), so a regression fails instead of hanging the suite."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
import threading
import time
import weakref
from collections.abc import Callable, Collection, Iterator
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import _loopbound
from toggl_prefs.testing import FakeTogglServer
from toggl_prefs.testing.pytest_plugin import TOKEN as PLUGIN_TOKEN

from .conftest import TOKEN

BOUND = 10.0  # seconds: generous; each wait below should take milliseconds
SLOW_BACKOFF = tp.RetryPolicy(max_retries=8, backoff_base=0.5, backoff_cap=2.0)


@pytest.fixture
def server() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        fake.add_account(api_token=TOKEN, key="alice")
        yield fake


def sync_client(server: FakeTogglServer, **kwargs: Any) -> tp.TogglClient:
    options: dict[str, Any] = {"base_url": server.base_url, "rate_limit": None, "retry": SLOW_BACKOFF}
    options.update(kwargs)
    return tp.TogglClient(tp.ApiToken(TOKEN), **options)


def toggl_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("toggl-prefs-")}


def join_all(threads: Collection[threading.Thread]) -> list[str]:
    """Join each thread within one shared deadline; the names of those still alive."""
    deadline = time.monotonic() + BOUND
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return [t.name for t in threads if t.is_alive()]


class Callers:
    """``n`` threads calling ``client.get_preferences()``; each records its outcome."""

    def __init__(self, client: tp.TogglClient, n: int) -> None:
        self.outcomes: list[object] = []
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._call, args=(client,), name=f"caller-{i}", daemon=True)
            for i in range(n)
        ]
        for t in self.threads:
            t.start()

    def _call(self, client: tp.TogglClient) -> None:
        try:
            outcome: object = client.get_preferences()
        except BaseException as exc:
            outcome = exc
        with self._lock:
            self.outcomes.append(outcome)

    def join(self) -> None:
        assert join_all(self.threads) == [], "a caller was stranded"
        assert len(self.outcomes) == len(self.threads)

    def kinds(self) -> set[str]:
        return {type(o).__name__ for o in self.outcomes}


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + BOUND
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def closed_error(outcome: object) -> bool:
    return isinstance(outcome, tp.TogglConfigError) and "closed" in str(outcome)


# -- close() wakes every pending call -------------------------------------------------------------


def test_close_wakes_calls_in_flight(server: FakeTogglServer) -> None:
    server.fail_next(10**6, status=None, delay=2.0)  # every answer comes late
    before = toggl_threads()
    client = sync_client(server)
    callers = Callers(client, 8)
    wait_until(lambda: server.faults[0].times <= 10**6 - 8)  # all 8 requests are being answered slowly
    client.close()
    callers.join()
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()
    assert toggl_threads() == before


def test_close_wakes_calls_backing_off(server: FakeTogglServer) -> None:
    fault = server.fail_next(10**6, status=503)
    client = sync_client(server)
    callers = Callers(client, 8)
    wait_until(lambda: 10**6 - fault.times >= 8)  # every caller got its 503 and sleeps before a retry
    client.close()
    callers.join()
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()
    assert not toggl_threads()


def test_close_wakes_calls_waiting_for_the_throttle(server: FakeTogglServer) -> None:
    client = sync_client(server, rate_limit=0.5)  # one request, then a 2 s queue per caller
    callers = Callers(client, 6)
    wait_until(lambda: len(server.requests) >= 1)
    time.sleep(0.1)
    client.close()
    callers.join()
    answered = [o for o in callers.outcomes if isinstance(o, tp.UserPreferences)]
    assert len(answered) <= 2
    assert all(isinstance(o, tp.UserPreferences) or closed_error(o) for o in callers.outcomes)
    assert not toggl_threads()


def test_a_call_that_starts_after_close_began_fails_and_starts_no_thread(server: FakeTogglServer) -> None:
    client = sync_client(server)
    client.get_preferences()
    runner = client._runner
    client.close()

    async def noop() -> int:
        return 1

    # The facade's own check passed a moment before close() began: the runner must refuse too,
    # instead of starting a new loop (a thread nobody stops) or queueing on a stopped one.
    with pytest.raises(tp.TogglConfigError, match="closed"):
        runner.run(noop)
    assert not toggl_threads()


def test_calls_racing_close_all_return(server: FakeTogglServer) -> None:
    """Callers that keep calling while close() runs: each ends with TogglConfigError, never a hang."""
    server.fail_next(10**6, status=None, delay=0.05)
    client = sync_client(server)
    outcomes: list[object] = []

    def keep_calling() -> None:
        while True:
            try:
                client.get_preferences()
            except BaseException as exc:
                outcomes.append(exc)
                return

    threads = [threading.Thread(target=keep_calling, daemon=True) for _ in range(16)]
    for t in threads:
        t.start()
    wait_until(lambda: len(server.requests) >= 16)
    client.close()
    assert join_all(threads) == []
    assert len(outcomes) == 16 and all(closed_error(o) for o in outcomes), outcomes
    assert not toggl_threads()


def test_close_from_two_threads_at_once(server: FakeTogglServer) -> None:
    server.fail_next(10**6, status=None, delay=2.0)
    client = sync_client(server)
    callers = Callers(client, 6)
    wait_until(lambda: server.faults[0].times < 10**6)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    returned_with_thread_alive: list[bool] = []

    def closer() -> None:
        try:
            barrier.wait()
            client.close()
            # close() returns only once the client is fully closed, for both closers.
            returned_with_thread_alive.append(bool(toggl_threads()))
        except BaseException as exc:
            errors.append(exc)

    closers = [threading.Thread(target=closer, daemon=True) for _ in range(2)]
    for t in closers:
        t.start()
    assert join_all(closers) == []
    callers.join()
    assert errors == []
    assert returned_with_thread_alive == [False, False]
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()


class _CloseOnRetryLog(logging.Handler):
    """Calls ``client.close()`` from inside a call: from the retry log line, on the loop thread."""

    def __init__(self, client: tp.TogglClient) -> None:
        super().__init__(logging.DEBUG)
        self.client = client
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if self.thread is not None:
            return
        self.thread = threading.current_thread()
        try:
            self.client.close()
        except BaseException as exc:
            self.errors.append(exc)


def test_close_from_inside_a_call_callback(server: FakeTogglServer) -> None:
    server.fail_next(10**6, status=503)
    client = sync_client(server)
    handler = _CloseOnRetryLog(client)
    logger = logging.getLogger("toggl_prefs")
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    try:
        callers = Callers(client, 4)
        callers.join()
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert handler.thread is not None and handler.thread.name.startswith("toggl-prefs-")
    assert handler.errors == []
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()
    assert join_all(toggl_threads()) == []
    assert client.closed
    session = client.async_client._transport._session
    assert session is None or session.closed
    with pytest.raises(tp.TogglConfigError, match="closed"):
        client.get_preferences()


def _slow_aclose(client: tp.TogglClient, seconds: float) -> None:
    """Make closing the session take ``seconds`` on the loop, so that close() can be interrupted."""
    real = client._runner.on_close
    assert real is not None

    async def slow() -> None:
        await asyncio.sleep(seconds)
        await real()

    client._runner.on_close = slow


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_ctrl_c_in_the_thread_running_close(server: FakeTogglServer) -> None:
    server.fail_next(10**6, status=None, delay=3.0)
    client = sync_client(server)
    callers = Callers(client, 6)
    wait_until(lambda: server.faults[0].times < 10**6)
    _slow_aclose(client, 1.0)
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.2, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.close()
    timer.join()
    # The close goes on without the interrupted caller: every call is woken, the thread ends.
    callers.join()
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()
    assert join_all(toggl_threads()) == []
    session = client.async_client._transport._session
    assert session is None or session.closed
    client.close()  # idempotent, returns at once
    with pytest.raises(tp.TogglConfigError, match="closed"):
        client.get_preferences()


def test_close_when_the_loop_is_wedged_still_wakes_callers(
    server: FakeTogglServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loop blocked by foreign code (here: a callback that sleeps) cannot be relied upon to wake
    anyone: close() gives up on it after a bound and wakes the callers itself."""
    from toggl_prefs import _sync

    monkeypatch.setattr(_sync, "_CLOSE_GRACE", 0.5, raising=False)
    server.fail_next(10**6, status=None, delay=2.0)
    client = sync_client(server)
    callers = Callers(client, 3)
    wait_until(lambda: server.faults[0].times < 10**6)
    loop = client._runner.loop()
    release = threading.Event()
    loop.call_soon_threadsafe(release.wait, 3.0)  # wedges the loop for up to 3 s
    time.sleep(0.05)
    client.close()
    callers.join()
    assert all(closed_error(o) for o in callers.outcomes), callers.kinds()
    release.set()
    assert join_all(toggl_threads()) == []


def test_a_never_used_client_closes_without_a_thread(server: FakeTogglServer) -> None:
    """A never-used client closes at once and starts no thread."""
    client = sync_client(server)
    client.close()
    assert not toggl_threads()
    with pytest.raises(tp.TogglConfigError, match="closed"):
        client.get_preferences()


# -- dropped clients -------------------------------------------------------------------------------


def test_dropped_clients_stop_their_loop_threads(server: FakeTogglServer) -> None:
    before = toggl_threads()
    clients = [sync_client(server) for _ in range(20)]
    for c in clients:
        c.get_preferences()
    started = toggl_threads() - before
    assert len(started) == 20
    sessions = [c.async_client._transport._session for c in clients]
    refs = [weakref.ref(c) for c in clients]
    del clients, c
    gc.collect()
    assert all(r() is None for r in refs), "something keeps a dropped TogglClient alive"
    assert join_all(started) == []
    assert toggl_threads() == before
    assert all(s is not None and s.closed for s in sessions)


def test_a_dropped_client_with_a_closed_server_stops_too() -> None:
    with FakeTogglServer() as fake:
        fake.add_account(api_token=TOKEN)
        before = toggl_threads()
        client = sync_client(fake)
        client.get_preferences()
        (thread,) = toggl_threads() - before
    del client
    gc.collect()
    assert join_all([thread]) == []


# -- a blocking call on the loop that serves its URL -----------------------------------------------


async def test_sync_call_to_a_server_on_the_callers_own_loop_fails_fast() -> None:
    async with FakeTogglServer() as fake:
        fake.add_account(api_token=TOKEN)
        client = sync_client(fake, timeout=0.5, retry=tp.RetryPolicy(max_retries=0))
        try:
            started = time.monotonic()
            with pytest.raises(tp.TogglConfigError, match="event loop of the calling thread") as info:
                client.get_preferences()
            assert time.monotonic() - started < BOUND
            assert "AsyncTogglClient" in str(info.value) and "toggl_sync_server" in str(info.value)
            assert fake.requests == []  # refused before sending
        finally:
            await asyncio.to_thread(client.close)
    assert _loopbound.serving_loop(fake.base_url) is None  # unregistered on stop


async def test_plugin_async_server_with_a_sync_client_fails_fast(toggl_server: FakeTogglServer) -> None:
    client = tp.TogglClient(
        tp.ApiToken(PLUGIN_TOKEN),
        base_url=toggl_server.base_url,
        timeout=0.5,
        retry=tp.RetryPolicy(max_retries=0),
    )
    with client, pytest.raises(tp.TogglConfigError, match="use AsyncTogglClient"):
        client.update_preferences(pomodoro_enabled=False)
    assert toggl_server.requests == []


async def test_sync_call_from_another_loop_only_warns(server: FakeTogglServer) -> None:
    """The threaded server runs on its own loop: a call from this test's loop works (and warns)."""
    with sync_client(server) as client, pytest.warns(RuntimeWarning, match="blocks that loop"):
        assert client.get_preferences() is not None


def test_sync_call_on_the_threaded_servers_own_loop_fails_fast(server: FakeTogglServer) -> None:
    """The same trap from the other side: a blocking call made on the thread that runs the server."""
    loop = _loopbound.serving_loop(server.base_url)
    assert loop is not None
    client = sync_client(server, timeout=0.5, retry=tp.RetryPolicy(max_retries=0))
    outcome: list[BaseException | object] = []
    done = threading.Event()

    def on_server_loop() -> None:
        try:
            outcome.append(client.get_preferences())
        except BaseException as exc:
            outcome.append(exc)
        done.set()

    loop.call_soon_threadsafe(on_server_loop)
    assert done.wait(BOUND)
    client.close()
    assert isinstance(outcome[0], tp.TogglConfigError), outcome
    assert "event loop of the calling thread" in str(outcome[0])


def test_loopbound_registry() -> None:
    loop = asyncio.new_event_loop()
    other = asyncio.new_event_loop()
    try:
        _loopbound.register("127.0.0.1", 54321, loop)
        assert _loopbound.serving_loop("http://127.0.0.1:54321/api/v9") is loop
        assert _loopbound.serving_loop("http://localhost:54321/api/v9") is loop  # loopback aliases
        assert _loopbound.serving_loop("http://127.0.0.1:54322/api/v9") is None
        assert _loopbound.serving_loop("https://api.track.toggl.com/api/v9") is None
        _loopbound.unregister("127.0.0.1", 54321, other)  # not its registration: kept
        assert _loopbound.serving_loop("http://127.0.0.1:54321/api/v9") is loop
        _loopbound.unregister("127.0.0.1", 54321, loop)
        assert _loopbound.serving_loop("http://127.0.0.1:54321/api/v9") is None
        _loopbound.register("127.0.0.1", 54323, other)
    finally:
        loop.close()
        other.close()
    del other
    gc.collect()
    assert _loopbound.serving_loop("http://127.0.0.1:54323/api/v9") is None  # held weakly


async def test_blocking_bulk_run_against_a_server_on_the_callers_own_loop_fails_fast() -> None:
    """The blocking bulk twins share the trap (and the cure) with TogglClient."""
    from toggl_prefs.bulk import Account
    from toggl_prefs.bulk import sync as bulk_sync

    async with FakeTogglServer() as fake:
        fake.add_account(api_token=TOKEN)
        accounts = [Account(key="alice", auth=tp.ApiToken(TOKEN))]
        options: dict[str, Any] = {"base_url": fake.base_url, "rate_limit": None, "timeout": 0.5}
        started = time.monotonic()
        with pytest.raises(tp.TogglConfigError, match="event loop of the calling thread"):
            list(bulk_sync.fetch_all(accounts, retry=tp.RetryPolicy(max_retries=0), **options))
        assert time.monotonic() - started < BOUND
        assert fake.requests == []
    assert not {t for t in threading.enumerate() if t.name == "toggl-prefs-bulk"}
