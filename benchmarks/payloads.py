"""Deterministic response bodies for the benchmarks: a full ``GET /me/preferences`` body (every
documented field, ~60 alpha features, ~12 KB) and a typical live one (~10 keys, live casing)."""

from __future__ import annotations

import random
from typing import Any

import orjson

import toggl_prefs as tp
from toggl_prefs._fieldspec import FieldSpec, Kind


def _value(spec: FieldSpec, rng: random.Random) -> Any:
    if spec.kind is Kind.BOOL:
        return rng.random() < 0.5
    if spec.kind is Kind.INT:
        return rng.randrange(0, 100_000)
    if spec.kind is Kind.STR:
        return rng.choice(["classic", "improved", "MM/DD/YYYY", "h:mm A", "calendar", "dark", "auto"])
    if spec.kind is Kind.DICT:
        return {"symbol": ".", "thousands": ","}
    if spec.kind is Kind.INT_LIST:
        return [rng.randrange(1, 10_000) for _ in range(3)]
    fields = {s.wire: _value(s, rng) for s in spec.nested.__toggl_fields__}
    return (
        fields
        if spec.kind is Kind.OBJECT
        else [fields, {s.wire: _value(s, rng) for s in spec.nested.__toggl_fields__}]
    )


def full_body(seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    body = {s.wire: _value(s, rng) for s in tp.UserPreferences.__toggl_fields__}
    # Values the server validates (docs/toggl-facts.md), so that strict peers accept the body too.
    body.update(
        date_format="MM/DD/YYYY",
        timeofday_format="h:mm A",
        duration_format="improved",
        beginningOfWeek=1,
        pg_time_zone_name="Europe/Tallinn",
    )
    body["alpha_features"] = [
        {
            "alpha_feature_id": i,
            "code": f"feature_{i:03d}",
            "description": f"Feature number {i}",
            "enabled": i % 3 == 0,
            "product_id": 1 + i % 4,
        }
        for i in range(60)
    ]
    return body


def typical_body() -> dict[str, Any]:
    return {
        "BeginningOfWeek": 1,
        "CollapseTimeEntries": True,
        "ToSAcceptNeeded": False,
        "date_format": "MM/DD/YYYY",
        "timeofday_format": "h:mm A",
        "duration_format": "improved",
        "pg_time_zone_name": "Europe/Tallinn",
        "record_timeline": False,
        "send_weekly_report": True,
        "theme": "dark",
        "alpha_features": [],
    }


def live_full_body() -> dict[str, Any]:
    """The full body with the casing live responses use for three keys (and that toggl-python needs)."""
    body = full_body()
    for documented, live in (
        ("beginningOfWeek", "BeginningOfWeek"),
        ("collapseTimeEntries", "CollapseTimeEntries"),
        ("toSAcceptNeeded", "ToSAcceptNeeded"),
    ):
        body[live] = body.pop(documented)
    return body


FULL = orjson.dumps(full_body())
LIVE_FULL = orjson.dumps(live_full_body())
TYPICAL = orjson.dumps(typical_body())

if __name__ == "__main__":
    print(len(FULL), "bytes full,", len(TYPICAL), "bytes typical")
