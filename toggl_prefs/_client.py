"""``AsyncTogglClient``: the six preferences endpoints over one retrying, throttled session."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from yarl import URL

from ._auth import ApiToken, BasicAuth, resolve_auth
from ._classify import build_error
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from ._quota import Quota, parse_quota
from ._retry import RetryPolicy, retrying
from ._serde import dumps
from ._throttle import Throttle
from ._transport import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Transport, session_has_cookie_jar
from ._urls import DEFAULT_BASE_URL, check_base_url, check_client, check_workspace_id, since_param
from .errors import TogglError, TogglFieldError, TogglValidationError

U = TypeVar("U", PreferencesUpdate, WorkspacePreferencesUpdate)
_DEFAULT_RETRY = RetryPolicy()


class AsyncTogglClient:
    """Async client for the Toggl Track API v9 preferences endpoints.

    Use it as ``async with AsyncTogglClient(ApiToken("...")) as toggl: ...`` (or call
    :meth:`aclose` yourself).

    :param auth: :class:`ApiToken` or :class:`BasicAuth`; ``None`` reads ``TOGGL_API_TOKEN``, then
        ``TOGGL_EMAIL``/``TOGGL_PASSWORD``, and raises :class:`TogglConfigError` if neither is set.
    :param base_url: API root; must be https except on loopback hosts (a fake server).
    :param timeout: seconds allowed on the wire per attempt: to connect, and for each wait for the
        server's next bytes (so a server that stalls or never answers fails the attempt). Waiting
        for the throttle or for a pooled connection does not count; to bound a whole call, wrap it
        in ``asyncio.timeout()``.
    :param retry: the :class:`RetryPolicy` for 5xx, 429 and transport errors.
    :param rate_limit: requests per second for this client (Toggl's safe rate is 1 per token);
        ``None`` turns the throttle off.
    :param session: an ``aiohttp.ClientSession`` you own and close (share one among many clients);
        by default the client opens its own on the running loop and closes it on exit. Create it with
        ``cookie_jar=aiohttp.DummyCookieJar()`` (a ``UserWarning`` says so otherwise): a shared cookie
        jar would send one account's cookies with another's requests.
    :param user_agent: your product's token, put in front of toggl-prefs' own ``User-Agent``
        (printable ASCII, at most 256 characters).
    :param max_response_bytes: the largest response body accepted, counted after decoding a
        compressed (gzip, deflate) body; a larger one is a :class:`ResponseDecodeError`, not retried.
    """

    def __init__(
        self,
        auth: ApiToken | BasicAuth | None = None,
        *,
        base_url: str | URL = DEFAULT_BASE_URL,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy = _DEFAULT_RETRY,
        rate_limit: float | None = 1.0,
        session: aiohttp.ClientSession | None = None,
        user_agent: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
    ) -> None:
        if not isinstance(retry, RetryPolicy):
            raise TogglFieldError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        if session is not None and not isinstance(session, aiohttp.ClientSession):
            raise TogglFieldError(f"session must be an aiohttp.ClientSession, not {type(session).__name__}")
        if session is not None and session_has_cookie_jar(session):
            warnings.warn(
                "the aiohttp session given to AsyncTogglClient keeps cookies: shared between clients of "
                "different accounts, it sends a cookie set in an answer to one account with the requests "
                "of the others; create it with cookie_jar=aiohttp.DummyCookieJar()",
                UserWarning,
                stacklevel=2,
            )
        self._auth = resolve_auth(auth)
        self.base_url: URL = check_base_url(base_url)
        self.retry = retry
        self._throttle = None if rate_limit is None else Throttle(rate_limit)
        self._transport = Transport(
            self.base_url,
            self._auth.header(),
            timeout=timeout,
            session=session,
            user_agent=user_agent,
            max_response_bytes=max_response_bytes,
        )
        self._quota = Quota()
        self._attempts_made = 0  # all HTTP attempts, retries included (bulk results report them)

    def __repr__(self) -> str:
        return f"AsyncTogglClient(auth={self._auth!r}, base_url='{self.base_url}')"

    @property
    def quota(self) -> Quota:
        """The request quota the server last reported (all ``None`` before the first report)."""
        return self._quota

    @property
    def closed(self) -> bool:
        return self._transport.closed

    async def __aenter__(self) -> AsyncTogglClient:
        self._transport.session()  # bind the session to the loop that enters the block
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client's own session (a session you passed in stays open). Idempotent."""
        await self._transport.close()

    # -- the endpoints -----------------------------------------------------------------------

    async def get_preferences(self) -> UserPreferences:
        """``GET /me/preferences``: the user's preferences and alpha features."""
        body = await self._request("GET", "/me/preferences")
        return UserPreferences.from_json(body)

    async def update_preferences(
        self, changes: PreferencesUpdate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> None:
        """``POST /me/preferences`` with exactly the fields given (``False``, ``0``, ``""`` and
        ``None`` included). ``TypeError``/``ValueError`` before sending for unknown names, wrong
        types or an empty update."""
        update = _update(PreferencesUpdate, changes, fields)
        await self._request("POST", "/me/preferences", body=update.to_dict())

    async def get_client_preferences(
        self, client: str, *, since: int | datetime | None = None
    ) -> UserPreferences:
        """``GET /me/preferences/{client}``: preferences for a client type (``"desktop"``, ``"web"``).

        ``since``: a UNIX timestamp (seconds) or an aware ``datetime``; only preferences modified
        after it are returned."""
        client = check_client(client)
        params = None if since is None else {"since": since_param(since)}
        body = await self._request("GET", f"/me/preferences/{client}", params=params)
        return UserPreferences.from_json(body)

    async def update_client_preferences(
        self, client: str, changes: PreferencesUpdate | Mapping[str, Any] | None = None, /, **fields: Any
    ) -> None:
        """``POST /me/preferences/{client}`` with exactly the fields given."""
        client = check_client(client)
        update = _update(PreferencesUpdate, changes, fields)
        await self._request("POST", f"/me/preferences/{client}", body=update.to_dict())

    async def get_workspace_preferences(self, workspace_id: int) -> WorkspacePreferences:
        """``GET /workspaces/{workspace_id}/preferences``."""
        workspace_id = check_workspace_id(workspace_id)
        body = await self._request("GET", f"/workspaces/{workspace_id}/preferences")
        return WorkspacePreferences.from_json(body)

    async def update_workspace_preferences(
        self,
        workspace_id: int,
        changes: WorkspacePreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        **fields: Any,
    ) -> WorkspacePreferences:
        """``POST /workspaces/{workspace_id}/preferences``; returns what the server answers
        (documented as ``{"logo": ...}``; an empty answer gives an empty model)."""
        workspace_id = check_workspace_id(workspace_id)
        update = _update(WorkspacePreferencesUpdate, changes, fields)
        body = await self._request("POST", f"/workspaces/{workspace_id}/preferences", body=update.to_dict())
        if not body.strip():
            return WorkspacePreferences()
        return WorkspacePreferences.from_json(body)

    async def set_alpha_features(self, features: Mapping[str, bool], *, client: str | None = None) -> None:
        """Enable or disable alpha features by code: ``{"code": True, ...}``. Posts
        ``{"alpha_features": [{"code": ..., "enabled": ...}]}`` to ``/me/preferences`` (or to
        ``/me/preferences/{client}``)."""
        if not isinstance(features, Mapping) or not features:
            raise TogglValidationError("features must be a non-empty mapping of feature code to bool")
        for code, enabled in features.items():
            if not isinstance(code, str) or not code:
                raise TogglFieldError(f"feature codes must be non-empty str, not {code!r}")
            if not isinstance(enabled, bool):
                raise TogglFieldError(
                    f"feature {code!r}: enabled must be a bool, not {type(enabled).__name__}"
                )
        path = "/me/preferences" if client is None else f"/me/preferences/{check_client(client)}"
        payload = {"alpha_features": [{"code": c, "enabled": e} for c, e in features.items()]}
        await self._request("POST", path, body=payload)

    # -- the request loop --------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> bytes:
        """Send with throttle and retries; return the 2xx body or raise the typed error.

        The first attempt runs directly: building a tenacity loop costs more than a loopback round
        trip, and most calls never need one. Only a retryable failure starts the tenacity loop,
        which replays that failure as its attempt 1 so that counting, waits and stop rules are all
        tenacity's."""
        data = None if body is None else dumps(body)
        try:
            return await self._attempt(method, path, params, data, 1)
        except TogglError as exc:
            if not self.retry.is_retryable(exc) or self.retry.max_retries == 0:
                raise
            first_failure = exc
        async for attempt in retrying(self.retry, f"{method} {path}"):
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first_failure
                return await self._attempt(method, path, params, data, number)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(
        self, method: str, path: str, params: Mapping[str, str] | None, data: bytes | None, number: int
    ) -> bytes:
        """One attempt: wait for the throttle, send, record the quota, type the failure."""
        if self._throttle is not None:
            await self._throttle.wait()
        self._attempts_made += 1
        if number == 1 and self.retry.budget is not None:
            self.retry.budget.deposit()
        try:
            status, headers, body = await self._transport.send(method, path, params=params, body=data)
        except TogglError as exc:
            exc.attempts = number
            raise
        quota = parse_quota(headers)
        if quota is not None:
            self._quota = quota
        if 200 <= status < 300:
            return body
        url = self._transport.base + path
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        raise build_error(status, body, headers, method=method, url=url, attempts=number)


def _update(cls: type[U], changes: Any, fields: dict[str, Any]) -> U:
    update = cls.build(changes, **fields)
    if update.is_empty():
        raise TogglValidationError(f"nothing to update: the {cls.__name__} sets no field")
    return update
