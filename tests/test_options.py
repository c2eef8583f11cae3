"""One set of client options: every entry point takes every option (introspected, so that a new
option an entry point lacks fails here), the shorthands, per-call timeouts, ``with_options`` and
``TOGGL_BASE_URL``."""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, ForwardRef

import aiohttp
import pytest
from aiohttp import web

import toggl_prefs as tp
from toggl_prefs import bulk
from toggl_prefs._options import OPTION_DEFAULTS, OPTION_NAMES, ClientOptions
from toggl_prefs.bulk import Account
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.testing import FakeTogglServer, MockTransport

from .conftest import FAST_RETRY, TOKEN, RawServer, reply

CLIENTS = (tp.AsyncTogglClient, tp.TogglClient)
BULK = (
    bulk.fetch_all,
    bulk.apply_all,
    bulk.clone_all,
    bulk_sync.fetch_all,
    bulk_sync.apply_all,
    bulk_sync.clone_all,
)
ENTRY_POINTS: dict[str, Callable[..., Any]] = {
    "AsyncTogglClient": tp.AsyncTogglClient.__init__,
    "TogglClient": tp.TogglClient.__init__,
    "AsyncTogglClient.with_options": tp.AsyncTogglClient.with_options,
    "TogglClient.with_options": tp.TogglClient.with_options,
    **{f"{fn.__module__.removeprefix('toggl_prefs.')}.{fn.__name__}": fn for fn in BULK},
}
ENDPOINTS = (
    "get_preferences",
    "update_preferences",
    "get_client_preferences",
    "update_client_preferences",
    "get_workspace_preferences",
    "update_workspace_preferences",
    "set_alpha_features",
)
# A value each option refuses: an entry point that takes an option but drops it would not refuse it.
BAD: dict[str, Any] = {
    "base_url": "ftp://example.com/api/v9",
    "timeout": 0,
    "retry": "twice",
    "max_retries": -1,
    "rate_limit": 0,
    "session": "a pool",
    "user_agent": "my-app\r\nX-Injected: 1",
    "max_response_bytes": 0,
    "transport": object(),
}


def _annotation(value: object) -> str:
    return value.__forward_arg__ if isinstance(value, ForwardRef) else str(value)


def test_every_option_has_a_default_and_a_bad_value() -> None:
    assert set(OPTION_DEFAULTS) == set(OPTION_NAMES) == set(BAD)
    assert tuple(ClientOptions.__annotations__) == OPTION_NAMES
    assert tp.ClientOptions is ClientOptions


@pytest.mark.parametrize("option", OPTION_NAMES)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_every_entry_point_takes_every_option(entry: str, option: str) -> None:
    parameters = inspect.signature(ENTRY_POINTS[entry]).parameters
    if option in parameters:
        param = parameters[option]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, (entry, option)
        assert param.default == OPTION_DEFAULTS[option], (entry, option)
        assert param.annotation == _annotation(ClientOptions.__annotations__[option]), (entry, option)
        return
    variadic = [p for p in parameters.values() if p.kind is inspect.Parameter.VAR_KEYWORD]
    assert variadic, f"{entry} does not take {option}="
    assert variadic[0].annotation == "Unpack[ClientOptions]", f"{entry}: **{variadic[0].name} is not typed"


@pytest.mark.parametrize("cls", CLIENTS)
def test_the_clients_spell_out_exactly_the_options(cls: type) -> None:
    parameters = inspect.signature(cls).parameters
    keyword = [name for name, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keyword == list(OPTION_NAMES)


# -- an option given is an option used: each entry point refuses each bad value ----------------


@pytest.mark.parametrize("option", OPTION_NAMES)
@pytest.mark.parametrize("cls", CLIENTS)
def test_the_clients_check_every_option(cls: type, option: str) -> None:
    with pytest.raises(tp.TogglError, match=option.split("_")[0]):
        cls(tp.ApiToken(TOKEN), **{option: BAD[option]})


@pytest.mark.parametrize("option", OPTION_NAMES)
def test_with_options_checks_every_option(option: str) -> None:
    client = tp.AsyncTogglClient(tp.ApiToken(TOKEN))
    with pytest.raises(tp.TogglError, match=option.split("_")[0]):
        client.with_options(**{option: BAD[option]})
    with tp.TogglClient(tp.ApiToken(TOKEN)) as sync, pytest.raises(tp.TogglError, match=option.split("_")[0]):
        sync.with_options(**{option: BAD[option]})


def test_with_options_refuses_an_unknown_name_and_names_the_closest() -> None:
    client = tp.AsyncTogglClient(tp.ApiToken(TOKEN))
    with pytest.raises(TypeError, match="did you mean 'max_retries'"):
        client.with_options(max_retry=3)  # type: ignore[call-arg]


def _bulk_call(fn: Callable[..., Any], accounts: list[Account], **options: Any) -> Any:
    if fn.__name__ == "apply_all":
        return fn(accounts, tp.PreferencesUpdate(theme="dark"), **options)
    if fn.__name__ == "clone_all":
        return fn(accounts[0], accounts, **options)
    return fn(accounts, **options)


@pytest.mark.parametrize("option", OPTION_NAMES)
@pytest.mark.parametrize("fn", BULK, ids=lambda fn: f"{fn.__module__}.{fn.__name__}")
def test_the_bulk_functions_check_every_option(fn: Callable[..., Any], option: str) -> None:
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="a", preferences={"theme": "light"})
        server.add_account(api_token="other", key="b")
        accounts = [Account("a", tp.ApiToken(TOKEN)), Account("b", tp.ApiToken("other"))]
        options = {"base_url": server.base_url, "rate_limit": None, option: BAD[option]}

        def run() -> None:
            results = _bulk_call(fn, accounts, **options)
            if inspect.isasyncgen(results):
                asyncio.run(_drain(results))
            else:
                list(results)

        with pytest.raises(tp.TogglError):
            run()
        assert server.requests == []


async def _drain(results: AsyncIterator[Any]) -> list[Any]:
    return [r async for r in results]


# -- and each good value works, through every kind of entry point ------------------------------


def _good(option: str, server: FakeTogglServer, session: aiohttp.ClientSession | None) -> Any:
    return {
        "base_url": server.base_url,
        "timeout": 5,
        "retry": tp.RetryPolicy(max_retries=1),
        "max_retries": 1,
        "rate_limit": 1000,
        "session": session,
        "user_agent": "my-app/1.0",
        "max_response_bytes": 1 << 20,
        "transport": MockTransport(server),
    }[option]


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as s:
        yield s


@pytest.mark.parametrize("option", OPTION_NAMES)
async def test_async_entry_points_work_with_every_option(option: str, session: aiohttp.ClientSession) -> None:
    async with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="a", preferences={"theme": "light"})
        server.add_account(api_token="other", key="b")
        accounts = [Account("a", tp.ApiToken(TOKEN)), Account("b", tp.ApiToken("other"))]
        options = {"base_url": server.base_url, "rate_limit": None, option: _good(option, server, session)}
        async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), **options) as client:
            assert (await client.get_preferences()).theme == "light"
            async with client.with_options(**{option: _good(option, server, session)}) as copy:
                assert (await copy.get_preferences()).theme == "light"
        for fn in BULK[:3]:
            results = [r async for r in _bulk_call(fn, accounts, **options)]
            assert results and all(r.ok for r in results), (fn.__name__, results)


@pytest.mark.parametrize("option", OPTION_NAMES)
def test_sync_entry_points_work_with_every_option(option: str) -> None:
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="a", preferences={"theme": "light"})
        server.add_account(api_token="other", key="b")
        accounts = [Account("a", tp.ApiToken(TOKEN)), Account("b", tp.ApiToken("other"))]
        value = _good(option, server, None)
        options = {"base_url": server.base_url, "rate_limit": None, option: value}
        if option == "session":
            return  # the blocking entry points take session=None only (tested in test_sync.py)
        with tp.TogglClient(tp.ApiToken(TOKEN), **options) as client:
            assert client.get_preferences().theme == "light"
            with client.with_options(**{option: value}) as copy:
                assert copy.get_preferences().theme == "light"
        for fn in BULK[3:]:
            results = list(_bulk_call(fn, accounts, **options))
            assert results and all(r.ok for r in results), (fn.__name__, results)


# -- max_retries --------------------------------------------------------------------------------


async def test_max_retries_is_short_for_a_retry_policy(raw_server: RawServer) -> None:
    raw_server.script = [reply(503, b"down")]
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN), base_url=raw_server.base_url, rate_limit=None, max_retries=0
    ) as client:
        assert client.retry == tp.RetryPolicy(max_retries=0)
        with pytest.raises(tp.ServerError) as info:
            await client.get_preferences()
    assert info.value.attempts == 1 and raw_server.hits == 1


@pytest.mark.parametrize("cls", CLIENTS)
def test_max_retries_and_retry_together_are_a_config_error(cls: type) -> None:
    with pytest.raises(tp.TogglConfigError, match="not both"):
        cls(tp.ApiToken(TOKEN), retry=tp.RetryPolicy(), max_retries=3)
    with pytest.raises(tp.TogglConfigError, match="not both"):
        cls(tp.ApiToken(TOKEN)).with_options(retry=tp.RetryPolicy(), max_retries=3)


@pytest.mark.parametrize("bad", [-1, True, 1.5, "3"])
def test_max_retries_must_be_a_count(bad: object) -> None:
    with pytest.raises(tp.TogglConfigError, match="max_retries"):
        tp.AsyncTogglClient(tp.ApiToken(TOKEN), max_retries=bad)  # type: ignore[arg-type]


def test_with_options_max_retries_keeps_the_rest_of_the_policy() -> None:
    budget = tp.RetryBudget()
    policy = tp.RetryPolicy(max_retries=5, backoff_base=0.1, budget=budget)
    client = tp.AsyncTogglClient(tp.ApiToken(TOKEN), retry=policy)
    copy = client.with_options(max_retries=1)
    assert copy.retry.max_retries == 1
    assert copy.retry.backoff_base == 0.1 and copy.retry.budget is budget
    assert client.retry is policy  # the original is untouched
    assert client.with_options(timeout=5).retry is policy


# -- per-call timeout ---------------------------------------------------------------------------


def _endpoint_methods() -> Iterator[tuple[str, Callable[..., Any]]]:
    for owner in (
        tp.AsyncTogglClient,
        tp.TogglClient,
        type(tp.AsyncTogglClient(tp.ApiToken(TOKEN)).with_raw_response),
        type(tp.TogglClient(tp.ApiToken(TOKEN)).with_raw_response),
    ):
        for name in ENDPOINTS:
            yield f"{owner.__name__}.{name}", getattr(owner, name)


@pytest.mark.parametrize(
    ("name", "method"), list(_endpoint_methods()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_endpoint_method_takes_a_timeout(name: str, method: Callable[..., Any]) -> None:
    param = inspect.signature(method).parameters.get("timeout")
    assert param is not None, name
    assert (param.kind, param.default, param.annotation) == (
        inspect.Parameter.KEYWORD_ONLY,
        None,
        "float | None",
    )


async def hang(_: web.Request) -> web.StreamResponse:
    await asyncio.sleep(10)
    raise AssertionError("unreachable")  # pragma: no cover


CALLS: list[tuple[str, Callable[..., Any]]] = [
    ("get_preferences", lambda c, t: c.get_preferences(timeout=t)),
    ("update_preferences", lambda c, t: c.update_preferences(theme="x", timeout=t)),
    ("get_client_preferences", lambda c, t: c.get_client_preferences("web", since=1, timeout=t)),
    ("update_client_preferences", lambda c, t: c.update_client_preferences("web", {"theme": "x"}, timeout=t)),
    ("get_workspace_preferences", lambda c, t: c.get_workspace_preferences(1, timeout=t)),
    (
        "update_workspace_preferences",
        lambda c, t: c.update_workspace_preferences(1, disable_expenses=True, timeout=t),
    ),
    ("set_alpha_features", lambda c, t: c.set_alpha_features({"goals": True}, timeout=t)),
]


@pytest.mark.parametrize(("name", "call"), CALLS, ids=[n for n, _ in CALLS])
async def test_a_per_call_timeout_bounds_each_attempt_of_that_call(
    raw_server: RawServer, make: Any, name: str, call: Callable[..., Any]
) -> None:
    raw_server.script = [hang]
    async with make(raw_server.base_url, timeout=30, max_retries=1, retry=None) as client:
        started = time.monotonic()
        with pytest.raises(tp.RequestTimeoutError, match=r"0\.2s") as info:
            await call(client, 0.2)
        assert time.monotonic() - started < 5  # two attempts of 0.2 s, not of 30 s
    assert info.value.attempts == 2 and raw_server.hits == 2


@pytest.mark.parametrize(
    ("bad", "error"), [(0, ValueError), (-1, ValueError), (float("nan"), ValueError), ("1", TypeError)]
)
async def test_a_bad_per_call_timeout_is_refused_before_sending(
    fake: FakeTogglServer, client: tp.AsyncTogglClient, bad: object, error: type[Exception]
) -> None:
    with pytest.raises(error, match="timeout") as info:
        await client.get_preferences(timeout=bad)  # type: ignore[arg-type]
    assert isinstance(info.value, tp.TogglValidationError)
    assert fake.requests == []


async def test_a_per_call_timeout_leaves_the_client_timeout_alone(raw_server: RawServer) -> None:
    async def slow(_: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.3)
        return web.Response(body=b'{"theme": "ok"}')

    raw_server.script = [slow]
    async with tp.AsyncTogglClient(
        tp.ApiToken(TOKEN), base_url=raw_server.base_url, rate_limit=None, max_retries=0, timeout=5
    ) as client:
        with pytest.raises(tp.RequestTimeoutError):
            await client.get_preferences(timeout=0.05)
        assert (await client.get_preferences()).theme == "ok"


# -- with_options ---------------------------------------------------------------------------------


class Peers(RawServer):
    """Also notes the client port of each request: one port for many requests is one connection."""

    def __init__(self) -> None:
        super().__init__()
        self.ports: list[int] = []
        self.script = [reply(200, b'{"theme": "ok"}')]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        self.ports.append(request.transport.get_extra_info("peername")[1])
        return await super()._handle(request)


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    server = Peers()
    await server.start()
    yield server
    await server.stop()


class Mine(tp.AsyncTogglClient):
    pass


async def test_with_options_returns_the_same_type_sharing_the_pool(peers: Peers) -> None:
    client = Mine(tp.ApiToken(TOKEN), base_url=peers.base_url, rate_limit=None, retry=FAST_RETRY)
    async with client:
        await client.get_preferences()
        copy = client.with_options(timeout=5, user_agent="my-part/2")
        assert type(copy) is Mine and copy is not client
        async with copy:
            await copy.get_preferences()
        assert copy.closed and not client.closed  # closing the copy leaves the pool open
        await client.get_preferences()
        assert peers.seen[1].headers["User-Agent"].startswith("my-part/2 toggl-prefs/")
        assert not peers.seen[2].headers["User-Agent"].startswith("my-part")
    assert len(set(peers.ports)) == 1, "the copy opened connections of its own"
    with pytest.raises(tp.TogglConfigError, match="closed"):
        client.with_options(timeout=1)


async def test_closing_a_copy_leaves_the_original_and_closing_the_original_closes_all(peers: Peers) -> None:
    client = tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=peers.base_url, rate_limit=None)
    copy = client.with_options(timeout=5)
    other = client.with_options(timeout=7)
    await client.get_preferences()
    await copy.aclose()
    assert (client.closed, copy.closed, other.closed) == (False, True, False)
    await other.get_preferences()  # the pool lives on, on the same connection
    assert len(set(peers.ports)) == 1
    # `async with client:` promises nothing is left open after the block, however many copies are
    # still referenced: the original owns the pool.
    await client.aclose()
    assert (client.closed, copy.closed, other.closed) == (True, True, True)
    for closed in (client, copy, other):
        with pytest.raises(tp.TogglConfigError, match="closed"):
            await closed.get_preferences()
    await other.aclose()  # idempotent, harmless


async def test_the_last_copy_closes_the_pool_of_an_original_dropped_unclosed(peers: Peers) -> None:
    client = tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=peers.base_url, rate_limit=None)
    copy = client.with_options(timeout=5)
    await copy.get_preferences()
    del client
    gc.collect()
    await copy.get_preferences()
    await copy.aclose()
    assert copy.closed


async def test_copies_share_the_throttle_and_the_quota() -> None:
    async with FakeTogglServer(quota_per_hour=30) as server:
        server.add_account(api_token=TOKEN)
        async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url=server.base_url, rate_limit=10) as client:
            started = time.monotonic()
            for _ in range(3):  # a copy per call must not reset the account's spacing
                await client.with_options(timeout=5).get_preferences()
            assert time.monotonic() - started >= 0.19
            assert client.quota.remaining == 27
            async with client.with_options(rate_limit=1000) as faster:
                await faster.get_preferences()
            assert client.quota.remaining == 26  # the same account's quota, whatever the rate


# -- TOGGL_BASE_URL -------------------------------------------------------------------------------


async def test_toggl_base_url_is_read_and_an_explicit_base_url_wins(
    fake: FakeTogglServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TOGGL_BASE_URL", fake.base_url)
    async with tp.AsyncTogglClient(tp.ApiToken(TOKEN), rate_limit=None) as client:
        assert str(client.base_url) == fake.base_url
        await client.get_preferences()
    assert len(fake.requests) == 1
    explicit = tp.AsyncTogglClient(tp.ApiToken(TOKEN), base_url="https://api.example.com/api/v9")
    assert str(explicit.base_url) == "https://api.example.com/api/v9"
    monkeypatch.setenv("TOGGL_BASE_URL", "  ")
    assert str(tp.AsyncTogglClient(tp.ApiToken(TOKEN)).base_url) == tp.DEFAULT_BASE_URL


@pytest.mark.parametrize("cls", CLIENTS)
def test_a_bad_toggl_base_url_is_a_config_error_naming_it(cls: type, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOGGL_BASE_URL", "http://api.track.toggl.com/api/v9")
    with pytest.raises(tp.TogglConfigError, match=r"TOGGL_BASE_URL.*https"):
        cls(tp.ApiToken(TOKEN))
    cls(tp.ApiToken(TOKEN), base_url="https://api.track.toggl.com/api/v9")  # explicit: not read


def test_bulk_runs_read_toggl_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeTogglServer() as server:
        server.add_account(api_token=TOKEN, key="a", preferences={"theme": "light"})
        monkeypatch.setenv("TOGGL_BASE_URL", server.base_url)
        results = list(bulk_sync.fetch_all([Account("a", tp.ApiToken(TOKEN))], rate_limit=None))
    assert [r.ok for r in results] == [True]
    assert len(server.requests) == 1
