"""Hostile wire, the rules behind it: error-page extraction stays linear and bounded,
arguments that would reach a header or a URL are checked before sending, the cookie-jar helper, and
Retry-After on 503. The hostile-server cases themselves are in tests/reliability/test_hostile_wire.py."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import toggl_prefs as tp
from toggl_prefs import _classify
from toggl_prefs._constants import DEFAULT_MAX_RESPONSE_BYTES
from toggl_prefs._retry import RetryPolicy
from toggl_prefs._urls import check_base_url, check_workspace_id, since_param

from .conftest import RawServer, reply

INT64_MAX = 2**63 - 1

# -- error pages: linear, bounded ---------------------------------------------------------------


def _shapes(size: int) -> dict[str, bytes]:
    """Bodies that made the old regexes backtrack (each about ``size`` bytes)."""

    def rep(unit: bytes, head: bytes = b"", tail: bytes = b"") -> bytes:
        return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail

    return {
        "<h1> repeated, never closed": rep(b"<h1>"),
        "<title> repeated, never closed": rep(b"<title>"),
        "<h1 with no >": rep(b"a", b"<h1 "),
        "<h1 x=<<<": rep(b"<", b"<h1 "),
        "unclosed comments": rep(b"<!--"),
        "bare <": rep(b"<"),
        "h1 holding only <": rep(b"<", b"<h1>", b"</h1>"),
        "h1 holding <a<a<a": rep(b"<a", b"<h1>", b"</h1>"),
        "h1 holding entities": rep(b"&#", b"<h1>", b"</h1>"),
        "whitespace then text": rep(b" \t\n", b"", b"x"),
        "JSON message of spaces": rep(b" ", b'{"message": "', b'"}'),
        "plain text of tabs": rep(b"a\t"),
    }


@pytest.mark.parametrize("size", [64 * 1024, DEFAULT_MAX_RESPONSE_BYTES], ids=["64 KiB", "8 MiB (the limit)"])
def test_error_page_shapes_classify_in_linear_time(size: int) -> None:
    for name, body in _shapes(size).items():
        started = time.perf_counter()
        err = _classify.build_error(503, body, {}, method="GET", url="u")
        elapsed = time.perf_counter() - started
        assert elapsed < 1.0, f"{name}: {elapsed:.2f}s"  # the target is a few ms
        assert isinstance(err, tp.ServerError) and len(err.message) <= 300, name


def test_extraction_still_finds_the_message() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><H1 class=x>Bad <b>gate</b>way</h1>"
    assert _classify.extract_message(page) == "Bad gateway"
    assert _classify.extract_message(b"<html><TITLE>Down &amp; out</TITLE></html>") == "Down & out"
    assert _classify.extract_message(b"<h1>never closed <title>T</title>") == "T"
    assert _classify.extract_message(b"<h1> </h1><title>T</title>") == "T"  # an empty h1 says nothing
    assert _classify.extract_message(b"<h10>no</h10><titles>no</titles>") == ""
    assert _classify.extract_message(b'{"message": "Workspace  not found"}') == "Workspace not found"
    assert _classify.extract_message(b"plain\ttext\r\n") == "plain text"
    assert _classify.extract_message(b"<h1>" + b"x" * 1000 + b"</h1>") == "x" * 299 + "…"


def test_server_text_cannot_drive_the_terminal() -> None:
    """A server's message and request id end up in str(error), which the CLI prints."""
    err = _classify.build_error(
        500,
        b'"boom \x1b[2J\x1b]0;owned\x07 \x9b31m"',
        {"X-Request-Id": "id-\x1b[31m" + "x" * 5000},
        method="GET",
        url="u",
    )
    text = str(err)
    assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text
    assert err.request_id is not None and len(err.request_id) <= 200


adversarial = st.lists(
    st.sampled_from(
        [
            b"<h1",
            b"<h1>",
            b"</h1",
            b"</h1>",
            b"<title>",
            b"</title>",
            b"<!--",
            b"-->",
            b"<",
            b">",
            b"&",
            b"&#",
            b"&#x",
            b";",
            b"a",
            b" ",
            b"\n",
            b'"',
            b"{",
            b"\xc3",
            b"\x00",
        ]
    ),
    max_size=400,
).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(adversarial, st.integers(1, 2000))
def test_extraction_is_bounded_for_any_shape(unit: bytes, times: int) -> None:
    body = unit * times
    started = time.perf_counter()
    message = _classify.extract_message(body)
    assert time.perf_counter() - started < 1.0
    assert isinstance(message, str) and len(message) <= 300
    assert not any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in message)


@pytest.mark.parametrize("value", ["1" * 5000, "Mon, " + "1 " * 4000, " " * 8000 + "5", "9" * 13])
def test_retry_after_and_request_id_parsers_are_bounded(value: str) -> None:
    started = time.perf_counter()
    got = _classify.parse_retry_after(value)
    assert time.perf_counter() - started < 0.5
    assert got is None or got >= 0


# -- Retry-After on 503 -----------------------------------------------------------------------


def test_a_503_carries_retry_after_and_the_policy_honours_it() -> None:
    err = _classify.build_error(503, b"down", {"Retry-After": "3600"}, method="GET", url="u")
    assert isinstance(err, tp.ServerError) and err.retry_after == 3600
    policy = RetryPolicy(retry_after_cap=60)
    assert not policy.is_retryable(err)  # a longer demand is final, like a 429's
    short = _classify.build_error(503, b"down", {"Retry-After": "2"}, method="GET", url="u")
    assert policy.is_retryable(short) and policy.delay(1, short, lambda: 0.0) == 2.0
    plain = _classify.build_error(500, b"boom", {"Retry-After": "3600"}, method="GET", url="u")
    assert isinstance(plain, tp.ServerError) and plain.retry_after is None and policy.is_retryable(plain)


# -- constructor inputs that reach headers and URLs ---------------------------------------------


@pytest.mark.parametrize(
    "user_agent", ["app\r\nX-Evil: 1", "app\n", "app\x00", "tab\x7f", "bell\x07", "x" * 1000, "é-app", b"app"]
)
@pytest.mark.parametrize("cls", [tp.AsyncTogglClient, tp.TogglClient])
def test_user_agent_is_checked_at_construction(cls: type, user_agent: object) -> None:
    with pytest.raises(tp.TogglConfigError, match="user_agent"):
        cls(tp.ApiToken("t"), base_url="http://127.0.0.1:9/api/v9", user_agent=user_agent)


async def test_a_plain_user_agent_is_sent(raw_server: RawServer) -> None:
    raw_server.script = [reply(200, b"{}")]
    async with tp.AsyncTogglClient(
        tp.ApiToken("t"),
        base_url=raw_server.base_url,
        rate_limit=None,
        user_agent="MyApp/1.2 (+https://x.example)",
    ) as client:
        await client.get_preferences()
    assert raw_server.seen[0].headers["User-Agent"].startswith("MyApp/1.2 (+https://x.example) toggl-prefs/")


@pytest.mark.parametrize(
    "base_url",
    [
        "https://xn--zz.com/api/v9",  # invalid IDNA: yarl raises UnicodeError on .host
        "https://a..b.com/api/v9",
        "https://exa mple.com/api/v9",
        "https://ex%41mple.com/api/v9",
        "https://\x00.com/api/v9",
        "https://-bad.com/api/v9",
        "https://" + "a" * 64 + ".com/api/v9",
        "https://api.track.toggl.com/api/\r\nv9",  # yarl would silently drop the CR/LF
        "https://api.track.toggl.com/api/v9\t",
        "https://api.track.toggl.com\x7f/api/v9",
        "https://" + ("a" * 60 + ".") * 5 + "com/",  # over 253 characters
    ],
)
def test_bad_hosts_and_characters_in_base_url_are_config_errors(base_url: str) -> None:
    with pytest.raises(tp.TogglConfigError, match="base_url"):
        check_base_url(base_url)
    with pytest.raises(tp.TogglConfigError):
        tp.AsyncTogglClient(tp.ApiToken("t"), base_url=base_url)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://api.track.toggl.com/api/v9",
        "https://api.track.toggl.com./api/v9",
        "https://☃.example/api",
        "https://[2001:db8::1]:8443/api",
        "https://10.1.2.3/api",
        "https://my_host.internal/api",
    ],
)
def test_good_https_base_urls_pass(base_url: str) -> None:
    check_base_url(base_url)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost./api/v9",
        "http://anything.localhost/api/v9",
        "http://api.track.toggl.com.localhost/api/v9",
        "http://localhost.example.com/api/v9",
        "http://[::ffff:10.0.0.1]/api/v9",
        "http://0.0.0.0/api/v9",
    ],
)
def test_plain_http_only_for_literal_loopback(base_url: str) -> None:
    with pytest.raises(tp.TogglConfigError, match="https"):
        check_base_url(base_url)


@pytest.mark.parametrize(
    "base_url",
    [
        "http://localhost:8080/api/v9",
        "http://LOCALHOST/api/v9",
        "http://127.0.0.1/api",
        "http://127.9.8.7/x",
        "http://[::1]:9/api/v9",
    ],
)
def test_plain_http_on_loopback_passes(base_url: str) -> None:
    check_base_url(base_url)


def test_since_before_1970_or_beyond_int64_is_refused() -> None:
    with pytest.raises(tp.TogglValidationError, match="1970"):
        since_param(datetime(1969, 12, 31, 23, 59, tzinfo=timezone.utc))
    with pytest.raises(tp.TogglValidationError, match="1970"):
        since_param(datetime(1970, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))))
    for too_big in (INT64_MAX + 1, 10**30):
        with pytest.raises(tp.TogglValidationError, match="since"):
            since_param(too_big)
    assert since_param(INT64_MAX) == str(INT64_MAX)
    assert since_param(datetime(1970, 1, 1, tzinfo=timezone.utc)) == "0"


def test_workspace_ids_beyond_int64_are_refused() -> None:
    assert check_workspace_id(INT64_MAX) == INT64_MAX
    for too_big in (INT64_MAX + 1, 2**64, 10**40):
        with pytest.raises(tp.TogglValidationError, match="workspace_id"):
            check_workspace_id(too_big)


async def test_out_of_range_arguments_are_refused_before_sending() -> None:
    # Port 9 on loopback (discard): nothing answers, so any request would fail with TransportError.
    async with tp.AsyncTogglClient(
        tp.ApiToken("t"), base_url="http://127.0.0.1:9/api/v9", rate_limit=None
    ) as c:
        with pytest.raises(tp.TogglValidationError):
            await c.get_workspace_preferences(2**63)
        with pytest.raises(tp.TogglValidationError):
            await c.update_workspace_preferences(2**64, disable_expenses=True)
        with pytest.raises(tp.TogglValidationError):
            await c.get_client_preferences("desktop", since=datetime(1960, 1, 1, tzinfo=timezone.utc))
        with pytest.raises(tp.TogglValidationError):
            await c.get_client_preferences("desktop", since=2**63)
        assert c._attempts_made == 0


@pytest.mark.parametrize(
    ("kwargs", "what"),
    [
        ({"timeout": float("inf")}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
    ],
)
def test_non_finite_timeouts_are_refused(kwargs: dict[str, object], what: str) -> None:
    with pytest.raises(tp.TogglConfigError, match=what):
        tp.AsyncTogglClient(tp.ApiToken("t"), **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("token", ["tok\r\n", "tok en", "\ttok", "tok\x00"])
def test_api_tokens_with_whitespace_or_controls_are_refused(token: str) -> None:
    with pytest.raises(tp.TogglConfigError, match="api_token"):
        tp.ApiToken(token)


def test_emails_with_controls_are_refused() -> None:
    with pytest.raises(tp.TogglConfigError, match="email"):
        tp.BasicAuth("me@example.com\r\n", "pw")
    tp.BasicAuth("me@example.com", "pass word with spaces")  # a password may hold any character


# -- cookies ----------------------------------------------------------------------------------


async def test_session_has_cookie_jar() -> None:
    from toggl_prefs._transport import new_session, session_has_cookie_jar

    own = new_session()
    live = aiohttp.ClientSession()
    dummy = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    try:
        assert not session_has_cookie_jar(own)
        assert session_has_cookie_jar(live)
        assert not session_has_cookie_jar(dummy)
    finally:
        for s in (own, live, dummy):
            await s.close()
