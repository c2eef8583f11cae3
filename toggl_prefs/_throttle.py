"""A per-client leaky bucket: requests leave at most ``rate`` per second, queued in arrival order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from .errors import TogglValidationError


def next_slot(now: float, free_at: float, interval: float) -> tuple[float, float]:
    """(delay before this request may go, when the bucket is free again) — the whole rule."""
    start = max(now, free_at)
    return start - now, start + interval


class Throttle:
    """Spaces requests ``1/rate`` seconds apart. The first request goes at once.

    A cancelled waiter gives its slot back when nobody queued behind it; otherwise the slot stays
    spent (re-planning everyone behind could only be wrong in the unsafe direction).
    """

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
            raise TogglValidationError(
                f"rate_limit must be a number of requests per second > 0, or None; not {rate!r}"
            )
        self.rate = float(rate)
        self._interval = 1.0 / self.rate
        self._free_at = 0.0
        self._clock = clock

    async def wait(self) -> None:
        delay, self._free_at = next_slot(self._clock(), self._free_at, self._interval)
        if delay > 0:
            reserved_until = self._free_at
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                if self._free_at == reserved_until:
                    self._free_at -= self._interval
                raise
