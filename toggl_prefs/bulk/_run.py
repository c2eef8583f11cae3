"""The bulk operations: :func:`fetch_all`, :func:`apply_all` and :func:`clone_all` (re-exported by
:mod:`toggl_prefs.bulk`, which documents them; :mod:`toggl_prefs.bulk.sync` wraps them)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import aiohttp
from yarl import URL

from .._client import _DEFAULT_RETRY, AsyncTogglClient
from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._retry import RetryPolicy
from .._targets import read_preferences, write_preferences
from .._transport import DEFAULT_TIMEOUT
from .._urls import DEFAULT_BASE_URL, check_base_url, check_client, check_workspace_id, since_param
from ..errors import TogglError, TogglFieldError, TogglValidationError
from ._accounts import Account
from ._engine import OnQuota, Options, check_session, check_unique, run_bulk
from ._identity import check_run_id, describe_update
from ._journal import fingerprint
from ._result import BulkResult


def _options(
    *,
    concurrency: int,
    journal: str | Path | None,
    run_id: str | None,
    resume: bool,
    run: Callable[[], dict[str, Any]],
    shard: tuple[int, int] | None,
    on_quota: OnQuota,
    max_quota_wait: float,
    session: aiohttp.ClientSession | None,
    base_url: str | URL,
    timeout: float,
    retry: RetryPolicy,
    rate_limit: float | None,
    user_agent: str | None,
) -> Options:
    # Not checked here: run_bulk checks the options before anything is read or sent.
    url = check_base_url(base_url)
    run_id = check_run_id(run_id)
    identity: dict[str, Any] | None = None
    if journal is not None:
        # Everything that decides what is sent and where; computed only for a journal (a function
        # that cannot be fingerprinted is fine without one).
        identity = {"base_url": str(url), "run_id": run_id, **run()}
    return Options(
        concurrency=concurrency,
        journal=str(journal) if journal is not None else None,
        run_id=fingerprint(identity) if identity is not None else "",
        identity=identity,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        session=session,
        client_options={
            "base_url": url,
            "timeout": timeout,
            "retry": retry,
            "rate_limit": rate_limit,
            "user_agent": user_agent,
        },
    )


def _since(since: int | datetime | None) -> int | None:
    return None if since is None else int(since_param(since))


def _target(client: str | None, workspace_id: int | None) -> tuple[str | None, int | None]:
    if client is not None and workspace_id is not None:
        raise TogglValidationError("give client or workspace_id, not both")
    return (
        None if client is None else check_client(client),
        None if workspace_id is None else check_workspace_id(workspace_id),
    )


async def fetch_all(
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
) -> AsyncIterator[BulkResult]:
    """Fetch every account's preferences (a ``client`` type's, or a workspace's with
    ``workspace_id``); yields a :class:`BulkResult` per account as it finishes, ``value`` holding
    the preferences."""
    client_type, ws = _target(client, workspace_id)
    options = _options(
        concurrency=concurrency,
        journal=journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        session=session,
        base_url=base_url,
        timeout=timeout,
        retry=retry,
        rate_limit=rate_limit,
        user_agent=user_agent,
        run=lambda: {"op": "fetch", "client": client_type, "workspace": ws, "since": _since(since)},
    )

    async def job(toggl: AsyncTogglClient, account: Account) -> BulkResult:
        prefs = await read_preferences(toggl, client_type, ws, since)
        return BulkResult(account.key, ok=True, value=prefs, attempts=toggl._attempts_made)

    # aclosing: stopping this generator closes the run at once (its tasks, its connections), not
    # whenever the garbage collector finalizes the inner generator.
    async with contextlib.aclosing(run_bulk(accounts, job, options)) as results:
        async for result in results:
            yield result


async def apply_all(
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
) -> AsyncIterator[BulkResult]:
    """Bring every account to ``update``: read its preferences, send only the fields that differ,
    and leave an account that already complies alone (a saved request is saved quota).

    ``update`` is a :class:`~toggl_prefs.PreferencesUpdate` (a
    :class:`~toggl_prefs.WorkspacePreferencesUpdate` with ``workspace_id``), or a function of the
    account's current preferences returning one (or ``None`` for "leave it"). ``dry_run`` reads and
    reports each account's diff (``value``) without sending (and writes no journal).
    ``result.changed`` says whether an update was (or would be) sent.

    ``journal``, ``run_id`` and ``resume``: see :mod:`toggl_prefs.bulk`."""
    client_type, ws = _target(client, workspace_id)
    expected = WorkspacePreferencesUpdate if ws is not None else PreferencesUpdate
    update_for: Callable[[Any], Any]
    if not callable(update) or isinstance(update, (PreferencesUpdate, WorkspacePreferencesUpdate)):
        if not isinstance(update, expected):
            raise TogglFieldError(f"update must be a {expected.__name__} (or a function returning one)")
        if update.is_empty():
            raise TogglValidationError(f"nothing to apply: the {expected.__name__} sets no field")
        fixed = update
        update_for = lambda _: fixed  # noqa: E731
    else:
        update_for = update
    options = _options(
        concurrency=concurrency,
        journal=None if dry_run else journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        session=session,
        base_url=base_url,
        timeout=timeout,
        retry=retry,
        rate_limit=rate_limit,
        user_agent=user_agent,
        run=lambda: {
            "op": "apply",
            "client": client_type,
            "workspace": ws,
            "update": describe_update(update, run_id),
        },
    )

    async def job(toggl: AsyncTogglClient, account: Account) -> BulkResult:
        current = await read_preferences(toggl, client_type, ws)
        wanted = update_for(current)
        if inspect.isawaitable(wanted):
            wanted = await wanted
        if wanted is not None and not isinstance(wanted, expected):
            raise TogglFieldError(
                f"the update function returned {type(wanted).__name__}, not {expected.__name__}"
            )
        diff = None if wanted is None else wanted.without_unchanged(current)
        if diff is None or diff.is_empty():
            return BulkResult(account.key, ok=True, changed=False, attempts=toggl._attempts_made)
        if not dry_run:
            await write_preferences(toggl, diff, client_type, ws)
        return BulkResult(
            account.key, ok=True, value=diff, changed=True, attempts=toggl._attempts_made, dry_run=dry_run
        )

    # aclosing: stopping this generator closes the run at once (its tasks, its connections), not
    # whenever the garbage collector finalizes the inner generator.
    async with contextlib.aclosing(run_bulk(accounts, job, options)) as results:
        async for result in results:
            yield result


async def clone_all(
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
) -> AsyncIterator[BulkResult]:
    """Copy ``source``'s preferences (read-only fields left out) onto every other account, sending
    each only what differs. The source account itself is skipped if it is among ``accounts``."""
    client_type, _ = _target(client, None)
    check_session(session)  # before the source is read with it
    if isinstance(accounts, Sequence):
        check_unique(accounts)  # before anything is sent (the run cannot see the list in others())
    async with AsyncTogglClient(
        source.auth,
        base_url=base_url,
        timeout=timeout,
        retry=retry,
        rate_limit=rate_limit,
        user_agent=user_agent,
        session=session,
    ) as reader:
        try:
            prefs = await read_preferences(reader, client_type)
        except TogglError as exc:
            raise TogglError(f"cannot read the source account {source.key!r}: {exc}") from exc
    update = PreferencesUpdate.from_preferences(prefs)
    if update.is_empty():
        raise TogglValidationError(
            f"the source account {source.key!r} carries no writable preference to clone"
        )

    async def others() -> AsyncIterator[Account]:
        if isinstance(accounts, AsyncIterable):
            async for account in accounts:
                if account.key != source.key:
                    yield account
        else:
            for account in accounts:
                if account.key != source.key:
                    yield account

    cloned = apply_all(
        others(),
        update,
        client=client_type,
        dry_run=dry_run,
        concurrency=concurrency,
        journal=journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        session=session,
        base_url=base_url,
        timeout=timeout,
        retry=retry,
        rate_limit=rate_limit,
        user_agent=user_agent,
    )
    async with contextlib.aclosing(cast(AsyncGenerator[BulkResult, None], cloned)) as results:
        async for result in results:
            yield result
