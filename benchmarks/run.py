"""Run the benchmarks side by side and print a table of ratios (also written as JSON).

python benchmarks/run.py                 # everything (a few minutes)
python benchmarks/run.py --quick         # a short smoke run
python benchmarks/run.py --only codec,http --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

import toggl_prefs  # noqa: E402
from benchmarks import bench_bulk, bench_codec, bench_http, bench_memory, bench_sync  # noqa: E402
from benchmarks._common import Row  # noqa: E402

SUITES: dict[str, Callable[[float], list[Row]]] = {
    "codec": bench_codec.run,
    "http": bench_http.run,
    "sync": bench_sync.run,
    "memory": bench_memory.run,
    "bulk": bench_bulk.run,
}


def verdict(row: Row) -> str:
    """'ok' / 'MISS' against the row's target ("<= 1.0", ">= 0.75", "< 100"), '' without one."""
    target = row.target.split(" ")
    if len(target) < 2:
        return ""
    if row.reference_name and row.reference is None:
        return "n/a"
    value = row.ours if row.reference is None else row.ratio
    if value is None:
        return "n/a"
    op, bound = target[0], float(target[1])
    ok = {"<=": value <= bound, ">=": value >= bound, "<": value < bound, ">": value > bound}[op]
    return "ok" if ok else "MISS"


def table(rows: list[Row]) -> str:
    header = ("benchmark", "toggl-prefs", "reference", "ref value", "ratio", "target", "")
    lines = [header]
    for r in rows:
        ref_value = (
            "n/a"
            if r.reference is None and r.reference_name
            else (f"{r.reference:,.2f}" if r.reference is not None else "")
        )
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else ""
        spread = f" ±{r.spread:.0%}" if r.spread else ""
        lines.append(
            (
                r.name,
                f"{r.ours:,.2f} {r.unit}{spread}",
                r.reference_name,
                ref_value,
                ratio,
                r.target,
                verdict(r),
            )
        )
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a short run (for smoke tests)")
    parser.add_argument("--scale", type=float, help="work per benchmark, 1.0 = the full run")
    parser.add_argument("--only", default=",".join(SUITES), help=f"comma-separated: {', '.join(SUITES)}")
    parser.add_argument("--json", type=Path, help="where to write results (default benchmarks/results/)")
    args = parser.parse_args(argv)
    scale = args.scale if args.scale is not None else 0.05 if args.quick else 1.0
    rows: list[Row] = []
    started = time.time()
    for name in args.only.split(","):
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows += SUITES[name](scale)
    print(table(rows))
    meta = {
        "toggl_prefs": toggl_prefs.__version__,
        "aiohttp": aiohttp.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": round(time.time() - started, 1),
        "quick": args.quick,
    }
    out = args.json or ROOT / "benchmarks" / "results" / f"{toggl_prefs.__version__}-{int(started)}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": meta, "rows": [r.as_dict() for r in rows]}, indent=2))
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
