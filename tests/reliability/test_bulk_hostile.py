"""Hostile bulk runs: quota storms, cookies across accounts, journals that belong to
another run or cannot be written, accounts files that lie, duplicate accounts, huge concurrency.

Every run talks to a real loopback fake server; each case checks what the server received."""

from __future__ import annotations

import asyncio
import errno
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.bulk import Account, BulkResult, _engine, _journal, apply_all, fetch_all
from toggl_prefs.testing import FakeTogglServer

from .conftest import record
from .test_fault_matrix import client_tasks

FAST = tp.RetryPolicy(max_retries=1, backoff_base=0.001, backoff_cap=0.005)
SPENT = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "0"}


def seed(server: FakeTogglServer, count: int, *, theme: str = "light") -> list[Account]:
    for i in range(count):
        server.add_account(api_token=f"tok-SECRET-{i}", key=f"acct-{i}", preferences={"theme": theme})
    return [Account(f"acct-{i}", tp.ApiToken(f"tok-SECRET-{i}")) for i in range(count)]


def opts(server: FakeTogglServer, **kwargs: Any) -> dict[str, Any]:
    return {"base_url": server.base_url, "rate_limit": None, "retry": FAST, "concurrency": 8, **kwargs}


async def collect(results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    return [r async for r in results]


def per_account(server: FakeTogglServer) -> Counter[str | None]:
    return Counter(r.account for r in server.requests)


@pytest.fixture
async def server() -> AsyncIterator[FakeTogglServer]:
    async with FakeTogglServer() as fake:
        yield fake


# -- quota (item 4) ----------------------------------------------------------------------------------


async def run_for(seconds: float, results: AsyncIterator[BulkResult]) -> list[BulkResult]:
    """The results a run yields within ``seconds`` (a run that would never end is cut short)."""
    out: list[BulkResult] = []

    async def collect() -> None:
        async for result in results:
            out.append(result)

    try:
        await asyncio.wait_for(collect(), seconds)  # asyncio.timeout() is 3.11+
    except asyncio.TimeoutError:  # not the builtin TimeoutError on 3.10
        pass
    return out


@pytest.mark.parametrize("resets_in", ["0", "-1", "soon", ""])
async def test_a_quota_that_resets_now_or_never_says_does_not_storm(
    server: FakeTogglServer, resets_in: str
) -> None:
    accounts = seed(server, 2)
    server.fail_next(
        10**9, status=402, body="quota spent", headers={**SPENT, "X-Toggl-Quota-Resets-In": resets_in}
    )
    results = await run_for(8, fetch_all(accounts, **opts(server, rate_limit=1.0, max_quota_wait=2.5)))
    counts = per_account(server)
    # A reset of 0 waits the minimum (1 s) each time, and the waits add up against max_quota_wait:
    # requests at 0, 1 and 2 s, then the account fails (an unreadable reset waits 60 s: over the
    # cap at once). A reset of 0 was ~3,000 requests in 3 s, forever.
    assert max(counts.values()) <= 4, counts
    assert len(results) == 2 and all(isinstance(r.error, tp.QuotaExceededError) for r in results)
    assert all(r.attempts == counts[r.key] for r in results)  # one client per account for the run
    record(
        "bulk",
        case=f"402, quota remaining 0, resets in {resets_in!r}, forever",
        outcome=f"QuotaExceededError after {max(counts.values())} requests per account "
        "(waits of at least 1 s add up to max_quota_wait=2.5)",
    )


async def test_parking_has_a_cap(server: FakeTogglServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_engine, "MAX_QUOTA_PARKS", 2)
    accounts = seed(server, 1)
    server.fail_next(10**9, status=402, body="quota spent", headers={**SPENT, "X-Toggl-Quota-Resets-In": "1"})
    results = await run_for(10, fetch_all(accounts, **opts(server)))  # max_quota_wait: 3600 s
    assert len(results) == 1 and isinstance(results[0].error, tp.QuotaExceededError)
    assert per_account(server)["acct-0"] == 3  # the first request and one after each of 2 parks
    record(
        "bulk", case="402 quota spent on every request, resets in 1 s", outcome="fails after MAX_QUOTA_PARKS"
    )


async def test_the_accounts_throttle_holds_across_parks(server: FakeTogglServer) -> None:
    accounts = seed(server, 1)
    server.fail_next(10**9, status=402, body="quota spent", headers=SPENT)
    # 1 request per 2 s for this account: a park of the minimum 1 s must not let it go sooner.
    await run_for(3.5, fetch_all(accounts, **opts(server, rate_limit=0.5)))
    assert per_account(server)["acct-0"] <= 2  # at 0 and 2 s; a fresh throttle per park: 0, 1, 2, 3
    record(
        "bulk",
        case="402 resets in 0 s, rate_limit 0.5/s",
        outcome="the account's throttle holds across parks",
    )


# -- cookies (item 5, bulk side) ---------------------------------------------------------------------


async def test_a_cookie_one_account_gets_is_never_sent_for_another() -> None:
    async def set_cookie(request: web.Request, response: web.StreamResponse) -> None:
        response.headers["Set-Cookie"] = "session=of-whoever-asked; Path=/"

    server = FakeTogglServer()
    server.app.on_response_prepare.append(set_cookie)
    async with server:
        accounts = seed(server, 2)
        # a host name, not an IP: aiohttp's default jar ignores cookies from IP addresses
        base_url = server.base_url.replace("127.0.0.1", "localhost")
        results = await collect(fetch_all(accounts, **opts(server, base_url=base_url, concurrency=1)))
    assert all(r.ok for r in results), results
    assert [r.headers.get("Cookie") for r in server.requests] == [None, None]
    record(
        "bulk", case="server sets a cookie on account A's answer", outcome="account B's request carries none"
    )


async def test_a_callers_session_with_a_cookie_jar_is_refused(server: FakeTogglServer) -> None:
    accounts = seed(server, 2)
    async with aiohttp.ClientSession() as live:
        with pytest.raises(tp.TogglConfigError, match="DummyCookieJar"):
            await collect(fetch_all(accounts, **opts(server, session=live)))
        with pytest.raises(tp.TogglConfigError, match="DummyCookieJar"):
            await collect(bulk.clone_all(accounts[0], accounts, **opts(server, session=live)))
    assert server.requests == []
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as quiet:
        assert all(r.ok for r in await collect(fetch_all(accounts, **opts(server, session=quiet))))
    record("bulk", case="a caller's session with a live cookie jar", outcome="TogglConfigError, nothing sent")


# -- journal identity (item 6) -------------------------------------------------------------------------


def themed(theme: str) -> Callable[[tp.UserPreferences], tp.PreferencesUpdate]:
    return lambda _: tp.PreferencesUpdate(theme=theme)


async def test_two_closures_over_different_values_do_not_share_a_journal(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    accounts = seed(server, 6)
    journal = tmp_path / "run.jsonl"
    first = await collect(apply_all(accounts, themed("dark"), journal=journal, **opts(server)))
    assert {r.status for r in first} == {"changed"}
    posts = len([r for r in server.requests if r.method == "POST"])
    with pytest.raises(bulk.JournalMismatchError, match="resume=False") as info:
        await collect(apply_all(accounts, themed("blue"), journal=journal, **opts(server)))
    assert "update" in str(info.value)
    assert len([r for r in server.requests if r.method == "POST"]) == posts  # nothing sent
    again = await collect(apply_all(accounts, themed("dark"), journal=journal, **opts(server)))
    assert all(r.skipped for r in again)  # the same function closing over the same value resumes
    fresh = await collect(apply_all(accounts, themed("blue"), journal=journal, resume=False, **opts(server)))
    assert {r.status for r in fresh} == {"changed"}
    assert all(a.preferences["theme"] == "blue" for a in server.accounts.values())
    record(
        "journal identity",
        case="one function closing over theme='dark', then 'blue'",
        outcome="JournalMismatchError",
    )


async def test_two_different_lambdas_do_not_share_a_journal(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 3)
    journal = tmp_path / "run.jsonl"
    await collect(
        apply_all(accounts, lambda _: tp.PreferencesUpdate(theme="dark"), journal=journal, **opts(server))
    )
    with pytest.raises(bulk.JournalMismatchError):
        await collect(
            apply_all(accounts, lambda _: tp.PreferencesUpdate(theme="blue"), journal=journal, **opts(server))
        )
    record(
        "journal identity",
        case="two lambdas (same qualified name, other code)",
        outcome="JournalMismatchError",
    )


async def test_another_base_url_does_not_share_a_journal(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 3)
    journal = tmp_path / "run.jsonl"
    update = tp.PreferencesUpdate(theme="dark")
    await collect(apply_all(accounts, update, journal=journal, **opts(server)))
    async with FakeTogglServer() as other:
        seed(other, 3)
        with pytest.raises(bulk.JournalMismatchError, match="base_url"):
            await collect(apply_all(accounts, update, journal=journal, **opts(other)))
        assert other.requests == []
    record(
        "journal identity", case="the same update against another base URL", outcome="JournalMismatchError"
    )


@pytest.mark.parametrize(
    ("first", "second", "differs"),
    [
        (
            {"update": tp.PreferencesUpdate(theme="dark")},
            {"update": tp.PreferencesUpdate(theme="light")},
            "update",
        ),
        ({"client": "web"}, {"client": "desktop"}, "client"),
        ({"op": "fetch"}, {"op": "apply"}, "op"),
    ],
    ids=["update", "client", "operation"],
)
async def test_anything_that_decides_what_is_sent_is_in_the_identity(
    server: FakeTogglServer, tmp_path: Path, first: dict[str, Any], second: dict[str, Any], differs: str
) -> None:
    accounts = seed(server, 2)
    journal = tmp_path / "run.jsonl"

    def run(spec: dict[str, Any]) -> AsyncIterator[BulkResult]:
        if spec.get("op") == "fetch":
            return fetch_all(accounts, journal=journal, **opts(server))
        update = spec.get("update", tp.PreferencesUpdate(theme="dark"))
        return apply_all(accounts, update, client=spec.get("client"), journal=journal, **opts(server))

    await collect(run(first))
    sent = len(server.requests)
    with pytest.raises(bulk.JournalMismatchError, match=differs):
        await collect(run(second))
    assert len(server.requests) == sent
    record("journal identity", case=f"another {differs}, same journal", outcome="JournalMismatchError")


async def test_a_callable_that_cannot_be_fingerprinted_needs_a_run_id(
    server: FakeTogglServer, tmp_path: Path
) -> None:
    accounts = seed(server, 2)
    journal = tmp_path / "run.jsonl"
    state = object()  # opaque: its value cannot be hashed the same way in another process

    def update(_: tp.UserPreferences) -> tp.PreferencesUpdate:
        return tp.PreferencesUpdate(theme="dark" if state else "light")

    with pytest.raises(tp.TogglValidationError, match="run_id"):
        await collect(apply_all(accounts, update, journal=journal, **opts(server)))
    assert server.requests == []
    done = await collect(apply_all(accounts, update, journal=journal, run_id="dark-2024", **opts(server)))
    assert {r.status for r in done} == {"changed"}
    again = await collect(apply_all(accounts, update, journal=journal, run_id="dark-2024", **opts(server)))
    assert all(r.skipped for r in again)
    with pytest.raises(bulk.JournalMismatchError, match="run_id"):
        await collect(apply_all(accounts, update, journal=journal, run_id="dark-2025", **opts(server)))
    assert len(await collect(apply_all(accounts, update, **opts(server)))) == 2  # no journal: no identity
    record(
        "journal identity",
        case="a function over an opaque object",
        outcome="TogglValidationError asking for run_id=; with one it resumes",
    )


async def test_a_journal_without_a_header_is_not_reused(server: FakeTogglServer, tmp_path: Path) -> None:
    accounts = seed(server, 2)
    journal = tmp_path / "old.jsonl"  # as written by an older version: records, no header
    journal.write_bytes(
        b"".join(
            orjson.dumps({"run": "0123456789abcdef", "key": a.key, "status": "changed"}) + b"\n"
            for a in accounts
        )
    )
    with pytest.raises(bulk.JournalMismatchError, match="no header"):
        await collect(
            apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=journal, **opts(server))
        )
    assert server.requests == []
    record(
        "journal identity",
        case="a journal written without an identity header",
        outcome="JournalMismatchError",
    )


# -- journals that cannot be written (item 7) -----------------------------------------------------------


def journal_path(tmp_path: Path, shape: str) -> Path:
    if shape == "parent is a file":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "run.jsonl"
    if shape == "a directory":
        (tmp_path / "dir").mkdir()
        return tmp_path / "dir"
    return Path("/dev/full")


@pytest.mark.parametrize("shape", ["parent is a file", "a directory", "a device (/dev/full)"])
async def test_a_journal_that_cannot_be_opened_stops_the_run_before_any_request(
    server: FakeTogglServer, tmp_path: Path, shape: str
) -> None:
    accounts = seed(server, 8)
    with pytest.raises(bulk.JournalError) as info:
        await collect(
            apply_all(
                accounts,
                tp.PreferencesUpdate(theme="dark"),
                journal=journal_path(tmp_path, shape),
                **opts(server),
            )
        )
    assert isinstance(info.value, tp.TogglConfigError)  # the CLI's exit 2: nothing was sent
    assert server.requests == []
    record("files", case=f"journal: {shape}", outcome=f"{type(info.value).__name__} before any request")


class FailingWrites:
    """Makes the journal's writes fail with ENOSPC (disk full) after ``allowed`` of them."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, allowed: int) -> None:
        self.allowed = allowed
        real = _journal.Journal._write

        def write(journal: _journal.Journal, data: bytes) -> None:
            if self.allowed <= 0:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.allowed -= 1
            real(journal, data)

        monkeypatch.setattr(_journal.Journal, "_write", write)


async def test_a_journal_whose_first_write_fails_stops_the_run_before_any_request(
    server: FakeTogglServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = seed(server, 8)
    FailingWrites(monkeypatch, 0)
    with pytest.raises(bulk.JournalError, match="No space left") as info:
        await collect(
            apply_all(accounts, tp.PreferencesUpdate(theme="dark"), journal=tmp_path / "j", **opts(server))
        )
    assert isinstance(info.value, tp.TogglConfigError)
    assert server.requests == []
    record(
        "files", case="journal: disk full at the first write", outcome="JournalOpenError before any request"
    )


async def test_a_journal_that_fills_the_disk_mid_run_stops_it_cleanly(
    server: FakeTogglServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = seed(server, 60)
    journal = tmp_path / "run.jsonl"
    FailingWrites(monkeypatch, 1 + 10)  # the header, then 10 records
    seen: list[BulkResult] = []

    async def run() -> None:
        update = tp.PreferencesUpdate(theme="dark")
        async for result in apply_all(accounts, update, journal=journal, **opts(server, concurrency=4)):
            seen.append(result)

    with pytest.raises(bulk.JournalWriteError, match="No space left") as info:
        await run()
    assert not isinstance(info.value, tp.TogglConfigError)  # things were sent: not a usage error
    recorded = {r["key"] for r in bulk.read_journal(journal)}
    assert len(recorded) == 10 and recorded < {r.key for r in seen}  # the unjournaled one is reported too
    changed = {k for k, a in server.accounts.items() if a.preferences["theme"] == "dark"}
    assert len(changed) <= len(seen) + 4  # at most the accounts in flight went unreported
    record("files", case="journal: disk full mid-run", outcome="JournalWriteError after the results so far")


# -- duplicates and concurrency (item 13) ---------------------------------------------------------------


async def test_the_same_account_twice_is_refused_before_any_request(server: FakeTogglServer) -> None:
    accounts = seed(server, 3)
    with pytest.raises(tp.TogglValidationError, match=r"acct-1.*twice"):
        await collect(apply_all([*accounts, accounts[1]], tp.PreferencesUpdate(theme="dark"), **opts(server)))
    alias = Account("alias", tp.ApiToken("tok-SECRET-2"))
    with pytest.raises(tp.TogglValidationError, match="same credentials") as info:
        await collect(apply_all([*accounts, alias], tp.PreferencesUpdate(theme="dark"), **opts(server)))
    assert "SECRET" not in str(info.value)
    assert server.requests == []
    record(
        "bulk",
        case="the same account twice (by key, by credential) in a list",
        outcome="refused, nothing sent",
    )


async def test_a_duplicate_in_a_stream_stops_the_run_and_is_never_applied_twice(
    server: FakeTogglServer,
) -> None:
    accounts = seed(server, 20)

    async def stream() -> AsyncIterator[Account]:
        for account in [*accounts, Account("again", tp.ApiToken("tok-SECRET-3"))]:
            yield account

    with pytest.raises(tp.TogglValidationError, match="same credentials"):
        await collect(apply_all(stream(), tp.PreferencesUpdate(theme="dark"), **opts(server)))
    posts = Counter(r.account for r in server.requests if r.method == "POST")
    assert max(posts.values()) == 1
    record("bulk", case="the same account twice in a stream", outcome="TogglValidationError; applied once")


async def test_concurrency_has_a_ceiling(server: FakeTogglServer) -> None:
    accounts = seed(server, 1)
    with pytest.raises(tp.TogglValidationError, match=str(_engine.MAX_CONCURRENCY)):
        await collect(fetch_all(accounts, **opts(server, concurrency=_engine.MAX_CONCURRENCY + 1)))
    assert server.requests == []
    record("bulk", case=f"concurrency {_engine.MAX_CONCURRENCY + 1}", outcome="TogglValidationError")


async def test_idle_concurrency_costs_no_task(server: FakeTogglServer) -> None:
    accounts = seed(server, 3)
    server.fail_next(10**9, status=None, delay=0.2)  # all three in flight together
    before = len(client_tasks())
    peak = 0

    async def sample() -> None:
        nonlocal peak
        while True:
            peak = max(peak, len(client_tasks()) - before)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    results = await collect(fetch_all(accounts, **opts(server, concurrency=_engine.MAX_CONCURRENCY)))
    sampler.cancel()
    assert len(results) == 3
    # one task per account in flight, and the dispatcher: it was one worker per slot, and tearing
    # down 80,000 idle workers took 38 s
    assert 3 <= peak <= 3 + 1, peak
    record(
        "bulk",
        case=f"3 accounts at concurrency {_engine.MAX_CONCURRENCY}",
        outcome=f"{peak} tasks at most (one per account in flight and the dispatcher; not one per slot)",
    )


async def test_stopping_a_wide_run_early_leaves_nothing(server: FakeTogglServer) -> None:
    accounts = seed(server, 1500)
    server.fail_next(10**9, status=None, delay=0.5)  # everything in flight when we stop
    before = client_tasks()
    run = fetch_all(accounts, **opts(server, concurrency=_engine.MAX_CONCURRENCY))
    loop = asyncio.get_running_loop()
    async for _ in run:
        break
    started = loop.time()
    await run.aclose()  # type: ignore[attr-defined]
    assert loop.time() - started < 5  # generous: cancelling ~1,000 requests is milliseconds
    await asyncio.sleep(0.05)
    assert client_tasks() - before == set()
    assert len(server.requests) <= _engine.MAX_CONCURRENCY + 2
    record(
        "bulk",
        case=f"stop a run of 1,500 accounts at concurrency {_engine.MAX_CONCURRENCY}, all in flight",
        outcome="closed in well under 5 s; no task left",
    )


# -- accounts files that lie (item 8) ---------------------------------------------------------------------

LYING_FILES: list[tuple[str, str, bytes, int, str]] = [
    # (case, file name, content, line the error names, what the message says)
    (
        "a stray quote opens a field that swallows the later rows",
        "a.csv",
        b'key,api_token\na,"tok-SECRET-1\nb,tok-SECRET-2\nc,tok-SECRET-3\nd,tok-SECRET-4\n',
        2,
        "quot",
    ),
    (
        "a quoted token running over two lines",
        "a.csv",
        b'key,api_token\na,"tok-SECRET-1\nb,tok-SECRET-2"\nc,tok-SECRET-3\n',
        2,
        "quot",
    ),
    ("a stray quote after a token", "a.csv", b'key,api_token\na,tok-SECRET-1"\n', 2, "quote"),
    ("a control character in a token", "a.csv", b"key,api_token\na,tok-SECRET\x07x\n", 2, "control"),
    (
        "a newline inside a JSON token",
        "a.jsonl",
        b'{"key": "a", "api_token": "tok-SECRET\\nx"}\n',
        1,
        "control",
    ),
    (
        "a number as a JSON token",
        "a.jsonl",
        b'{"key": "a", "api_token": 12345}\n',
        1,
        "api_token must be a string",
    ),
    (
        "a number as a JSON key",
        "a.jsonl",
        b'{"key": 7, "api_token": "tok-SECRET"}\n',
        1,
        "key must be a string",
    ),
    (
        "a line that is not JSON",
        "a.jsonl",
        b'{"key": "a", "api_token": "tok-SECRET"}\n{"key": "b",\n',
        2,
        "not valid JSON",
    ),
    (
        "a 1M-character field",
        "a.csv",
        b"key,api_token\na,tok-SECRET" + b"x" * 1_000_000 + b"\n",
        2,
        "longer than",
    ),
    (
        "bytes that are not UTF-8",
        "a.csv",
        b"key,api_token\na,tok-SECRET\n\xff\xfeb,tok-SECRET-2\n",
        3,
        "UTF-8",
    ),
    ("a UTF-16 file", "a.csv", "key,api_token\na,tok-SECRET\n".encode("utf-16"), 1, "UTF-16"),
    (
        "a BOM in the middle (two files pasted together)",
        "a.csv",
        b"key,api_token\na,tok-SECRET\n\xef\xbb\xbfb,tok-S2\n",
        3,
        "control",
    ),
    (
        "duplicate header columns",
        "a.csv",
        b"key,api_token,api_token\na,tok-SECRET,tok-SECRET-2\n",
        1,
        "api_token",
    ),
    ("a row holding only a token", "a.csv", b"key,api_token\ntok-SECRET-ONLY\n", 2, "1 field"),
    ("a row with a field too many", "a.csv", b"key,api_token\na,tok-SECRET,tok-SECRET-2\n", 2, "3 fields"),
    (
        "the same credential under two keys",
        "a.csv",
        b"key,api_token\na,tok-SECRET\nb,tok-SECRET\n",
        3,
        "line 2",
    ),
    (
        "the same key twice",
        "a.jsonl",
        b'{"key":"a","api_token":"t-SECRET-1"}\n{"key":"a","api_token":"t-SECRET-2"}\n',
        2,
        "duplicate",
    ),
    ("an email without a password", "a.csv", b"key,email,password\na,a@example.com,\n", 2, "password"),
    (
        "two credentials in one row",
        "a.jsonl",
        b'{"key":"a","api_token":"tok-SECRET","api_token_env":"X"}\n',
        1,
        "exactly one",
    ),
    ("an empty file", "a.csv", b"", 1, "header"),
    ("no header: the first row is an account", "a.csv", b"alice,tok-SECRET\nbob,tok-SECRET-2\n", 1, "header"),
    ("no header, a token twice on the first row", "a.csv", b"tok-SECRET,tok-SECRET\n", 1, "header"),
    ("an unknown column named twice", "a.csv", b"key,api_token,tok-SECRET,tok-SECRET\na,t,,\n", 1, "twice"),
]


@pytest.mark.parametrize(
    ("name", "content", "line", "says"), [c[1:] for c in LYING_FILES], ids=[c[0] for c in LYING_FILES]
)
def test_an_accounts_file_that_lies_is_an_error_with_its_line(
    tmp_path: Path, name: str, content: bytes, line: int, says: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(bulk.AccountsFileError, match=says) as info:
        bulk.load_accounts(path)
    error = info.value
    assert isinstance(error, tp.TogglConfigError) and error.line == line
    assert str(error).startswith(f"{path}:{line}: ") and str(error).count(str(path)) == 1
    assert "secret" not in str(error).lower() and "secret" not in repr(error).lower()
    case = next(c[0] for c in LYING_FILES if c[2] == content)
    record("files", case=f"accounts file: {case}", outcome=f"AccountsFileError naming line {line}")


def test_an_accounts_file_with_a_bom_and_blank_lines_loads(tmp_path: Path) -> None:
    csv_file = tmp_path / "a.csv"
    csv_file.write_bytes(b"\xef\xbb\xbf\n Key , API_Token \r\n\r\na,tok-1\r\n , \n\nb,tok-2\r\n")
    lines = tmp_path / "a.jsonl"
    lines.write_bytes(
        b'\xef\xbb\xbf{"key": "a", "api_token": "tok-1"}\n\n  \n{"key": "b", "api_token": "tok-2"}'
    )
    expected = [Account("a", tp.ApiToken("tok-1")), Account("b", tp.ApiToken("tok-2"))]
    assert bulk.load_accounts(csv_file) == expected and bulk.load_accounts(lines) == expected
    record("files", case="accounts file: a BOM, CRLF, blank lines, spaces in the header", outcome="loaded")
