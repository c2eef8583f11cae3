"""Credentials. Their reprs never show a secret."""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping

import attrs

from .errors import TogglConfigError, TogglFieldError


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not value:
        raise TogglConfigError(f"{attribute.name} must be a non-empty str")
    if attribute.name == "password":
        return  # a password may hold any character
    if ":" in value:
        # A colon would split the Basic credentials at the wrong place.
        raise TogglConfigError(f"{attribute.name} must not contain ':'")
    if any(ch < " " or ch == "\x7f" for ch in value) or (
        attribute.name == "api_token" and not value.isprintable()
    ):
        raise TogglConfigError(f"{attribute.name} must not contain control characters")
    if attribute.name == "api_token" and any(ch.isspace() for ch in value):
        # A token copied with a trailing newline or space would fail as "403 Incorrect username".
        raise TogglConfigError("api_token must not contain whitespace (was it copied with a newline?)")


@attrs.frozen(repr=False)
class ApiToken:
    """Authenticate with a Toggl API token (sent as Basic ``<token>:api_token``)."""

    api_token: str = attrs.field(validator=_non_empty)

    def header(self) -> str:
        """The ``Authorization`` header value. Keep it out of logs."""
        return _basic(self.api_token, "api_token")

    def __repr__(self) -> str:
        return "ApiToken(api_token='***')"


@attrs.frozen(repr=False)
class BasicAuth:
    """Authenticate with an email address and password (HTTP Basic)."""

    email: str = attrs.field(validator=_non_empty)
    password: str = attrs.field(validator=_non_empty)

    def header(self) -> str:
        """The ``Authorization`` header value. Keep it out of logs."""
        return _basic(self.email, self.password)

    def __repr__(self) -> str:
        return f"BasicAuth(email={self.email!r}, password='***')"


Auth = ApiToken | BasicAuth


def auth_from_env(environ: Mapping[str, str] | None = None) -> Auth:
    """``TOGGL_API_TOKEN``, else ``TOGGL_EMAIL`` + ``TOGGL_PASSWORD``; else :class:`TogglConfigError`."""
    env = os.environ if environ is None else environ
    token = env.get("TOGGL_API_TOKEN", "").strip()
    if token:
        return ApiToken(token)
    email, password = env.get("TOGGL_EMAIL", "").strip(), env.get("TOGGL_PASSWORD", "")
    if email and password:
        return BasicAuth(email, password)
    raise TogglConfigError(
        "no Toggl credentials: pass ApiToken(...) or BasicAuth(...), or set TOGGL_API_TOKEN "
        "(or TOGGL_EMAIL and TOGGL_PASSWORD) in the environment"
    )


def resolve_auth(auth: Auth | None) -> Auth:
    if auth is None:
        return auth_from_env()
    if not isinstance(auth, (ApiToken, BasicAuth)):
        raise TogglFieldError(f"auth must be ApiToken, BasicAuth or None, not {type(auth).__name__}")
    return auth
