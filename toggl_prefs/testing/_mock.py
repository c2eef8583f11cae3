"""``MockTransport``: a :class:`~toggl_prefs.Transport` that serves a :class:`FakeTogglServer`'s
accounts in memory, through the server's own handlers, without a socket, a port or a thread."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from .._auth import ApiToken, BasicAuth
from .._version import __version__
from ..errors import TogglConfigError, TransportError
from ._server import FakeTogglServer

_ROOT = "/api/v9"  # where the fake server's routes live
_USER_AGENT = f"toggl-prefs/{__version__} MockTransport"


class MockTransport:
    """Serves a :class:`FakeTogglServer`'s state to a client, in memory::

        server = FakeTogglServer()                     # never started: no socket
        server.add_account(api_token="t1", preferences={"theme": "dark"})
        async with AsyncTogglClient(ApiToken("t1"), transport=MockTransport(server)) as toggl:
            assert (await toggl.get_preferences()).theme == "dark"

    Each request goes through the server's own handlers: its validation and documented errors,
    quota, rate limit, injected faults (``server.fail_next``) and its ``requests`` log; only the
    socket is skipped. The client's credentials choose the account (the client hands them over
    through :meth:`with_auth`, so wrong ones are Toggl's 403). A fault that drops the connection or
    cuts the body short raises :class:`~toggl_prefs.TransportError`, as on the wire; a delay counts
    against the client's ``timeout``. Works with :class:`~toggl_prefs.TogglClient` too.

    ``server`` defaults to a new, empty :class:`FakeTogglServer` (see :attr:`server`).
    """

    def __init__(self, server: FakeTogglServer | None = None) -> None:
        if server is not None and not isinstance(server, FakeTogglServer):
            raise TogglConfigError(f"MockTransport serves a FakeTogglServer, not {type(server).__name__}")
        self.server = server if server is not None else FakeTogglServer()
        """The fake server whose accounts, faults and request log are used."""
        self._authorization = _Credential(None)
        self.closed = False

    def __repr__(self) -> str:
        return f"<MockTransport of {self.server!r}>"

    def with_auth(self, auth: ApiToken | BasicAuth) -> MockTransport:
        """This transport, signed in with ``auth`` (the client calls it with its credentials)."""
        bound = MockTransport(self.server)
        bound._authorization = _Credential(auth.header())
        return bound

    async def aclose(self) -> None:
        self.closed = True

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """Answer one request as the fake server would (see the class documentation)."""
        target = str(URL.build(path=_ROOT + path, query=dict(params) if params else None, encoded=False))
        if self.closed:
            raise TransportError("the MockTransport is closed", method=method, url=target)
        answer = await self._answer(method, target, body)
        if isinstance(answer, str):
            # Raised here, from a frame that never held the request (its headers carry the
            # credentials), as the default transport does.
            raise TransportError(answer, method=method, url=target)
        return answer

    async def _answer(
        self, method: str, target: str, body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes] | str:
        """The server's answer, or why none came (a fault that dropped or cut the connection)."""
        headers = CIMultiDict({"User-Agent": _USER_AGENT, "Accept": "application/json"})
        if self._authorization.header is not None:
            headers["Authorization"] = self._authorization.header
        if body is not None:
            headers["Content-Type"] = "application/json"
        app = self.server.app
        probe = make_mocked_request(method, target, headers=headers, app=app)
        match = await app.router.resolve(probe)
        payload = StreamReader(BaseProtocol(asyncio.get_running_loop()), max(len(body or b""), 1) * 2)
        if body:
            payload.feed_data(body)
        payload.feed_eof()
        request = make_mocked_request(
            method, target, headers=headers, match_info=dict(match), payload=payload, app=app
        )
        try:
            response = await match.handler(request)
        except web.HTTPException as exc:  # no such route: the router's 404 / 405
            text = {"Content-Type": "text/plain; charset=utf-8"}
            return exc.status, CIMultiDictProxy(CIMultiDict(text)), (exc.text or "").encode()
        if not isinstance(response, web.Response):  # a fault that cut the body short
            return "the connection closed before the whole response body arrived"
        if response.status == 599:  # a fault that dropped the connection
            return "the server closed the connection without answering"
        data = response.body if isinstance(response.body, bytes) else b""
        return response.status, CIMultiDictProxy(CIMultiDict(response.headers)), data


class _Credential:
    """The ``Authorization`` value a bound transport sends, behind a repr that hides it (a
    traceback renderer showing frame locals, and the objects they hold, must not show it)."""

    __slots__ = ("header",)

    def __init__(self, header: str | None) -> None:
        self.header = header

    def __repr__(self) -> str:
        return "<credentials, redacted>" if self.header is not None else "<no credentials>"
