"""Blocking twins of :mod:`toggl_prefs.bulk`: the same names, arguments and results, as plain
iterators. Each run drives its async twin on a private event-loop thread; stopping the iteration
early (``break``, an exception, ``close()``) closes the async run, cancelling the work in flight."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._options import resolve_base_url
from .._sync import LoopThread, check_calling_loop
from ..errors import TogglValidationError
from . import _run
from ._accounts import Account
from ._engine import OnQuota
from ._result import BulkResult

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from 3.11 only

    from .._options import ClientOptions

__all__ = ["apply_all", "clone_all", "fetch_all"]


def _iterate(make: Callable[[], AsyncIterator[BulkResult]]) -> Iterator[BulkResult]:
    runner = LoopThread("toggl-prefs-bulk")
    agen: AsyncIterator[BulkResult] | None = None

    async def start() -> AsyncIterator[BulkResult]:
        return make()  # created on the loop thread, so its tasks and session belong to that loop

    try:
        agen = runner.run(start)
        step = agen.__anext__
        while True:
            try:
                yield runner.run(step)
            except StopAsyncIteration:
                return
    finally:
        if runner.thread is threading.current_thread():
            # The last reference went on the run's own loop thread (a garbage collection there, or
            # a callback that dropped it), which cannot wait for itself: another thread closes it.
            threading.Thread(target=_close, args=(runner, agen), name="toggl-prefs-bulk-close").start()
        else:
            _close(runner, agen)


def _close(runner: LoopThread, agen: AsyncIterator[BulkResult] | None) -> None:
    """Close the run (its tasks, session and journal), then its loop thread, whatever happens."""
    try:
        closer = getattr(agen, "aclose", None)
        if closer is not None:
            runner.run(closer)
    finally:
        runner.stop()


def _check(options: Mapping[str, Any]) -> None:
    """What only the blocking twins refuse, before their thread starts."""
    if options.get("session") is not None:
        raise TogglValidationError(
            "the blocking bulk functions run their own event loop and cannot use a caller's aiohttp "
            "session; use toggl_prefs.bulk (async) to share one"
        )
    # A server on this thread's loop could never answer a run that blocks it: a sure hang.
    check_calling_loop(resolve_base_url(options.get("base_url")), warn=False)


def fetch_all(
    accounts: Iterable[Account] | AsyncIterable[Account],
    *,
    client: str | None = None,
    workspace_id: int | None = None,
    since: int | datetime | None = None,
    concurrency: int = 64,
    journal: str | Path | None = None,
    run_id: str | None = None,
    resume: bool = True,
    shard: tuple[int, int] | None = None,
    on_quota: OnQuota = "wait",
    max_quota_wait: float = 3600.0,
    **options: Unpack[ClientOptions],
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.fetch_all`."""
    run = dict(locals())
    accounts = run.pop("accounts")
    run.update(run.pop("options"))
    _check(options)
    return _iterate(lambda: _run.fetch_all(accounts, **run))


def apply_all(
    accounts: Iterable[Account] | AsyncIterable[Account],
    update: PreferencesUpdate | WorkspacePreferencesUpdate | Callable[[Any], Any],
    *,
    client: str | None = None,
    workspace_id: int | None = None,
    dry_run: bool = False,
    concurrency: int = 64,
    journal: str | Path | None = None,
    run_id: str | None = None,
    resume: bool = True,
    shard: tuple[int, int] | None = None,
    on_quota: OnQuota = "wait",
    max_quota_wait: float = 3600.0,
    **options: Unpack[ClientOptions],
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.apply_all`."""
    run = dict(locals())
    accounts, update = run.pop("accounts"), run.pop("update")
    run.update(run.pop("options"))
    _check(options)
    return _iterate(lambda: _run.apply_all(accounts, update, **run))


def clone_all(
    source: Account,
    accounts: Iterable[Account] | AsyncIterable[Account],
    *,
    client: str | None = None,
    dry_run: bool = False,
    concurrency: int = 64,
    journal: str | Path | None = None,
    run_id: str | None = None,
    resume: bool = True,
    shard: tuple[int, int] | None = None,
    on_quota: OnQuota = "wait",
    max_quota_wait: float = 3600.0,
    **options: Unpack[ClientOptions],
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.clone_all`."""
    run = dict(locals())
    source, accounts = run.pop("source"), run.pop("accounts")
    run.update(run.pop("options"))
    _check(options)
    return _iterate(lambda: _run.clone_all(source, accounts, **run))
