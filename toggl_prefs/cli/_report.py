"""``toggl-prefs bulk report JOURNAL...``: one summary of a run, from its journal (or the journals of
its shards).

Exit codes (the command line's one table, ``_exit``): 0 the run (every shard) finished and no
account failed; 130 (interrupted) the run, or some of its shards, has not finished, or left no
journal among those given: re-run to resume; otherwise, when accounts failed, the code a ``bulk
apply`` with those failures exits with (4 for a run of 403s, ...); 2 a journal that cannot be read,
or journals of different runs."""

from __future__ import annotations

import argparse
import asyncio
import glob
from pathlib import Path
from typing import Any

from ..bulk._report import ShardJournal, merge, read_shard_journal, summary_json
from ..bulk._result import BulkSummary
from ._exit import ExitCode, bulk_exit_code
from ._output import Printer

__all__ = ["add_report_parser", "cmd_report"]


def add_report_parser(verbs: Any) -> None:
    """Add ``report`` to the ``bulk`` verbs."""
    r = verbs.add_parser(
        "report",
        help="summarize a run from its journal (or merge its shards' journals)",
        description="Summarize a run from its journal, or merge the journals of its shards "
        "(journal-I-of-N.jsonl, from any machine) into one summary: counts, failed accounts with their "
        "error class, shards that have not finished. A run (or shard) has finished when its journal "
        "carries the end mark that every journaled run (bulk get/apply/clone --journal, the library's "
        "bulk functions, run_shard, run_on_dask) writes after its last account. "
        "Exit 0: all finished, none failed; 130: not finished (re-run it, or those shards, to "
        "resume); else, if accounts failed, the code bulk apply exits with for those failures.",
    )
    r.add_argument("journals", nargs="+", metavar="JOURNAL", help="journal files (or glob patterns)")
    r.add_argument("--json", action="store_true", help="print JSON on stdout (the human summary on stderr)")
    r.set_defaults(func=cmd_report)


async def cmd_report(args: argparse.Namespace, out: Printer) -> int:
    paths = _expand(args.journals)
    journals = await asyncio.to_thread(lambda: [read_shard_journal(p) for p in paths])
    summary = merge(journals)
    if args.json:
        out.json(summary_json(summary, journals))
        out.info(_one_line(summary, journals))
    else:
        _human(summary, journals, out)
    if summary.unfinished:
        out.warn(f"hint: {_resume_hint(journals)}")
        return ExitCode.INTERRUPTED
    return bulk_exit_code(summary.failures.elements())


def _expand(patterns: list[str]) -> list[Path]:
    """The journal paths: a pattern a shell left unexpanded (or Windows' never expands) is globbed."""
    paths: list[Path] = []
    for pattern in patterns:
        matches = [] if Path(pattern).exists() else sorted(glob.glob(pattern))
        paths += [Path(p) for p in matches] or [Path(pattern)]
    return paths


def _human(summary: BulkSummary, journals: list[ShardJournal], out: Printer) -> None:
    out.heading("summary")
    out.table([(name, f"{count:,}") for name, count in summary.rows()])
    if summary.failed_keys:
        messages = {k: o.message for j in journals for k, o in j.outcomes.items() if o.status == "failed"}
        out.line()
        out.heading(f"failed accounts ({len(summary.failed_keys):,})")
        for key, error in summary.failed_keys.items():
            message = messages.get(key)
            out.line(f"{key}  {error}" + (f"  {message}" if message else ""))
    out.line()
    if summary.unfinished:
        out.bad(f"not finished: {_unfinished(summary, journals)}")
    elif _sharded(journals):
        out.good(f"all {len(summary.shards)} shards finished")
    else:
        out.good("finished" if len(journals) == 1 else f"all {len(journals)} runs finished")


def _sharded(journals: list[ShardJournal]) -> bool:
    return any(j.shard is not None for j in journals)


def _resume_hint(journals: list[ShardJournal]) -> str:
    if _sharded(journals):
        return "re-run each unfinished shard with --shard I/N and its journal: it resumes"
    return "re-run the same command with the same --journal: it resumes"


def _unfinished(summary: BulkSummary, journals: list[ShardJournal]) -> str:
    present = {j.label for j in journals}
    return ", ".join(s if s in present else f"{s} (no journal)" for s in summary.unfinished)


def _one_line(summary: BulkSummary, journals: list[ShardJournal]) -> str:
    rows = summary.rows()[:-1]  # statuses, then failures by error class (indented), then the total
    counts = ", ".join(f"{count:,} {status}" for status, count in rows if not status.startswith(" "))
    state = f"not finished: {_unfinished(summary, journals)}" if summary.unfinished else "finished"
    return f"{summary.total:,} accounts: {counts}; {state}"
