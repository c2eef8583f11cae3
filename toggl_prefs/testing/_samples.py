"""Realistic stored preferences for the fake server's ready-made accounts (the pytest fixtures and
``toggl-prefs fake-server``), so that a first read shows values, as a live account's does."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ._server import FakeAccount, FakeTogglServer

# About a dozen keys, as a live GET /me/preferences carries; live casing where Toggl's apps use it.
SAMPLE_PREFERENCES: Mapping[str, Any] = MappingProxyType(
    {
        "date_format": "MM/DD/YYYY",
        "timeofday_format": "h:mm A",
        "duration_format": "improved",
        "BeginningOfWeek": 1,
        "CollapseTimeEntries": True,
        "TimerView": "calendar",
        "pg_time_zone_name": "Europe/Berlin",
        "send_weekly_report": True,
        "send_product_emails": False,
        "pomodoro_enabled": True,
        "pomodoro_focus_interval_in_minutes": 25,
        "pomodoro_break_interval_in_minutes": 5,
        "ToSAcceptNeeded": False,
    }
)
"""User preferences of a sample account (``GET /me/preferences``)."""

SAMPLE_CLIENT_PREFERENCES: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "desktop": MappingProxyType(
            {"show_dock_icon": True, "idle_detection_enabled": True, "idle_detection_interval_in_minutes": 5}
        ),
        "web": MappingProxyType({"show_all_entries": True, "timerView": "timer"}),
    }
)
"""Client-type preferences of a sample account (``GET /me/preferences/{client}``)."""

SAMPLE_WORKSPACE_PREFERENCES: Mapping[str, Any] = MappingProxyType(
    {
        "hide_start_end_times": False,
        "disable_timesheet_view": True,
        "report_locked_at": "2026-01-01T00:00:00Z",
    }
)
"""Preferences of a sample account's workspace (``GET /workspaces/{id}/preferences``)."""


def add_sample_account(
    server: FakeTogglServer,
    *,
    api_token: str,
    key: str | None = None,
    workspace_id: int | None = None,
) -> FakeAccount:
    """Add an account with the sample preferences above (and, with ``workspace_id``, admin of a
    workspace with the sample workspace preferences and the locking feature)."""
    workspaces = (
        {
            workspace_id: {
                "role": "admin",
                "preferences": SAMPLE_WORKSPACE_PREFERENCES,
                "locking_enabled": True,
            }
        }
        if workspace_id is not None
        else None
    )
    return server.add_account(
        api_token=api_token,
        key=key,
        preferences=SAMPLE_PREFERENCES,
        client_preferences=SAMPLE_CLIENT_PREFERENCES,
        workspaces=workspaces,
    )
