"""Read or write "the preferences" a command or bulk run is about: the user's, a client type's or a
workspace's. One place for the choice, so the CLI and the bulk engine make it the same way, and it is
made from the endpoint table (``_endpoints``): a new target there is a new target here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs

from ._client import AsyncTogglClient
from ._endpoints import TARGETS, Endpoint, RequestModel, TargetKind, endpoint_for
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from ._urls import check_client, check_workspace_id
from .errors import TogglFieldError, TogglValidationError


@attrs.frozen
class Target:
    """Checked: a safe client type, a positive int64 workspace id, not both (:meth:`of`)."""

    client: str | None = None
    workspace_id: int | None = None

    @classmethod
    def of(cls, client: str | None = None, workspace_id: int | None = None) -> Target:
        """The target named by a command's or bulk run's ``client`` / ``workspace_id`` (neither: the
        user's own preferences); bad values are refused before anything is sent."""
        if client is not None and workspace_id is not None:
            raise TogglValidationError("give client or workspace_id, not both")
        return cls(
            None if client is None else check_client(client),
            None if workspace_id is None else check_workspace_id(workspace_id),
        )

    @property
    def kind(self) -> TargetKind:
        if self.workspace_id is not None:
            return "workspace"
        return "user" if self.client is None else "client"

    @property
    def read(self) -> Endpoint:
        return endpoint_for(self.kind, "GET")

    @property
    def write(self) -> Endpoint:
        return endpoint_for(self.kind, "POST")

    @property
    def update_model(self) -> RequestModel:
        """The update model its write endpoint takes."""
        model = self.write.request
        assert model is not None  # the table refuses a POST without one
        return model

    @property
    def arguments(self) -> tuple[str | int, ...]:
        """The client methods' leading arguments: the path parameters' values."""
        return tuple(v for v in (self.client, self.workspace_id) if v is not None)

    def read_options(self, since: int | datetime | None = None) -> dict[str, Any]:
        """The read method's keyword arguments; a ``since`` its endpoint does not take is refused
        (it would be dropped silently)."""
        if since is None:
            return {}
        if "since" not in self.read.query:
            takes = [endpoint_for(k, "GET") for k in TARGETS if "since" in endpoint_for(k, "GET").query]
            raise TogglValidationError(
                f"since is a parameter of {' and '.join(f'GET {e.path}' for e in takes)} only, not of "
                f"GET {self.read.path}: give {' or '.join(p for e in takes for p in e.path_parameters)} "
                "too, or no since"
            )
        return {"since": since}


async def read_preferences(
    toggl: AsyncTogglClient,
    client: str | None = None,
    workspace_id: int | None = None,
    since: int | datetime | None = None,
) -> UserPreferences | WorkspacePreferences:
    target = Target.of(client, workspace_id)
    options = target.read_options(since)
    result: UserPreferences | WorkspacePreferences = await getattr(toggl, target.read.name)(
        *target.arguments, **options
    )
    return result


async def write_preferences(
    toggl: AsyncTogglClient,
    update: PreferencesUpdate | WorkspacePreferencesUpdate,
    client: str | None = None,
    workspace_id: int | None = None,
) -> None:
    target = Target.of(client, workspace_id)
    model = target.update_model
    if not isinstance(update, model):
        raise TogglFieldError(
            f"{target.kind} preferences take a {model.__name__} ({target.write.method} "
            f"{target.write.path}), not a {type(update).__name__}"
        )
    await getattr(toggl, target.write.name)(*target.arguments, update)
