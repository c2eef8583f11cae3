"""The one exit-code table of every ``toggl-prefs`` command, as data, and the rules that use it."""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Iterable
from typing import NamedTuple

from .. import errors as e
from ..bulk import AccountsFileError, JournalWriteError
from ._values import UsageError


class ExitCode(enum.IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    API = 3
    AUTH = 4
    LIMIT = 5
    NETWORK = 6
    INTERRUPTED = 130


class ExitRow(NamedTuple):
    code: ExitCode
    meaning: str
    causes: tuple[type[BaseException], ...]
    """Exceptions that end a command with this code; the most specific class wins (see
    :func:`exit_code_for`), so ``ForbiddenError`` is AUTH although it is also an ``APIError``."""


EXIT_CODES: tuple[ExitRow, ...] = (
    ExitRow(ExitCode.OK, "success (a bulk run: no account failed)", ()),
    ExitRow(ExitCode.ERROR, "unexpected error (a bug: run again with --debug and report it)", (Exception,)),
    ExitRow(
        ExitCode.USAGE,
        "usage error: bad option, field, value, file or credentials setup; nothing was sent",
        (UsageError, e.TogglValidationError, e.TogglConfigError, AccountsFileError, OSError),
    ),
    ExitRow(
        ExitCode.API,
        "the API refused the request (400, 404, 402 plan feature, 5xx) or answered unreadably",
        (e.APIError, e.ResponseDecodeError),
    ),
    ExitRow(ExitCode.AUTH, "authentication or permission refused (403)", (e.ForbiddenError,)),
    ExitRow(
        ExitCode.LIMIT,
        "hourly quota spent (402) or rate limited (429)",
        (e.QuotaExceededError, e.RateLimitError),
    ),
    ExitRow(ExitCode.NETWORK, "network error or timeout: no answer", (e.TransportError,)),
    ExitRow(
        ExitCode.INTERRUPTED,
        "interrupted (Ctrl-C, or stdout closed early, as by | head), or a run not finished (its journal "
        "could not be written; bulk report): re-run to resume",
        (KeyboardInterrupt, BrokenPipeError, JournalWriteError),
    ),
)

_BY_CLASS: dict[type[BaseException], ExitCode] = {
    cause: row.code for row in EXIT_CODES for cause in row.causes
}


def exit_code_for(exc: BaseException | type[BaseException]) -> ExitCode:
    """The exit code for an error (or error class): the row naming the closest class in its MRO."""
    cls = exc if isinstance(exc, type) else type(exc)
    for base in cls.__mro__:
        if base in _BY_CLASS:
            return _BY_CLASS[base]
    return ExitCode.ERROR


def exit_code_for_name(name: str) -> ExitCode:
    """The exit code for an error class named in a results file or journal (``"ForbiddenError"``)."""
    cls = getattr(e, name, None)
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return exit_code_for(cls)
    return ExitCode.ERROR


def bulk_exit_code(failures: Iterable[BaseException | str]) -> ExitCode:
    """A bulk run's exit code: OK when no account failed, else the code most failed accounts share
    (the lower code on a tie), so that a run of 403s exits as one account's 403 does. ``failures``
    are the errors, or their class names as journals record them."""
    counts = Counter(exit_code_for_name(f) if isinstance(f, str) else exit_code_for(f) for f in failures)
    if not counts:
        return ExitCode.OK
    return min(counts, key=lambda code: (-counts[code], code))


def epilog() -> str:
    """The table for ``--help``."""
    width = max(len(str(int(row.code))) for row in EXIT_CODES)
    lines = [f"  {int(row.code):>{width}}  {row.meaning}" for row in EXIT_CODES]
    return "exit codes (every command, bulk runs included):\n" + "\n".join(lines)
