"""Test helpers for code that uses toggl-prefs.

- :class:`FakeTogglServer`: a fake Toggl preferences API on loopback (``async with`` on the current
  loop, or ``with`` in a background thread), with ready-made realistic preferences
  (:func:`add_sample_account`, :data:`SAMPLE_PREFERENCES`).
- pytest fixtures (installed with the package): ``toggl_server``, ``toggl_client``,
  ``toggl_sync_server``, ``toggl_sync_client``; see :mod:`toggl_prefs.testing.pytest_plugin`.
- :class:`MockTransport`: the fake server's answers in memory, as a client's ``transport=`` (no
  socket, no thread).
- :func:`mock_toggl`: the same answers on an ``aioresponses`` mocker, for tests that mock aiohttp
  (``pip install 'toggl-prefs[aioresponses]'``).

>>> from toggl_prefs.testing import FakeTogglServer
"""

from ._aioresponses import mock_toggl
from ._mock import MockTransport
from ._samples import (
    SAMPLE_CLIENT_PREFERENCES,
    SAMPLE_PREFERENCES,
    SAMPLE_WORKSPACE_PREFERENCES,
    add_sample_account,
)
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
    "MockTransport",
    "SAMPLE_CLIENT_PREFERENCES",
    "SAMPLE_PREFERENCES",
    "SAMPLE_WORKSPACE_PREFERENCES",
    "FakeAccount",
    "FakeTogglServer",
    "FakeWorkspace",
    "Fault",
    "RecordedRequest",
    "add_sample_account",
    "mock_toggl",
]
