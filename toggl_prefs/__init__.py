"""toggl-prefs: a typed asyncio client for the Toggl Track API v9 preferences endpoints.

>>> import toggl_prefs as tp
>>> async with tp.AsyncTogglClient(tp.ApiToken("...")) as toggl:   # doctest: +SKIP
...     prefs = await toggl.get_preferences()
"""

from __future__ import annotations

from ._auth import ApiToken, BasicAuth
from ._client import AsyncTogglClient
from ._constants import DEFAULT_BASE_URL
from ._generated import (
    AlphaFeature,
    AutoTrackingRuleParameters,
    KeyboardShortcut,
    MacOSAutoTrackingRule,
    PreferencesUpdate,
    ProjectRef,
    ProjectTask,
    TagRef,
    UserPreferences,
    WindowsAutoTrackingRule,
    WorkspacePreferences,
    WorkspacePreferencesUpdate,
)
from ._options import ClientOptions
from ._quota import Quota
from ._raw import RawResponse
from ._retry import RetryBudget, RetryPolicy
from ._sync import TogglClient
from ._transport import Transport
from ._unset import UNSET, Unset
from ._urls import CLIENT_TYPES
from ._version import __version__
from .errors import (
    APIError,
    BadRequestError,
    FeatureNotEnabledError,
    ForbiddenError,
    InvalidDateFormatError,
    InvalidFeatureCodeError,
    InvalidTimeOfDayFormatError,
    MissingDataError,
    NotFoundError,
    PaymentRequiredError,
    QuotaExceededError,
    RateLimitError,
    ReadOnlyFieldError,
    RequestTimeoutError,
    ResponseDecodeError,
    ServerError,
    TogglConfigError,
    TogglError,
    TogglFieldError,
    TogglValidationError,
    TransportError,
    UnknownClientError,
    WorkspaceNotFoundError,
)

__all__ = [
    "CLIENT_TYPES",
    "DEFAULT_BASE_URL",
    "UNSET",
    "APIError",
    "AlphaFeature",
    "ApiToken",
    "AsyncTogglClient",
    "AutoTrackingRuleParameters",
    "BadRequestError",
    "BasicAuth",
    "ClientOptions",
    "FeatureNotEnabledError",
    "ForbiddenError",
    "InvalidDateFormatError",
    "InvalidFeatureCodeError",
    "InvalidTimeOfDayFormatError",
    "KeyboardShortcut",
    "MacOSAutoTrackingRule",
    "MissingDataError",
    "NotFoundError",
    "PaymentRequiredError",
    "PreferencesUpdate",
    "ProjectRef",
    "ProjectTask",
    "Quota",
    "QuotaExceededError",
    "RateLimitError",
    "RawResponse",
    "ReadOnlyFieldError",
    "RequestTimeoutError",
    "ResponseDecodeError",
    "RetryBudget",
    "RetryPolicy",
    "ServerError",
    "TagRef",
    "TogglConfigError",
    "TogglClient",
    "TogglError",
    "TogglFieldError",
    "TogglValidationError",
    "Transport",
    "TransportError",
    "Unset",
    "UnknownClientError",
    "UserPreferences",
    "WindowsAutoTrackingRule",
    "WorkspaceNotFoundError",
    "WorkspacePreferences",
    "WorkspacePreferencesUpdate",
    "__version__",
]
