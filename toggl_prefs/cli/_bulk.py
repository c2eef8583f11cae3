"""``toggl-prefs bulk get|apply|clone``: bulk runs with a live progress line and a summary."""

from __future__ import annotations

import argparse
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TextIO

import orjson

from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from ..bulk import BulkResult, BulkSummary, apply_all, clone_all, fetch_all, in_shard, iter_accounts
from ._output import Printer
from ._values import UsageError, parse_assignments


class Progress:
    """One self-rewriting line on a terminal: counts, rate, ETA, errors. Silent when not a tty."""

    def __init__(self, total: int, stream: TextIO, *, enabled: bool | None = None) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self.done = 0
        self.failed = 0
        self._last_draw = 0.0

    def update(self, result: BulkResult) -> None:
        self.done += 1
        self.failed += not result.ok
        now = time.monotonic()
        if self.enabled and (now - self._last_draw > 0.1 or self.done == self.total):
            self._last_draw = now
            self.stream.write("\r" + self.line(now) + "\033[K")
            self.stream.flush()

    def line(self, now: float) -> str:
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        share = self.done / self.total if self.total else 1.0
        bar = "#" * int(share * 24)
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        return (
            f"[{bar:<24}] {self.done:,}/{self.total:,} {share:4.0%}  {rate:,.1f} acc/s  "
            f"ETA {_duration(eta)}  errors {self.failed:,}"
        )

    def finish(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def shard_arg(text: str) -> tuple[int, int]:
    index, sep, count = text.partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: use I/N, such as 0/4") from None
    if not sep or not 0 <= shard[0] < shard[1]:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: need 0 <= I < N")
    return shard


def add_bulk_parser(sub: Any, command: Any) -> None:
    p = sub.add_parser(
        "bulk",
        help="fetch, apply or clone preferences across many accounts",
        description="Bulk runs over an accounts file (CSV key,api_token or key,email,password; "
        "or JSON lines). Credentials are never printed or journaled.",
    )
    p.set_defaults(func=command)
    verbs = p.add_subparsers(dest="bulk_command", required=True, metavar="get|apply|clone")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--accounts", required=True, type=Path, help="accounts file (.csv or .jsonl)")
        q.add_argument("--concurrency", type=int, default=64, help="accounts in flight (default 64)")
        q.add_argument("--shard", type=shard_arg, help="I/N: only this shard of the accounts (stable)")
        q.add_argument(
            "--journal", type=Path, help="JSON-lines journal; a re-run skips what it records as done"
        )
        q.add_argument("--rate-limit", type=float, default=1.0, help="requests/s per account (default 1)")
        q.add_argument(
            "--on-quota",
            choices=["wait", "fail"],
            default="wait",
            help="when an account's hourly quota is spent: wait for it, or report it",
        )

    g = verbs.add_parser("get", help="fetch every account's preferences")
    common(g)
    g.add_argument("--out", type=Path, required=True, help="results, one JSON line per account ('-': stdout)")
    g.add_argument("--client", help="a client type's preferences")
    g.add_argument("--workspace", type=int, help="a workspace's preferences")

    a = verbs.add_parser("apply", help="set KEY=VALUE on every account, sending only what differs")
    common(a)
    a.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    a.add_argument("--client", help="a client type's preferences")
    a.add_argument("--workspace", type=int, help="a workspace's preferences")
    a.add_argument("--dry-run", action="store_true", help="show each account's diff, send nothing")

    c = verbs.add_parser("clone", help="copy one account's preferences onto the others")
    common(c)
    c.add_argument("--from", dest="source", required=True, metavar="KEY", help="the account to copy")
    c.add_argument("--client", help="a client type's preferences")
    c.add_argument("--dry-run", action="store_true", help="show each account's diff, send nothing")


async def cmd_bulk(args: argparse.Namespace, out: Printer) -> int:
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    source_key = getattr(args, "source", None)
    # A first pass reads (and so checks) the whole file before anything is sent, and counts the work.
    total, source = 0, None
    for account in iter_accounts(args.accounts):
        if account.key == source_key:
            source = account
        elif in_shard(account.key, args.shard):
            total += 1
    common: dict[str, Any] = {
        "base_url": args.base_url,
        "concurrency": args.concurrency,
        "shard": args.shard,
        "journal": args.journal,
        "rate_limit": args.rate_limit or None,
        "on_quota": args.on_quota,
    }
    accounts = iter_accounts(args.accounts)
    if args.bulk_command == "get":
        results = fetch_all(accounts, client=args.client, workspace_id=args.workspace, **common)
    elif args.bulk_command == "apply":
        cls = WorkspacePreferencesUpdate if args.workspace is not None else PreferencesUpdate
        what = "workspace preference" if args.workspace is not None else "preference"
        update = cls.build(parse_assignments(cls.__toggl_fields__, args.assignments, what))
        results = apply_all(
            accounts, update, client=args.client, workspace_id=args.workspace, dry_run=args.dry_run, **common
        )
    else:
        if source is None:
            raise UsageError(f"--from {source_key!r}: no such key in {args.accounts}")
        results = clone_all(source, accounts, client=args.client, dry_run=args.dry_run, **common)
    summary = await _drive(results, args, out, total)
    out.heading("summary")
    out.table([(name, f"{count:,}") for name, count in summary.rows()])
    return 0 if not summary.by_status["failed"] else 3


async def _drive(
    results: AsyncIterator[BulkResult], args: argparse.Namespace, out: Printer, total: int
) -> BulkSummary:
    summary = BulkSummary()
    progress = Progress(total, out.err)
    sink = _sink(getattr(args, "out", None), out)
    try:
        async for result in results:
            summary.add(result)
            progress.update(result)
            if sink is not None:
                sink.write(_record(result))
            if getattr(args, "dry_run", False) and result.changed:
                out.line(f"{result.key}: would send {orjson.dumps(result.value.to_dict()).decode()}")
            if not result.ok and not progress.enabled:
                print(f"{result.key}: {type(result.error).__name__}: {result.error}", file=out.err)
    finally:
        progress.finish()
        if sink is not None and sink is not out.out:
            sink.close()
    return summary


def _sink(path: Path | None, out: Printer) -> Any:
    if path is None:
        return None
    if str(path) == "-":
        return _TextSink(out.out)
    return path.open("ab")


class _TextSink:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode())

    def close(self) -> None:
        self.stream.flush()


def _record(result: BulkResult) -> bytes:
    line: dict[str, Any] = {"key": result.key, "status": result.status}
    if result.value is not None:
        line["preferences" if result.changed is None else "sent"] = result.value.to_dict()
    if result.error is not None:
        line["error"] = type(result.error).__name__
        line["message"] = str(result.error)
    return orjson.dumps(line) + b"\n"
