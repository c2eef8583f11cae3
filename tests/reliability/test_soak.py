"""Soak: thousands of concurrent calls against a server injecting seeded random faults.

Every call must end in success or a typed error; the attempts the clients count must match what the
server saw; memory and open file descriptors must come back to where they started. The CI run is
seeded and short; ``TOGGL_PREFS_SOAK_CALLS=200000 pytest tests/reliability/test_soak.py`` (or
``nox -s soak``) runs a long one."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import time
import tracemalloc
from collections import Counter
from typing import Any

import aiohttp
from aiohttp import web

import toggl_prefs as tp

from ..conftest import RawServer
from .conftest import TOKEN, record

CALLS = int(os.environ.get("TOGGL_PREFS_SOAK_CALLS", "3000"))
SEED = int(os.environ.get("TOGGL_PREFS_SOAK_SEED", "20261127"))
BEHAVIOURS = [
    ("ok", 70),
    ("503", 10),
    ("429", 5),
    ("reset mid-body", 5),
    ("slow 20 ms", 5),
    ("400", 3),
    ("bad JSON", 2),
]


def open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except FileNotFoundError:  # pragma: no cover - not Linux
        return 0


class Chaos:
    """Answers each request with a behaviour drawn from a seeded generator, and counts them."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible test schedule, not a secret
        names, weights = zip(*BEHAVIOURS, strict=True)
        self.names, self.weights = list(names), list(weights)
        self.served: Counter[str] = Counter()

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        await request.read()
        kind = self.rng.choices(self.names, self.weights)[0]
        self.served[kind] += 1
        if kind == "503":
            return web.Response(status=503, text="down")
        if kind == "429":
            return web.Response(
                status=429, text="<html><h1>429 Too Many Requests</h1></html>", headers={"Retry-After": "0"}
            )
        if kind == "400":
            return web.Response(status=400, body=b'"Value in date_format is invalid"')
        if kind == "bad JSON":
            return web.Response(status=200, body=b"<html>oops</html>")
        if kind == "reset mid-body":
            response = web.StreamResponse()
            response.content_length = 100
            await response.prepare(request)
            await response.write(b'{"the')
            assert request.transport is not None
            request.transport.abort()
            return response
        if kind == "slow 20 ms":
            await asyncio.sleep(0.02)
        return web.Response(body=b'"Successful operation."', content_type="application/json")


async def soak_round(base_url: str, calls: int, clients: int = 50, in_flight: int = 200) -> dict[str, Any]:
    """Updates (POSTs: aiohttp never retries them on its own, so the accounting is exact). The
    attempts are what the clients report: a raw response's for a success, the error's otherwise."""
    outcomes: Counter[str] = Counter()
    attempts = 0
    policy = tp.RetryPolicy(max_retries=3, backoff_base=0.002, backoff_cap=0.01)
    gate = asyncio.Semaphore(in_flight)
    # As many connections as calls in flight: a connection a call kept would leave the probe below
    # one short, and one of its calls would wait for ever.
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar()) as session:
        pool = [
            tp.AsyncTogglClient(
                tp.ApiToken(f"{TOKEN}-{i}"),
                base_url=base_url,
                session=session,
                rate_limit=None,
                retry=policy,
                timeout=5,
            )
            for i in range(clients)
        ]

        async def one(n: int) -> None:
            nonlocal attempts
            async with gate:
                try:
                    raw = await pool[n % clients].with_raw_response.update_preferences(theme=f"t{n}")
                    outcomes["success"] += 1
                    attempts += raw.attempts
                except tp.TogglError as exc:
                    outcomes[type(exc).__name__] += 1
                    attempts += exc.attempts
                # anything else propagates and fails the test

        await asyncio.gather(*(one(n) for n in range(calls)))
        hits = await probe(pool[0], in_flight)
    return {"outcomes": outcomes, "attempts": attempts, "probe_hits": hits}


async def probe(client: tp.AsyncTogglClient, connections: int) -> int:
    """Hold every connection of the pool at once (each call's outcome is the chaos server's); returns
    the attempts made. Fails if the pool cannot hand out that many: a connection leaked."""
    probe = client.with_options(max_retries=0)
    made = 0

    async def call() -> None:
        nonlocal made
        try:
            raw = await probe.with_raw_response.update_preferences(theme="probe")
            made += raw.attempts
        except tp.TogglError as exc:
            made += exc.attempts

    await asyncio.wait_for(asyncio.gather(*(call() for _ in range(connections))), 30)
    return made


async def test_soak() -> None:
    chaos = Chaos(SEED)
    server = RawServer()
    server.script = [chaos]
    server.keep = False  # the server must not hoard what the clients' memory is measured against
    await server.start()
    try:
        await soak_round(server.base_url, 200)  # warm up: imports, pools, caches
        gc.collect()
        fds_before = open_fds()
        tracemalloc.start()
        memory_before = tracemalloc.get_traced_memory()[0]
        hits_before = server.hits
        started = time.monotonic()
        result = await soak_round(server.base_url, CALLS)
        elapsed = time.monotonic() - started
        gc.collect()
        await asyncio.sleep(0.1)
        memory_after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        fds_after = open_fds()
    finally:
        await server.stop()
    outcomes = result["outcomes"]
    assert sum(outcomes.values()) == CALLS  # every call ended, in success or a typed error
    assert set(outcomes) <= {
        "success",
        "ServerError",
        "RateLimitError",
        "TransportError",
        "InvalidDateFormatError",
    }
    assert outcomes["success"] > CALLS * 0.7
    # The clients' accounting is the server's.
    assert result["attempts"] + result["probe_hits"] == server.hits - hits_before
    assert fds_after <= fds_before + 2
    growth = memory_after - memory_before
    assert growth < 2_000_000, f"memory grew by {growth:,} bytes"
    record(
        "soak",
        calls=f"{CALLS:,}",
        seed=SEED,
        seconds=f"{elapsed:.1f}",
        served=", ".join(f"{k} {v:,}" for k, v in chaos.served.most_common()),
        outcomes=", ".join(f"{k} {v:,}" for k, v in outcomes.most_common()),
        attempts_vs_server=f"{result['attempts'] + result['probe_hits']:,} = {server.hits - hits_before:,}",
        memory_growth=f"{growth / 1e3:,.0f} kB",
        fds=f"{fds_before} -> {fds_after}",
    )
