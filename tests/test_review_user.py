"""A hurried user and a hostile file, through the command line and the accounts reader: a token file
that is a FIFO, an import file that never ends, a file given to ``bulk report`` that is no journal,
``--token ""``, stdout closed early (``| head``), duplicate keys in an import file, an accounts
file that cannot be read twice. Each case must end at once with a typed error (or the documented
exit code), send nothing it should not and echo no credential."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from toggl_prefs.bulk import AccountsFileError, load_accounts, write_accounts_csv
from toggl_prefs.cli import ExitCode, main
from toggl_prefs.testing import FakeTogglServer, add_sample_account

TOKEN = "review-secret-token"
POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")


@pytest.fixture
def server() -> Iterator[FakeTogglServer]:
    with FakeTogglServer() as fake:
        add_sample_account(fake, api_token=TOKEN, key="alice", workspace_id=1001)
        yield fake


def _in_thread(call: object, seconds: float = 10) -> object:
    """``call()`` in a daemon thread, failing (instead of hanging the suite) when it does not end."""
    box: list[object] = []

    def run() -> None:
        try:
            box.append(call())  # type: ignore[operator]
        except BaseException as exc:
            box.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert box, "it never returned (a blocking read?)"
    return box[0]


# -- accounts files -----------------------------------------------------------------------------


@POSIX
def test_a_token_file_that_is_a_fifo_is_refused_not_waited_on(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "token")  # nobody ever writes to it: opening it for reading would block
    (tmp_path / "a.csv").write_text("key,api_token_file\nalice,token\n")
    error = _in_thread(lambda: load_accounts(tmp_path / "a.csv"))
    assert isinstance(error, AccountsFileError), error
    assert error.line == 2
    assert "not a regular file" in str(error) and "cannot read" in str(error)


def test_a_token_file_that_is_a_device_is_refused(tmp_path: Path) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    (tmp_path / "a.csv").write_text("key,api_token_file\nalice,/dev/zero\n")
    with pytest.raises(AccountsFileError, match="not a regular file") as caught:
        load_accounts(tmp_path / "a.csv")
    assert caught.value.line == 2


def test_a_token_file_through_a_symlink_still_works(tmp_path: Path) -> None:
    # Kubernetes mounts secrets as symlinks to regular files: those must keep working.
    (tmp_path / "real").write_text(f"{TOKEN}\n")
    (tmp_path / "token").symlink_to(tmp_path / "real")
    (tmp_path / "a.csv").write_text("key,api_token_file\nalice,token\n")
    [account] = load_accounts(tmp_path / "a.csv")
    assert account.auth.api_token == TOKEN  # type: ignore[union-attr]


@POSIX
def test_bulk_refuses_an_accounts_file_it_cannot_read_twice(tmp_path: Path, server: FakeTogglServer) -> None:
    """``--accounts <(...)`` is a pipe: the command reads the file once to check it and once to run,
    so the second read would find it empty. Say so, instead of "no header"."""
    fifo = tmp_path / "accounts.csv"
    os.mkfifo(fifo)
    code = _in_thread(
        lambda: main(["--base-url", server.base_url, "bulk", "get", "--accounts", str(fifo), "--out", "-"])
    )
    assert code == ExitCode.USAGE
    assert server.requests == []


def test_bulk_refusing_a_device_says_why(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bulk", "get", "--accounts", "/dev/null" if os.name != "nt" else "NUL", "--out", "-"])
    assert code == ExitCode.USAGE
    assert "regular file" in capsys.readouterr().err


# -- import --------------------------------------------------------------------------------------------


def test_import_of_an_endless_file_is_refused_without_reading_it_all(
    tmp_path: Path, server: FakeTogglServer, capsys: pytest.CaptureFixture[str]
) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero")
    code = _in_thread(
        lambda: main(["--token", TOKEN, "--base-url", server.base_url, "import", "/dev/zero"]), 20
    )
    assert code == ExitCode.USAGE
    assert "MiB" in capsys.readouterr().err
    assert server.requests == []


def test_import_of_a_file_over_the_limit_is_a_usage_error(
    tmp_path: Path, server: FakeTogglServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from toggl_prefs.cli._importfile import MAX_IMPORT_BYTES

    big = tmp_path / "big.json"
    big.write_bytes(b'{"date_format": "' + b"x" * MAX_IMPORT_BYTES + b'"}')
    code = main(["--token", TOKEN, "--base-url", server.base_url, "import", str(big), "--dry-run"])
    assert code == ExitCode.USAGE
    assert "big.json" in capsys.readouterr().err
    assert server.requests == []


def test_import_refuses_a_key_given_twice(
    tmp_path: Path, server: FakeTogglServer, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON parsers keep the last of two equal keys: one of the user's values would be dropped
    silently, and which one they meant is unknowable."""
    file = tmp_path / "prefs.json"
    file.write_text('{\n  "date_format": "YYYY-MM-DD",\n  "date_format": "DD-MM-YYYY"\n}\n')
    code = main(["--token", TOKEN, "--base-url", server.base_url, "import", str(file)])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE, err
    assert "date_format" in err and "line 3" in err
    assert [r for r in server.requests if r.method == "POST"] == []


def test_import_still_reads_a_nested_repeated_name_in_different_objects(tmp_path: Path) -> None:
    from toggl_prefs.cli._importfile import read_import_file

    raw = b'{"alpha_features": [{"code": "a", "enabled": true}, {"code": "b", "enabled": false}]}'
    loaded = read_import_file(raw, "f.json")
    assert [f.code for f in loaded.preferences.alpha_features or []] == ["a", "b"]


# -- bulk report -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"key,api_token\nalice,tok\n", b"", b'{"x": 1}\n', b"garbage\n"],
    ids=["an accounts file", "empty", "another JSON file", "garbage"],
)
def test_report_on_a_file_that_is_no_journal_is_a_usage_error(
    tmp_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Told "not finished: re-run it" (130), a user would re-run a run that never existed."""
    path = tmp_path / "run.jsonl"
    path.write_bytes(content)
    code = main(["bulk", "report", str(path)])
    err = capsys.readouterr().err
    assert code == ExitCode.USAGE, err
    assert "not a toggl-prefs journal" in err


def test_report_on_an_unfinished_journal_still_says_resume(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_text('{"journal": "toggl-prefs", "version": 1, "run": "abc", "identity": {}, "at": 1.0}\n')
    assert main(["bulk", "report", str(path)]) == ExitCode.INTERRUPTED


# -- credentials and stdout --------------------------------------------------------------------------


def test_an_empty_token_option_is_refused_not_replaced_by_the_environment(
    server: FakeTogglServer, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--token "$ALICE_TOKEN"`` with the variable unset must not act as whoever
    TOGGL_API_TOKEN names."""
    monkeypatch.setenv("TOGGL_API_TOKEN", TOKEN)
    code = main(["--token", "", "--base-url", server.base_url, "set", "pomodoro_enabled=false"])
    assert code == ExitCode.USAGE
    assert "--token" in capsys.readouterr().err
    assert server.requests == []


def _cli(*argv: str) -> list[str]:
    return [sys.executable, "-m", "toggl_prefs", *argv]


def test_stdout_closed_early_is_quiet_and_not_a_usage_error(server: FakeTogglServer) -> None:
    """``toggl-prefs get | head -1``: no BrokenPipeError on stderr, and no exit 2 ("nothing was
    sent"), which would be a lie after a ``set --json | head``."""
    env = {**os.environ, "NO_COLOR": "1", "TOGGL_API_TOKEN": TOKEN}
    command = _cli("--base-url", server.base_url, "fields")
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()  # the reader is gone, as `| head -1` leaves it
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert "BrokenPipe" not in err and "Traceback" not in err, err
    assert code == ExitCode.INTERRUPTED, err


def test_bulk_out_to_a_closed_stdout_is_an_unfinished_run(tmp_path: Path, server: FakeTogglServer) -> None:
    for n in range(2, 40):
        server.add_account(api_token=f"{TOKEN}-{n}", key=f"u{n}")
    write_accounts_csv([(f"u{n}", f"{TOKEN}-{n}") for n in range(2, 40)], tmp_path / "a.csv")
    env = {**os.environ, "NO_COLOR": "1"}
    command = _cli("--base-url", server.base_url, "bulk", "get", "--accounts", "a.csv", "--out", "-")
    command += ["--rate-limit", "0", "--concurrency", "1"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=tmp_path
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read().decode()
        code = proc.wait(timeout=60)
    assert TOKEN not in err
    assert "Traceback" not in err, err
    assert code == ExitCode.INTERRUPTED, err
