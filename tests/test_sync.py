"""The blocking facade: mirrors the async surface, owns one loop thread, survives interrupts,
forks and many threads, and leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import inspect
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer, MockTransport

from .conftest import FAST_RETRY, TOKEN, open_connections

ROOT = Path(__file__).resolve().parent.parent
# Async names whose sync twin is spelled differently.
RENAMED = {"aclose": "close", "__aenter__": "__enter__", "__aexit__": "__exit__"}


def public_coroutines(cls: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in inspect.getmembers(cls, inspect.iscoroutinefunction)
        if not name.startswith("_") or name in RENAMED
    }


@pytest.fixture
def server() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        fake.add_account(api_token=TOKEN, key="alice", workspaces={42: "admin"})
        yield fake


def sync_client(server: FakeTogglServer, **kwargs: object) -> tp.TogglClient:
    options: dict[str, object] = {"base_url": server.base_url, "rate_limit": None, "retry": FAST_RETRY}
    options.update(kwargs)
    return tp.TogglClient(tp.ApiToken(TOKEN), **options)  # type: ignore[arg-type]


def toggl_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("toggl-prefs-")]


def test_every_coroutine_has_a_sync_twin_with_the_same_signature() -> None:
    coroutines = public_coroutines(tp.AsyncTogglClient)
    assert {"get_preferences", "update_preferences", "set_alpha_features", "aclose"} <= set(coroutines)
    for name, signature in coroutines.items():
        twin_name = RENAMED.get(name, name)
        twin = getattr(tp.TogglClient, twin_name, None)
        assert twin is not None, f"TogglClient lacks {twin_name}"
        assert not inspect.iscoroutinefunction(twin), twin_name
        if name in RENAMED:
            continue  # context-manager and close protocols differ by nature
        assert inspect.signature(twin) == signature, name
        assert twin.__doc__, f"TogglClient.{name} has no docstring"
    sync_init = inspect.signature(tp.TogglClient.__init__)
    assert sync_init == inspect.signature(tp.AsyncTogglClient.__init__)
    with_options = inspect.signature(tp.TogglClient.with_options)
    assert with_options == inspect.signature(tp.AsyncTogglClient.with_options)


def test_with_raw_response_mirrors_every_endpoint_async_and_sync() -> None:
    endpoints = {n: s for n, s in public_coroutines(tp.AsyncTogglClient).items() if n not in RENAMED}
    async_raw = type(tp.AsyncTogglClient(tp.ApiToken(TOKEN)).with_raw_response)
    with tp.TogglClient(tp.ApiToken(TOKEN)) as client:
        sync_raw = type(client.with_raw_response)
    for raw in (async_raw, sync_raw):
        public = {name for name in vars(raw) if not name.startswith("_")}
        assert public == set(endpoints), raw.__name__
    for name, signature in endpoints.items():
        a, s = getattr(async_raw, name), getattr(sync_raw, name)
        assert inspect.iscoroutinefunction(a) and not inspect.iscoroutinefunction(s), name
        assert list(inspect.signature(a).parameters.values()) == list(signature.parameters.values()), name
        assert inspect.signature(a).return_annotation == f"RawResponse[{signature.return_annotation}]"
        assert inspect.signature(s) == inspect.signature(a), name
        assert a.__doc__ and s.__doc__, name


def test_no_thread_is_left_after_close_or_with(server: FakeTogglServer) -> None:
    before = set(toggl_threads())
    client = sync_client(server)
    assert toggl_threads() == list(before)  # the loop thread starts lazily
    client.get_preferences()
    assert len(set(toggl_threads()) - before) == 1
    client.close()
    client.close()  # idempotent
    assert set(toggl_threads()) == before
    with sync_client(server) as again:
        again.get_preferences()
    assert set(toggl_threads()) == before
    with pytest.raises(tp.TogglConfigError, match="closed"):
        again.get_preferences()
    # An unclosed session would be a ResourceWarning (an error in this suite) once collected.
    del again
    gc.collect()


def test_same_exceptions_and_quota_state() -> None:
    with FakeTogglServer(quota_per_hour=5) as fake:
        fake.add_account(api_token=TOKEN)
        with sync_client(fake) as client:
            client.get_preferences()
            assert client.quota == tp.Quota(4, client.quota.resets_in)
            with pytest.raises(tp.InvalidDateFormatError) as info:
                client.update_preferences(date_format="nope")
            assert type(info.value) is tp.InvalidDateFormatError
            with pytest.raises(TypeError, match="did you mean"):
                client.update_preferences(pomodoro_enable=True)
            assert client.quota.remaining == 3


def test_session_argument_is_refused() -> None:
    async def make_session() -> object:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            with pytest.raises(ValueError, match="own event loop"):
                tp.TogglClient(tp.ApiToken("t"), session=session)
        return session

    asyncio.run(make_session())


class CallsBack:
    """A transport that, while sending, calls the blocking client again: on its own loop thread."""

    def __init__(self, server: FakeTogglServer) -> None:
        self.inner = MockTransport(server)
        self.client: tp.TogglClient | None = None
        self.outcome: list[BaseException] = []

    def with_auth(self, auth: tp.ApiToken | tp.BasicAuth) -> CallsBack:
        self.inner = self.inner.with_auth(auth)
        return self

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        if self.client is not None and not self.outcome:
            try:
                self.client.get_preferences()
            except RuntimeError as exc:
                self.outcome.append(exc)
        return await self.inner.send(method, path, params=params, body=body)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_calling_from_the_loop_thread_raises_instead_of_deadlocking(server: FakeTogglServer) -> None:
    transport = CallsBack(server)
    with tp.TogglClient(tp.ApiToken(TOKEN), transport=transport, rate_limit=None) as client:
        transport.client = client
        assert client.get_preferences() is not None
    assert transport.outcome and "deadlock" in str(transport.outcome[0])


async def test_calling_from_inside_a_running_loop_warns(server: FakeTogglServer) -> None:
    with sync_client(server) as client, pytest.warns(RuntimeWarning, match="blocks that loop"):
        client.get_preferences()


@pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX signals")
def test_interrupt_cancels_the_call_and_the_client_stays_usable(server: FakeTogglServer) -> None:
    server.fail_next(1, status=None, delay=3.0)
    with sync_client(server) as client:
        main = threading.main_thread().ident
        assert main is not None and threading.current_thread() is threading.main_thread()
        timer = threading.Timer(0.3, lambda: signal.pthread_kill(main, signal.SIGINT))
        timer.start()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            client.get_preferences()
        assert time.monotonic() - started < 2.5
        timer.join()
        assert client.get_preferences() is not None  # usable afterwards
        # The facade takes no session, so no one-connection pool shows a leak: look inside.
        assert open_connections(client.async_client) == 0


def test_many_threads_share_one_client(server: FakeTogglServer) -> None:
    errors: list[BaseException] = []
    results: list[str] = []
    lock = threading.Lock()
    before = set(toggl_threads())

    def worker(n: int) -> None:
        try:
            for i in range(50):
                if i % 10 == 0:
                    client.update_client_preferences("desktop", theme=f"t{n}-{i}")
                prefs = client.get_preferences()
                with lock:
                    results.append(prefs.date_format or "unset")
        except BaseException as exc:
            errors.append(exc)

    server.accounts["alice"].preferences["date_format"] = "DD.MM.YYYY"
    with sync_client(server) as client:
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert open_connections(client.async_client) == 0  # see the test above
    assert errors == []
    assert results == ["DD.MM.YYYY"] * 800
    assert len(server.requests) == 800 + 16 * 5
    assert set(toggl_threads()) == before


def run_script(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "error::ResourceWarning"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


SERVER_PRELUDE = """
    import os, sys, toggl_prefs as tp
    from toggl_prefs.testing import FakeTogglServer
    server = FakeTogglServer().__enter__()
    server.add_account(api_token="t", preferences={"theme": "dark"})
    client = tp.TogglClient(tp.ApiToken("t"), base_url=server.base_url, rate_limit=None)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_fork_child_gets_a_fresh_loop_and_session() -> None:
    # A short timeout and no retries: a parent whose loop the child deafened would time out.
    result = run_script(
        SERVER_PRELUDE.replace(
            "rate_limit=None", "rate_limit=None, timeout=3, retry=tp.RetryPolicy(max_retries=0)"
        )
        + """
    assert client.get_preferences().theme == "dark"
    for exit_normally, lock_held in ((False, False), (True, False), (False, True)):
        if lock_held:  # as if another thread were starting the loop at the moment of the fork
            client._runner._lock.acquire()
        pid = os.fork()
        if lock_held and pid != 0:
            client._runner._lock.release()
        if pid == 0:
            import signal
            signal.alarm(20)  # a deadlocked child dies instead of hanging the test
            try:
                ok = client.get_preferences().theme == "dark"
                client.close()
            except BaseException as exc:
                print("child failed:", repr(exc), file=sys.stderr)
                os._exit(4)
            if exit_normally:
                sys.exit(0 if ok else 3)   # finalizers run
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, status
        assert client.get_preferences().theme == "dark"   # the parent is unaffected
    client.close()
    server.__exit__(None, None, None)
    print("fork ok")
    """
    )
    assert result.returncode == 0, result.stderr
    assert "fork ok" in result.stdout


def test_atexit_closes_a_forgotten_client_cleanly() -> None:
    result = run_script(
        SERVER_PRELUDE
        + """
    assert client.get_preferences().theme == "dark"
    print("leaving without close()")
    """
    )
    assert result.returncode == 0, result.stderr
    assert "Unclosed" not in result.stderr, result.stderr
    assert "leaving without close()" in result.stdout


# -- with_options: copies share one loop thread and one pool ----------------------------------------


def test_copies_share_one_loop_thread_and_the_last_close_stops_it(server: FakeTogglServer) -> None:
    before = set(toggl_threads())
    client = sync_client(server)
    copy = client.with_options(timeout=5, max_retries=0)
    assert type(copy) is tp.TogglClient and copy.async_client is not client.async_client
    client.get_preferences()
    copy.get_preferences()
    assert len(set(toggl_threads()) - before) == 1
    client.close()  # the copy keeps the thread and the pool
    assert copy.get_preferences() is not None
    assert len(set(toggl_threads()) - before) == 1
    with pytest.raises(tp.TogglConfigError, match="closed"):
        client.get_preferences()
    copy.close()
    assert set(toggl_threads()) == before
    with pytest.raises(tp.TogglConfigError, match="closed"):
        copy.with_options(timeout=1)


def test_a_copy_made_for_one_call_is_let_go_when_dropped(server: FakeTogglServer) -> None:
    before = set(toggl_threads())
    gc.disable()  # let go of on their last reference, not in a later collection (no cycle)
    try:
        with sync_client(server) as client:
            for _ in range(10):
                client.with_options(timeout=5).get_preferences()
                client.with_options(timeout=5).with_raw_response.get_preferences()
            assert len(set(toggl_threads()) - before) == 1
    finally:
        gc.enable()
    assert set(toggl_threads()) == before  # the dropped copies did not keep the thread alive


def test_closing_a_copy_cancels_its_own_calls_only(server: FakeTogglServer) -> None:
    server.fail_next(1, status=None, delay=3.0, path="/me/preferences/desktop")
    with sync_client(server) as client:
        copy = client.with_options(timeout=10)
        outcome: list[object] = []

        def slow_call() -> None:
            try:
                outcome.append(copy.get_client_preferences("desktop"))
            except BaseException as exc:
                outcome.append(exc)

        caller = threading.Thread(target=slow_call)
        caller.start()
        deadline = time.monotonic() + 5
        while server.faults:  # the slow request takes its fault when it arrives
            assert time.monotonic() < deadline, "the copy's call never reached the server"
            time.sleep(0.01)
        started = time.monotonic()
        copy.close()
        caller.join(5)
        assert time.monotonic() - started < 2.5
        assert len(outcome) == 1 and isinstance(outcome[0], tp.TogglConfigError), outcome
        assert "closed" in str(outcome[0])
        assert client.get_preferences() is not None  # the original and the loop go on
    assert not toggl_threads()


def test_with_options_refuses_a_session() -> None:
    async def make_session() -> None:
        import aiohttp

        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            with (
                tp.TogglClient(tp.ApiToken("t")) as client,
                pytest.raises(ValueError, match="own event loop"),
            ):
                client.with_options(session=session)

    asyncio.run(make_session())


def test_a_raw_response_through_the_facade(server: FakeTogglServer) -> None:
    with sync_client(server) as client:
        raw = client.with_raw_response.update_workspace_preferences(42, disable_expenses=True)
        assert raw.status == 200 and raw.parsed.disable_expenses is True
        assert client.with_raw_response.get_preferences(timeout=5).parsed.alpha_features
    assert len(server.requests) == 2
