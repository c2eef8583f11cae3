"""Toggl's hourly request quota, as its response headers report it."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

REMAINING_HEADER = "X-Toggl-Quota-Remaining"
RESETS_IN_HEADER = "X-Toggl-Quota-Resets-In"

MIN_QUOTA_WAIT = 1.0
"""The shortest wait for a spent quota: a server saying it resets in 0 s (or less) is not believed,
or an account would hammer it with 402s as fast as the loop turns."""
DEFAULT_QUOTA_WAIT = 60.0
"""The wait for a spent quota when the server does not say (or garbles) when it resets."""


@attrs.frozen
class Quota:
    """The last quota the server reported: requests ``remaining`` in the window, and ``resets_in``
    seconds until it frees up. Either is ``None`` when the server did not send it."""

    remaining: int | None = None
    resets_in: int | None = None

    @property
    def exhausted(self) -> bool:
        """True when the server said no requests are left in this window."""
        return self.remaining is not None and self.remaining <= 0


def _decimal(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    # Headers are decimal integers (docs/toggl-facts.md); anything else is ignored rather than guessed at.
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        return None
    return int(value)


def parse_quota(headers: Mapping[str, str]) -> Quota | None:
    """The quota in ``headers`` (case-insensitive mapping), or ``None`` when neither header is set."""
    remaining = _decimal(headers.get(REMAINING_HEADER))
    resets_in = _decimal(headers.get(RESETS_IN_HEADER))
    if remaining is None and resets_in is None:
        return None
    return Quota(remaining=remaining, resets_in=resets_in)


def quota_wait(resets_in: float | None) -> float:
    """Seconds to wait before asking again after a 402 "quota spent" that said ``resets_in`` (the
    parsed header, ``None`` when absent or unreadable): never less than :data:`MIN_QUOTA_WAIT`."""
    if resets_in is None:
        return DEFAULT_QUOTA_WAIT
    return max(MIN_QUOTA_WAIT, float(resets_in))
