"""Raw responses: what the server answered to a successful call, next to the parsed result, without a
second request (``client.with_raw_response.get_preferences()``).

The endpoint methods do not change for it: :func:`capture` runs one of them with a context variable
set, and the request loop notes the answer of the attempt that succeeded there. A context variable
(not an argument) keeps the endpoints' signatures the public ones, and costs one lookup per call.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Generic, TypeVar

import attrs

from ._classify import request_id
from ._quota import Quota, parse_quota

T = TypeVar("T")


@attrs.frozen
class RawResponse(Generic[T]):
    """The answer to a successful call: ``parsed`` is what the method returns, the rest is what
    the server said (of the attempt that succeeded, when retries were needed)."""

    status: int
    """The HTTP status (a 2xx)."""
    headers: Mapping[str, str] = attrs.field(repr=False)
    """The response headers (case-insensitive)."""
    request_id: str | None
    """The server's request id (``X-Request-Id`` / ``X-Toggl-Request-Id``), if it sent one."""
    quota: Quota
    """The quota this response reported (all ``None`` when it did not say)."""
    parsed: T = attrs.field(repr=False)
    """What the method returns (``None`` for the updates that return nothing)."""
    attempts: int = 1
    """Attempts it took, retries included (as :attr:`toggl_prefs.APIError.attempts` for a failure)."""


class Answer:
    """Filled in by the request loop while a :func:`capture` is active."""

    __slots__ = ("attempts", "headers", "status")

    def __init__(self) -> None:
        self.status = 0
        self.headers: Mapping[str, str] = {}
        self.attempts = 0


CAPTURE: ContextVar[Answer | None] = ContextVar("toggl_prefs_raw_response", default=None)


async def capture(call: Awaitable[T]) -> RawResponse[T]:
    """Await ``call`` (one endpoint method's coroutine) and return its result with the answer."""
    answer = Answer()
    token = CAPTURE.set(answer)
    try:
        parsed = await call
    finally:
        CAPTURE.reset(token)
    return RawResponse(
        status=answer.status,
        headers=answer.headers,
        request_id=request_id(answer.headers),
        quota=parse_quota(answer.headers) or Quota(),
        parsed=parsed,
        attempts=answer.attempts,
    )


def raw_signature(method: Callable[..., Any]) -> inspect.Signature:
    """``method``'s signature, returning a ``RawResponse`` of what it returns."""
    signature = inspect.signature(method)
    returns = signature.return_annotation
    name = returns if isinstance(returns, str) else getattr(returns, "__name__", repr(returns))
    return signature.replace(return_annotation=f"RawResponse[{name}]")


def mirror(wrapper: Callable[..., Any], method: Callable[..., Any], owner: str) -> None:
    """Give ``wrapper`` the name, signature and a docstring of the endpoint ``method`` it mirrors."""
    wrapper.__name__ = method.__name__
    wrapper.__qualname__ = f"{owner}.{method.__name__}"
    wrapper.__doc__ = f"{method.__qualname__}, returning a :class:`RawResponse` (status, headers, ...)."
    wrapper.__signature__ = raw_signature(method)  # type: ignore[attr-defined]
