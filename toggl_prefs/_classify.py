"""Status + body + headers → the typed :class:`~toggl_prefs.errors.APIError` (pure functions)."""

from __future__ import annotations

import email.utils
import html
import re
from collections.abc import Mapping
from datetime import datetime, timezone

import orjson

from . import errors as e
from ._quota import Quota, parse_quota

# Documented messages, normalised (lower case, no trailing period), per status.
_MESSAGES: dict[int, dict[str, type[e.APIError]]] = {
    400: {
        "unknown client": e.UnknownClientError,
        "invalid feature code(s)": e.InvalidFeatureCodeError,
        "missing data": e.MissingDataError,
        "value in date_format is invalid": e.InvalidDateFormatError,
        "value in timeofday_format is invalid": e.InvalidTimeOfDayFormatError,
        "cannot set value for tosacceptneeded": e.ReadOnlyFieldError,
        "the field is not writable": e.ReadOnlyFieldError,
        "workspace not found": e.WorkspaceNotFoundError,
        "invalid since": e.InvalidSinceError,
    },
    402: {
        "workspace needs to have the locking time entries feature enabled": e.FeatureNotEnabledError,
    },
}
_STATUS: dict[int, type[e.APIError]] = {
    400: e.BadRequestError,
    402: e.PaymentRequiredError,
    403: e.ForbiddenError,
    404: e.NotFoundError,
    429: e.RateLimitError,
}
_SCAN = 16 * 1024
"""Bytes of an error page searched for its message: enough for any real page's ``<h1>``/``<title>``,
and a bound on the work a hostile page can cause."""
_TAGS = re.compile(r"<[^<>]*>")  # linear: a run of "<" without ">" fails at the next "<", no backtracking
_SPACE = re.compile(r"\s+")
# Control characters (C0, DEL, C1) become spaces: server text ends up in str(error), which terminals
# print, and escape sequences must not reach them.
_CONTROLS = dict.fromkeys([*range(0x20), *range(0x7F, 0xA0)], " ")
_MAX_MESSAGE = 300
_MAX_REQUEST_ID = 128
_MAX_RETRY_AFTER = 64  # characters; an HTTP date is 29


def normalise(message: str) -> str:
    return _SPACE.sub(" ", message).strip().rstrip(".").strip().lower()


def extract_message(body: bytes) -> str:
    """The human message in an error body: a JSON string, a JSON object's ``message``/``error``,
    an HTML page's ``<h1>`` or ``<title>``, or the plain text itself.

    Linear in the body's size whatever its shape: JSON goes to orjson, and pages and text are read
    from a bounded prefix with plain searches (no regex that can backtrack)."""
    head = body[:_SCAN].strip()
    if not head:
        return ""
    if head[:1] in (b'"', b"{"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            data = None
        if isinstance(data, str):
            return _short(data)
        if isinstance(data, dict):
            for key in ("message", "error", "error_message"):
                if isinstance(data.get(key), str):
                    return _short(data[key])
    if head[:1] == b"<":
        return _page_message(head)
    return _short(head.decode("utf-8", "replace"))


def _page_message(page: bytes) -> str:
    """The text of the page's first ``<h1>`` (if it has any), else of its ``<title>``."""
    lower = page.lower()
    for tag in (b"h1", b"title"):
        content = _element(page, lower, tag)
        if content is not None:
            text = _short(html.unescape(_TAGS.sub("", content.decode("utf-8", "replace"))))
            if text:
                return text
    return ""


def _element(page: bytes, lower: bytes, tag: bytes) -> bytes | None:
    """What lies between the first ``<tag ...>`` and the ``</tag>`` after it, or ``None``.

    Every search starts where the last one ended, so the whole is one pass over ``lower``."""
    opening, closing, at = b"<" + tag, b"</" + tag + b">", 0
    while True:
        at = lower.find(opening, at)
        if at < 0:
            return None
        at += len(opening)
        if lower[at : at + 1] in (b">", b"/", b" ", b"\t", b"\n", b"\r", b"\f"):
            break  # ``<h1>`` or ``<h1 class=...>``, not ``<h10>`` or ``<titles>``
    start = lower.find(b">", at)
    if start < 0:
        return None
    end = lower.find(closing, start + 1)
    return None if end < 0 else page[start + 1 : end]


def _short(message: str) -> str:
    # Cut first (whitespace collapses, so keep some slack), then clean: the work stays bounded.
    message = _SPACE.sub(" ", message[: _MAX_MESSAGE * 8].translate(_CONTROLS)).strip()
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 1] + "…"


def error_class(status: int, message: str) -> type[e.APIError]:
    """The most specific error class for ``status`` and the server's ``message``."""
    known = _MESSAGES.get(status)
    if known:
        norm = normalise(message)
        cls = known.get(norm)
        if cls is not None:
            return cls
        for text, cls in known.items():  # tolerate detail appended after the documented text
            if norm.startswith(text):
                return cls
    if status in _STATUS:
        return _STATUS[status]
    if status >= 500:
        return e.ServerError
    return e.APIError


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date); ``None`` if absent
    or unreadable. A date in the past means 0."""
    if value is None:
        return None
    value = value.strip()
    if len(value) > _MAX_RETRY_AFTER:
        return None
    if value.isascii() and value.isdigit():
        return float(int(value[:12]))
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return seconds if 0 <= seconds < 1e12 else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def request_id(headers: Mapping[str, str]) -> str | None:
    """The server's request id, cleaned of control characters and clipped (it is shown in errors)."""
    value = headers.get("X-Request-Id") or headers.get("X-Toggl-Request-Id")
    if not value:
        return None
    return value[:_MAX_REQUEST_ID].translate(_CONTROLS).strip() or None


def build_error(
    status: int,
    body: bytes,
    headers: Mapping[str, str],
    *,
    method: str,
    url: str,
    attempts: int = 1,
) -> e.APIError:
    """The typed error for a non-2xx response."""
    message = extract_message(body) or _reason(status)
    cls = error_class(status, message)
    quota = parse_quota(headers)
    if status == 402 and _is_quota(cls, message, quota):
        cls = e.QuotaExceededError
    err = cls(
        message,
        status=status,
        method=method,
        url=url,
        request_id=request_id(headers),
        body=body,
        attempts=attempts,
    )
    if isinstance(err, e.QuotaExceededError) and quota is not None:
        err.remaining, err.resets_in = quota.remaining, quota.resets_in
    if isinstance(err, e.RateLimitError) or (isinstance(err, e.ServerError) and status == 503):
        # RFC 9110 defines Retry-After for 429 and 503: both are honoured (RetryPolicy).
        err.retry_after = parse_retry_after(headers.get("Retry-After"))
    return err


def _is_quota(cls: type[e.APIError], message: str, quota: Quota | None) -> bool:
    """A 402 is a spent quota when the headers say 0 left, or (no headers) when it says "quota"."""
    if quota is not None and quota.remaining is not None:
        return quota.exhausted
    return cls is e.PaymentRequiredError and "quota" in message.lower()


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"
