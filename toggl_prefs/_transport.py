"""The transport seam (:class:`Transport`) and its default: one HTTP attempt over aiohttp, with
session ownership, auth header, bounded body and typed transport errors.

Two rules shape this module. The body limit counts *decoded* bytes (a 65 KB gzip body can inflate to
gigabytes). And a typed error is raised where no credential can be reached from it: outside the
``except`` block that caught aiohttp's exception, and after the task step that exception was thrown
into (so no ``__context__``), from a frame whose locals hold no request headers (aiohttp's
exceptions carry them in ``request_info``, its frames in locals).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Final, Protocol, runtime_checkable

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError
from multidict import CIMultiDictProxy
from yarl import URL

from ._constants import MAX_USER_AGENT
from ._version import __version__
from .errors import RequestTimeoutError, ResponseDecodeError, TogglConfigError, TogglError, TransportError

log = logging.getLogger("toggl_prefs")

USER_AGENT = f"toggl-prefs/{__version__} aiohttp/{aiohttp.__version__}"
# aiohttp's defaults, passed on every request so that a caller's session cannot loosen them.
_MAX_LINE, _MAX_FIELD, _MAX_HEADERS = 8190, 8190, 128
_MAX_DETAIL: Final = 200  # characters of aiohttp's message (server bytes, at times) kept in an error


Response = tuple[int, "CIMultiDictProxy[str] | Mapping[str, str]", bytes]
"""(status, headers, body) of one answer."""


def wire_timeout(seconds: float) -> aiohttp.ClientTimeout:
    """Bound the wire, not the queue: connecting, and every wait for the server's next bytes.
    aiohttp's ``total``/``connect`` would also count the wait for a pooled connection (and expire
    requests queued behind a busy pool before they start)."""
    return aiohttp.ClientTimeout(total=None, connect=None, sock_connect=seconds, sock_read=seconds)


def new_session(limit: int = 100) -> aiohttp.ClientSession:
    """A session as the client creates its own (must be called on the loop that will use it)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300),
        # Credentials go in our own header, never in aiohttp's auth= (which it may forward).
        auto_decompress=True,
        trust_env=False,
        # No cookies: one session serves many accounts (bulk runs), and a cookie set in an answer to
        # one account must never be sent with another account's request.
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def session_has_cookie_jar(session: aiohttp.ClientSession) -> bool:
    """Whether ``session`` keeps cookies: shared between accounts, it would send a cookie set in an
    answer to one account with the requests of the others."""
    return not isinstance(session.cookie_jar, aiohttp.DummyCookieJar)


def check_user_agent(user_agent: object) -> str:
    """The ``User-Agent`` header value: the caller's token (if any) in front of ours."""
    if user_agent is None or user_agent == "":
        return USER_AGENT
    if not isinstance(user_agent, str):
        raise TogglConfigError(f"user_agent must be a str, not {type(user_agent).__name__}")
    if len(user_agent) > MAX_USER_AGENT or not all(" " <= ch <= "~" for ch in user_agent):
        # CR/LF would end the header (aiohttp refuses the request), other controls and non-ASCII
        # are not portable in a header value: refuse here rather than fail every call.
        raise TogglConfigError(
            f"user_agent must be at most {MAX_USER_AGENT} printable ASCII characters "
            "(no control characters such as CR or LF)"
        )
    return f"{user_agent} {USER_AGENT}"


class _Headers:
    """The request headers, Authorization included, behind a repr that shows none of them (a
    traceback renderer that prints frame locals and the objects they hold must not print these)."""

    __slots__ = ("get", "post")

    def __init__(self, auth_header: str, user_agent: str) -> None:
        self.get = {"Authorization": auth_header, "User-Agent": user_agent, "Accept": "application/json"}
        self.post = {**self.get, "Content-Type": "application/json"}

    def __repr__(self) -> str:
        return "<request headers, redacted>"


class _Failure:
    """A failed attempt, described by plain text only: what :meth:`AiohttpTransport.send` raises from."""

    __slots__ = ("kind", "message")

    def __init__(self, kind: type[TogglError], message: str) -> None:
        self.kind = kind
        self.message = message

    def error(self, method: str, url: str) -> TogglError:
        if issubclass(self.kind, TransportError):
            return self.kind(self.message, method=method, url=url)
        if issubclass(self.kind, ResponseDecodeError):
            return self.kind(f"{method} {url}: {self.message}")
        return self.kind(self.message)


@runtime_checkable
class Transport(Protocol):
    """What a client sends its requests through (``transport=``); the default speaks aiohttp.

    The client stays above it: it validates, encodes, throttles, retries, reads the quota and maps
    statuses to typed errors, so a custom transport (an in-memory fake such as
    :class:`toggl_prefs.testing.MockTransport`, another HTTP library, a recorder) gets all of that.

    - ``send(method, path, *, params, body)``: one attempt. ``path`` is relative to the API root
      (``"/me/preferences"``), ``params`` the query (or ``None``), ``body`` the JSON to send (or
      ``None``). Return ``(status, headers, body)`` for any answer, an error status included (the
      client types it). Raise :class:`~toggl_prefs.TransportError` (or
      :class:`~toggl_prefs.RequestTimeoutError`) when no answer came: the client retries those.
    - ``aclose()``: release what it holds; the client calls it when it closes (after the last of
      its ``with_options()`` copies).

    Credentials: a transport with a ``with_auth(auth)`` method gets the client's credentials that
    way: the client sends through the transport it returns (a light view sharing the original's
    resources) and closes that view, not the original. A transport without it carries its own
    credentials, and the client refuses an ``auth=`` it could not send. A bulk run needs
    ``with_auth`` (it signs each account in that way) and leaves the transport you pass open.
    """

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> tuple[int, Mapping[str, str], bytes]:
        """One attempt: ``(status, headers, body)`` of the answer, or :class:`TransportError`."""
        ...

    async def aclose(self) -> None:
        """Release the transport's resources (idempotent)."""
        ...


class SessionPool:
    """The aiohttp session (the connection pool) a client shares with its ``with_options()``
    copies: the caller's (never closed here), or its own, opened on the loop that first uses it and
    closed when the last of its users lets go."""

    def __init__(self, session: aiohttp.ClientSession | None) -> None:
        self.session = session
        self._owned = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.users = 1
        self.closed = False

    def get(self) -> aiohttp.ClientSession:
        if self.closed:
            raise TogglConfigError("the client is closed")
        session = self.session
        if session is None:
            self.session = session = new_session()
            self._loop = asyncio.get_running_loop()
        elif self._owned and self._loop is not asyncio.get_running_loop():
            raise TogglConfigError(
                "this client's session belongs to another event loop; create the client inside "
                "the loop that uses it (or use TogglClient from synchronous code)"
            )
        elif session.closed:
            raise TogglConfigError("the aiohttp session given to the client is closed")
        return session

    def share(self) -> SessionPool:
        """One more user (a ``with_options()`` copy)."""
        if self.closed:
            raise TogglConfigError("the client is closed")
        self.users += 1
        return self

    async def release(self) -> None:
        """One user fewer; the last one closes the pool."""
        self.users -= 1
        if self.users <= 0:
            await self.close()

    async def close(self) -> None:
        """Close now, whoever still uses it (idempotent)."""
        self.closed = True
        session, self.session = self.session, None
        if session is not None and self._owned and not session.closed:
            await session.close()


class AiohttpTransport:
    """The default :class:`Transport`: one attempt at a time over a :class:`SessionPool`, with the
    client's credentials, ``User-Agent``, wire timeout and body limit."""

    def __init__(
        self,
        base_url: URL,
        auth_header: str,
        *,
        timeout: float,
        user_agent: str | None,
        max_response_bytes: int,
        pool: SessionPool,
    ) -> None:
        self.base = str(base_url)
        self.timeout = float(timeout)
        self._client_timeout = wire_timeout(self.timeout)
        self._headers = _Headers(auth_header, check_user_agent(user_agent))
        self._pool = pool
        self._max = max_response_bytes

    @property
    def _session(self) -> aiohttp.ClientSession | None:
        return self._pool.session

    @property
    def closed(self) -> bool:
        return self._pool.closed

    async def aclose(self) -> None:
        """Close the pool (the client lets go of its share instead: see ``SessionPool``)."""
        await self._pool.close()

    async def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float | None = None,
    ) -> Response:
        session = self._pool.get()
        url = self.base + path
        started = time.perf_counter()
        if timeout is None:
            timeout, client_timeout = self.timeout, self._client_timeout
        else:
            client_timeout = wire_timeout(timeout)
        outcome = await self._exchange(session, method, url, params, body, client_timeout, timeout)
        if isinstance(outcome, _Failure):
            # A pure-Python Task (asyncio.tasks._PyTask: pytest-asyncio's runner on 3.10, PyPy) runs
            # the step that aiohttp's failure was thrown into inside an ``except`` block: anything
            # raised before the task next yields (our error, the caller's own) gets it as context.
            await asyncio.sleep(0)
            raise outcome.error(method, url)  # see the module docstring: no context, no headers here
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d (%d bytes, %.1f ms)",
                method,
                url,
                outcome[0],
                len(outcome[2]),
                (time.perf_counter() - started) * 1000,
            )
        return outcome

    async def _exchange(
        self,
        session: aiohttp.ClientSession,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        body: bytes | None,
        client_timeout: aiohttp.ClientTimeout,
        timeout: float,
    ) -> Response | _Failure:
        """The attempt itself; every failure it knows comes back as a :class:`_Failure`."""
        try:
            async with session.request(
                method,
                url,
                params=params,
                data=body,
                headers=self._headers.post if body is not None else self._headers.get,
                allow_redirects=False,  # credentials must never follow a redirect to another host
                timeout=client_timeout,
                # Ours whatever the session says: decoded bodies (counted against the limit), and
                # aiohttp's bounds on the status line and headers.
                auto_decompress=True,
                max_line_size=_MAX_LINE,
                max_field_size=_MAX_FIELD,
                max_headers=_MAX_HEADERS,
            ) as resp:
                data = await self._read(resp)
                if isinstance(data, _Failure):
                    resp.close()  # the rest of that body is never read: the connection is not reused
                    return data
                return resp.status, resp.headers, data
        except asyncio.TimeoutError:
            return _Failure(RequestTimeoutError, f"no complete answer within {timeout:g}s")
        except aiohttp.ClientError as exc:
            return _describe(exc)
        except ValueError as exc:
            if "AUTHORIZATION" not in str(exc):
                raise
            # aiohttp refuses two sets of credentials: the session brings its own.
            return _Failure(
                TogglConfigError,
                "the aiohttp session adds credentials of its own (its auth=, or a ~/.netrc entry for "
                "this host with trust_env=True); give the client a session without them",
            )

    async def _read(self, resp: aiohttp.ClientResponse) -> bytes | _Failure:
        """The body, at most ``max_response_bytes`` of it once decoded."""
        length = resp.content_length
        encoding = resp.headers.get("Content-Encoding", "").strip().lower()
        if length is not None and length > self._max:
            # Either the body itself or (compressed) the bytes on the wire are over the limit.
            return _too_large(resp.status, self._max, f"{length} bytes")
        if length is not None and encoding in ("", "identity"):
            return await resp.read()  # one read: the size is known and within the limit
        # Compressed, or of unknown length: count the bytes aiohttp hands over (decoded, and paced by
        # its flow control, so a bomb never inflates much past the limit) and stop there.
        chunks: list[bytes] = []
        size = 0
        stream = resp.content
        while chunk := await stream.readany():
            size += len(chunk)
            if size > self._max:
                return _too_large(resp.status, self._max, "the decoded body" if encoding else "the body")
            chunks.append(chunk)
        return b"".join(chunks)


def _too_large(status: int, limit: int, what: str) -> _Failure:
    # Not retried, whatever the status: the server sends answers over the limit, and each retry
    # would cost the full limit again.
    return _Failure(
        ResponseDecodeError,
        f"the {status} response is over the {limit}-byte limit ({what}; max_response_bytes)",
    )


def _describe(exc: aiohttp.ClientError) -> _Failure:
    """The typed failure for one of aiohttp's exceptions (only its text is kept, never the object:
    it holds the request, headers included)."""
    cause: BaseException | None = exc
    for _ in range(4):
        if cause is None:
            break
        if isinstance(cause, ContentEncodingError):
            # A body that cannot be decoded is not a transient fault: not retried.
            return _Failure(
                ResponseDecodeError, f"the response body cannot be decoded: {_clip(cause.message)}"
            )
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, aiohttp.ClientPayloadError):
        return _Failure(TransportError, "the connection closed before the whole response body arrived")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return _Failure(TransportError, "the server closed the connection without answering")
    if isinstance(exc, aiohttp.ClientResponseError):
        # Raised while parsing the status line or headers (aiohttp labels it 400, but no status came).
        return _Failure(TransportError, f"the server's answer is not valid HTTP: {_clip(exc.message)}")
    # aiohttp's other messages name host and port, never headers; keep them, they help.
    text = str(exc) or type(exc).__name__
    return _Failure(TransportError, f"{type(exc).__name__}: {_clip(text)}")


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
