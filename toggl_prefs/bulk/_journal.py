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
- **end mark**, written by the run itself when it went through every one of its accounts (the
  iteration ran to its end: not after an exception, a cancellation or an iterator closed early)::

    {"run": "<16 hex>", "event": "finished", "shard": "I/N", "at": 1.7e9}

  ``shard`` only for a run given ``shard=(I, N)``. A pass is finished when an end mark follows its
  header: a resumed pass that is interrupted leaves the journal unfinished again.
- anything else: readers skip kinds they do not know.

:func:`read_journal` yields the records alone; :func:`read_journal_header` gives the first header.
A torn last line (a crash mid-write) is skipped by readers and sealed by the next writer.

A journal is only resumed by the run it belongs to: opening one whose header names another run,
or a non-empty one without a header, is a :class:`JournalMismatchError` unless the caller starts
afresh (``resume=False``, CLI ``--force-new``), which empties it first. One run at a time writes a
journal: it holds an exclusive lock on the file (see :mod:`toggl_prefs.bulk._lock`) until it ends,
and a second run on the same journal is a :class:`JournalLockedError`.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..errors import TogglConfigError, TogglError
from ._lock import lock
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


class JournalLockedError(JournalOpenError):
    """Another run is writing this journal right now (it holds the journal's lock): two runs on one
    journal would each skip what the other finished and interleave their lines. Nothing was sent."""


class JournalWriteError(JournalError):
    """A journal write failed mid-run (a full disk): the run stopped. The results before it were
    yielded (the account whose record failed, too); accounts in flight were cancelled."""


FINISHED = "finished"


def fingerprint(operation: dict[str, Any]) -> str:
    """A short, stable id of a run's identity (16 hex digits)."""
    return hashlib.sha256(orjson.dumps(operation, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def is_header(line: dict[str, Any]) -> bool:
    return line.get("journal") == MAGIC


def is_record(line: dict[str, Any]) -> bool:
    """An account's outcome (not a header, an end mark, or a kind this version does not know)."""
    return isinstance(line.get("key"), str) and "event" not in line and not is_header(line)


def is_end_mark(line: dict[str, Any]) -> bool:
    return line.get("event") == FINISHED and not is_header(line)


def journal_lines(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Every line of a journal, of every kind (torn lines skipped). A missing file has none."""
    path = Path(path)
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
    """The account records of a journal, in order: not its headers, end marks or lines of kinds
    this version does not know; a torn line is skipped. A missing file has none."""
    return (line for line in journal_lines(path) if is_record(line))


def read_journal_header(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The journal's first header (its run and identity), or ``None`` when it has none."""
    for line in journal_lines(path):
        return line if is_header(line) else None
    return None


class Journal:
    """The journal of one run. Opening it (before anything is sent) creates the file if need be,
    locks it for the run (:class:`JournalLockedError` if another run holds it) and reads what it
    holds; :meth:`begin` then checks that it belongs to this run (:class:`JournalMismatchError`
    otherwise; ``resume=False`` empties it instead) and writes the run's header. Given ``run``, the
    constructor does both. Anything else that stops it is a :class:`JournalOpenError`.

    Each record is written with one unbuffered write as it happens: a crash, a kill or Ctrl-C
    loses nothing that finished. ``fsync=True`` also survives a power cut, at the cost of a disk
    sync per account on the event loop. ``done`` holds the keys this run already finished.
    :meth:`finish` writes the end mark; :meth:`close` releases the file and its lock."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        run: str | None,
        *,
        identity: dict[str, Any] | None = None,
        resume: bool = True,
        fsync: bool = False,
    ) -> None:
        self.path = Path(path)
        self.run = ""
        self.identity: dict[str, Any] | None = None
        self.resume = resume
        self.fsync = fsync
        self.done: set[str] = set()
        self._handle: IO[bytes] | None = None
        self._broken: OSError | None = None
        self._created = False
        self._begun = False
        self._header: dict[str, Any] | None = None  # the file's first header (when resuming)
        self._last: dict[str, str] = {}  # the header's run: the last outcome per key
        with self._opening():
            if self.path.exists() and not self.path.is_file():
                raise JournalOpenError(f"the journal {self.path} is not a regular file", self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._created = not self.path.exists()
            # Append mode, so that a run that is refused (locked, another run's) changes nothing.
            self._handle = self.path.open("ab", buffering=0)
            if not lock(self._handle, wait=False):
                raise JournalLockedError(
                    f"another run is writing the journal {self.path} (it holds the journal's lock): "
                    "wait for it to end, or use another journal",
                    self.path,
                )
            if resume:
                self._read()
        if run is not None:
            self.begin(run, identity)

    @contextlib.contextmanager
    def _opening(self) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            self.close()
            raise JournalOpenError(
                f"cannot use the journal {self.path}: {exc.strerror or exc}; the run did not start", self.path
            ) from exc
        except BaseException:
            self.close()
            raise

    def _read(self) -> None:
        first = True
        for line in journal_lines(self.path):
            if first:
                first = False
                if not is_header(line):
                    raise JournalMismatchError(
                        f"the journal {self.path} has no header naming its run (written by an older "
                        "toggl-prefs, or not a journal), so it cannot be resumed safely: pass "
                        "resume=False (CLI: --force-new) to start it afresh, or use another journal",
                        self.path,
                    )
                self._header = line
            # The last outcome per key wins: a failure retried later is done.
            if is_record(line) and self._header is not None and line.get("run") == self._header.get("run"):
                self._last[line["key"]] = str(line.get("status"))

    def expect(self, identity: dict[str, Any]) -> None:
        """Refuse, before the whole identity is known, a journal whose header already differs from
        ``identity`` (a part of it): :class:`JournalMismatchError` (the journal is closed)."""
        with self._opening():
            self._refuse_another_run(identity, only=identity.keys())

    def _refuse_another_run(self, identity: dict[str, Any], only: Iterable[str] | None = None) -> None:
        if self._header is None:
            return
        theirs = self._header.get("identity")
        theirs = theirs if isinstance(theirs, dict) else {}
        differ = _differences(theirs, identity, only)
        # Given a part of the identity, any difference refuses; given all of it, the run (its hash).
        another = bool(differ) if only is not None else self._header.get("run") != self.run
        if another:
            raise JournalMismatchError(
                f"the journal {self.path} belongs to another run (its {', '.join(differ) or 'identity'} "
                "differ): resume it with the same arguments, pass resume=False (CLI: --force-new) to "
                "start it afresh, or use another journal",
                self.path,
            )

    def begin(self, run: str, identity: dict[str, Any] | None = None) -> None:
        """Start run ``run`` in the journal: check that the journal is this run's (unless it is to
        be emptied), seal a torn last line and write the header. Errors close the journal."""
        if self._begun:
            raise RuntimeError("the journal's run has already begun")
        self.run, self.identity = run, identity
        with self._opening():
            handle = self._open_handle()
            self._refuse_another_run(identity or {})
            self.done = {key for key, status in self._last.items() if status in SUCCESS}
            self._last = {}
            if not self.resume:
                handle.truncate(0)  # appends go to the (new) end
            elif os.fstat(handle.fileno()).st_size and not _ends_with_newline(self.path):
                self._write(b"\n")  # seal a torn line from a crashed run
            header = {"journal": MAGIC, "version": VERSION, "run": run, "identity": identity}
            self._write(orjson.dumps({**header, "at": round(time.time(), 3)}) + b"\n")
            self._begun = True

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
        self._append(line)

    def finish(self, shard: tuple[int, int] | None = None) -> None:
        """Append the end mark: the run went through every one of its accounts (of ``shard``)."""
        line: dict[str, Any] = {"run": self.run, "event": FINISHED}
        if shard is not None:
            line["shard"] = f"{shard[0]}/{shard[1]}"
        self._append({**line, "at": round(time.time(), 3)})

    def _append(self, line: dict[str, Any]) -> None:
        if self._broken is None:
            try:
                # One write per line: a crash can tear at most the last line, which readers skip.
                self._write(orjson.dumps(line) + b"\n")
                return
            except OSError as exc:
                self._broken = exc
        raise JournalWriteError(
            f"cannot write to the journal {self.path}: {self._broken.strerror or self._broken}; the run "
            "stopped (the outcomes yielded so far are right; resume once the journal can be written)",
            self.path,
        ) from self._broken

    def _open_handle(self) -> IO[bytes]:
        if self._handle is None:  # closed: its lock is gone, so nothing may be written any more
            raise OSError(errno.EBADF, "the journal is closed")
        return self._handle

    def _write(self, data: bytes) -> None:
        handle = self._open_handle()
        view = memoryview(data)
        while view:  # an unbuffered write may be short (a file size limit): write the rest, or fail
            written = handle.write(view)
            if not written:
                raise OSError(errno.EIO, "the journal file accepted no bytes")
            view = view[written:]
        if self.fsync:
            os.fsync(handle.fileno())

    def close(self) -> None:
        """Close the file, releasing its lock (a journal this run created and never began is
        removed: nothing was written to it). Idempotent."""
        handle, self._handle = self._handle, None
        if handle is None:
            return
        if self._created and not self._begun:
            with contextlib.suppress(OSError):
                self.path.unlink()  # still under our lock
        handle.close()


def _differences(
    theirs: dict[str, Any], ours: dict[str, Any], only: Iterable[str] | None = None
) -> list[str]:
    keys = set(theirs) | set(ours) if only is None else set(only)
    return sorted(k for k in keys if theirs.get(k) != ours.get(k))


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
