"""Read or write "the preferences" a command or bulk run is about: the user's, a client type's or a
workspace's. One place for the choice, so the CLI and the bulk engine make it the same way."""

from __future__ import annotations

from datetime import datetime

from ._client import AsyncTogglClient
from ._generated import PreferencesUpdate, UserPreferences, WorkspacePreferences, WorkspacePreferencesUpdate
from .errors import TogglFieldError


async def read_preferences(
    toggl: AsyncTogglClient,
    client: str | None = None,
    workspace_id: int | None = None,
    since: int | datetime | None = None,
) -> UserPreferences | WorkspacePreferences:
    if workspace_id is not None:
        return await toggl.get_workspace_preferences(workspace_id)
    if client is not None:
        return await toggl.get_client_preferences(client, since=since)
    return await toggl.get_preferences()


async def write_preferences(
    toggl: AsyncTogglClient,
    update: PreferencesUpdate | WorkspacePreferencesUpdate,
    client: str | None = None,
    workspace_id: int | None = None,
) -> None:
    if workspace_id is not None:
        if not isinstance(update, WorkspacePreferencesUpdate):
            raise TogglFieldError("a workspace takes a WorkspacePreferencesUpdate")
        await toggl.update_workspace_preferences(workspace_id, update)
    elif not isinstance(update, PreferencesUpdate):
        raise TogglFieldError("user and client preferences take a PreferencesUpdate")
    elif client is not None:
        await toggl.update_client_preferences(client, update)
    else:
        await toggl.update_preferences(update)
