"""pytest fixtures: ``toggl_server`` (a running :class:`FakeTogglServer` with one account) and
``toggl_client`` (an :class:`AsyncTogglClient` signed in to it, throttle off, fast retries).

Installed with toggl-prefs through the ``pytest11`` entry point; nothing to configure::

    async def test_my_code(toggl_client, toggl_server):
        await my_function(toggl_client)
        assert toggl_server.requests[-1].json == {"pomodoro_enabled": False}
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

try:  # async fixtures need pytest-asyncio's decorator in its (default) strict mode
    from pytest_asyncio import fixture as _async_fixture
except ImportError:  # pragma: no cover - without pytest-asyncio the fixtures cannot run anyway
    _async_fixture = pytest.fixture  # type: ignore[assignment]

from .._auth import ApiToken
from .._client import AsyncTogglClient
from .._retry import RetryPolicy
from ._server import FakeTogglServer

TOKEN = "fake-token-for-tests"  # noqa: S105 - a fake server's token
"""The API token of the account ``toggl_server`` starts with."""


@_async_fixture
async def toggl_server() -> AsyncIterator[FakeTogglServer]:
    """A fake Toggl server on loopback with one account (API token :data:`TOKEN`)."""
    async with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="default")
        yield server


@_async_fixture
async def toggl_client(toggl_server: FakeTogglServer) -> AsyncIterator[AsyncTogglClient]:
    """A client for ``toggl_server``'s account: no throttle, retries without long waits."""
    async with AsyncTogglClient(
        ApiToken(TOKEN),
        base_url=toggl_server.base_url,
        rate_limit=None,
        retry=RetryPolicy(backoff_base=0.01, backoff_cap=0.05),
    ) as client:
        yield client
