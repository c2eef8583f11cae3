"""Memory per 1,000 decoded full bodies, and import time, each measured in a fresh process."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks._common import Row

ROOT = Path(__file__).resolve().parent.parent

MEMORY_PROBE = r"""
import gc, json, sys, tracemalloc
sys.path.insert(0, {root!r})
import orjson, attrs
import toggl_prefs as tp
from benchmarks.payloads import FULL
kind = {kind!r}

def plain_attrs_classes():
    # Plain slotted attrs classes of the same shape, without toggl-prefs' machinery.
    made = {{}}
    def make(cls):
        if cls not in made:
            names = [s.attr for s in cls.__toggl_fields__] + ["extra"]
            made[cls] = attrs.make_class("Plain" + cls.__name__, names, slots=True)
        return made[cls]
    def build(cls, data):
        specs = cls.__toggl_fields__
        kw = {{s.attr: None for s in specs}}
        for s in specs:
            v = data.get(s.wire)
            if v is not None and s.nested is not None:
                v = build(s.nested, v) if isinstance(v, dict) else [build(s.nested, x) for x in v]
            kw[s.attr] = v
        return make(cls)(extra={{}}, **kw)
    return build

if kind == "pydantic":
    from benchmarks.pydantic_models import PydanticUserPreferences as P
    decode = P.model_validate_json
elif kind == "dict":
    decode = orjson.loads
elif kind == "attrs":
    build = plain_attrs_classes()
    decode = lambda body: build(tp.UserPreferences, orjson.loads(body))
else:
    decode = tp.UserPreferences.from_json
decode(FULL)
gc.collect()
tracemalloc.start()
kept = [decode(FULL) for _ in range(1000)]
gc.collect()
size, _ = tracemalloc.get_traced_memory()
print(json.dumps({{"bytes": size}}))
"""


def memory(kind: str) -> float | None:
    code = MEMORY_PROBE.format(root=str(ROOT), kind=kind)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return None
    return float(json.loads(result.stdout)["bytes"])


def import_time(module: str, runs: int) -> float:
    """Median seconds to import ``module`` in a fresh interpreter, less the interpreter's start.

    Bytecode caching is on (as in any installed package): a checkout run with
    PYTHONDONTWRITEBYTECODE would otherwise recompile toggl-prefs on every import while aiohttp,
    installed by pip, has its bytecode."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT, env=env)  # warm
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True, cwd=ROOT, env=env)
        times.append(time.perf_counter() - start)
    baseline = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=ROOT, env=env)
        baseline.append(time.perf_counter() - start)
    return statistics.median(times) - statistics.median(baseline)


def run(scale: float = 1.0) -> list[Row]:
    rows = []
    ours = memory("toggl-prefs")
    assert ours is not None, "the toggl-prefs memory probe failed"
    for ref, target in (("attrs", "<= 1.2"), ("pydantic", "<= 0.33"), ("dict", "")):
        rows.append(
            Row(
                "memory per 1,000 full bodies",
                ours / 1e6,
                f"plain {ref}" if ref != "pydantic" else ref,
                (memory(ref) or 0) / 1e6 or None,
                "MB",
                target,
            )
        )
    runs = max(3, int(15 * scale))
    rows.append(
        Row(
            "import time",
            import_time("toggl_prefs", runs) * 1e3,
            "import aiohttp",
            import_time("aiohttp", runs) * 1e3,
            "ms",
            "< 1.5",
        )
    )
    return rows
