"""How the command line shows things: aligned tables on a terminal (colour only there), JSON."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, TextIO

import orjson

from .._base import Model


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class Printer:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.colour = use_colour(self.out)

    def _paint(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.colour else text

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def heading(self, text: str) -> None:
        self.line(self._paint(text, "1"))

    def note(self, text: str) -> None:
        self.line(self._paint(text, "2"))

    def good(self, text: str) -> None:
        self.line(self._paint(text, "32"))

    def bad(self, text: str) -> None:
        self.line(self._paint(text, "33"))

    def json(self, data: Any) -> None:
        self.out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")

    def table(self, rows: Iterable[tuple[str, str]]) -> None:
        rows = list(rows)
        if not rows:
            self.note("(nothing set)")
            return
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.line(f"{self._paint(key.ljust(width), '36')}  {value}")

    def model(self, model: Model) -> None:
        """A model as a two-column table of its set fields, by attribute name."""
        rows = [
            (s.attr, summary(s.attr, value))
            for s in model.__toggl_fields__
            if (value := getattr(model, s.attr)) is not None
        ]
        rows += [(f"{k} (unknown)", show(v)) for k, v in model.extra.items()]
        self.table(sorted(rows))


def summary(name: str, value: Any) -> str:
    """A table cell: the value, except for the (long) list of alpha features, which is summed up."""
    if name == "alpha_features" and isinstance(value, list):
        enabled = sorted(f.code for f in value if f.enabled and f.code)
        listed = ", ".join(enabled) if enabled else "none"
        return f"{len(value)} features; enabled: {listed} (details: toggl-prefs alpha list)"
    return show(value)


def show(value: Any) -> str:
    if isinstance(value, Model):
        value = value.to_dict()
    elif isinstance(value, list) and value and isinstance(value[0], Model):
        value = [v.to_dict() for v in value]
    if isinstance(value, bool) or value is None:
        return orjson.dumps(value).decode()
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
