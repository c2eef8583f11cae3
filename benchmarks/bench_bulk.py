"""Bulk runs against a local server in another process: accounts/second next to the ideal schedule,
peak memory as the number of accounts grows (it must stay flat: bounded by concurrency), and
accounts/second of ``run_on_dask`` on 1, 2 and 4 worker processes next to their ideal schedules."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

from benchmarks._common import Row, cores
from benchmarks.bench_http import ServerProcess
from toggl_prefs.bulk import in_shard

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


DASK_PROBE = r"""
import json, sys, tempfile, time
sys.path.insert(0, {root!r})
from distributed import Client, LocalCluster
import toggl_prefs as tp
from toggl_prefs.bulk import write_accounts_csv
from toggl_prefs.bulk.dask import run_on_dask

def main():
    count, concurrency, rate = {count}, {concurrency}, {rate!r}
    out = {{}}
    with tempfile.TemporaryDirectory() as tmp:
        accounts = f"{{tmp}}/accounts.csv"
        write_accounts_csv([(f"acct-{{i}}", f"token-{{i}}") for i in range(count)], accounts)
        for workers in {workers!r}:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster) as client:
                client.run(lambda: None)  # every worker up before the clock starts
                start = time.perf_counter()
                summary = run_on_dask(client, accounts, tp.PreferencesUpdate(theme="light"), shards=workers,
                                      journal_dir=f"{{tmp}}/journals-{{workers}}", base_url={base!r},
                                      concurrency=concurrency, rate_limit=rate)
                seconds = time.perf_counter() - start
            out[workers] = {{"seconds": seconds, "ok": summary.total - summary.by_status["failed"]}}
    print(json.dumps(out))

if __name__ == "__main__":
    main()
"""


def dask_probe(
    base: str, count: int, concurrency: int, rate: float, workers: tuple[int, ...], cpu: int | None
) -> dict[int, dict[str, float]]:
    """Accounts/s of run_on_dask on a LocalCluster of 1, 2, 4 worker processes (one shard each)."""
    code = DASK_PROBE.format(
        root=str(ROOT), count=count, concurrency=concurrency, rate=rate, base=base, workers=workers
    )
    prefix = ["taskset", "-c", str(cpu)] if cpu is not None and shutil.which("taskset") else []
    result = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True, text=True, check=True)
    data = {int(k): v for k, v in json.loads(result.stdout.strip().splitlines()[-1]).items()}
    for n, row in data.items():
        assert row["ok"] == count, f"{n} workers: {count - row['ok']} accounts failed"
    return data


def dask_rows(base: str, scale: float, cpu: int | None) -> list[Row]:
    try:
        import distributed  # noqa: F401
    except ImportError:
        print("bulk on Dask: skipped (pip install 'toggl-prefs[dask]')", file=sys.stderr)
        return []
    # Rate-bound on purpose: each shard keeps `concurrency` accounts in flight and each account waits
    # 1/rate between its GET and its POST, so a shard moves in rounds of `concurrency` accounts, one
    # round per 1/rate + a round trip; the ideal schedule of a run is its largest shard's rounds (the
    # hash split is not perfectly even: `even_split_ideal` is the bound for a perfect one). The CPU
    # the work needs is a few % of one core: more workers should mean proportionally more acc/s.
    concurrency, rate, round_trip = 16, 2.0, 0.0015
    count = max(96, int(1200 * scale))
    workers = (1, 2, 4)
    measured = dask_probe(base, count, concurrency, rate, workers, cpu)
    one = count / measured[1]["seconds"]
    rows = []
    for n in workers:
        sizes = Counter(
            i for key in (f"acct-{k}" for k in range(count)) for i in range(n) if in_shard(key, (i, n))
        )
        ideal_seconds = math.ceil(max(sizes.values()) / concurrency) * (1 / rate + round_trip)
        per_second = count / measured[n]["seconds"]
        rows.append(
            Row(
                f"bulk on Dask, {n} worker process{'es' if n > 1 else ''}, {count:,} accounts",
                per_second,
                "ideal schedule",
                count / ideal_seconds,
                "acc/s",
                ">= 0.8",
                higher_is_better=True,
                extra={
                    "workers": n,
                    "shards": n,
                    "shard_sizes": [sizes[i] for i in range(n)],
                    "concurrency_per_shard": concurrency,
                    "rate_limit_per_account": rate,
                    "even_split_ideal": n * concurrency / (1 / rate + round_trip),
                    "speedup_vs_1_worker": per_second / one,
                    **measured[n],
                },
            )
        )
    return rows


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
        rows += dask_rows(base, scale, client_cpu)
    return rows
