"""Loose ends between the bulk engine, its journal, the Dask runner and ``bulk report``: the engine
marks the end of every journaled run that went through all its accounts (and of no other), readers
see records alone, a journal is locked for its run, a clone checks its journal before it reads its
source, the command line reports what a run did before it stopped, and a blocking run closed early
leaves nothing open."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.bulk import Account, BulkResult, merge_journals
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.bulk.dask import run_shard
from toggl_prefs.cli import main
from toggl_prefs.cli._exit import ExitCode, exit_code_for
from toggl_prefs.testing import FakeTogglServer

UPDATE = tp.PreferencesUpdate(theme="dark")
FAST = tp.RetryPolicy(max_retries=1, backoff_base=0.001, backoff_cap=0.005)


def opts(server: FakeTogglServer, **kwargs: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "rate_limit": None, "retry": FAST, "concurrency": 4, **kwargs}


def seed(server: FakeTogglServer, count: int) -> list[Account]:
    for i in range(count):
        server.add_account(api_token=f"secret-token-{i}", key=f"acct-{i}", preferences={"theme": "light"})
    return [Account(f"acct-{i}", tp.ApiToken(f"secret-token-{i}")) for i in range(count)]


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


def lines(journal: Path) -> list[dict[str, Any]]:
    """Every whole line of a journal, read here independently of the code under test."""
    found = []
    for raw in journal.read_bytes().splitlines():
        try:
            found.append(json.loads(raw))
        except ValueError:
            continue
    return found


def end_marks(journal: Path) -> list[dict[str, Any]]:
    return [line for line in lines(journal) if line.get("event") == "finished"]


@pytest.fixture
async def server() -> AsyncIterator[FakeTogglServer]:
    async with FakeTogglServer() as fake:
        yield fake


@pytest.fixture
def threaded() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        yield fake


# -- 1. the engine marks the end of every journaled run that went through all its accounts ------------


def test_a_finished_cli_run_is_reported_finished(
    threaded: FakeTogglServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulk apply --journal run.jsonl` (no shard), then `bulk report run.jsonl`: finished, exit 0."""
    seed(threaded, 12)
    bulk.write_accounts_csv([(f"acct-{i}", f"secret-token-{i}") for i in range(12)], tmp_path / "a.csv")
    journal = tmp_path / "run.jsonl"
    argv = ["--accounts", str(tmp_path / "a.csv"), "--journal", str(journal), "--rate-limit", "0"]
    assert main(["--base-url", threaded.base_url, "bulk", "apply", "theme=dark", *argv]) == ExitCode.OK
    capsys.readouterr()
    assert main(["bulk", "report", str(journal)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "not finished" not in out and "finished" in out
    assert main(["--base-url", threaded.base_url, "bulk", "get", "--out", "-", *argv[:2], "--journal",
                 str(tmp_path / "get.jsonl"), "--rate-limit", "0"]) == ExitCode.OK  # fmt: skip
    capsys.readouterr()
    assert main(["bulk", "report", str(tmp_path / "get.jsonl")]) == ExitCode.OK


async def test_library_shards_are_marked_finished(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 30)
    paths = [tmp_path / f"journal-{i}-of-3.jsonl" for i in range(3)]
    for i, path in enumerate(paths):
        await collect(bulk.apply_all(accounts, UPDATE, shard=(i, 3), journal=path, **opts(server)))
    merged = merge_journals(paths)
    assert merged.shards == {"0/3": True, "1/3": True, "2/3": True}
    assert merged.by_status == Counter({"changed": 30})
    assert [mark["shard"] for path in paths for mark in end_marks(path)] == ["0/3", "1/3", "2/3"]


def run_op(
    op: str, accounts: list[Account], journal: Path, options: dict[str, Any]
) -> AsyncIterator[BulkResult]:
    if op == "fetch":
        return bulk.fetch_all(accounts, journal=journal, **options)
    if op == "apply":
        return bulk.apply_all(accounts, UPDATE, journal=journal, **options)
    return bulk.clone_all(accounts[0], accounts, journal=journal, **options)


@pytest.mark.parametrize("op", ["fetch", "apply", "clone"])
async def test_every_operation_marks_a_clean_end_once_and_nothing_else(
    server: FakeTogglServer, tmp_path: Path, op: str
) -> None:
    accounts = seed(server, 20)
    server.accounts["acct-0"].preferences["theme"] = "dark"  # something for a clone to copy
    journal = tmp_path / f"{op}.jsonl"
    # stopped early: a break, then the iterator closed
    run = run_op(op, accounts, journal, opts(server))
    async for _ in run:
        break
    await run.aclose()  # type: ignore[attr-defined]
    assert end_marks(journal) == []
    # cancelled mid-run
    recorded = len(list(bulk.read_journal(journal)))
    server.fail_next(100, status=None, delay=0.05)  # slow answers: the run is still going when cancelled
    task = asyncio.ensure_future(collect(run_op(op, accounts, journal, opts(server, concurrency=1))))
    while len(list(bulk.read_journal(journal))) == recorded:  # under way
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert end_marks(journal) == []
    server.faults.clear()
    # to its end: one mark, of the journal's own run
    await collect(run_op(op, accounts, journal, opts(server)))
    (mark,) = end_marks(journal)
    assert mark["run"] == lines(journal)[0]["run"] and "shard" not in mark
    assert merge_journals([journal]).unfinished == []
    # the blocking twin too
    threaded_journal = tmp_path / f"sync-{op}.jsonl"
    with FakeTogglServer() as other:
        others = seed(other, 20)
        for _ in sync_op(op, others, threaded_journal, opts(other)):
            break
        assert end_marks(threaded_journal) == []
        assert len(list(sync_op(op, others, threaded_journal, opts(other)))) > 0
    assert len(end_marks(threaded_journal)) == 1


def sync_op(op: str, accounts: list[Account], journal: Path, options: dict[str, Any]) -> Iterator[BulkResult]:
    if op == "fetch":
        return bulk_sync.fetch_all(accounts, journal=journal, **options)
    if op == "apply":
        return bulk_sync.apply_all(accounts, UPDATE, journal=journal, **options)
    return bulk_sync.clone_all(accounts[0], accounts, journal=journal, **options)


async def test_a_run_stopped_by_an_error_is_not_marked(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 20)
    journal = tmp_path / "j.jsonl"

    def update(prefs: tp.UserPreferences) -> tp.PreferencesUpdate:
        if len(server.requests) > 10:
            raise tp.TogglValidationError("the caller's update function refuses")  # stops the run
        return UPDATE

    with pytest.raises(tp.TogglValidationError, match="refuses"):
        await collect(bulk.apply_all(accounts, update, journal=journal, run_id="refusing", **opts(server)))
    assert end_marks(journal) == []
    assert merge_journals([journal]).unfinished == ["j.jsonl"]


async def test_an_interrupted_resume_of_a_finished_run_is_unfinished(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    """The end mark belongs to a pass: a later pass of the same run that is stopped leaves the journal
    unfinished (its accounts may not all have been tried again)."""
    accounts = seed(server, 20)
    server.fail_next(5, status=403, body='"User does not have access to this resource."', method="POST")
    journal = tmp_path / "j.jsonl"
    await collect(bulk.apply_all(accounts, UPDATE, journal=journal, **opts(server)))
    assert merge_journals([journal]).unfinished == []
    run = bulk.apply_all(accounts, UPDATE, journal=journal, **opts(server))  # retries the 5 failures
    async for _ in run:
        break
    await run.aclose()  # type: ignore[attr-defined]
    assert merge_journals([journal]).unfinished == ["j.jsonl"]
    await collect(bulk.apply_all(accounts, UPDATE, journal=journal, **opts(server)))
    assert merge_journals([journal]).unfinished == []


def test_readers_see_records_alone(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    run = "d" * 16
    written = [
        {"journal": "toggl-prefs", "version": 1, "run": run, "identity": {}, "at": 1.0},
        {"run": run, "key": "a", "status": "changed", "attempts": 2, "at": 2.0},
        {"run": run, "event": "finished", "at": 3.0},
        {"run": run, "event": "something-new", "key": "not-an-account", "at": 3.5},
        {"journal": "toggl-prefs", "version": 1, "run": run, "identity": {}, "at": 4.0},
        {"run": run, "key": "b", "status": "failed", "error": "ServerError", "attempts": 3, "at": 5.0},
    ]
    journal.write_text("".join(json.dumps(line) + "\n" for line in written))
    assert list(bulk.read_journal(journal)) == [written[1], written[5]]
    assert bulk.read_journal_header(journal) == written[0]
    merged = merge_journals([journal])
    assert merged.by_status == Counter({"changed": 1, "failed": 1})
    assert merged.unfinished == ["j.jsonl"]  # the last pass has no end mark


# -- 2. the end mark's run is the header's ---------------------------------------------------------


def test_an_empty_shard_is_marked_with_its_header_s_run(threaded: FakeTogglServer, tmp_path: Path) -> None:
    """A shard with no account has no record to take its run from: the end mark takes the header's."""
    accounts = seed(threaded, 3)
    empty = next(i for i in range(50) if not any(bulk.in_shard(a.key, (i, 50)) for a in accounts))
    journal = tmp_path / "shard.jsonl"
    assert (
        list(bulk_sync.apply_all(accounts, UPDATE, shard=(empty, 50), journal=journal, **opts(threaded)))
        == []
    )
    header, mark = lines(journal)
    assert mark == {"run": header["run"], "event": "finished", "shard": f"{empty}/50", "at": mark["at"]}
    summary = merge_journals([journal])
    assert summary.shards[f"{empty}/50"] is True and summary.total == 0
    # and through run_shard, the Dask runner's shard task, without Dask
    done = run_shard(accounts, UPDATE, shard=(empty, 50), journal_dir=tmp_path / "d", **opts(threaded))
    assert done.shards == {f"{empty}/50": True}
    written = lines(tmp_path / "d" / f"journal-{empty}-of-50.jsonl")
    assert [line.get("event") for line in written] == [None, "finished"]
    assert written[1]["run"] == written[0]["run"]
    assert threaded.requests == []


# -- 3. run_shard passes run_id and resume -----------------------------------------------------------


def test_run_shard_with_an_update_function_named_by_run_id(threaded: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(threaded, 12)
    lock = threading.Lock()  # a value that cannot be fingerprinted: the run needs a name

    def update(prefs: tp.UserPreferences) -> tp.PreferencesUpdate:
        with lock:
            return tp.PreferencesUpdate(theme="dark")

    with pytest.raises(tp.TogglValidationError, match="run_id"):
        run_shard(accounts, update, shard=(0, 1), journal_dir=tmp_path / "j", **opts(threaded))
    assert threaded.requests == []
    summary = run_shard(
        accounts, update, shard=(0, 1), journal_dir=tmp_path / "j", run_id="dark", **opts(threaded)
    )
    assert summary.by_status == Counter({"changed": 12}) and summary.shards == {"0/1": True}
    journal = tmp_path / "j" / "journal-0-of-1.jsonl"
    assert lines(journal)[0]["identity"]["run_id"] == "dark"
    sent = len(threaded.requests)
    again = run_shard(
        accounts, update, shard=(0, 1), journal_dir=tmp_path / "j", run_id="dark", **opts(threaded)
    )
    assert len(threaded.requests) == sent and again == summary  # resumed: nothing sent
    fresh = run_shard(
        accounts,
        update,
        shard=(0, 1),
        journal_dir=tmp_path / "j",
        run_id="dark",
        resume=False,
        **opts(threaded),
    )
    assert fresh.by_status == Counter({"unchanged": 12})  # started afresh: every account read again
    assert len([line for line in lines(journal) if "journal" in line]) == 1


# -- 4. the command line reports what a run did before it stopped -----------------------------------


def test_cli_a_run_stopped_by_its_journal_shows_its_summary(
    threaded: FakeTogglServer, tmp_path: Path
) -> None:
    seed(threaded, 40)
    bulk.write_accounts_csv([(f"acct-{i}", f"secret-token-{i}") for i in range(40)], tmp_path / "a.csv")

    def disk_fills_up() -> None:  # writes past 2,000 bytes fail with EFBIG: a disk that fills up
        resource.setrlimit(resource.RLIMIT_FSIZE, (2000, 2000))

    argv = ["--accounts", "a.csv", "theme=dark", "--journal", "j.jsonl", "--out", "-", "--concurrency", "2"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "toggl_prefs",
            "--base-url",
            threaded.base_url,
            "bulk",
            "apply",
            *argv,
            "--rate-limit",
            "0",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,
        timeout=120,
        check=False,
        preexec_fn=disk_fills_up,
    )
    assert "secret-token" not in result.stdout + result.stderr
    assert result.returncode == exit_code_for(bulk.JournalWriteError("full")) == ExitCode.INTERRUPTED
    written = [json.loads(line) for line in result.stdout.splitlines()]  # every machine line is whole
    assert written and all(
        line["status"] == "changed" and line["sent"] == {"theme": "dark"} for line in written
    )
    assert "JournalWriteError" in result.stderr and "File too large" in result.stderr
    rows = dict(
        line.split() for line in result.stderr.splitlines() if line.startswith(("changed ", "total "))
    )
    assert rows == {"changed": str(len(written)), "total": str(len(written))}
    recorded = {r["key"] for r in bulk.read_journal(tmp_path / "j.jsonl")}
    assert recorded <= {line["key"] for line in written}
    assert end_marks(tmp_path / "j.jsonl") == []


# -- 5. a clone checks its journal before it reads its source ---------------------------------------


@pytest.mark.parametrize("problem", ["not a directory", "another run's", "no header", "in use", "options"])
async def test_a_clone_with_an_unusable_journal_sends_nothing(
    server: FakeTogglServer, tmp_path: Path, problem: str
) -> None:
    accounts = seed(server, 5)
    journal = tmp_path / "j.jsonl"
    options = opts(server)
    expected: type[Exception] = bulk.JournalOpenError
    holder = None
    if problem == "not a directory":
        (tmp_path / "file").write_text("x")
        journal = tmp_path / "file" / "j.jsonl"
    elif problem == "another run's":
        identity = {"op": "fetch", "base_url": server.base_url}
        header = {"journal": "toggl-prefs", "version": 1, "run": "e" * 16, "identity": identity}
        journal.write_text(json.dumps(header) + "\n")
        expected = bulk.JournalMismatchError
    elif problem == "no header":
        journal.write_text(json.dumps({"run": "e" * 16, "key": "acct-1", "status": "changed"}) + "\n")
        expected = bulk.JournalMismatchError
    elif problem == "in use":
        holder = bulk.fetch_all(accounts, journal=journal, **opts(server, rate_limit=0.5))
        await anext(holder)  # a run in progress holds the journal
        expected = bulk.JournalError
    else:
        options["concurrency"] = 0
        expected = tp.TogglValidationError
    before = journal.read_bytes() if journal.is_file() else None
    sent = len(server.requests)
    with pytest.raises(expected):
        await collect(bulk.clone_all(accounts[0], accounts, journal=journal, **options))
    assert len(server.requests) == sent  # not even the source was read
    assert (journal.read_bytes() if journal.is_file() else None) == before
    if holder is not None:
        await holder.aclose()  # type: ignore[attr-defined]


async def test_a_clone_resumes_its_own_journal(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 12)
    server.accounts["acct-0"].preferences["theme"] = "dark"
    journal = tmp_path / "j.jsonl"
    run = bulk.clone_all(accounts[0], accounts, journal=journal, **opts(server))
    first = [await anext(run) for _ in range(4)]
    await run.aclose()  # type: ignore[attr-defined]
    again = await collect(bulk.clone_all(accounts[0], accounts, journal=journal, **opts(server)))
    assert Counter(r.status for r in again)["skipped"] >= len(first)
    assert {r.key for r in again} == {a.key for a in accounts[1:]}
    assert {a.preferences["theme"] for a in server.accounts.values()} == {"dark"}
    # a clone of a source whose preferences have changed since is another run: refused after its read
    server.accounts["acct-0"].preferences["theme"] = "light"
    with pytest.raises(bulk.JournalMismatchError, match="update"):
        await collect(bulk.clone_all(accounts[0], accounts, journal=journal, **opts(server)))


# -- 6. one run at a time per journal ------------------------------------------------------------------


async def test_a_second_run_on_a_journal_in_use_is_refused(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 30)
    journal = tmp_path / "j.jsonl"
    first = bulk.apply_all(accounts, UPDATE, journal=journal, **opts(server))
    await anext(first)
    # Untaken results hold the first run's slots: it soon stops sending, and waits for its caller.
    sent = len(server.requests)
    while not await settled(server, sent):
        sent = len(server.requests)
    before = journal.read_bytes()
    for resume in (True, False):  # a fresh start must not empty the journal of a run in progress
        with pytest.raises(bulk.JournalError, match="another run") as refused:
            await collect(bulk.apply_all(accounts, UPDATE, journal=journal, resume=resume, **opts(server)))
        assert isinstance(refused.value, tp.TogglConfigError)  # nothing was sent: the CLI's exit 2
    assert journal.read_bytes() == before and len(server.requests) == sent
    with pytest.raises(bulk.JournalError, match="another run"):  # another thread of this process
        await asyncio.to_thread(lambda: list(bulk_sync.fetch_all(accounts, journal=journal, **opts(server))))
    rest = await collect(first)  # the first run was not disturbed
    assert len(rest) == 29 and all(r.ok for r in rest)
    assert len(end_marks(journal)) == 1
    again = await collect(bulk.apply_all(accounts, UPDATE, journal=journal, **opts(server)))
    assert {r.status for r in again} == {"skipped"}  # the lock went with the first run


async def settled(server: FakeTogglServer, count: int) -> bool:
    """Whether the server received nothing more for a while (a run that has stopped sending)."""
    for _ in range(5):
        await asyncio.sleep(0.05)
        if len(server.requests) != count:
            return False
    return True


def test_cli_a_journal_in_use_is_refused(threaded: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(threaded, 20)
    bulk.write_accounts_csv([(f"acct-{i}", f"secret-token-{i}") for i in range(20)], tmp_path / "a.csv")
    journal = tmp_path / "j.jsonl"
    run = bulk_sync.fetch_all(accounts, journal=journal, **opts(threaded, rate_limit=0.5))
    assert isinstance(run, Generator)
    next(run)
    try:
        sent = len(threaded.requests)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "toggl_prefs",
                "--base-url",
                threaded.base_url,
                "bulk",
                "apply",
                "--accounts",
                "a.csv",
                "theme=dark",
                "--journal",
                "j.jsonl",
                "--force-new",
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert result.returncode == ExitCode.USAGE and "JournalLockedError" in result.stderr
        assert "another run" in result.stderr
        assert not [r for r in threaded.requests[sent:] if r.method == "POST"]
    finally:
        run.close()
    for _ in bulk_sync.fetch_all(accounts, journal=journal, **opts(threaded)):
        pass  # closed: the lock was released


# -- 7. a blocking run closed early leaves nothing open ----------------------------------------------


def bulk_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("toggl-prefs-bulk")]


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.mark.parametrize("op", ["fetch", "apply", "clone"])
def test_a_blocking_run_closed_early_leaks_nothing(
    threaded: FakeTogglServer, tmp_path: Path, op: str
) -> None:
    accounts = seed(threaded, 40)
    journal = tmp_path / "j.jsonl"

    def make() -> Iterator[BulkResult]:
        return sync_op(op, accounts, journal, opts(threaded))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unclosed session or file is a ResourceWarning: an error
        for _ in make():
            break  # the iterator is dropped here, and so closed
        run = make()
        next(run)
        del run  # closed by the garbage collector
        gc.collect()
    assert wait_until(lambda: not bulk_threads())
    # the journal was closed, and its lock released: a new run can take it
    assert len(list(make())) > 0 and len(end_marks(journal)) == 1


def test_a_blocking_run_dropped_on_its_own_loop_thread_is_closed(
    threaded: FakeTogglServer, tmp_path: Path
) -> None:
    """The last reference to the iterator can go on the run's own event-loop thread (a garbage
    collection there, or, here, the update function): that thread cannot wait for itself, yet the
    run must still be closed, its session, journal and thread with it."""
    accounts = seed(threaded, 40)
    journal = tmp_path / "j.jsonl"
    holder: dict[str, Iterator[BulkResult]] = {}
    dropped = threading.Event()
    go = threading.Event()

    def update(prefs: tp.UserPreferences) -> tp.PreferencesUpdate:
        if go.is_set() and holder:
            holder.clear()  # the last reference: the iterator is finalized here, on the loop thread
            dropped.set()
        return tp.PreferencesUpdate(theme="dark")

    holder["run"] = bulk_sync.apply_all(accounts, update, journal=journal, run_id="dropped", **opts(threaded))
    next(holder["run"])
    go.set()
    assert dropped.wait(30)
    gc.collect()
    assert wait_until(lambda: not bulk_threads())  # the run's loop thread ended
    assert end_marks(journal) == []  # stopped early: not finished
    rest = list(bulk_sync.apply_all(accounts, update, journal=journal, run_id="dropped", **opts(threaded)))
    assert len(rest) == 40 and len(end_marks(journal)) == 1  # the journal was closed and unlocked
