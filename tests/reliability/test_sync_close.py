"""``TogglClient.close()`` racing 32 threads that share the client, over several rounds, against real
loopback servers that answer late, answer 503 (so calls are backing off) or are throttled: every
caller must come back within a bound, with its result or ``TogglConfigError``, and no loop thread may
be left; dropped, never-closed clients must stop their loop threads too.

Every wait is bounded (``join(timeout)``): a regression fails here instead of hanging the suite."""

from __future__ import annotations

import gc
import threading
import time
from collections import Counter
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer

from .conftest import TOKEN, record

THREADS = 32
ROUNDS = 4
BOUND = 15.0  # seconds for all callers of a round to come back; each should take milliseconds

SCENARIOS: dict[str, tuple[dict[str, Any] | None, dict[str, Any]]] = {
    # name: (fault injected on every request, client options)
    "answers delayed 0.3 s (calls in flight)": ({"status": None, "delay": 0.3}, {}),
    "503 on every request (calls backing off)": (
        {"status": 503},
        {"retry": tp.RetryPolicy(max_retries=10, backoff_base=0.2, backoff_cap=1.0)},
    ),
    "rate_limit=2/s (calls queued in the throttle)": (None, {"rate_limit": 2.0}),
}


def toggl_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("toggl-prefs-")}


def join_all(threads: list[threading.Thread]) -> int:
    """Join each thread within one shared deadline; how many are still alive."""
    deadline = time.monotonic() + BOUND
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return sum(t.is_alive() for t in threads)


def race_round(
    server: FakeTogglServer, options: dict[str, Any], close_after: float
) -> tuple[Counter[str], float]:
    """32 threads call until the client is closed under them; returns their outcomes and close()'s time."""
    client = tp.TogglClient(tp.ApiToken(TOKEN), base_url=server.base_url, **{"rate_limit": None, **options})
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()

    def keep_calling() -> None:
        while True:
            try:
                client.get_preferences()
                outcome = "answered"
            except tp.TogglConfigError as exc:
                outcome = "TogglConfigError" if "closed" in str(exc) else f"TogglConfigError: {exc}"
            except BaseException as exc:
                outcome = type(exc).__name__
            with lock:
                outcomes[outcome] += 1
            if outcome != "answered":
                return

    threads = [threading.Thread(target=keep_calling, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    time.sleep(close_after)
    started = time.monotonic()
    client.close()
    took = time.monotonic() - started
    stranded = join_all(threads)
    assert stranded == 0, f"{stranded} of {THREADS} callers never came back from close()"
    return outcomes, took


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_close_races_32_threads(scenario: str) -> None:
    fault, options = SCENARIOS[scenario]
    before = toggl_threads()
    totals: Counter[str] = Counter()
    worst = 0.0
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN)
        if fault is not None:
            server.fail_next(10**9, **fault)
        for n in range(ROUNDS):
            outcomes, took = race_round(server, options, close_after=0.05 + 0.1 * n)
            assert set(outcomes) <= {"answered", "TogglConfigError"}, outcomes
            assert outcomes["TogglConfigError"] == THREADS  # each caller ended on the closed client
            assert toggl_threads() == before, "a loop thread outlived close()"
            totals += outcomes
            worst = max(worst, took)
    record(
        "sync-close",
        case=f"close() under {THREADS} threads: {scenario}",
        rounds=ROUNDS,
        outcomes=f"{totals['answered']} answered, {totals['TogglConfigError']} TogglConfigError",
        stranded=0,
        threads_left=0,
        slowest_close=f"{worst * 1000:.0f} ms",
    )


def test_dropped_clients_stop_their_loop_threads() -> None:
    before = toggl_threads()
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN)
        clients = [
            tp.TogglClient(tp.ApiToken(TOKEN), base_url=server.base_url, rate_limit=None) for _ in range(20)
        ]
        for client in clients:
            client.get_preferences()
        started = toggl_threads() - before
        assert len(started) == 20
        sessions = [c.async_client._transport._session for c in clients]
        del clients, client
        gc.collect()
        alive = join_all(list(started))
    assert alive == 0, f"{alive} loop threads of dropped clients still run"
    assert toggl_threads() == before
    assert all(s is not None and s.closed for s in sessions)
    record(
        "sync-close",
        case="20 clients used, never closed, dropped (del + gc.collect())",
        rounds=1,
        outcomes="20 loop threads stopped, sessions closed",
        stranded=0,
        threads_left=0,
        slowest_close="",
    )
