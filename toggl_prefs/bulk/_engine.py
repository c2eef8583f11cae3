"""The bulk engine: many accounts, one connection pool, a global concurrency bound, each account's
own client (its throttle and quota) for the whole run, results streamed as they finish, an
optional journal to resume from.

Shape of a run: one dispatcher task takes a free slot, then the next account (a parked account
whose quota reset comes first), and starts one task for it; a result holds its slot until the
caller takes it, so ``concurrency`` bounds both the work in flight and the results waiting.
Nothing exists per idle slot, and every wait is O(1) to cancel, so stopping a run costs what is in
flight, not what ``concurrency`` allows."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
import attrs

from .._auth import ApiToken
from .._client import AsyncTogglClient
from .._quota import quota_wait
from .._retry import RetryBudget, RetryPolicy
from .._transport import new_session, session_has_cookie_jar
from ..errors import QuotaExceededError, TogglConfigError, TogglError, TogglFieldError, TogglValidationError
from ._accounts import Account, Duplicates, _AccountsFile, aiter_accounts, check_shard, in_shard
from ._journal import Journal
from ._result import BulkResult

log = logging.getLogger("toggl_prefs.bulk")

OnQuota = Literal["wait", "fail"]
Job = Callable[[AsyncTogglClient, Account], Awaitable[BulkResult]]
_DONE: Any = object()

MAX_CONCURRENCY = 1024
"""The most accounts a run keeps in flight: beyond it a run gains nothing (Toggl limits each
account, not the pool) and only costs sockets and memory."""
MAX_QUOTA_PARKS = 10
"""How many times an account may be parked for a spent quota before it fails with
:class:`~toggl_prefs.QuotaExceededError` (``max_quota_wait`` also caps the total wait)."""


@dataclass
class Options:
    """Everything a run needs besides the accounts and the job (checked before anything starts)."""

    concurrency: int = 64
    journal: str | Journal | None = None  # a path, or a journal its caller opened (not yet begun)
    run_id: str = ""
    identity: dict[str, Any] | None = None
    resume: bool = True
    shard: tuple[int, int] | None = None
    on_quota: OnQuota = "wait"
    max_quota_wait: float = 3600.0
    session: aiohttp.ClientSession | None = None
    client_options: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        if (
            isinstance(self.concurrency, bool)
            or not isinstance(self.concurrency, int)
            or not 1 <= self.concurrency <= MAX_CONCURRENCY
        ):
            raise TogglValidationError(
                f"concurrency must be an int from 1 to {MAX_CONCURRENCY}, not {self.concurrency!r}"
            )
        if self.on_quota not in ("wait", "fail"):
            raise TogglValidationError(f"on_quota must be 'wait' or 'fail', not {self.on_quota!r}")
        if (
            isinstance(self.max_quota_wait, bool)
            or not isinstance(self.max_quota_wait, (int, float))
            or not self.max_quota_wait >= 0
        ):
            raise TogglValidationError("max_quota_wait must be a number of seconds >= 0")
        if not isinstance(self.resume, bool):
            raise TogglFieldError(f"resume must be a bool, not {type(self.resume).__name__}")
        self.shard = check_shard(self.shard)
        check_session(self.session)
        retry = self.client_options.get("retry") or RetryPolicy()
        if retry.budget is None:
            # One budget for the whole run: when the server fails everywhere, retries stop piling on.
            retry = attrs.evolve(retry, budget=RetryBudget())
        self.client_options["retry"] = retry
        transport = self.client_options.get("transport")
        if transport is not None and not callable(getattr(transport, "with_auth", None)):
            raise TogglConfigError(
                f"a bulk run signs each account in through transport=, so {type(transport).__name__} "
                "needs a with_auth(auth) method (toggl_prefs.testing.MockTransport has one)"
            )
        # Build (and drop) one client, so that a bad client option fails here, not once per account.
        AsyncTogglClient(ApiToken("probe"), session=self.session, **self.client_options)


def check_session(session: aiohttp.ClientSession | None) -> None:
    """A caller's session for a bulk run: one that keeps cookies would send a cookie set in an
    answer to one account with the requests of every other."""
    if session is None:
        return
    if not isinstance(session, aiohttp.ClientSession):
        raise TogglFieldError(f"session must be an aiohttp.ClientSession, not {type(session).__name__}")
    if session_has_cookie_jar(session):
        raise TogglConfigError(
            "a bulk run shares its session between accounts, and this one keeps cookies (a cookie set "
            "for one account would be sent with the others' requests): create it with "
            "cookie_jar=aiohttp.DummyCookieJar()"
        )


def check_unique(accounts: Iterable[Account]) -> None:
    """Refuse an account listed twice (by key, or by credentials under two keys), naming the keys,
    never the credentials."""
    seen = Duplicates()
    for account in accounts:
        if isinstance(account, Account):  # other items are refused, in order, by the run
            _refuse_duplicate(seen, account, accounts)


def _refuse_duplicate(seen: Duplicates, account: Account, everything: Iterable[Account] | None) -> None:
    clash = seen.add(account)
    if clash == "key":
        raise TogglValidationError(f"account {account.key!r} is listed twice: each account may appear once")
    if clash == "credentials":
        from ._accounts import credential

        first = next(
            (
                a.key
                for a in everything or ()
                if isinstance(a, Account) and a.key != account.key and credential(a) == credential(account)
            ),
            None,
        )
        earlier = f"as account {first!r}" if first is not None else "as an earlier account"
        raise TogglValidationError(
            f"account {account.key!r} has the same credentials {earlier}: the same account listed twice "
            "would be applied twice"
        )


def open_journal(options: Options) -> Journal | None:
    """The run's journal, opened, locked and begun (its header written), or ``None``."""
    if isinstance(options.journal, Journal):
        options.journal.begin(options.run_id, options.identity)
        return options.journal
    if options.journal:
        return Journal(options.journal, options.run_id, identity=options.identity, resume=options.resume)
    return None


@dataclass
class _Entry:
    """An account in the run, with its own client for the whole run: its throttle spaces every
    request, a retry after a park included."""

    account: Account
    client: AsyncTogglClient | None = None
    parks: int = 0
    waited: float = 0.0


@dataclass
class _State:
    pending: int = 0  # accounts started and not finished (parked ones included)
    fed: bool = False  # every account has been read
    finished: bool = False
    stopped: bool = False


async def run_bulk(
    accounts: Iterable[Account] | AsyncIterable[Account], job: Job, options: Options
) -> AsyncGenerator[BulkResult, None]:
    """Run ``job`` for every account and yield results as they finish.

    Memory is bounded by ``concurrency`` (accounts are read as they are needed, results handed on as
    they come); stopping the iteration early cancels the work in flight and closes everything.
    Everything that can be refused is refused before the first request: options, the journal, and
    (for a list or tuple of accounts) an account listed twice; a stream of accounts is checked as
    it is read, and a duplicate stops the run."""
    options.check()
    prechecked = isinstance(accounts, _AccountsFile)
    if isinstance(accounts, Sequence):
        check_unique(accounts)
        prechecked = True
    journal = open_journal(options)
    # One pool for the run: the caller's session, else our own (unless a transport= does the sending).
    own_session = options.session is None and options.client_options.get("transport") is None
    session = new_session(limit=options.concurrency) if own_session else options.session
    slots = asyncio.Semaphore(options.concurrency)
    results: asyncio.Queue[Any] = asyncio.Queue()  # bounded by the slots its results hold
    returning: collections.deque[_Entry] = collections.deque()  # parked accounts due again
    wake = asyncio.Event()
    parked: dict[int, asyncio.TimerHandle] = {}  # id(entry) -> its wake-up call (cancelled at the end)
    state = _State()
    tasks: set[asyncio.Task[Any]] = set()
    seen = None if prechecked else Duplicates()
    loop = asyncio.get_running_loop()

    def spawn(coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        task.add_done_callback(surface)

    def surface(task: asyncio.Task[Any]) -> None:
        # A task that dies of an error (a bad accounts file, a duplicate, a journal that cannot be
        # written, a bug) ends the run with it, after the results before it.
        if not task.cancelled() and task.exception() is not None:
            state.stopped = True
            results.put_nowait(task.exception())

    def finish_if_done() -> None:
        if state.fed and state.pending == 0 and not state.finished:
            state.finished = True
            results.put_nowait(_DONE)

    def unpark(entry: _Entry) -> None:
        del parked[id(entry)]
        returning.append(entry)
        wake.set()

    def park(entry: _Entry, delay: float) -> None:
        # A timer, not a task: thousands of parked accounts cost a handle each, cancelled in O(1).
        parked[id(entry)] = loop.call_later(delay, unpark, entry)

    async def next_item(source: AsyncIterator[Account]) -> _Entry | BulkResult | None:
        """The next thing to take a slot: a parked account due again, a new account, or a skip."""
        while True:
            if returning:
                return returning.popleft()
            if state.fed:
                if state.pending == 0:
                    return None
                wake.clear()
                await wake.wait()
                continue
            account = await anext(source, None)
            if account is None:
                state.fed = True
                finish_if_done()
                continue
            if seen is not None:
                _refuse_duplicate(seen, account, None)
            if not in_shard(account.key, options.shard):
                continue
            if journal is not None and account.key in journal.done:
                return BulkResult(account.key, ok=True, skipped=True)
            state.pending += 1
            return _Entry(account)

    async def dispatch() -> None:
        source = aiter_accounts(accounts)
        while not state.stopped:
            await slots.acquire()
            item = await next_item(source)
            if item is None:
                slots.release()
                return
            if isinstance(item, BulkResult):
                results.put_nowait(item)  # holds its slot until the caller takes it
            else:
                spawn(run_one(item))

    async def attempt(entry: _Entry) -> BulkResult | None:
        """One go at an account: its result, or ``None`` when it was parked for its quota."""
        account = entry.account
        if entry.client is None:
            entry.client = AsyncTogglClient(account.auth, session=session, **options.client_options)
        client = entry.client
        try:
            return await job(client, account)
        except QuotaExceededError as exc:
            wait = quota_wait(exc.resets_in)
            if (
                options.on_quota == "wait"
                and entry.parks < MAX_QUOTA_PARKS
                and entry.waited + wait <= options.max_quota_wait
            ):
                entry.parks += 1
                entry.waited += wait
                log.info(
                    "%s: quota spent; parked for %.0fs (%d of at most %d)",
                    account.key,
                    wait,
                    entry.parks,
                    MAX_QUOTA_PARKS,
                )
                park(entry, wait)
                return None
            return BulkResult(account.key, ok=False, error=exc, attempts=client._attempts_made)
        except TogglValidationError:
            raise  # the caller's mistake (an update function's bad value): the run stops
        except TogglError as exc:
            return BulkResult(account.key, ok=False, error=exc, attempts=client._attempts_made)

    async def run_one(entry: _Entry) -> None:
        try:
            result = await attempt(entry)
        except BaseException:
            slots.release()
            raise
        if result is None:
            slots.release()
            return
        if journal is not None:
            try:
                journal.record(result)
            except Exception:
                state.stopped = True
                results.put_nowait(result)  # sent, so reported, though not journaled
                raise
        results.put_nowait(result)
        state.pending -= 1
        finish_if_done()

    try:
        spawn(dispatch())
        while True:
            item = await results.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                raise item
            slots.release()
            yield item
        if journal is not None:
            # Only here, at a clean end: an exception, a cancellation or an early close skips it.
            journal.finish(options.shard)
    finally:
        for handle in parked.values():
            handle.cancel()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if journal is not None:
            journal.close()
        if own_session and session is not None:
            await session.close()
