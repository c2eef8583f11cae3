"""Bulk runs against the fake server: 1,000+ accounts, faults on a subset, journals that resume,
streaming, sharding, the blocking twins."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.bulk import Account, BulkResult, BulkSummary, apply_all, clone_all, fetch_all
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.testing import FakeTogglServer

FAST = tp.RetryPolicy(max_retries=3, backoff_base=0.005, backoff_cap=0.02)


def seed(server: FakeTogglServer, count: int, *, start: int = 0) -> list[Account]:
    accounts = []
    for i in range(start, start + count):
        theme = "dark" if i % 4 == 0 else "light"
        server.add_account(
            api_token=f"token-{i}",
            key=f"acct-{i}",
            preferences={"theme": theme},
            workspaces={10_000 + i: "admin"},
        )
        accounts.append(Account(f"acct-{i}", tp.ApiToken(f"token-{i}")))
    return accounts


def options(server: FakeTogglServer, **kwargs: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "rate_limit": None, "retry": FAST, "concurrency": 32, **kwargs}


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


def posts_per_account(server: FakeTogglServer) -> Counter[str | None]:
    return Counter(r.account for r in server.requests if r.method == "POST" and r.status == 200)


@pytest.fixture
async def server() -> AsyncIterator[FakeTogglServer]:
    async with FakeTogglServer() as fake:
        yield fake


async def test_apply_to_1200_accounts_with_faults_on_a_subset(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    accounts = seed(server, 1200)
    server.fail_next(40, status=503)
    server.fail_next(20, status=429, body="<html><h1>429 Too Many Requests</h1></html>", method="POST")
    update = tp.PreferencesUpdate(theme="dark", pomodoro_enabled=False)
    journal = tmp_path / "run.jsonl"
    results = await collect(apply_all(accounts, update, journal=journal, **options(server)))
    summary = BulkSummary.of(results)
    assert Counter(r["status"] for r in bulk.read_journal(journal)) == summary.by_status
    assert len(results) == 1200 and all(r.ok for r in results), Counter(r.status for r in results)
    assert {r.key for r in results} == {a.key for a in accounts}
    for account in server.accounts.values():
        assert account.preferences["theme"] == "dark" and account.preferences["pomodoro_enabled"] is False
    # only what differs is sent: already-dark accounts get only pomodoro_enabled
    bodies = {r.account: r.json for r in server.requests if r.method == "POST" and r.status == 200}
    assert bodies["acct-0"] == {"pomodoro_enabled": False}
    assert bodies["acct-1"] == {"theme": "dark", "pomodoro_enabled": False}
    assert max(posts_per_account(server).values()) == 1
    assert sum(r.attempts for r in results) == len(server.requests)


async def test_compliant_accounts_are_left_alone(server: FakeTogglServer) -> None:
    accounts = seed(server, 40)
    results = await collect(apply_all(accounts, tp.PreferencesUpdate(theme="dark"), **options(server)))
    summary = BulkSummary.of(results)
    assert summary.by_status == Counter({"changed": 30, "unchanged": 10})
    assert len([r for r in server.requests if r.method == "POST"]) == 30
    unchanged = next(r for r in results if not r.changed)
    assert unchanged.value is None and unchanged.attempts == 1


async def test_quota_402_parks_the_account_until_its_window_resets(server: FakeTogglServer) -> None:
    accounts = seed(server, 60)
    quota = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1"}
    server.fail_next(5, status=402, body="quota", headers=quota, method="GET")
    started = asyncio.get_running_loop().time()
    results = await collect(apply_all(accounts, tp.PreferencesUpdate(theme="dark"), **options(server)))
    assert all(r.ok for r in results) and len(results) == 60
    assert asyncio.get_running_loop().time() - started >= 0.9  # the parked ones waited for the reset
    assert all(a.preferences["theme"] == "dark" for a in server.accounts.values())


async def test_quota_402_reported_when_asked(server: FakeTogglServer) -> None:
    accounts = seed(server, 30)
    quota = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "3000"}
    server.fail_next(4, status=402, body="quota", headers=quota, method="GET")
    results = await collect(
        apply_all(accounts, tp.PreferencesUpdate(theme="dark"), on_quota="fail", **options(server))
    )
    failed = [r for r in results if not r.ok]
    assert len(failed) == 4 and all(isinstance(r.error, tp.QuotaExceededError) for r in failed)
    assert sum(r.ok for r in results) == 26  # the others went on


async def test_a_wait_beyond_the_cap_is_reported(server: FakeTogglServer) -> None:
    accounts = seed(server, 3)
    quota = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "3000"}
    server.fail_next(1, status=402, body="quota", headers=quota)
    results = await collect(fetch_all(accounts, max_quota_wait=10, **options(server)))
    assert Counter(r.status for r in results) == Counter({"fetched": 2, "failed": 1})


async def test_journal_resumes_after_an_interruption_without_repeats(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    accounts = seed(server, 300)
    journal = tmp_path / "run.jsonl"
    update = tp.PreferencesUpdate(theme="dark")
    first: list[BulkResult] = []
    run = apply_all(accounts, update, journal=journal, **options(server))
    async for result in run:
        first.append(result)
        if len(first) == 120:
            break
    await run.aclose()  # type: ignore[attr-defined]  # Ctrl-C: the work in flight is cancelled
    with journal.open("ab") as handle:  # and a crash tore the last line
        handle.write(b'{"run": "x", "key": "acct-')
    second = await collect(apply_all(accounts, update, journal=journal, **options(server)))
    skipped = {r.key for r in second if r.skipped}
    assert skipped >= {r.key for r in first}
    assert {r.key for r in second} == {a.key for a in accounts}
    assert all(a.preferences["theme"] == "dark" for a in server.accounts.values())
    assert max(posts_per_account(server).values()) == 1  # nothing applied twice
    records = list(bulk.read_journal(journal))
    assert all("token" not in json.dumps(r) for r in records)
    # every account finished exactly once; results finished but not yet consumed when the first
    # run was stopped are in the journal too, so nothing finished is lost
    assert Counter(r["key"] for r in records if r.get("run") != "x") == Counter({a.key: 1 for a in accounts})
    assert {r.key for r in first} <= {r["key"] for r in records}
    third = await collect(apply_all(accounts, update, journal=journal, **options(server)))
    assert all(r.skipped for r in third)


async def test_a_different_run_does_not_skip(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 10)
    journal = tmp_path / "run.jsonl"
    await collect(apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=journal, **options(server)))
    sent = len(server.requests)
    with pytest.raises(bulk.JournalMismatchError):  # another run's journal is never reused silently
        await collect(
            apply_all(accounts, tp.PreferencesUpdate(theme="light"), journal=journal, **options(server))
        )
    assert len(server.requests) == sent
    again = await collect(
        apply_all(
            accounts, tp.PreferencesUpdate(theme="light"), journal=journal, resume=False, **options(server)
        )
    )
    assert not any(r.skipped for r in again)
    assert all(a.preferences["theme"] == "light" for a in server.accounts.values())


async def test_failures_are_retried_on_resume(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 20)
    journal = tmp_path / "run.jsonl"
    server.fail_next(200, status=400, body='"Missing data"', method="POST")
    first = await collect(
        apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=journal, **options(server))
    )
    assert Counter(r.status for r in first) == Counter({"failed": 15, "unchanged": 5})
    assert all(isinstance(r.error, tp.MissingDataError) for r in first if not r.ok)
    server.faults.clear()
    second = await collect(
        apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=journal, **options(server))
    )
    assert Counter(r.status for r in second) == Counter({"changed": 15, "skipped": 5})


async def test_dry_run_reports_diffs_and_sends_nothing(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 8)
    results = await collect(
        apply_all(
            accounts,
            tp.PreferencesUpdate(theme="dark"),
            dry_run=True,
            journal=tmp_path / "j.jsonl",
            **options(server),
        )
    )
    assert [r.method for r in server.requests] == ["GET"] * 8
    changed = [r for r in results if r.changed]
    assert len(changed) == 6 and all(
        r.dry_run and r.value == tp.PreferencesUpdate(theme="dark") for r in changed
    )
    assert not (tmp_path / "j.jsonl").exists()


async def test_update_function_of_current_preferences(server: FakeTogglServer) -> None:
    accounts = seed(server, 12)

    def flip(current: tp.UserPreferences) -> tp.PreferencesUpdate | None:
        return None if current.theme == "dark" else tp.PreferencesUpdate(theme="dark", show_all_entries=True)

    results = await collect(apply_all(accounts, flip, **options(server)))
    assert Counter(r.status for r in results) == Counter({"changed": 9, "unchanged": 3})
    with pytest.raises(TypeError, match="returned"):
        await collect(apply_all(accounts[:1], lambda _: {"theme": "x"}, **options(server)))


async def test_fetch_user_client_and_workspace(server: FakeTogglServer) -> None:
    accounts = seed(server, 25)
    users = await collect(fetch_all(accounts, **options(server)))
    assert all(isinstance(r.value, tp.UserPreferences) and r.status == "fetched" for r in users)
    assert {r.key: r.value.theme for r in users}["acct-4"] == "dark"
    web = await collect(fetch_all(accounts, client="web", **options(server)))
    assert all(r.value == tp.UserPreferences() for r in web)
    ws = await collect(fetch_all(accounts[:1], workspace_id=10_000, **options(server)))
    assert isinstance(ws[0].value, tp.WorkspacePreferences)
    other = await collect(fetch_all(accounts[1:2], workspace_id=10_000, **options(server)))
    assert isinstance(other[0].error, tp.ForbiddenError)


async def test_clone_one_account_onto_others(server: FakeTogglServer) -> None:
    accounts = seed(server, 6)
    server.accounts["acct-0"].preferences.update({"date_format": "DD.MM.YYYY", "ToSAcceptNeeded": True})
    results = await collect(clone_all(accounts[0], accounts, **options(server)))
    assert {r.key for r in results} == {a.key for a in accounts[1:]}
    for key in ("acct-1", "acct-5"):
        prefs = server.accounts[key].preferences
        assert prefs["date_format"] == "DD.MM.YYYY" and prefs["theme"] == "dark"
    assert all("toSAcceptNeeded" not in (r.json or {}) for r in server.requests if r.method == "POST")


async def test_early_stop_cancels_work_and_leaves_no_task(server: FakeTogglServer) -> None:
    accounts = seed(server, 200)
    before = asyncio.all_tasks()
    run = fetch_all(accounts, **options(server))
    async for _ in run:
        break
    await run.aclose()  # type: ignore[attr-defined]
    await asyncio.sleep(0.05)
    assert asyncio.all_tasks() - before == set()
    assert len(server.requests) < 200


async def test_results_stream_while_the_run_goes_on(server: FakeTogglServer) -> None:
    accounts = seed(server, 100)
    seen_at_first_result = None
    async for _ in fetch_all(accounts, **options(server, concurrency=4)):
        if seen_at_first_result is None:
            seen_at_first_result = len(server.requests)
    assert seen_at_first_result is not None and seen_at_first_result < 20


async def test_accounts_from_an_async_generator(server: FakeTogglServer) -> None:
    plain = seed(server, 10)

    async def accounts() -> AsyncIterator[Account]:
        for account in plain:
            yield account

    assert len(await collect(fetch_all(accounts(), **options(server)))) == 10


async def test_shards_partition_the_accounts(server: FakeTogglServer) -> None:
    accounts = seed(server, 90)
    keys = [
        {r.key for r in await collect(fetch_all(accounts, shard=(i, 3), **options(server)))} for i in range(3)
    ]
    assert set.union(*keys) == {a.key for a in accounts}
    assert sum(len(k) for k in keys) == 90 and all(len(k) > 15 for k in keys)
    assert bulk.in_shard("acct-7", (1, 3)) == bulk.in_shard("acct-7", (1, 3))
    with pytest.raises(ValueError, match="shard"):
        await collect(fetch_all(accounts, shard=(3, 3), **options(server)))


async def test_a_shared_retry_budget_stops_a_storm(server: FakeTogglServer) -> None:
    accounts = seed(server, 150)
    server.fail_next(100_000, status=503)
    policy = tp.RetryPolicy(max_retries=5, backoff_base=0.001, backoff_cap=0.002)
    budget = tp.RetryBudget(ratio=0.1, minimum_per_second=5)
    results = await collect(fetch_all(accounts, **options(server, retry=attrs_evolve(policy, budget=budget))))
    assert all(isinstance(r.error, tp.ServerError) for r in results)
    # without the budget: 150 x 6 = 900 requests
    assert len(server.requests) < 150 + 15 + 60 + 40
    assert budget.refused > 0


def attrs_evolve(policy: tp.RetryPolicy, **changes: Any) -> tp.RetryPolicy:
    import attrs

    return attrs.evolve(policy, **changes)


def test_load_accounts_csv_and_jsonl(tmp_path: Path) -> None:
    csv_file = tmp_path / "a.csv"
    csv_file.write_text("key,api_token\nalice,tok-SECRET-1\n\nbob,tok-SECRET-2\n")
    assert bulk.load_accounts(csv_file) == [
        Account("alice", tp.ApiToken("tok-SECRET-1")),
        Account("bob", tp.ApiToken("tok-SECRET-2")),
    ]
    login = tmp_path / "b.csv"
    login.write_text("key,email,password\ncarol,c@x.io,pw-SECRET\n")
    assert bulk.load_accounts(login)[0].auth == tp.BasicAuth("c@x.io", "pw-SECRET")
    lines = tmp_path / "c.jsonl"
    lines.write_text(
        '{"key": "dave", "api_token": "tok-SECRET-3"}\n\n{"key": "erin", "email": "e@x", "password": "p"}\n'
    )
    assert [a.key for a in bulk.load_accounts(lines)] == ["dave", "erin"]
    assert "SECRET" not in repr(bulk.load_accounts(csv_file))


@pytest.mark.parametrize(
    ("name", "text", "match"),
    [
        ("h.csv", "user,token\nx,y\n", "header"),
        ("d.csv", "key,api_token\na,tok-SECRET\na,tok-SECRET-2\n", "duplicate"),
        ("m.csv", "key,api_token\na,\n", "needs api_token"),
        ("k.csv", "key,api_token\n,tok-SECRET\n", "no key"),
        ("c.csv", "key,api_token\na,tok:SECRET\n", "must not contain"),
        ("j.jsonl", '{"key": "a", "api_token": "tok-SECRET"}\n[1]\n', ":2: not a JSON object"),
    ],
)
def test_bad_accounts_files_say_where_and_never_echo_secrets(
    tmp_path: Path, name: str, text: str, match: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(bulk.AccountsFileError, match=match) as info:
        bulk.load_accounts(path)
    assert "SECRET" not in str(info.value)


async def test_bad_arguments_are_refused_before_any_request(server: FakeTogglServer) -> None:
    accounts = seed(server, 2)
    update = tp.PreferencesUpdate(theme="dark")
    calls: tuple[tuple[Any, type[Exception]], ...] = (
        (lambda: apply_all(accounts, tp.PreferencesUpdate(), **options(server)), ValueError),
        (
            lambda: apply_all(
                accounts, tp.WorkspacePreferencesUpdate(disable_expenses=True), **options(server)
            ),
            TypeError,
        ),
        (lambda: apply_all(accounts, update, **options(server, concurrency=0)), ValueError),
        (lambda: apply_all(accounts, update, on_quota="retry", **options(server)), ValueError),  # type: ignore[arg-type]
        (lambda: fetch_all(accounts, client="we/b", **options(server)), ValueError),
        (lambda: fetch_all(accounts, client="web", workspace_id=1, **options(server)), ValueError),
        (lambda: fetch_all([object()], **options(server)), TypeError),  # type: ignore[list-item]
    )
    for call, error in calls:
        with pytest.raises(error):
            await collect(call())
    assert server.requests == []


def test_sync_twins_mirror_the_async_functions() -> None:
    for name in ("fetch_all", "apply_all", "clone_all"):
        async_fn, sync_fn = getattr(bulk, name), getattr(bulk_sync, name)
        assert inspect.isasyncgenfunction(async_fn) and not inspect.isasyncgenfunction(sync_fn)
        a, s = inspect.signature(async_fn), inspect.signature(sync_fn)
        assert list(a.parameters.values()) == list(s.parameters.values()), name
        assert s.return_annotation == a.return_annotation.replace("AsyncIterator", "Iterator")


def test_sync_bulk_runs_and_closes_on_early_stop() -> None:
    import threading

    with FakeTogglServer() as fake:
        accounts = seed(fake, 50)
        results = list(bulk_sync.apply_all(accounts, tp.PreferencesUpdate(theme="dark"), **options(fake)))
        assert len(results) == 50 and all(r.ok for r in results)
        before = {t.name for t in threading.enumerate()}
        for _ in bulk_sync.fetch_all(accounts, **options(fake)):
            break
        assert {t.name for t in threading.enumerate()} <= before
        with pytest.raises(ValueError, match="own event loop"):
            bulk_sync.fetch_all(accounts, session=object())  # type: ignore[arg-type]
