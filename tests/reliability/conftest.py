"""Reliability suite: shared pieces, the secret scanner, and the recorder behind RELIABILITY.md.

Run ``TOGGL_PREFS_RELIABILITY_REPORT=RELIABILITY.md pytest tests/reliability`` to regenerate the
report from the suite's own run."""

from __future__ import annotations

import base64
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

TOKEN = "rel-SECRET-token-6f2a9c"
EMAIL, PASSWORD = "ops@example.com", "rel-SECRET-pass-41d7"
SECRETS = (
    TOKEN,
    PASSWORD,
    base64.b64encode(f"{TOKEN}:api_token".encode()).decode(),
    base64.b64encode(f"{EMAIL}:{PASSWORD}".encode()).decode(),
)

RECORDS: dict[str, list[dict[str, Any]]] = {}


def record(section: str, **row: Any) -> None:
    """Note one case's outcome for RELIABILITY.md."""
    RECORDS.setdefault(section, []).append(row)


def record_once(section: str, **row: Any) -> None:
    """Like :func:`record`, for code that runs many times (hypothesis examples)."""
    if row not in RECORDS.get(section, []):
        record(section, **row)


def assert_no_secret(*texts: object) -> None:
    for text in texts:
        rendered = str(text)
        for secret in SECRETS:
            assert secret not in rendered, "a credential leaked"


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        if record.exc_info:
            self.lines.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def secret_scan() -> Iterator[_Capture]:
    """Captures every log record at DEBUG (all loggers) and fails the test if any carries a secret."""
    capture = _Capture()
    root = logging.getLogger()
    previous = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        yield capture
    finally:
        root.removeHandler(capture)
        root.setLevel(previous)
    assert_no_secret(*capture.lines)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    target = os.environ.get("TOGGL_PREFS_RELIABILITY_REPORT")
    if not target or not RECORDS:
        return
    from .report import render

    Path(target).write_text(render(RECORDS, time.strftime("%Y-%m-%d"), exitstatus))
