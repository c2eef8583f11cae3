"""Review of the core's newest parts as a hostile transport / racing caller would use them: answers
of the wrong shape from a custom transport, credentials reachable through the seam, copies of a
closed client, out-of-range numbers, and a transport raising ``KeyboardInterrupt``-like errors on
the sync facade's loop thread."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

import toggl_prefs as tp
from toggl_prefs.testing import FakeTogglServer, MockTransport

Answer = tuple[Any, Any, Any]
OK: Answer = (200, {"Content-Type": "application/json"}, b'{"theme": "dark"}')
SECRET = "review-SECRET-token-93ad1"
SECRETS = (SECRET, base64.b64encode(f"{SECRET}:api_token".encode()).decode())
FAST = tp.RetryPolicy(max_retries=2, backoff_base=0.001, backoff_cap=0.002)


class Scripted:
    """A transport answering from a script (the last answer repeats), counting what it was sent."""

    def __init__(self, *answers: Answer | BaseException) -> None:
        self.answers = list(answers)
        self.sent = 0
        self.closed = 0

    async def send(
        self, method: str, path: str, *, params: Mapping[str, str] | None, body: bytes | None
    ) -> Answer:
        self.sent += 1
        answer = self.answers[min(self.sent, len(self.answers)) - 1]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    async def aclose(self) -> None:
        self.closed += 1


def client(transport: Any, **options: Any) -> tp.AsyncTogglClient:
    return tp.AsyncTogglClient(transport=transport, **{"rate_limit": None, "retry": FAST, **options})


# -- answers of the wrong shape: a typed error, never retried ----------------------------------------


@pytest.mark.parametrize("status", [99, 1000, 600, -1, True])
async def test_a_status_outside_http_is_a_clear_error_not_retried(status: Any) -> None:
    transport = Scripted((status, {}, b"{}"))
    async with client(transport) as toggl:
        with pytest.raises(tp.TogglConfigError, match=r"Scripted.send\(\) must return"):
            await toggl.with_raw_response.get_preferences()
    assert transport.sent == 1  # 1000 was a ServerError, retried


@pytest.mark.parametrize(
    "answer",
    [
        (200, {"X-Toggl-Quota-Remaining": 5}, b"{}"),  # AttributeError
        (200, {5: "x"}, b"{}"),  # TypeError from multidict
        (200, {"X-Request-Id": 5}, b"{}"),  # TypeError in request_id()
        (429, {"Retry-After": 5}, b"{}"),  # AttributeError in parse_retry_after()
        (200, {"X-Toggl-Quota-Remaining": b"5"}, b"{}"),  # bytes taken for text
    ],
    ids=["int value", "int name", "int request id", "int retry-after", "bytes value"],
)
async def test_headers_of_the_wrong_types_are_a_clear_error(answer: Answer) -> None:
    async with client(Scripted(answer)) as toggl:
        with pytest.raises(tp.TogglConfigError, match="headers"):
            await toggl.with_raw_response.get_preferences()


# -- numbers too large for a float ---------------------------------------------------------------


async def test_an_int_timeout_too_large_for_a_float_is_a_typed_error() -> None:
    huge = 10**400
    with pytest.raises(tp.TogglConfigError, match="timeout"):
        tp.AsyncTogglClient(tp.ApiToken(SECRET), timeout=huge)
    with pytest.raises(tp.TogglConfigError, match="rate_limit"):
        tp.AsyncTogglClient(tp.ApiToken(SECRET), rate_limit=huge)
    with pytest.raises(tp.TogglConfigError, match="timeout"):
        tp.TogglClient(tp.ApiToken(SECRET), timeout=huge)
    transport = Scripted(OK)
    async with client(transport) as toggl:
        with pytest.raises(tp.TogglConfigError, match="timeout"):
            toggl.with_options(timeout=huge)
        with pytest.raises(tp.TogglValidationError, match="timeout"):
            await toggl.get_preferences(timeout=huge)
        # a large float is fine: it only never expires
        assert (await toggl.get_preferences(timeout=1e300)).theme == "dark"
    assert transport.sent == 1


# -- copies of a closed client ----------------------------------------------------------------------


async def test_a_copy_of_a_closed_client_does_not_send_through_its_closed_transport() -> None:
    transport = Scripted(OK)
    original = client(transport)
    copy = original.with_options(timeout=5)
    assert (await copy.get_preferences()).theme == "dark"
    await original.aclose()
    assert copy.closed and transport.closed == 1
    with pytest.raises(tp.TogglConfigError, match="closed"):
        await copy.get_preferences()
    with pytest.raises(tp.TogglConfigError, match="closed"):
        await copy.with_raw_response.get_preferences()
    assert transport.sent == 1  # nothing went to the closed transport


async def test_a_copy_retrying_when_its_original_closes_stops_without_another_send() -> None:
    down: Answer = (503, {"Retry-After": "0.5"}, b"down")  # the copy backs off 0.5 s, exactly
    transport = Scripted(down)
    original = client(transport)
    copy = original.with_options(max_retries=5)
    call = asyncio.ensure_future(copy.get_preferences())
    while transport.sent < 1:
        await asyncio.sleep(0.01)
    await original.aclose()  # while the copy backs off after its first 503
    with pytest.raises(tp.TogglConfigError, match="closed"):
        await asyncio.wait_for(call, 10)
    assert transport.sent == 1


# -- credentials reachable through the seam ---------------------------------------------------------


def _texts(value: Any, depth: int, seen: set[int]) -> Iterator[str]:
    """repr(value), and what containers and (one level) objects' __dict__ hold."""
    if id(value) in seen:
        return
    seen.add(id(value))
    try:
        yield repr(value)
    except Exception:  # noqa: S110 - a broken repr shows nothing
        pass
    if isinstance(value, str | bytes) or depth <= 0:
        return
    if isinstance(value, dict):
        for key, item in list(value.items()):
            yield from _texts(key, depth - 1, seen)
            yield from _texts(item, depth - 1, seen)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in list(value):
            yield from _texts(item, depth - 1, seen)
    else:
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            for item in list(attributes.values()):
                yield from _texts(item, 1 if depth > 1 else 0, seen)


def reachable(exc: BaseException) -> Iterator[str]:
    """What one can render from a raised error: its chain, attributes, and every frame's locals."""
    todo: list[BaseException | None] = [exc]
    done: set[int] = set()
    while todo:
        err = todo.pop()
        if err is None or id(err) in done:
            continue
        done.add(id(err))
        yield from _texts(err, 3, set())
        todo += [err.__cause__, err.__context__]
        tb = err.__traceback__
        while tb is not None:
            for value in list(tb.tb_frame.f_locals.values()):
                yield from _texts(value, 3, set())
            tb = tb.tb_next


def assert_no_credential(exc: BaseException) -> None:
    for text in reachable(exc):
        for secret in SECRETS:
            assert secret not in text, f"a credential is reachable from {type(exc).__name__}: {text[:200]}"


async def _failure(toggl: tp.AsyncTogglClient) -> tp.TogglError:
    # Called from a frame of its own: the test's locals (which hold the token) are not scanned.
    try:
        await toggl.get_preferences()
    except tp.TogglError as exc:
        return exc
    raise AssertionError("the call did not fail")


@pytest.mark.parametrize(
    "fault",
    [{"drop": True}, {"truncate": True}, {"delay": 5.0, "status": None}],
    ids=["dropped", "cut short", "timed out"],
)
async def test_no_credential_is_reachable_from_a_mock_transport_error(fault: dict[str, Any]) -> None:
    server = FakeTogglServer()  # faults come before authentication: the client's token is not the server's
    server.fail_next(3, **fault)
    toggl = tp.AsyncTogglClient(
        tp.ApiToken(SECRET), transport=MockTransport(server), rate_limit=None, retry=FAST, timeout=0.1
    )
    error = await _failure(toggl)
    await toggl.aclose()
    assert isinstance(error, tp.TransportError)
    assert_no_credential(error)


async def test_a_timeout_chains_to_nothing_the_custom_transport_held() -> None:
    class Stalling(Scripted):
        def with_auth(self, auth: tp.ApiToken | tp.BasicAuth) -> Stalling:
            return self

        async def send(self, *args: Any, **kwargs: Any) -> Answer:
            held = {"Authorization": SECRETS[1]}  # what a real transport's frame would hold
            await asyncio.sleep(10)
            return (200, held, b"{}")  # pragma: no cover

    toggl = client(Stalling(), auth=tp.ApiToken(SECRET), timeout=0.05, retry=tp.RetryPolicy(max_retries=0))
    error = await _failure(toggl)
    await toggl.aclose()
    assert isinstance(error, tp.RequestTimeoutError)
    assert_no_credential(error)


# -- a transport raising KeyboardInterrupt / SystemExit on the sync facade's loop thread ------------


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, SystemExit])
def test_an_interruption_raised_by_a_transport_reaches_the_caller_and_the_client_goes_on(
    interruption: type[BaseException],
) -> None:
    transport = Scripted(interruption(), OK)
    toggl = tp.TogglClient(transport=transport, rate_limit=None)
    with pytest.raises(interruption):  # was: the loop thread died, TogglConfigError "closed"
        toggl.get_preferences()
    assert toggl.get_preferences().theme == "dark"
    toggl.close()
    assert transport.closed == 1 and toggl.async_client.closed
