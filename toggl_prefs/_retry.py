"""When to retry and how long to wait (pure rules), and the tenacity loop built from them."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

import attrs
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from . import errors as e
from .errors import TogglValidationError

log = logging.getLogger("toggl_prefs")


def _non_negative(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise TogglValidationError(f"RetryPolicy.{attribute.name} must be a number >= 0, not {value!r}")


class RetryBudget:
    """A retry budget shared by many clients (a bulk run): retries may add at most ``ratio`` of the
    requests made, plus ``minimum_per_second``. When a server starts failing everywhere, retries stop
    multiplying the load (no thundering herd); each first attempt still goes out.

    Thread-unsafe by design: share it between clients on one event loop."""

    def __init__(
        self,
        ratio: float = 0.2,
        minimum_per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 <= ratio <= 1 or minimum_per_second < 0:
            raise TogglValidationError("RetryBudget needs 0 <= ratio <= 1 and minimum_per_second >= 0")
        self.ratio = ratio
        self.minimum_per_second = minimum_per_second
        self._clock = clock
        self._cap = max(10.0, minimum_per_second * 10)
        self._tokens = self._cap  # start with a reserve: early blips are retried as usual
        self._last = clock()
        self.spent = 0
        self.refused = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._cap, self._tokens + (now - self._last) * self.minimum_per_second)
        self._last = now

    def deposit(self) -> None:
        """Called for each request: it earns ``ratio`` of a retry."""
        self._refill()
        self._tokens = min(self._cap, self._tokens + self.ratio)

    def withdraw(self) -> bool:
        """Take one retry from the budget; False when it is spent."""
        self._refill()
        if self._tokens >= 1:
            self._tokens -= 1
            self.spent += 1
            return True
        self.refused += 1
        return False


@attrs.frozen
class RetryPolicy:
    """How the client retries 5xx, 429, connection errors and timeouts (never 400/402/403/404).

    - ``max_retries``: retries after the first attempt (so ``2`` means at most 3 attempts).
    - ``backoff_base`` / ``backoff_cap``: full-jitter exponential backoff, in seconds: the n-th retry
      waits a random time in ``[0, min(cap, base * 2**(n-1))]``.
    - ``retry_after_cap``: the longest ``Retry-After`` honoured (on a 429 or a 503), in seconds; a
      server asking for more gets its :class:`~toggl_prefs.RateLimitError` or
      :class:`~toggl_prefs.ServerError` (with ``retry_after``) raised at once instead.
    - ``budget``: a :class:`RetryBudget` shared between clients, or ``None`` (no shared limit).
    """

    max_retries: int = attrs.field(default=2)
    backoff_base: float = attrs.field(default=0.5, validator=_non_negative)
    backoff_cap: float = attrs.field(default=8.0, validator=_non_negative)
    retry_after_cap: float = attrs.field(default=60.0, validator=_non_negative)
    budget: RetryBudget | None = attrs.field(default=None, eq=False)
    """An optional :class:`RetryBudget` shared with other clients (bulk runs use one)."""

    @max_retries.validator
    def _check_max(self, _: attrs.Attribute[int], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TogglValidationError(f"RetryPolicy.max_retries must be an int >= 0, not {value!r}")

    def is_retryable(self, exc: BaseException) -> bool:
        """Whether ``exc`` is worth another attempt under this policy."""
        if isinstance(exc, (e.RateLimitError, e.ServerError)):
            return exc.retry_after is None or exc.retry_after <= self.retry_after_cap
        return isinstance(exc, e.TransportError)

    def delay(self, retry_number: int, exc: BaseException | None, rand: Callable[[], float]) -> float:
        """Seconds to wait before retry ``retry_number`` (1-based) after ``exc``.

        ``rand`` returns a float in [0, 1); a server's ``Retry-After`` takes precedence.
        """
        if isinstance(exc, (e.RateLimitError, e.ServerError)) and exc.retry_after is not None:
            return min(exc.retry_after, self.retry_after_cap)
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** (retry_number - 1))
        return ceiling * rand()


def retrying(policy: RetryPolicy, describe: str, rand: Callable[[], float] = random.random) -> AsyncRetrying:
    """A fresh tenacity loop for one call (tenacity objects keep per-call state)."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        return policy.delay(state.attempt_number, exc, rand)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.info(
            "%s: attempt %d failed (%s); retrying in %.2fs",
            describe,
            state.attempt_number,
            type(exc).__name__,
            delay,
        )

    budget = policy.budget

    def should_retry(exc: BaseException) -> bool:
        if not policy.is_retryable(exc):
            return False
        return budget is None or budget.withdraw()

    return AsyncRetrying(
        stop=stop_after_attempt(policy.max_retries + 1),
        retry=retry_if_exception(should_retry),
        wait=wait,
        sleep=asyncio.sleep,
        before_sleep=before_sleep,
        reraise=True,
    )
