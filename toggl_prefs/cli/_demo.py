"""``toggl-prefs demo``: a guided tour of the SDK against the built-in fake server."""

from __future__ import annotations

import asyncio
import time

from .. import errors as e
from .._auth import ApiToken, BasicAuth
from .._client import AsyncTogglClient
from .._generated import PreferencesUpdate
from .._retry import RetryPolicy
from ..testing import FakeTogglServer
from ._exit import ExitCode
from ._output import Printer, show

# Short waits so the tour takes seconds; real clients keep the defaults.
DEMO_RETRY = RetryPolicy(max_retries=3, backoff_base=0.05, backoff_cap=0.2)


async def run_demo(out: Printer) -> int:
    started = time.monotonic()
    async with FakeTogglServer(rate_limit=40, burst=2, quota_per_hour=1000) as server:
        server.add_account(
            api_token="demo-token",  # noqa: S106 - the fake server's demo account
            preferences={"date_format": "MM/DD/YYYY", "BeginningOfWeek": 1, "timeofday_format": "h:mm A"},
            workspaces={1001: {"role": "admin", "locking_enabled": False}},
        )
        server.add_account(email="bob@example.com", password="hunter2-demo", key="bob")  # noqa: S106
        out.heading(f"1. A fake Toggl API is running at {server.base_url} (two accounts, no network)")

        async with AsyncTogglClient(
            ApiToken("demo-token"), base_url=server.base_url, retry=DEMO_RETRY, rate_limit=20
        ) as toggl:
            out.heading("\n2. Read preferences: GET /me/preferences, decoded into a typed model")
            prefs = await toggl.get_preferences()
            out.line(
                f"   date_format={prefs.date_format}  beginning_of_week={prefs.beginning_of_week} "
                "(the server said 'BeginningOfWeek')"
            )
            out.line(
                f"   {len(prefs.alpha_features or [])} alpha features; quota left: {toggl.quota.remaining}"
            )

            out.heading("\n3. A partial update sends exactly the fields you set (False and 0 included)")
            await toggl.update_preferences(
                pomodoro_enabled=False, date_format="YYYY-MM-DD", beginning_of_week=0
            )
            out.line(f"   body sent: {show(server.requests[-1].json)}")

            out.heading("\n4. Mistakes are caught before anything is sent")
            sent = len(server.requests)
            try:
                await toggl.update_preferences(pomodoro_enable=True)
            except TypeError as exc:
                out.bad(f"   TypeError: {exc}")
            try:
                await toggl.update_preferences(beginning_of_week="monday")
            except TypeError as exc:
                out.bad(f"   TypeError: {exc}")
            out.line(f"   requests sent meanwhile: {len(server.requests) - sent}")

            out.heading("\n5. Server-side refusals arrive as typed exceptions")
            try:
                await toggl.update_preferences(date_format="YYYY/DD/MM")
            except e.InvalidDateFormatError as exc:
                out.bad(f"   {type(exc).__name__}: {exc.message} (status {exc.status})")
            try:
                await toggl.update_workspace_preferences(1001, report_locked_at="2026-01-01")
            except e.FeatureNotEnabledError as exc:
                out.bad(f"   {type(exc).__name__} (a plan feature, not the quota): {exc.message}")

            out.heading("\n6. Transient faults are retried: two 503s, then success")
            server.fail_next(2, status=503, path="/me/preferences")
            before = len(server.requests)
            await toggl.get_preferences()
            statuses = [r.status for r in server.requests[before:]]
            out.good(f"   statuses seen: {statuses} -> success after {len(statuses)} attempts")

            out.heading("\n7. Rate limits: the server allows 40 requests/s per token")
            before = len(server.requests)
            gave_up = await _burst(server, throttled=False)
            unthrottled = [r.status for r in server.requests[before:]]
            out.line(
                f"   throttle off, 10 at once: {unthrottled.count(429)} answers were 429 (nginx HTML); "
                f"with retries {10 - gave_up} of 10 got through"
            )
            await asyncio.sleep(0.2)  # let the server's bucket drain
            before = len(server.requests)
            await _burst(server, throttled=True)
            throttled = [r.status for r in server.requests[before:]]
            out.good(
                f"   throttle on (20/s here; the default is 1/s, Toggl's rate): {throttled.count(429)} x 429"
            )

        out.heading("\n8. The hourly quota: 402 with X-Toggl-Quota-* headers is final, never retried")
        server.quota_per_hour = 3
        async with AsyncTogglClient(
            BasicAuth("bob@example.com", "hunter2-demo"),
            base_url=server.base_url,
            rate_limit=20,  # under the server's 40/s: the only refusal left is the quota
            retry=DEMO_RETRY,
        ) as bob:
            try:
                for _ in range(5):
                    await bob.get_preferences()
                    out.line(f"   ok, quota left: {bob.quota.remaining}")
            except e.QuotaExceededError as exc:
                tries = f"{exc.attempts} attempt" + ("s" if exc.attempts != 1 else "")
                out.bad(
                    f"   {type(exc).__name__}: resets in {exc.resets_in}s "
                    f"(after {tries}: a spent quota is never retried)"
                )

        out.heading("\n9. What the server saw (credentials redacted)")
        last = server.requests[-1]
        out.line(f"   {last.method} {last.path} Authorization: {last.headers.get('Authorization')}")
    out.good(f"\nDone in {time.monotonic() - started:.1f}s. Next: TOGGL_API_TOKEN=... toggl-prefs get")
    return ExitCode.OK


async def _burst(server: FakeTogglServer, *, throttled: bool) -> int:
    """Ten concurrent updates; returns how many ended in RateLimitError after their retries."""
    async with AsyncTogglClient(
        ApiToken("demo-token"),
        base_url=server.base_url,
        rate_limit=20 if throttled else None,
        retry=RetryPolicy(max_retries=6, backoff_base=0.05, backoff_cap=0.3),
    ) as toggl:
        results = await asyncio.gather(
            *(toggl.update_preferences(PreferencesUpdate(theme="dark")) for _ in range(10)),
            return_exceptions=True,
        )
    for result in results:
        if isinstance(result, BaseException) and not isinstance(result, e.RateLimitError):
            raise result
    return sum(isinstance(r, e.RateLimitError) for r in results)
