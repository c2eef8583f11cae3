"""Hostile input, fuzzed with hypothesis: the decoder, the error classifier and the header parsers
end in a model / a typed error and never raise anything else."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

import toggl_prefs as tp
from toggl_prefs import _classify
from toggl_prefs._quota import parse_quota

from .conftest import record, record_once

DOCUMENTED = [s.wire for s in tp.UserPreferences.__toggl_fields__]
keys = st.one_of(
    st.sampled_from(DOCUMENTED),
    st.sampled_from(DOCUMENTED).map(str.upper),
    st.sampled_from(DOCUMENTED).map(lambda k: k[:1].upper() + k[1:]),
    st.text(max_size=20),  # unicode keys of every kind
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=25,
)
documents = st.one_of(st.dictionaries(keys, values, max_size=40), values)
EXAMPLES = 400


def decode(body: bytes, cls: Any = tp.UserPreferences) -> Any:
    try:
        return cls.from_json(body)
    except tp.ResponseDecodeError:
        return None


@settings(max_examples=EXAMPLES, deadline=None)
@given(documents)
def test_arbitrary_json_documents(document: Any) -> None:
    body = orjson.dumps(document)
    for cls in (tp.UserPreferences, tp.WorkspacePreferences):
        model = decode(body, cls)
        if model is None:
            assert not isinstance(document, dict)
            continue
        again = cls.from_dict(model.to_dict())
        assert again == model  # what it kept round-trips


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes(body: bytes) -> None:
    decode(body)


def test_pathological_documents() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert decode(deep) is None
    nested_object = b'{"decimal_separator": ' + b'{"a": ' * 2000 + b"1" + b"}" * 2001
    assert decode(nested_object) is None
    big = decode(b'{"beginningOfWeek": 123456789012345678901234567890}')
    assert big is not None and big.beginning_of_week == 123456789012345678901234567890  # kept exactly
    assert decode(b'{"beginningOfWeek": 1e400}') is None  # no float holds it: refused
    dupes = b'{"beginningOfWeek": 1, "BEGINNINGOFWEEK": 2, "BeginningOfWeek": "x", "beginningofweek": null}'
    model = decode(dupes)
    assert model is not None and model.beginning_of_week == 1
    assert set(model.extra) == {"BEGINNINGOFWEEK", "BeginningOfWeek", "beginningofweek"}
    for root in (b"null", b"true", b"3", b'"x"', b"[]"):
        assert decode(root) is None
    record(
        "fuzz",
        target="decoder (UserPreferences, WorkspacePreferences)",
        cases=f"{EXAMPLES} JSON documents + {EXAMPLES} byte strings + 9 pathological",
        held="a model that round-trips, or ResponseDecodeError",
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.integers(100, 599),
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from(
            ["Retry-After", "X-Toggl-Quota-Remaining", "X-Toggl-Quota-Resets-In", "X-Request-Id"]
        ),
        st.text(max_size=30),
    ),
)
def test_error_classifier(status: int, body: bytes, headers: dict[str, str]) -> None:
    err = _classify.build_error(status, body, headers, method="GET", url="u")
    assert isinstance(err, tp.APIError) and err.status == status
    assert isinstance(str(err), str) and isinstance(repr(err), str)
    record_once(
        "fuzz",
        target="error classifier (status, body, headers)",
        cases=f"{EXAMPLES} generated",
        held="an APIError of the status' class",
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=60))
def test_header_parsers(value: str) -> None:
    quota = parse_quota({"X-Toggl-Quota-Remaining": value, "X-Toggl-Quota-Resets-In": value})
    assert quota is None or all(v is None or v >= 0 for v in (quota.remaining, quota.resets_in))
    wait = _classify.parse_retry_after(value)
    assert wait is None or wait >= 0
    record_once(
        "fuzz",
        target="Retry-After and X-Toggl-Quota-* parsers",
        cases=f"{EXAMPLES} generated",
        held="a non-negative number, or None",
    )
