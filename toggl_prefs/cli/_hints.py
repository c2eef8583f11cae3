"""What to do about an error, when the command line can tell (pure functions)."""

from __future__ import annotations

from yarl import URL

from .. import errors as e

API_PATH = "/api/v9"


def hint_for(exc: BaseException, base_url: str) -> str | None:
    """A next step for ``exc``, or ``None`` when the error says it all."""
    if isinstance(exc, e.NotFoundError) and not isinstance(exc, e.WorkspaceNotFoundError):
        path = URL(base_url).path.rstrip("/")
        if not path.endswith(API_PATH):
            return f"--base-url {base_url} has no {API_PATH}: try --base-url {base_url.rstrip('/')}{API_PATH}"
    if isinstance(exc, e.ForbiddenError):
        return (
            "Toggl answers 403 to wrong credentials too: check --token / TOGGL_API_TOKEN "
            "(or TOGGL_EMAIL and TOGGL_PASSWORD) and your access to what you asked for"
        )
    return None


def describe_error(exc: BaseException) -> str:
    """``Class: message`` for one line of output. A body that repeats the status (aiohttp's
    ``404: Not Found``) is not shown as ``404: 404: Not Found``."""
    text = str(exc)
    if isinstance(exc, e.APIError):
        once = f"{exc.status}: "
        while text.startswith(once + once):
            text = text[len(once) :]
    return f"{type(exc).__name__}: {text}"
