"""Which event loop in this process serves a given local address.

A blocking call made on the thread whose running loop *is* the server's loop can never be answered:
the call blocks the very loop that would answer it (a ``TogglClient`` aimed at the async
``toggl_server`` fixture, from the test's own loop). Servers in this process register here while
they listen, so that the blocking facade can refuse such a call at once instead of hanging until
its timeouts expire. Loops are held weakly: a server that never unregisters keeps nothing alive.
"""

from __future__ import annotations

import asyncio
import threading
import weakref

from yarl import URL

from ._urls import is_loopback

_Key = tuple[str, int]
_LOOPBACK = "<loopback>"  # every loopback name and the wildcard addresses reach a loopback listener
_WILDCARD = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - names, not a bind

_servers: dict[_Key, weakref.ref[asyncio.AbstractEventLoop]] = {}
_lock = threading.Lock()


def _key(host: str | None, port: int | None) -> _Key | None:
    if host is None or port is None:
        return None
    host = host.strip("[]").lower()
    return (_LOOPBACK if host in _WILDCARD or is_loopback(host) else host, port)


def register(host: str, port: int, loop: asyncio.AbstractEventLoop) -> None:
    """Note that ``loop`` serves ``host:port`` (until :func:`unregister`)."""
    key = _key(host, port)
    if key is not None:
        with _lock:
            _servers[key] = weakref.ref(loop)


def unregister(host: str, port: int, loop: asyncio.AbstractEventLoop) -> None:
    """Forget ``host:port`` if ``loop`` is what serves it (a newer server on the port stays)."""
    key = _key(host, port)
    with _lock:
        ref = _servers.get(key) if key is not None else None
        if ref is not None and ref() in (loop, None):
            del _servers[key]  # type: ignore[arg-type]


def serving_loop(url: str | URL) -> asyncio.AbstractEventLoop | None:
    """The live event loop registered for the host and port of ``url``, if any."""
    if not _servers:  # the common case, without parsing anything
        return None
    url = URL(str(url)) if not isinstance(url, URL) else url
    key = _key(url.host, url.port)
    ref = _servers.get(key) if key is not None else None
    return None if ref is None else ref()
