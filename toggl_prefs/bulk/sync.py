"""Blocking twins of :mod:`toggl_prefs.bulk`: the same names, arguments and results, as plain
iterators. Each run drives its async twin on a private event-loop thread; stopping the iteration
early (``break``, an exception, ``close()``) closes the async run, cancelling the work in flight."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from yarl import URL

from .._client import _DEFAULT_RETRY
from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._retry import RetryPolicy
from .._sync import LoopThread, check_calling_loop
from .._transport import DEFAULT_TIMEOUT
from .._urls import DEFAULT_BASE_URL
from ..errors import TogglValidationError
from . import _run
from ._accounts import Account
from ._engine import OnQuota
from ._result import BulkResult

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
        if agen is not None:
            closer = getattr(agen, "aclose", None)
            if closer is not None:
                runner.run(closer)
        runner.stop()


def _no_session(session: aiohttp.ClientSession | None) -> None:
    if session is not None:
        raise TogglValidationError(
            "the blocking bulk functions run their own event loop and cannot use a caller's aiohttp "
            "session; use toggl_prefs.bulk (async) to share one"
        )


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
    session: aiohttp.ClientSession | None = None,
    base_url: str | URL = DEFAULT_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy = _DEFAULT_RETRY,
    rate_limit: float | None = 1.0,
    user_agent: str | None = None,
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.fetch_all`."""
    options = dict(locals())
    accounts = options.pop("accounts")
    _no_session(session)
    check_calling_loop(base_url, warn=False)  # its server on this thread's loop: a sure hang
    return _iterate(lambda: _run.fetch_all(accounts, **options))


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
    session: aiohttp.ClientSession | None = None,
    base_url: str | URL = DEFAULT_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy = _DEFAULT_RETRY,
    rate_limit: float | None = 1.0,
    user_agent: str | None = None,
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.apply_all`."""
    options = dict(locals())
    accounts, update = options.pop("accounts"), options.pop("update")
    _no_session(session)
    check_calling_loop(base_url, warn=False)  # its server on this thread's loop: a sure hang
    return _iterate(lambda: _run.apply_all(accounts, update, **options))


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
    session: aiohttp.ClientSession | None = None,
    base_url: str | URL = DEFAULT_BASE_URL,
    timeout: float = DEFAULT_TIMEOUT,
    retry: RetryPolicy = _DEFAULT_RETRY,
    rate_limit: float | None = 1.0,
    user_agent: str | None = None,
) -> Iterator[BulkResult]:
    """Blocking :func:`toggl_prefs.bulk.clone_all`."""
    options = dict(locals())
    source, accounts = options.pop("source"), options.pop("accounts")
    _no_session(session)
    check_calling_loop(base_url, warn=False)  # its server on this thread's loop: a sure hang
    return _iterate(lambda: _run.clone_all(source, accounts, **options))
