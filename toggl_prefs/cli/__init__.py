"""The ``toggl-prefs`` command line (also ``python -m toggl_prefs``).

stdout carries a command's result alone (a table, JSON, JSON lines, a script); progress,
confirmations, warnings and errors go to stderr. Exit codes come from one table (``EXIT_CODES`` in
:mod:`._exit`), shown by ``--help``.
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
from typing import Any

import orjson

from .. import errors as e
from .._auth import ApiToken, BasicAuth, auth_from_env
from .._client import AsyncTogglClient
from .._generated import PreferencesUpdate, WorkspacePreferencesUpdate
from .._targets import read_preferences, write_preferences
from .._urls import CLIENT_TYPES, DEFAULT_BASE_URL
from .._version import __version__
from ._bulk import add_bulk_parser, cmd_bulk
from ._exit import EXIT_CODES, ExitCode, epilog, exit_code_for
from ._fields import MODELS, fields
from ._hints import describe_error, hint_for
from ._importfile import read_import_file, read_source
from ._output import KEYS, Keys, Printer, model_json
from ._values import UsageError, client_type, parse_assignments

# The table's codes by their former names (kept for scripts and tests that import them).
EXIT_OK, EXIT_ERROR, EXIT_USAGE = ExitCode.OK, ExitCode.ERROR, ExitCode.USAGE
EXIT_API, EXIT_AUTH, EXIT_LIMIT, EXIT_NETWORK = ExitCode.API, ExitCode.AUTH, ExitCode.LIMIT, ExitCode.NETWORK

Command = Callable[[argparse.Namespace, Printer], Awaitable[int]]
SHELLS = ("bash", "zsh", "tcsh")

# -- commands ---------------------------------------------------------------------------------


def _client(args: argparse.Namespace) -> AsyncTogglClient:
    if args.token is not None and not args.token.strip():
        # `--token "$ALICE_TOKEN"` with the variable unset: acting as $TOGGL_API_TOKEN's account
        # instead would change someone else's preferences.
        raise UsageError("--token is empty (an unset variable?): give the token, or leave --token out")
    if args.token:
        auth: ApiToken | BasicAuth = ApiToken(args.token)
    else:
        try:
            auth = auth_from_env()
        except e.TogglConfigError:
            raise UsageError(
                "no Toggl credentials: pass --token TOKEN, or set TOGGL_API_TOKEN "
                "(or TOGGL_EMAIL and TOGGL_PASSWORD) in the environment"
            ) from None
    return AsyncTogglClient(auth, base_url=args.base_url)


def _keys(args: argparse.Namespace, *, json: bool) -> Keys:
    """``--keys``, else the default: the API's keys in JSON (what ``import`` reads back), attribute
    names in tables."""
    chosen: Keys | None = args.keys
    return chosen or ("wire" if json else "python")


async def cmd_get(args: argparse.Namespace, out: Printer) -> int:
    since = _since(args.since) if args.since is not None else None
    if since is not None and not args.client:
        raise UsageError("--since needs --client (it filters a client type's preferences)")
    async with _client(args) as toggl:
        prefs = await read_preferences(toggl, args.client, since=since)
    if args.json:
        out.json(model_json(prefs, keys=_keys(args, json=True), every_field=args.all))
    else:
        out.model(prefs, keys=_keys(args, json=False), every_field=args.all)
    return ExitCode.OK


async def cmd_set(args: argparse.Namespace, out: Printer) -> int:
    update = PreferencesUpdate.build(parse_assignments("user", args.assignments))
    if args.dry_run:
        out.info("dry run: would send (nothing was sent)")
        out.json(update.to_dict())
        return ExitCode.OK
    async with _client(args) as toggl:
        await write_preferences(toggl, update, args.client)
    if args.json:
        out.json(update.to_dict())
    out.done(f"updated {len(update.fields_set())} field(s): {', '.join(update.fields_set())}")
    return ExitCode.OK


async def cmd_workspace(args: argparse.Namespace, out: Printer) -> int:
    if args.ws_command == "get":
        async with _client(args) as toggl:
            ws = await toggl.get_workspace_preferences(args.workspace_id)
        if args.json:
            out.json(model_json(ws, every_field=args.all))
        else:
            out.model(ws, every_field=args.all)
        return ExitCode.OK
    update = WorkspacePreferencesUpdate.build(parse_assignments("workspace", args.assignments))
    if args.dry_run:
        out.info("dry run: would send (nothing was sent)")
        out.json(update.to_dict())
        return ExitCode.OK
    async with _client(args) as toggl:
        answer = await toggl.update_workspace_preferences(args.workspace_id, update)
    if args.json:
        out.json(answer.to_dict())
    else:
        out.model(answer)
    out.done(f"updated workspace {args.workspace_id}: {', '.join(update.fields_set())}")
    return ExitCode.OK


async def cmd_alpha(args: argparse.Namespace, out: Printer) -> int:
    async with _client(args) as toggl:
        if args.alpha_command == "list":
            prefs = await toggl.get_preferences()
            features = prefs.alpha_features or []
            if args.json:
                out.json([f.to_dict() for f in features])
            else:
                out.table(sorted((f.code or "?", "enabled" if f.enabled else "disabled") for f in features))
            return ExitCode.OK
        enabled = args.alpha_command == "enable"
        await toggl.set_alpha_features(dict.fromkeys(args.codes, enabled))
    if args.json:
        out.json({"alpha_features": [{"code": code, "enabled": enabled} for code in args.codes]})
    out.done(f"{'enabled' if enabled else 'disabled'}: {', '.join(args.codes)}")
    return ExitCode.OK


async def cmd_export(args: argparse.Namespace, out: Printer) -> int:
    async with _client(args) as toggl:
        prefs = await read_preferences(toggl, args.client)
    document = model_json(prefs, keys=_keys(args, json=True))
    data = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    if args.file == "-":
        out.out.write(data.decode())
    else:
        await asyncio.to_thread(Path(args.file).write_bytes, data)
        out.done(f"exported {len(document)} key(s) to {args.file}")
    return ExitCode.OK


async def cmd_import(args: argparse.Namespace, out: Printer) -> int:
    raw = await asyncio.to_thread(read_source, args.file)
    loaded = read_import_file(raw, "<stdin>" if args.file == "-" else args.file)
    for warning in loaded.warnings:
        out.warn(warning)
    for note in loaded.notes:
        out.info(note)
    async with _client(args) as toggl:
        current = await read_preferences(toggl, args.client)
        update = PreferencesUpdate.diff(current, loaded.preferences)
        if update.is_empty():
            out.done("nothing to change: the account already matches the file")
        elif args.dry_run:
            out.info(f"dry run: would change {len(update.fields_set())} field(s) (nothing was sent)")
        else:
            await write_preferences(toggl, update, args.client)
            out.done(
                f"imported: changed {len(update.fields_set())} field(s): {', '.join(update.fields_set())}"
            )
    if args.dry_run or args.json:
        out.json(update.to_dict())
    return ExitCode.OK


async def cmd_fields(args: argparse.Namespace, out: Printer) -> int:
    infos = fields(args.model)
    if args.json:
        out.json(
            [
                {
                    "name": f.name,
                    "wire": f.wire,
                    "type": f.type,
                    "meaning": f.meaning,
                    "allowed": list(f.allowed),
                    "read_only": f.read_only,
                }
                for f in infos
            ]
        )
        return ExitCode.OK
    rows = [("name", "type", "notes")]
    for f in infos:
        remarks = ["read-only"] if f.read_only else []
        remarks += [f"API key {f.wire}"] if f.wire != f.name else []  # the name works in either spelling
        remarks += [f.meaning] if f.meaning else []
        remarks += [f"one of: {', '.join(f.allowed)}"] if f.allowed else []
        rows.append((f.name, f.type, "; ".join(remarks)))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for i, (name, kind, notes) in enumerate(rows):
        text = f"{name.ljust(widths[0])}  {kind.ljust(widths[1])}  {notes}"
        (out.heading if i == 0 else out.line)(text.rstrip())
    return ExitCode.OK


async def cmd_completion(args: argparse.Namespace, out: Printer) -> int:
    import shtab  # only when asked: completion costs nothing on other commands

    parser = build_parser()
    _mark_paths(parser, shtab.FILE)
    out.out.write(shtab.complete(parser, shell=args.shell))
    return ExitCode.OK


def _mark_paths(parser: argparse.ArgumentParser, files: dict[str, Any]) -> None:
    """Tell shtab which arguments are file names (it completes those with the shell's file list)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _mark_paths(child, files)
        elif action.type is Path or action.metavar == "FILE":
            action.complete = files  # type: ignore[attr-defined]


def accounts_line(count: int) -> str:
    """How ``fake-server`` describes its accounts: one, or a range."""
    if count == 1:
        return "1 account: API token token-1, workspace 1001 (admin)"
    return (
        f"{count} accounts: API tokens token-1 .. token-{count}, "
        f"workspaces 1001 .. {1000 + count} (admin of its own)"
    )


async def cmd_fake_server(args: argparse.Namespace, out: Printer) -> int:
    from ..testing import FakeTogglServer, add_sample_account

    server = FakeTogglServer(host=args.host, port=args.port)
    for n in range(1, args.accounts + 1):  # realistic preferences, so a first `get` shows values
        add_sample_account(server, api_token=f"token-{n}", key=f"user{n}", workspace_id=1000 + n)
    async with server:
        out.line(server.base_url)  # stdout: the one thing a script needs
        out.out.flush()
        out.info(f"fake Toggl API at {server.base_url}")
        out.info(accounts_line(args.accounts))
        out.info(f"try:  TOGGL_API_TOKEN=token-1 toggl-prefs --base-url {server.base_url} get")
        out.info("Ctrl-C stops it")
        out.err.flush()
        await asyncio.Event().wait()
    return ExitCode.OK  # pragma: no cover - ends by KeyboardInterrupt


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

_EPILOG = f"""\
credentials: --token or $TOGGL_API_TOKEN (or $TOGGL_EMAIL and $TOGGL_PASSWORD); --base-url or
  $TOGGL_BASE_URL for another API root (it ends in /api/v9).
output: stdout carries the result alone (a table; JSON with --json; JSON lines with --out -);
  progress, confirmations, warnings and errors go to stderr (-q: warnings and errors only).
keys: JSON and files use the API's keys (beginningOfWeek), tables use attribute names
  (beginning_of_week); --keys wire|python chooses. `toggl-prefs fields` lists every field.
completion: eval "$(toggl-prefs completion bash)" (or zsh, tcsh).

{epilog()}
"""

_KEYS_HELP = (
    "field names: wire = the API's keys (beginningOfWeek), python = attribute names "
    "(beginning_of_week); default: %s"
)


def _global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options every command takes, before or after the command name. On the commands they
    default to SUPPRESS, so a value given before the command is not reset by the command's parser."""
    group = parser.add_argument_group("global options")

    def default(value: Any) -> Any:
        return value if top else argparse.SUPPRESS

    group.add_argument("--token", default=default(None), help="API token (default: $TOGGL_API_TOKEN)")
    group.add_argument(
        "--base-url",
        default=default(os.environ.get("TOGGL_BASE_URL", DEFAULT_BASE_URL)),
        help=f"API root, ending in /api/v9 (default: $TOGGL_BASE_URL or {DEFAULT_BASE_URL})",
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="print only results, warnings and errors",
    )
    group.add_argument(
        "--debug", action="store_true", default=default(False), help="log requests and show tracebacks"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="toggl-prefs",
        description="Read and change Toggl Track preferences (API v9).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"toggl-prefs {__version__}")
    _global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Command, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    def client_option(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--client", type=client_type, help=f"a client type's preferences ({' or '.join(CLIENT_TYPES)})"
        )

    def json_option(p: argparse.ArgumentParser, what: str = "print JSON instead of a table") -> None:
        p.add_argument("--json", action="store_true", help=what)

    p = add("get", cmd_get, "show your preferences")
    client_option(p)
    p.add_argument("--since", help="with --client: only what changed since (UNIX time or ISO 8601)")
    json_option(p)
    p.add_argument("--all", action="store_true", help="every field, including unset ones")
    p.add_argument("--keys", choices=KEYS, help=_KEYS_HELP % "wire with --json, python in the table")

    p = add("set", cmd_set, "change preferences: KEY=VALUE ... (null clears a field)")
    p.add_argument(
        "assignments", nargs="+", metavar="KEY=VALUE", help="fields to set (see: toggl-prefs fields)"
    )
    client_option(p)
    p.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    json_option(p, "print the JSON body sent")

    p = add("workspace", cmd_workspace, "show or change a workspace's preferences")
    ws = p.add_subparsers(dest="ws_command", required=True, metavar="get|set")
    wg = ws.add_parser(
        "get", help="show a workspace's preferences", description="show a workspace's preferences"
    )
    wg.add_argument("workspace_id", type=_positive_int, metavar="ID", help="the workspace's numeric id")
    json_option(wg)
    wg.add_argument("--all", action="store_true", help="every field, including unset ones")
    wset = ws.add_parser(
        "set", help="change a workspace's preferences", description="change a workspace's preferences"
    )
    wset.add_argument("workspace_id", type=_positive_int, metavar="ID", help="the workspace's numeric id")
    wset.add_argument(
        "assignments",
        nargs="+",
        metavar="KEY=VALUE",
        help="fields to set (see: toggl-prefs fields --model workspace)",
    )
    wset.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    json_option(wset, "print the workspace's preferences as JSON")

    p = add("alpha", cmd_alpha, "list, enable or disable alpha features")
    alpha = p.add_subparsers(dest="alpha_command", required=True, metavar="list|enable|disable")
    json_option(alpha.add_parser("list", help="list alpha features", description="list alpha features"))
    for verb in ("enable", "disable"):
        q = alpha.add_parser(verb, help=f"{verb} features by code", description=f"{verb} features by code")
        q.add_argument("codes", nargs="+", metavar="CODE", help="feature codes (see: toggl-prefs alpha list)")
        json_option(q, "print the JSON body sent")

    p = add("export", cmd_export, "back up your preferences to a JSON file ('-' for stdout)")
    p.add_argument("file", metavar="FILE", help="where to write ('-': stdout)")
    client_option(p)
    p.add_argument("--keys", choices=KEYS, help=_KEYS_HELP % "wire, which is what import reads best")

    p = add("import", cmd_import, "restore preferences from a JSON file: sends only what differs")
    p.add_argument("file", metavar="FILE", help="a file from export ('-': stdin); either key spelling")
    client_option(p)
    p.add_argument("--dry-run", action="store_true", help="print what would be sent, send nothing")
    json_option(p, "print the JSON body sent ({} when nothing differs)")

    p = add("fields", cmd_fields, "list the fields you can read and set, with types and known values")
    p.add_argument("--model", choices=MODELS, default="user", help="user (default) or workspace preferences")
    json_option(p)

    p = add("completion", cmd_completion, "print a shell completion script (bash, zsh or tcsh)")
    p.add_argument("shell", choices=SHELLS, help="the shell: " + ", ".join(SHELLS))

    p = add("fake-server", cmd_fake_server, "run a fake Toggl API on this machine, for trying things out")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default %(default)s)")
    p.add_argument(
        "--accounts",
        type=_positive_int,
        default=3,
        help="accounts to create: token-1 .. (default %(default)s)",
    )

    add("demo", cmd_demo, "a guided tour on a built-in fake server (no token, no network)")
    add_bulk_parser(sub, cmd_bulk)
    for leaf in _leaves(parser):
        _global_options(leaf, top=False)
    return parser


def _leaves(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found: list[argparse.ArgumentParser] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _leaves(child) if child._subparsers else [child]
    return found


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
    except SystemExit as exit_:  # argparse: --help and --version end well, anything else is usage
        return ExitCode.USAGE if exit_.code else ExitCode.OK
    out = Printer(quiet=args.quiet)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    try:
        return ExitCode(asyncio.run(args.func(args, out)))
    except KeyboardInterrupt:
        out.error("interrupted")
        return ExitCode.INTERRUPTED
    except BrokenPipeError:  # stdout's reader left (`| head`): nothing more to say, and no one to read it
        _drop_stdout()
        return exit_code_for(BrokenPipeError)
    except Exception as exc:  # every error becomes one line (and maybe a hint) and an exit code
        if args.debug:
            raise
        if isinstance(exc, UsageError):
            out.error(f"toggl-prefs: error: {exc}")
        else:
            out.error(f"toggl-prefs: {describe_error(exc)}")
        hint = hint_for(exc, args.base_url)
        if hint:
            out.warn(f"hint: {hint}")
        return exit_code_for(exc)


def _drop_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush of what is still
    buffered does not fail a second time (and print a traceback) on the closed pipe."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    except (OSError, ValueError):  # stdout is no file (a test's capture): nothing will be flushed to a pipe
        pass


__all__ = [
    "EXIT_API",
    "EXIT_AUTH",
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_LIMIT",
    "EXIT_NETWORK",
    "EXIT_OK",
    "EXIT_USAGE",
    "ExitCode",
    "build_parser",
    "exit_code_for",
    "main",
]
