"""``toggl-prefs bulk`` through its real entry point: output, exit codes, dry runs, progress, and a
run killed mid-way (SIGKILL) that resumes from its journal with nothing applied twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from toggl_prefs import bulk
from toggl_prefs.cli import main
from toggl_prefs.cli._progress import BulkProgress
from toggl_prefs.testing import FakeTogglServer

COUNT = 240


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        for i in range(COUNT):
            fake.add_account(
                api_token=f"secret-token-{i}",
                key=f"acct-{i}",
                preferences={"theme": "dark" if i % 4 == 0 else "light"},
            )
        bulk.write_accounts_csv(
            [(f"acct-{i}", f"secret-token-{i}") for i in range(COUNT)], tmp_path / "a.csv"
        )
        yield fake


def run_cli(server: FakeTogglServer, tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "toggl_prefs", "--base-url", server.base_url, "bulk", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert "secret-token" not in result.stdout + result.stderr
    return result


def test_bulk_apply_summary_and_exit_code(server: FakeTogglServer, tmp_path: Path) -> None:
    result = run_cli(
        server,
        tmp_path,
        "apply",
        "--accounts",
        "a.csv",
        "theme=dark",
        "--rate-limit",
        "0",
        "--journal",
        "j.jsonl",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # the summary is about the run: stderr
    summary = dict(line.split() for line in result.stderr.splitlines()[1:])
    assert summary == {"changed": "180", "unchanged": "60", "total": "240"}
    assert all(a.preferences["theme"] == "dark" for a in server.accounts.values())
    records = list(bulk.read_journal(tmp_path / "j.jsonl"))
    assert Counter(r["status"] for r in records) == Counter({"changed": 180, "unchanged": 60})
    again = run_cli(server, tmp_path, "apply", "--accounts", "a.csv", "theme=dark", "--journal", "j.jsonl")
    assert "skipped  240" in again.stderr


def test_bulk_get_writes_results_and_fails_with_3(server: FakeTogglServer, tmp_path: Path) -> None:
    server.fail_next(100, status=403, body='"User does not have access to this resource."', path="/me/")
    result = run_cli(
        server,
        tmp_path,
        "get",
        "--accounts",
        "a.csv",
        "--out",
        "out.jsonl",
        "--rate-limit",
        "0",
        "--shard",
        "1/2",
    )
    assert result.returncode == 4  # a run of 403s exits as one 403 does
    lines = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {line["key"] for line in lines} == {
        f"acct-{i}" for i in range(COUNT) if bulk.in_shard(f"acct-{i}", (1, 2))
    }
    failed = [line for line in lines if line["status"] == "failed"]
    assert failed and all(line["error"] == "ForbiddenError" for line in failed)
    assert any(line["status"] == "fetched" and "theme" in line["preferences"] for line in lines)
    for line in failed:  # each failure is named on stderr, with its class and message
        assert f"{line['key']}: ForbiddenError: 403: User does not have access" in result.stderr


def test_bulk_dry_run_and_clone(server: FakeTogglServer, tmp_path: Path) -> None:
    dry = run_cli(
        server, tmp_path, "apply", "--accounts", "a.csv", "theme=dark", "--dry-run", "--rate-limit", "0"
    )
    assert dry.returncode == 0
    assert dry.stderr.count('would send {"theme":"dark"}') == 180
    assert "would change  180" in dry.stderr and "\nchanged" not in dry.stderr
    assert not [r for r in server.requests if r.method == "POST"]
    server.accounts["acct-0"].preferences["date_format"] = "DD.MM.YYYY"
    clone = run_cli(server, tmp_path, "clone", "--from", "acct-0", "--accounts", "a.csv", "--rate-limit", "0")
    assert clone.returncode == 0, clone.stderr
    assert all(a.preferences.get("date_format") == "DD.MM.YYYY" for a in server.accounts.values())
    missing = run_cli(server, tmp_path, "clone", "--from", "nobody", "--accounts", "a.csv")
    assert missing.returncode == 2 and "nobody" in missing.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["apply", "--accounts", "a.csv", "nope=1"], "unknown preference field 'nope'"),
        (["apply", "--accounts", "missing.csv", "theme=x"], "missing.csv"),
        (["get", "--accounts", "a.csv", "--out", "o", "--concurrency", "0"], "concurrency"),
    ],
)
def test_bulk_usage_errors(server: FakeTogglServer, tmp_path: Path, argv: list[str], message: str) -> None:
    result = run_cli(server, tmp_path, *argv)
    assert result.returncode == 2 and message in result.stderr
    assert server.requests == []


def test_bad_shard_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bulk", "get", "--accounts", "a.csv", "--out", "o", "--shard", "3/3"]) == 2
    assert "--shard" in capsys.readouterr().err


def test_a_killed_run_resumes_from_its_journal(server: FakeTogglServer, tmp_path: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1"}
    argv = [
        sys.executable,
        "-m",
        "toggl_prefs",
        "--base-url",
        server.base_url,
        "bulk",
        "apply",
        "--accounts",
        "a.csv",
        "theme=dark",
        "pomodoro_enabled=false",
        "--journal",
        "j.jsonl",
        "--rate-limit",
        "4",
        "--concurrency",
        "8",
    ]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "j.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(list(bulk.read_journal(journal))) >= 40:  # records, not the journal's header lines
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(bulk.read_journal(journal)))
    assert 40 <= done_before < COUNT
    result = run_cli(
        server,
        tmp_path,
        "apply",
        "--accounts",
        "a.csv",
        "theme=dark",
        "pomodoro_enabled=false",
        "--journal",
        "j.jsonl",
        "--rate-limit",
        "0",
    )
    assert result.returncode == 0, result.stderr
    posts = Counter(r.account for r in server.requests if r.method == "POST" and r.status == 200)
    assert max(posts.values()) == 1  # nothing applied twice
    assert all(
        a.preferences["theme"] == "dark" and a.preferences["pomodoro_enabled"] is False
        for a in server.accounts.values()
    )  # and nothing missed
    records = list(bulk.read_journal(journal))
    assert Counter(r["key"] for r in records) == Counter({f"acct-{i}": 1 for i in range(COUNT)})
    summary = dict(line.split() for line in result.stderr.splitlines()[1:])
    assert int(summary["skipped"]) == len({r["key"] for r in bulk.read_journal(journal)}) - (
        int(summary.get("changed", 0)) + int(summary.get("unchanged", 0))
    )
    assert int(summary["skipped"]) >= 40


def test_progress_bar_on_a_terminal_and_off() -> None:
    import io

    from toggl_prefs.bulk import BulkResult

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = BulkProgress(4, stream)
    progress.advance(BulkResult("a", ok=True))
    progress.advance(BulkResult("b", ok=False))
    progress.say("b: ForbiddenError: 403")
    progress.close()
    text = stream.getvalue()
    assert "2/4" in text and "failed 1" in text and "acct/s" in text
    assert "\nb: ForbiddenError: 403\n" in text.replace("\r", "\n")
    piped = io.StringIO()  # not a terminal: no bar, the lines alone
    quiet = BulkProgress(1, piped)
    quiet.advance(BulkResult("a", ok=False))
    quiet.say("a: failed")
    quiet.close()
    assert piped.getvalue() == "a: failed\n"
