"""Credentials never show: not in a log line (at DEBUG), an error's str/repr, a model or client
repr, the CLI's output, a bulk result or journal; and they never travel to another host."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs.testing import FakeTogglServer

from ..conftest import RawServer, reply
from .conftest import EMAIL, PASSWORD, TOKEN, assert_no_secret, record

AUTHS = [tp.ApiToken(TOKEN), tp.BasicAuth(EMAIL, PASSWORD)]


@pytest.mark.parametrize("auth", AUTHS, ids=["api token", "email and password"])
async def test_errors_logs_and_reprs_across_faults(
    auth: Any, raw_server: RawServer, secret_scan: Any
) -> None:
    raw_server.script = [reply(500, b"boom"), reply(403, b'"User does not have access to this resource."')]
    seen: list[str] = []
    async with tp.AsyncTogglClient(
        auth, base_url=raw_server.base_url, rate_limit=None, retry=tp.RetryPolicy(backoff_base=0.001)
    ) as client:
        seen.append(repr(client))
        for call in (
            client.get_preferences,
            lambda: client.update_preferences(theme="x"),
            lambda: client.get_workspace_preferences(5),
        ):
            try:
                await call()
            except tp.TogglError as exc:
                seen += [str(exc), repr(exc), str(exc.__dict__), str(getattr(exc, "body", ""))]
        seen += [repr(auth), str(auth), repr(tp.UserPreferences.from_dict({"theme": TOKEN[:3]}))]
    assert_no_secret(*seen)
    assert any("Authorization" not in line for line in secret_scan.lines)
    record(
        "secrets",
        where="errors, reprs and DEBUG logs across 5xx/403 "
        f"({'token' if isinstance(auth, tp.ApiToken) else 'password'})",
        held="no credential",
    )


def test_cli_output_and_bulk_journal(tmp_path: Path) -> None:
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="a")
        server.fail_next(100, status=503, path="/workspaces")
        env_base = ["--base-url", server.base_url, "--token", TOKEN]
        outputs = []
        for argv in (
            ["--debug", "get"],
            ["workspace", "get", "7"],
            ["set", "date_format=bad"],
            ["--debug", "set", "theme=dark"],
        ):
            result = subprocess.run(
                [sys.executable, "-m", "toggl_prefs", *env_base, *argv],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            outputs += [result.stdout, result.stderr]
        accounts = [bulk.Account("a", tp.ApiToken(TOKEN)), bulk.Account("b", tp.BasicAuth(EMAIL, PASSWORD))]
        journal = tmp_path / "j.jsonl"
        results = list(
            bulk.sync.apply_all(
                accounts,
                tp.PreferencesUpdate(theme="dark"),
                journal=journal,
                base_url=server.base_url,
                rate_limit=None,
            )
        )
        outputs += [repr(results), journal.read_text(), repr(accounts)]
        assert {r.status for r in results} == {"unchanged", "failed"}  # the CLI set theme=dark already
        headers = [str(r.headers) for r in server.requests]
    assert_no_secret(*outputs, *headers)
    record(
        "secrets",
        where="CLI output (with --debug), bulk results and journal, the fake server's request log",
        held="no credential",
    )


async def test_credentials_stay_with_base_url(raw_server: RawServer) -> None:
    other = RawServer()
    await other.start()
    try:
        raw_server.script = [
            reply(301, b"", {"Location": f"http://127.0.0.1:{other.port}/api/v9/me/preferences"})
        ]
        async with tp.AsyncTogglClient(
            tp.ApiToken(TOKEN), base_url=raw_server.base_url, rate_limit=None
        ) as c:
            with pytest.raises(tp.APIError):
                await c.get_preferences()
        assert other.hits == 0
        for bad in (
            "http://example.com/api/v9",
            "http://10.0.0.5/api/v9",
            "https://user:pw@example.com/api/v9",
        ):
            with pytest.raises(tp.TogglConfigError):
                tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=bad)
        async with tp.AsyncTogglClient(
            tp.ApiToken(TOKEN), base_url=raw_server.base_url, rate_limit=None
        ) as c:
            for client_type in ("../../admin", "web%2F..", "web?x=1", "web#x", "a/b"):
                with pytest.raises(ValueError, match="client"):
                    await c.get_client_preferences(client_type)
        assert all(r.path.startswith("/api/v9/me/preferences") for r in raw_server.seen)
    finally:
        await other.stop()
    record(
        "secrets",
        where="redirects to another host, http off loopback, path parameters",
        held="credentials only ever sent to base_url's host; unsafe path segments refused before sending",
    )
