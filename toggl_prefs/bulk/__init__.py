"""Bulk operations over many accounts: fetch, apply, clone.

>>> from toggl_prefs.bulk import load_accounts, apply_all
>>> async for r in apply_all(load_accounts("accounts.csv"), PreferencesUpdate(theme="dark"),
...                          journal="run.jsonl"):                       # doctest: +SKIP
...     print(r.key, r.status)

Every run shares one connection pool (without a cookie jar) between all accounts, keeps
``concurrency`` accounts in flight (at most :data:`MAX_CONCURRENCY`), spaces each account's
requests by its own throttle (``rate_limit``, 1/s by default, as Toggl asks per token) for the whole
run, parks an account whose hourly quota is spent until it resets (at least 1 s, at most
:data:`MAX_QUOTA_PARKS` times and ``max_quota_wait`` seconds in all; or reports it at once:
``on_quota="fail"``), and shares one retry budget so a failing server is not stormed. An account
listed twice (by key, or by credentials under two keys) is refused. Results stream out as accounts
finish.

Each function also takes the clients' options (:class:`~toggl_prefs.ClientOptions`: ``base_url``,
``timeout``, ``retry`` or ``max_retries``, ``rate_limit``, ``session``, ``user_agent``,
``max_response_bytes``, ``transport``), checked before anything is sent. A ``transport`` must have
``with_auth(auth)``: the run signs each account in through it (and does not close it).

A ``journal`` (a JSON-lines file, see :mod:`toggl_prefs.bulk._journal`) makes a run resumable after
a crash or Ctrl-C: a re-run of the same run skips the accounts it records as done. It is opened,
and written to, before the first request (:class:`JournalOpenError` otherwise), and it is only ever
resumed by the same run: the same operation, target, ``base_url`` and update (a function's code,
defaults and the values it closes over count; one that cannot be fingerprinted needs
``run_id="..."``, a name the caller vouches for). Another run's journal is a
:class:`JournalMismatchError`; ``resume=False`` starts it afresh. One run at a time writes a
journal: it is locked for the run's duration, and a second run on it is a
:class:`JournalLockedError` (POSIX only: without ``fcntl`` nothing is locked). A write that fails
mid-run (a full disk) stops the run with :class:`JournalWriteError` after the results so far. A run
that goes through all its accounts (the iteration runs to its end) marks its journal finished,
which ``toggl-prefs bulk report`` reads; a run stopped early (an error, a cancellation, a ``break``)
does not.

The blocking twins of these functions are in :mod:`toggl_prefs.bulk.sync`.
"""

from __future__ import annotations

from . import sync
from ._accounts import Account, AccountsFileError, in_shard, iter_accounts, load_accounts, write_accounts_csv
from ._engine import MAX_CONCURRENCY, MAX_QUOTA_PARKS
from ._journal import (
    Journal,
    JournalError,
    JournalLockedError,
    JournalMismatchError,
    JournalOpenError,
    JournalWriteError,
    read_journal,
    read_journal_header,
)
from ._report import merge_journals
from ._result import BulkResult, BulkSummary
from ._run import apply_all, clone_all, fetch_all

__all__ = [
    "Account",
    "AccountsFileError",
    "BulkResult",
    "BulkSummary",
    "Journal",
    "JournalError",
    "JournalLockedError",
    "JournalMismatchError",
    "JournalOpenError",
    "JournalWriteError",
    "MAX_CONCURRENCY",
    "MAX_QUOTA_PARKS",
    "apply_all",
    "clone_all",
    "fetch_all",
    "in_shard",
    "iter_accounts",
    "load_accounts",
    "merge_journals",
    "read_journal",
    "read_journal_header",
    "sync",
    "write_accounts_csv",
]
