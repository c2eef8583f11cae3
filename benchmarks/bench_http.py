"""Round trips over loopback against a minimal aiohttp server in another process: AsyncTogglClient
against raw aiohttp + orjson doing the same requests, at several concurrencies."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson

import toggl_prefs as tp
from benchmarks._common import Row

HERE = Path(__file__).resolve().parent
AUTH = {"Authorization": tp.ApiToken("bench-token").header()}
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class ServerProcess:
    """The benchmark server in a child process, pinned to its own core where there are two."""

    def __init__(self, cpu: int | None) -> None:
        self.cpu = cpu
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def __enter__(self) -> ServerProcess:
        args = [sys.executable, str(HERE / "server.py")] + ([str(self.cpu)] if self.cpu is not None else [])
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate()

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def url(self, body: str) -> str:
        return f"http://127.0.0.1:{self.port}/{body}/api/v9"


async def drive(call: Callable[[], Awaitable[Any]], total: int, concurrency: int) -> dict[str, float]:
    latencies: list[float] = []

    async def worker(n: int) -> None:
        for _ in range(n):
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    per_worker = max(1, total // concurrency)
    started = time.perf_counter()
    await asyncio.gather(*(worker(per_worker) for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1e3,
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3,
    }


async def measure(
    server: ServerProcess, body: str, concurrency: int, total: int, method: str, rounds: int
) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    url = server.url(body) + "/me/preferences"
    payload = orjson.dumps({"pomodoro_enabled": False})
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as session,
        tp.AsyncTogglClient(tp.ApiToken("bench-token"), base_url=server.url(body), rate_limit=None) as client,
    ):

        async def raw() -> Any:
            if method == "GET":
                async with session.get(url, headers=AUTH) as resp:
                    return orjson.loads(await resp.read())
            async with session.post(
                url, data=payload, headers={**AUTH, "Content-Type": "application/json"}
            ) as r:
                return await r.read()

        async def ours() -> Any:
            if method == "GET":
                return await client.get_preferences()
            return await client.update_preferences(pomodoro_enabled=False)

        await drive(raw, 50, min(concurrency, 16))  # warm both pools
        await drive(ours, 50, min(concurrency, 16))
        results: dict[str, list[dict[str, float]]] = {"raw": [], "ours": []}
        cpu: dict[str, float] = {"client": 0.0, "server": 0.0}
        for _ in range(rounds):  # alternate, so that drift on a shared machine hits both alike
            for name, call in (("raw", raw), ("ours", ours)):
                t0, s0 = time.process_time(), server.cpu_seconds()
                results[name].append(await drive(call, total, concurrency))
                if name == "ours":
                    cpu["client"] += time.process_time() - t0
                    cpu["server"] += server.cpu_seconds() - s0
    pick = {name: _median_run(runs) for name, runs in results.items()}
    return pick["ours"], pick["raw"], cpu


def _median_run(runs: list[dict[str, float]]) -> dict[str, float]:
    rps = statistics.median(r["rps"] for r in runs)
    return min(runs, key=lambda r: abs(r["rps"] - rps))


def run(scale: float = 1.0) -> list[Row]:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    client_cpu, server_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if client_cpu is not None:
        os.sched_setaffinity(0, {client_cpu})
    rows: list[Row] = []
    try:
        with ServerProcess(server_cpu) as server:
            plan = [
                ("GET", "full", 1, 600),
                ("GET", "full", 16, 3000),
                ("GET", "full", 128, 4000),
                ("GET", "typical", 16, 3000),
                ("POST", "typical", 16, 3000),
            ]
            for method, body, concurrency, total in plan:
                ours, raw, cpu = asyncio.run(
                    measure(server, body, concurrency, max(concurrency, int(total * scale)), method, 3)
                )
                target = {("GET", "full", 16): ">= 0.75x", ("GET", "typical", 16): ">= 0.9x"}.get(
                    (method, body, concurrency), ""
                )
                rows.append(
                    Row(
                        f"{method} {body} body, concurrency {concurrency}",
                        ours["rps"],
                        "raw aiohttp + orjson",
                        raw["rps"],
                        "req/s",
                        target,
                        higher_is_better=True,
                        extra={
                            "ours_p50_ms": ours["p50_ms"],
                            "ours_p99_ms": ours["p99_ms"],
                            "raw_p50_ms": raw["p50_ms"],
                            "raw_p99_ms": raw["p99_ms"],
                            "client_cpu_s": cpu["client"],
                            "server_cpu_s": cpu["server"],
                        },
                    )
                )
    finally:
        if cpus:
            os.sched_setaffinity(0, set(cpus))
    return rows
