"""Decode and encode: toggl-prefs models against orjson/json alone and a pydantic v2 model."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import orjson

import toggl_prefs as tp
from benchmarks._common import Row, interleaved
from benchmarks.payloads import FULL, TYPICAL


def run(scale: float = 1.0) -> list[Row]:
    pyd: Any
    try:
        from benchmarks.pydantic_models import PydanticUserPreferences as pyd
    except ImportError:  # the bench extra is not installed
        pyd = None
    rows: list[Row] = []
    for label, body, number in (("full", FULL, 200), ("typical", TYPICAL, 5000)):
        fns: dict[str, Callable[[], Any]] = {
            "toggl-prefs": partial(tp.UserPreferences.from_json, body),
            "orjson.loads": partial(orjson.loads, body),
            "json.loads": partial(json.loads, body),
        }
        if pyd is not None:
            fns["pydantic"] = partial(pyd.model_validate_json, body)
        times = interleaved(fns, max(1, int(number * scale)), 9)
        ours, spread = times["toggl-prefs"]
        for ref, target in (("pydantic", "<= 1.0"), ("orjson.loads", "<= 3.0 (stretch)"), ("json.loads", "")):
            if ref in times:
                rows.append(
                    Row(
                        f"decode {label} body ({len(body)} B)",
                        ours * 1e6,
                        ref,
                        times[ref][0] * 1e6,
                        "us",
                        target,
                        spread=spread,
                    )
                )

    prefs = tp.UserPreferences.from_json(FULL)
    update = tp.PreferencesUpdate(pomodoro_enabled=False, beginning_of_week=1, date_format="YYYY-MM-DD")
    full_dict = orjson.loads(FULL)
    fns = {
        "full": prefs.to_json,
        "small": update.to_json,
        "full-orjson": lambda: orjson.dumps(full_dict),
        "small-orjson": lambda: orjson.dumps(
            {"pomodoro_enabled": False, "beginningOfWeek": 1, "date_format": "YYYY-MM-DD"}
        ),
    }
    if pyd is not None:
        pyd_full = pyd.model_validate_json(FULL)
        pyd_small = pyd(pomodoro_enabled=False, beginningOfWeek=1, date_format="YYYY-MM-DD")
        fns["full-pydantic"] = lambda: pyd_full.model_dump_json(by_alias=True, exclude_none=True)
        fns["small-pydantic"] = lambda: pyd_small.model_dump_json(by_alias=True, exclude_unset=True)
    times = interleaved(fns, max(1, int(2000 * scale)), 9)
    for label in ("full", "small"):
        for ref in ("pydantic", "orjson"):
            key = f"{label}-{ref}"
            if key in times:
                rows.append(
                    Row(
                        f"encode {label} ({'object' if label == 'full' else 'update'})",
                        times[label][0] * 1e6,
                        f"{ref}",
                        times[key][0] * 1e6,
                        "us",
                        "<= 1.0" if ref == "pydantic" else "",
                        spread=times[label][1],
                    )
                )
    return rows
