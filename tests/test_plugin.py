"""The pytest plugin, as a user's test suite meets it: run with ``pytester`` in pytest-asyncio's
strict (default) and auto modes, with the synchronous fixtures, and without pytest-asyncio at all."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

OPTIONS = ("-p", "no:cacheprovider", "-o", "asyncio_default_fixture_loop_scope=function")

ASYNC_TESTS = """
import pytest
import toggl_prefs as tp
from toggl_prefs.testing import SAMPLE_PREFERENCES
from toggl_prefs.testing.pytest_plugin import ACCOUNT_KEY, TOKEN, WORKSPACE_ID

{marker}
async def test_reads_the_sample_account(toggl_client, toggl_server):
    prefs = await toggl_client.get_preferences()
    assert (prefs.date_format, prefs.beginning_of_week) == ("MM/DD/YYYY", 1)
    assert (await toggl_client.get_workspace_preferences(WORKSPACE_ID)).disable_timesheet_view is True
    assert toggl_server.accounts[ACCOUNT_KEY].api_token == TOKEN

{marker}
async def test_update_is_recorded(toggl_client, toggl_server):
    await toggl_client.update_preferences(pomodoro_enabled=False)
    assert toggl_server.requests[-1].json == {{"pomodoro_enabled": False}}
"""

SYNC_TESTS = """
import toggl_prefs as tp
from toggl_prefs.testing.pytest_plugin import WORKSPACE_ID

def test_blocking_client(toggl_sync_client, toggl_sync_server):
    assert isinstance(toggl_sync_client, tp.TogglClient)
    assert toggl_sync_client.get_preferences().timeofday_format == "h:mm A"
    toggl_sync_client.update_workspace_preferences(WORKSPACE_ID, hide_start_end_times=True)
    assert toggl_sync_server.requests[-1].json == {"hide_start_end_times": True}
    assert toggl_sync_client.get_client_preferences("desktop").show_dock_icon is True
"""


def test_strict_mode_runs_marked_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ASYNC_TESTS.format(marker="@pytest.mark.asyncio"))
    result = pytester.runpytest(*OPTIONS, "-o", "asyncio_mode=strict")
    result.assert_outcomes(passed=2)


def test_auto_mode_runs_unmarked_async_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(ASYNC_TESTS.format(marker=""))
    result = pytester.runpytest(*OPTIONS, "-o", "asyncio_mode=auto")
    result.assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["strict", "auto"])
def test_sync_fixtures_run_a_blocking_client(pytester: pytest.Pytester, mode: str) -> None:
    pytester.makepyfile(SYNC_TESTS)
    result = pytester.runpytest(*OPTIONS, "-o", f"asyncio_mode={mode}")
    result.assert_outcomes(passed=1)


def test_fixtures_are_listed_with_their_docs(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--fixtures", *OPTIONS)
    out = result.stdout.str()
    for name in ("toggl_server", "toggl_client", "toggl_sync_server", "toggl_sync_client"):
        assert f"{name} --" in out or f"{name} [" in out, name


def test_without_pytest_asyncio_sync_fixtures_work_and_async_ones_say_what_is_missing(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_sync=SYNC_TESTS,
        test_async=textwrap.dedent(
            """
            def test_uses_the_async_server(toggl_server):
                pass
            """
        ),
    )
    # A fresh interpreter where importing pytest_asyncio fails as if it were not installed (a module
    # first on the path: pytest's import hook would find the real one past a meta-path blocker).
    blocked = pytester.mkdir("not-installed")
    (blocked / "pytest_asyncio.py").write_text(
        'raise ModuleNotFoundError("No module named pytest_asyncio")\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:asyncio", "-p", "no:cacheprovider", "-q", "."],
        cwd=pytester.path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(blocked), os.environ.get("PYTHONPATH", "")])},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    out = result.stdout + result.stderr
    assert "1 passed, 1 error" in out, out[-3000:]
    assert "toggl_server is an async fixture and needs pytest-asyncio" in out
    assert "toggl_sync_server" in out  # the way out for synchronous tests
