"""The preferences endpoints, described once, as data.

Each :class:`Endpoint` is one endpoint of the API: the client method that calls it, its HTTP method
and path, the model it sends and the model it answers with, and which preferences it is about (its
:data:`TargetKind`). The client methods stay written out by hand (typed signatures and docstrings are
the product); what can be derived from the table is derived:

- the fake server's routes (``toggl_prefs.testing.FakeTogglServer``) and ``mock_toggl``'s names;
- the endpoint a command or bulk run reads and writes (``toggl_prefs._targets``);
- README.md's endpoint table (:func:`markdown_table`; ``python -m toggl_prefs._endpoints`` prints it).

``tests/test_endpoints.py`` holds everything else to the table: the vendored spec's endpoints, and
each client method's name, parameters, types and the request it actually sends.
"""

from __future__ import annotations

import string
from typing import Final, Literal, get_args

import attrs

from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate

TargetKind = Literal["user", "client", "workspace"]
"""Which preferences: the user's, a client type's (``/me/preferences/{client}``) or a workspace's."""
HttpMethod = Literal["GET", "POST"]
RequestModel = type[PreferencesUpdate] | type[WorkspacePreferencesUpdate]
ResponseModel = type[UserPreferences] | type[WorkspacePreferences]

TARGETS: Final[tuple[TargetKind, ...]] = get_args(TargetKind)
PATH_PARAMETERS: Final[dict[TargetKind, tuple[str, ...]]] = {
    "user": (),
    "client": ("client",),
    "workspace": ("workspace_id",),
}
"""The path parameters of each target's endpoints, which are also the client methods' first arguments."""


def _placeholders(path: str) -> tuple[str, ...]:
    return tuple(name for _, name, _, _ in string.Formatter().parse(path) if name is not None)


@attrs.frozen
class Endpoint:
    """One endpoint. A malformed one is a ``ValueError`` when the table is built (at import)."""

    name: str
    """The method on ``AsyncTogglClient``, ``TogglClient`` and their ``with_raw_response``."""
    method: HttpMethod
    path: str
    """Relative to the API root, with ``{client}`` / ``{workspace_id}`` as its target has them."""
    target: TargetKind
    summary: str
    """One sentence for the docs."""
    request: RequestModel | None = None
    """The update model a POST sends (a GET sends no body)."""
    response: ResponseModel | None = None
    """The model the method returns; ``None`` when it returns nothing (the answer is a bare string)."""
    query: tuple[str, ...] = ()
    """Query parameters, which the client methods take as keyword-only arguments."""

    def __attrs_post_init__(self) -> None:
        if self.method not in get_args(HttpMethod):
            raise ValueError(f"{self.name}: method {self.method!r} is not one of {get_args(HttpMethod)}")
        if self.target not in TARGETS:
            raise ValueError(f"{self.name}: target {self.target!r} is not one of {TARGETS}")
        if not self.path.startswith("/"):
            raise ValueError(f"{self.name}: the path {self.path!r} must start with '/'")
        if _placeholders(self.path) != PATH_PARAMETERS[self.target]:
            raise ValueError(
                f"{self.name}: the path parameters of {self.path!r} are not those of a {self.target!r} "
                f"target {PATH_PARAMETERS[self.target]}"
            )
        if self.method == "GET" and self.request is not None:
            raise ValueError(f"{self.name}: a GET sends no body (request must be None)")
        if self.method == "POST" and self.request is None:
            raise ValueError(f"{self.name}: a POST needs a request model")
        if len(set(self.query)) != len(self.query):
            raise ValueError(f"{self.name}: repeated query parameters {self.query}")

    @property
    def path_parameters(self) -> tuple[str, ...]:
        return PATH_PARAMETERS[self.target]

    def format_path(self, **values: object) -> str:
        """The path with its parameters filled in (already checked values: nothing is escaped)."""
        return self.path.format(**values)

    @property
    def signature(self) -> str:
        """The client method's call, as the docs show it: ``update_client_preferences(client,
        changes=None, /, **fields)``. Every method also takes ``timeout=``."""
        params = list(self.path_parameters)
        if self.request is not None:
            params += ["changes=None", "/", "**fields"]
        if self.query:
            params += ["*", *(f"{q}=None" for q in self.query)]
        return f"{self.name}({', '.join(params)})"


ENDPOINTS: Final[tuple[Endpoint, ...]] = (
    Endpoint(
        name="get_preferences",
        method="GET",
        path="/me/preferences",
        target="user",
        summary="The user's preferences and alpha features.",
        response=UserPreferences,
    ),
    Endpoint(
        name="update_preferences",
        method="POST",
        path="/me/preferences",
        target="user",
        summary="Set the user's preferences (exactly the fields given).",
        request=PreferencesUpdate,
    ),
    Endpoint(
        name="get_client_preferences",
        method="GET",
        path="/me/preferences/{client}",
        target="client",
        summary="A client type's (`desktop`, `web`) preferences; `since`: only those changed after it.",
        response=UserPreferences,
        query=("since",),
    ),
    Endpoint(
        name="update_client_preferences",
        method="POST",
        path="/me/preferences/{client}",
        target="client",
        summary="Set a client type's preferences.",
        request=PreferencesUpdate,
    ),
    Endpoint(
        name="get_workspace_preferences",
        method="GET",
        path="/workspaces/{workspace_id}/preferences",
        target="workspace",
        summary="A workspace's preferences.",
        response=WorkspacePreferences,
    ),
    Endpoint(
        name="update_workspace_preferences",
        method="POST",
        path="/workspaces/{workspace_id}/preferences",
        target="workspace",
        summary="Set a workspace's preferences; returns what the server answers.",
        request=WorkspacePreferencesUpdate,
        response=WorkspacePreferences,
    ),
)


def endpoint_for(target: TargetKind, method: HttpMethod) -> Endpoint:
    """The endpoint that reads (``"GET"``) or writes (``"POST"``) ``target``'s preferences."""
    for endpoint in ENDPOINTS:
        if endpoint.target == target and endpoint.method == method:
            return endpoint
    raise LookupError(f"no {method} endpoint for {target!r} preferences in the endpoint table")


def markdown_table() -> str:
    """README.md's endpoint table (between its ``<!-- endpoints: ... -->`` marks)."""

    def model(cls: type | None) -> str:
        return f"`{cls.__name__}`" if cls is not None else "`None`"

    lines = [
        "| Method (`AsyncTogglClient`, `TogglClient`) | HTTP | Sends | Returns | What |",
        "|---|---|---|---|---|",
    ]
    for e in ENDPOINTS:
        query = "".join(f"?{q}=" if i == 0 else f"&{q}=" for i, q in enumerate(e.query))
        sends = model(e.request) if e.request is not None else "—"
        http = f"{e.method} {e.path}{query}"
        lines.append(f"| `{e.signature}` | `{http}` | {sends} | {model(e.response)} | {e.summary} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m toggl_prefs._endpoints: the table to paste into README.md
    print(markdown_table(), end="")
