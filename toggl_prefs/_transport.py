"""One HTTP attempt over aiohttp: session ownership, auth header, bounded body, typed transport errors.

Two rules shape this module. The body limit counts *decoded* bytes (a 65 KB gzip body can inflate to
gigabytes). And a typed error is raised where no credential can be reached from it: outside the
``except`` block that caught aiohttp's exception (so no ``__context__``), from a frame whose locals
hold no request headers (aiohttp's exceptions carry them in ``request_info``, its frames in locals).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Mapping
from typing import Final

import aiohttp
from aiohttp.http_exceptions import ContentEncodingError
from multidict import CIMultiDictProxy
from yarl import URL

from ._version import __version__
from .errors import RequestTimeoutError, ResponseDecodeError, TogglConfigError, TogglError, TransportError

log = logging.getLogger("toggl_prefs")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
USER_AGENT = f"toggl-prefs/{__version__} aiohttp/{aiohttp.__version__}"
MAX_USER_AGENT = 256
# aiohttp's defaults, passed on every request so that a caller's session cannot loosen them.
_MAX_LINE, _MAX_FIELD, _MAX_HEADERS = 8190, 8190, 128
_MAX_DETAIL: Final = 200  # characters of aiohttp's message (server bytes, at times) kept in an error


Response = tuple[int, "CIMultiDictProxy[str] | Mapping[str, str]", bytes]
"""(status, headers, body) of one answer."""


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
    """A failed attempt, described by plain text only: what :meth:`Transport.send` raises from."""

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


class Transport:
    """Sends one request at a time on behalf of a client. Owns its session unless given one."""

    def __init__(
        self,
        base_url: URL,
        auth_header: str,
        *,
        timeout: float,
        session: aiohttp.ClientSession | None,
        user_agent: str | None,
        max_response_bytes: int,
    ) -> None:
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or not timeout > 0
        ):
            raise TogglConfigError(f"timeout must be a finite number of seconds > 0, not {timeout!r}")
        if (
            isinstance(max_response_bytes, bool)
            or not isinstance(max_response_bytes, int)
            or max_response_bytes < 1
        ):
            raise TogglConfigError(f"max_response_bytes must be an int > 0, not {max_response_bytes!r}")
        self.base = str(base_url)
        self.timeout = float(timeout)
        # Bound the wire, not the queue: connecting, and every wait for the server's next bytes.
        # aiohttp's ``total``/``connect`` would also count the wait for a pooled connection and the
        # throttle, and expire requests queued behind a busy pool before they start.
        self._client_timeout = aiohttp.ClientTimeout(
            total=None, connect=None, sock_connect=self.timeout, sock_read=self.timeout
        )
        self._user_agent = check_user_agent(user_agent)
        self._headers = _Headers(auth_header, self._user_agent)
        self._session = session
        self._owns_session = session is None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._max = max_response_bytes
        self.closed = False

    def session(self) -> aiohttp.ClientSession:
        if self.closed:
            raise TogglConfigError("the client is closed")
        loop = asyncio.get_running_loop()
        if self._session is None:
            self._session = new_session()
            self._loop = loop
        elif self._owns_session and self._loop is not loop:
            raise TogglConfigError(
                "this client's session belongs to another event loop; create the client inside "
                "the loop that uses it (or use TogglClient from synchronous code)"
            )
        elif self._session.closed:
            raise TogglConfigError("the aiohttp session given to the client is closed")
        return self._session

    async def close(self) -> None:
        self.closed = True
        session, self._session = self._session, None
        if session is not None and self._owns_session and not session.closed:
            await session.close()

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> Response:
        session = self.session()
        url = self.base + path
        started = time.perf_counter()
        outcome = await self._exchange(session, method, url, params, body)
        if isinstance(outcome, _Failure):
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
                timeout=self._client_timeout,
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
            return _Failure(RequestTimeoutError, f"no complete answer within {self.timeout:g}s")
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
