"""``TogglClient``: the blocking facade. Every method runs its coroutine on a private event loop.

Design: one background loop thread per ``TogglClient``, started on the first call. A loop per client
(rather than one shared process-wide loop) keeps clients isolated: closing one joins exactly its
thread, a slow or wedged call in one cannot stall another, and "no thread left after close()" is
simple to guarantee. A client is cheap to share: it is thread-safe, so one per process (or per
account) is the intended use.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import os
import select
import threading
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, TypeVar

import aiohttp
from yarl import URL

from ._auth import ApiToken, BasicAuth
from ._client import _DEFAULT_RETRY, AsyncTogglClient
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from ._quota import Quota
from ._retry import RetryPolicy
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT
from ._urls import DEFAULT_BASE_URL
from .errors import TogglConfigError, TogglValidationError

P = ParamSpec("P")
T = TypeVar("T")

_CANCEL_GRACE = 5.0  # seconds to let an interrupted call unwind before giving up on it
_FORK_LOCK = threading.Lock()


def _new_fork_lock() -> None:
    global _FORK_LOCK
    _FORK_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_fork_lock)


class LoopThread:
    """An event loop running in a daemon thread, started on demand and restarted after ``fork()``."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def forked(self) -> bool:
        """True (once) in a child process: the parent's loop thread does not exist here."""
        if self._pid == os.getpid():
            return False
        # Not self._lock: a lock inherited through fork() may be held by a thread that does not exist
        # in the child, and would never be released. _FORK_LOCK is made anew in every child.
        with _FORK_LOCK:
            if self._pid != os.getpid():
                # The parent's loop has no thread here. Abandon it, and make sure that nothing the
                # child does to it (finalizers included) can reach the parent's epoll instance.
                if self._loop is not None:
                    _detach_inherited_loop(self._loop)
                    _ABANDONED.append(self._loop)
                self._loop, self._thread, self._pid = None, None, os.getpid()
                self._lock = threading.Lock()
                return True
        return False

    def loop(self) -> asyncio.AbstractEventLoop:
        loop = self._loop
        if loop is not None:
            return loop
        with self._lock:
            if self._loop is None:
                ready = threading.Event()
                new_loop = asyncio.new_event_loop()

                def run() -> None:
                    asyncio.set_event_loop(new_loop)
                    ready.set()
                    new_loop.run_forever()
                    # Finish on this thread: the caller of stop() may be inside a loop of its own.
                    new_loop.run_until_complete(new_loop.shutdown_asyncgens())
                    new_loop.close()

                thread = threading.Thread(target=run, name=self._name, daemon=True)
                thread.start()
                ready.wait()
                self._loop, self._thread = new_loop, thread
            return self._loop

    def check_caller(self) -> None:
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError(
                "a TogglClient method was called from the client's own event loop thread, which "
                "would deadlock; await the AsyncTogglClient instead"
            )

    def run(self, coro_fn: Callable[[], Awaitable[T]]) -> T:
        """Run ``coro_fn()`` on the loop and wait for its result, from any other thread.

        Leaner than ``asyncio.run_coroutine_threadsafe`` (which chains two futures across the
        threads): one ``call_soon_threadsafe`` to start a task, one lock released by its done
        callback. On this hop every microsecond counts, as it is paid on each call."""
        self.check_caller()
        loop = self.loop()
        finished = _thread.allocate_lock()
        finished.acquire()
        box: list[Any] = []  # the task, or the exception raised while creating it
        abandoned = False

        def start() -> None:
            if abandoned:  # interrupted before the task existed
                finished.release()
                return
            try:
                task: asyncio.Task[T] = loop.create_task(coro_fn())  # type: ignore[arg-type]
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                box.append(exc)
                finished.release()
                return
            box.append(task)
            task.add_done_callback(lambda _: finished.release())

        loop.call_soon_threadsafe(start)
        try:
            finished.acquire()
        except BaseException:
            # KeyboardInterrupt (or another interruption of the wait): cancel the task and wait for
            # it to unwind, so the client stays usable and no connection is left half-read.
            abandoned = True
            loop.call_soon_threadsafe(lambda: box and isinstance(box[0], asyncio.Task) and box[0].cancel())
            finished.acquire(timeout=_CANCEL_GRACE)
            raise
        outcome = box[0]
        if isinstance(outcome, BaseException):
            raise outcome
        result: T = outcome.result()
        return result

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        if thread is threading.current_thread():
            raise RuntimeError("a TogglClient cannot be closed from its own event loop thread")
        loop.call_soon_threadsafe(loop.stop)
        thread.join()


_ABANDONED: list[object] = []
"""Loops and clients inherited through fork(): kept alive so they are never finalized mid-run."""


def _detach_inherited_loop(loop: asyncio.AbstractEventLoop) -> None:
    """After fork(), an inherited epoll instance is shared with the parent: a child that unregisters
    a socket from it (as closing the loop or a connector does) silently deafens the parent's loop.
    Give the abandoned loop a private epoll instance so that any such cleanup stays in the child."""
    selector = getattr(loop, "_selector", None)
    if isinstance(getattr(selector, "_selector", None), getattr(select, "epoll", ())):
        selector._selector = select.epoll()  # type: ignore[union-attr]


_LIVE: weakref.WeakSet[TogglClient] = weakref.WeakSet()


@atexit.register
def _close_live_clients() -> None:
    """Backstop at interpreter exit: close what the program forgot to close."""
    for client in list(_LIVE):
        try:
            client.close()
        except Exception:  # noqa: BLE001, S112 - best effort while the interpreter exits
            continue


class TogglClient:
    """Blocking client with the same methods, arguments, results and exceptions as
    :class:`AsyncTogglClient`. Thread-safe: share one instance between threads.

    Use ``with TogglClient(ApiToken("...")) as toggl: ...`` or call :meth:`close`. The arguments are
    those of :class:`AsyncTogglClient`, except ``session``: the facade runs its own event loop, and an
    aiohttp session belongs to the loop that created it, so it must be ``None``.
    """

    def __init__(
        self,
        auth: ApiToken | BasicAuth | None = None,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = _DEFAULT_RETRY,
        rate_limit: float | None = 1.0,
        session: aiohttp.ClientSession | None = None,
        user_agent: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if session is not None:
            raise TogglValidationError(
                "TogglClient runs its own event loop and cannot use a caller's aiohttp session "
                "(a session belongs to the loop that created it); use AsyncTogglClient to share one"
            )
        self._options: dict[str, Any] = {
            "base_url": base_url,
            "timeout": timeout,
            "retry": retry,
            "rate_limit": rate_limit,
            "user_agent": user_agent,
            "max_response_bytes": max_response_bytes,
        }
        self._auth = auth
        # Validates every argument here, in the caller's thread, before any thread starts.
        self._async = AsyncTogglClient(auth, **self._options)
        self._runner = LoopThread(f"toggl-prefs-{id(self):x}")
        self._closed = False
        _LIVE.add(self)

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncTogglClient", "TogglClient", 1)

    @property
    def quota(self) -> Quota:
        """The request quota the server last reported (see :attr:`AsyncTogglClient.quota`)."""
        return self._async.quota

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def async_client(self) -> AsyncTogglClient:
        """The :class:`AsyncTogglClient` underneath (it lives on this facade's loop thread)."""
        return self._async

    def __enter__(self) -> TogglClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the session and stop the loop thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        _LIVE.discard(self)
        if self._runner.forked() or self._runner.thread is None:
            return
        try:
            self._runner.run(self._async.aclose)
        finally:
            self._runner.stop()

    def _call(
        self,
        method: Callable[Concatenate[AsyncTogglClient, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self._closed:
            raise TogglConfigError("the client is closed")
        if self._runner.forked():
            # The child of a fork gets a fresh loop and session; the parent's are not ours to close.
            _ABANDONED.append(self._async)
            self._async = AsyncTogglClient(self._auth, **self._options)
        self._runner.check_caller()
        _warn_if_inside_a_running_loop()
        client = self._async
        return self._runner.run(lambda: method(client, *args, **kwargs))

    # -- mirrors of AsyncTogglClient; keep signatures identical (tests/test_sync.py checks) -----

    def get_preferences(self) -> UserPreferences:
        """Blocking :meth:`AsyncTogglClient.get_preferences`."""
        return self._call(AsyncTogglClient.get_preferences)

    def update_preferences(
        self, changes: PreferencesUpdate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> None:
        """Blocking :meth:`AsyncTogglClient.update_preferences`."""
        return self._call(AsyncTogglClient.update_preferences, changes, **fields)

    def get_client_preferences(self, client: str, *, since: int | datetime | None = None) -> UserPreferences:
        """Blocking :meth:`AsyncTogglClient.get_client_preferences`."""
        return self._call(AsyncTogglClient.get_client_preferences, client, since=since)

    def update_client_preferences(
        self, client: str, changes: PreferencesUpdate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> None:
        """Blocking :meth:`AsyncTogglClient.update_client_preferences`."""
        return self._call(AsyncTogglClient.update_client_preferences, client, changes, **fields)

    def get_workspace_preferences(self, workspace_id: int) -> WorkspacePreferences:
        """Blocking :meth:`AsyncTogglClient.get_workspace_preferences`."""
        return self._call(AsyncTogglClient.get_workspace_preferences, workspace_id)

    def update_workspace_preferences(
        self,
        workspace_id: int,
        changes: WorkspacePreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        **fields: Any,
    ) -> WorkspacePreferences:
        """Blocking :meth:`AsyncTogglClient.update_workspace_preferences`."""
        return self._call(AsyncTogglClient.update_workspace_preferences, workspace_id, changes, **fields)

    def set_alpha_features(self, features: Mapping[str, bool], *, client: str | None = None) -> None:
        """Blocking :meth:`AsyncTogglClient.set_alpha_features`."""
        return self._call(AsyncTogglClient.set_alpha_features, features, client=client)


def _warn_if_inside_a_running_loop() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    warnings.warn(
        "a blocking TogglClient call was made from inside a running event loop; it blocks that loop "
        "until the call returns. Use AsyncTogglClient in async code.",
        RuntimeWarning,
        stacklevel=3,
    )
