"""``mock_toggl``: realistic Toggl answers on an ``aioresponses`` mocker, for unit tests that mock
aiohttp rather than run a server.

Each request the mocker intercepts under ``base_url`` is answered by an in-memory
:class:`FakeTogglServer` (never started: no socket), so the bodies, casing, validation, documented
errors and quota headers are the fake server's, in one place. Scripted ``errors`` come first.

aioresponses 0.7.9 cannot build a response on aiohttp >= 3.14, whose ``ClientResponse`` requires a
``stream_writer`` (pnuckowski/aioresponses#289; fix proposed in #288, which passes a stand-in whose
``output_size`` is 0). :func:`response_class` detects that by trying, and only then hands
aioresponses a response class that supplies the stand-in: once aioresponses passes one itself, the
shim is not used.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import inspect
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.streams import StreamReader
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from yarl import URL

from .. import _endpoints
from .. import errors as e
from .._auth import ApiToken
from .._urls import DEFAULT_BASE_URL
from ..errors import TogglValidationError
from ._samples import SAMPLE_CLIENT_PREFERENCES, SAMPLE_PREFERENCES, SAMPLE_WORKSPACE_PREFERENCES
from ._server import HTML_429, QUOTA_MESSAGE, FakeTogglServer, RecordedRequest, _redact

if TYPE_CHECKING:
    from aioresponses import aioresponses

WORKSPACE_ID = 1001
"""The workspace ``mock_toggl`` serves when not given ``workspaces``."""
ACCOUNT_KEY = "mock"
_TOKEN = "mock-toggl-internal"  # noqa: S105 - the in-memory account's token, never a user's
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# -- the aiohttp >= 3.14 shim -------------------------------------------------------------------------


class SentStreamWriter:
    """Stands in for the request's stream writer, which aiohttp's ``ClientResponse`` asks only for
    the number of bytes sent (``output_size``); nothing is sent by a mock."""

    output_size = 0


class _StreamWriterResponse(aiohttp.ClientResponse):
    def __init__(self, method: str, url: URL, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", SentStreamWriter())
        super().__init__(method, url, **kwargs)


def aiohttp_wants_stream_writer() -> bool:
    """Whether this aiohttp's ``ClientResponse`` requires a ``stream_writer`` (3.14 and later)."""
    param = inspect.signature(aiohttp.ClientResponse.__init__).parameters.get("stream_writer")
    return param is not None and param.default is inspect.Parameter.empty


@functools.cache
def response_class() -> type[aiohttp.ClientResponse] | None:
    """The response class to hand aioresponses, or ``None`` when it builds responses by itself.

    Found by building one response the way aioresponses does, not by comparing versions."""
    if not aiohttp_wants_stream_writer():
        return None
    from aioresponses.core import RequestMatch

    try:
        response = RequestMatch("http://127.0.0.1/")._build_response(URL("http://127.0.0.1/"))
    except TypeError as exc:
        if "stream_writer" not in str(exc):
            raise
        return _StreamWriterResponse
    response.close()
    return None


# -- scripted answers ---------------------------------------------------------------------------------

ENDPOINTS: dict[tuple[str, str], str] = {(ep.method, ep.path): ep.name for ep in _endpoints.ENDPOINTS}
"""The client method behind each endpoint: the keys of ``errors``. (``set_alpha_features`` posts to
the endpoint of ``update_preferences``, or of ``update_client_preferences`` with a client.)"""

_Reply = tuple[int, bytes, dict[str, str]]


def _json_message(message: str) -> bytes:
    return orjson.dumps(message)


_JSON = {"Content-Type": "application/json"}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}
_QUOTA_SPENT = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1800"}

DOCUMENTED: dict[type[e.APIError], _Reply] = {
    e.UnknownClientError: (400, _json_message("Unknown client."), _JSON),
    e.InvalidFeatureCodeError: (400, _json_message("Invalid feature code(s)"), _JSON),
    e.MissingDataError: (400, _json_message("Missing data"), _JSON),
    e.InvalidDateFormatError: (400, _json_message("Value in date_format is invalid"), _JSON),
    e.InvalidTimeOfDayFormatError: (400, _json_message("Value in timeofday_format is invalid"), _JSON),
    e.InvalidSinceError: (400, _json_message("Invalid since"), _JSON),
    e.ReadOnlyFieldError: (400, _json_message("Cannot set value for ToSAcceptNeeded"), _JSON),
    e.WorkspaceNotFoundError: (400, _json_message("Workspace not found"), _JSON),
    e.BadRequestError: (
        400,
        _json_message("json: cannot unmarshal string into Go struct field of type int"),
        _JSON,
    ),
    e.QuotaExceededError: (402, QUOTA_MESSAGE.encode(), {**_TEXT, **_QUOTA_SPENT}),
    e.FeatureNotEnabledError: (
        402,
        _json_message("Workspace needs to have the Locking time entries feature enabled"),
        _JSON,
    ),
    e.PaymentRequiredError: (402, _json_message("Payment required"), _JSON),
    e.ForbiddenError: (403, b"Incorrect username and/or password", _TEXT),
    e.NotFoundError: (404, b"404 page not found", _TEXT),
    e.RateLimitError: (429, HTML_429.encode(), {"Content-Type": "text/html"}),
    e.ServerError: (500, _json_message("Internal Server Error"), _JSON),
}
"""The answer a documented error class stands for in ``errors`` (Toggl's own words)."""

_BY_STATUS: dict[int, type[e.APIError]] = {
    400: e.BadRequestError,
    402: e.QuotaExceededError,
    403: e.ForbiddenError,
    404: e.NotFoundError,
    429: e.RateLimitError,
}


def _reply_for_status(status: int) -> _Reply:
    if status in _BY_STATUS:
        return DOCUMENTED[_BY_STATUS[status]]
    reason = web.Response(status=status).reason or "Error"
    return status, _json_message(reason), _JSON


def _parse_answer(where: str, answer: Any) -> _Reply | BaseException | type[BaseException]:
    """One scripted answer, checked before anything is registered."""
    if isinstance(answer, type) and issubclass(answer, e.APIError):
        if answer not in DOCUMENTED:
            raise TogglValidationError(f"{where}: no documented answer for {answer.__name__}")
        return DOCUMENTED[answer]
    if isinstance(answer, BaseException) or (isinstance(answer, type) and issubclass(answer, BaseException)):
        return answer  # raised by the mock: connection errors, timeouts
    if isinstance(answer, int) and not isinstance(answer, bool) and 100 <= answer <= 599:
        return _reply_for_status(answer)
    if isinstance(answer, tuple) and len(answer) in (2, 3):
        status, body, *rest = answer
        headers = dict(rest[0]) if rest else {}
        if isinstance(status, int) and isinstance(body, (str, bytes)):
            data = body.encode() if isinstance(body, str) else body
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = (
                    "application/json" if data[:1] in (b'"', b"{", b"[") else _TEXT["Content-Type"]
                )
            return status, data, headers
    raise TogglValidationError(
        f"{where}: {answer!r} is not an answer: give a status (503), a documented error class "
        "(tp.QuotaExceededError), (status, body) or (status, body, headers), or an exception to raise "
        "(aiohttp.ServerDisconnectedError())"
    )


class _Script:
    """Per endpoint: answers given once each, in order, then the server's; or one answer always."""

    def __init__(self, errors: Mapping[str, Any]) -> None:
        self.once: dict[str, list[_Reply | BaseException | type[BaseException]]] = {}
        self.always: dict[str, _Reply | BaseException | type[BaseException]] = {}
        names = sorted(set(ENDPOINTS.values()))
        for name, spec in errors.items():
            if name not in names:
                close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise TogglValidationError(f"errors: no endpoint {name!r}{hint} (one of {', '.join(names)})")
            if isinstance(spec, list):
                self.once[name] = [_parse_answer(f"errors[{name!r}][{i}]", a) for i, a in enumerate(spec)]
            else:
                self.always[name] = _parse_answer(f"errors[{name!r}]", spec)

    def next(self, endpoint: str) -> _Reply | BaseException | type[BaseException] | None:
        queue = self.once.get(endpoint)
        if queue:
            return queue.pop(0)
        return self.always.get(endpoint)


# -- mock_toggl ---------------------------------------------------------------------------------------


def mock_toggl(
    aioresponses_mocker: aioresponses,
    *,
    base_url: str | URL = DEFAULT_BASE_URL,
    preferences: Mapping[str, Any] | None = None,
    client_preferences: Mapping[str, Mapping[str, Any]] | None = None,
    workspaces: Mapping[int, Mapping[str, Any]] | None = None,
    errors: Mapping[str, Any] | None = None,
    quota_per_hour: int | None = None,
) -> FakeTogglServer:
    """Answer the Toggl preferences API under ``base_url`` on an ``aioresponses`` mocker.

    - ``preferences`` / ``client_preferences`` (``{"desktop": {...}, "web": {...}}``) /
      ``workspaces`` (workspace id -> its preferences) are what the account has stored, with the
      fake server's rules (documented keys in any casing or attribute names; ``"extra"`` for
      deliberate unknown keys). Left out, each is a realistic sample
      (:data:`~toggl_prefs.testing.SAMPLE_PREFERENCES`, workspace :data:`WORKSPACE_ID`).
      Updates change them, and the server's validation applies (an invalid ``date_format`` is 400).
    - ``errors`` maps a client method's name (``"get_preferences"``, ``"update_preferences"``,
      ``"get_client_preferences"``, ... see :data:`ENDPOINTS`) to answers given before the server's:
      a list is used once each, in order (``[503, 503]``: two failures, then the real answer); a
      single answer is given every time. An answer is a status (``503``: with that status's
      realistic body), a documented error class (``tp.QuotaExceededError``: Toggl's message and
      headers), ``(status, body)`` or ``(status, body, headers)``, or an exception (or its class) to
      raise as aiohttp would (``aiohttp.ServerDisconnectedError()``, ``asyncio.TimeoutError``).
    - ``quota_per_hour``: send Toggl's quota headers and answer 402 once the hour's requests are
      spent (off by default, as on :class:`FakeTogglServer`).

    Any Basic credentials sign in; a request without them gets Toggl's 403. Returns the in-memory
    :class:`FakeTogglServer` behind the answers (never started): ``.requests`` lists what was
    received (credentials redacted; an exception answer is recorded with status 599, as a dropped
    connection is), ``.accounts["mock"]`` holds the stored preferences. Arguments are checked
    before anything is registered.
    """
    base = URL(str(base_url).rstrip("/"))
    script = _Script(errors or {})
    server = FakeTogglServer(quota_per_hour=quota_per_hour)
    spaces = {WORKSPACE_ID: SAMPLE_WORKSPACE_PREFERENCES} if workspaces is None else workspaces
    server.add_account(
        api_token=_TOKEN,
        key=ACCOUNT_KEY,
        preferences=SAMPLE_PREFERENCES if preferences is None else preferences,
        client_preferences=SAMPLE_CLIENT_PREFERENCES if client_preferences is None else client_preferences,
        workspaces={
            ws_id: {"role": "admin", "preferences": p, "locking_enabled": True} for ws_id, p in spaces.items()
        },
    )
    answer = _Answerer(server, script, base)
    pattern = re.compile("^" + re.escape(str(base)) + r"(/[^?#]*)?(\?.*)?$")
    for method in _METHODS:  # the callback is not told the method: one registration each
        aioresponses_mocker.add(pattern, method=method, callback=answer.callback(method), repeat=True)
    return server


class _Answerer:
    """The mocker's callback: a scripted answer, else the in-memory fake server's."""

    def __init__(self, server: FakeTogglServer, script: _Script, base: URL) -> None:
        self.server, self.script, self.base = server, script, base
        self.signed_in = ApiToken(_TOKEN).header()

    def callback(self, method: str) -> Callable[..., Awaitable[Any]]:
        """A coroutine function, as aioresponses awaits only those."""

        async def answer(url: URL, **kwargs: Any) -> Any:
            return await self.answer(method, url, **kwargs)

        return answer

    async def answer(self, method: str, url: URL, **kwargs: Any) -> Any:
        from aioresponses import CallbackResult

        headers = CIMultiDict(kwargs.get("headers") or {})
        body = self._body(kwargs)
        path = "/api/v9" + url.path[len(self.base.path) :]
        target = path + (f"?{url.query_string}" if url.query_string else "")
        if "Authorization" in headers or kwargs.get("auth") is not None:
            headers["Authorization"] = self.signed_in  # any credentials sign in to the mock's account
        loop = asyncio.get_running_loop()
        probe = make_mocked_request(method, target, headers=headers, app=self.server.app, loop=loop)
        match = await self.server.app.router.resolve(probe)
        route = match.route.resource.canonical[len("/api/v9") :] if match.route.resource else ""
        scripted = self.script.next(ENDPOINTS.get((method, route), ""))
        if scripted is None:
            status, data, reply_headers = await self._serve(method, target, headers, body, match)
        elif isinstance(scripted, tuple):
            status, data, reply_headers = scripted
            self._record(method, url, headers, body, status)
        else:
            self._record(method, url, headers, body, 599)
            raise scripted() if isinstance(scripted, type) else scripted
        reply = CIMultiDict(reply_headers)
        content_type = reply.pop("Content-Type", "application/json")
        return CallbackResult(
            method=method,
            status=status,
            body=data,
            content_type=content_type,
            headers=dict(reply),
            response_class=response_class(),
        )

    @staticmethod
    def _body(kwargs: Mapping[str, Any]) -> bytes:
        if kwargs.get("json") is not None:
            return orjson.dumps(kwargs["json"])
        data = kwargs.get("data")
        if data is None:
            return b""
        return data.encode() if isinstance(data, str) else bytes(data)

    async def _serve(
        self, method: str, target: str, headers: CIMultiDict[str], body: bytes, match: Any
    ) -> tuple[int, bytes, dict[str, str]]:
        payload = StreamReader(BaseProtocol(asyncio.get_running_loop()), max(len(body), 1) * 2)
        payload.feed_data(body)
        payload.feed_eof()
        request = make_mocked_request(
            method, target, headers=headers, match_info=dict(match), payload=payload, app=self.server.app
        )
        try:
            response = await match.handler(request)
        except web.HTTPException as exc:  # no such route: the router's 404 / 405
            return exc.status, (exc.text or "").encode(), {"Content-Type": "text/plain; charset=utf-8"}
        if not isinstance(response, web.Response):
            raise aiohttp.ClientPayloadError("the fake server cut the body short")  # a truncate fault
        if response.status == 599:  # a drop fault
            raise aiohttp.ServerDisconnectedError()
        data = response.body if isinstance(response.body, bytes) else b""
        return response.status, data, dict(response.headers)

    def _record(self, method: str, url: URL, headers: CIMultiDict[str], body: bytes, status: int) -> None:
        try:
            parsed: Any = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            parsed = body.decode("utf-8", "replace")
        self.server.requests.append(
            RecordedRequest(
                method=method,
                path="/api/v9" + url.path[len(self.base.path) :],
                query=dict(url.query),
                headers=_redact(headers),
                json=parsed,
                account=ACCOUNT_KEY if "Authorization" in headers else None,
                status=status,
            )
        )
