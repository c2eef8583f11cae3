"""Bulk runs, beyond the reliability suite: credentials named by environment
variable or file in an accounts file, the journal's format and identity rules, the waiting rule for
a spent quota, and the CLI's side (``--force-new``, a journal that cannot be written, a disk that
fills up mid-run)."""

from __future__ import annotations

import os
import pickle
import random
import resource
import subprocess
import sys
import textwrap
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs._quota import DEFAULT_QUOTA_WAIT, MIN_QUOTA_WAIT, quota_wait
from toggl_prefs.bulk import Account, BulkResult, apply_all
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.bulk._accounts import Fingerprints
from toggl_prefs.bulk._identity import describe_update
from toggl_prefs.testing import FakeTogglServer

FAST = tp.RetryPolicy(max_retries=1, backoff_base=0.001, backoff_cap=0.005)


def opts(server: FakeTogglServer, **kwargs: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "rate_limit": None, "retry": FAST, "concurrency": 8, **kwargs}


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


@pytest.fixture
async def server() -> AsyncIterator[FakeTogglServer]:
    async with FakeTogglServer() as fake:
        yield fake


# -- credentials by environment variable or file ------------------------------------------------------


def test_tokens_from_the_environment_and_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOKEN_OF_BOB", "tok-bob\n")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "carol.token").write_text("tok-carol\n")  # as `echo tok > file` writes it
    (tmp_path / "dave.token").write_bytes(b"tok-dave")  # no newline at all
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text(
        "key,api_token,api_token_env,api_token_file,email,password\n"
        "alice,tok-alice,,,,\n"
        "bob,,TOKEN_OF_BOB,,,\n"
        "carol,,,secrets/carol.token,,\n"  # relative to the accounts file, not to the working directory
        f"dave,,,{tmp_path / 'dave.token'},,\n"
        "erin,,,,erin@example.com,pw with spaces\n"
    )
    expected = [
        Account("alice", tp.ApiToken("tok-alice")),
        Account("bob", tp.ApiToken("tok-bob")),
        Account("carol", tp.ApiToken("tok-carol")),
        Account("dave", tp.ApiToken("tok-dave")),
        Account("erin", tp.BasicAuth("erin@example.com", "pw with spaces")),
    ]
    monkeypatch.chdir(tmp_path / "secrets")
    assert bulk.load_accounts(csv_file) == expected
    lines = tmp_path / "accounts.jsonl"
    lines.write_bytes(
        b"".join(
            orjson.dumps(row) + b"\n"
            for row in (
                {"key": "alice", "api_token": "tok-alice"},
                {"key": "bob", "api_token_env": "TOKEN_OF_BOB"},
                {"key": "carol", "api_token_file": "secrets/carol.token", "note": "extra keys are fine"},
                {"key": "dave", "api_token_file": str(tmp_path / "dave.token")},
                {"key": "erin", "email": "erin@example.com", "password": "pw with spaces"},
            )
        )
    )
    assert bulk.load_accounts(lines) == expected


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ("a,,NOT_SET_ANYWHERE,", "'NOT_SET_ANYWHERE' is not set"),
        ("a,,EMPTY_TOKEN,", "api_token_env: the token is empty"),
        ("a,,,missing.token", "cannot read"),
        ("a,,,two-lines.token", "api_token_file: the token contains a newline"),
        ("a,,,empty.token", "api_token_file: the token is empty"),
        ("a,,,.", "cannot read"),  # a directory
        ("a,,tok-SECRET-in-the-wrong-column,", "variable named there is not set"),
        ("a,,,tokSECRETasafile", "cannot read the file named there"),
        ("a,tok-SECRET,TOKEN_SET,", "gives api_token and api_token_env"),
        ("a,,TOKEN_SET,one.token", "exactly one"),
    ],
)
def test_a_credential_that_cannot_be_found_is_an_error_with_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str, says: str
) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    monkeypatch.setenv("EMPTY_TOKEN", "  ")
    monkeypatch.setenv("TOKEN_SET", "tok-SECRET-env")
    (tmp_path / "two-lines.token").write_text("tok-SECRET-1\ntok-SECRET-2\n")
    (tmp_path / "empty.token").write_text("\n")
    (tmp_path / "one.token").write_text("tok-SECRET-file\n")
    path = tmp_path / "accounts.csv"
    path.write_text(f"key,api_token,api_token_env,api_token_file\nok,tok-ok,,\n{row}\n")
    with pytest.raises(bulk.AccountsFileError, match=says) as info:
        bulk.load_accounts(path)
    assert info.value.line == 3 and f"{path}:3:" in str(info.value)
    assert "SECRET" not in str(info.value)


def test_an_account_named_by_an_environment_variable_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeTogglServer() as server:
        server.add_account(api_token="tok-env-1", key="a", preferences={"theme": "light"})
        monkeypatch.setenv("TOGGL_TOKEN_A", "tok-env-1")
        path = tmp_path / "accounts.csv"
        path.write_text("key,api_token_env\na,TOGGL_TOKEN_A\n")
        results = list(
            bulk_sync.apply_all(bulk.iter_accounts(path), tp.PreferencesUpdate(theme="dark"), **opts(server))
        )
    assert [r.status for r in results] == ["changed"]
    assert server.accounts["a"].preferences["theme"] == "dark"


def test_an_account_key_with_a_control_character_is_refused() -> None:
    with pytest.raises(tp.TogglValidationError, match="control"):
        Account("alice\nbob", tp.ApiToken("tok"))


def test_errors_survive_pickling(tmp_path: Path) -> None:
    # bulk errors cross process pools (Dask, multiprocessing): their fields must too
    error = bulk.AccountsFileError("a.csv:3: no key", "a.csv", 3)
    again = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (str(again), again.path, again.line) == ("a.csv:3: no key", "a.csv", 3)
    mismatch = pickle.loads(pickle.dumps(bulk.JournalMismatchError("another run", tmp_path / "j")))  # noqa: S301
    assert isinstance(mismatch, bulk.JournalMismatchError) and isinstance(mismatch, tp.TogglConfigError)
    assert mismatch.path == str(tmp_path / "j")


# -- the quota waiting rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resets_in", "wait"),
    [(0, MIN_QUOTA_WAIT), (None, DEFAULT_QUOTA_WAIT), (1, 1.0), (0.2, MIN_QUOTA_WAIT), (1800, 1800.0)],
)
def test_quota_wait(resets_in: float | None, wait: float) -> None:
    assert quota_wait(resets_in) == wait


# -- the journal: format and identity ----------------------------------------------------------------


async def test_the_journal_has_a_header_and_records_as_before(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    server.add_account(api_token="t1", key="a", preferences={"theme": "light"})
    journal = tmp_path / "j.jsonl"
    update = tp.PreferencesUpdate(theme="dark")
    await collect(apply_all([Account("a", tp.ApiToken("t1"))], update, journal=journal, **opts(server)))
    lines = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    header = bulk.read_journal_header(journal)
    assert lines[0] == header and header is not None
    assert header["journal"] == "toggl-prefs" and header["version"] == 1
    assert header["identity"] == {
        "op": "apply",
        "base_url": server.base_url,
        "client": None,
        "workspace": None,
        "update": {"fields": {"theme": "dark"}},
        "run_id": None,
    }
    records = list(bulk.read_journal(journal))  # the records alone: not the header, not the end mark
    assert records == lines[1:-1] and len(records) == 1
    assert set(records[0]) == {"run", "key", "status", "attempts", "at", "fields"}
    assert records[0]["run"] == header["run"] and records[0]["status"] == "changed"
    assert set(lines[-1]) == {"run", "event", "at"} and lines[-1]["event"] == "finished"
    assert lines[-1]["run"] == header["run"]


async def test_a_resume_appends_a_header_and_skips(server: FakeTogglServer, tmp_path: Path) -> None:
    server.add_account(api_token="t1", key="a")
    journal = tmp_path / "j.jsonl"
    accounts = [Account("a", tp.ApiToken("t1"))]
    await collect(bulk.fetch_all(accounts, journal=journal, **opts(server)))
    again = await collect(bulk.fetch_all(accounts, journal=journal, **opts(server)))
    assert [r.status for r in again] == ["skipped"]
    kinds = [
        "header" if "journal" in line else "end" if "event" in line else "record"
        for line in map(orjson.loads, journal.read_bytes().splitlines())
    ]
    assert kinds == ["header", "record", "end", "header", "end"]


def test_a_function_fingerprint_is_the_same_in_another_process(tmp_path: Path) -> None:
    # Sets of strings iterate in a per-process order (hash randomization): the fingerprint must not.
    module = tmp_path / "updates_mod.py"
    module.write_text(
        textwrap.dedent(
            """
            import toggl_prefs as tp
            CODES = {"goals", "focus_mode", "new_reports", "ai_assistant"}

            def make(theme, *, extra=frozenset({"x", "y", "z"})):
                def update(current):
                    return tp.PreferencesUpdate(theme=theme) if CODES and extra else None
                return update
            """
        )
    )
    code = "import updates_mod; from toggl_prefs.bulk._identity import describe_update; "
    code += "print(describe_update(updates_mod.make('dark'), None)['code'])"
    prints = {
        subprocess.run(
            [sys.executable, "-c", code],
            cwd=tmp_path,
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(tmp_path)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(prints) == 1


def test_what_a_function_identity_covers() -> None:
    def make(theme: str, size: int = 1) -> Any:
        return lambda _: tp.PreferencesUpdate(theme=theme, beginning_of_week=size)

    def code(fn: Any) -> Any:
        return describe_update(fn, None)["code"]

    assert code(make("dark")) == code(make("dark"))
    assert code(make("dark")) != code(make("blue"))
    assert code(make("dark", 2)) != code(make("dark", 1))

    def default(_: Any, theme: str = "dark") -> tp.PreferencesUpdate:
        return tp.PreferencesUpdate(theme=theme)

    first = code(default)
    default.__defaults__ = ("blue",)
    assert code(default) != first
    assert describe_update(make("dark"), "my-run") == {"callable": "named by run_id"}
    lock = threading.Lock()
    with pytest.raises(tp.TogglValidationError, match="run_id"):
        describe_update(lambda _: tp.PreferencesUpdate(theme="dark") if lock else None, None)


async def test_a_sync_run_refuses_another_runs_journal(tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    with FakeTogglServer() as server:
        server.add_account(api_token="t1", key="a")
        accounts = [Account("a", tp.ApiToken("t1"))]
        list(
            bulk_sync.apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=journal, **opts(server))
        )
        with pytest.raises(bulk.JournalMismatchError):
            list(
                bulk_sync.apply_all(
                    accounts, tp.PreferencesUpdate(theme="x"), journal=journal, **opts(server)
                )
            )
        fresh = bulk_sync.apply_all(
            accounts, tp.PreferencesUpdate(theme="x"), journal=journal, resume=False, **opts(server)
        )
        assert [r.status for r in fresh] == ["changed"]


# -- the CLI -----------------------------------------------------------------------------------------


@pytest.fixture
def cli_server(tmp_path: Path) -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        for i in range(40):
            fake.add_account(api_token=f"secret-token-{i}", key=f"acct-{i}", preferences={"theme": "light"})
        bulk.write_accounts_csv([(f"acct-{i}", f"secret-token-{i}") for i in range(40)], tmp_path / "a.csv")
        yield fake


def cli(
    server: FakeTogglServer, tmp_path: Path, *argv: str, fsize: int | None = None
) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # a disk that fills up: writes past `fsize` bytes fail with EFBIG
        if fsize is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    result = subprocess.run(
        [sys.executable, "-m", "toggl_prefs", "--base-url", server.base_url, "bulk", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path,
        timeout=120,
        check=False,
        preexec_fn=limit,
    )
    assert "secret-token" not in result.stdout + result.stderr
    return result


def test_cli_another_runs_journal_is_refused_until_force_new(
    cli_server: FakeTogglServer, tmp_path: Path
) -> None:
    base = ["apply", "--accounts", "a.csv", "--journal", "j.jsonl", "--rate-limit", "0"]
    assert cli(cli_server, tmp_path, *base, "theme=dark").returncode == 0
    sent = len(cli_server.requests)
    refused = cli(cli_server, tmp_path, *base, "theme=blue")
    assert refused.returncode == 2 and "JournalMismatchError" in refused.stderr
    assert "--force-new" in refused.stderr
    assert len(cli_server.requests) == sent  # nothing was sent
    forced = cli(cli_server, tmp_path, *base, "theme=blue", "--force-new")
    assert forced.returncode == 0, forced.stderr
    assert all(a.preferences["theme"] == "blue" for a in cli_server.accounts.values())


def test_cli_a_journal_that_cannot_be_written_sends_nothing(
    cli_server: FakeTogglServer, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("x")
    result = cli(
        cli_server, tmp_path, "apply", "--accounts", "a.csv", "theme=dark", "--journal", "file/j.jsonl"
    )
    assert result.returncode == 2 and "JournalOpenError" in result.stderr
    assert cli_server.requests == []


def test_cli_a_disk_full_at_the_start_sends_nothing(cli_server: FakeTogglServer, tmp_path: Path) -> None:
    journal = tmp_path / "j.jsonl"
    journal.write_bytes(b"")
    result = cli(
        cli_server, tmp_path, "apply", "--accounts", "a.csv", "theme=dark", "--journal", "j.jsonl", fsize=50
    )
    assert result.returncode == 2 and "JournalOpenError" in result.stderr, result.stderr
    assert cli_server.requests == []


def test_cli_a_disk_that_fills_up_mid_run_stops_it(cli_server: FakeTogglServer, tmp_path: Path) -> None:
    result = cli(
        cli_server,
        tmp_path,
        "apply",
        "--accounts",
        "a.csv",
        "theme=dark",
        "--journal",
        "j.jsonl",
        "--rate-limit",
        "0",
        "--concurrency",
        "2",
        fsize=2000,  # the header and a dozen records
    )
    # the table's code for a run stopped before its end (re-run to resume), after its summary
    assert result.returncode == 130 and "JournalWriteError" in result.stderr, result.stderr
    assert "\nchanged " in result.stderr and "\ntotal " in result.stderr
    recorded = {r["key"] for r in bulk.read_journal(tmp_path / "j.jsonl") if "key" in r}
    changed = {k for k, a in cli_server.accounts.items() if a.preferences["theme"] == "dark"}
    assert 5 < len(recorded) < 40 and recorded <= changed
    assert len(changed) <= len(recorded) + 3  # the unjournaled one, and those in flight


def test_the_duplicate_check_costs_a_few_bytes_per_account() -> None:
    seen = Fingerprints()
    rng = random.Random(7)  # noqa: S311 - test data
    values = [i << 40 for i in range(1, 50_000)]  # equal low bits: slots must still spread
    values += [rng.getrandbits(64) | 1 for _ in range(50_000)]
    assert all(seen.add(v) for v in values) and len(seen) == len(values)
    assert not any(seen.add(v) for v in values[::997])
    assert seen.add(0) and not seen.add(0) and not seen.add(1) and len(seen) == len(values) + 1
    # a Python set of ints costs ~80 bytes an entry: the run's memory must not grow with accounts
    assert seen._table.itemsize * len(seen._table) / len(seen) <= 24
