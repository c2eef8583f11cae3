"""The progress bar of a bulk run (tqdm), with lines printed above it as accounts finish.

tqdm draws only on a terminal (``disable=None``), clears and redraws the bar around every line
written through :meth:`BulkProgress.say`, and keeps rate and ETA; a run piped to a file gets the
lines alone.
"""

from __future__ import annotations

from typing import TextIO

from tqdm import tqdm

from ..bulk import BulkResult


class _Bar(tqdm):  # type: ignore[type-arg]
    # No monitor thread: the bar is advanced by every finished account, never left stale for long.
    monitor_interval = 0


class BulkProgress:
    def __init__(self, total: int, stream: TextIO, *, quiet: bool = False) -> None:
        self.stream = stream
        self.failed = 0
        self.bar = _Bar(
            total=total,
            file=stream,
            unit="acct",
            disable=True if quiet else None,  # None: draw only on a terminal
            dynamic_ncols=True,
            mininterval=0.1,
            postfix="failed 0",
        )

    def advance(self, result: BulkResult) -> None:
        if not result.ok:
            self.failed += 1
            self.bar.set_postfix_str(f"failed {self.failed:,}", refresh=False)
        self.bar.update(1)

    def say(self, text: str) -> None:
        """A line above the bar (the bar is cleared first and redrawn after)."""
        self.bar.write(text, file=self.stream)

    def close(self) -> None:
        self.bar.close()
