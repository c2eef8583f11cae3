"""Test helpers: a fake Toggl server on loopback (and, through the pytest plugin, fixtures).

>>> from toggl_prefs.testing import FakeTogglServer
"""

from ._server import (
    KNOWN_DATE_FORMATS,
    KNOWN_TIMEOFDAY_FORMATS,
    FakeAccount,
    FakeTogglServer,
    FakeWorkspace,
    Fault,
    RecordedRequest,
)

__all__ = [
    "KNOWN_DATE_FORMATS",
    "KNOWN_TIMEOFDAY_FORMATS",
    "FakeAccount",
    "FakeTogglServer",
    "FakeWorkspace",
    "Fault",
    "RecordedRequest",
]
