"""Checks on everything that goes into a URL, done before any request."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Final

from yarl import URL

from .errors import TogglConfigError, TogglFieldError, TogglValidationError

DEFAULT_BASE_URL: Final = "https://api.track.toggl.com/api/v9"
CLIENT_TYPES: Final = ("desktop", "web")
"""The client types Toggl documents for ``/me/preferences/{client}``."""

_CLIENT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() in ("localhost", "localhost.") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_base_url(base_url: str | URL) -> URL:
    """The base URL, without a trailing slash; https unless it points at a loopback host."""
    try:
        url = URL(str(base_url))
    except (TypeError, ValueError) as exc:
        raise TogglConfigError(f"base_url is not a URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise TogglConfigError("base_url must be an absolute http(s) URL")
    if url.user is not None or url.password is not None:
        raise TogglConfigError("base_url must not carry credentials; pass auth= instead")
    if url.query_string or url.fragment:
        raise TogglConfigError("base_url must not have a query or fragment")
    if url.scheme == "http" and not is_loopback(url.host):
        raise TogglConfigError(
            "base_url must use https (plain http is allowed only for loopback hosts such as a fake server)"
        )
    return url.with_path(url.path.rstrip("/"))


def check_client(client: str) -> str:
    """A client type safe to put into a path segment."""
    if not isinstance(client, str):
        raise TogglFieldError(f"client must be a str such as 'desktop' or 'web', not {type(client).__name__}")
    if not _CLIENT_TOKEN.fullmatch(client):
        raise TogglValidationError(
            f"client {client!r} is not a client type: use 'desktop' or 'web' "
            "(other values must be 1-64 letters, digits, '_' or '-')"
        )
    return client


def check_workspace_id(workspace_id: int) -> int:
    if isinstance(workspace_id, bool) or not isinstance(workspace_id, int):
        raise TogglFieldError(f"workspace_id must be an int, not {type(workspace_id).__name__}")
    if workspace_id <= 0:
        raise TogglValidationError(f"workspace_id must be positive, not {workspace_id}")
    return workspace_id


def since_param(since: int | datetime) -> str:
    """``since`` as the UNIX timestamp (seconds) the API takes."""
    if isinstance(since, bool):
        raise TogglFieldError("since must be an int UNIX timestamp or an aware datetime, not bool")
    if isinstance(since, datetime):
        if since.tzinfo is None or since.utcoffset() is None:
            raise TogglValidationError("since must be a timezone-aware datetime (a naive one is ambiguous)")
        return str(int(since.timestamp()))
    if isinstance(since, int):
        if since < 0:
            raise TogglValidationError(f"since must be a UNIX timestamp >= 0, not {since}")
        return str(since)
    raise TogglFieldError(
        f"since must be an int UNIX timestamp or an aware datetime, not {type(since).__name__}"
    )
