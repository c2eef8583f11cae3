"""Bulk runs against a local server in another process: accounts/second next to the ideal schedule,
and peak memory as the number of accounts grows (it must stay flat: bounded by concurrency)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks._common import Row, cores
from benchmarks.bench_http import ServerProcess

ROOT = Path(__file__).resolve().parent.parent

PROBE = r"""
import asyncio, json, resource, sys, time
sys.path.insert(0, {root!r})
import toggl_prefs as tp
from toggl_prefs.bulk import Account, apply_all, fetch_all

def accounts(n):
    for i in range(n):  # generated lazily: nothing per account is kept by the caller
        yield Account(f"acct-{{i}}", tp.ApiToken(f"token-{{i}}"))

async def main():
    op, n, concurrency, rate = {op!r}, {count}, {concurrency}, {rate!r}
    options = dict(base_url={base!r}, concurrency=concurrency, rate_limit=rate)
    run = (apply_all(accounts(n), tp.PreferencesUpdate(theme="light"), **options) if op == "apply"
           else fetch_all(accounts(n), **options))
    start = time.perf_counter()
    ok = 0
    async for result in run:
        ok += result.ok
    elapsed = time.perf_counter() - start
    print(json.dumps({{"ok": ok, "seconds": elapsed,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))

asyncio.run(main())
"""


def probe(
    base: str, op: str, count: int, concurrency: int, rate: float | None, cpu: int | None
) -> dict[str, float]:
    code = PROBE.format(root=str(ROOT), op=op, count=count, concurrency=concurrency, rate=rate, base=base)
    prefix = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data: dict[str, float] = json.loads(result.stdout)
    assert data["ok"] == count, f"{count - data['ok']} accounts failed"
    return data


def run(scale: float = 1.0) -> list[Row]:
    client_cpu, server_cpu = cores()
    rows: list[Row] = []
    with ServerProcess(server_cpu) as server:
        base = server.url("typical")
        concurrency, rate = 64, 10.0
        count = max(200, int(10_000 * scale))
        applied = probe(base, "apply", count, concurrency, rate, client_cpu)
        # Each account: GET, then its throttle spaces the POST 1/rate later; the bound is
        # `concurrency` accounts in flight, so the ideal is concurrency / (1/rate + one round trip).
        round_trip = 0.0015
        ideal = concurrency / (1 / rate + round_trip)
        rows.append(
            Row(
                f"bulk apply (read + write), {count:,} accounts",
                count / applied["seconds"],
                "ideal schedule",
                ideal,
                "acc/s",
                ">= 0.8",
                higher_is_better=True,
                extra={"concurrency": concurrency, "rate_limit_per_account": rate, **applied},
            )
        )
        small, large = max(1000, int(10_000 * scale)), max(10_000, int(100_000 * scale))
        peak_small = probe(base, "fetch", small, 128, None, client_cpu)["peak_rss_mb"]
        peak_large = probe(base, "fetch", large, 128, None, client_cpu)["peak_rss_mb"]
        rows.append(
            Row(
                f"bulk peak RSS, {large:,} vs {small:,} accounts",
                peak_large,
                f"{small:,} accounts",
                peak_small,
                "MB",
                "<= 1.2",
            )
        )
    return rows
