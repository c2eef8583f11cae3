"""The exceptions toggl-prefs raises. All derive from :class:`TogglError`::

    TogglError
    ├── TogglConfigError (ValueError)          the client cannot be set up: credentials, base_url, ...
    ├── TogglValidationError (ValueError)      a bad argument, found before anything is sent
    │   └── TogglFieldError (TypeError)            unknown field name, or a value of the wrong type
    ├── TransportError                         no HTTP answer: refused, reset, DNS, TLS, not HTTP
    │   └── RequestTimeoutError
    ├── ResponseDecodeError                    an answer that is not what it should be (or too big)
    └── APIError                               .status .message .method .url .request_id .body .attempts
        ├── BadRequestError                    400
        │   ├── UnknownClientError                 "Unknown client"
        │   ├── InvalidFeatureCodeError            "Invalid feature code(s)"
        │   ├── MissingDataError                   "Missing data"
        │   ├── InvalidDateFormatError             "Value in date_format is invalid"
        │   ├── InvalidTimeOfDayFormatError        "Value in timeofday_format is invalid"
        │   ├── InvalidSinceError                  "Invalid since"
        │   ├── ReadOnlyFieldError                 "Cannot set value for ToSAcceptNeeded", "...not writable"
        │   └── WorkspaceNotFoundError             "Workspace not found"
        ├── PaymentRequiredError               402
        │   ├── QuotaExceededError                 quota headers say 0 left: .remaining .resets_in
        │   └── FeatureNotEnabledError             "Workspace needs ... Locking time entries feature ..."
        ├── ForbiddenError                     403 (also bad credentials)
        ├── NotFoundError                      404
        ├── RateLimitError                     429: .retry_after
        └── ServerError                        5xx (.retry_after on a 503 that asked for a wait)

No exception carries a token, a password or an ``Authorization`` header: requests are described by
method and URL only, and toggl-prefs never puts credentials into URLs.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "BadRequestError",
    "FeatureNotEnabledError",
    "ForbiddenError",
    "InvalidDateFormatError",
    "InvalidFeatureCodeError",
    "InvalidSinceError",
    "InvalidTimeOfDayFormatError",
    "MissingDataError",
    "NotFoundError",
    "PaymentRequiredError",
    "QuotaExceededError",
    "RateLimitError",
    "ReadOnlyFieldError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "ServerError",
    "TogglConfigError",
    "TogglError",
    "TogglFieldError",
    "TogglValidationError",
    "TransportError",
    "UnknownClientError",
    "WorkspaceNotFoundError",
]

_BODY_KEEP = 2048  # bytes of a response body kept on an error, enough to debug, not to hoard


def _clip(body: bytes | str | None) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body[:_BODY_KEEP].decode("utf-8", "replace")
    return body[:_BODY_KEEP]


class TogglError(Exception):
    """Base of every error toggl-prefs raises."""

    attempts: int = 1
    """How many attempts were made before this error was final."""


class TogglConfigError(TogglError, ValueError):
    """The client cannot be set up: no credentials, an insecure ``base_url``, ..."""


class TogglValidationError(TogglError, ValueError):
    """A bad argument, found before anything is sent; also a ``ValueError`` for older ``except`` clauses."""


class TogglFieldError(TogglValidationError, TypeError):
    """An unknown field name or a value of the wrong type, found before anything is sent.

    Also a ``TypeError`` (and, through :class:`TogglValidationError`, a ``ValueError``).
    """


class TransportError(TogglError):
    """The request did not get an HTTP answer: connection refused or reset, DNS, TLS."""

    def __init__(self, message: str, *, method: str = "", url: str = "", attempts: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.method = method
        self.url = url
        self.attempts = attempts

    def __str__(self) -> str:
        where = f" ({self.method} {self.url})" if self.method else ""
        tries = f", after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.message}{where}{tries}"


class RequestTimeoutError(TransportError):
    """An attempt took longer than the client's ``timeout`` on the wire."""


class ResponseDecodeError(TogglError):
    """A successful response whose body is not the JSON it should be (``.body`` holds its start)."""

    def __init__(self, message: str, *, body: bytes | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.body = _clip(body)


class APIError(TogglError):
    """The API answered with an error status.

    Attributes: ``status`` (HTTP status), ``message`` (the server's message, unquoted), ``method``,
    ``url``, ``request_id`` (from ``X-Request-Id`` / ``X-Toggl-Request-Id``, if sent), ``body``
    (the start of the raw body) and ``attempts``.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int,
        method: str = "",
        url: str = "",
        request_id: str | None = None,
        body: bytes | str | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.method = method
        self.url = url
        self.request_id = request_id
        self.body = _clip(body)
        self.attempts = attempts

    def __str__(self) -> str:
        bits = [f"{self.method} {self.url}".strip()]
        if self.request_id:
            bits.append(f"request id {self.request_id}")
        if self.attempts > 1:
            bits.append(f"{self.attempts} attempts")
        context = ", ".join(b for b in bits if b)
        return f"{self.status}: {self.message}" + (f" ({context})" if context else "")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, message={self.message!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only __init__ needs help to pickle (errors cross process pools in bulk jobs).
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[APIError], message: str, state: dict[str, Any]) -> APIError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class BadRequestError(APIError):
    """400: the server refused the request's content."""


class UnknownClientError(BadRequestError):
    """400 "Unknown client": the client type in the path is not one the server knows."""


class InvalidFeatureCodeError(BadRequestError):
    """400 "Invalid feature code(s)": an alpha feature code does not exist."""


class MissingDataError(BadRequestError):
    """400 "Missing data": the body was empty or not an object."""


class InvalidDateFormatError(BadRequestError):
    """400 "Value in date_format is invalid"."""


class InvalidTimeOfDayFormatError(BadRequestError):
    """400 "Value in timeofday_format is invalid"."""


class ReadOnlyFieldError(BadRequestError):
    """400 "Cannot set value for ToSAcceptNeeded" / "The field is not writable"."""


class WorkspaceNotFoundError(BadRequestError):
    """400 "Workspace not found"."""


class InvalidSinceError(BadRequestError):
    """400 "Invalid since": the ``since`` query parameter was not a UNIX timestamp the server takes.

    Not in Toggl's reference (the client refuses a bad ``since`` before sending); Go servers of this
    kind answer it for a malformed query value, and so does the fake server.
    """


class PaymentRequiredError(APIError):
    """402: a plan-gated feature, or the hourly request quota is spent."""


class QuotaExceededError(PaymentRequiredError):
    """402 with ``X-Toggl-Quota-Remaining: 0``: the hourly quota is spent. Final, never retried.

    ``remaining`` is the quota left (0) and ``resets_in`` the seconds until the window frees up,
    when the server said so.
    """

    remaining: int | None = None
    resets_in: float | None = None


class FeatureNotEnabledError(PaymentRequiredError):
    """402 "Workspace needs to have the Locking time entries feature enabled"."""


class ForbiddenError(APIError):
    """403: bad credentials, or no access to this resource (Toggl uses 403 for both)."""


class NotFoundError(APIError):
    """404."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` is the wait the server asked for, in seconds."""

    retry_after: float | None = None


class ServerError(APIError):
    """5xx."""

    retry_after: float | None = None
    """For a 503: the wait the server asked for (``Retry-After``), in seconds; otherwise ``None``."""
