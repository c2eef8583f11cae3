"""A fake Toggl preferences API on loopback, faithful to the reference and to docs/toggl-facts.md."""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import itertools
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any

import attrs
import orjson
from aiohttp import web

from .. import _loopbound
from .._endpoints import ENDPOINTS
from .._generated import OMITTED_IF_EMPTY, UserPreferences, WorkspacePreferences
from .._quota import REMAINING_HEADER, RESETS_IN_HEADER
from ..errors import TogglValidationError
from ._keys import USER_FIELDS, WORKSPACE_FIELDS, extra_keys, stored_preferences

DEFAULT_ALPHA_FEATURES = ("calendar_integration", "new_reports", "goals", "focus_mode", "ai_assistant")
CLIENTS = ("desktop", "web")
ROLES = ("admin", "user")

_USER_SPECS = {s.wire.lower(): s for s in UserPreferences.__toggl_fields__}
# The values the live server validates (the spec lists what it accepts).
KNOWN_DATE_FORMATS: tuple[str, ...] = _USER_SPECS["date_format"].values
KNOWN_TIMEOFDAY_FORMATS: tuple[str, ...] = _USER_SPECS["timeofday_format"].values
# The reference's "will be omitted if empty" fields: the live server drops their zero values.
_OMITTED_IF_EMPTY = frozenset(w.lower() for w in OMITTED_IF_EMPTY)
_WS_SPECS = {s.wire: s for s in WorkspacePreferences.__toggl_fields__}
WORKSPACE_WRITABLE = frozenset(
    {
        "disable_approvals",
        "disable_expenses",
        "disable_timesheet_view",
        "hide_start_end_times",
        "report_locked_at",
    }
)
FORBIDDEN = "User does not have access to this resource."
HTML_429 = (
    "<html>\r\n<head><title>429 Too Many Requests</title></head>\r\n<body>\r\n"
    "<center><h1>429 Too Many Requests</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
_Handler = Callable[[web.Request, "FakeAccount", Any], Awaitable[web.Response]]
QUOTA_MESSAGE = "You have hit your hourly limit for API calls. Please wait until the quota resets."


def _zero(value: Any) -> bool:
    return value is False or (value == 0 and not isinstance(value, bool)) or value in ("", [], {})


@attrs.define
class FakeWorkspace:
    """A workspace on the fake server."""

    id: int
    preferences: dict[str, Any] = attrs.field(factory=dict)
    locking_enabled: bool = False
    """Whether the plan has the "Lock time entries" feature (else setting report_locked_at is 402)."""
    logo: str = "https://assets.toggl.com/images/workspace.jpg"


def _redacted(value: str | None) -> str:
    """A credential's repr: whether it is set, never its value."""
    return "None" if value is None else "'***'"


@attrs.define
class FakeAccount:
    """An account on the fake server: its credentials, stored preferences and workspace roles."""

    key: str
    api_token: str | None = attrs.field(default=None, repr=_redacted)
    email: str | None = None
    password: str | None = attrs.field(default=None, repr=_redacted)
    preferences: dict[str, Any] = attrs.field(factory=dict)
    """Stored user preferences, by documented key."""
    client_preferences: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    modified: dict[str, dict[str, float]] = attrs.field(factory=dict)
    """client type -> key -> UNIX time it was last written (for ``since``)."""
    workspaces: dict[int, str] = attrs.field(factory=dict)
    """workspace id -> role (``"admin"`` or ``"user"``)."""
    alpha_features: dict[str, bool] = attrs.field(factory=dict)
    """alpha feature code -> enabled, as set by the account."""
    quota_log: collections.deque[float] = attrs.field(factory=collections.deque, repr=False)
    bucket_level: float = 0.0
    bucket_at: float = 0.0


@attrs.frozen
class RecordedRequest:
    """One request the fake server received. ``headers`` has credentials redacted."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    account: str | None
    status: int


@attrs.define
class Fault:
    """An injected failure for the next ``times`` matching requests."""

    times: int
    status: int | None = None
    body: str | bytes | None = None
    headers: dict[str, str] = attrs.field(factory=dict)
    delay: float = 0.0
    drop: bool = False
    truncate: bool = False
    path: str | None = None
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request (``path`` matches as a substring)."""
        return (self.method is None or self.method == method) and (self.path is None or self.path in path)


def canonical_user_key(key: str) -> str | None:
    """The documented spelling of a user-preference key, matched case-insensitively (as Go does)."""
    spec = _USER_SPECS.get(key.lower())
    return spec.wire if spec else None


class FakeTogglServer:
    """A fake of the Toggl preferences API on loopback.

    ``async with FakeTogglServer() as server:`` runs it on the current loop; ``with FakeTogglServer()
    as server:`` runs it in a background thread (for synchronous tests). ``server.base_url`` is the
    API root to give a client.

    Limits are off by default: ``rate_limit`` (requests/second per account, a leaky bucket of
    ``burst`` requests answering 429 with an nginx HTML page) and ``quota_per_hour`` (a sliding
    60-minute window answering 402, with Toggl's quota headers on every response).
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = None,
        burst: int = 2,
        retry_after: bool = False,
        quota_per_hour: int | None = None,
        alpha_features: Iterable[str] = DEFAULT_ALPHA_FEATURES,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.host, self.port = host, port
        self.rate_limit, self.burst, self.retry_after = rate_limit, burst, retry_after
        self.quota_per_hour = quota_per_hour
        self.alpha_features = list(alpha_features)
        self.clock, self.wall_clock = clock, wall_clock
        self.accounts: dict[str, FakeAccount] = {}
        self.workspaces: dict[int, FakeWorkspace] = {}
        self.requests: list[RecordedRequest] = []
        self.faults: list[Fault] = []
        self._by_token: dict[str, FakeAccount] = {}
        self._by_login: dict[tuple[str, str], FakeAccount] = {}
        self._names = itertools.count(1)
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._thread_loop: asyncio.AbstractEventLoop | None = None
        self.app = self._make_app()

    # -- set-up ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the fake server is not started")
        return f"http://{self.host}:{self.port}/api/v9"

    def add_account(
        self,
        *,
        api_token: str | None = None,
        email: str | None = None,
        password: str | None = None,
        preferences: Mapping[str, Any] | None = None,
        client_preferences: Mapping[str, Mapping[str, Any]] | None = None,
        workspaces: Mapping[int, Mapping[str, Any] | str] | None = None,
        key: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> FakeAccount:
        """Add an account reachable by ``api_token`` and/or ``email`` + ``password``.

        ``preferences`` and ``client_preferences`` (``{"desktop": {...}, "web": {...}}``) take the
        documented keys in any casing (``"BeginningOfWeek"``) or the models' attribute names
        (``"beginning_of_week"``); an unknown key or a value of the wrong JSON type is a
        :class:`~toggl_prefs.TogglFieldError` naming the closest field. Keys the server should
        serve on purpose although no model knows them go in ``extra=`` (or an ``"extra"`` mapping
        inside any preferences mapping), verbatim. ``workspaces`` maps a workspace id to a role
        (``"admin"``/``"user"``) or to ``{"role": ..., "preferences": {...}, "locking_enabled": bool}``.
        Nothing is added when an argument is refused."""
        if api_token is None and (email is None or password is None):
            raise TogglValidationError("an account needs api_token, or email and password")
        account = FakeAccount(
            key=key or f"account{next(self._names)}", api_token=api_token, email=email, password=password
        )
        now = self.wall_clock()
        account.preferences = stored_preferences(USER_FIELDS, preferences or {}, "preferences")
        account.preferences.update(extra_keys(extra or {}, "extra"))
        unknown_clients = set(client_preferences or {}) - set(CLIENTS)
        if unknown_clients:
            raise TogglValidationError(
                f"client_preferences: unknown client type(s) {sorted(unknown_clients)}; "
                f"the API knows {list(CLIENTS)}"
            )
        for client in CLIENTS:
            values = (client_preferences or {}).get(client, {})
            stored = stored_preferences(USER_FIELDS, values, f"client_preferences[{client!r}]")
            account.client_preferences[client] = stored
            account.modified[client] = dict.fromkeys(stored, now)
        memberships = {ws_id: _membership(ws_id, spec) for ws_id, spec in (workspaces or {}).items()}
        for ws_id, (role, ws_prefs, locking) in memberships.items():
            ws = self.workspaces.get(ws_id) or self.add_workspace(ws_id)
            self._set_workspace_preferences(ws, ws_prefs)
            if locking is not None:
                ws.locking_enabled = locking
            account.workspaces[ws_id] = role
        self.accounts[account.key] = account
        if api_token is not None:
            self._by_token[api_token] = account
        if email is not None and password is not None:
            self._by_login[(email.lower(), password)] = account
        return account

    def add_workspace(
        self,
        workspace_id: int,
        *,
        preferences: Mapping[str, Any] | None = None,
        locking_enabled: bool = False,
    ) -> FakeWorkspace:
        """Add a workspace (no member yet: give accounts a role in it with ``add_account``).
        ``preferences`` takes the documented keys in any casing (and ``"extra"``, as ``add_account``)."""
        ws = FakeWorkspace(workspace_id, locking_enabled=locking_enabled)
        self._set_workspace_preferences(ws, _workspace_preferences(workspace_id, preferences or {}))
        self.workspaces[workspace_id] = ws
        return ws

    @staticmethod
    def _set_workspace_preferences(ws: FakeWorkspace, values: dict[str, Any]) -> None:
        logo = values.pop("logo", None)  # served from its own attribute
        if logo is not None:
            ws.logo = logo
        ws.preferences.update(values)

    def fail_next(
        self,
        times: int = 1,
        *,
        status: int | None = 500,
        body: str | bytes | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        drop: bool = False,
        truncate: bool = False,
        path: str | None = None,
        method: str | None = None,
    ) -> Fault:
        """Make the next ``times`` requests (matching ``path`` substring / ``method``) fail: with
        ``status`` (and ``body``/``headers``), after ``delay`` seconds, by dropping the connection
        (``drop``) or by cutting the body short (``truncate``). ``status=None`` with a ``delay``
        delays the normal answer."""
        fault = Fault(times, status, body, dict(headers or {}), delay, drop, truncate, path, method)
        self.faults.append(fault)
        return fault

    # -- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start serving on the running loop (``async with`` does this)."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1]
        _loopbound.register(self.host, self.port, asyncio.get_running_loop())  # see TogglClient

    async def stop(self) -> None:
        """Stop serving and close the connections."""
        if self._runner is not None:
            _loopbound.unregister(self.host, self.port, asyncio.get_running_loop())
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTogglServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __enter__(self) -> FakeTogglServer:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._thread_loop = loop
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:  # noqa: BLE001  # pragma: no cover - reraised in the caller
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name="fake-toggl-server", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._thread_loop is not None and self._thread is not None:
            self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
            self._thread.join(timeout=10)
            self._thread = self._thread_loop = None

    # -- the application ------------------------------------------------------------------------

    def _make_app(self) -> web.Application:
        app = web.Application(client_max_size=4 * 1024 * 1024)
        handlers: dict[str, _Handler] = {
            "get_preferences": self._get_prefs,
            "update_preferences": self._post_prefs,
            "get_client_preferences": self._get_client_prefs,
            "update_client_preferences": self._post_client_prefs,
            "get_workspace_preferences": self._get_ws,
            "update_workspace_preferences": self._post_ws,
        }
        for endpoint in ENDPOINTS:  # the routes are the endpoint table's
            handler = handlers.get(endpoint.name)
            if handler is None:
                raise NotImplementedError(
                    f"FakeTogglServer has no handler for {endpoint.name} ({endpoint.method} {endpoint.path})"
                )
            app.router.add_route(endpoint.method, "/api/v9" + endpoint.path, self._route(handler))
        return app

    def __repr__(self) -> str:
        where = self.base_url if self.port else "not started"
        return (
            f"<FakeTogglServer {where}: {len(self.accounts)} account(s), {len(self.workspaces)} "
            f"workspace(s), {len(self.requests)} request(s) received>"
        )

    def _route(self, handler: _Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """Wrap an endpoint with what every request goes through: faults, auth, limits, the log."""

        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._handle(request, handler)

        return handle

    async def _handle(self, request: web.Request, handler: _Handler) -> web.StreamResponse:
        body: Any = None
        raw = await request.read()
        if raw:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
        account = self._authenticate(request.headers.get("Authorization", ""))
        response = await self._answer(request, handler, account, body)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=_redact(request.headers),
                json=body,
                account=account.key if account else None,
                status=response.status,
            )
        )
        return response

    async def _answer(
        self, request: web.Request, handler: _Handler, account: FakeAccount | None, body: Any
    ) -> web.StreamResponse:
        fault = next((f for f in self.faults if f.matches(request.method, request.path)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self.faults.remove(fault)
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.drop:
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=599)  # never reaches the client
            if fault.truncate:
                return await _truncated(request)
            if fault.status is not None:
                return web.Response(
                    status=fault.status, body=_bytes(fault.body, fault.status), headers=fault.headers
                )
        if account is None:
            return _text(403, "Incorrect username and/or password")
        limited = self._rate_limited(account)
        if limited is not None:
            return limited
        headers = self._charge_quota(account)
        if isinstance(headers, web.Response):
            return headers
        response = await handler(request, account, body)
        response.headers.update(headers)
        return response

    def _authenticate(self, header: str) -> FakeAccount | None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        if password == "api_token":  # noqa: S105 - Toggl's literal password for token auth
            return self._by_token.get(user)
        return self._by_login.get((user.lower(), password))

    def _rate_limited(self, account: FakeAccount) -> web.Response | None:
        if self.rate_limit is None:
            return None
        now = self.clock()
        level = max(0.0, account.bucket_level - (now - account.bucket_at) * self.rate_limit)
        if level + 1 > self.burst:
            headers = {"Content-Type": "text/html"}
            if self.retry_after:
                headers["Retry-After"] = str(max(1, round((level + 1 - self.burst) / self.rate_limit)))
            return web.Response(status=429, text=HTML_429, headers=headers)
        account.bucket_level, account.bucket_at = level + 1, now
        return None

    def _charge_quota(self, account: FakeAccount) -> dict[str, str] | web.Response:
        if self.quota_per_hour is None:
            return {}
        now = self.clock()
        window = account.quota_log
        while window and window[0] <= now - 3600:
            window.popleft()
        if len(window) >= self.quota_per_hour:
            resets = max(1, round(window[0] + 3600 - now))
            headers = {REMAINING_HEADER: "0", RESETS_IN_HEADER: str(resets)}
            return _text(402, QUOTA_MESSAGE, headers)
        window.append(now)
        resets = max(1, round(window[0] + 3600 - now))
        return {REMAINING_HEADER: str(self.quota_per_hour - len(window)), RESETS_IN_HEADER: str(resets)}

    # -- handlers -------------------------------------------------------------------------------

    async def _get_prefs(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        prefs = self._visible(account.preferences)
        prefs["alpha_features"] = [
            {
                "alpha_feature_id": i + 1,
                "code": code,
                "enabled": account.alpha_features.get(code, False),
                "product_id": 1,
            }
            for i, code in enumerate(self.alpha_features)
        ]
        return _json(prefs)

    async def _post_prefs(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        error = self._apply(account, account.preferences, body, None)
        return error or _json("Successful operation.")

    async def _get_client_prefs(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        client = request.match_info["client"]
        if client not in CLIENTS:
            return _json_error(400, "Unknown client.")
        values = account.client_preferences[client]
        since = request.query.get("since")
        if since is not None:
            try:
                cutoff = int(since)
            except ValueError:
                return _json_error(400, "Invalid since")
            stamps = account.modified[client]
            values = {k: v for k, v in values.items() if stamps.get(k, 0) > cutoff}
        return _json(self._visible(values))

    async def _post_client_prefs(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        client = request.match_info["client"]
        if client not in CLIENTS:
            return _json_error(400, "Unknown client")
        error = self._apply(account, account.client_preferences[client], body, account.modified[client])
        return error or _json("Successful operation.")

    def _visible(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stored.items() if not (k.lower() in _OMITTED_IF_EMPTY and _zero(v))}

    def _apply(
        self, account: FakeAccount, target: dict[str, Any], body: Any, stamps: dict[str, float] | None
    ) -> web.Response | None:
        if not isinstance(body, dict) or not body:
            return _json_error(400, "Missing data")
        changes: dict[str, Any] = {}
        for key, value in body.items():
            wire = canonical_user_key(key)
            if wire is None:
                continue  # Go's decoder ignores unknown keys
            spec = _USER_SPECS[wire.lower()]
            if spec.read_only:  # Toggl names the field as Go spells it: "ToSAcceptNeeded"
                return _json_error(400, f"Cannot set value for {wire[:1].upper()}{wire[1:]}")
            if value is not None and type(value) not in spec.json_types:
                return _json_error(400, f"json: cannot unmarshal {type(value).__name__} into field {wire}")
            changes[wire] = value
        if "date_format" in changes and changes["date_format"] not in KNOWN_DATE_FORMATS:
            return _json_error(400, "Value in date_format is invalid")
        if "timeofday_format" in changes and changes["timeofday_format"] not in KNOWN_TIMEOFDAY_FORMATS:
            return _json_error(400, "Value in timeofday_format is invalid")
        features = changes.pop("alpha_features", None)
        if features:
            if any(not isinstance(f, dict) or f.get("code") not in self.alpha_features for f in features):
                return _json_error(400, "Invalid feature code(s)")
            account.alpha_features.update({f["code"]: bool(f.get("enabled")) for f in features})
        now = self.wall_clock()
        for wire, value in changes.items():
            if value is None:
                target.pop(wire, None)
            else:
                target[wire] = value
            if stamps is not None:
                stamps[wire] = now
        return None

    def _workspace(
        self, request: web.Request, account: FakeAccount
    ) -> tuple[FakeWorkspace, str] | web.Response:
        try:
            ws_id = int(request.match_info["workspace_id"])
        except ValueError:
            return _json_error(400, "Workspace not found")
        ws = self.workspaces.get(ws_id)
        if ws is None:
            return _json_error(400, "Workspace not found")
        role = account.workspaces.get(ws_id)
        if role is None:
            return _json_error(403, FORBIDDEN)
        return ws, role

    async def _get_ws(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        found = self._workspace(request, account)
        if isinstance(found, web.Response):
            return found
        return _json({**found[0].preferences, "logo": found[0].logo})

    async def _post_ws(self, request: web.Request, account: FakeAccount, body: Any) -> web.Response:
        found = self._workspace(request, account)
        if isinstance(found, web.Response):
            return found
        ws, role = found
        if not isinstance(body, dict) or not body:
            return _json_error(400, "Missing data")
        for key, value in body.items():
            if key.lower() not in WORKSPACE_WRITABLE:
                return _json_error(400, "The field is not writable")
            spec = _WS_SPECS[key.lower()]
            if value is not None and type(value) not in spec.json_types:
                return _json_error(400, f"json: cannot unmarshal {type(value).__name__} into field {key}")
        if any(k.lower() == "report_locked_at" for k in body):
            if role != "admin":
                return _json_error(403, "Permission required to update time entries lock setting.")
            if not ws.locking_enabled:
                return _json_error(402, "Workspace needs to have the Locking time entries feature enabled")
        for key, value in body.items():
            if value is None:
                ws.preferences.pop(key.lower(), None)
            else:
                ws.preferences[key.lower()] = value
        return _json({**ws.preferences, "logo": ws.logo})


def _membership(ws_id: int, spec: Mapping[str, Any] | str) -> tuple[str, dict[str, Any], bool | None]:
    """(role, stored preferences, locking_enabled or None) from an ``add_account`` workspace entry."""
    where = f"workspaces[{ws_id!r}]"
    if isinstance(spec, str):
        spec = {"role": spec}
    if not isinstance(spec, Mapping):
        raise TogglValidationError(f"{where}: give a role or a mapping, not {type(spec).__name__}")
    unknown = set(spec) - {"role", "preferences", "locking_enabled"}
    if unknown:
        raise TogglValidationError(
            f"{where}: unknown key(s) {sorted(unknown)}; use role, preferences, locking_enabled"
        )
    role = spec.get("role", "admin")
    if role not in ROLES:
        raise TogglValidationError(f"{where}: role {role!r} is not one of {list(ROLES)}")
    locking = spec.get("locking_enabled")
    if locking is not None and not isinstance(locking, bool):
        raise TogglValidationError(f"{where}: locking_enabled must be a bool")
    return role, _workspace_preferences(ws_id, spec.get("preferences") or {}), locking


def _workspace_preferences(ws_id: int, values: Mapping[str, Any]) -> dict[str, Any]:
    return stored_preferences(WORKSPACE_FIELDS, values, f"workspaces[{ws_id!r}] preferences")


def _redact(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers with credentials masked; an Authorization header keeps only its scheme."""
    out = {}
    for key, value in headers.items():
        name = key.lower()
        if name in ("authorization", "proxy-authorization"):
            scheme, _, rest = value.partition(" ")
            value = f"{scheme} ***" if rest else "***"
        elif name in ("cookie", "x-api-token"):
            value = "***"
        out[key] = value
    return out


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type="application/json")


def _json_error(status: int, message: str) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(message), content_type="application/json")


def _text(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=message, headers=headers)


def _bytes(body: str | bytes | None, status: int) -> bytes:
    if body is None:
        return orjson.dumps(web.Response(status=status).reason or "error")
    return body.encode() if isinstance(body, str) else body


async def _truncated(request: web.Request) -> web.StreamResponse:
    full = orjson.dumps({"date_format": "MM/DD/YYYY", "beginningOfWeek": 1, "padding": "x" * 512})
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(full)
    await response.prepare(request)
    await response.write(full[: len(full) // 2])
    if request.transport is not None:
        request.transport.abort()
    return response
