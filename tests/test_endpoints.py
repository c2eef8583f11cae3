"""The endpoint table (``toggl_prefs._endpoints``) against everything that must agree with it: the
vendored spec, the clients' explicit methods (names, parameters, types, the request each sends), the
fake server's routes, ``mock_toggl``'s names, the CLI/bulk targets and README.md's table."""

from __future__ import annotations

import contextlib
import inspect
import json
import re
import subprocess
import sys
import types
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, get_args, get_type_hints

import pytest

import toggl_prefs as tp
from toggl_prefs import errors
from toggl_prefs._classify import _MESSAGES, error_class, extract_message
from toggl_prefs._client import AsyncTogglClientWithRawResponse
from toggl_prefs._endpoints import ENDPOINTS, TARGETS, Endpoint, endpoint_for, markdown_table
from toggl_prefs._sync import TogglClientWithRawResponse
from toggl_prefs._targets import Target, read_preferences, write_preferences
from toggl_prefs.bulk import Account, fetch_all
from toggl_prefs.bulk import sync as bulk_sync
from toggl_prefs.errors import APIError
from toggl_prefs.testing import FakeTogglServer
from toggl_prefs.testing import _aioresponses as aioresponses_mock
from toggl_prefs.testing import _server as fake_server

ROOT = Path(__file__).resolve().parents[1]
SPEC = json.loads((ROOT / "toggl_prefs" / "_spec" / "preferences-fields.json").read_text())
TOKEN = "endpoint-table-token"
WORKSPACE = 42

# What each test call passes, by the table's names: a new target, query parameter or request model
# fails here with a KeyError naming it, so that the seventh endpoint is exercised too.
TARGET_ARGS: dict[str, tuple[Any, ...]] = {"user": (), "client": ("desktop",), "workspace": (WORKSPACE,)}
QUERY_VALUES: dict[str, Any] = {"since": 1}
SAMPLE_UPDATES: dict[type[Any], Any] = {
    tp.PreferencesUpdate: tp.PreferencesUpdate(theme="dark"),
    tp.WorkspacePreferencesUpdate: tp.WorkspacePreferencesUpdate(hide_start_end_times=True),
}


def _call_args(endpoint: Endpoint) -> tuple[tuple[Any, ...], dict[str, Any]]:
    args = TARGET_ARGS[endpoint.target]
    if endpoint.request is not None:
        args = (*args, SAMPLE_UPDATES[endpoint.request])
    return args, {name: QUERY_VALUES[name] for name in endpoint.query}


def _expected_path(endpoint: Endpoint) -> str:
    values = dict(zip(endpoint.path_parameters, TARGET_ARGS[endpoint.target], strict=True))
    return "/api/v9" + endpoint.format_path(**values)


def _seed(server: FakeTogglServer) -> None:
    server.add_account(api_token=TOKEN, workspaces={WORKSPACE: "admin"})


@contextlib.asynccontextmanager
async def _signed_in() -> AsyncIterator[tuple[FakeTogglServer, tp.AsyncTogglClient]]:
    async with FakeTogglServer() as server:
        _seed(server)
        auth = tp.ApiToken(TOKEN)
        async with tp.AsyncTogglClient(auth, base_url=server.base_url, rate_limit=None) as toggl:
            yield server, toggl


# -- the table itself ---------------------------------------------------------------------------------


def test_the_table_is_the_vendored_specs_endpoints() -> None:
    spec = {(e["method"], e["path"]): e for e in SPEC["endpoints"]}
    assert {(e.method, e.path) for e in ENDPOINTS} == set(spec)
    for endpoint in ENDPOINTS:
        documented = spec[(endpoint.method, endpoint.path)]
        assert endpoint.path_parameters == tuple(documented.get("path_params", {})), endpoint.name
        assert endpoint.query == tuple(documented.get("query", {})), endpoint.name
        sends = "body" in documented or "body_fields" in documented
        assert (endpoint.request is not None) == sends, endpoint.name
        answers = "response" in documented or "response_fields" in documented
        assert (endpoint.response is not None) == answers, endpoint.name
        if "response" in documented:
            assert endpoint.response is not None
            assert endpoint.response.__name__ == documented["response"], endpoint.name


def test_names_are_unique_and_each_target_has_one_read_and_one_write() -> None:
    assert len({e.name for e in ENDPOINTS}) == len(ENDPOINTS)
    assert len({(e.method, e.path) for e in ENDPOINTS}) == len(ENDPOINTS)
    for target in TARGETS:
        assert [e.method for e in ENDPOINTS if e.target == target] == ["GET", "POST"], target
        assert endpoint_for(target, "GET").request is None
        assert endpoint_for(target, "POST").request is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"path": "/me/preferences/{client}"}, "path parameters"),  # a user target takes none
        ({"path": "/me/preferences/{workspace_id}", "target": "client"}, "path parameters"),
        ({"request": tp.PreferencesUpdate}, "GET sends no body"),
        ({"method": "POST"}, "POST needs a request model"),
        ({"target": "team"}, "target"),
        ({"method": "PATCH"}, "method"),
        ({"path": "me/preferences"}, "must start with '/'"),
        ({"query": ("since", "since")}, "query"),
    ],
)
def test_a_malformed_endpoint_is_refused_when_the_table_is_built(
    changes: dict[str, Any], message: str
) -> None:
    fields: dict[str, Any] = {
        "name": "get_team_preferences",
        "method": "GET",
        "path": "/me/preferences",
        "target": "user",
        "summary": "s",
        "response": tp.UserPreferences,
    }
    with pytest.raises(ValueError, match=message):
        Endpoint(**{**fields, **changes})


def test_endpoint_for_names_what_is_missing() -> None:
    with pytest.raises(LookupError, match="DELETE"):
        endpoint_for("user", "DELETE")  # type: ignore[arg-type]


# -- the clients' explicit methods ----------------------------------------------------------------------

CLIENTS = [tp.AsyncTogglClient, tp.TogglClient]
RAW_CLIENTS = [AsyncTogglClientWithRawResponse, TogglClientWithRawResponse]  # client.with_raw_response


@pytest.mark.parametrize("cls", [*CLIENTS, *RAW_CLIENTS], ids=lambda c: c.__name__)
def test_every_endpoint_has_a_method_on_every_client(cls: type[Any]) -> None:
    missing = [e.name for e in ENDPOINTS if not callable(getattr(cls, e.name, None))]
    assert not missing, f"{cls.__name__} has no method for {missing}"


def _table_parameters(endpoint: Endpoint) -> list[str]:
    names = list(endpoint.path_parameters)
    if endpoint.request is not None:
        names += ["changes", "fields"]
    return names + list(endpoint.query)


@pytest.mark.parametrize("cls", CLIENTS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_each_method_takes_the_tables_parameters_and_types(cls: type[Any], endpoint: Endpoint) -> None:
    method = getattr(cls, endpoint.name)
    params = [p for p in inspect.signature(method).parameters if p not in ("self", "timeout")]
    assert params == _table_parameters(endpoint)
    hints = get_type_hints(method)
    expected = type(None) if endpoint.response is None else endpoint.response
    assert hints["return"] is expected
    if endpoint.request is not None:
        assert endpoint.request in get_args(hints["changes"])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
async def test_each_async_method_sends_its_endpoint(endpoint: Endpoint) -> None:
    async with _signed_in() as (server, toggl):
        args, kwargs = _call_args(endpoint)
        result = await getattr(toggl, endpoint.name)(*args, **kwargs)
    _check_sent(server, endpoint, result)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_each_sync_method_sends_its_endpoint(endpoint: Endpoint) -> None:
    with FakeTogglServer() as server:
        _seed(server)
        with tp.TogglClient(tp.ApiToken(TOKEN), base_url=server.base_url, rate_limit=None) as toggl:
            args, kwargs = _call_args(endpoint)
            result = getattr(toggl, endpoint.name)(*args, **kwargs)
    _check_sent(server, endpoint, result)


def _check_sent(server: FakeTogglServer, endpoint: Endpoint, result: object) -> None:
    [request] = server.requests
    assert (request.method, request.path) == (endpoint.method, _expected_path(endpoint))
    assert set(request.query) == set(endpoint.query)
    assert request.status == 200
    assert (request.json is not None) == (endpoint.request is not None)
    expected = types.NoneType if endpoint.response is None else endpoint.response
    assert isinstance(result, expected)


@pytest.mark.parametrize("target", ["user", "client"])
async def test_set_alpha_features_posts_to_the_write_endpoint_of_its_target(target: str) -> None:
    endpoint = endpoint_for(target, "POST")  # type: ignore[arg-type]
    async with _signed_in() as (server, toggl):
        client = TARGET_ARGS[target][0] if target == "client" else None
        await toggl.set_alpha_features({"goals": True}, client=client)
    [request] = server.requests
    assert (request.method, request.path) == ("POST", _expected_path(endpoint))


# -- what is derived from the table ---------------------------------------------------------------------


def test_the_fake_server_serves_exactly_the_tables_routes() -> None:
    server = FakeTogglServer()
    routes = {(r.method, r.resource.canonical) for r in server.app.router.routes() if r.resource is not None}
    assert routes == {(e.method, "/api/v9" + e.path) for e in ENDPOINTS}


def test_an_endpoint_the_fake_server_cannot_answer_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    seventh = Endpoint(
        name="get_team_preferences",
        method="GET",
        path="/me/team/preferences",
        target="user",
        summary="A team's preferences.",
        response=tp.UserPreferences,
    )
    monkeypatch.setattr(fake_server, "ENDPOINTS", (*ENDPOINTS, seventh))
    with pytest.raises(NotImplementedError, match="get_team_preferences"):
        FakeTogglServer()


def test_mock_toggls_endpoint_names_are_the_tables() -> None:
    assert {(e.method, e.path): e.name for e in ENDPOINTS} == aioresponses_mock.ENDPOINTS


README_TABLE = re.compile(r"<!-- endpoints: begin.*?-->\n(?P<table>.*?)<!-- endpoints: end -->", re.DOTALL)


def test_the_readmes_endpoint_table_is_the_tables_rendering() -> None:
    found = README_TABLE.search((ROOT / "README.md").read_text())
    assert found is not None, "README.md has no endpoint table (see CONTRIBUTING.md, 'A new endpoint')"
    assert found["table"] == markdown_table(), (
        "README.md's endpoint table is out of date: replace it with the output of "
        "`python -m toggl_prefs._endpoints`"
    )


def test_the_module_prints_the_readme_table() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "toggl_prefs._endpoints"], capture_output=True, text=True, check=True
    )
    assert printed.stdout == markdown_table()


def test_the_rendering_has_a_row_per_endpoint_with_its_signature() -> None:
    rows = [line for line in markdown_table().splitlines() if line.startswith("| `")]
    assert len(rows) == len(ENDPOINTS)
    for row, endpoint in zip(rows, ENDPOINTS, strict=True):
        assert f"`{endpoint.method} {endpoint.path}" in row
        assert row.startswith(f"| `{endpoint.name}(")
    assert "get_client_preferences(client, *, since=None)" in markdown_table()
    assert "update_workspace_preferences(workspace_id, changes=None, /, **fields)" in markdown_table()


# -- the CLI and bulk targets -----------------------------------------------------------------------------

TARGET_KWARGS: dict[str, dict[str, Any]] = {
    "user": {},
    "client": {"client": "desktop"},
    "workspace": {"workspace_id": WORKSPACE},
}


@pytest.mark.parametrize("target", TARGETS)
async def test_targets_read_and_write_through_the_tables_endpoints(target: str) -> None:
    chosen = Target.of(**TARGET_KWARGS[target])
    assert chosen.kind == target
    async with _signed_in() as (server, toggl):
        read = await read_preferences(toggl, **TARGET_KWARGS[target])
        assert chosen.write.request is not None
        await write_preferences(toggl, SAMPLE_UPDATES[chosen.write.request], **TARGET_KWARGS[target])
    assert isinstance(read, chosen.read.response)  # type: ignore[arg-type]
    sent = [(r.method, r.path) for r in server.requests]
    assert sent == [(e.method, _expected_path(e)) for e in (chosen.read, chosen.write)]


def test_a_target_is_checked_before_anything_is_sent() -> None:
    with pytest.raises(tp.TogglValidationError, match="not both"):
        Target.of(client="desktop", workspace_id=1)
    with pytest.raises(tp.TogglValidationError):
        Target.of(client="desk/top")
    with pytest.raises(tp.TogglFieldError):
        Target.of(workspace_id=True)


@pytest.mark.parametrize("target", ["user", "workspace"])
async def test_since_is_refused_where_the_read_endpoint_takes_no_since(target: str) -> None:
    async with _signed_in() as (server, toggl):
        with pytest.raises(tp.TogglValidationError, match="since"):
            await read_preferences(toggl, **TARGET_KWARGS[target], since=1)
    assert server.requests == []


async def test_write_refuses_the_other_targets_update_model_naming_both() -> None:
    async with _signed_in() as (server, toggl):
        with pytest.raises(tp.TogglFieldError, match=r"take a PreferencesUpdate .*not a Workspace"):
            await write_preferences(toggl, SAMPLE_UPDATES[tp.WorkspacePreferencesUpdate], client="web")
        with pytest.raises(tp.TogglFieldError, match=r"a WorkspacePreferencesUpdate .*not a Preferences"):
            await write_preferences(toggl, SAMPLE_UPDATES[tp.PreferencesUpdate], workspace_id=WORKSPACE)
    assert server.requests == []


@pytest.mark.parametrize("target", ["user", "workspace"])
async def test_bulk_fetch_refuses_since_where_it_would_be_dropped(target: str, tmp_path: Path) -> None:
    """fetch_all(since=...) without a client type used to drop ``since`` silently. Refused before
    the run starts: no request, no journal."""
    journal = tmp_path / "run.jsonl"
    async with FakeTogglServer() as server:
        _seed(server)
        accounts = [Account(key="a", auth=tp.ApiToken(TOKEN))]
        run = fetch_all(accounts, **TARGET_KWARGS[target], since=1, base_url=server.base_url, journal=journal)
        with pytest.raises(tp.TogglValidationError, match="since"):
            async for _ in run:
                pass
    assert server.requests == []
    assert not journal.exists()


def test_bulk_sync_fetch_refuses_since_where_it_would_be_dropped() -> None:
    with FakeTogglServer() as server:
        _seed(server)
        accounts = [Account(key="a", auth=tp.ApiToken(TOKEN))]
        with pytest.raises(tp.TogglValidationError, match="since"):
            list(bulk_sync.fetch_all(accounts, since=1, base_url=server.base_url))
    assert server.requests == []


# -- CONTRIBUTING.md's walk-throughs: the places a new documented error message goes stay in step ------


def _documented_classes() -> list[type[APIError]]:
    return sorted({cls for by_message in _MESSAGES.values() for cls in by_message.values()}, key=str)


@pytest.mark.parametrize("cls", _documented_classes(), ids=lambda c: c.__name__)
def test_mock_toggl_can_answer_every_documented_message(cls: type[APIError]) -> None:
    status, body, _ = aioresponses_mock.DOCUMENTED[cls]
    assert error_class(status, extract_message(body)) is cls


def test_the_readme_names_every_error_class() -> None:
    readme = (ROOT / "README.md").read_text()
    missing = [name for name in errors.__all__ if not re.search(rf"`(tp\.)?{name}`", readme)]
    assert missing == []


# -- everything a reader needs is in the repository ----------------------------------------------------

DOC_FILES = [
    "README.md",
    "CONTRIBUTING.md",
    "benchmarks/README.md",
    *(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")),
]
REPO_PATH = re.compile(r"[`(]((?:[\w.-]+/)+[\w.-]+\.(?:py|md|json|toml|yaml)|[\w-]+\.md)[`)#]")
MD_NAME = re.compile(r"\b([\w./-]*[A-Za-z][\w-]*\.md)\b")
LOCAL_ISSUE = re.compile(r"\bissues? #\d+")  # upstream ones are cited as owner/repo#N


def _exists(cited: str, where: Path) -> bool:
    return (where.parent / cited).exists() or (ROOT / cited).exists()


@pytest.mark.parametrize("doc", DOC_FILES)
def test_the_docs_cite_only_files_in_the_repository(doc: str) -> None:
    path = ROOT / doc
    cited = set(REPO_PATH.findall(path.read_text()))
    assert [c for c in cited if not _exists(c, path)] == []


def test_the_code_cites_only_documents_in_the_repository() -> None:
    """Docstrings and comments name documents by path (``docs/toggl-facts.md``), never one that lives
    elsewhere (a design note or a spec outside the checkout)."""
    missing: dict[str, set[str]] = {}
    for folder in ("toggl_prefs", "tests", "tools", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            names = {n for n in MD_NAME.findall(text) if not _exists(n, path)}
            names |= set(LOCAL_ISSUE.findall(text))  # this project's tracker is not in the repository
            if names:
                missing[str(path.relative_to(ROOT))] = names
    assert missing == {}
