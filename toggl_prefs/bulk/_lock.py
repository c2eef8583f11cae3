"""Exclusive advisory locks on open files, the one locking mechanism of bulk runs: a run's journal
is locked for the run's duration (a second run refused), and a Dask shard's attempts wait for each
other on the same kind of lock.

POSIX ``flock``: the lock belongs to the open file, so it excludes other threads of the same process
as well as other processes, and the OS releases it when the file is closed or the process dies (a
SIGKILL leaves no stale lock). Where ``fcntl`` does not exist (Windows) nothing is locked: two runs
on one journal there are not detected, and must be avoided by the caller. A file system that cannot
lock (some network or FUSE mounts) is logged and used unlocked."""

from __future__ import annotations

import errno
import logging
import sys
from typing import IO, Any

if sys.platform != "win32":
    import fcntl

log = logging.getLogger("toggl_prefs.bulk")

LOCKING = sys.platform != "win32"
"""Whether this platform locks at all (see the module's documentation)."""

# Errors that mean "this file system does not lock", not "someone holds the lock".
_UNSUPPORTED = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})


def lock(handle: IO[Any], *, wait: bool) -> bool:
    """Lock the open file ``handle`` exclusively until it is closed (or :func:`unlock`). With
    ``wait``, block while another holds it; without, return ``False`` at once if another does.
    ``True`` when locked, or when nothing can be locked here (see the module's documentation)."""
    if sys.platform == "win32":  # pragma: no cover - no fcntl
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        name = getattr(handle, "name", "?")
        log.warning("%s: this file system cannot lock files; used without a lock", name)
    return True


def unlock(handle: IO[Any]) -> None:
    """Release :func:`lock` before the file is closed (closing it releases it too)."""
    if sys.platform != "win32":
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
