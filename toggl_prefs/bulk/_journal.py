"""The run journal: JSON lines, append-only, one line per finished account, flushed as it is written,
so a crash or Ctrl-C leaves a file that a re-run resumes from. Never holds a credential."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ._result import BulkResult

SUCCESS = frozenset({"changed", "unchanged", "fetched"})


def fingerprint(operation: dict[str, Any]) -> str:
    """A short, stable id of what a run does, so that a journal only skips accounts that finished
    the *same* work (another update, client or workspace starts afresh)."""
    return hashlib.sha256(orjson.dumps(operation, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def read_journal(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of a journal; a torn last line (a crash mid-write) is skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as handle:
        for line in handle:
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                yield record


class Journal:
    """Appends one record per account outcome, flushed to the OS as it is written: a crash, a kill
    or Ctrl-C loses nothing that finished. ``fsync=True`` also survives a power cut, at the cost of
    a disk sync per account on the event loop."""

    def __init__(self, path: str | Path, run: str, *, fsync: bool = False) -> None:
        self.path = Path(path)
        self.run = run
        self.fsync = fsync
        # The last outcome per key wins: an account that failed before and succeeds now is done.
        last: dict[str, str] = {}
        for record in read_journal(self.path):
            if record.get("run") == run and isinstance(record.get("key"), str):
                last[record["key"]] = str(record.get("status"))
        self.done = {key for key, status in last.items() if status in SUCCESS}
        self._handle: IO[bytes] | None = None

    def record(self, result: BulkResult) -> None:
        """Append ``result``'s outcome (skipped and dry-run results are not recorded)."""
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
        if self._handle is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("ab")
            if self._handle.tell() and not _ends_with_newline(self.path):
                self._handle.write(b"\n")  # seal a torn line from a crashed run
        # One write per record: a crash can tear at most the last line, which readers skip.
        self._handle.write(orjson.dumps(line) + b"\n")
        self._handle.flush()
        if self.fsync:
            os.fsync(self._handle.fileno())

    def close(self) -> None:
        """Close the file; a later :meth:`record` reopens it."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
