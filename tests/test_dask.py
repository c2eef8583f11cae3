"""The Dask path for real: ``run_on_dask`` on a ``LocalCluster`` of worker *processes* against the
threaded fake server; a worker killed mid-run (SIGKILL) whose shard resumes from its journal with
nothing applied twice or missed; the per-account rate limit held across workers; the shard runner
taking over from a killed attempt; credentials kept out of Dask's logs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import distributed
import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.bulk import BulkSummary, merge_journals
from toggl_prefs.bulk.dask import run_on_dask, run_shard
from toggl_prefs.testing import FakeTogglServer

UPDATE = tp.PreferencesUpdate(theme="dark")
T = TypeVar("T")
dask: Any = distributed  # only partly typed: its calls go through Any
Client = Any  # a distributed.Client


def cluster(workers: int = 2) -> Any:
    return dask.LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        # No dashboard; and the scheduler's HTTP endpoint on a free port, not on 8787, which another
        # cluster on this machine may hold (Dask then warns, and leaks a socket as it moves on).
        dashboard_address=":0",
        silence_logs=False,
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with cluster() as local, dask.Client(local) as dask_client:
        yield dask_client


def accounts_file(server: FakeTogglServer, tmp_path: Path, count: int) -> Path:
    for i in range(count):
        server.add_account(api_token=f"secret-token-{i}", key=f"acct-{i}", preferences={"theme": "light"})
    path = tmp_path / "accounts.csv"
    bulk.write_accounts_csv([(f"acct-{i}", f"secret-token-{i}") for i in range(count)], path)
    return path


def union(paths: list[Path]) -> Counter[str]:
    """The statuses of the journals' union, read here independently: an account's last outcome."""
    last: dict[str, str] = {}
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if "key" in record:
                last[record["key"]] = record["status"]
    return Counter(last.values())


def keys_in(journal: Path) -> set[str]:
    return {r["key"] for r in bulk.read_journal(journal) if "key" in r}


def per_account(server: FakeTogglServer, method: str, since: int = 0) -> Counter[str | None]:
    return Counter(r.account for r in server.requests[since:] if r.method == method)


def wait_for(what: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found is not None:
            return found
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def test_every_account_is_applied_exactly_once_and_a_rerun_sends_nothing(
    client: Client, tmp_path: Path
) -> None:
    journal_dir = tmp_path / "journals"
    with FakeTogglServer() as server:
        path = accounts_file(server, tmp_path, 200)
        options: dict[str, Any] = {"base_url": server.base_url, "rate_limit": None, "concurrency": 16}
        summary = run_on_dask(client, path, UPDATE, shards=4, journal_dir=journal_dir, **options)

        assert per_account(server, "POST") == Counter({f"acct-{i}": 1 for i in range(200)})
        assert {a.preferences["theme"] for a in server.accounts.values()} == {"dark"}
        journals = sorted(journal_dir.glob("journal-*.jsonl"))
        assert [j.name for j in journals] == [f"journal-{i}-of-4.jsonl" for i in range(4)]
        assert summary.by_status == union(journals) == Counter({"changed": 200})
        assert summary.shards == {f"{i}/4": True for i in range(4)}
        assert summary.unfinished == [] and summary.failed_keys == {}
        assert summary.attempts == len(server.requests) == 400
        assert summary == merge_journals(journals)

        # the same call again: every shard resumes from its journal, and nothing is sent
        sent = len(server.requests)
        assert run_on_dask(client, path, UPDATE, shards=4, journal_dir=journal_dir, **options) == summary
        assert len(server.requests) == sent


def run_with_a_kill(
    client: Client, tmp_path: Path, *, count: int, shards: int, concurrency: int, rate: float
) -> None:
    """Run ``count`` accounts in ``shards`` on the cluster; SIGKILL the worker running a shard once
    it is well under way; check that nothing was applied twice, nothing missed, the victim resumed
    from its journal, and no account was ever asked faster than its rate limit (the server answers
    429 to two requests closer than half the client's interval: none may come)."""
    journal_dir = tmp_path / "journals"
    with FakeTogglServer(rate_limit=2 * rate, burst=1) as server:
        path = accounts_file(server, tmp_path, count)
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "rate_limit": rate,
            "concurrency": concurrency,
        }
        with ThreadPoolExecutor(1) as pool:
            run = pool.submit(
                run_on_dask, client, path, UPDATE, shards=shards, journal_dir=journal_dir, **options
            )

            def under_way() -> tuple[str, Path] | None:
                for worker, keys in client.processing().items():
                    for key in keys:
                        journal = journal_dir / f"journal-{str(key).split('journal-')[1]}.jsonl"
                        if journal.exists() and len(keys_in(journal)) >= 2 * concurrency:
                            return worker, journal
                return None

            worker, victim = wait_for(under_way)
            pid = client.run(os.getpid, workers=[worker])[worker]
            done_before, killed_at = keys_in(victim), len(server.requests)
            os.kill(pid, signal.SIGKILL)
            summary: BulkSummary = run.result(timeout=300)

        every = {f"acct-{i}" for i in range(count)}
        assert per_account(server, "POST") == Counter(dict.fromkeys(every, 1))  # none twice, none missed
        assert {a.preferences["theme"] for a in server.accounts.values()} == {"dark"}
        assert [r for r in server.requests if r.status == 429] == []  # the rate limit held
        shard_of_victim = keys_in(victim)
        assert len(done_before) < len(shard_of_victim)  # the kill came mid-shard ...
        after = set(per_account(server, "GET", killed_at))
        assert after & (shard_of_victim - done_before)  # ... the shard was run again ...
        assert not after & done_before  # ... resuming from its journal
        twice = {key for key, n in per_account(server, "GET").items() if n > 1}
        assert twice <= shard_of_victim - done_before and len(twice) <= concurrency  # only those in flight
        journals = sorted(journal_dir.glob("journal-*.jsonl"))
        assert len(journals) == shards
        assert summary.by_status == union(journals) == merge_journals(journals).by_status
        # accounts in flight at the kill were written but not journaled: the new attempt found them done
        assert summary.by_status["changed"] + summary.by_status["unchanged"] == count
        assert summary.unfinished == []


def test_a_killed_worker_s_shard_resumes_from_its_journal(tmp_path: Path) -> None:
    with cluster() as local, dask.Client(local) as own:
        run_with_a_kill(own, tmp_path, count=200, shards=4, concurrency=5, rate=5.0)


@pytest.mark.slow
def test_eight_shards_over_two_thousand_accounts_with_a_worker_killed(tmp_path: Path) -> None:
    with cluster() as local, dask.Client(local) as own:
        run_with_a_kill(own, tmp_path, count=2000, shards=8, concurrency=64, rate=1.0)


def test_a_shard_taking_over_from_a_killed_attempt_keeps_the_rate_limit(tmp_path: Path) -> None:
    """No Dask: the shard runner in a child process, SIGKILLed mid-run, then run again at once; the
    accounts caught in flight must not be asked again before their interval has passed."""
    rate = 1.0
    journal_dir = tmp_path / "journals"
    with FakeTogglServer(rate_limit=2 * rate, burst=1) as server:
        path = accounts_file(server, tmp_path, 60)
        options: dict[str, Any] = {"base_url": server.base_url, "rate_limit": rate, "concurrency": 20}
        code = (
            "import sys, toggl_prefs as tp\n"
            "from toggl_prefs.bulk.dask import run_shard\n"
            f"run_shard({str(path)!r}, tp.PreferencesUpdate(theme='dark'), shard=(0, 1),"
            f" journal_dir={str(journal_dir)!r}, **{options!r})\n"
        )
        child = subprocess.Popen([sys.executable, "-c", code])
        try:
            wait_for(lambda: True if keys_in(journal_dir / "journal-0-of-1.jsonl") else None)
            in_flight = wait_for(lambda: (per_account(server, "GET") - per_account(server, "POST")) or None)
        finally:
            child.kill()
            child.wait()
        assert in_flight  # accounts read, not yet written: their next request is due within 1/rate
        summary = run_shard(path, UPDATE, shard=(0, 1), journal_dir=journal_dir, **options)
        assert [r for r in server.requests if r.status == 429] == []
        assert per_account(server, "POST") == Counter({f"acct-{i}": 1 for i in range(60)})
        assert summary.shards == {"0/1": True}


def test_two_live_attempts_of_a_shard_never_overlap(client: Client, tmp_path: Path) -> None:
    """Two calls on the same journals at once (or a worker Dask wrongly thought dead): the second
    attempt of a shard waits for the first, then finds its work done."""
    journal_dir = tmp_path / "journals"
    with FakeTogglServer() as server:
        path = accounts_file(server, tmp_path, 60)
        options: dict[str, Any] = {"base_url": server.base_url, "rate_limit": 5.0, "concurrency": 10}
        start = threading.Barrier(2)

        def call() -> BulkSummary:
            start.wait()
            return run_on_dask(client, path, UPDATE, shards=1, journal_dir=journal_dir, **options)

        with ThreadPoolExecutor(2) as pool:
            first, second = pool.submit(call), pool.submit(call)
            summaries = [first.result(timeout=120), second.result(timeout=120)]
        assert per_account(server, "GET") == Counter({f"acct-{i}": 1 for i in range(60)})
        assert per_account(server, "POST") == Counter({f"acct-{i}": 1 for i in range(60)})
        assert summaries[0] == summaries[1]
        assert summaries[0].by_status == Counter({"changed": 60})


def test_accounts_given_as_objects_keep_their_tokens_out_of_dask(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(_: object) -> None:
        raise tp.TogglValidationError("this update function refuses")

    submitted: list[Any] = []
    submit = client.submit

    def spy(*args: Any, **kwargs: Any) -> Any:
        submitted.append((args, kwargs))
        return submit(*args, **kwargs)

    monkeypatch.setattr(client, "submit", spy)  # what Dask is given, and may log (older Dask logs args)
    with FakeTogglServer() as server:
        accounts_file(server, tmp_path, 20)
        accounts = [bulk.Account(f"acct-{i}", tp.ApiToken(f"secret-token-{i}")) for i in range(20)]
        good = run_on_dask(
            client, accounts, UPDATE, shards=2, journal_dir=tmp_path / "good", base_url=server.base_url
        )
        assert good.by_status == Counter({"changed": 20})
        with pytest.raises(tp.TogglValidationError, match="refuses") as raised:
            run_on_dask(
                client,
                iter(accounts),
                refuse,
                shards=2,
                journal_dir=tmp_path / "bad",
                base_url=server.base_url,
                rate_limit=None,
            )
    logs = client.get_worker_logs() | {"scheduler": client.get_scheduler_logs()}
    text = repr(logs) + repr(raised.value) + str(raised.value) + str(client.processing())
    assert "Compute Failed" in text and "refuses" in text  # the failure was logged by Dask ...
    assert "secret-token" not in text  # ... without a credential
    assert len(submitted) == 4
    shown = repr(submitted) + str(submitted)
    assert "shard 0/2" in shown and "secret-token" not in shown


def test_an_update_function_named_by_run_id_runs_and_resumes(client: Client, tmp_path: Path) -> None:
    """An update function whose values cannot be fingerprinted needs run_id=, which every shard's run
    takes (its journals name it), and by which a later call resumes (resume=False starts afresh)."""

    class Palette:  # a plain object: the journal cannot tell two of them apart, so the run needs a name
        def __init__(self, theme: str) -> None:
            self.theme = theme

    palette = Palette("dark")

    def update(_: tp.UserPreferences) -> tp.PreferencesUpdate:
        return tp.PreferencesUpdate(theme=palette.theme)

    journal_dir = tmp_path / "journals"
    with FakeTogglServer() as server:
        path = accounts_file(server, tmp_path, 30)
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "rate_limit": None,
            "journal_dir": journal_dir,
        }
        with pytest.raises(tp.TogglValidationError, match="run_id"):
            run_on_dask(client, path, update, shards=2, **options)
        assert server.requests == [] and not journal_dir.exists()  # refused before any task

        summary = run_on_dask(client, path, update, shards=2, run_id="palette", **options)
        assert summary.by_status == Counter({"changed": 30}) and summary.unfinished == []
        journals = sorted(journal_dir.glob("journal-*.jsonl"))
        headers = [bulk.read_journal_header(j) for j in journals]
        assert [h["identity"]["run_id"] for h in headers if h] == ["palette", "palette"]
        assert {h["identity"]["update"]["callable"] for h in headers if h} == {"named by run_id"}

        sent = len(server.requests)
        assert run_on_dask(client, path, update, shards=2, run_id="palette", **options) == summary
        assert len(server.requests) == sent  # resumed from the journals: nothing sent
        fresh = run_on_dask(client, path, update, shards=2, run_id="palette", resume=False, **options)
        assert fresh.by_status == Counter({"unchanged": 30})  # started afresh: every account read again
        assert len(server.requests) == sent + 30
        assert merge_journals(journals) == fresh


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"shards": 0}, "shards"),
        ({"shards": True}, "shards"),
        ({"shards": 2.0}, "shards"),
        ({"update": tp.PreferencesUpdate()}, "nothing to apply"),
        ({"update": tp.WorkspacePreferencesUpdate(hide_start_end_times=True)}, "PreferencesUpdate"),
        ({"concurrency": 0}, "concurrency"),
        ({"on_quota": "never"}, "on_quota"),
        ({"client_type": "not/a/client"}, "client"),
        ({"rate_limit": -1}, "rate_limit"),
        ({"timeout": 0}, "timeout"),
        ({"base_url": "http://example.com/api/v9"}, "https"),
        ({"accounts": [object()]}, "Account"),
        ({"client": object()}, "distributed.Client"),
        ({"journal_dir": None}, "journal_dir"),
    ],
)
def test_bad_arguments_are_refused_before_any_task_runs(
    client: Client, tmp_path: Path, change: dict[str, Any], match: str
) -> None:
    arguments: dict[str, Any] = {
        "client": client,
        "accounts": tmp_path / "accounts.csv",
        "update": UPDATE,
        "shards": 2,
        "journal_dir": tmp_path / "journals",
        "base_url": "http://127.0.0.1:9/api/v9",
        **change,
    }
    with pytest.raises((tp.TogglValidationError, tp.TogglConfigError), match=match):
        run_on_dask(**arguments)
    assert not (tmp_path / "journals").exists()


def test_an_accounts_file_the_workers_cannot_read_fails_every_shard(client: Client, tmp_path: Path) -> None:
    with pytest.raises(bulk.AccountsFileError, match=r"missing\.csv"):
        run_on_dask(
            client,
            tmp_path / "missing.csv",
            UPDATE,
            shards=2,
            journal_dir=tmp_path / "journals",
            base_url="http://127.0.0.1:9/api/v9",
        )
    journals = sorted((tmp_path / "journals").glob("journal-*.jsonl"))
    assert merge_journals(journals).unfinished == ["0/2", "1/2"]  # no shard claims to have finished


def test_a_journal_of_another_run_is_refused_unless_started_afresh(client: Client, tmp_path: Path) -> None:
    journal_dir = tmp_path / "journals"
    with FakeTogglServer() as server:
        path = accounts_file(server, tmp_path, 40)
        options: dict[str, Any] = {
            "base_url": server.base_url,
            "rate_limit": None,
            "journal_dir": journal_dir,
        }
        run_on_dask(client, path, UPDATE, shards=2, **options)
        light = tp.PreferencesUpdate(theme="light")
        sent = len(server.requests)
        with pytest.raises(bulk.JournalMismatchError, match="another run"):
            run_on_dask(client, path, light, shards=2, **options)
        assert len(server.requests) == sent  # refused before anything was sent
        summary = run_on_dask(client, path, light, shards=2, resume=False, **options)
    assert summary.by_status == Counter({"changed": 40})
    assert summary == merge_journals(sorted(journal_dir.glob("journal-*.jsonl")))  # the new run alone
    assert {a.preferences["theme"] for a in server.accounts.values()} == {"light"}


def test_with_an_accounts_file_no_credential_enters_the_task_graph(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers read the file, and with api_token_file the tokens themselves (files the workers
    can read): what Dask ships, pickled, holds no credential."""
    submitted: list[bytes] = []
    submit = client.submit

    def spy(*args: Any, **kwargs: Any) -> Any:
        submitted.append(dask.protocol.pickle.dumps((args, kwargs)))  # as Dask pickles a task
        return submit(*args, **kwargs)

    monkeypatch.setattr(client, "submit", spy)
    with FakeTogglServer() as server:
        lines = ["key,api_token_file"]
        for i in range(30):
            server.add_account(api_token=f"secret-token-{i}", key=f"acct-{i}", preferences={"theme": "light"})
            (tmp_path / f"token-{i}").write_text(f"secret-token-{i}\n")
            lines.append(f"acct-{i},{tmp_path / f'token-{i}'}")
        (tmp_path / "accounts.csv").write_text("\n".join(lines) + "\n")
        summary = run_on_dask(
            client,
            tmp_path / "accounts.csv",
            UPDATE,
            shards=3,
            journal_dir=tmp_path / "journals",
            base_url=server.base_url,
            rate_limit=None,
        )
    assert summary.by_status == Counter({"changed": 30})
    assert len(submitted) == 3
    assert not any(b"secret-token" in task for task in submitted)
