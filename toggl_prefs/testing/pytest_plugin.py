"""pytest fixtures for testing code that uses toggl-prefs, against a fake Toggl server on loopback.

Installed with toggl-prefs through the ``pytest11`` entry point; nothing to configure.

- ``toggl_server`` / ``toggl_client``: a running :class:`FakeTogglServer` on the test's event loop
  and an :class:`AsyncTogglClient` signed in to it. Async fixtures: they need pytest-asyncio, and in
  its default *strict* mode the test needs ``@pytest.mark.asyncio`` (not in ``asyncio_mode = "auto"``)::

      @pytest.mark.asyncio
      async def test_my_code(toggl_client, toggl_server):
          await my_function(toggl_client)
          assert toggl_server.requests[-1].json == {"pomodoro_enabled": False}

- ``toggl_sync_server`` / ``toggl_sync_client``: the same server in a background thread and a
  blocking :class:`TogglClient`, for synchronous code and tests (no pytest-asyncio needed). A
  ``TogglClient`` cannot use ``toggl_server``: that server runs on the test's own loop, which is
  blocked while the client waits for it.

The server starts with one account (API token :data:`TOKEN`, key ``"default"``) carrying realistic
preferences (:data:`~toggl_prefs.testing.SAMPLE_PREFERENCES`) and admin of workspace
:data:`WORKSPACE_ID`. The clients do not throttle and retry without long waits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from .._auth import ApiToken
from .._client import AsyncTogglClient
from .._retry import RetryPolicy
from .._sync import TogglClient
from ._samples import add_sample_account
from ._server import FakeTogglServer

TOKEN = "fake-token-for-tests"  # noqa: S105 - a fake server's token
"""The API token of the account the fixtures' server starts with."""
WORKSPACE_ID = 1001
"""The workspace the fixtures' account is admin of."""
ACCOUNT_KEY = "default"
"""``server.accounts[ACCOUNT_KEY]`` is the fixtures' account."""

_FAST_RETRY = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
_CLIENT_OPTIONS: dict[str, Any] = {"rate_limit": None, "retry": _FAST_RETRY}
_NO_PYTEST_ASYNCIO = (
    "{name} is an async fixture and needs pytest-asyncio (pip install pytest-asyncio, or "
    "'toggl-prefs[test]'); synchronous tests can use toggl_sync_server and toggl_sync_client"
)


def _seed(server: FakeTogglServer) -> FakeTogglServer:
    add_sample_account(server, api_token=TOKEN, key=ACCOUNT_KEY, workspace_id=WORKSPACE_ID)
    return server


async def _toggl_server() -> AsyncIterator[FakeTogglServer]:
    """A fake Toggl server on the test's event loop, with one sample account (:data:`TOKEN`)."""
    async with FakeTogglServer() as server:
        yield _seed(server)


async def _toggl_client(toggl_server: FakeTogglServer) -> AsyncIterator[AsyncTogglClient]:
    """An :class:`AsyncTogglClient` for ``toggl_server``'s account: no throttle, fast retries."""
    async with AsyncTogglClient(ApiToken(TOKEN), base_url=toggl_server.base_url, **_CLIENT_OPTIONS) as client:
        yield client


def _needs_pytest_asyncio(name: str) -> Any:
    """A stand-in fixture that fails the test with a clear message (pytest's own is less helpful)."""

    def fixture() -> None:
        pytest.fail(_NO_PYTEST_ASYNCIO.format(name=name), pytrace=False)

    fixture.__doc__ = _NO_PYTEST_ASYNCIO.format(name=name)
    return pytest.fixture(fixture, name=name)


try:  # declared with pytest-asyncio's decorator, so that its default strict mode runs them
    from pytest_asyncio import fixture as _async_fixture
except ImportError:
    toggl_server: Any = _needs_pytest_asyncio("toggl_server")
    toggl_client: Any = _needs_pytest_asyncio("toggl_client")
else:
    toggl_server = _async_fixture(_toggl_server, name="toggl_server")
    toggl_client = _async_fixture(_toggl_client, name="toggl_client")


@pytest.fixture
def toggl_sync_server() -> Iterator[FakeTogglServer]:
    """A fake Toggl server in a background thread, with the same sample account as ``toggl_server``."""
    with FakeTogglServer() as server:
        yield _seed(server)


@pytest.fixture
def toggl_sync_client(toggl_sync_server: FakeTogglServer) -> Iterator[TogglClient]:
    """A blocking :class:`TogglClient` for ``toggl_sync_server``'s account: no throttle, fast retries."""
    with TogglClient(ApiToken(TOKEN), base_url=toggl_sync_server.base_url, **_CLIENT_OPTIONS) as client:
        yield client
