"""Pure rules, tested without sockets: status/message → error class, headers → quota and
Retry-After, backoff, throttle slots, URL and argument checks, credentials."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import toggl_prefs as tp
from toggl_prefs import _classify as c
from toggl_prefs._auth import auth_from_env
from toggl_prefs._quota import parse_quota
from toggl_prefs._throttle import next_slot
from toggl_prefs._urls import check_base_url, check_client, check_workspace_id, since_param

DOCUMENTED = [
    (400, "Cannot set value for ToSAcceptNeeded", tp.ReadOnlyFieldError),
    (400, "Invalid feature code(s)", tp.InvalidFeatureCodeError),
    (400, "Missing data", tp.MissingDataError),
    (400, "Unknown client", tp.UnknownClientError),
    (400, "Unknown client.", tp.UnknownClientError),
    (400, "Value in date_format is invalid", tp.InvalidDateFormatError),
    (400, "Value in timeofday_format is invalid", tp.InvalidTimeOfDayFormatError),
    (400, "Workspace not found", tp.WorkspaceNotFoundError),
    (400, "The field is not writable", tp.ReadOnlyFieldError),
    (402, "Workspace needs to have the Locking time entries feature enabled", tp.FeatureNotEnabledError),
    (403, "User does not have access to this resource.", tp.ForbiddenError),
    (403, "Permission required to update time entries lock setting.", tp.ForbiddenError),
    (500, "Internal Server Error", tp.ServerError),
]


@pytest.mark.parametrize(("status", "message", "cls"), DOCUMENTED)
@pytest.mark.parametrize("form", ["json", "text", "html", "shouting"])
def test_every_documented_message_maps_to_its_class(status: int, message: str, cls: type, form: str) -> None:
    body = {
        "json": f'"{message}"'.encode(),
        "text": message.encode() + b"\n",
        "html": f"<html><head><title>{status}</title></head><body><h1>{message}</h1></body></html>".encode(),
        "shouting": message.upper().encode(),
    }[form]
    err = c.build_error(status, body, {}, method="POST", url="https://x/api/v9/me/preferences")
    assert type(err) is cls
    assert err.status == status
    assert c.normalise(err.message) == c.normalise(message)
    assert isinstance(err, tp.APIError)


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, tp.BadRequestError),
        (402, tp.PaymentRequiredError),
        (403, tp.ForbiddenError),
        (404, tp.NotFoundError),
        (429, tp.RateLimitError),
        (500, tp.ServerError),
        (503, tp.ServerError),
        (301, tp.APIError),
        (418, tp.APIError),
    ],
)
def test_unknown_messages_fall_back_to_the_status_class(status: int, cls: type) -> None:
    err = c.build_error(status, b"something new", {}, method="GET", url="u")
    assert type(err) is cls
    assert err.message == "something new"


def test_empty_body_uses_the_reason_phrase() -> None:
    assert c.build_error(502, b"", {}, method="GET", url="u").message == "Bad Gateway"


def test_quota_402_is_told_apart_from_feature_402() -> None:
    headers = {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "1234"}
    err = c.build_error(402, b"You have hit your limit", headers, method="GET", url="u")
    assert type(err) is tp.QuotaExceededError
    assert (err.remaining, err.resets_in) == (0, 1234)
    feature = b'"Workspace needs to have the Locking time entries feature enabled"'
    assert type(c.build_error(402, feature, {"X-Toggl-Quota-Remaining": "12"}, method="GET", url="u")) is (
        tp.FeatureNotEnabledError
    )
    assert type(c.build_error(402, b"plan required", {}, method="GET", url="u")) is tp.PaymentRequiredError


def test_nginx_429_page_and_retry_after() -> None:
    page = (
        b"<html><head><title>429 Too Many Requests</title></head>"
        b"<body><center><h1>429 Too Many Requests</h1></center></body></html>"
    )
    err = c.build_error(429, page, {"Retry-After": "7"}, method="GET", url="u")
    assert isinstance(err, tp.RateLimitError)
    assert err.message == "429 Too Many Requests"
    assert err.retry_after == 7.0
    assert c.build_error(429, page, {}, method="GET", url="u").retry_after is None  # type: ignore[attr-defined]


def test_request_id_and_body_are_kept() -> None:
    err = c.build_error(500, b"boom" * 1000, {"X-Toggl-Request-Id": "abc"}, method="GET", url="u", attempts=3)
    assert err.request_id == "abc"
    assert err.attempts == 3
    assert err.body is not None and len(err.body) == 2048
    assert "request id abc" in str(err) and "3 attempts" in str(err)
    assert c.build_error(500, b"", {"X-Request-Id": "r1"}, method="GET", url="u").request_id == "r1"


def test_message_extraction_forms() -> None:
    assert c.extract_message(b'{"message": "from object"}') == "from object"
    assert c.extract_message(b'{"error": "e"}') == "e"
    assert c.extract_message(b'"quoted"') == "quoted"
    assert c.extract_message(b"<html><title>T &amp; U</title></html>") == "T & U"
    assert c.extract_message(b"  ") == ""
    assert len(c.extract_message(b"x" * 10_000)) == 300


@given(st.binary(max_size=300), st.integers(100, 599))
def test_classifier_never_raises(body: bytes, status: int) -> None:
    err = c.build_error(status, body, {}, method="GET", url="u")
    assert isinstance(err, tp.APIError)
    assert err.status == status


def test_parse_quota() -> None:
    assert parse_quota({}) is None
    assert parse_quota({"X-Toggl-Quota-Remaining": "29", "X-Toggl-Quota-Resets-In": "3599"}) == tp.Quota(
        29, 3599
    )
    assert parse_quota({"X-Toggl-Quota-Remaining": "-1"}) is None
    assert parse_quota({"X-Toggl-Quota-Remaining": "abc", "X-Toggl-Quota-Resets-In": "5"}) == tp.Quota(
        None, 5
    )
    assert tp.Quota(0, 5).exhausted and not tp.Quota(1, 5).exhausted and not tp.Quota().exhausted


@given(st.text(max_size=40))
def test_header_parsers_never_raise(value: str) -> None:
    parse_quota({"X-Toggl-Quota-Remaining": value, "X-Toggl-Quota-Resets-In": value})
    result = c.parse_retry_after(value)
    assert result is None or result >= 0


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert c.parse_retry_after(None) is None
    assert c.parse_retry_after("5") == 5.0
    assert c.parse_retry_after(" 2.5 ") == 2.5
    assert c.parse_retry_after("-3") is None
    assert c.parse_retry_after("soon") is None
    later = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert c.parse_retry_after(later, now) == 30.0
    earlier = (now - timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert c.parse_retry_after(earlier, now) == 0.0


def test_retry_policy_rules() -> None:
    policy = tp.RetryPolicy()
    assert (policy.max_retries, policy.backoff_base, policy.backoff_cap, policy.retry_after_cap) == (
        2,
        0.5,
        8.0,
        60.0,
    )
    api: dict[str, Any] = {"status": 0, "method": "GET", "url": "u"}
    for err in (
        tp.ServerError("x", **api),
        tp.TransportError("x"),
        tp.RequestTimeoutError("x"),
        tp.RateLimitError("x", **api),
    ):
        assert policy.is_retryable(err)
    for final in (
        tp.BadRequestError("x", **api),
        tp.PaymentRequiredError("x", **api),
        tp.QuotaExceededError("x", **api),
        tp.ForbiddenError("x", **api),
        tp.NotFoundError("x", **api),
        ValueError("x"),
    ):
        assert not policy.is_retryable(final)
    long_wait = tp.RateLimitError("x", **api)
    long_wait.retry_after = 61
    assert not policy.is_retryable(long_wait)
    long_wait.retry_after = 60
    assert policy.is_retryable(long_wait)
    assert policy.delay(1, long_wait, lambda: 0.0) == 60


def test_full_jitter_backoff_doubles_up_to_the_cap() -> None:
    policy = tp.RetryPolicy()
    ceilings = [policy.delay(n, None, lambda: 0.999999) for n in range(1, 8)]
    assert ceilings == pytest.approx([0.5, 1, 2, 4, 8, 8, 8], rel=1e-5)
    assert policy.delay(3, None, lambda: 0.0) == 0.0
    assert policy.delay(2, None, lambda: 0.5) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "bad", [{"max_retries": -1}, {"max_retries": True}, {"backoff_base": -1.0}, {"retry_after_cap": "x"}]
)
def test_retry_policy_validates(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        tp.RetryPolicy(**bad)  # type: ignore[arg-type]


def test_throttle_slots() -> None:
    assert next_slot(now=10.0, free_at=0.0, interval=1.0) == (0.0, 11.0)
    assert next_slot(now=10.5, free_at=11.0, interval=1.0) == (0.5, 12.0)
    delays = []
    free = 0.0
    for _ in range(4):
        delay, free = next_slot(100.0, free, 0.5)
        delays.append(delay)
    assert delays == [0.0, 0.5, 1.0, 1.5]


def test_base_url_rules() -> None:
    assert str(check_base_url("https://api.track.toggl.com/api/v9/")) == "https://api.track.toggl.com/api/v9"
    for ok in ("http://127.0.0.1:8080/api/v9", "http://localhost/api/v9", "http://[::1]:9/api/v9"):
        check_base_url(ok)
    for bad in (
        "http://api.track.toggl.com/api/v9",
        "ftp://x",
        "api.track.toggl.com",
        "https://u:p@x.com/",
        "http://10.0.0.1/api",
        "https://x.com/?a=1",
    ):
        with pytest.raises(tp.TogglConfigError):
            check_base_url(bad)


@pytest.mark.parametrize("client", ["desktop", "web", "mobile_v2", "X-1"])
def test_safe_client_tokens_pass(client: str) -> None:
    assert check_client(client) == client


@pytest.mark.parametrize("client", ["", "a/b", "..", "we b", "web?x=1", "a" * 65, "wëb", "%2e"])
def test_unsafe_client_tokens_are_refused(client: str) -> None:
    with pytest.raises(ValueError, match="client"):
        check_client(client)


def test_workspace_id_and_since_rules() -> None:
    assert check_workspace_id(5) == 5
    with pytest.raises(TypeError):
        check_workspace_id(True)
    with pytest.raises(TypeError):
        check_workspace_id("5")  # type: ignore[arg-type]
    for bad in (0, -1):
        with pytest.raises(ValueError, match="positive"):
            check_workspace_id(bad)
    assert since_param(1700000000) == "1700000000"
    assert since_param(datetime(2024, 1, 1, tzinfo=timezone.utc)) == "1704067200"
    with pytest.raises(ValueError, match="aware"):
        since_param(datetime(2024, 1, 1))
    with pytest.raises(TypeError):
        since_param(True)
    with pytest.raises(ValueError, match=">= 0"):
        since_param(-5)
    with pytest.raises(TypeError):
        since_param("1700000000")  # type: ignore[arg-type]


def test_credentials_from_environment() -> None:
    assert auth_from_env({"TOGGL_API_TOKEN": "t"}) == tp.ApiToken("t")
    assert auth_from_env({"TOGGL_EMAIL": "a@b.c", "TOGGL_PASSWORD": "pw"}) == tp.BasicAuth("a@b.c", "pw")
    assert auth_from_env(
        {"TOGGL_API_TOKEN": "t", "TOGGL_EMAIL": "a@b.c", "TOGGL_PASSWORD": "pw"}
    ) == tp.ApiToken("t")
    with pytest.raises(tp.TogglConfigError, match="TOGGL_API_TOKEN"):
        auth_from_env({"TOGGL_EMAIL": "a@b.c"})


def test_client_without_credentials_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOGGL_API_TOKEN", "TOGGL_EMAIL", "TOGGL_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(tp.TogglConfigError):
        tp.AsyncTogglClient()
    monkeypatch.setenv("TOGGL_API_TOKEN", "from-env")
    assert "from-env" not in repr(tp.AsyncTogglClient())


def test_secrets_stay_out_of_reprs() -> None:
    token, password = "tok-SECRET-123", "pw-SECRET-456"
    texts = [
        repr(tp.ApiToken(token)),
        str(tp.ApiToken(token)),
        repr(tp.BasicAuth("me@x.io", password)),
        repr(tp.AsyncTogglClient(tp.ApiToken(token))),
        repr(tp.AsyncTogglClient(tp.BasicAuth("me@x.io", password))),
    ]
    header = tp.ApiToken(token).header()
    for text in texts:
        assert token not in text and password not in text and header not in text
    assert "me@x.io" in texts[2]


@pytest.mark.parametrize("bad", ["", "with:colon"])
def test_bad_credentials_are_refused(bad: str) -> None:
    with pytest.raises(tp.TogglConfigError):
        tp.ApiToken(bad)


def test_errors_pickle_round_trip() -> None:
    import pickle

    err = c.build_error(
        402,
        b"x",
        {"X-Toggl-Quota-Remaining": "0", "X-Toggl-Quota-Resets-In": "9"},
        method="GET",
        url="u",
        attempts=2,
    )
    back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own object
    assert type(back) is tp.QuotaExceededError
    assert (back.status, back.resets_in, back.attempts, str(back)) == (402, 9, 2, str(err))


async def test_a_cancelled_throttle_wait_gives_its_slot_back() -> None:
    import asyncio

    from toggl_prefs._throttle import Throttle

    now = [100.0]
    throttle = Throttle(1.0, clock=lambda: now[0])
    await throttle.wait()  # goes at once, the next slot is at 101
    waiter = asyncio.create_task(throttle.wait())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert throttle._free_at == 101.0  # given back: the next caller is not pushed to 102
    first, second = asyncio.create_task(throttle.wait()), asyncio.create_task(throttle.wait())
    await asyncio.sleep(0)
    first.cancel()  # someone is queued behind: the slot stays spent
    second.cancel()
    await asyncio.gather(first, second, return_exceptions=True)
    assert throttle._free_at == 102.0


@pytest.mark.parametrize(
    "options",
    [
        {"timeout": 0},
        {"timeout": -1},
        {"timeout": True},
        {"max_response_bytes": 0},
        {"max_response_bytes": 1.5},
        {"rate_limit": 0},
        {"rate_limit": -2},
        {"retry": "twice"},
        {"session": "pool"},
    ],
)
def test_bad_client_options_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises((tp.TogglConfigError, ValueError, TypeError)):
        tp.AsyncTogglClient(tp.ApiToken("t"), **options)
