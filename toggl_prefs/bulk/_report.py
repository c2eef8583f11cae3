"""One report for a run split into shards: the shards' journals, wherever they ran, merged into one
:class:`BulkSummary` that also says which shards have not finished.

A shard's journal is named ``journal-{i}-of-{n}.jsonl`` (by :mod:`toggl_prefs.bulk.dask`; any name
does, the end mark names the shard). Every journaled run, sharded or not, library or command line,
appends its end mark ``{"run": ..., "event": "finished", "shard": "I/N", "at": ...}`` once it has
been through every one of its accounts (see :mod:`toggl_prefs.bulk._journal`). The report counts a
journal's own run only (its header's), an account's last outcome wins (a failure retried by a later
pass of the same run is no longer one), and a journal is finished when its latest pass is."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ..errors import TogglValidationError
from ._journal import is_end_mark, is_header, is_record, journal_lines
from ._result import BulkSummary

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
    """Read a journal: the outcomes of its run (its header's; in a journal written before headers,
    the run of its last record), and whether the latest pass of that run left its end mark. A
    missing file is a :class:`FileNotFoundError`, a file that is no journal a
    :class:`~toggl_prefs.TogglValidationError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such journal: {path}")
    lines = list(journal_lines(path))
    if not any(is_header(line) or is_record(line) for line in lines):
        # Reported as "not finished", a wrong file would send the user to re-run a run that never was.
        raise TogglValidationError(
            f"{path} is not a toggl-prefs journal (no run header, no account record): name the file "
            "given to --journal"
        )
    run = _run_of(lines)
    outcomes: dict[str, Outcome] = {}
    attempts, finished, mark = 0, False, None
    for line in lines:
        if is_header(line):
            finished = False  # a pass begins (a resume): finished only if it ends with a mark
            continue
        if line.get("run") != run:
            continue  # an earlier run's line (another update, client or workspace)
        if is_end_mark(line):
            finished, mark = True, line.get("shard")
            continue
        if not is_record(line):
            continue  # a kind this version does not know
        attempts += _int(line.get("attempts"))
        error = line.get("error")
        message = line.get("message")
        outcomes[line["key"]] = Outcome(
            str(line.get("status")),
            _float(line.get("at")),
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


def _run_of(lines: list[dict[str, Any]]) -> str | None:
    """The journal's run: its header's (a journal holds one run), else, in a journal written before
    headers, the run of its last record."""
    if lines and is_header(lines[0]):
        run = lines[0].get("run")
    else:
        run = next((line.get("run") for line in reversed(lines) if is_record(line)), None)
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
