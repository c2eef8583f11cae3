"""The client options' defaults, in one place (every entry point takes them from here)."""

from __future__ import annotations

from typing import Final

DEFAULT_BASE_URL: Final = "https://api.track.toggl.com/api/v9"
BASE_URL_ENV: Final = "TOGGL_BASE_URL"
"""The environment variable read when no ``base_url`` is given (an explicit one wins)."""
DEFAULT_TIMEOUT: Final = 30.0
"""Seconds allowed on the wire per attempt (to connect, and for each wait for the server's bytes)."""
DEFAULT_RATE_LIMIT: Final = 1.0
"""Requests per second per client: Toggl's documented safe rate per API token."""
DEFAULT_MAX_RESPONSE_BYTES: Final = 8 * 1024 * 1024
"""The largest response body accepted, counted after decoding a compressed body."""
MAX_USER_AGENT: Final = 256
"""The longest ``user_agent`` token accepted, in characters."""
