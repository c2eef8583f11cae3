"""The benchmark harness runs end to end (for a moment): its numbers are not judged here, only
that every suite produces rows and the JSON report. Timings are never asserted in tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_benchmark_suite_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "benchmarks/run.py", "--scale", "0.01", "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    names = " | ".join(row["name"] for row in report["rows"])
    for expected in (
        "decode full body",
        "encode small",
        "GET full body, concurrency 16",
        "POST typical",
        "facade thread hop",
        "memory per 1,000",
        "import time",
        "bulk apply",
        "bulk peak RSS",
    ):
        assert expected in names
    assert all(row["ours"] > 0 for row in report["rows"])
    assert "ratio" in result.stdout and "target" in result.stdout
