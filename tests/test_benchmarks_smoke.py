"""The benchmark harness runs end to end (for a moment): its numbers are not judged here, only the
shape of what it produces: every suite's rows, each with a finite, non-negative figure, and the JSON
report. At ``--scale 0.01`` on a busy machine a figure can round to 0, so none is required to be
positive. Timings are never asserted in tests."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXPECTED_ROWS = (
    "decode full body",
    "encode small",
    "GET full body, concurrency 16",
    "POST typical",
    "facade thread hop",
    "memory per 1,000",
    "import time",
    "bulk apply",
    "bulk peak RSS",
)


def _is_figure(value: Any, *, optional: bool = False) -> bool:
    if value is None:
        return optional
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def check_report_shape(report: dict[str, Any]) -> None:
    """Raise AssertionError unless ``report`` has the harness's shape (figures are not judged)."""
    assert isinstance(report.get("meta"), dict) and isinstance(report.get("rows"), list)
    names = " | ".join(row["name"] for row in report["rows"])
    missing = [expected for expected in EXPECTED_ROWS if expected not in names]
    assert not missing, f"no benchmark row for {missing}"
    for row in report["rows"]:
        assert isinstance(row["unit"], str) and row["unit"], row
        assert _is_figure(row["ours"]), row
        assert _is_figure(row["reference"], optional=True) and _is_figure(row["ratio"], optional=True), row


def _row(name: str, ours: Any = 1.0, **fields: Any) -> dict[str, Any]:
    return {"name": name, "ours": ours, "unit": "ms", "reference": None, "ratio": None, **fields}


def test_shape_check_accepts_figures_that_round_to_zero() -> None:
    rows = [_row(name) for name in EXPECTED_ROWS]
    rows[0]["ours"] = 0.0  # what a busy machine produced at --scale 0.01
    rows[1].update(reference=0, ratio=None)
    check_report_shape({"meta": {}, "rows": rows})


@pytest.mark.parametrize(
    "broken",
    [
        {"ours": -1.0},
        {"ours": float("nan")},
        {"ours": None},
        {"ours": "fast"},
        {"unit": ""},
        {"ratio": float("inf")},
    ],
)
def test_shape_check_still_catches_a_broken_row(broken: dict[str, Any]) -> None:
    rows = [_row(name) for name in EXPECTED_ROWS]
    rows[2].update(broken)
    with pytest.raises(AssertionError):
        check_report_shape({"meta": {}, "rows": rows})


def test_shape_check_catches_a_missing_suite() -> None:
    with pytest.raises(AssertionError, match="bulk apply"):
        check_report_shape({"meta": {}, "rows": [_row(n) for n in EXPECTED_ROWS if n != "bulk apply"]})


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
    check_report_shape(json.loads(out.read_text()))
    assert "ratio" in result.stdout and "target" in result.stdout
