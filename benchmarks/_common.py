"""Shared pieces of the benchmarks: timing helpers and the result row."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Row:
    """One comparison: ours against a reference, measured side by side in the same run."""

    name: str
    ours: float
    reference_name: str
    reference: float | None
    unit: str
    target: str = ""
    higher_is_better: bool = False
    spread: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    paired_ratio: float | None = None
    """Where measured in alternating pairs: the median of the per-pair ratios (steadier)."""

    @property
    def ratio(self) -> float | None:
        """ours / reference, in the unit's own sense (see ``higher_is_better``)."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        if not self.reference:
            return None
        return self.ours / self.reference

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def cores() -> tuple[int | None, int | None]:
    """(client core, server core): the benchmark process and the server each get their own core
    where there are two; otherwise threads of one process spread over the server's core too and
    the numbers measure the scheduler, not the code."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def pin(cpu: int | None) -> None:
    if cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {cpu})


_ALL = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def unpin() -> None:
    if _ALL:
        os.sched_setaffinity(0, set(_ALL))


def timed(fn: Callable[[], Any], number: int, repeat: int) -> tuple[float, float]:
    """(median, spread) seconds per call over ``repeat`` runs of ``number`` calls; spread is the
    relative half-range of the middle runs, to show how noisy the machine was."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    runs.sort()
    middle = runs[len(runs) // 4 : len(runs) - len(runs) // 4] or runs
    median = statistics.median(runs)
    return median, (middle[-1] - middle[0]) / 2 / median


def interleaved(
    fns: dict[str, Callable[[], Any]], number: int, repeat: int
) -> dict[str, tuple[float, float]]:
    """Like :func:`timed` for several functions, alternating them so that drift hits all alike."""
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(number):
                fn()
            runs[name].append((time.perf_counter() - start) / number)
    out = {}
    for name, values in runs.items():
        values.sort()
        middle = values[len(values) // 4 : len(values) - len(values) // 4] or values
        median = statistics.median(values)
        out[name] = (median, (middle[-1] - middle[0]) / 2 / median)
    return out
