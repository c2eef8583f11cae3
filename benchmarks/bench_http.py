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
from benchmarks._common import Row, cores, pin, unpin

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
) -> dict[str, Any]:
    """Alternate raw and ours for ``rounds`` paired rounds; report medians and the median of the
    per-round throughput ratios (pairs share the machine's state, so their ratio is steadier)."""
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

        await drive(raw, 100, min(concurrency, 16))  # warm both pools
        await drive(ours, 100, min(concurrency, 16))
        runs: dict[str, list[dict[str, float]]] = {"raw": [], "ours": []}
        for _ in range(rounds):
            for name, call in (("raw", raw), ("ours", ours)):
                cpu0, server0 = time.process_time(), server.cpu_seconds()
                result = await drive(call, total, concurrency)
                result["client_cpu_us"] = (time.process_time() - cpu0) / total * 1e6
                result["server_cpu_us"] = (server.cpu_seconds() - server0) / total * 1e6
                runs[name].append(result)
    ratios = [o["rps"] / r["rps"] for o, r in zip(runs["ours"], runs["raw"], strict=True)]
    summary: dict[str, Any] = {
        "ratio": statistics.median(ratios),
        "spread": (max(ratios) - min(ratios)) / 2 / statistics.median(ratios),
    }
    for name, values in runs.items():
        for key in values[0]:
            summary[f"{name}_{key}"] = statistics.median(v[key] for v in values)
    return summary


def run(scale: float = 1.0) -> list[Row]:
    rows: list[Row] = []
    client_cpu, server_cpu = cores()
    pin(client_cpu)
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
                m = asyncio.run(
                    measure(server, body, concurrency, max(concurrency, int(total * scale)), method, 5)
                )
                target = {("GET", "full", 16): ">= 0.75", ("GET", "typical", 16): ">= 0.9"}.get(
                    (method, body, concurrency), ""
                )
                row = Row(
                    f"{method} {body} body, concurrency {concurrency}",
                    m["ours_rps"],
                    "raw aiohttp + orjson",
                    m["raw_rps"],
                    "req/s",
                    target,
                    higher_is_better=True,
                    spread=m["spread"],
                    extra={k: round(v, 3) for k, v in m.items()},
                )
                row.paired_ratio = m["ratio"]
                rows.append(row)
    finally:
        unpin()
    return rows
