"""The ``toggl-prefs`` command line (also ``python -m toggl_prefs``).

Exit codes: 0 ok, 1 unexpected error, 2 usage error (nothing sent), 3 API error, 4 authentication
or permission refused (403), 5 quota or rate limit, 6 network error or timeout.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path

import orjson

from .. import errors as e
from .._auth import ApiToken, BasicAuth, auth_from_env
from .._client import AsyncTogglClient
from .._generated import PreferencesUpdate, UserPreferences, WorkspacePreferencesUpdate
from .._targets import read_preferences, write_preferences
from .._urls import CLIENT_TYPES, DEFAULT_BASE_URL
from .._version import __version__
from ._bulk import add_bulk_parser, cmd_bulk
from ._output import Printer
from ._values import UsageError, parse_assignments

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_API, EXIT_AUTH, EXIT_LIMIT, EXIT_NETWORK = 0, 1, 2, 3, 4, 5, 6

Command = Callable[[argparse.Namespace, Printer], Awaitable[int]]


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for an error (a pure rule, documented in the module docstring)."""
    if isinstance(exc, (e.QuotaExceededError, e.RateLimitError)):
        return EXIT_LIMIT
    if isinstance(exc, e.ForbiddenError):
        return EXIT_AUTH
    if isinstance(exc, e.APIError):
        return EXIT_API
    if isinstance(exc, e.TransportError):
        return EXIT_NETWORK
    if isinstance(exc, (UsageError, e.TogglConfigError, TypeError, ValueError, OSError)):
        return EXIT_USAGE
    return EXIT_ERROR


# -- commands ---------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> AsyncTogglClient:
    auth: ApiToken | BasicAuth = ApiToken(args.token) if args.token else auth_from_env()
    return AsyncTogglClient(auth, base_url=args.base_url)


async def cmd_get(args: argparse.Namespace, out: Printer) -> int:
    since = _since(args.since) if args.since is not None else None
    if since is not None and not args.client:
        raise UsageError("--since needs --client (it filters a client type's preferences)")
    async with _client(args) as toggl:
        prefs = await read_preferences(toggl, args.client, since=since)
    if args.json:
        out.json(prefs.to_dict())
    else:
        out.model(prefs)
    return EXIT_OK


async def cmd_set(args: argparse.Namespace, out: Printer) -> int:
    values = parse_assignments(PreferencesUpdate.__toggl_fields__, args.assignments, "preference")
    update = PreferencesUpdate.build(values)
    if args.dry_run:
        out.note("dry run: would send")
        out.json(update.to_dict())
        return EXIT_OK
    async with _client(args) as toggl:
        await write_preferences(toggl, update, args.client)
    out.good(f"updated {len(update.fields_set())} field(s): {', '.join(update.fields_set())}")
    return EXIT_OK


async def cmd_workspace(args: argparse.Namespace, out: Printer) -> int:
    if args.ws_command == "get":
        async with _client(args) as toggl:
            ws = await toggl.get_workspace_preferences(args.workspace_id)
        if args.json:
            out.json(ws.to_dict())
        else:
            out.model(ws)
        return EXIT_OK
    values = parse_assignments(
        WorkspacePreferencesUpdate.__toggl_fields__, args.assignments, "workspace preference"
    )
    update = WorkspacePreferencesUpdate.build(values)
    if args.dry_run:
        out.note("dry run: would send")
        out.json(update.to_dict())
        return EXIT_OK
    async with _client(args) as toggl:
        answer = await toggl.update_workspace_preferences(args.workspace_id, update)
    out.good(f"updated workspace {args.workspace_id}: {', '.join(update.fields_set())}")
    out.model(answer)
    return EXIT_OK


async def cmd_alpha(args: argparse.Namespace, out: Printer) -> int:
    async with _client(args) as toggl:
        if args.alpha_command == "list":
            prefs = await toggl.get_preferences()
            features = prefs.alpha_features or []
            if args.json:
                out.json([f.to_dict() for f in features])
            else:
                out.table(sorted((f.code or "?", "enabled" if f.enabled else "disabled") for f in features))
            return EXIT_OK
        enabled = args.alpha_command == "enable"
        await toggl.set_alpha_features(dict.fromkeys(args.codes, enabled))
    out.good(f"{'enabled' if enabled else 'disabled'}: {', '.join(args.codes)}")
    return EXIT_OK


async def cmd_export(args: argparse.Namespace, out: Printer) -> int:
    async with _client(args) as toggl:
        prefs = await read_preferences(toggl, args.client)
    data = orjson.dumps(prefs.to_dict(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if args.file == "-":
        out.out.write(data.decode())
    else:
        await asyncio.to_thread(Path(args.file).write_bytes, data)
        out.good(f"exported {len(prefs.to_dict())} key(s) to {args.file}")
    return EXIT_OK


async def cmd_import(args: argparse.Namespace, out: Printer) -> int:
    source = sys.stdin.buffer.read if args.file == "-" else Path(args.file).read_bytes
    raw = await asyncio.to_thread(source)
    try:
        target = UserPreferences.from_json(raw)
    except e.ResponseDecodeError as exc:
        raise UsageError(f"{args.file}: {exc.message}") from None
    async with _client(args) as toggl:
        current = await read_preferences(toggl, args.client)
        update = PreferencesUpdate.diff(current, target)
        if update.is_empty():
            out.good("nothing to change: the account already matches the file")
            return EXIT_OK
        if args.dry_run:
            out.note(f"dry run: would change {len(update.fields_set())} field(s)")
            out.json(update.to_dict())
            return EXIT_OK
        await write_preferences(toggl, update, args.client)
    out.good(f"imported: changed {len(update.fields_set())} field(s): {', '.join(update.fields_set())}")
    return EXIT_OK


async def cmd_fake_server(args: argparse.Namespace, out: Printer) -> int:
    from ..testing import FakeTogglServer

    server = FakeTogglServer(host=args.host, port=args.port)
    for n in range(1, args.accounts + 1):
        server.add_account(api_token=f"token-{n}", key=f"user{n}", workspaces={1000 + n: "admin"})
    async with server:
        out.line(f"fake Toggl API at {server.base_url}")
        out.line(f"accounts: API tokens token-1 .. token-{args.accounts} (workspace ids 1001 ..)")
        out.line("try:  TOGGL_API_TOKEN=token-1 toggl-prefs --base-url " + server.base_url + " get")
        out.note("Ctrl-C stops it")
        sys.stdout.flush()
        await asyncio.Event().wait()
    return EXIT_OK  # pragma: no cover - ends by KeyboardInterrupt


async def cmd_demo(args: argparse.Namespace, out: Printer) -> int:
    from ._demo import run_demo

    return await run_demo(out)


def _since(text: str) -> int | datetime:
    if text.isdigit():
        return int(text)
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"--since {text!r}: use a UNIX timestamp or an ISO 8601 time with an offset"
        ) from None
    if when.tzinfo is None:
        raise UsageError(f"--since {text!r} has no UTC offset (add Z or +HH:MM)")
    return when


# -- argument parsing -------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toggl-prefs",
        description="Read and change Toggl Track preferences (API v9).",
        epilog="Credentials: --token or TOGGL_API_TOKEN (or TOGGL_EMAIL and TOGGL_PASSWORD). "
        "Exit codes: 0 ok, 2 usage, 3 API error, 4 auth/permission, 5 quota/rate limit, 6 network.",
    )
    parser.add_argument("--version", action="version", version=f"toggl-prefs {__version__}")
    parser.add_argument("--token", help="API token (default: $TOGGL_API_TOKEN)")
    parser.add_argument(
        "--base-url",
        default=os.environ.get("TOGGL_BASE_URL", DEFAULT_BASE_URL),
        help="API root (default: $TOGGL_BASE_URL or %(default)s)",
    )
    parser.add_argument("--debug", action="store_true", help="log requests and show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    def client_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--client", help=f"a client type ({' or '.join(CLIENT_TYPES)})")

    p = add("get", cmd_get, "show your preferences")
    client_option(p)
    p.add_argument("--since", help="with --client: only what changed since (UNIX time or ISO 8601)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")

    p = add("set", cmd_set, "change preferences: KEY=VALUE ... (null clears a field)")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    client_option(p)
    p.add_argument("--dry-run", action="store_true", help="show what would be sent, send nothing")

    p = add("workspace", cmd_workspace, "show or change a workspace's preferences")
    ws = p.add_subparsers(dest="ws_command", required=True, metavar="get|set")
    wg = ws.add_parser("get", help="show a workspace's preferences")
    wg.add_argument("workspace_id", type=_positive_int)
    wg.add_argument("--json", action="store_true")
    wset = ws.add_parser("set", help="change a workspace's preferences")
    wset.add_argument("workspace_id", type=_positive_int)
    wset.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    wset.add_argument("--dry-run", action="store_true")

    p = add("alpha", cmd_alpha, "list, enable or disable alpha features")
    alpha = p.add_subparsers(dest="alpha_command", required=True, metavar="list|enable|disable")
    alpha.add_parser("list", help="list alpha features").add_argument("--json", action="store_true")
    for verb in ("enable", "disable"):
        alpha.add_parser(verb, help=f"{verb} features by code").add_argument(
            "codes", nargs="+", metavar="CODE"
        )

    p = add("export", cmd_export, "back up your preferences to a JSON file ('-' for stdout)")
    p.add_argument("file")
    client_option(p)

    p = add("import", cmd_import, "restore preferences from a JSON file: sends only what differs")
    p.add_argument("file")
    client_option(p)
    p.add_argument("--dry-run", action="store_true", help="show what would change, send nothing")

    p = add("fake-server", cmd_fake_server, "run a fake Toggl API on this machine, for trying things out")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--accounts", type=_positive_int, default=3)

    add("demo", cmd_demo, "a guided tour on a built-in fake server (no token, no network)")
    add_bulk_parser(sub, cmd_bulk)
    return parser


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    out = Printer()
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = asyncio.run(args.func(args, out))
        return code
    except KeyboardInterrupt:
        out.err.write("interrupted\n")
        return 130
    except Exception as exc:  # every error becomes one line and an exit code
        if args.debug:
            raise
        code = exit_code_for(exc)
        name = type(exc).__name__
        print(f"toggl-prefs: {name}: {exc}", file=out.err)
        return code


__all__ = ["build_parser", "exit_code_for", "main"]
