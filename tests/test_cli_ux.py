"""The command line's rough edges: what goes to stdout and stderr, bulk output on a
terminal, imports that don't fit, field discovery, local refusals, hints, one exit-code table,
shell completion, help for every option and the spelling of keys."""

from __future__ import annotations

import argparse
import ast
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from toggl_prefs import bulk
from toggl_prefs.cli import build_parser, main
from toggl_prefs.testing import FakeTogglServer

TOKEN = "ux-secret-token-7"
BULK = 6  # accounts in the bulk file (b0 .. b5)
CLI_DIR = Path(__file__).resolve().parents[1] / "toggl_prefs" / "cli"


@pytest.fixture
def server() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        fake.add_account(
            api_token=TOKEN,
            key="alice",
            preferences={"date_format": "MM/DD/YYYY", "BeginningOfWeek": 1},
            client_preferences={"desktop": {"theme": "dark"}},
            workspaces={7: "admin"},
        )
        for i in range(BULK):
            fake.add_account(
                api_token=f"bulk-secret-{i}", key=f"b{i}", preferences={"theme": "dark" if i < 2 else "light"}
            )
        yield fake


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.csv"
    bulk.write_accounts_csv([(f"b{i}", f"bulk-secret-{i}") for i in range(BULK)], path)
    return path


def run(server: FakeTogglServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--token", TOKEN, "--base-url", server.base_url, *argv])
    captured = capsys.readouterr()
    text = captured.out + captured.err
    assert TOKEN not in text and "bulk-secret" not in text
    return code, captured.out, captured.err


class Terminal(io.StringIO):
    """A stream that says it is a terminal (stdout and stderr share it, as on a real one)."""

    def isatty(self) -> bool:
        return True


# -- stdout is for machine output alone --------------------------------------------------------

JSON, JSONL = "json", "jsonl"
# Every command, in its machine-readable form. ``{accounts}`` and ``{file}`` are filled in.
MACHINE_RUNS: list[tuple[tuple[str, ...], str]] = [
    (("get", "--json"), JSON),
    (("get", "--json", "--all"), JSON),
    (("get", "--json", "--keys", "python"), JSON),
    (("get", "--client", "desktop", "--json"), JSON),
    (("set", "theme=light", "--dry-run"), JSON),
    (("set", "theme=light", "--json"), JSON),
    (("workspace", "get", "7", "--json"), JSON),
    (("workspace", "set", "7", "disable_expenses=true", "--json"), JSON),
    (("workspace", "set", "7", "disable_expenses=true", "--dry-run"), JSON),
    (("alpha", "list", "--json"), JSON),
    (("alpha", "enable", "goals", "--json"), JSON),
    (("alpha", "disable", "goals", "--json"), JSON),
    (("export", "-"), JSON),
    (("import", "{file}", "--dry-run"), JSON),
    (("import", "{file}", "--json"), JSON),
    (("fields", "--json"), JSON),
    (("fields", "--model", "workspace", "--json"), JSON),
    (("bulk", "get", "--accounts", "{accounts}", "--out", "-", "--rate-limit", "0"), JSONL),
    (("bulk", "apply", "--accounts", "{accounts}", "theme=dark", "--out", "-", "--rate-limit", "0"), JSONL),
    (
        ("bulk", "apply", "--accounts", "{accounts}", "theme=dark", "--dry-run", "--out", "-"),
        JSONL,
    ),
    (("bulk", "clone", "--from", "b0", "--accounts", "{accounts}", "--out", "-", "--rate-limit", "0"), JSONL),
    (("bulk", "report", "--json", "{journal}"), JSON),
]
# Commands whose output is for people only (a tour, a server, a shell script).
NOT_MACHINE = {("demo",), ("fake-server",), ("completion",)}


def _leaf_commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        return {prefix}
    found: set[tuple[str, ...]] = set()
    for action in subs:
        for name, child in action.choices.items():
            found |= _leaf_commands(child, (*prefix, name))
    return found


def test_every_command_has_a_machine_readable_run() -> None:
    leaves = _leaf_commands(build_parser())
    missing = {
        leaf
        for leaf in leaves
        if leaf not in NOT_MACHINE and not any(argv[: len(leaf)] == leaf for argv, _ in MACHINE_RUNS)
    }
    assert not missing, f"commands without a machine-output test: {sorted(missing)}"


@pytest.mark.parametrize(
    ("argv", "kind"), MACHINE_RUNS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else v
)
def test_machine_output_alone_on_stdout(
    server: FakeTogglServer,
    accounts: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    kind: str,
) -> None:
    backup = tmp_path / "backup.json"
    backup.write_text(json.dumps({"theme": "light", "beginningOfWeek": 3}))
    journal = tmp_path / "journal.jsonl"
    if "{journal}" in argv:
        journaled = ("bulk", "apply", "--accounts", str(accounts), "theme=dark", "--journal", str(journal))
        assert run(server, capsys, *journaled, "--rate-limit", "0")[0] == 0
    filled = [a.format(accounts=accounts, file=backup, journal=journal) for a in argv]
    code, out, err = run(server, capsys, *filled)
    # A journal of a run not split into shards may read as "not finished" (130): stdout is the point.
    assert code == 0 or ("report" in argv and code == 130), err
    if kind == JSON:
        json.loads(out)  # the whole of stdout, nothing before or after
    else:
        assert out.endswith("\n")
        records = [json.loads(line) for line in out.splitlines()]
        assert len(records) == BULK - ("clone" in argv)


def test_status_lines_go_to_stderr(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(server, capsys, "set", "theme=light")
    assert (code, out) == (0, "")
    assert "updated 1 field(s): theme" in err
    code, out, err = run(server, capsys, "-q", "set", "theme=dark")
    assert (code, out, err) == (0, "", "")
    code, out, err = run(server, capsys, "set", "theme=dark", "--quiet")  # after the command, too
    assert (code, out, err) == (0, "", "")


# -- bulk runs on a terminal -------------------------------------------------------------------


def _on_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    tty = Terminal()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    monkeypatch.setenv("NO_COLOR", "1")
    return tty


def test_bulk_on_a_terminal_names_each_failed_account(
    server: FakeTogglServer, accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.fail_next(2, status=403, body='"User does not have access to this resource."', path="/me/")
    tty = _on_terminal(monkeypatch)
    argv = ["bulk", "get", "--accounts", str(accounts), "--out", os.devnull, "--rate-limit", "0"]
    code = main(["--base-url", server.base_url, *argv])
    text = tty.getvalue()
    failed = [r for r in server.requests if r.status == 403]
    assert len(failed) == 2
    for request in failed:
        line = next(line for line in text.splitlines() if re.search(rf"\b{request.account}\b", line))
        assert "ForbiddenError" in line and "User does not have access" in line
    assert code == 4  # the same code as one account's 403


def test_bulk_dry_run_on_a_terminal(
    server: FakeTogglServer, accounts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tty = _on_terminal(monkeypatch)
    argv = ["bulk", "apply", "--accounts", str(accounts), "theme=dark", "--dry-run"]
    code = main(["--base-url", server.base_url, *argv])
    assert code == 0
    lines = re.split(r"[\r\n]", tty.getvalue())
    would = [line for line in lines if "would send" in line]
    assert len(would) == BULK - 2
    bar = re.compile(r"\d+/\d+")  # the progress bar's count
    assert not [line for line in would if bar.search(line)], "a dry-run line shares a line with the bar"
    assert all(re.match(r"^(\x1b\[[0-9;]*[A-Za-z])*b\d: would send", line) for line in would)
    row = re.compile(r"^\s*([a-z][a-z ]*?)\s+(\d+)\s*$", re.M)
    summary = {m.group(1): m.group(2) for m in row.finditer(tty.getvalue())}
    assert summary.get("would change") == str(BULK - 2) and "changed" not in summary
    assert not [r for r in server.requests if r.method == "POST"]


def test_bulk_out_overwrites_unless_append(
    server: FakeTogglServer, accounts: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    argv = ("bulk", "get", "--accounts", str(accounts), "--out", str(out), "--rate-limit", "0")
    assert run(server, capsys, *argv)[0] == 0
    assert run(server, capsys, *argv)[0] == 0
    assert len(out.read_text().splitlines()) == BULK
    assert run(server, capsys, *argv, "--append")[0] == 0
    assert len(out.read_text().splitlines()) == 2 * BULK


def test_bulk_summary_and_quiet(
    server: FakeTogglServer, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        server, capsys, "bulk", "apply", "--accounts", str(accounts), "theme=dark", "--rate-limit", "0"
    )
    assert code == 0 and out == ""
    assert re.search(r"^changed\s+4$", err, re.M) and re.search(r"^unchanged\s+2$", err, re.M)
    code, out, err = run(server, capsys, "-q", "bulk", "apply", "--accounts", str(accounts), "theme=light")
    assert (code, out, err) == (0, "", "")


# -- import: values that don't fit -------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "field", "line"),
    [
        ('{\n  "theme": "dark",\n  "beginningOfWeek": "monday"\n}\n', "beginningOfWeek", 3),
        ('{\n  "pomodoro_enabled": 1\n}\n', "pomodoro_enabled", 2),
        ('{"theme": "dark",\n "default_project_task": {\n   "project_id": "five"}}', "project_id", 3),
        ('{\n "alpha_features": [{"code": "goals", "enabled": "yes"}]\n}', "enabled", 2),
    ],
)
def test_import_of_a_value_that_does_not_fit_is_a_usage_error(
    server: FakeTogglServer,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    document: str,
    field: str,
    line: int,
) -> None:
    path = tmp_path / "prefs.json"
    path.write_text(document)
    for extra in ((), ("--dry-run",)):
        code, out, err = run(server, capsys, "import", str(path), *extra)
        assert code == 2, err
        assert field in err and f"line {line}" in err and "nothing to change" not in out + err
    assert not [r for r in server.requests if r.method == "POST"]


def test_import_warns_about_unknown_keys_and_reads_python_names(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "prefs.json"
    path.write_text('{\n  "beginning_of_week": 4,\n  "themee": "dark"\n}')
    code, out, err = run(server, capsys, "import", str(path), "--dry-run")
    assert code == 0
    assert json.loads(out) == {"beginningOfWeek": 4}
    assert "themee" in err and "line 3" in err and "did you mean 'theme'" in err


# -- field discovery and local refusals --------------------------------------------------------


def test_fields_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fields", "--json"]) == 0
    user = {f["name"]: f for f in json.loads(capsys.readouterr().out)}
    assert len(user) == 171
    week = user["beginning_of_week"]
    assert week["wire"] == "beginningOfWeek" and week["type"] == "int" and not week["read_only"]
    assert "Sunday" in week["meaning"] and week["allowed"] == ["0", "1", "2", "3", "4", "5", "6"]
    assert "DD.MM.YYYY" in user["date_format"]["allowed"]
    assert user["tos_accept_needed"]["read_only"] and user["tos_accept_needed"]["wire"] == "toSAcceptNeeded"
    assert "ToS" in user["tos_accept_needed"]["meaning"]
    assert user["default_project_task"]["type"] == "ProjectTask"
    assert main(["fields", "--model", "workspace", "--json"]) == 0
    ws = {f["name"]: f for f in json.loads(capsys.readouterr().out)}
    assert ws["logo"]["read_only"] and not ws["disable_expenses"]["read_only"]
    assert "expenses" in ws["disable_expenses"]["meaning"]
    assert main(["fields"]) == 0
    table = capsys.readouterr().out
    row = next(line for line in table.splitlines() if line.startswith("beginning_of_week "))
    assert "beginningOfWeek" in row and "int" in row


def test_get_all_shows_unset_fields(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(server, capsys, "get", "--all")
    assert code == 0
    names = {line.split()[0] for line in out.splitlines()}
    assert {"pomodoro_enabled", "date_format", "tos_accept_needed"} <= names
    assert len(names) >= 171
    code, out, _ = run(server, capsys, "get", "--all", "--json")
    data = json.loads(out)
    assert data["date_format"] == "MM/DD/YYYY" and data["pomodoro_enabled"] is None and len(data) >= 171


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "tos_accept_needed=false"], "read-only"),
        (["set", "ToSAcceptNeeded=true", "--dry-run"], "read-only"),
        (["workspace", "set", "7", "logo=x", "--dry-run"], "read-only"),
        (["workspace", "set", "7", "disable_expense=true", "--dry-run"], "did you mean 'disable_expenses'"),
        (["workspace", "set", "7", "theme=dark", "--dry-run"], "toggl-prefs set"),
        (["set", "disable_expenses=true", "--dry-run"], "toggl-prefs workspace set"),
        (["set", "beginingOfWeek=1", "--dry-run"], "did you mean 'beginning_of_week'"),
        (["get", "--client", "deskop"], "did you mean 'desktop'"),
        (["get", "--client", "we/b"], "unknown client type 'we/b'"),
        (["set", "theme=dark", "--client", "phone", "--dry-run"], "desktop"),
        (["export", "-", "--client", "mobile"], "desktop"),
        (["bulk", "apply", "--accounts", "{accounts}", "tos_accept_needed=true", "--dry-run"], "read-only"),
        (["bulk", "get", "--accounts", "{accounts}", "--client", "tablet"], "desktop"),
    ],
)
def test_refused_locally_before_anything_is_sent(
    server: FakeTogglServer, accounts: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(server, capsys, *(a.format(accounts=accounts) for a in argv))
    assert code == 2 and message in err, err
    assert server.requests == []


# -- credentials and base URL ------------------------------------------------------------------


def test_missing_token_names_the_flag_and_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("TOGGL_API_TOKEN", "TOGGL_EMAIL", "TOGGL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert main(["get"]) == 2
    err = capsys.readouterr().err
    assert "--token" in err and "TOGGL_API_TOKEN" in err and "ApiToken(" not in err


def test_base_url_without_api_v9_gets_a_hint(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str]
) -> None:
    root = server.base_url.removesuffix("/api/v9")
    code = main(["--token", TOKEN, "--base-url", root, "get"])
    err = capsys.readouterr().err
    assert code == 3
    assert f"{root}/api/v9" in err and "404: 404" not in err


# -- one exit-code table -----------------------------------------------------------------------


def test_exit_code_table_is_data_and_documented() -> None:
    from toggl_prefs.cli import EXIT_CODES, ExitCode

    assert [row.code for row in EXIT_CODES] == sorted(ExitCode)
    epilog = build_parser().format_help()
    for row in EXIT_CODES:
        assert re.search(rf"^\s*{int(row.code)}\s+{re.escape(row.meaning[:20])}", epilog, re.M), row


def test_every_exit_path_uses_the_table() -> None:
    """No command returns or exits with a bare number: every code comes from the table. (Commands and
    ``main`` are the functions annotated ``-> int``/``-> ExitCode``; ``sys.exit``/``SystemExit`` anywhere.)"""
    offenders = []
    for path in sorted(CLI_DIR.glob("*.py")):
        for func in ast.walk(ast.parse(path.read_text())):
            if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            exits = ast.unparse(func.returns) in ("int", "ExitCode") if func.returns else False
            for node in ast.walk(func):
                value: ast.AST | None = None
                if isinstance(node, ast.Return) and exits:
                    value = node.value
                elif isinstance(node, ast.Call) and ast.unparse(node.func) in (
                    "sys.exit",
                    "exit",
                    "SystemExit",
                ):
                    value = node.args[0] if node.args else None
                if value is not None and any(
                    isinstance(n, ast.Constant) and type(n.value) is int for n in ast.walk(value)
                ):
                    offenders.append(f"{path.name}:{getattr(node, 'lineno', '?')}")
    assert not offenders


def test_bulk_and_single_commands_share_exit_codes(
    server: FakeTogglServer, accounts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    server.fail_next(BULK, status=403, body='"User does not have access to this resource."', path="/me/")
    code, _, err = run(
        server, capsys, "bulk", "get", "--accounts", str(accounts), "--out", os.devnull, "--rate-limit", "0"
    )
    assert code == 4, err
    server.fail_next(1, status=403, body='"User does not have access to this resource."', path="/me/")
    assert run(server, capsys, "get")[0] == 4


# -- completion, help, fake server -------------------------------------------------------------


@pytest.mark.parametrize("shell", ["bash", "zsh", "tcsh"])
def test_completion_scripts(capsys: pytest.CaptureFixture[str], shell: str) -> None:
    assert main(["completion", shell]) == 0
    script = capsys.readouterr().out
    assert "toggl-prefs" in script
    for command in ("workspace", "fields", "bulk", "completion"):
        assert command in script


def test_completion_of_an_unknown_shell_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["completion", "fish-shell"]) == 2
    assert "bash" in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser, name: str = "toggl-prefs") -> Iterator[tuple[str, Any]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child_name, child in action.choices.items():
                yield from _parsers(child, f"{name} {child_name}")


def test_every_option_of_every_command_has_help() -> None:
    missing = [
        f"{name}: {'/'.join(action.option_strings) or action.dest}"
        for name, parser in _parsers(build_parser())
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
        and (not action.help or action.help == argparse.SUPPRESS)
    ]
    assert not missing


def test_help_documents_key_spelling() -> None:
    parser = build_parser()
    for command in ("get", "export"):
        text = next(p for n, p in _parsers(parser) if n == f"toggl-prefs {command}").format_help()
        assert "--keys" in text and "wire" in text and "python" in text


def test_fake_server_with_one_account() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "toggl_prefs", "fake-server", "--port", str(port), "--accounts", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.readline().strip() == f"http://127.0.0.1:{port}/api/v9"
        human: list[str] = []
        while not human or "Ctrl-C" not in human[-1]:
            human.append(proc.stderr.readline())
            assert human[-1], "the server stopped"
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=10)
    text = "".join(human)
    assert "token-1" in text and ".." not in text.replace("...", "") and "token-1 .. token-1" not in text


# -- key spelling ------------------------------------------------------------------------------


def test_keys_wire_or_python(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, out, _ = run(server, capsys, "get", "--json")
    assert json.loads(out)["beginningOfWeek"] == 1  # JSON for files and scripts: the API's keys
    _, out, _ = run(server, capsys, "get", "--json", "--keys", "python")
    assert json.loads(out)["beginning_of_week"] == 1
    _, out, _ = run(server, capsys, "get")
    assert re.search(r"^beginning_of_week\s+1$", out, re.M)  # the table: attribute names
    _, out, _ = run(server, capsys, "get", "--keys", "wire")
    assert re.search(r"^beginningOfWeek\s+1$", out, re.M)
    exported = tmp_path / "e.json"
    assert run(server, capsys, "export", str(exported))[0] == 0
    assert "beginningOfWeek" in json.loads(exported.read_text())
    assert run(server, capsys, "export", str(exported), "--keys", "python")[0] == 0
    assert "beginning_of_week" in json.loads(exported.read_text())
    assert run(server, capsys, "set", "beginning_of_week=5")[0] == 0
    code, out, err = run(server, capsys, "import", str(exported), "--dry-run")  # python keys import too
    assert code == 0 and json.loads(out) == {"beginningOfWeek": 1}, err
