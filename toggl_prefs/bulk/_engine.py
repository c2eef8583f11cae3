"""The bulk engine: many accounts, one connection pool, a global concurrency bound, each account's
own throttle and quota, results streamed as they finish, an optional journal to resume from."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import attrs

from .._client import AsyncTogglClient
from .._retry import RetryBudget, RetryPolicy
from .._transport import new_session
from ..errors import QuotaExceededError, TogglError, TogglValidationError
from ._accounts import Account, aiter_accounts, check_shard, in_shard
from ._journal import Journal
from ._result import BulkResult

log = logging.getLogger("toggl_prefs.bulk")

OnQuota = Literal["wait", "fail"]
Job = Callable[[AsyncTogglClient, Account], Awaitable[BulkResult]]
_DONE: Any = object()
DEFAULT_QUOTA_WAIT = 60.0  # when a spent quota does not say when it resets


@dataclass
class Options:
    """Everything a run needs besides the accounts and the job (checked before anything starts)."""

    concurrency: int = 64
    journal: str | None = None
    run_id: str = ""
    shard: tuple[int, int] | None = None
    on_quota: OnQuota = "wait"
    max_quota_wait: float = 3600.0
    session: aiohttp.ClientSession | None = None
    client_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if (
            isinstance(self.concurrency, bool)
            or not isinstance(self.concurrency, int)
            or self.concurrency < 1
        ):
            raise TogglValidationError(f"concurrency must be an int >= 1, not {self.concurrency!r}")
        if self.on_quota not in ("wait", "fail"):
            raise TogglValidationError(f"on_quota must be 'wait' or 'fail', not {self.on_quota!r}")
        if not self.max_quota_wait >= 0:
            raise TogglValidationError("max_quota_wait must be >= 0 seconds")
        self.shard = check_shard(self.shard)
        retry = self.client_options.get("retry") or RetryPolicy()
        if retry.budget is None:
            # One budget for the whole run: when the server fails everywhere, retries stop piling on.
            retry = attrs.evolve(retry, budget=RetryBudget())
        self.client_options["retry"] = retry


async def run_bulk(
    accounts: Iterable[Account] | AsyncIterable[Account], job: Job, options: Options
) -> AsyncIterator[BulkResult]:
    """Run ``job`` for every account and yield results as they finish.

    Memory is bounded by ``concurrency`` (accounts are read as they are needed, results handed on as
    they come); stopping the iteration early cancels the work in flight and closes everything."""
    options.check()
    journal = Journal(options.journal, options.run_id) if options.journal else None
    own_session = options.session is None
    session = new_session(limit=options.concurrency) if own_session else options.session
    assert session is not None
    todo: asyncio.Queue[Account] = asyncio.Queue(maxsize=options.concurrency)
    results: asyncio.Queue[Any] = asyncio.Queue(maxsize=options.concurrency * 2)
    state = _State()
    tasks: set[asyncio.Task[Any]] = set()

    def spawn(coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(surface)

    def surface(task: asyncio.Task[Any]) -> None:
        # A task that dies of an unexpected error (a bug, a bad accounts file) ends the run with it.
        if not task.cancelled() and task.exception() is not None:
            spawn(results.put(task.exception()))

    def finish_if_done() -> None:
        if state.fed and state.pending == 0 and not state.finished:
            state.finished = True
            spawn(results.put(_DONE))

    async def feed() -> None:
        async for account in aiter_accounts(accounts):
            if not in_shard(account.key, options.shard):
                continue
            if journal is not None and account.key in journal.done:
                await results.put(BulkResult(account.key, ok=True, skipped=True))
                continue
            state.pending += 1
            await todo.put(account)
        state.fed = True
        finish_if_done()

    async def park(account: Account, delay: float) -> None:
        await asyncio.sleep(delay)
        await todo.put(account)

    async def work() -> None:
        while True:
            account = await todo.get()
            client = AsyncTogglClient(account.auth, session=session, **options.client_options)
            try:
                result = await job(client, account)
            except QuotaExceededError as exc:
                wait = exc.resets_in if exc.resets_in is not None else DEFAULT_QUOTA_WAIT
                if options.on_quota == "wait" and wait <= options.max_quota_wait:
                    log.info("%s: quota spent; parked for %.0fs", account.key, wait)
                    spawn(park(account, float(wait)))
                    continue  # still pending: it comes back when its window resets
                result = BulkResult(account.key, ok=False, error=exc, attempts=client._attempts_made)
            except TogglValidationError:
                raise  # the caller's mistake (an update function's bad value): the run stops, as before
            except TogglError as exc:
                result = BulkResult(account.key, ok=False, error=exc, attempts=client._attempts_made)
            if journal is not None:
                journal.record(result)
            await results.put(result)
            state.pending -= 1
            finish_if_done()

    try:
        spawn(feed())
        for _ in range(options.concurrency):
            spawn(work())
        while True:
            item = await results.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if journal is not None:
            journal.close()
        if own_session:
            await session.close()


@dataclass
class _State:
    pending: int = 0
    fed: bool = False
    finished: bool = False
