"""``TogglClient``: the blocking facade. Every method runs its coroutine on a private event loop.

Design: one background loop thread per ``TogglClient``, started on the first call. A loop per client
(rather than one shared process-wide loop) keeps clients isolated: closing one joins exactly its
thread, a slow or wedged call in one cannot stall another, and "no thread left after close()" is
simple to guarantee. A client is cheap to share: it is thread-safe, so one per process (or per
account) is the intended use.

Life cycle: every call is registered with the loop thread until it is settled, and whatever ends the
loop (close() from any thread, even from inside a call; a dropped client's finalizer; a crash) wakes
each waiting caller with its outcome or ``TogglConfigError``. Nobody waits on a loop that no longer
runs, and the thread never refers to the facade, so a dropped client can be collected and stops it.
"""

from __future__ import annotations

import _thread
import asyncio
import atexit
import os
import select
import threading
import time
import warnings
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import aiohttp
from yarl import URL

from ._auth import ApiToken, BasicAuth
from ._client import AsyncTogglClient
from ._constants import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RATE_LIMIT, DEFAULT_TIMEOUT
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from ._loopbound import serving_loop
from ._options import pick_options
from ._quota import Quota
from ._raw import RawResponse, capture, mirror
from ._retry import RetryPolicy
from ._transport import Transport
from .errors import TogglConfigError, TogglValidationError

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack  # in typing from 3.11 only

    from ._options import ClientOptions

P = ParamSpec("P")
T = TypeVar("T")

_CANCEL_GRACE = 5.0  # seconds to let an interrupted or closed call unwind before giving up on it
_CLOSE_GRACE = 3 * _CANCEL_GRACE  # seconds close() waits for the loop thread before it stops waiting
_CLOSED = "the client is closed"
_CLOSED_IN_FLIGHT = "the client was closed while this call was in progress"
_FORK_LOCK = threading.Lock()


def _new_fork_lock() -> None:
    global _FORK_LOCK
    _FORK_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_fork_lock)


class Member:
    """One of the clients that share a :class:`LoopThread` (a ``TogglClient`` and its
    ``with_options()`` copies): closing it cancels its own calls, not the others'."""

    __slots__ = ("closed", "left")

    def __init__(self) -> None:
        self.closed = False  # its calls are refused (set under the LoopThread's lock)
        self.left = False  # it left its group (set under the group's lock)


class _Call:
    """One blocking call: what to run, the lock its caller waits on, and how it ended."""

    __slots__ = ("error", "finished", "interrupted", "make", "owner", "task", "waiter")

    def __init__(self, make: Callable[[], Awaitable[Any]], owner: Member | None) -> None:
        self.make = make
        self.owner = owner
        self.finished = _thread.allocate_lock()
        self.finished.acquire()
        self.task: asyncio.Task[Any] | None = None
        self.error: BaseException | None = None  # set instead of the task's outcome
        self.interrupted = False
        self.waiter: threading.Event | None = None  # set when settled, for a member's close()

    def ended_by_close(self) -> bool:
        return self.owner is not None and self.owner.closed


class LoopThread:
    """An event loop running in a daemon thread, started on demand and restarted after ``fork()``.

    Every call stays registered here until it is settled, and each way the loop can stop (close(),
    a dropped client, a wedged or crashed loop) settles whatever is left: no caller ever waits on a
    loop that no longer runs. Nothing here refers to the ``TogglClient``, so that a dropped client
    can be collected (and stop this thread) while the loop runs."""

    def __init__(self, name: str, on_close: Callable[[], Awaitable[None]] | None = None) -> None:
        self._name = name
        self.on_close = on_close
        """Coroutine run on the loop by close(), after the calls are cancelled (closes the session)."""
        self._init_state()

    def _init_state(self) -> None:
        # Reentrant: a dropped client's finalizer (which closes this) may run during a garbage
        # collection triggered on a thread that already holds the lock.
        self._lock = threading.RLock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._calls: set[_Call] = set()  # registered, not yet settled
        self._closing = False
        self._ended = threading.Event()  # set as the loop thread's last act
        self._close_error: BaseException | None = None
        self._shutdown_task: asyncio.Task[None] | None = None

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
                # The parent's pending calls belong to threads that do not exist here either.
                if self._loop is not None:
                    _detach_inherited_loop(self._loop)
                    _ABANDONED.append(self._loop)
                closing = self._closing
                self._init_state()
                self._closing = closing  # closed in the parent: closed here too
                return True
        return False

    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop, started on first use. :class:`TogglConfigError` once closing."""
        with self._lock:
            if self._closing:
                raise TogglConfigError(_CLOSED)
            return self._loop or self._start()

    def _start(self) -> asyncio.AbstractEventLoop:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=self._serve, args=(loop, ready), name=self._name, daemon=True)
        thread.start()
        ready.wait()
        self._loop, self._thread = loop, thread
        return loop

    def _serve(self, loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        ready.set()
        try:
            while True:
                try:
                    loop.run_forever()
                except (KeyboardInterrupt, SystemExit):
                    # Raised inside a call (by a transport, say): asyncio lets these out of the
                    # loop, but the call's task keeps it and its caller's thread raises it. The
                    # loop serves on, unless this interrupted the close's own stop.
                    if not self._stopped_by_close():
                        continue
                break
            # Finish on this thread: the caller of close() may be inside a loop of its own.
            _finish(loop)
        finally:
            with self._lock:  # refuse new calls before the loop closes (normally close() did)
                self._closing = True
                loop.close()
            self._settle_all()
            self._ended.set()

    def _stopped_by_close(self) -> bool:
        task = self._shutdown_task
        return task is not None and task.done()

    def check_caller(self) -> None:
        if self._thread is not None and threading.current_thread() is self._thread:
            raise RuntimeError(
                "a TogglClient method was called from the client's own event loop thread, which "
                "would deadlock; await the AsyncTogglClient instead"
            )

    def run(self, coro_fn: Callable[[], Awaitable[T]], owner: Member | None = None) -> T:
        """Run ``coro_fn()`` on the loop and wait for its result, from any other thread (on behalf
        of ``owner``, whose :meth:`cancel_member` cancels it).

        Leaner than ``asyncio.run_coroutine_threadsafe`` (which chains two futures across the
        threads): one ``call_soon_threadsafe`` to start a task, one lock released when the call is
        settled. On this hop every microsecond counts, as it is paid on each call."""
        self.check_caller()
        call = _Call(coro_fn, owner)
        with self._lock:
            # Registering and scheduling under the lock orders this call strictly before or after
            # close(): either it is queued ahead of the shutdown (which cancels it), or refused.
            if self._closing or (owner is not None and owner.closed):
                raise TogglConfigError(_CLOSED)
            loop = self._loop or self._start()
            self._calls.add(call)
            loop.call_soon_threadsafe(self._begin, loop, call)
        try:
            call.finished.acquire()
        except BaseException:
            # KeyboardInterrupt (or another interruption of the wait): cancel the task and wait for
            # it to unwind, so the client stays usable and no connection is left half-read.
            self._abandon(call)
            raise
        if call.error is not None:
            raise call.error
        task = call.task
        assert task is not None  # settled without an error: the task ran
        if task.cancelled() and (self._closing or call.ended_by_close()):
            raise TogglConfigError(_CLOSED_IN_FLIGHT)
        result: T = task.result()
        return result

    def _begin(self, loop: asyncio.AbstractEventLoop, call: _Call) -> None:
        closed = self._closing or call.ended_by_close()
        if closed or call.interrupted:  # closed or interrupted before the task existed
            self._settle(call, TogglConfigError(_CLOSED) if closed else None)
            return
        try:
            task: asyncio.Task[Any] = loop.create_task(call.make())  # type: ignore[arg-type]
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            self._settle(call, exc)
            return
        call.task = task
        task.add_done_callback(lambda _: self._settle(call))

    def _settle(self, call: _Call, error: BaseException | None = None) -> None:
        """Wake the caller of ``call`` (once: whoever settles it first decides the outcome)."""
        with self._lock:
            if call not in self._calls:
                return
            self._calls.remove(call)
        if error is not None:
            call.error = error
        call.finished.release()
        if call.waiter is not None:
            call.waiter.set()

    def _settle_all(self) -> None:
        with self._lock:
            calls, self._calls = self._calls, set()
        for call in calls:
            call.error = TogglConfigError(_CLOSED_IN_FLIGHT)
            call.finished.release()
            if call.waiter is not None:
                call.waiter.set()

    def cancel_member(self, member: Member, *, wait: bool = True) -> None:
        """Refuse ``member``'s new calls and cancel its pending ones (their callers get
        :class:`TogglConfigError`, unless they finish first); the loop goes on for the others.
        With ``wait``, returns once they are settled (bounded, as :meth:`close`)."""
        self.forked()
        with self._lock:
            member.closed = True
            mine = [call for call in self._calls if call.owner is member]
            for call in mine:
                call.waiter = threading.Event()
            loop = self._loop
            if mine and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._cancel_calls, mine)
        if not wait or threading.current_thread() is self._thread:
            return
        deadline = time.monotonic() + _CLOSE_GRACE
        for call in mine:
            assert call.waiter is not None
            call.waiter.wait(max(0.0, deadline - time.monotonic()))

    @staticmethod
    def _cancel_calls(calls: list[_Call]) -> None:
        for call in calls:  # a call not started yet is settled by _begin, which sees its owner closed
            if call.task is not None:
                call.task.cancel()

    def _abandon(self, call: _Call) -> None:
        call.interrupted = True
        with self._lock:
            loop = self._loop if call in self._calls else None
            if loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._cancel, call)
            else:
                loop = None
        if loop is not None:  # settled by the cancelled task, or when the loop stops
            call.finished.acquire(timeout=_CANCEL_GRACE)

    @staticmethod
    def _cancel(call: _Call) -> None:
        if call.task is not None:
            call.task.cancel()

    def close(self, *, wait: bool = True) -> None:
        """Cancel every pending call (its caller gets :class:`TogglConfigError`, unless it finishes
        first), run :attr:`on_close`, stop the loop. Idempotent and thread-safe.

        With ``wait`` (the default) it returns once the thread has ended, bounded: a loop wedged by
        foreign code is given up on after a while, and its callers are woken from here. On the
        loop's own thread (in a callback of a call) it only starts the close: a thread cannot wait
        for itself. An interrupted wait (Ctrl-C) leaves the close to finish on the loop thread."""
        self.forked()
        with self._lock:
            first = not self._closing
            self._closing = True
            loop, thread = self._loop, self._thread
            if first and loop is not None and not loop.is_closed():
                loop.call_soon_threadsafe(self._begin_shutdown, loop)
        if thread is None or not wait or thread is threading.current_thread():
            return
        # Wait on an Event, not on Thread.join(): on Python 3.11 a join() interrupted by Ctrl-C can
        # mark a running thread as stopped. Once the event is set, the join is immediate.
        if self._ended.wait(_CLOSE_GRACE):
            thread.join(_CLOSE_GRACE)
        else:
            self._settle_all()  # the loop does not run: nobody else will wake them
        if first and self._close_error is not None:
            raise self._close_error

    def stop(self) -> None:
        """Same as :meth:`close`."""
        self.close()

    def _begin_shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        self._shutdown_task = loop.create_task(self._shutdown(loop))

    async def _shutdown(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            tasks = [call.task for call in self._calls if call.task is not None]
        for task in tasks:
            task.cancel()
        try:
            if tasks:
                await asyncio.wait(tasks, timeout=_CANCEL_GRACE)
            if self.on_close is not None:
                await asyncio.wait_for(self.on_close(), _CANCEL_GRACE)
        except Exception as exc:  # noqa: BLE001 - reported to close()'s caller
            self._close_error = exc
        finally:
            loop.stop()


def _finish(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.run()`` does after its main task: let leftover tasks unwind, finalize."""
    leftovers = asyncio.all_tasks(loop)
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.wait(leftovers, timeout=_CANCEL_GRACE))
    loop.run_until_complete(loop.shutdown_asyncgens())


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


class _Group:
    """What a ``TogglClient`` shares with its ``with_options()`` copies: one loop thread, and the
    connection pool of the first one's async client (the anchor), which the copies' clients share.
    Each member closes alone (its calls are cancelled); the last one stops the thread, which closes
    the pool. Nothing here refers to a ``TogglClient``, so that dropped members can be collected."""

    def __init__(self, name: str) -> None:
        self.runner = LoopThread(name, on_close=self._close_pools)
        self.anchor: AsyncTogglClient | None = None
        # Clients with a pool (or transport) of their own: a copy given another transport.
        self.others: weakref.WeakSet[AsyncTogglClient] = weakref.WeakSet()
        self.members = 0
        self.ended = False
        self._last: Member | None = None  # the member whose close ended the group
        self.generation = 0  # one more in each child process after fork()
        self.pid = os.getpid()
        self._lock = threading.Lock()

    async def _close_pools(self) -> None:
        for client in [self.anchor, *self.others]:
            if client is not None:
                await client._close_shared()

    def join(self) -> Member:
        with self._lock:
            if self.ended:
                raise TogglConfigError(_CLOSED)
            self.members += 1
            return Member()

    def leave(self, member: Member, *, wait: bool = True) -> None:
        """``member`` closes: its calls are cancelled; the last member stops the loop thread.
        Idempotent: a repeated (or concurrent) close waits for the same outcome."""
        with self._lock:
            if not member.left:
                member.left = True
                self.members -= 1
                if self.members <= 0:
                    self.ended = True
                    self._last = member
            last = self._last is member
        if last:
            member.closed = True
            self.runner.close(wait=wait)
        else:
            self.runner.cancel_member(member, wait=wait)

    def add(self, client: AsyncTogglClient) -> None:
        """Note the async client of a new member (whose pool the loop thread closes at the end)."""
        if self.anchor is None:
            self.anchor = client
        elif not client._shares_pool_with(self.anchor):
            self.others.add(client)

    def check_fork(self) -> None:
        """In a child process after ``fork()``: start a new generation (fresh loop, fresh pool)."""
        if self.pid == os.getpid():
            return
        self.runner.forked()
        with _FORK_LOCK:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                self._lock = threading.Lock()  # may have been held by a thread the child lacks
                _ABANDONED.extend(c for c in [self.anchor, *self.others] if c is not None)
                self.anchor = None
                self.others = weakref.WeakSet()
                self.generation += 1

    def respawn(self, client: AsyncTogglClient) -> AsyncTogglClient:
        """``client`` again, for this generation: sharing the new anchor's pool."""
        with self._lock:
            fresh = client._respawn(self.anchor)
            self.add(fresh)
            return fresh


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
        base_url: str | URL | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        user_agent: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: Transport | None = None,
    ) -> None:
        _no_session(session)
        # Validates every argument here, in the caller's thread, before any thread starts.
        client = AsyncTogglClient(auth, **pick_options(locals()))
        self._join(_Group(f"toggl-prefs-{id(self):x}"), client)

    def _join(self, group: _Group, client: AsyncTogglClient) -> None:
        self._member = group.join()
        group.add(client)
        self._group = group
        self._runner = group.runner
        self._async = client
        self._generation = group.generation
        self._closed = False
        _LIVE.add(self)
        # A dropped client leaves its group (the last one stops the loop thread, closing the
        # session). The group holds no reference to this facade, so dropping it is possible while
        # the loop runs.
        self._finalizer = weakref.finalize(self, group.leave, self._member, wait=False)
        self._finalizer.atexit = False  # at exit, _close_live_clients closes and waits instead

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A copy with ``options`` changed (see :meth:`AsyncTogglClient.with_options`), sharing this
        client's loop thread and connection pool. Each copy closes on its own (cancelling its own
        pending calls); the thread and the pool stop when the last of them closes."""
        _no_session(options.get("session"))
        if self._closed:
            raise TogglConfigError(_CLOSED)
        self._refresh()
        client = self._async.with_options(**options)
        copy = object.__new__(type(self))
        copy._join(self._group, client)
        return copy

    @property  # a new view each time: a cached one would tie the client into a reference cycle
    def with_raw_response(self) -> TogglClientWithRawResponse:
        """The endpoints again, each returning a :class:`RawResponse` (see
        :attr:`AsyncTogglClient.with_raw_response`)."""
        return TogglClientWithRawResponse(self)

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncTogglClient", type(self).__name__, 1)

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

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close this client. Idempotent and thread-safe.

        Its calls still pending in other threads (in flight, backing off, waiting for the throttle)
        are cancelled, and their callers get :class:`TogglConfigError`; a call that finishes first
        keeps its outcome. The last of a client and its :meth:`with_options` copies to close also
        closes the session and stops the loop thread, and returns once the thread has ended, except
        from inside a call (a callback on the loop thread), where it starts the close and returns."""
        self._closed = True
        _LIVE.discard(self)
        self._finalizer.detach()
        self._group.leave(self._member)

    def _refresh(self) -> None:
        """After ``fork()``: this process's own loop and session (the parent's are not ours)."""
        group = self._group
        group.check_fork()
        if self._generation != group.generation:
            _ABANDONED.append(self._async)
            self._async = group.respawn(self._async)
            self._generation = group.generation

    def _call(
        self,
        method: Callable[Concatenate[AsyncTogglClient, P], Awaitable[T]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self._closed:
            raise TogglConfigError(_CLOSED)
        if self._group.pid != os.getpid() or self._generation != self._group.generation:
            self._refresh()
        self._runner.check_caller()
        check_calling_loop(self._async.base_url)
        client = self._async
        return self._runner.run(lambda: method(client, *args, **kwargs), self._member)

    # -- mirrors of AsyncTogglClient; keep signatures identical (tests/test_sync.py checks) -----

    def get_preferences(self, *, timeout: float | None = None) -> UserPreferences:
        """Blocking :meth:`AsyncTogglClient.get_preferences`."""
        return self._call(AsyncTogglClient.get_preferences, timeout=timeout)

    def update_preferences(
        self,
        changes: PreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> None:
        """Blocking :meth:`AsyncTogglClient.update_preferences`."""
        return self._call(AsyncTogglClient.update_preferences, changes, timeout=timeout, **fields)

    def get_client_preferences(
        self, client: str, *, since: int | datetime | None = None, timeout: float | None = None
    ) -> UserPreferences:
        """Blocking :meth:`AsyncTogglClient.get_client_preferences`."""
        return self._call(AsyncTogglClient.get_client_preferences, client, since=since, timeout=timeout)

    def update_client_preferences(
        self,
        client: str,
        changes: PreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> None:
        """Blocking :meth:`AsyncTogglClient.update_client_preferences`."""
        return self._call(
            AsyncTogglClient.update_client_preferences, client, changes, timeout=timeout, **fields
        )

    def get_workspace_preferences(
        self, workspace_id: int, *, timeout: float | None = None
    ) -> WorkspacePreferences:
        """Blocking :meth:`AsyncTogglClient.get_workspace_preferences`."""
        return self._call(AsyncTogglClient.get_workspace_preferences, workspace_id, timeout=timeout)

    def update_workspace_preferences(
        self,
        workspace_id: int,
        changes: WorkspacePreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> WorkspacePreferences:
        """Blocking :meth:`AsyncTogglClient.update_workspace_preferences`."""
        return self._call(
            AsyncTogglClient.update_workspace_preferences, workspace_id, changes, timeout=timeout, **fields
        )

    def set_alpha_features(
        self, features: Mapping[str, bool], *, client: str | None = None, timeout: float | None = None
    ) -> None:
        """Blocking :meth:`AsyncTogglClient.set_alpha_features`."""
        return self._call(AsyncTogglClient.set_alpha_features, features, client=client, timeout=timeout)


def _no_session(session: object) -> None:
    if session is not None:
        raise TogglValidationError(
            "TogglClient runs its own event loop and cannot use a caller's aiohttp session "
            "(a session belongs to the loop that created it); use AsyncTogglClient to share one"
        )


def _sync_raw(
    method: Callable[Concatenate[TogglClient, P], T],
) -> Callable[Concatenate[TogglClientWithRawResponse, P], RawResponse[T]]:
    name = method.__name__

    def run(client: AsyncTogglClient, /, *args: Any, **kwargs: Any) -> Awaitable[RawResponse[Any]]:
        return capture(getattr(client, name)(*args, **kwargs))

    def call(self: TogglClientWithRawResponse, /, *args: P.args, **kwargs: P.kwargs) -> RawResponse[T]:
        result: RawResponse[T] = self._client._call(run, *args, **kwargs)
        return result

    mirror(call, method, "TogglClientWithRawResponse")
    return call


class TogglClientWithRawResponse:
    """``client.with_raw_response``: the endpoints of :class:`TogglClient` with the same arguments,
    each returning a :class:`RawResponse` whose ``.parsed`` is the method's result."""

    def __init__(self, client: TogglClient) -> None:
        self._client = client

    get_preferences = _sync_raw(TogglClient.get_preferences)
    update_preferences = _sync_raw(TogglClient.update_preferences)
    get_client_preferences = _sync_raw(TogglClient.get_client_preferences)
    update_client_preferences = _sync_raw(TogglClient.update_client_preferences)
    get_workspace_preferences = _sync_raw(TogglClient.get_workspace_preferences)
    update_workspace_preferences = _sync_raw(TogglClient.update_workspace_preferences)
    set_alpha_features = _sync_raw(TogglClient.set_alpha_features)


def check_calling_loop(base_url: str | URL, *, warn: bool = True) -> None:
    """Refuse a blocking call that can never be answered (its server runs on the calling thread's
    loop); warn about one that blocks the caller's loop. Cheap when no loop runs in this thread."""
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        return
    if serving_loop(base_url) is running:
        raise TogglConfigError(
            f"the server at {base_url} runs on the event loop of the calling thread, which this "
            "blocking call would block, so it could never answer; use AsyncTogglClient (and await "
            "it), or the threaded server (the toggl_sync_server fixture, or `with FakeTogglServer()`)"
        )
    if not warn:
        return
    warnings.warn(
        "a blocking TogglClient call was made from inside a running event loop; it blocks that loop "
        "until the call returns. Use AsyncTogglClient in async code.",
        RuntimeWarning,
        stacklevel=4,
    )
