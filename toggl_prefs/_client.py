"""``AsyncTogglClient``: the six preferences endpoints over one retrying, throttled transport."""

from __future__ import annotations

import asyncio
import warnings
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ._auth import ApiToken, BasicAuth, resolve_auth
from ._classify import build_error
from ._constants import DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_RATE_LIMIT, DEFAULT_TIMEOUT
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from ._options import ClientConfig, check_timeout, pick_options
from ._quota import Quota, parse_quota
from ._raw import CAPTURE, RawResponse, capture, mirror
from ._retry import RetryPolicy, retrying
from ._serde import dumps
from ._throttle import Throttle
from ._transport import AiohttpTransport, Response, SessionPool, Transport, session_has_cookie_jar
from ._urls import check_client, check_workspace_id, since_param
from .errors import (
    RequestTimeoutError,
    ResponseDecodeError,
    TogglConfigError,
    TogglError,
    TogglFieldError,
    TogglValidationError,
)

if TYPE_CHECKING:
    from typing_extensions import Self, Unpack  # in typing from 3.11 only

    from ._options import ClientOptions

U = TypeVar("U", PreferencesUpdate, WorkspacePreferencesUpdate)
P = ParamSpec("P")
T = TypeVar("T")
_CLOSED = "the client is closed"
_COOKIES = (
    "the aiohttp session given to AsyncTogglClient keeps cookies: shared between clients of "
    "different accounts, it sends a cookie set in an answer to one account with the requests "
    "of the others; create it with cookie_jar=aiohttp.DummyCookieJar()"
)


class _Shared:
    """What a client shares with its ``with_options()`` copies that talk to the same API root."""

    __slots__ = ("quota",)

    def __init__(self) -> None:
        self.quota = Quota()


class _Lease:
    """A custom transport shared by a client and its ``with_options()`` copies: closed (its
    ``aclose()``) when the last of them lets go."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.users = 1
        self.closed = False

    def share(self) -> _Lease:
        if self.closed:
            raise TogglConfigError(_CLOSED)
        self.users += 1
        return self

    async def release(self) -> None:
        self.users -= 1
        if self.users <= 0:
            await self.close()

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.transport.aclose()


class _Hold:
    """One client's share of a pool (or lease), given back once: by ``aclose()``, or when the
    client is dropped unclosed (a copy made for one call: ``client.with_options(...).get_...()``).

    The client that made the pool owns it: its ``aclose()`` closes the pool for its copies too (as
    ``async with`` around the original promises: nothing stays open after the block, whatever copies
    are still referenced). A copy's ``aclose()`` only lets go; the last to let go closes the pool
    should the owner have been dropped unclosed."""

    __slots__ = ("held", "owner", "shared")

    def __init__(self, shared: SessionPool | _Lease, *, owner: bool) -> None:
        self.shared = shared
        self.owner = owner
        self.held = True

    def drop(self) -> None:
        if self.held:
            self.held = False
            self.shared.users -= 1  # a finalizer cannot await a close: the last aclose() does

    async def release(self) -> None:
        if self.held:
            self.held = False
            if self.owner:
                await self.shared.close()
            else:
                await self.shared.release()


def _credentials(auth: ApiToken | BasicAuth | None, config: ClientConfig) -> ApiToken | BasicAuth | None:
    """The credentials the client sends with: ``None`` when a custom transport carries its own."""
    transport = config.transport
    if transport is not None and not callable(getattr(transport, "with_auth", None)):
        if auth is not None:
            raise TogglConfigError(
                f"auth= cannot be sent through {type(transport).__name__}: it has no with_auth(auth) "
                "method, so it carries credentials of its own; give them to the transport (or add "
                "with_auth to it)"
            )
        return None
    return resolve_auth(auth)


class AsyncTogglClient:
    """Async client for the Toggl Track API v9 preferences endpoints.

    Use it as ``async with AsyncTogglClient(ApiToken("...")) as toggl: ...`` (or call
    :meth:`aclose` yourself).

    :param auth: :class:`ApiToken` or :class:`BasicAuth`; ``None`` reads ``TOGGL_API_TOKEN``, then
        ``TOGGL_EMAIL``/``TOGGL_PASSWORD``, and raises :class:`TogglConfigError` if neither is set.
    :param base_url: API root; must be https except on loopback hosts (a fake server). ``None``
        reads ``TOGGL_BASE_URL``, else uses Toggl's (:data:`DEFAULT_BASE_URL`).
    :param timeout: seconds allowed on the wire per attempt: to connect, and for each wait for the
        server's next bytes (so a server that stalls or never answers fails the attempt). Waiting
        for the throttle or for a pooled connection does not count; to bound a whole call, wrap it
        in ``asyncio.timeout()``. Every endpoint method also takes ``timeout=`` for one call.
    :param retry: the :class:`RetryPolicy` for 5xx, 429 and transport errors (``None``: the default).
    :param max_retries: shorthand for ``retry=RetryPolicy(max_retries=...)`` (not both).
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
    :param transport: a :class:`Transport` to send through instead of aiohttp (an in-memory
        :class:`toggl_prefs.testing.MockTransport`, another HTTP library); the client still
        throttles, retries, reads the quota and types errors. Not with ``session``/``user_agent``.

    :meth:`with_options` makes a copy with other options that shares the connection pool;
    :attr:`with_raw_response` gives each endpoint's status and headers with its result.
    """

    def __init__(
        self,
        auth: ApiToken | BasicAuth | None = None,
        *,
        base_url: str | URL | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        max_retries: int | None = None,
        rate_limit: float | None = DEFAULT_RATE_LIMIT,
        session: aiohttp.ClientSession | None = None,
        user_agent: str | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        transport: Transport | None = None,
    ) -> None:
        config = ClientConfig.build(pick_options(locals()), where="AsyncTogglClient")
        if session is not None and session_has_cookie_jar(session):
            warnings.warn(_COOKIES, UserWarning, stacklevel=2)
        self._setup(_credentials(auth, config), config, None)

    def _setup(
        self, auth: ApiToken | BasicAuth | None, config: ClientConfig, share: AsyncTogglClient | None
    ) -> None:
        """Build the client from checked parts; ``share``: the client whose pool (and, at the same
        API root, quota and same-rate throttle) this copy shares."""
        self._auth = auth
        self._config = config
        self.base_url: URL = config.base_url
        self.retry = config.retry
        self._base = str(config.base_url)
        self._timeout = config.timeout
        same_root = share is not None and share.base_url == config.base_url
        self._shared: _Shared = share._shared if share is not None and same_root else _Shared()
        self._throttle: Throttle | None
        if share is not None and same_root and share._config.rate_limit == config.rate_limit:
            self._throttle = share._throttle  # a copy must not reset the spacing its account needs
        else:
            self._throttle = None if config.rate_limit is None else Throttle(config.rate_limit)
        self._closed = False
        self._attempts_made = 0  # all HTTP attempts, retries included (bulk results report them)
        self._pool: SessionPool | None = None
        self._lease: _Lease | None = None
        if config.transport is None:
            assert auth is not None  # _credentials: the default transport always has credentials
            if share is not None and share._pool is not None and share._config.session is config.session:
                self._pool = share._pool.share()
            else:
                self._pool = SessionPool(config.session)
            wire: AiohttpTransport | Transport = AiohttpTransport(
                config.base_url,
                auth.header(),
                timeout=config.timeout,
                user_agent=config.user_agent,
                max_response_bytes=config.max_response_bytes,
                pool=self._pool,
            )
            self._send: Callable[..., Awaitable[Response]] = wire.send
        else:
            if share is not None and share._lease is not None and share._config.transport is config.transport:
                self._lease = share._lease.share()
            else:
                bound = config.transport if auth is None else config.transport.with_auth(auth)  # type: ignore[attr-defined]
                self._lease = _Lease(bound)
            wire = self._lease.transport
            self._send = self._send_custom
        self._wire = wire
        shared = share is not None and (
            (self._pool is not None and self._pool is share._pool)
            or (self._lease is not None and self._lease is share._lease)
        )
        self._hold = _Hold(self._pool or self._lease, owner=not shared)  # type: ignore[arg-type]  # one is set
        self._dropped = weakref.finalize(self, self._hold.drop)

    def with_options(self, **options: Unpack[ClientOptions]) -> Self:
        """A copy of this client with ``options`` changed (any of the constructor's, checked the
        same way), for a part of your code that needs, say, a shorter ``timeout``.

        The copy shares this client's connection pool (unless given its own ``session`` or
        ``transport``), its credentials and, at the same ``base_url``, the quota it reads and (at
        the same ``rate_limit``) the throttle that spaces the account's requests. Closing this
        client closes the pool, and with it its copies; closing a copy closes only the copy, and
        a copy dropped unclosed (one made for a single call:
        ``await toggl.with_options(timeout=5).get_preferences()``) lets go of it when collected.
        ``max_retries=`` alone changes the current policy's ``max_retries``."""
        if self.closed:
            raise TogglConfigError(_CLOSED)
        config = self._config.evolve(options)
        session = options.get("session")
        if session is not None and session_has_cookie_jar(session):
            warnings.warn(_COOKIES, UserWarning, stacklevel=2)
        copy = object.__new__(type(self))
        copy._setup(_credentials(self._auth, config) if "transport" in options else self._auth, config, self)
        return copy

    @property  # a new view each time: a cached one would tie the client into a reference cycle
    def with_raw_response(self) -> AsyncTogglClientWithRawResponse:
        """The endpoints again, each returning a :class:`RawResponse` (``.status``, ``.headers``,
        ``.request_id``, ``.quota``, and the result as ``.parsed``) from the same single request:
        ``raw = await toggl.with_raw_response.get_preferences()``."""
        return AsyncTogglClientWithRawResponse(self)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(auth={self._auth!r}, base_url='{self.base_url}')"

    @property
    def quota(self) -> Quota:
        """The request quota the server last reported (all ``None`` before the first report)."""
        return self._shared.quota

    @property
    def closed(self) -> bool:
        if self._closed:
            return True
        return self._pool.closed if self._pool is not None else self._lease is not None and self._lease.closed

    async def __aenter__(self) -> Self:
        if self.closed:
            raise TogglConfigError(_CLOSED)
        if self._pool is not None:
            self._pool.get()  # bind the session to the loop that enters the block
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the client. Its own session (or a custom transport) closes with the last of the
        client and its :meth:`with_options` copies; a session you passed in stays open. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._dropped.detach()
        await self._hold.release()

    @property
    def _transport(self) -> AiohttpTransport:
        """The default transport (tests written before the seam read its session here)."""
        if not isinstance(self._wire, AiohttpTransport):
            raise AttributeError("this client sends through a custom transport")
        return self._wire

    def _shares_pool_with(self, other: AsyncTogglClient) -> bool:
        return (self._pool is not None and self._pool is other._pool) or (
            self._lease is not None and self._lease is other._lease
        )

    def _respawn(self, share: AsyncTogglClient | None) -> Self:
        """This client again with a fresh state (a forked child's), sharing ``share``'s pool."""
        fresh = object.__new__(type(self))
        fresh._setup(self._auth, self._config, share)
        return fresh

    async def _close_shared(self) -> None:
        """Close the pool (or custom transport) now, whoever shares it (the sync facade's last close)."""
        self._closed = True
        self._dropped.detach()
        if self._pool is not None:
            await self._pool.close()
        elif self._lease is not None:
            await self._lease.close()

    # -- the endpoints -----------------------------------------------------------------------
    # Each takes ``timeout=``: seconds on the wire per attempt for this call (as the client's).

    async def get_preferences(self, *, timeout: float | None = None) -> UserPreferences:
        """``GET /me/preferences``: the user's preferences and alpha features."""
        body = await self._request("GET", "/me/preferences", timeout=timeout)
        return UserPreferences.from_json(body)

    async def update_preferences(
        self,
        changes: PreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> None:
        """``POST /me/preferences`` with exactly the fields given (``False``, ``0``, ``""`` and
        ``None`` included). ``TypeError``/``ValueError`` before sending for unknown names, wrong
        types or an empty update."""
        update = _update(PreferencesUpdate, changes, fields)
        await self._request("POST", "/me/preferences", body=update.to_dict(), timeout=timeout)

    async def get_client_preferences(
        self, client: str, *, since: int | datetime | None = None, timeout: float | None = None
    ) -> UserPreferences:
        """``GET /me/preferences/{client}``: preferences for a client type (``"desktop"``, ``"web"``).

        ``since``: a UNIX timestamp (seconds) or an aware ``datetime``; only preferences modified
        after it are returned."""
        client = check_client(client)
        params = None if since is None else {"since": since_param(since)}
        body = await self._request("GET", f"/me/preferences/{client}", params=params, timeout=timeout)
        return UserPreferences.from_json(body)

    async def update_client_preferences(
        self,
        client: str,
        changes: PreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> None:
        """``POST /me/preferences/{client}`` with exactly the fields given."""
        client = check_client(client)
        update = _update(PreferencesUpdate, changes, fields)
        await self._request("POST", f"/me/preferences/{client}", body=update.to_dict(), timeout=timeout)

    async def get_workspace_preferences(
        self, workspace_id: int, *, timeout: float | None = None
    ) -> WorkspacePreferences:
        """``GET /workspaces/{workspace_id}/preferences``."""
        workspace_id = check_workspace_id(workspace_id)
        body = await self._request("GET", f"/workspaces/{workspace_id}/preferences", timeout=timeout)
        return WorkspacePreferences.from_json(body)

    async def update_workspace_preferences(
        self,
        workspace_id: int,
        changes: WorkspacePreferencesUpdate | Mapping[str, Any] | None = None,
        /,
        *,
        timeout: float | None = None,
        **fields: Any,
    ) -> WorkspacePreferences:
        """``POST /workspaces/{workspace_id}/preferences``; returns what the server answers
        (documented as ``{"logo": ...}``; an empty answer gives an empty model)."""
        workspace_id = check_workspace_id(workspace_id)
        update = _update(WorkspacePreferencesUpdate, changes, fields)
        body = await self._request(
            "POST", f"/workspaces/{workspace_id}/preferences", body=update.to_dict(), timeout=timeout
        )
        if not body.strip():
            return WorkspacePreferences()
        return WorkspacePreferences.from_json(body)

    async def set_alpha_features(
        self, features: Mapping[str, bool], *, client: str | None = None, timeout: float | None = None
    ) -> None:
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
        await self._request("POST", path, body=payload, timeout=timeout)

    # -- the request loop --------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
        timeout: float | None = None,
    ) -> bytes:
        """Send with throttle and retries; return the 2xx body or raise the typed error.

        The first attempt runs directly: building a tenacity loop costs more than a loopback round
        trip, and most calls never need one. Only a retryable failure starts the tenacity loop,
        which replays that failure as its attempt 1 so that counting, waits and stop rules are all
        tenacity's."""
        if self.closed:  # this client, or the original whose pool (or transport) it shares
            raise TogglConfigError(_CLOSED)
        if timeout is not None:
            timeout = check_timeout(timeout, TogglValidationError)
        data = None if body is None else dumps(body)
        try:
            return await self._attempt(method, path, params, data, 1, timeout)
        except TogglError as exc:
            if not self.retry.is_retryable(exc) or self.retry.max_retries == 0:
                raise
            first_failure = exc
        async for attempt in retrying(self.retry, f"{method} {path}"):
            with attempt:
                number = attempt.retry_state.attempt_number
                if number == 1:
                    raise first_failure
                return await self._attempt(method, path, params, data, number, timeout)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    async def _attempt(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        data: bytes | None,
        number: int,
        timeout: float | None,
    ) -> bytes:
        """One attempt: wait for the throttle, send, record the quota, type the failure."""
        if self._throttle is not None:
            await self._throttle.wait()
        self._attempts_made += 1
        if number == 1 and self.retry.budget is not None:
            self.retry.budget.deposit()
        try:
            status, headers, body = await self._send(method, path, params=params, body=data, timeout=timeout)
        except TogglError as exc:
            exc.attempts = number
            raise
        quota = parse_quota(headers)
        if quota is not None:
            self._shared.quota = quota
        if 200 <= status < 300:
            answer = CAPTURE.get()
            if answer is not None:  # a with_raw_response call
                answer.status, answer.headers, answer.attempts = status, headers, number
            return body
        url = self._base + path
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        raise build_error(status, body, headers, method=method, url=url, attempts=number)

    async def _send_custom(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None,
        body: bytes | None,
        timeout: float | None,
    ) -> Response:
        """One attempt through a custom transport, held to the same rules as the default one: the
        timeout (here on the whole ``send``), the body limit, case-insensitive text headers."""
        if self._lease is None or self._lease.closed:  # the original closed it (and its copies)
            raise TogglConfigError(_CLOSED)
        seconds = self._timeout if timeout is None else timeout
        answer = await _answer_within(self._wire.send(method, path, params=params, body=body), seconds)
        if answer is _LATE:
            # Raised here, not in the except block that saw the timeout: no __context__ leads into
            # the transport's frames (whose locals may hold credentials). A pure-Python task would
            # still chain it until the task next yields (see _transport.AiohttpTransport.send).
            await asyncio.sleep(0)
            raise RequestTimeoutError(
                f"no complete answer within {seconds:g}s", method=method, url=self._base + path
            )
        checked = _checked_answer(answer)
        if isinstance(checked, str):
            raise TogglConfigError(
                f"{type(self._wire).__name__}.send() must return (status: int, headers: Mapping, "
                f"body: bytes): {checked}"
            )
        status, _, data = checked
        if len(data) > self._config.max_response_bytes:
            raise ResponseDecodeError(
                f"{method} {self._base + path}: the {status} response is over the "
                f"{self._config.max_response_bytes}-byte limit (max_response_bytes)"
            )
        return checked


_LATE = object()  # no answer in time (a transport may well return None: a clear error, not a timeout)


async def _answer_within(send: Awaitable[object], seconds: float) -> object:
    """What ``send`` returned, or ``_LATE`` when it took longer than ``seconds``."""
    try:
        return await asyncio.wait_for(send, seconds)
    except asyncio.TimeoutError:
        return _LATE


def _checked_answer(answer: object) -> Response | str:
    """A custom transport's answer with case-insensitive headers, or what is wrong with it."""
    if not isinstance(answer, tuple) or len(answer) != 3:
        return f"got {type(answer).__name__}" + (f" of {len(answer)}" if isinstance(answer, tuple) else "")
    status, headers, data = answer
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        # RFC 9110: every status is in 100..599 (a 1000 would be taken for a 5xx, and retried).
        return f"the status must be an int in 100..599, not {status!r}"
    if not isinstance(data, bytes):
        return f"the body must be bytes, not {type(data).__name__}"
    if not isinstance(headers, Mapping):
        return f"the headers must be a Mapping, not {type(headers).__name__}"
    if isinstance(headers, CIMultiDictProxy):
        return answer  # aiohttp's own: text by construction
    items = list(headers.items())
    if not all(isinstance(name, str) and isinstance(value, str) for name, value in items):
        # Header values are parsed as text (quota, Retry-After, request id): say so here, once.
        return "the headers' names and values must be str"
    return status, CIMultiDictProxy(CIMultiDict(items)), data


def _update(cls: type[U], changes: Any, fields: dict[str, Any]) -> U:
    update = cls.build(changes, **fields)
    if update.is_empty():
        raise TogglValidationError(f"nothing to update: the {cls.__name__} sets no field")
    return update


# -- raw responses ---------------------------------------------------------------------------------


def _raw(
    method: Callable[Concatenate[AsyncTogglClient, P], Awaitable[T]],
) -> Callable[Concatenate[AsyncTogglClientWithRawResponse, P], Coroutine[Any, Any, RawResponse[T]]]:
    async def call(
        self: AsyncTogglClientWithRawResponse, /, *args: P.args, **kwargs: P.kwargs
    ) -> RawResponse[T]:
        return await capture(method(self._client, *args, **kwargs))

    mirror(call, method, "AsyncTogglClientWithRawResponse")
    return call


class AsyncTogglClientWithRawResponse:
    """``client.with_raw_response``: the endpoints of :class:`AsyncTogglClient` with the same
    arguments, each returning a :class:`RawResponse` whose ``.parsed`` is the method's result."""

    def __init__(self, client: AsyncTogglClient) -> None:
        self._client = client

    get_preferences = _raw(AsyncTogglClient.get_preferences)
    update_preferences = _raw(AsyncTogglClient.update_preferences)
    get_client_preferences = _raw(AsyncTogglClient.get_client_preferences)
    update_client_preferences = _raw(AsyncTogglClient.update_client_preferences)
    get_workspace_preferences = _raw(AsyncTogglClient.get_workspace_preferences)
    update_workspace_preferences = _raw(AsyncTogglClient.update_workspace_preferences)
    set_alpha_features = _raw(AsyncTogglClient.set_alpha_features)
