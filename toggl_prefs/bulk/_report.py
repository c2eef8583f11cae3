"""One report for a run split into shards: the shards' journals, wherever they ran, merged into one
:class:`BulkSummary` that also says which shards have not finished.

A shard's journal is named ``journal-{i}-of-{n}.jsonl`` (by :mod:`toggl_prefs.bulk.dask`; any name
does, the end mark names the shard): :func:`~toggl_prefs.bulk.dask.run_shard`, ``run_on_dask`` and
``toggl-prefs bulk get|apply|clone --shard I/N --journal ...`` append the end mark
``{"run": ..., "event": "finished", "shard": "I/N", "at": ...}`` once the shard has been through
every one of its accounts. The report counts a journal's own run only (its header's), and an
account's last outcome wins (a failure retried by a later pass of the same run is no longer one)."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs
import orjson

from ..errors import TogglValidationError
from ._journal import read_journal, read_journal_header
from ._result import BulkSummary

FINISHED = "finished"
_NAMED = re.compile(r"journal-(\d+)-of-(\d+)\.jsonl$")


def journal_name(shard: tuple[int, int]) -> str:
    """The file name of shard ``(i, n)``'s journal."""
    return f"journal-{shard[0]}-of-{shard[1]}.jsonl"


def shard_label(shard: tuple[int, int]) -> str:
    """``"I/N"``, as ``--shard`` spells it."""
    return f"{shard[0]}/{shard[1]}"


def _shard_of(path: Path, mark: object) -> tuple[int, int] | None:
    if isinstance(mark, str):
        index, _, count = mark.partition("/")
        if index.isdigit() and count.isdigit():
            return int(index), int(count)
    named = _NAMED.search(path.name)
    return (int(named[1]), int(named[2])) if named else None


@attrs.frozen
class Outcome:
    """An account's last outcome in a journal (its message never holds a credential)."""

    status: str
    at: float
    error: str | None = None
    message: str | None = None


@attrs.frozen
class ShardJournal:
    """What one journal says about its latest run."""

    path: Path
    shard: tuple[int, int] | None
    run: str | None
    finished: bool
    outcomes: dict[str, Outcome]
    attempts: int

    @property
    def label(self) -> str:
        return shard_label(self.shard) if self.shard is not None else self.path.name


def read_shard_journal(path: str | os.PathLike[str]) -> ShardJournal:
    """Read a journal: the outcomes of its latest run (the run of its last record), and whether
    that run's end mark is there. A missing file is a :class:`FileNotFoundError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such journal: {path}")
    records = list(read_journal(path))
    run = _run_of(path, records)
    outcomes: dict[str, Outcome] = {}
    attempts, finished, mark = 0, False, None
    for record in records:
        if record.get("run") != run:
            continue  # an earlier run's record (another update, client or workspace)
        if record.get("event") == FINISHED:
            finished, mark = True, record.get("shard")
            continue
        key = record.get("key")
        if not isinstance(key, str):
            continue  # a record of a kind this version does not know
        attempts += _int(record.get("attempts"))
        error = record.get("error")
        message = record.get("message")
        outcomes[key] = Outcome(
            str(record.get("status")),
            _float(record.get("at")),
            error if isinstance(error, str) else None,
            message if isinstance(message, str) else None,
        )
    return ShardJournal(path, _shard_of(path, mark), run, finished, outcomes, attempts)


def merge(journals: Iterable[ShardJournal], *, all_shards: bool = True) -> BulkSummary:
    """One summary of the shard journals of one run; with ``all_shards``, the shards of the split
    without a journal here count as unfinished. Journals of different runs are a
    :class:`~toggl_prefs.TogglValidationError` (their counts would mean nothing together)."""
    journals = _distinct(journals)
    if not journals:
        raise TogglValidationError("no journal to report on")
    runs: dict[str, list[str]] = {}
    for journal in journals:
        if journal.run is not None:
            runs.setdefault(journal.run, []).append(str(journal.path))
    if len(runs) > 1:
        listed = "; ".join(f"run {run}: {', '.join(paths)}" for run, paths in runs.items())
        raise TogglValidationError(
            f"these journals are of different runs (another update or target): {listed}"
        )
    last: dict[str, Outcome] = {}
    summary = BulkSummary()
    for journal in journals:
        summary.attempts += journal.attempts
        for key, outcome in journal.outcomes.items():
            seen = last.get(key)
            if seen is None or outcome.at >= seen.at:  # a key in two journals: the later outcome
                last[key] = outcome
    for key, outcome in last.items():
        summary.by_status[outcome.status] += 1
        if outcome.status == "failed":
            name = outcome.error or "unknown error"
            summary.failures[name] += 1
            summary.failed_keys[key] = name
    summary.failed_keys = dict(sorted(summary.failed_keys.items()))
    summary.shards = _shards(journals, all_shards)
    return summary


def merge_journals(paths: Iterable[str | os.PathLike[str]]) -> BulkSummary:
    """One :class:`BulkSummary` for a run split into shards, from the shards' journals (copied
    from any machine): counts by status of each account's last outcome, the failed accounts with
    their error class, and ``shards`` / ``unfinished``: which shards finished, and which did not
    (or left no journal among ``paths``)."""
    return merge(read_shard_journal(path) for path in paths)


def merge_summaries(summaries: Iterable[BulkSummary]) -> BulkSummary:
    """The sum of the summaries of disjoint parts of a run (the shards of one run)."""
    merged = BulkSummary()
    shards: dict[str, bool] = {}
    for summary in summaries:
        merged.by_status.update(summary.by_status)
        merged.failures.update(summary.failures)
        merged.attempts += summary.attempts
        merged.failed_keys.update(summary.failed_keys)
        shards.update(summary.shards)
    merged.failed_keys = dict(sorted(merged.failed_keys.items()))
    merged.shards = dict(sorted(shards.items(), key=lambda item: _order(item[0])))
    return merged


def mark_finished(path: str | os.PathLike[str], shard: tuple[int, int]) -> None:
    """Append the end mark of the journal's latest run: the shard went through all its accounts."""
    path = Path(path)
    run = _run_of(path, list(read_journal(path)))
    line = {"run": run, "event": FINISHED, "shard": shard_label(shard), "at": round(time.time(), 3)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as handle:
        if handle.tell() and not _ends_with_newline(path):
            handle.write(b"\n")  # seal a torn line from a crash
        handle.write(orjson.dumps(line) + b"\n")


def _run_of(path: Path, records: list[dict[str, Any]]) -> str | None:
    """The journal's run: its header's (a journal holds one run), else, in a journal written before
    headers, the run of its last record."""
    header = read_journal_header(path)
    if header is not None:
        return str(header.get("run"))
    run = records[-1].get("run") if records else None
    return run if isinstance(run, str) else None


def _distinct(journals: Iterable[ShardJournal]) -> list[ShardJournal]:
    seen: dict[Path, ShardJournal] = {}
    for journal in journals:
        seen.setdefault(journal.path.resolve(), journal)
    return list(seen.values())


def _shards(journals: list[ShardJournal], all_shards: bool) -> dict[str, bool]:
    shards: dict[str, bool] = {}
    for journal in journals:
        shards[journal.label] = shards.get(journal.label, False) or journal.finished
    for count in {j.shard[1] for j in journals if j.shard is not None and all_shards}:
        for index in range(count):
            shards.setdefault(shard_label((index, count)), False)  # no journal: it never ran here
    return dict(sorted(shards.items(), key=lambda item: _order(item[0])))


def _order(label: str) -> tuple[int, int, str]:
    index, sep, count = label.partition("/")
    if sep and index.isdigit() and count.isdigit():
        return int(count), int(index), ""
    return 1 << 30, 0, label


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _float(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def summary_json(summary: BulkSummary, journals: Iterable[ShardJournal] = ()) -> dict[str, object]:
    """The report as a JSON document (for ``toggl-prefs bulk report --json``)."""
    messages = {key: o.message for j in journals for key, o in j.outcomes.items() if o.status == "failed"}
    return {
        "by_status": dict(summary.by_status),
        "total": summary.total,
        "attempts": summary.attempts,
        "failures": dict(summary.failures),
        "failed": [
            {"key": key, "error": error, "message": messages.get(key)}
            for key, error in summary.failed_keys.items()
        ],
        "shards": summary.shards,
        "unfinished": summary.unfinished,
    }
