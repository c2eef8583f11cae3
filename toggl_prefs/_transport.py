"""One HTTP attempt over aiohttp: session ownership, auth header, bounded body, typed transport errors."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from ._version import __version__
from .errors import RequestTimeoutError, ResponseDecodeError, TogglConfigError, TransportError

log = logging.getLogger("toggl_prefs")

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
USER_AGENT = f"toggl-prefs/{__version__} aiohttp/{aiohttp.__version__}"


Response = tuple[int, "CIMultiDictProxy[str] | Mapping[str, str]", bytes]
"""(status, headers, body) of one answer."""


def new_session(limit: int = 100) -> aiohttp.ClientSession:
    """A session as the client creates its own (must be called on the loop that will use it)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit, ttl_dns_cache=300),
        # Credentials go in our own header, never in aiohttp's auth= (which it may forward).
        auto_decompress=True,
        trust_env=False,
    )


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
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
            raise TogglConfigError(f"timeout must be a number of seconds > 0, not {timeout!r}")
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
        ua = f"{user_agent} {USER_AGENT}" if user_agent else USER_AGENT
        self._headers = {
            "Authorization": auth_header,
            "User-Agent": ua,
            "Accept": "application/json",
        }
        self._post_headers = {**self._headers, "Content-Type": "application/json"}
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
        try:
            async with session.request(
                method,
                url,
                params=params,
                data=body,
                headers=self._post_headers if body is not None else self._headers,
                allow_redirects=False,  # credentials must never follow a redirect to another host
                timeout=self._client_timeout,
            ) as resp:
                data = await self._read(resp, method, url)
                status, headers = resp.status, resp.headers
        except asyncio.TimeoutError:
            raise RequestTimeoutError(
                f"no complete answer within {self.timeout:g}s", method=method, url=url
            ) from None
        except aiohttp.ClientError as exc:
            raise TransportError(_describe(exc), method=method, url=url) from None
        except ValueError as exc:
            if "AUTHORIZATION" not in str(exc):
                raise
            # aiohttp refuses two sets of credentials: the session brings its own.
            raise TogglConfigError(
                "the aiohttp session adds credentials of its own (its auth=, or a ~/.netrc entry for "
                "this host with trust_env=True); give the client a session without them"
            ) from None
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s -> %d (%d bytes, %.1f ms)",
                method,
                url,
                status,
                len(data),
                (time.perf_counter() - started) * 1000,
            )
        return status, headers, data

    async def _read(self, resp: aiohttp.ClientResponse, method: str, url: str) -> bytes:
        length = resp.content_length
        if length is not None and length <= self._max:
            return await resp.read()
        if length is not None:
            raise ResponseDecodeError(
                f"{method} {url}: the response is {length} bytes, over the {self._max}-byte limit"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in resp.content.iter_chunked(65536):
            size += len(chunk)
            if size > self._max:
                raise ResponseDecodeError(f"{method} {url}: the response is over the {self._max}-byte limit")
            chunks.append(chunk)
        return b"".join(chunks)


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientPayloadError):
        return "the connection closed before the whole response body arrived"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without answering"
    # aiohttp's other messages name host and port, never headers; keep them, they help.
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"
