"""How the command line shows things.

stdout carries a command's result and nothing else (a table, JSON, JSON lines, a script), so that
``| jq`` and ``> file`` always work; everything said *about* the run (confirmations, notes, progress,
summaries, warnings, errors) goes to stderr. ``--quiet`` silences stderr except warnings and errors.
Colour only on a terminal, never with ``NO_COLOR``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any, Literal, TextIO

import orjson

from .._base import Model
from ._fields import specs

Keys = Literal["wire", "python"]
KEYS: tuple[Keys, ...] = ("wire", "python")
UNSET_CELL = "(unset)"


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set (no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


class Printer:
    def __init__(self, out: TextIO | None = None, err: TextIO | None = None, *, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet
        self.colour = use_colour(self.out)
        self.err_colour = use_colour(self.err)

    @staticmethod
    def _paint(text: str, code: str, colour: bool) -> str:
        return f"\033[{code}m{text}\033[0m" if colour else text

    # -- the result: stdout ----------------------------------------------------------------------

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def heading(self, text: str) -> None:
        self.line(self._paint(text, "1", self.colour))

    def good(self, text: str) -> None:
        self.line(self._paint(text, "32", self.colour))

    def bad(self, text: str) -> None:
        self.line(self._paint(text, "33", self.colour))

    def json(self, data: Any) -> None:
        self.out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n")

    def table(self, rows: Iterable[tuple[str, str]]) -> None:
        rows = list(rows)
        if not rows:
            self.info("(nothing set)")
            return
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            self.line(f"{self._paint(key.ljust(width), '36', self.colour)}  {value}".rstrip())

    def model(self, model: Model, *, keys: Keys = "python", every_field: bool = False) -> None:
        """A model as a two-column table: its set fields (``every_field``: all of them), named by
        attribute (``keys="python"``) or by documented key (``keys="wire"``)."""
        rows = []
        for s in specs(type(model)):
            value = getattr(model, s.attr)
            if value is not None or every_field:
                cell = UNSET_CELL if value is None else summary(s.attr, value)
                rows.append((s.attr if keys == "python" else s.wire, cell))
        rows += [(f"{k} (unknown)", show(v)) for k, v in model.extra.items()]
        self.table(sorted(rows))

    # -- about the run: stderr -------------------------------------------------------------------

    def _say(self, text: str, code: str) -> None:
        print(self._paint(text, code, self.err_colour), file=self.err)

    def info(self, text: str) -> None:
        """A note (dim); silenced by ``--quiet``."""
        if not self.quiet:
            self._say(text, "2")

    def done(self, text: str) -> None:
        """A confirmation (green); silenced by ``--quiet``."""
        if not self.quiet:
            self._say(text, "32")

    def warn(self, text: str) -> None:
        """Something the user should know even with ``--quiet`` (yellow)."""
        self._say(text, "33")

    def error(self, text: str) -> None:
        self._say(text, "31")


def model_json(model: Model, *, keys: Keys = "wire", every_field: bool = False) -> dict[str, Any]:
    """A model as JSON: the wire form (``to_dict()``), optionally with every field (``null`` when
    unset) and with attribute names for keys."""
    data = model.to_dict()
    if every_field:
        data = {s.wire: None for s in specs(type(model))} | data
    return python_keys(type(model), data) if keys == "python" else data


def python_keys(cls: type[Any], data: dict[str, Any]) -> dict[str, Any]:
    """``data`` (wire keys of model ``cls``) with attribute names instead, nested tables included."""
    by_wire = {s.wire: s for s in specs(cls)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        spec = by_wire.get(key)
        if spec is None:
            out[key] = value
            continue
        if spec.nested is not None and isinstance(value, dict):
            value = python_keys(spec.nested, value)
        elif spec.nested is not None and isinstance(value, list):
            value = [python_keys(spec.nested, v) if isinstance(v, dict) else v for v in value]
        out[spec.attr] = value
    return out


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
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()
