"""The blocking facade: its per-call thread hop, and sequential / threaded throughput against
``requests.Session`` and the peer client toggl-python, on the same local server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson

import toggl_prefs as tp
from benchmarks._common import Row, cores, interleaved, pin, unpin
from benchmarks.bench_http import AUTH, ServerProcess
from toggl_prefs._sync import LoopThread


def hop_overhead(number: int) -> float:
    """Seconds per call for a no-op coroutine through the facade's loop thread."""
    runner = LoopThread("bench-hop")

    async def noop() -> None:
        return None

    try:
        runner.run(noop)
        start = time.perf_counter()
        for _ in range(number):
            runner.run(noop)
        return (time.perf_counter() - start) / number
    finally:
        runner.stop()


def async_sequential(base: str, number: int) -> float:
    """Seconds per sequential ``get_preferences()`` of the async client inside one running loop."""

    async def go() -> float:
        async with tp.AsyncTogglClient(tp.ApiToken("bench-token"), base_url=base, rate_limit=None) as client:
            await client.get_preferences()
            best = float("inf")
            for _ in range(7):
                start = time.perf_counter()
                for _ in range(number):
                    await client.get_preferences()
                best = min(best, (time.perf_counter() - start) / number)
            return best

    return asyncio.run(go())


def sync_sequential(base: str, number: int) -> float:
    """Seconds per sequential ``get_preferences()`` of the facade, measured alone (warm caches)."""
    with tp.TogglClient(tp.ApiToken("bench-token"), base_url=base, rate_limit=None) as client:
        client.get_preferences()
        best = float("inf")
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(number):
                client.get_preferences()
            best = min(best, (time.perf_counter() - start) / number)
        return best


def typical_body_rows(server: ServerProcess, scale: float) -> list[Row]:
    """The facade's cost over the async call, and against requests, on the typical live body
    (toggl-python cannot read it: its schema requires fields a live response may leave out)."""
    base = server.url("typical")
    number = max(20, int(300 * scale))
    sync_s, async_s = sync_sequential(base, number), async_sequential(base, number)
    rows = [
        Row(
            "facade per-call overhead over the async call",
            (sync_s - async_s) * 1e6,
            "",
            None,
            "us/call",
            "< 100",
            extra={"sync_us": sync_s * 1e6, "async_us": async_s * 1e6},
        )
    ]
    try:
        import requests
    except ImportError:
        return rows
    with requests.Session() as session:
        session.headers.update(AUTH)
        url = base + "/me/preferences"

        def peer() -> Any:
            return orjson.loads(session.get(url).content)

        with tp.TogglClient(tp.ApiToken("bench-token"), base_url=base, rate_limit=None) as client:
            times = interleaved({"ours": client.get_preferences, "requests": peer}, number, 7)
    rows.append(
        Row(
            "sync GET typical, sequential",
            1 / times["ours"][0],
            "requests.Session",
            1 / times["requests"][0],
            "req/s",
            ">= 2.0",
            higher_is_better=True,
            spread=times["ours"][1],
        )
    )
    return rows


def threaded(call: Callable[[], Any], threads: int, per_thread: int) -> float:
    """Requests per second with ``threads`` threads each making ``per_thread`` calls."""
    barrier = threading.Barrier(threads + 1)

    def work() -> None:
        barrier.wait()
        for _ in range(per_thread):
            call()

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in pool:
        t.join()
    return threads * per_thread / (time.perf_counter() - start)


def run(scale: float = 1.0) -> list[Row]:
    client_cpu, server_cpu = cores()
    pin(client_cpu)  # the facade's loop thread shares the caller's core; the server has its own
    try:
        return _run(scale, server_cpu)
    finally:
        unpin()


def _run(scale: float, server_cpu: int | None) -> list[Row]:
    hop = hop_overhead(max(50, int(3000 * scale))) * 1e6
    rows = [Row("facade thread hop (no-op coroutine)", hop, "", None, "us/call", "< 100")]
    with ServerProcess(server_cpu) as server:
        rows += typical_body_rows(server, scale)
        base = server.url("live-full")  # the full body as live servers case it: every peer can read it
        url = base + "/me/preferences"
        sync = tp.TogglClient(tp.ApiToken("bench-token"), base_url=base, rate_limit=None)
        calls: dict[str, Callable[[], Any]] = {"toggl-prefs sync": sync.get_preferences}
        closers: list[Callable[[], Any]] = [sync.close]
        try:
            import requests

            session = requests.Session()
            session.headers.update(AUTH)
            calls["requests.Session"] = lambda: orjson.loads(session.get(url).content)
            closers.append(session.close)
        except ImportError:
            pass
        try:
            from toggl_python.auth import TokenAuth
            from toggl_python.entities.user import CurrentUser

            peer = CurrentUser(auth=TokenAuth("bench-token"), base_url=base)
            peer.preferences()  # fails early if its schema rejects the body
            calls["toggl-python"] = peer.preferences
        except Exception:  # not installed, or incompatible: reported as n/a
            pass
        try:
            for call in calls.values():
                call()
            number = max(20, int(300 * scale))
            times = interleaved(calls, number, 7)
            ours, spread = times["toggl-prefs sync"]
            for ref, target in (("requests.Session", ">= 2.0"), ("toggl-python", ">= 2.0")):
                rows.append(
                    Row(
                        "sync GET full (live casing), sequential",
                        1 / ours,
                        ref,
                        1 / times[ref][0] if ref in times else None,
                        "req/s",
                        target,
                        higher_is_better=True,
                        spread=spread,
                    )
                )
            per_thread = max(10, int(200 * scale))
            ours_threaded = threaded(sync.get_preferences, 8, per_thread)
            for ref in ("requests.Session", "toggl-python"):
                if ref in calls:
                    rows.append(
                        Row(
                            "sync GET full (live casing), 8 threads",
                            ours_threaded,
                            ref,
                            threaded(calls[ref], 8, per_thread),
                            "req/s",
                            "",
                            higher_is_better=True,
                        )
                    )
        finally:
            for close in closers:
                close()
    return rows
