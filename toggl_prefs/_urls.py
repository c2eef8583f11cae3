"""Checks on everything that goes into a URL, done before any request."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Final

from yarl import URL

from ._constants import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from .errors import TogglConfigError, TogglFieldError, TogglValidationError

CLIENT_TYPES: Final = ("desktop", "web")
"""The client types Toggl documents for ``/me/preferences/{client}``."""

_CLIENT_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# A DNS label as hosts are written (underscores are common in internal names); IDNA hosts arrive here
# already encoded (xn--...).
_LABEL = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?")
_INT64_MAX: Final = 2**63 - 1  # the API's ids and timestamps are int64


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a literal loopback address (127.0.0.0/8, ::1) or exactly ``localhost``.

    Not ``localhost.`` nor ``*.localhost``: those are resolved by DNS or a hosts file on many
    machines, and plain http must never leave the machine."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_host(url: URL) -> None:
    """An IP literal, or a host name made of valid labels (yarl accepts spaces, ``%``, empty labels
    and invalid ``xn--`` names, which fail later, at request time, with the wrong error)."""
    try:
        host = url.host  # decodes IDNA: an invalid xn-- label raises UnicodeError (a ValueError)
        raw = url.raw_host
    except ValueError as exc:
        raise TogglConfigError(f"base_url has an invalid host name: {exc}") from None
    if not host or not raw:
        raise TogglConfigError("base_url must be an absolute http(s) URL")
    try:
        ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        pass
    else:
        return
    name = raw[:-1] if raw.endswith(".") else raw
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
        raise TogglConfigError(f"base_url has an invalid host name: {host!r}")


def check_base_url(base_url: str | URL) -> URL:
    """The base URL, without a trailing slash; https unless it points at a loopback host."""
    if isinstance(base_url, str) and any(ch < " " or ch == "\x7f" for ch in base_url):
        # yarl would drop CR, LF and tabs silently, and other control characters make no URL.
        raise TogglConfigError("base_url must not contain control characters (CR, LF, tab, ...)")
    try:
        url = URL(str(base_url))
    except (TypeError, ValueError) as exc:
        raise TogglConfigError(f"base_url is not a URL: {exc}") from None
    if url.scheme not in ("https", "http") or not url.raw_host:
        raise TogglConfigError("base_url must be an absolute http(s) URL")
    _check_host(url)
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
    if workspace_id > _INT64_MAX:
        raise TogglValidationError(f"workspace_id must be at most 2**63 - 1 (an int64), not {workspace_id}")
    return workspace_id


def since_param(since: int | datetime) -> str:
    """``since`` as the UNIX timestamp (seconds) the API takes."""
    if isinstance(since, bool):
        raise TogglFieldError("since must be an int UNIX timestamp or an aware datetime, not bool")
    if isinstance(since, datetime):
        if since.tzinfo is None or since.utcoffset() is None:
            raise TogglValidationError("since must be a timezone-aware datetime (a naive one is ambiguous)")
        seconds = since.timestamp()
        if seconds < 0:
            raise TogglValidationError(
                f"since must not be before 1970-01-01 UTC (the UNIX epoch), not {since}"
            )
        return str(int(seconds))
    if isinstance(since, int):
        if since < 0:
            raise TogglValidationError(f"since must be a UNIX timestamp >= 0 (1970 or later), not {since}")
        if since > _INT64_MAX:
            raise TogglValidationError(f"since must be at most 2**63 - 1 (an int64), not {since}")
        return str(since)
    raise TogglFieldError(
        f"since must be an int UNIX timestamp or an aware datetime, not {type(since).__name__}"
    )
