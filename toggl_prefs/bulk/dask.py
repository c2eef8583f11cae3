"""Bulk apply across a Dask cluster: one task per shard, each shard's journal on storage you name,
one merged summary. Needs the ``dask`` extra (``pip install 'toggl-prefs[dask]'``).

>>> from distributed import Client
>>> from toggl_prefs import PreferencesUpdate
>>> from toggl_prefs.bulk.dask import run_on_dask
>>> with Client("tcp://scheduler:8786") as client:                              # doctest: +SKIP
...     summary = run_on_dask(client, "/shared/accounts.csv", PreferencesUpdate(theme="dark"),
...                           shards=8, journal_dir="/shared/theme-run")
>>> summary.by_status, summary.failed_keys, summary.unfinished                  # doctest: +SKIP

Each task is :func:`run_shard`: it reads the accounts file itself (so credentials travel through
the file system you already trust, never through the task graph), applies ``update`` to the
accounts of its shard (the stable ``shard=(i, n)`` split), journals every outcome to
``journal_dir/journal-{i}-of-{n}.jsonl``, and the run itself marks the journal finished at its
end. A shard whose worker dies is run again by Dask and resumes from its journal; calling
:func:`run_on_dask` again with the same arguments resumes every unfinished shard.
``toggl-prefs bulk report journal_dir/journal-*.jsonl`` (or
:func:`toggl_prefs.bulk.merge_journals`) reports on a run at any time, from any machine.

:func:`run_shard` needs no Dask: run it yourself on each machine (a batch job per shard), or run
``toggl-prefs bulk apply --shard I/N --journal ...`` (or ``apply_all(shard=(i, n), journal=...)``)
there, whose journals end the same way, and report on the journals afterwards.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._constants import DEFAULT_RATE_LIMIT
from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._options import ClientOptions, check_option_names, resolve_base_url
from ..errors import TogglValidationError
from . import sync
from ._accounts import Account, check_shard, in_shard, iter_accounts
from ._engine import OnQuota
from ._identity import check_run_id, describe_update
from ._lock import lock, unlock
from ._report import journal_name, merge, merge_summaries, read_shard_journal
from ._result import BulkSummary

if TYPE_CHECKING:
    from distributed import Client
    from typing_extensions import Unpack  # in typing from 3.11 only

__all__ = ["run_on_dask", "run_shard"]

Update = PreferencesUpdate | WorkspacePreferencesUpdate | Callable[[Any], Any]


class _Accounts(tuple[Account, ...]):
    """Accounts given as objects, on their way to a worker: a repr without a single credential,
    should Dask log the task that carries them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{len(self)} accounts>"


def run_shard(
    accounts: str | os.PathLike[str] | Iterable[Account],
    update: Update,
    *,
    shard: tuple[int, int],
    journal_dir: str | os.PathLike[str],
    run_id: str | None = None,
    resume: bool = True,
    client_type: str | None = None,
    workspace_id: int | None = None,
    concurrency: int = 64,
    on_quota: OnQuota = "wait",
    max_quota_wait: float = 3600.0,
    **options: Unpack[ClientOptions],
) -> BulkSummary:
    """Apply ``update`` to shard ``(i, n)`` of ``accounts`` (a CSV / JSON-lines accounts file, or
    :class:`~toggl_prefs.bulk.Account` objects), journaling to ``journal_dir/journal-{i}-of-{n}.jsonl``
    and resuming from it (``resume=False`` starts it afresh); returns the summary of that journal,
    its ``shards`` saying the shard finished.

    One attempt of a shard runs at a time: a second one (a worker Dask wrongly believed dead, a
    second call) waits for the first to end, then finds its work done. An attempt that takes over
    from an earlier one first waits one request interval (``1/rate_limit``), so that an account
    caught in flight is not asked again sooner than its rate limit allows.

    The other options are :func:`toggl_prefs.bulk.apply_all`'s (``client_type`` is its ``client``)."""
    run = _shard_options(options, client_type, workspace_id, concurrency, on_quota, max_quota_wait, run_id)
    call = uuid.uuid4().hex  # a call of its own: resume=False starts the journal afresh
    return _run(_ShardTask(accounts, update, _shard(shard), os.fspath(journal_dir), resume, call, run))


def run_on_dask(
    client: Client,
    accounts: str | os.PathLike[str] | Iterable[Account],
    update: Update,
    *,
    shards: int,
    journal_dir: str | os.PathLike[str],
    run_id: str | None = None,
    resume: bool = True,
    client_type: str | None = None,
    workspace_id: int | None = None,
    concurrency: int = 64,
    on_quota: OnQuota = "wait",
    max_quota_wait: float = 3600.0,
    **options: Unpack[ClientOptions],
) -> BulkSummary:
    """Apply ``update`` to every account, split into ``shards`` tasks on the Dask ``client``'s
    cluster (:func:`run_shard` each); returns the merged summary of the shards' journals.

    ``accounts``: preferably the path of an accounts file that every worker can read (shared
    storage; a relative path is resolved on each worker), so that each worker loads the credentials
    itself; :class:`~toggl_prefs.bulk.Account` objects work too, but their credentials then travel
    (pickled, never shown) through the scheduler to the workers. ``journal_dir``: a directory every
    worker can write, where a later call finds the journals to resume from (``resume=False``
    starts them afresh; a retry of a shard within this call still resumes). ``concurrency`` is per
    shard, ``rate_limit`` per account; the other options are :func:`toggl_prefs.bulk.apply_all`'s
    (``client_type`` is its ``client``).

    Every argument is checked before a task is submitted. If a shard fails (an accounts file a
    worker cannot read, a shard whose workers died more often than Dask's ``allowed-failures``),
    the other shards still run to their end, then the first failure is raised: call again to
    resume, or see where the run stands with ``toggl-prefs bulk report``."""
    try:
        from distributed import Client, wait
    except ImportError as exc:  # pragma: no cover - the extra is installed in tests
        raise ImportError("run_on_dask needs Dask: pip install 'toggl-prefs[dask]'") from exc
    if not isinstance(client, Client):
        raise TogglValidationError(f"client must be a distributed.Client, not {type(client).__name__}")
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise TogglValidationError(f"shards must be an int >= 1, not {shards!r}")
    if not isinstance(journal_dir, (str, os.PathLike)):
        raise TogglValidationError(f"journal_dir must be a path, not {type(journal_dir).__name__}")
    run = _shard_options(options, client_type, workspace_id, concurrency, on_quota, max_quota_wait, run_id)
    _check(update, run)
    per_shard: list[str | _Accounts]
    if isinstance(accounts, (str, os.PathLike)):
        per_shard = [os.fspath(accounts)] * shards
    else:
        given = list(accounts)
        if any(not isinstance(a, Account) for a in given):
            raise TogglValidationError("accounts must be the path of an accounts file, or Account objects")
        # Each task carries only its own shard's accounts.
        per_shard = [_Accounts(a for a in given if in_shard(a.key, (i, shards))) for i in range(shards)]
    call = uuid.uuid4().hex
    dask: Any = client  # distributed is only partly typed
    futures = [
        dask.submit(
            _run,
            _ShardTask(per_shard[i], update, (i, shards), os.fspath(journal_dir), resume, call, run),
            key=f"toggl-prefs-{call[:8]}-{journal_name((i, shards)).removesuffix('.jsonl')}",
        )
        for i in range(shards)
    ]
    try:
        wait_for_all: Any = wait
        wait_for_all(futures)
        summaries: list[BulkSummary] = dask.gather(futures)
    finally:
        dask.cancel([f for f in futures if not f.done()])  # an interrupted call leaves no task queued
    return merge_summaries(summaries)


@attrs.frozen(repr=False)
class _ShardTask:
    """One shard's work, as pickled to a worker; its repr (in Dask's logs) names the shard only."""

    accounts: str | os.PathLike[str] | Iterable[Account]
    update: Update
    shard: tuple[int, int]
    journal_dir: str
    resume: bool
    call: str
    """Which call this attempt belongs to: a retry of the same call resumes even with resume=False."""
    options: dict[str, Any]

    def __repr__(self) -> str:
        return f"<toggl-prefs shard {self.shard[0]}/{self.shard[1]}>"


def _run(task: _ShardTask) -> BulkSummary:
    journal = Path(task.journal_dir) / journal_name(task.shard)
    journal.parent.mkdir(parents=True, exist_ok=True)
    accounts = task.accounts
    source = iter_accounts(accounts) if isinstance(accounts, (str, os.PathLike)) else accounts
    rate_limit = task.options.get("rate_limit", DEFAULT_RATE_LIMIT)
    with _one_attempt_at_a_time(journal.with_suffix(".lock"), task.call) as (taking_over, same_call):
        if taking_over and rate_limit:
            time.sleep(1 / rate_limit)
        options = _apply_options(task.options)
        resume = task.resume or same_call
        for _ in sync.apply_all(
            source, task.update, shard=task.shard, journal=journal, resume=resume, **options
        ):
            pass  # the run marks the journal finished at its end
        return merge([read_shard_journal(journal)], all_shards=False)


def _apply_options(options: dict[str, Any]) -> dict[str, Any]:
    """run_shard's options as apply_all's (where ``client`` is the client type)."""
    options = dict(options)
    options["client"] = options.pop("client_type")
    return options


def _shard_options(
    options: Mapping[str, Any],
    client_type: str | None,
    workspace_id: int | None,
    concurrency: int,
    on_quota: OnQuota,
    max_quota_wait: float,
    run_id: str | None,
) -> dict[str, Any]:
    """What every shard runs with: the run's options, and the client options as the caller's process
    resolves them (``base_url`` from ``$TOGGL_BASE_URL`` here, not on each worker, which may not
    have it). What cannot travel to another process is refused."""
    check_option_names(options, "run_on_dask")
    for name in ("session", "transport"):
        if options.get(name) is not None:
            raise TogglValidationError(
                f"{name}= cannot travel to Dask workers (each shard runs its own event loop in its "
                "own process); leave it out"
            )
    client = {name: value for name, value in options.items() if name not in ("session", "transport")}
    client["base_url"] = str(resolve_base_url(options.get("base_url")))
    return {
        "client_type": client_type,
        "workspace_id": workspace_id,
        "concurrency": concurrency,
        "on_quota": on_quota,
        "max_quota_wait": max_quota_wait,
        "run_id": run_id,
        **client,
    }


def _check(update: Update, options: dict[str, Any]) -> None:
    """Check every argument as the shards will, by running the same code over no accounts (which
    checks the client options too), and that an update function can name the run in the journals
    (or ``run_id`` does)."""
    for _ in sync.apply_all([], update, **_apply_options(options)):
        pass
    describe_update(update, check_run_id(options["run_id"]))


def _shard(shard: tuple[int, int]) -> tuple[int, int]:
    checked = check_shard(shard)
    if checked is None:
        raise TogglValidationError("run_shard needs shard=(index, count)")
    return checked


@contextlib.contextmanager
def _one_attempt_at_a_time(path: Path, call: str) -> Iterator[tuple[bool, bool]]:
    """Hold ``path`` locked (the bulk runs' one lock, :mod:`toggl_prefs.bulk._lock`) for one attempt
    of a shard; yields whether an earlier attempt had started, and whether it was of the same
    ``call``. The journal's own lock refuses a second run outright; this one makes a second attempt
    of the shard *wait* for the first, then find its work done. Without ``fcntl`` (Windows) nothing
    is locked: one live attempt per shard then rests on the scheduler alone."""
    taking_over = path.exists()
    with path.open("a+", encoding="utf-8") as handle:
        lock(handle, wait=True)  # waits while another attempt of this shard is alive
        try:
            handle.seek(0)
            previous = handle.read().strip()
            handle.seek(0)
            handle.truncate()
            handle.write(call)
            handle.flush()
            yield taking_over, previous == call
        finally:
            unlock(handle)
