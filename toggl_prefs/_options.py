"""The client options: their names and types (:class:`ClientOptions`), their defaults, and the
checked value object every entry point builds from them (:class:`ClientConfig`).

One list for the two clients, their ``with_options()`` and the bulk functions: a new option is
added here (and to the clients' explicit signatures, which a test holds to this list).
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from typing import Any, Final, TypedDict

import aiohttp
import attrs
from yarl import URL

from ._constants import (
    BASE_URL_ENV,
    DEFAULT_BASE_URL,
    DEFAULT_MAX_RESPONSE_BYTES,
    DEFAULT_RATE_LIMIT,
    DEFAULT_TIMEOUT,
)
from ._retry import RetryPolicy
from ._transport import Transport, check_user_agent
from ._urls import check_base_url
from .errors import TogglConfigError, TogglError, TogglFieldError, TogglValidationError


class ClientOptions(TypedDict, total=False):
    """The options of :class:`~toggl_prefs.AsyncTogglClient` and :class:`~toggl_prefs.TogglClient`,
    of their ``with_options()``, and of the bulk functions. Each may be left out (its default).

    Type your own wrappers with it: ``def connect(**options: Unpack[ClientOptions]) -> ...``.
    """

    base_url: str | URL | None
    """API root; ``None``: ``$TOGGL_BASE_URL``, else :data:`~toggl_prefs.DEFAULT_BASE_URL`."""
    timeout: float
    """Seconds on the wire per attempt (connect, and each wait for the server's next bytes)."""
    retry: RetryPolicy | None
    """How failures are retried; ``None``: ``RetryPolicy()``."""
    max_retries: int | None
    """Shorthand for ``RetryPolicy(max_retries=...)`` (not together with ``retry``)."""
    rate_limit: float | None
    """Requests per second per client; ``None`` turns the throttle off."""
    session: aiohttp.ClientSession | None
    """An aiohttp session you own, to share one connection pool (async clients and bulk only)."""
    user_agent: str | None
    """Your product's token, put in front of toggl-prefs' own ``User-Agent``."""
    max_response_bytes: int
    """The largest response body accepted, counted after decoding."""
    transport: Transport | None
    """What requests are sent through (:class:`~toggl_prefs.Transport`); ``None``: aiohttp."""


OPTION_NAMES: Final[tuple[str, ...]] = tuple(ClientOptions.__annotations__)
OPTION_DEFAULTS: Final[Mapping[str, Any]] = {
    "base_url": None,
    "timeout": DEFAULT_TIMEOUT,
    "retry": None,
    "max_retries": None,
    "rate_limit": DEFAULT_RATE_LIMIT,
    "session": None,
    "user_agent": None,
    "max_response_bytes": DEFAULT_MAX_RESPONSE_BYTES,
    "transport": None,
}
"""What leaving an option out means (the clients' signatures show the same defaults)."""

_DEFAULT_URL = check_base_url(DEFAULT_BASE_URL)


def pick_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The options among ``values`` (a signature's ``locals()``): every name must be there."""
    return {name: values[name] for name in OPTION_NAMES}


def check_option_names(options: Mapping[str, Any], where: str) -> None:
    for name in options:
        if name not in OPTION_DEFAULTS:
            close = difflib.get_close_matches(str(name), OPTION_NAMES, n=1, cutoff=0.6)
            hint = (
                f"; did you mean {close[0]!r}?" if close else f"; the options are {', '.join(OPTION_NAMES)}"
            )
            raise TogglFieldError(f"{where} got an unknown option {name!r}{hint}")


def _positive_float(value: object) -> float | None:
    """``value`` as a finite float > 0, else ``None`` (an int too large for a float included)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and number > 0 else None


def check_timeout(timeout: object, error: type[TogglError] = TogglConfigError) -> float:
    """``timeout`` as seconds: a finite number > 0."""
    seconds = _positive_float(timeout)
    if seconds is None:
        if error is TogglValidationError and not isinstance(timeout, (int, float)):
            error = TogglFieldError  # a per-call timeout of the wrong type is a TypeError too
        raise error(f"timeout must be a finite number of seconds > 0, not {_show(timeout)}")
    return seconds


def _show(value: object) -> str:
    # repr() of an int past 4300 digits raises ValueError (and a huge one is unreadable anyway).
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return "an int too large for a float" if value > 0 else "a negative int"
    return repr(value)


def resolve_base_url(base_url: str | URL | None, environ: Mapping[str, str] | None = None) -> URL:
    """An explicit ``base_url``, else ``$TOGGL_BASE_URL`` (when set and not blank), else Toggl's."""
    if base_url is not None:
        return check_base_url(base_url)
    value = (os.environ if environ is None else environ).get(BASE_URL_ENV, "").strip()
    if not value:
        return _DEFAULT_URL
    try:
        return check_base_url(value)
    except TogglConfigError as exc:
        raise TogglConfigError(f"${BASE_URL_ENV}: {exc}") from None


def resolve_retry(retry: object, max_retries: object, base: RetryPolicy | None = None) -> RetryPolicy:
    """The policy from ``retry`` or the ``max_retries`` shorthand (applied to ``base``)."""
    if retry is not None and max_retries is not None:
        raise TogglConfigError(
            "give retry= or max_retries=, not both (max_retries=N is short for RetryPolicy(max_retries=N); "
            "set it on the policy instead)"
        )
    if retry is not None:
        if not isinstance(retry, RetryPolicy):
            raise TogglFieldError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        return retry
    policy = base if base is not None else RetryPolicy()
    if max_retries is None:
        return policy
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise TogglConfigError(f"max_retries must be an int >= 0 (or None), not {max_retries!r}")
    return attrs.evolve(policy, max_retries=max_retries)


def _check_rate(rate_limit: object) -> float | None:
    if rate_limit is None:
        return None
    rate = _positive_float(rate_limit)
    if rate is None:
        raise TogglConfigError(
            f"rate_limit must be a number of requests per second > 0, or None; not {_show(rate_limit)}"
        )
    return rate


def _check_max_bytes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TogglConfigError(f"max_response_bytes must be an int > 0, not {value!r}")
    return value


def _check_session(session: object) -> aiohttp.ClientSession | None:
    if session is not None and not isinstance(session, aiohttp.ClientSession):
        raise TogglFieldError(f"session must be an aiohttp.ClientSession, not {type(session).__name__}")
    return session


def _check_transport(transport: object) -> Transport | None:
    if transport is None:
        return None
    if not callable(getattr(transport, "send", None)) or not callable(getattr(transport, "aclose", None)):
        raise TogglFieldError(
            f"transport must have async send(method, path, *, params, body) and async aclose() "
            f"(see toggl_prefs.Transport), not {type(transport).__name__}"
        )
    return transport  # type: ignore[return-value]  # checked structurally above


@attrs.frozen
class ClientConfig:
    """The checked options of one client: what :class:`ClientOptions` resolve to (``max_retries``
    folded into ``retry``, ``base_url`` read from the environment when not given)."""

    base_url: URL
    timeout: float
    retry: RetryPolicy
    rate_limit: float | None
    session: aiohttp.ClientSession | None = attrs.field(eq=False)
    user_agent: str | None
    max_response_bytes: int
    transport: Transport | None = attrs.field(eq=False)

    @classmethod
    def build(cls, options: Mapping[str, Any], *, where: str = "the client") -> ClientConfig:
        """Check ``options`` (any subset of :class:`ClientOptions`) before anything is sent."""
        check_option_names(options, where)
        given = {**OPTION_DEFAULTS, **options}
        return cls._make(given, given["retry"], given["max_retries"], None, given["base_url"])

    def evolve(self, changes: Mapping[str, Any], *, where: str = "with_options()") -> ClientConfig:
        """A copy with ``changes`` (as ``with_options()`` takes them): the options not named keep
        their values; ``max_retries`` alone changes the current policy's."""
        check_option_names(changes, where)
        given = {**self.as_options(), **changes}
        base = self.retry if "retry" not in changes else None
        retry = changes.get("retry") if "retry" in changes else None
        url = changes.get("base_url", self.base_url)
        return self._make(given, retry, changes.get("max_retries"), base, url)

    @classmethod
    def _make(
        cls,
        given: Mapping[str, Any],
        retry: object,
        max_retries: object,
        base: RetryPolicy | None,
        base_url: str | URL | None,
    ) -> ClientConfig:
        session = _check_session(given["session"])
        transport = _check_transport(given["transport"])
        user_agent = given["user_agent"]
        check_user_agent(user_agent)
        if transport is not None and session is not None:
            raise TogglConfigError(
                "give session= or transport=, not both: a session is the default transport's connection pool"
            )
        if transport is not None and user_agent not in (None, ""):
            raise TogglConfigError(
                "user_agent= is sent by the default transport; a custom transport= sets its own headers"
            )
        return cls(
            base_url=resolve_base_url(base_url),
            timeout=check_timeout(given["timeout"]),
            retry=resolve_retry(retry, max_retries, base),
            rate_limit=_check_rate(given["rate_limit"]),
            session=session,
            user_agent=user_agent or None,
            max_response_bytes=_check_max_bytes(given["max_response_bytes"]),
            transport=transport,
        )

    def as_options(self) -> dict[str, Any]:
        """The options that build this configuration again (``max_retries`` is in ``retry``)."""
        return {
            "base_url": self.base_url,
            "timeout": self.timeout,
            "retry": self.retry,
            "max_retries": None,
            "rate_limit": self.rate_limit,
            "session": self.session,
            "user_agent": self.user_agent,
            "max_response_bytes": self.max_response_bytes,
            "transport": self.transport,
        }
