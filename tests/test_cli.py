"""The command line, run through its real entry point against the fake server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import toggl_prefs as tp
from toggl_prefs.cli import (
    EXIT_API,
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_LIMIT,
    EXIT_NETWORK,
    EXIT_OK,
    EXIT_USAGE,
    exit_code_for,
    main,
)
from toggl_prefs.testing import FakeTogglServer

TOKEN = "cli-secret-token-42"


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
        yield fake


def cli(server: FakeTogglServer, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--token", TOKEN, "--base-url", server.base_url, *argv])
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    return code, captured.out, captured.err


def test_get_as_table_and_json(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(server, capsys, "get")
    assert (code, err) == (EXIT_OK, "")
    lines = {line.split()[0]: line.split(None, 1)[1] for line in out.splitlines()}
    assert lines["date_format"] == "MM/DD/YYYY"
    assert lines["beginning_of_week"] == "1"
    assert "\033[" not in out  # piped output has no colour
    code, out, _ = cli(server, capsys, "get", "--json")
    assert code == EXIT_OK
    data = json.loads(out)
    assert data["date_format"] == "MM/DD/YYYY" and data["beginningOfWeek"] == 1
    code, out, _ = cli(server, capsys, "get", "--client", "desktop", "--json")
    assert json.loads(out) == {"theme": "dark"}


def test_get_since(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(
        server, capsys, "get", "--client", "desktop", "--since", "2000-01-01T00:00:00Z", "--json"
    )
    assert code == EXIT_OK and json.loads(out) == {"theme": "dark"}
    assert server.requests[-1].query == {"since": "946684800"}
    code, _, err = cli(server, capsys, "get", "--client", "desktop", "--since", "2000-01-01T00:00:00")
    assert code == EXIT_USAGE and "offset" in err


def test_set_parses_values_by_type(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(
        server,
        capsys,
        "set",
        "pomodoro_enabled=false",
        "beginningOfWeek=0",
        "theme=",
        "default_task_id=null",
        'default_project_task={"project_id": 5}',
    )
    assert code == EXIT_OK, out
    assert server.requests[-1].json == {
        "pomodoro_enabled": False,
        "beginningOfWeek": 0,
        "theme": "",
        "default_task_id": None,
        "default_project_task": {"project_id": 5},
    }
    assert out == "" and "updated 5 field(s)" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["set", "pomodoro_enable=true"], "did you mean 'pomodoro_enabled'"),
        (["set", "pomodoro_enabled=maybe"], "pomodoro_enabled: 'maybe' is not a bool"),
        (["set", "beginning_of_week=Monday"], "is not an int"),
        (["set", "default_project_task=[1]"], "default_project_task"),
        (["set", "no-equals-sign"], "KEY=VALUE"),
        (["workspace", "set", "7", "logo=x"], "logo is read-only"),
        (["workspace", "set", "7", "nope=x"], "unknown workspace preference field 'nope'"),
    ],
)
def test_usage_errors_name_the_problem_and_send_nothing(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = cli(server, capsys, *argv)
    assert code == EXIT_USAGE
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert server.requests == []


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["no-such-command"]) == EXIT_USAGE
    assert main(["workspace", "get", "-3"]) == EXIT_USAGE
    assert "usage" in capsys.readouterr().err
    assert main(["--version"]) == EXIT_OK
    assert tp.__version__ in capsys.readouterr().out


def test_dry_run_sends_nothing(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(server, capsys, "set", "theme=light", "--dry-run")
    assert code == EXIT_OK
    assert json.loads(out) == {"theme": "light"} and "dry run" in err
    assert server.requests == []


def test_export_import_round_trip(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    backup = tmp_path / "prefs.json"
    assert cli(server, capsys, "set", "theme=dark", "pomodoro_enabled=true")[0] == EXIT_OK
    assert cli(server, capsys, "export", str(backup))[0] == EXIT_OK
    saved = json.loads(backup.read_text())
    assert saved["theme"] == "dark" and saved["pomodoro_enabled"] is True
    assert cli(server, capsys, "set", "theme=light", "date_format=DD.MM.YYYY")[0] == EXIT_OK
    server.requests.clear()
    code, out, _ = cli(server, capsys, "import", str(backup), "--dry-run")
    assert code == EXIT_OK
    assert json.loads(out) == {"theme": "dark", "date_format": "MM/DD/YYYY"}
    assert [r.method for r in server.requests] == ["GET"]
    code, out, err = cli(server, capsys, "import", str(backup))
    assert code == EXIT_OK and "changed 2 field(s)" in err
    assert server.requests[-1].json == {"date_format": "MM/DD/YYYY", "theme": "dark"}
    assert "toSAcceptNeeded" not in json.dumps([r.json for r in server.requests])
    code, out, err = cli(server, capsys, "import", str(backup))
    assert code == EXIT_OK and "nothing to change" in err


def test_import_of_a_bad_file_is_a_usage_error(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = cli(server, capsys, "import", str(bad))
    assert code == EXIT_USAGE and "JSON object" in err


def test_workspace_and_alpha_commands(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(server, capsys, "workspace", "set", "7", "disable_expenses=true")
    assert code == EXIT_OK and "disable_expenses" in out
    code, out, _ = cli(server, capsys, "workspace", "get", "7", "--json")
    assert json.loads(out)["disable_expenses"] is True
    assert cli(server, capsys, "alpha", "enable", "goals", "focus_mode")[0] == EXIT_OK
    assert server.requests[-1].json == {
        "alpha_features": [{"code": "goals", "enabled": True}, {"code": "focus_mode", "enabled": True}]
    }
    code, out, _ = cli(server, capsys, "alpha", "list")
    rows = dict(line.split() for line in out.splitlines())
    assert rows["goals"] == "enabled" and rows["new_reports"] == "disabled"


def test_every_exit_code(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(server, capsys, "set", "date_format=bogus")[0] == EXIT_API
    assert cli(server, capsys, "workspace", "get", "999")[0] == EXIT_API
    code = main(["--token", "wrong-token", "--base-url", server.base_url, "get"])
    assert code == EXIT_AUTH
    assert "ForbiddenError" in capsys.readouterr().err
    server.quota_per_hour = 1
    assert cli(server, capsys, "get")[0] == EXIT_OK
    code, _, err = cli(server, capsys, "get")
    assert code == EXIT_LIMIT and "QuotaExceededError" in err
    closed = FakeTogglServer()
    with closed:
        dead_url = closed.base_url
    code = main(["--token", TOKEN, "--base-url", dead_url, "get"])
    assert code == EXIT_NETWORK
    assert exit_code_for(tp.ResponseDecodeError("x")) == EXIT_API  # the server's answer, not a bug
    assert exit_code_for(RuntimeError("x")) == EXIT_ERROR
    assert exit_code_for(tp.RateLimitError("x", status=429)) == EXIT_LIMIT


def test_missing_credentials(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("TOGGL_API_TOKEN", "TOGGL_EMAIL", "TOGGL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    assert main(["get"]) == EXIT_USAGE
    assert "TOGGL_API_TOKEN" in capsys.readouterr().err


def test_token_from_environment(
    server: FakeTogglServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TOGGL_API_TOKEN", TOKEN)
    monkeypatch.setenv("TOGGL_BASE_URL", server.base_url)
    assert main(["get", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["date_format"] == "MM/DD/YYYY"


def test_debug_logs_without_secrets(server: FakeTogglServer, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    root = logging.getLogger()
    handlers = list(root.handlers)
    try:
        code, _, err = cli(server, capsys, "--debug", "get")
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
    assert code == EXIT_OK
    header = tp.ApiToken(TOKEN).header()
    assert header not in err and header.split()[1] not in err


def run_entry_point(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "toggl_prefs", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


def test_demo_runs_end_to_end() -> None:
    result = run_entry_point("demo")
    assert result.returncode == 0, result.stderr
    for expected in (
        "InvalidDateFormatError",
        "FeatureNotEnabledError",
        "QuotaExceededError",
        "[503, 503, 200]",
        "did you mean 'pomodoro_enabled'",
        "Basic ***",
    ):
        assert expected in result.stdout
    assert "demo-token" not in result.stdout and "hunter2-demo" not in result.stdout


def test_fake_server_command_serves_until_interrupted() -> None:
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "toggl_prefs", "fake-server", "--port", str(port), "--accounts", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}/api/v9" in first
        result = run_entry_point(
            "--token",
            "token-2",
            "--base-url",
            f"http://127.0.0.1:{port}/api/v9",
            "workspace",
            "get",
            "1002",
            "--json",
        )
        assert result.returncode == 0, result.stderr
        assert "logo" in json.loads(result.stdout)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    assert proc.returncode == 130, err


def test_get_table_sums_up_alpha_features(
    server: FakeTogglServer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(server, capsys, "alpha", "enable", "goals")[0] == EXIT_OK
    code, out, _ = cli(server, capsys, "get")
    assert code == EXIT_OK
    row = next(line for line in out.splitlines() if line.startswith("alpha_features"))
    assert "5 features; enabled: goals" in row and "alpha_feature_id" not in row
