"""``toggl-prefs bulk get|apply|clone``: bulk runs with a progress bar, each failure named as it
happens, results as JSON lines (``--out``) and a summary; exit codes from the one table (_exit)."""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO, Any

import orjson

from .._targets import Target
from ..bulk import BulkResult, BulkSummary, apply_all, clone_all, fetch_all, in_shard, iter_accounts
from ._exit import bulk_exit_code
from ._fields import ModelName
from ._hints import hint_for
from ._output import Printer
from ._report import add_report_parser
from ._values import UsageError, client_type, parse_assignments


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
        "or JSON lines). Credentials are never printed or journaled. On a terminal a progress bar "
        "runs on stderr, with each failed account named above it as it happens; the summary follows "
        "on stderr. --out writes one JSON line per account (to stdout with '-').",
    )
    p.set_defaults(func=command)
    verbs = p.add_subparsers(dest="bulk_command", required=True, metavar="get|apply|clone|report")

    def common(q: argparse.ArgumentParser) -> None:
        q.add_argument("--accounts", required=True, type=Path, help="accounts file (.csv or .jsonl)")
        q.add_argument("--concurrency", type=int, default=64, help="accounts in flight (default 64)")
        q.add_argument("--shard", type=shard_arg, help="I/N: only this shard of the accounts (stable)")
        q.add_argument(
            "--journal", type=Path, help="JSON-lines journal; a re-run skips what it records as done"
        )
        q.add_argument(
            "--force-new",
            action="store_true",
            help="with --journal: start the journal afresh, even if it records another run",
        )
        q.add_argument("--rate-limit", type=float, default=1.0, help="requests/s per account (default 1)")
        q.add_argument(
            "--on-quota",
            choices=["wait", "fail"],
            default="wait",
            help="when an account's hourly quota is spent: wait for it, or report it",
        )
        q.add_argument("--client", type=client_type, help="a client type's preferences (desktop or web)")

    def results(q: argparse.ArgumentParser, *, required: bool = False) -> None:
        q.add_argument(
            "--out",
            type=Path,
            required=required,
            help="write one JSON line per account to this file, replacing it ('-': stdout)",
        )
        q.add_argument(
            "--append", action="store_true", help="with --out FILE: add to the file instead of replacing it"
        )

    g = verbs.add_parser("get", help="fetch every account's preferences")
    common(g)
    results(g, required=True)
    g.add_argument("--workspace", type=int, metavar="ID", help="a workspace's preferences")

    a = verbs.add_parser("apply", help="set KEY=VALUE on every account, sending only what differs")
    common(a)
    a.add_argument(
        "assignments", nargs="+", metavar="KEY=VALUE", help="the fields to set (see: toggl-prefs fields)"
    )
    a.add_argument("--workspace", type=int, metavar="ID", help="a workspace's preferences")
    a.add_argument("--dry-run", action="store_true", help="show each account's diff, send nothing")
    results(a)

    c = verbs.add_parser("clone", help="copy one account's preferences onto the others")
    common(c)
    c.add_argument("--from", dest="source", required=True, metavar="KEY", help="the account to copy")
    c.add_argument("--dry-run", action="store_true", help="show each account's diff, send nothing")
    results(c)
    add_report_parser(verbs)


async def cmd_bulk(args: argparse.Namespace, out: Printer) -> int:
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.append and args.out is None:
        raise UsageError("--append needs --out FILE")
    update = None
    if args.bulk_command == "apply":  # checked before the accounts file is even read
        model: ModelName = "workspace" if args.workspace is not None else "user"
        cls = Target.of(args.client, args.workspace).update_model  # the table's: the target's POST body
        update = cls.build(parse_assignments(model, args.assignments))
    source_key = getattr(args, "source", None)
    if args.accounts.exists() and not args.accounts.is_file():
        # A pipe (``--accounts <(...)``) would be empty on the second pass, and a device endless.
        raise UsageError(
            f"--accounts {args.accounts}: not a regular file (it is read twice: once to check every "
            "line before anything is sent, then to run); save the accounts to a file first"
        )
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
        "resume": not args.force_new,
        "rate_limit": args.rate_limit or None,
        "on_quota": args.on_quota,
    }
    accounts = iter_accounts(args.accounts)
    if args.bulk_command == "get":
        results = fetch_all(accounts, client=args.client, workspace_id=args.workspace, **common)
    elif update is not None:
        results = apply_all(
            accounts, update, client=args.client, workspace_id=args.workspace, dry_run=args.dry_run, **common
        )
    else:
        if source is None:
            raise UsageError(f"--from {source_key!r}: no such key in {args.accounts}")
        results = clone_all(source, accounts, client=args.client, dry_run=args.dry_run, **common)
    summary, hints, stopped = await _drive(results, args, out, total)
    dry_run = getattr(args, "dry_run", False)
    if stopped is not None and not summary.total:
        raise stopped  # refused before any account was done: the error alone says it all
    if not out.quiet or stopped is not None:  # a stopped run says what it did, even when quiet
        title = "summary" + (" (dry run: nothing was sent)" if dry_run else "")
        if stopped is None:
            out.info(title)
        else:
            out.warn(f"{title} of what was done before the run stopped:")
        rows = [("would change" if dry_run and name == "changed" else name, n) for name, n in summary.rows()]
        width = max(len(name) for name, _ in rows)
        for name, count in rows:
            print(f"{name.ljust(width)}  {count:,}", file=out.err)
    for hint in hints:
        out.warn(f"hint: {hint}")
    if stopped is not None:
        raise stopped  # its line and exit code, as every command's error gets (the one table)
    return bulk_exit_code(summary.failures.elements())


async def _drive(
    results: AsyncIterator[BulkResult], args: argparse.Namespace, out: Printer, total: int
) -> tuple[BulkSummary, list[str], Exception | None]:
    """Run the bulk operation to its end: count, write ``--out``, name each failure as it happens.
    Returns the summary, the hints its failures call for (each once), and the error that stopped
    the run before its end (a journal that could not be written, ...), if one did: the summary
    then counts what was done before it, and ``--out`` holds a whole line for each of those."""
    from ._progress import BulkProgress  # tqdm is imported only by the commands that draw a bar

    summary = BulkSummary()
    hints: list[str] = []
    dry_run = getattr(args, "dry_run", False)
    sink = _sink(args.out, args.append, out)
    progress = BulkProgress(total, out.err, quiet=out.quiet)
    stopped: Exception | None = None
    try:
        async for result in results:
            summary.add(result)
            progress.advance(result)
            if sink is not None:
                sink.write(_record(result))
            if result.error is not None:
                progress.say(f"{result.key}: {type(result.error).__name__}: {result.error}")
                hint = hint_for(result.error, args.base_url)
                if hint and hint not in hints:
                    hints.append(hint)
            elif dry_run and result.changed and not out.quiet:
                progress.say(f"{result.key}: would send {orjson.dumps(result.value.to_dict()).decode()}")
    except Exception as exc:  # noqa: BLE001 - re-raised by the caller, after the summary
        stopped = exc
    finally:
        # Stopped early (stdout closed, --out full, Ctrl-C): close the run here, which cancels its
        # work in flight, rather than leave it to the loop's shutdown (which closes the nested
        # generators in no order, and prints their errors).
        aclose = getattr(results, "aclose", None)
        if aclose is not None:
            await aclose()
        progress.close()
        if sink is not None:
            sink.close()
    return summary, hints, stopped


def _sink(path: Path | None, append: bool, out: Printer) -> IO[bytes] | _TextSink | None:
    """Where ``--out`` goes; a file is opened (and so checked) before the run starts."""
    if path is None:
        return None
    if str(path) == "-":
        return _TextSink(out.out)
    return path.open("ab" if append else "wb")


class _TextSink:
    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode())

    def close(self) -> None:
        self.stream.flush()


def _record(result: BulkResult) -> bytes:
    """One ``--out`` line. A dry run's would-be changes say so (``would_change``, ``would_send``)."""
    would = result.dry_run and bool(result.changed)
    line: dict[str, Any] = {"key": result.key, "status": "would_change" if would else result.status}
    if result.value is not None:
        key = "preferences" if result.changed is None else ("would_send" if would else "sent")
        line[key] = result.value.to_dict()
    if result.error is not None:
        line["error"] = type(result.error).__name__
        line["message"] = str(result.error)
    return orjson.dumps(line) + b"\n"
