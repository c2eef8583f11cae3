"""The run journal: JSON lines, append-only, one line per finished account, written as it happens,
so that a crash, a kill or Ctrl-C leaves a file that a re-run of the *same* run resumes from. It
never holds a credential.

Format (version 1). Every line is one JSON object, of one of these kinds:

- **header**, written each time a run opens the journal (the first is the file's header; a later
  one marks a resume)::

    {"journal": "toggl-prefs", "version": 1, "run": "<16 hex digits>", "identity": {...}, "at": 1.7e9}

  ``identity`` is everything that decides what the run sends and where (see
  :mod:`toggl_prefs.bulk._identity`): ``op`` (``"apply"`` or ``"fetch"``), ``base_url``,
  ``client`` (a client type or null), ``workspace`` (an id or null), ``since`` (fetch; null or a
  UNIX time), ``update`` (apply: ``{"fields": {...}}`` for a fixed update,
  ``{"callable": "module.qualname", "code": "<hex>"}`` for a function, or
  ``{"callable": "named by run_id"}``), and ``run_id`` (the caller's name for the run, or null).
  ``run`` is a hash of ``identity``.
- **record**, one per account outcome (the same fields as before headers existed)::

    {"run": "<16 hex>", "key": "alice", "status": "changed", "attempts": 2, "at": 1.7e9,
     "fields": ["theme"], "error": "ForbiddenError", "message": "..."}

  ``status`` is ``changed``, ``unchanged``, ``fetched`` or ``failed``; ``fields`` (apply) and
  ``error``/``message`` (failed) only when they apply. The last record of a key wins.
- anything else (such as the shard end marks of :mod:`toggl_prefs.bulk.dask`,
  ``{"run": ..., "event": "finished", ...}``): readers skip kinds they do not know.

:func:`read_journal` yields every line but the headers; :func:`read_journal_header` gives the first
header. A torn last line (a crash mid-write) is skipped by readers and sealed by the next writer.

A journal is only resumed by the run it belongs to: opening one whose header names another run,
or a non-empty one without a header, is a :class:`JournalMismatchError` unless the caller starts
afresh (``resume=False``, CLI ``--force-new``), which empties it first.
"""

from __future__ import annotations

import errno
import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import TogglConfigError, TogglError
from ._result import BulkResult

SUCCESS = frozenset({"changed", "unchanged", "fetched"})
MAGIC = "toggl-prefs"
VERSION = 1


class JournalError(TogglError):
    """The run's journal cannot be used; ``path`` names it."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        super().__init__(message)
        self.path = None if path is None else os.fspath(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (str(self), self.path)


class JournalOpenError(JournalError, TogglConfigError):
    """The journal cannot be read, created or written when the run starts: nothing was sent."""


class JournalMismatchError(JournalError, TogglConfigError):
    """The journal belongs to another run (another update, target or server), or to no known run:
    resuming from it would skip accounts that never got this run's update. Nothing was sent."""


class JournalWriteError(JournalError):
    """A journal write failed mid-run (a full disk): the run stopped. The results before it were
    yielded (the account whose record failed, too); accounts in flight were cancelled."""


def fingerprint(operation: dict[str, Any]) -> str:
    """A short, stable id of a run's identity (16 hex digits)."""
    return hashlib.sha256(orjson.dumps(operation, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _is_header(line: Any) -> bool:
    return isinstance(line, dict) and line.get("journal") == MAGIC


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.is_file():  # missing, or a directory or device (never read a device: /dev/zero)
        return
    with path.open("rb") as handle:
        for line in handle:
            try:
                item = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a torn line
            if isinstance(item, dict):
                yield item


def read_journal(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """The lines of a journal except its headers: account records (and other kinds a reader may
    skip); a torn line is skipped. A missing file has none."""
    for line in _lines(Path(path)):
        if not _is_header(line):
            yield line


def read_journal_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The journal's first header (its run and identity), or ``None`` when it has none."""
    for line in _lines(Path(path)):
        return line if _is_header(line) else None
    return None


class Journal:
    """The journal of one run, opened (and a header written to it) at construction, before anything
    is sent: a journal that cannot be written is a :class:`JournalOpenError`, one that belongs to
    another run a :class:`JournalMismatchError`. ``resume=False`` empties the file first.

    Each record is written with one unbuffered write as it happens: a crash, a kill or Ctrl-C
    loses nothing that finished. ``fsync=True`` also survives a power cut, at the cost of a disk
    sync per account on the event loop. ``done`` holds the keys this run already finished."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        run: str,
        *,
        identity: dict[str, Any] | None = None,
        resume: bool = True,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.run = run
        self.identity = identity
        self.fsync = fsync
        self.done: set[str] = set()
        self._handle: IO[bytes] | None = None
        self._broken: OSError | None = None
        try:
            if self.path.exists() and not self.path.is_file():
                raise JournalOpenError(f"the journal {self.path} is not a regular file", self.path)
            if resume:
                self._resume()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab" if resume else "wb", buffering=0)
            if self._handle.tell() and not _ends_with_newline(self.path):
                self._write(b"\n")  # seal a torn line from a crashed run
            header = {"journal": MAGIC, "version": VERSION, "run": run, "identity": identity}
            self._write(orjson.dumps({**header, "at": round(time.time(), 3)}) + b"\n")
        except OSError as exc:
            self.close()
            raise JournalOpenError(
                f"cannot use the journal {self.path}: {exc.strerror or exc}; the run did not start", self.path
            ) from exc
        except JournalError:
            self.close()
            raise

    def _resume(self) -> None:
        header: dict[str, Any] | None = None
        first = True
        last: dict[str, str] = {}  # the last outcome per key wins: a failure retried later is done
        for line in _lines(self.path):
            if first:
                first = False
                if not _is_header(line):
                    raise JournalMismatchError(
                        f"the journal {self.path} has no header naming its run (written by an older "
                        "toggl-prefs, or not a journal), so it cannot be resumed safely: pass "
                        "resume=False (CLI: --force-new) to start it afresh, or use another journal",
                        self.path,
                    )
                header = line
            if line.get("run") == self.run and isinstance(line.get("key"), str) and not _is_header(line):
                last[line["key"]] = str(line.get("status"))
        if header is not None and header.get("run") != self.run:
            theirs = header.get("identity")
            differ = _differences(theirs if isinstance(theirs, dict) else {}, self.identity or {})
            raise JournalMismatchError(
                f"the journal {self.path} belongs to another run (its {', '.join(differ) or 'identity'} "
                "differ): resume it with the same arguments, pass resume=False (CLI: --force-new) to "
                "start it afresh, or use another journal",
                self.path,
            )
        self.done = {key for key, status in last.items() if status in SUCCESS}

    def record(self, result: BulkResult) -> None:
        """Append ``result``'s outcome (skipped and dry-run results are not recorded). A failed
        write is a :class:`JournalWriteError`, and so is every later call."""
        if result.skipped or result.dry_run:
            return
        line: dict[str, Any] = {
            "run": self.run,
            "key": result.key,
            "status": result.status,
            "attempts": result.attempts,
            "at": round(time.time(), 3),
        }
        if result.fields:
            line["fields"] = list(result.fields)
        if result.error is not None:
            line["error"] = type(result.error).__name__
            line["message"] = str(result.error)[:500]
        if self._broken is None:
            try:
                # One write per record: a crash can tear at most the last line, which readers skip.
                self._write(orjson.dumps(line) + b"\n")
                return
            except OSError as exc:
                self._broken = exc
        raise JournalWriteError(
            f"cannot write to the journal {self.path}: {self._broken.strerror or self._broken}; the run "
            "stopped (the outcomes yielded so far are right; resume once the journal can be written)",
            self.path,
        ) from self._broken

    def _write(self, data: bytes) -> None:
        if self._handle is None:
            self._handle = self.path.open("ab", buffering=0)
        view = memoryview(data)
        while view:  # an unbuffered write may be short (a file size limit): write the rest, or fail
            written = self._handle.write(view)
            if not written:
                raise OSError(errno.EIO, "the journal file accepted no bytes")
            view = view[written:]
        if self.fsync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file; a later :meth:`record` reopens it. Idempotent."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.close()


def _differences(theirs: dict[str, Any], ours: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
