"""Hostile servers on the wire, over real loopback sockets: compressed bodies that inflate
past the limit, error pages built to be slow, cookies set for one account, credentials reachable
from a raised error's chain or frames, and a 503 asking to come back in an hour."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import time
import tracemalloc
import warnings
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs._constants import DEFAULT_MAX_RESPONSE_BYTES
from toggl_prefs.testing import FakeTogglServer

from ..conftest import RawServer, reply
from .conftest import EMAIL, PASSWORD, SECRETS, TOKEN, record

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
FAST = tp.RetryPolicy(max_retries=2, backoff_base=0.001, backoff_cap=0.005, retry_after_cap=5)
LIMIT = 1024 * 1024  # max_response_bytes in these cases
INFLATED = 64 * 1024 * 1024  # what each bomb inflates to


def _compress(wbits: int) -> bytes:
    """64 MiB of zeros, compressed (about 65 KB) without building the 64 MiB first."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    block = bytes(1024 * 1024)
    return b"".join(packer.compress(block) for _ in range(INFLATED // len(block))) + packer.flush()


GZIP_BOMB = _compress(31)
DEFLATE_BOMB = _compress(15)


def bomb(status: int, encoding: str = "gzip", *, chunked: bool = False) -> Handler:
    data = GZIP_BOMB if encoding == "gzip" else DEFLATE_BOMB

    async def handler(request: web.Request) -> web.StreamResponse:
        headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
        if not chunked:
            return web.Response(status=status, body=data, headers=headers)
        response = web.StreamResponse(status=status, headers=headers)
        response.enable_chunked_encoding()
        await response.prepare(request)
        for i in range(0, len(data), 8192):
            try:
                await response.write(data[i : i + 8192])
            except (ConnectionError, RuntimeError):
                break
        return response

    return handler


def ports(into: list[int], handler: Handler) -> Handler:
    """Wraps a handler to note the client's source port (one per connection)."""

    async def noted(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        into.append(request.transport.get_extra_info("peername")[1])
        return await handler(request)

    return noted


def client_kwargs(base_url: str, **extra: Any) -> dict[str, Any]:
    return {"base_url": base_url, "rate_limit": None, "retry": FAST, "max_response_bytes": LIMIT, **extra}


async def two_calls(flavour: str, base_url: str, **extra: Any) -> tuple[Any, Any, int, int]:
    """(first outcome, second outcome, attempts, connections checked out) for two GETs on one client."""
    outcomes: list[Any] = []
    if flavour == "async":
        async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), **client_kwargs(base_url, **extra)) as client:
            for _ in range(2):
                try:
                    outcomes.append(await client.get_preferences())
                except tp.TogglError as exc:
                    outcomes.append(exc)
            connector = client._transport._session.connector  # type: ignore[union-attr]
            held = len(connector._acquired)  # type: ignore[union-attr]
            return outcomes[0], outcomes[1], client._attempts_made, held

    def blocking() -> tuple[Any, Any, int, int]:
        with tp.TogglClient(tp.ApiToken(TOKEN), **client_kwargs(base_url, **extra)) as sync:
            for _ in range(2):
                try:
                    outcomes.append(sync.get_preferences())
                except tp.TogglError as exc:
                    outcomes.append(exc)
            connector = sync.async_client._transport._session.connector  # type: ignore[union-attr]
            held = len(connector._acquired)  # type: ignore[union-attr]
            return outcomes[0], outcomes[1], sync.async_client._attempts_made, held

    return await asyncio.to_thread(blocking)


@pytest.fixture
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


# -- raw socket servers (for what aiohttp's server will not send) ----------------------------------


RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def tls_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(b"\x15\x03\x01\x00\x02\x02\x50" + b"this is not TLS\r\n" * 4)


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.read()  # until the client gives up and closes


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.transport.abort()


def raw(payload: bytes) -> RawHandler:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(payload)

    return answer


def serve(handler: RawHandler, tasks: set[asyncio.Task[Any]]) -> RawHandler:
    """Runs ``handler`` for one connection, then closes it; noted in ``tasks`` so that the test
    waits for every handler to end (none is left to be cancelled with the loop)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await asyncio.wait_for(handler(reader, writer), 3)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    return connection


def http(status: int, body: bytes, extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s" % (status, len(body), extra, body)


@contextlib.asynccontextmanager
async def socket_server(handler: RawHandler, scheme: str = "http") -> AsyncIterator[str]:
    """A loopback server running ``handler`` on each connection; yields its base URL and, on exit,
    waits for every handler to end."""
    tasks: set[asyncio.Task[Any]] = set()
    server = await asyncio.start_server(serve(handler, tasks), "127.0.0.1", 0)
    try:
        yield f"{scheme}://127.0.0.1:{server.sockets[0].getsockname()[1]}/api/v9"
    finally:
        server.close()
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        await server.wait_closed()


# -- compressed bodies ---------------------------------------------------------------------------

BOMBS = [
    ("gzip, Content-Length, 200", bomb(200)),
    ("gzip, Content-Length, 500", bomb(500)),
    ("gzip, Content-Length, 503", bomb(503)),
    ("gzip, Content-Length, 404", bomb(404)),
    ("deflate, Content-Length, 200", bomb(200, "deflate")),
    ("gzip, chunked, 200", bomb(200, chunked=True)),
    ("gzip, chunked, 503", bomb(503, chunked=True)),
]


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize(("shape", "handler"), BOMBS, ids=[b[0] for b in BOMBS])
async def test_decompression_bomb_is_bounded(
    shape: str, handler: Handler, flavour: str, raw_server: RawServer, traced: None
) -> None:
    seen: list[int] = []
    raw_server.script = [ports(seen, handler), ports(seen, reply(200, b'{"theme": "dark"}'))]
    tracemalloc.reset_peak()
    started = time.monotonic()
    first, second, attempts, held = await two_calls(flavour, raw_server.base_url)
    elapsed = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    assert type(first) is tp.ResponseDecodeError, repr(first)
    assert "limit" in str(first)
    assert attempts == 2, "a body over the limit is final: not retried at full cost"
    assert isinstance(second, tp.UserPreferences) and second.theme == "dark"
    assert seen[0] != seen[1], "the connection that carried the bomb went back to the pool"
    assert held == 0
    assert peak < 16 * LIMIT, f"{peak / 2**20:.0f} MiB held while reading a {LIMIT >> 20} MiB-limited body"
    assert elapsed < 5
    record(
        "compressed",
        body=f"{shape}: {len(GZIP_BOMB) // 1024} KB inflating to {INFLATED >> 20} MiB",
        client=flavour,
        outcome=f"ResponseDecodeError after 1 attempt; connection discarded; peak {peak / 2**20:.1f} MiB "
        f"(limit {LIMIT >> 20} MiB)",
        seconds=f"{elapsed:.2f} (bound 5)",
    )


@pytest.mark.parametrize("auto_decompress", [True, False])
async def test_a_callers_session_is_bounded_too(
    auto_decompress: bool, raw_server: RawServer, traced: None
) -> None:
    raw_server.script = [
        bomb(200),
        reply(200, gzip.compress(b'{"theme": "dark"}'), {"Content-Encoding": "gzip"}),
    ]
    tracemalloc.reset_peak()
    async with (
        aiohttp.ClientSession(
            auto_decompress=auto_decompress, cookie_jar=aiohttp.DummyCookieJar()
        ) as session,
        tp.AsyncTogglClient(tp.ApiToken(TOKEN), session=session, **client_kwargs(raw_server.base_url)) as c,
    ):
        with pytest.raises(tp.ResponseDecodeError, match="limit"):
            await c.get_preferences()
        assert (await c.get_preferences()).theme == "dark"  # decoded even if the session would not
    peak = tracemalloc.get_traced_memory()[1]
    assert peak < 16 * LIMIT
    record(
        "compressed",
        body=f"gzip bomb through a caller's session (auto_decompress={auto_decompress})",
        client="async",
        outcome=f"ResponseDecodeError; peak {peak / 2**20:.1f} MiB; a gzip 200 after it decodes",
        seconds="-",
    )


BAD_GZIP = b"\x1f\x8b\x08\x00garbagegarbage12"  # a gzip header, then bytes that do not inflate
BROKEN = [
    (
        "gzip that fails to decode",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + BAD_GZIP,
    ),
    (
        "gzip that fails to decode, on a 503",
        b"HTTP/1.1 503 Down\r\nContent-Encoding: gzip\r\nContent-Length: 20\r\n\r\n" + BAD_GZIP,
    ),
    (
        "deflate that fails to decode, chunked",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"8\r\n\x78\x9c\xff\xff\xff\xff\xff\xff\r\n0\r\n\r\n",
    ),
    (
        "br body, not asked for (no decoder installed)",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: br\r\nContent-Length: 5\r\n\r\nabcde",
    ),
]


@pytest.mark.parametrize(("what", "payload"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_an_undecodable_body_is_a_decode_error_not_a_dropped_connection(
    what: str, payload: bytes
) -> None:
    async with (
        socket_server(raw(payload)) as base_url,
        tp.AsyncTogglClient(tp.ApiToken(TOKEN), **client_kwargs(base_url)) as c,
    ):
        with pytest.raises(tp.ResponseDecodeError, match=r"content-encoding|decode") as info:
            await c.get_preferences()
        assert c._attempts_made == 1, "a body that cannot be decoded is not a transient fault"
    assert "closed" not in str(info.value)
    record(
        "compressed", body=what, client="async", outcome="ResponseDecodeError after 1 attempt", seconds="-"
    )


async def test_a_gzip_answer_still_decodes(raw_server: RawServer) -> None:
    body = b'{"theme": "dark", "date_format": "YYYY-MM-DD"}'
    raw_server.script = [reply(200, gzip.compress(body), {"Content-Encoding": "gzip"})]
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), **client_kwargs(raw_server.base_url)) as c:
        prefs = await c.get_preferences()
    assert prefs.theme == "dark" and prefs.date_format == "YYYY-MM-DD"
    record("compressed", body="gzip answer within the limit", client="async", outcome="decoded", seconds="-")


async def test_the_fake_server_bounds_compressed_request_bodies(traced: None) -> None:
    """What the fake server reads is bounded by its client_max_size (4 MiB), counted after decoding:
    aiohttp's request.read() checks the decoded size, its flow control paces the inflation."""
    inflated = 256 * 1024 * 1024
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = bytes(1024 * 1024)
    data = b"".join(packer.compress(block) for _ in range(inflated // len(block))) + packer.flush()
    async with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN)
        tracemalloc.reset_peak()
        started = time.monotonic()
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{server.base_url}/me/preferences",
                data=data,
                headers={
                    "Content-Encoding": "gzip",
                    "Content-Type": "application/json",
                    "Authorization": tp.ApiToken(TOKEN).header(),
                },
            ) as resp,
        ):
            status = resp.status
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    assert status == 413
    assert peak < inflated // 3 and elapsed < 5
    record(
        "compressed",
        body=f"fake server: a {len(data) >> 10} KB gzip request body inflating to {inflated >> 20} MiB",
        client="raw aiohttp",
        outcome=f"413 (client_max_size, decoded bytes); peak {peak / 2**20:.1f} MiB",
        seconds=f"{elapsed:.2f} (bound 5)",
    )


# -- error-page size and shape -------------------------------------------------------------------


@pytest.mark.parametrize("unit", [b"<h1>", b"<title>", b"<!--", b"<"], ids=["h1", "title", "comment", "lt"])
async def test_a_pathological_error_page_at_the_limit_is_classified_fast(
    unit: bytes, raw_server: RawServer
) -> None:
    page = b"<html>" + unit * ((DEFAULT_MAX_RESPONSE_BYTES - 6) // len(unit))
    raw_server.script = [reply(503, page, {"Content-Type": "text/html"})]
    started = time.monotonic()
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN), base_url=raw_server.base_url, rate_limit=None, retry=FAST
    ) as c:
        with pytest.raises(tp.ServerError) as info:
            await c.get_preferences()
    elapsed = time.monotonic() - started
    assert info.value.attempts == 3 and elapsed < 5
    record(
        "error-pages",
        page=f"503 text/html: {unit.decode()!r} repeated to {len(page) >> 20} MiB (the default limit)",
        outcome="ServerError, 3 attempts",
        seconds=f"{elapsed:.2f} (bound 5; it was quadratic: 8.9 s at 64 KB)",
    )


# -- cookies ---------------------------------------------------------------------------------------


def by_name(raw_server: RawServer) -> str:
    """The server's base URL by host name: aiohttp's cookie jar ignores cookies from IP addresses."""
    return raw_server.base_url.replace("127.0.0.1", "localhost")


class CookieServer:
    """Answers OK, sets a cookie named after the account on each answer, and records the Cookie
    header each request carried (None when it carried none)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str | None]] = []

    async def __call__(self, request: web.Request) -> web.StreamResponse:
        auth = request.headers.get("Authorization", "")
        who = "A" if auth == tp.ApiToken("token-A").header() else "B"
        self.received.append((who, request.headers.get("Cookie")))
        response = web.Response(body=b'{"theme": "dark"}', headers={"Content-Type": "application/json"})
        response.set_cookie("session", f"of-{who}", path="/")
        return response


async def test_a_bulk_run_never_sends_one_accounts_cookie_with_another(raw_server: RawServer) -> None:
    cookies = CookieServer()
    raw_server.script = [cookies]
    accounts = [bulk.Account("a", tp.ApiToken("token-A")), bulk.Account("b", tp.ApiToken("token-B"))]
    results = [
        r
        async for r in bulk.fetch_all(
            accounts, base_url=by_name(raw_server), rate_limit=None, concurrency=1, retry=FAST
        )
    ]
    assert all(r.ok for r in results)
    assert cookies.received == [("A", None), ("B", None)]
    record("cookies", session="bulk run's own session, accounts A then B", cookie_sent="none")


async def test_a_client_sends_back_no_cookie(raw_server: RawServer) -> None:
    cookies = CookieServer()
    raw_server.script = [cookies]
    async with tp.AsyncTogglClient(tp.ApiToken("token-A"), **client_kwargs(by_name(raw_server))) as c:
        await c.get_preferences()
        await c.get_preferences()
    assert cookies.received == [("A", None), ("A", None)]
    record("cookies", session="a client's own session, two calls", cookie_sent="none")


async def test_a_callers_session_with_a_cookie_jar_is_warned_about(raw_server: RawServer) -> None:
    async with aiohttp.ClientSession() as live:
        with pytest.warns(UserWarning, match="cookie"):
            tp.AsyncTogglClient(tp.ApiToken("token-A"), session=live, base_url=raw_server.base_url)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as quiet:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            tp.AsyncTogglClient(tp.ApiToken("token-A"), session=quiet, base_url=raw_server.base_url)
    record(
        "cookies",
        session="a caller's session with a live cookie jar",
        cookie_sent="UserWarning at construction (use aiohttp.DummyCookieJar())",
    )


# -- credentials reachable from a raised error -----------------------------------------------------


def _texts(value: Any, depth: int, seen: set[int]) -> Iterator[str]:
    """repr(value), then, recursively, what containers hold and (one level) objects' __dict__."""
    if id(value) in seen:
        return
    seen.add(id(value))
    try:
        yield repr(value)
    except Exception:  # noqa: S110 - a broken repr shows nothing
        pass
    if isinstance(value, str | bytes):
        yield str(value)
        return
    if depth <= 0:
        return
    if isinstance(value, dict):
        for key, item in list(value.items()):
            yield from _texts(key, depth - 1, seen)
            yield from _texts(item, depth - 1, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in list(value):
            yield from _texts(item, depth - 1, seen)
    else:
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            for item in list(attrs.values()):
                yield from _texts(item, 1 if depth > 1 else 0, seen)


def reachable(exc: BaseException) -> Iterator[str]:
    """Everything one can render from a raised error: its chain (__cause__, __context__), each
    error's attributes, and the locals of every frame in each traceback."""
    seen_errors: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        err = todo.pop()
        if err is None or id(err) in seen_errors:
            continue
        seen_errors.add(id(err))
        yield from _texts(err, 3, set())
        yield str(err)
        todo += [err.__cause__, err.__context__]
        tb = err.__traceback__
        while tb is not None:
            for value in list(tb.tb_frame.f_locals.values()):
                yield from _texts(value, 3, set())
            tb = tb.tb_next


def assert_unreachable(exc: BaseException) -> None:
    for text in reachable(exc):
        for secret in SECRETS:
            assert secret not in text, f"a credential is reachable from {type(exc).__name__}: {text[:300]}"


FAULTS: list[tuple[str, Any, str, type[Exception]]] = [
    ("connection refused", None, "http", tp.TransportError),
    ("reset before the answer", reset, "http", tp.TransportError),
    ("bad status line", raw(b"HTTP/1.1 ABC nope\r\n\r\n"), "http", tp.TransportError),
    (
        "header flood",
        raw(b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(500)) + b"\r\n"),
        "http",
        tp.TransportError,
    ),
    (
        "header line too long",
        raw(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 10000 + b"\r\n\r\n"),
        "http",
        tp.TransportError,
    ),
    ("timeout", silent, "http", tp.RequestTimeoutError),
    ("TLS-ish garbage", tls_garbage, "https", tp.TransportError),
    ("gzip that fails to decode", raw(BROKEN[0][1]), "http", tp.ResponseDecodeError),
    ("body over the limit", raw(http(200, b" " * (LIMIT + 10))), "http", tp.ResponseDecodeError),
    ("500 API error", raw(http(500, b"boom")), "http", tp.ServerError),
    ("403 API error", raw(http(403, b'"Incorrect username and/or password"')), "http", tp.ForbiddenError),
    ("429 API error", raw(http(429, b"<h1>slow</h1>", b"Retry-After: 9999\r\n")), "http", tp.RateLimitError),
    ("non-JSON 200", raw(http(200, b"<html>")), "http", tp.ResponseDecodeError),
]


@pytest.fixture
async def fault_server(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    _, handler, scheme, _ = request.param
    if handler is None:
        async with socket_server(silent) as base_url:
            pass
        yield base_url  # nothing listens there any more
        return
    async with socket_server(handler, scheme) as base_url:
        yield base_url


@pytest.mark.parametrize("flavour", ["async", "sync"])
@pytest.mark.parametrize("auth", ["token", "password"])
@pytest.mark.parametrize("fault_server", FAULTS, ids=[f[0] for f in FAULTS], indirect=True)
async def test_no_credential_is_reachable_from_a_raised_error(
    fault_server: str, flavour: str, auth: str, request: pytest.FixtureRequest
) -> None:
    name, _, _, expected = request.node.callspec.params["fault_server"]
    options = client_kwargs(
        fault_server, timeout=0.3, retry=tp.RetryPolicy(max_retries=1, backoff_base=0.001)
    )

    def credentials() -> tp.ApiToken | tp.BasicAuth:
        return tp.ApiToken(TOKEN) if auth == "token" else tp.BasicAuth(EMAIL, PASSWORD)

    caught: list[BaseException] = []
    if flavour == "async":
        async with tp.AsyncTogglClient(credentials(), **options) as client:
            for call in (client.get_preferences, lambda: client.update_preferences(theme="x")):
                try:
                    await call()
                except tp.TogglError as exc:
                    caught.append(exc)
    else:

        def blocking() -> None:
            with tp.TogglClient(credentials(), **options) as sync:
                for call in (sync.get_preferences, lambda: sync.update_preferences(theme="x")):
                    try:
                        call()
                    except tp.TogglError as exc:
                        caught.append(exc)

        await asyncio.to_thread(blocking)
    assert len(caught) >= 1 and all(isinstance(e, expected) for e in caught), caught
    for error in caught:
        assert_unreachable(error)
        if not name.startswith(("non-JSON", "4", "5")):
            # Raised by the transport: nothing of aiohttp's (which holds the request) is chained.
            assert error.__context__ is None and error.__cause__ is None, "an aiohttp error is chained"
    record(
        "error-chains",
        fault=name,
        client=f"{flavour}, {auth}",
        raised=expected.__name__,
        held="no credential in __cause__/__context__ or any traceback frame's locals",
    )


# -- Retry-After on 503 (the case beyond the cap is in the fault matrix) -------------------------


async def test_a_503_retry_after_within_the_cap_is_waited_for(raw_server: RawServer) -> None:
    raw_server.script = [reply(503, b"maintenance", {"Retry-After": "1"}), reply(200, b'{"theme": "dark"}')]
    started = time.monotonic()
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), **client_kwargs(raw_server.base_url)) as c:
        assert (await c.get_preferences()).theme == "dark"
    elapsed = time.monotonic() - started
    assert raw_server.hits == 2 and 0.9 <= elapsed < 5
    record(
        "faults",
        fault="503 Retry-After: 1 (seconds), then ok",
        method="GET",
        client="async",
        outcome="success, after waiting the second asked for",
        attempts=2,
        seconds=f"{elapsed:.2f} (bound 5, at least 0.9)",
    )
