"""The bulk operations: :func:`fetch_all`, :func:`apply_all` and :func:`clone_all` (re-exported by
:mod:`toggl_prefs.bulk`, which documents them; :mod:`toggl_prefs.bulk.sync` wraps them)."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._client import AsyncTogglClient
from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._options import ClientConfig, ClientOptions, check_option_names
from .._targets import Target, read_preferences, write_preferences
from .._urls import since_param
from ..errors import TogglError, TogglFieldError, TogglValidationError
from ._accounts import Account
from ._engine import Job, OnQuota, Options, check_session, check_unique, run_bulk
from ._identity import check_run_id, describe_update
from ._journal import Journal, fingerprint
from ._result import BulkResult

if TYPE_CHECKING:
    from typing_extensions import Unpack  # in typing from 3.11 only


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
    client_options: ClientOptions,
) -> Options:
    # The run's own options are checked by run_bulk, before anything is read or sent; the client
    # options here (all of them, as the clients take them), as early.
    config = ClientConfig.build(client_options, where="a bulk run")
    run_id = check_run_id(run_id)
    identity: dict[str, Any] | None = None
    if journal is not None:
        # Everything that decides what is sent and where; computed only for a journal (a function
        # that cannot be fingerprinted is fine without one).
        identity = {"base_url": str(config.base_url), "run_id": run_id, **run()}
    resolved = config.as_options()
    session = resolved.pop("session")
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
        client_options=resolved,
    )


def _since(since: int | datetime | None) -> int | None:
    return None if since is None else int(since_param(since))


def _target(client: str | None, workspace_id: int | None) -> tuple[str | None, int | None]:
    target = Target.of(client, workspace_id)
    return target.client, target.workspace_id


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
    **options: Unpack[ClientOptions],
) -> AsyncIterator[BulkResult]:
    """Fetch every account's preferences (a ``client`` type's, or a workspace's with
    ``workspace_id``); yields a :class:`BulkResult` per account as it finishes, ``value`` holding
    the preferences. ``**options`` are the clients' (:class:`~toggl_prefs.ClientOptions`)."""
    client_type, ws = _target(client, workspace_id)
    Target(client_type, ws).read_options(since)  # a since its endpoint does not take: refused, not dropped
    plan = _options(
        concurrency=concurrency,
        journal=journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        client_options=options,
        run=lambda: {"op": "fetch", "client": client_type, "workspace": ws, "since": _since(since)},
    )

    async def job(toggl: AsyncTogglClient, account: Account) -> BulkResult:
        prefs = await read_preferences(toggl, client_type, ws, since)
        return BulkResult(account.key, ok=True, value=prefs, attempts=toggl._attempts_made)

    # aclosing: stopping this generator closes the run at once (its tasks, its connections), not
    # whenever the garbage collector finalizes the inner generator.
    async with contextlib.aclosing(run_bulk(accounts, job, plan)) as results:
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
    **options: Unpack[ClientOptions],
) -> AsyncIterator[BulkResult]:
    """Bring every account to ``update``: read its preferences, send only the fields that differ,
    and leave an account that already complies alone (a saved request is saved quota).

    ``update`` is a :class:`~toggl_prefs.PreferencesUpdate` (a
    :class:`~toggl_prefs.WorkspacePreferencesUpdate` with ``workspace_id``), or a function of the
    account's current preferences returning one (or ``None`` for "leave it"). ``dry_run`` reads and
    reports each account's diff (``value``) without sending (and writes no journal).
    ``result.changed`` says whether an update was (or would be) sent.

    ``journal``, ``run_id`` and ``resume``: see :mod:`toggl_prefs.bulk`. ``**options`` are the
    clients' (:class:`~toggl_prefs.ClientOptions`)."""
    client_type, ws = _target(client, workspace_id)
    expected = Target(client_type, ws).update_model
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
    plan = _options(
        concurrency=concurrency,
        journal=None if dry_run else journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        client_options=options,
        run=lambda: {
            "op": "apply",
            "client": client_type,
            "workspace": ws,
            "update": describe_update(update, run_id),
        },
    )
    job = _apply_job(update_for, expected, client_type, ws, dry_run=dry_run)
    # aclosing: stopping this generator closes the run at once (its tasks, its connections), not
    # whenever the garbage collector finalizes the inner generator.
    async with contextlib.aclosing(run_bulk(accounts, job, plan)) as results:
        async for result in results:
            yield result


def _apply_job(
    update_for: Callable[[Any], Any],
    expected: type[PreferencesUpdate | WorkspacePreferencesUpdate],
    client_type: str | None,
    ws: int | None,
    *,
    dry_run: bool,
) -> Job:
    """What an apply (or a clone) does for one account."""

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

    return job


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
    **options: Unpack[ClientOptions],
) -> AsyncIterator[BulkResult]:
    """Copy ``source``'s preferences (read-only fields left out) onto every other account, sending
    each only what differs. The source account itself is skipped if it is among ``accounts``.
    ``**options`` are the clients' (:class:`~toggl_prefs.ClientOptions`)."""
    client_type, _ = _target(client, None)
    check_option_names(options, "clone_all()")
    check_session(options.get("session"))  # before the source is read with it
    if isinstance(accounts, Sequence):
        check_unique(accounts)  # before anything is sent (the run cannot see the list in others())
    # Everything that can be refused is refused before the source is read (a GET costs quota): the
    # run's options, and the journal (its file, its lock, and its identity as far as it is known
    # before the source's preferences are, which complete it). The journal stays open, and locked,
    # from here to the run's end.
    plan = _options(
        concurrency=concurrency,
        journal=None if dry_run else journal,
        run_id=run_id,
        resume=resume,
        shard=shard,
        on_quota=on_quota,
        max_quota_wait=max_quota_wait,
        client_options=options,
        run=lambda: {"op": "apply", "client": client_type, "workspace": None},
    )
    plan.check()
    opened = Journal(journal, None, resume=resume) if journal is not None and not dry_run else None
    try:
        if opened is not None and plan.identity is not None:
            opened.expect(plan.identity)
        async with AsyncTogglClient(source.auth, **options) as reader:
            try:
                prefs = await read_preferences(reader, client_type)
            except TogglError as exc:
                raise TogglError(f"cannot read the source account {source.key!r}: {exc}") from exc
        update = PreferencesUpdate.from_preferences(prefs)
        if update.is_empty():
            raise TogglValidationError(
                f"the source account {source.key!r} carries no writable preference to clone"
            )
        if opened is not None and plan.identity is not None:
            # The identity apply_all gives the same update: a clone is resumed by the same clone.
            plan.identity = {**plan.identity, "update": describe_update(update, run_id)}
            plan.run_id, plan.journal = fingerprint(plan.identity), opened
        job = _apply_job(lambda _: update, PreferencesUpdate, client_type, None, dry_run=dry_run)
        async with contextlib.aclosing(run_bulk(_others(source, accounts), job, plan)) as results:
            async for result in results:
                yield result
    finally:
        if opened is not None:
            opened.close()  # the run closed it; unless it never started


async def _others(
    source: Account, accounts: Iterable[Account] | AsyncIterable[Account]
) -> AsyncIterator[Account]:
    """``accounts`` without the source account."""
    if isinstance(accounts, AsyncIterable):
        async for account in accounts:
            if account.key != source.key:
                yield account
    else:
        for account in accounts:
            if account.key != source.key:
                yield account
