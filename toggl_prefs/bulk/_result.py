"""What a bulk run yields per account, and the summary of a run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

import attrs

from ..errors import TogglError


@attrs.frozen
class BulkResult:
    """One account's outcome.

    - ``ok``: the account ended as asked (fetched, changed, or already compliant);
    - ``value``: for a fetch, the preferences; for an apply, the update sent (or, in a dry run, the
      update that would be sent); ``None`` when nothing needed to change;
    - ``error``: the typed :class:`~toggl_prefs.TogglError` when ``ok`` is false;
    - ``attempts``: HTTP attempts made for this account (retries included);
    - ``changed``: for an apply, whether an update was (or would be) sent;
    - ``skipped``: the journal says this account already finished this same run.
    """

    key: str
    ok: bool
    value: Any = None
    error: TogglError | None = None
    attempts: int = 0
    changed: bool | None = None
    skipped: bool = False
    dry_run: bool = False

    @property
    def status(self) -> str:
        """``fetched``, ``changed``, ``unchanged``, ``failed`` or ``skipped``."""
        if self.skipped:
            return "skipped"
        if not self.ok:
            return "failed"
        if self.changed is None:
            return "fetched"
        return "changed" if self.changed else "unchanged"

    @property
    def fields(self) -> tuple[str, ...]:
        """For an apply: the attribute names the update set."""
        fields_set = getattr(self.value, "fields_set", None)
        return tuple(fields_set()) if callable(fields_set) else ()


@attrs.define
class BulkSummary:
    """Counts of a run: by status, and failures by error class.

    ``failed_keys`` maps each failed account's key to its error class. For a run split into shards
    (:func:`toggl_prefs.bulk.dask.run_on_dask`, :func:`toggl_prefs.bulk.merge_journals`),
    ``shards`` maps each shard (``"I/N"``, as ``--shard`` spells it) to whether it finished."""

    by_status: Counter[str] = attrs.field(factory=Counter)
    failures: Counter[str] = attrs.field(factory=Counter)
    attempts: int = 0
    failed_keys: dict[str, str] = attrs.field(factory=dict)
    shards: dict[str, bool] = attrs.field(factory=dict)

    def add(self, result: BulkResult) -> BulkResult:
        """Count ``result``; returns it, so ``summary.add(r)`` fits inside a loop expression."""
        self.by_status[result.status] += 1
        self.attempts += result.attempts
        if result.error is not None:
            self.failures[type(result.error).__name__] += 1
            self.failed_keys[result.key] = type(result.error).__name__
        return result

    @property
    def unfinished(self) -> list[str]:
        """The shards (``"I/N"``) that have not finished: re-run them with the same journal."""
        return [shard for shard, finished in self.shards.items() if not finished]

    @classmethod
    def of(cls, results: Iterable[BulkResult]) -> BulkSummary:
        """The summary of ``results`` (consumes the iterable)."""
        summary = cls()
        for result in results:
            summary.add(result)
        return summary

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def rows(self) -> list[tuple[str, int]]:
        """(label, count) rows for a table: statuses, failures by error class, then the total."""
        order = ["fetched", "changed", "unchanged", "skipped", "failed"]
        rows = [(status, self.by_status[status]) for status in order if self.by_status[status]]
        rows += [(f"  {name}", count) for name, count in self.failures.most_common()]
        rows.append(("total", self.total))
        return rows

    def __str__(self) -> str:
        rows = self.rows()
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name.ljust(width)}  {count:>8,}" for name, count in rows)
