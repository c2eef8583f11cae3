"""One report for a run split into shards: shard journals (from any machine) merged into one
summary, failed accounts with their error class, and the shards that have not finished; the
``toggl-prefs bulk report`` command over the same journals."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.bulk import BulkSummary, merge_journals
from toggl_prefs.bulk.dask import run_shard
from toggl_prefs.cli import main
from toggl_prefs.cli._exit import ExitCode
from toggl_prefs.testing import FakeTogglServer

COUNT = 150
SHARDS = 3
UPDATE = tp.PreferencesUpdate(theme="dark")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        for i in range(COUNT):
            fake.add_account(api_token=f"secret-token-{i}", key=f"acct-{i}", preferences={"theme": "light"})
        bulk.write_accounts_csv(
            [(f"acct-{i}", f"secret-token-{i}") for i in range(COUNT)], tmp_path / "a.csv"
        )
        yield fake


def options(server: FakeTogglServer) -> dict[str, Any]:
    return {"base_url": server.base_url, "rate_limit": None, "concurrency": 8}


def journals(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / "j").glob("journal-*.jsonl"))


def union(paths: list[Path]) -> tuple[Counter[str], dict[str, str]]:
    """The union of the journals, read here independently of the code under test: the last outcome
    of each account wins."""
    last: dict[str, dict[str, Any]] = {}
    for path in paths:
        for line in path.read_bytes().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "key" in record:
                last[record["key"]] = record
    statuses = Counter(r["status"] for r in last.values())
    failed = {k: r["error"] for k, r in last.items() if r["status"] == "failed"}
    return statuses, failed


def refused_keys(server: FakeTogglServer) -> set[str]:
    return {r.account for r in server.requests if r.status == 403 and r.account is not None}


def run_shards(server: FakeTogglServer, tmp_path: Path, shards: Iterable[int]) -> list[BulkSummary]:
    journal_dir = tmp_path / "j"
    return [
        run_shard(tmp_path / "a.csv", UPDATE, shard=(i, SHARDS), journal_dir=journal_dir, **options(server))
        for i in shards
    ]


def interrupted_shard(server: FakeTogglServer, tmp_path: Path, index: int, after: int) -> None:
    """Shard ``index`` as a crashed machine leaves it: a process that dies after ``after`` accounts."""
    journal = tmp_path / "j" / f"journal-{index}-of-{SHARDS}.jsonl"
    code = (
        "import os, toggl_prefs as tp\n"
        "from toggl_prefs import bulk\n"
        f"accounts = bulk.iter_accounts({str(tmp_path / 'a.csv')!r})\n"
        f"run = bulk.sync.apply_all(accounts, tp.PreferencesUpdate(theme='dark'), shard=({index}, {SHARDS}),"
        f" journal={str(journal)!r}, base_url={server.base_url!r}, rate_limit=None, concurrency=8)\n"
        "for n, _ in enumerate(run, start=1):\n"
        f"    if n == {after}:\n"
        "        os._exit(1)\n"
    )
    died = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert died.returncode == 1


# -- merging ------------------------------------------------------------------------------------


def test_merged_summary_is_the_union_of_the_shard_journals(server: FakeTogglServer, tmp_path: Path) -> None:
    server.fail_next(7, status=403, body='"User does not have access to this resource."', method="POST")
    summaries = run_shards(server, tmp_path, range(SHARDS))
    paths = journals(tmp_path)
    assert [p.name for p in paths] == [f"journal-{i}-of-3.jsonl" for i in range(SHARDS)]

    merged = merge_journals(paths)
    statuses, failed = union(paths)
    assert merged.by_status == statuses == Counter({"changed": COUNT - 7, "failed": 7})
    assert merged.failed_keys == failed == dict.fromkeys(refused_keys(server), "ForbiddenError")
    assert merged.failures == Counter({"ForbiddenError": 7})
    assert merged.shards == {"0/3": True, "1/3": True, "2/3": True}
    assert merged.unfinished == []
    assert merged.attempts == len(server.requests)
    # each shard's own summary is its journal's; together they are the merged one
    assert sum((s.by_status for s in summaries), Counter()) == merged.by_status
    assert [s.shards for s in summaries] == [{f"{i}/3": True} for i in range(SHARDS)]


def test_unfinished_and_missing_shards_are_named(server: FakeTogglServer, tmp_path: Path) -> None:
    run_shards(server, tmp_path, range(1))
    interrupted_shard(server, tmp_path, 1, after=10)
    merged = merge_journals(journals(tmp_path))  # shard 2 never ran: no journal
    assert merged.shards == {"0/3": True, "1/3": False, "2/3": False}
    assert merged.unfinished == ["1/3", "2/3"]
    assert merged.by_status == union(journals(tmp_path))[0]
    # the unfinished shard, re-run, resumes from its journal and finishes
    journal = journals(tmp_path)[1]
    done_before = set(union_keys(journal))
    before = len(server.requests)
    (summary,) = run_shards(server, tmp_path, range(1, 2))
    assert summary.shards == {"1/3": True}
    redone = {r.account for r in server.requests[before:]}
    assert redone and not redone & done_before  # what the journal had was not touched again
    assert set(union_keys(journal)) == redone | done_before
    assert summary.by_status == union([journal])[0]
    # accounts caught in flight by the interruption were written but not journaled: now unchanged
    assert summary.by_status["changed"] + summary.by_status["unchanged"] == summary.total
    posts = Counter(r.account for r in server.requests if r.method == "POST")
    assert set(posts.values()) == {1}


def union_keys(journal: Path) -> list[str]:
    return [r["key"] for r in bulk.read_journal(journal) if "key" in r]


def test_the_last_outcome_of_an_account_wins(server: FakeTogglServer, tmp_path: Path) -> None:
    server.fail_next(5, status=403, body='"User does not have access to this resource."', method="POST")
    run_shards(server, tmp_path, range(SHARDS))
    first = merge_journals(journals(tmp_path))
    assert first.by_status["failed"] == 5
    run_shards(server, tmp_path, range(SHARDS))  # the same run again: only the failed are retried
    again = merge_journals(journals(tmp_path))
    assert again.by_status == Counter({"changed": COUNT})
    assert again.failed_keys == {}
    assert again.failures == Counter()


def test_journals_of_different_runs_are_refused(server: FakeTogglServer, tmp_path: Path) -> None:
    run_shards(server, tmp_path, range(1))
    run_shard(
        tmp_path / "a.csv",
        tp.PreferencesUpdate(theme="light"),
        shard=(1, SHARDS),
        journal_dir=tmp_path / "j",
        **options(server),
    )
    with pytest.raises(tp.TogglValidationError, match=r"different runs.*journal-0-of-3.*journal-1-of-3"):
        merge_journals(journals(tmp_path))
    code = main(["bulk", "report", *map(str, journals(tmp_path))])
    assert code == ExitCode.USAGE


def test_a_journal_written_before_headers_counts_its_latest_run(tmp_path: Path) -> None:
    old = [
        {"run": "a" * 16, "key": f"acct-{i}", "status": "failed", "error": "ServerError", "attempts": 3}
        for i in range(5)
    ]
    new = [{"run": "b" * 16, "key": f"acct-{i}", "status": "changed", "attempts": 2} for i in range(3)]
    journal = tmp_path / "legacy.jsonl"
    journal.write_bytes(
        b"".join(json.dumps({**r, "at": 1.0}).encode() + b"\n" for r in old + new) + b'{"run": "b'
    )
    merged = merge_journals([journal])
    assert merged.by_status == Counter({"changed": 3})
    assert merged.attempts == 6  # the latest run's, not the earlier run's
    assert merged.failed_keys == {}
    assert merged.shards == {"legacy.jsonl": False}  # no shard, no end mark: nothing says it finished


def test_an_account_in_two_journals_counts_once_by_its_later_outcome(tmp_path: Path) -> None:
    """A run split two ways, then three (the same run): an account's latest outcome is its own."""
    run = "c" * 16
    failed = {"status": "failed", "error": "ServerError", "message": "500"}
    lines = {
        "journal-0-of-2.jsonl": [
            {"key": "a", **failed, "at": 2.0},
            {"key": "b", "status": "changed", "at": 1.0},
        ],
        "journal-1-of-3.jsonl": [
            {"key": "a", "status": "changed", "at": 3.0},
            {"key": "b", **failed, "at": 0.5},
        ],
    }
    for name, records in lines.items():
        (tmp_path / name).write_text("".join(json.dumps({"run": run, **r}) + "\n" for r in records))
    merged = merge_journals(sorted(tmp_path.glob("journal-*.jsonl")))
    assert merged.by_status == Counter({"changed": 2})
    assert merged.failed_keys == {}
    assert merged.unfinished == ["0/2", "1/2", "0/3", "1/3", "2/3"]


def test_the_same_journal_twice_counts_once(server: FakeTogglServer, tmp_path: Path) -> None:
    run_shards(server, tmp_path, range(SHARDS))
    paths = journals(tmp_path)
    again = [*paths, paths[0], Path(str(paths[0]).replace("/j/", "/j/../j/"))]
    assert merge_journals(again) == merge_journals(paths)


def test_bad_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(tp.TogglValidationError, match="no journal"):
        merge_journals([])
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        merge_journals([tmp_path / "nope.jsonl"])


# -- the command --------------------------------------------------------------------------------


def report(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main(["bulk", "report", *map(str, argv)])
    captured = capsys.readouterr()
    assert "secret-token" not in captured.out + captured.err
    return code, captured.out, captured.err


def test_report_command_human_and_json(
    server: FakeTogglServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next(3, status=403, body='"User does not have access to this resource."', method="POST")
    run_shards(server, tmp_path, range(SHARDS))
    paths = journals(tmp_path)
    refused = sorted(refused_keys(server))

    code, out, err = report(capsys, *paths)
    assert code == ExitCode.AUTH  # what `bulk apply` exits with when accounts fail with 403
    rows = dict(line.rsplit(None, 1) for line in out.split("\n\n")[0].splitlines()[1:])
    assert {k.strip(): v for k, v in rows.items()} == {
        "changed": f"{COUNT - 3}",
        "failed": "3",
        "ForbiddenError": "3",
        "total": f"{COUNT}",
    }
    for key in refused:
        assert f"{key}  ForbiddenError" in out
    assert "all 3 shards finished" in out

    code, out, err = report(capsys, "--json", *paths)
    assert code == ExitCode.AUTH
    data = json.loads(out)  # stdout is the JSON document alone
    assert data["by_status"] == {"changed": COUNT - 3, "failed": 3}
    assert data["total"] == COUNT
    assert [f["key"] for f in data["failed"]] == refused
    assert {f["error"] for f in data["failed"]} == {"ForbiddenError"}
    assert all("access" in f["message"] for f in data["failed"])
    assert data["shards"] == {"0/3": True, "1/3": True, "2/3": True}
    assert data["unfinished"] == []
    assert "3 failed" in err  # the human line goes to stderr


def test_report_command_names_unfinished_shards(
    server: FakeTogglServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_shards(server, tmp_path, [0, 2])
    interrupted_shard(server, tmp_path, 1, after=5)
    code, out, err = report(
        capsys, tmp_path / "j" / "journal-*.jsonl"
    )  # a pattern, for shells without globbing
    assert code == ExitCode.INTERRUPTED  # re-run to resume, as after Ctrl-C
    assert "not finished: 1/3\n" in out
    assert "--shard I/N" in err  # what to do about it
    code, out, err = report(capsys, "--json", tmp_path / "j" / "journal-0-of-3.jsonl")
    assert code == ExitCode.INTERRUPTED
    assert json.loads(out)["unfinished"] == ["1/3", "2/3"]
    assert "not finished: 1/3 (no journal), 2/3 (no journal)" in err


def test_report_command_ok_and_usage_errors(
    server: FakeTogglServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_shards(server, tmp_path, range(SHARDS))
    code, out, err = report(capsys, *journals(tmp_path))
    assert (code, err) == (ExitCode.OK, "")
    assert out.splitlines()[1].split() == ["changed", f"{COUNT}"]
    assert "failed" not in out
    code, out, err = report(capsys, tmp_path / "missing.jsonl")
    assert code == ExitCode.USAGE
    assert out == ""
    assert "missing.jsonl" in err


def test_shards_run_with_the_command_line_are_reported_finished(
    server: FakeTogglServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bulk apply --shard I/N --journal ...` on any machine marks its journal's end as run_shard does."""
    for i in (0, 1):
        journal = tmp_path / "j" / f"shard{i}.jsonl"  # any name: the end mark says which shard it was
        argv = [
            "--accounts",
            tmp_path / "a.csv",
            "--shard",
            f"{i}/3",
            "--journal",
            journal,
            "--rate-limit",
            "0",
        ]
        code = main(["--base-url", server.base_url, "bulk", "apply", "theme=dark", *map(str, argv)])
        assert code == ExitCode.OK
    dry = ["--accounts", tmp_path / "a.csv", "--shard", "2/3", "--journal", tmp_path / "j" / "shard2.jsonl"]
    assert (
        main(["--base-url", server.base_url, "bulk", "apply", "theme=dark", "--dry-run", *map(str, dry)]) == 0
    )
    capsys.readouterr()
    assert not (tmp_path / "j" / "shard2.jsonl").exists()  # a dry run journals nothing, marks nothing
    code, out, _ = report(capsys, "--json", *sorted((tmp_path / "j").glob("shard*.jsonl")))
    assert code == ExitCode.INTERRUPTED
    data = json.loads(out)
    assert data["shards"] == {"0/3": True, "1/3": True, "2/3": False}
    assert data["by_status"] == {
        "changed": sum(bulk.in_shard(f"acct-{i}", (2, 3)) is False for i in range(COUNT))
    }
