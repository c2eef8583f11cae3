"""Generate ``toggl_prefs/_generated.py`` from the vendor's field tables.

    python tools/gen_models.py                      # regenerate after the spec or this script changed
    python tools/gen_models.py --check              # exit 1 if the checked-in module is stale
    python tools/gen_models.py --compare-spec PATH  # exit 1 if PATH differs from the vendored spec

The spec (``toggl_prefs/_spec/preferences-fields.json``) is the reference's tables as data, shipped
with the package. The top-level models come from its endpoints: one read model per resource (what
its GET answers), one update model per resource a POST writes. What the reference leaves out
(docs/toggl-facts.md: known values, types that drifted, casing) is data in the tables below, not code.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "toggl_prefs" / "_spec" / "preferences-fields.json"
OUT = ROOT / "toggl_prefs" / "_generated.py"


def _load_fieldspec() -> ModuleType:
    """``toggl_prefs/_fieldspec.py`` on its own (it imports nothing from the package): the one
    wording of a field's summary, without importing the package this script regenerates."""
    spec = importlib.util.spec_from_file_location("_toggl_fieldspec", ROOT / "toggl_prefs" / "_fieldspec.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # NamedTuple needs its module while the class is built
    spec.loader.exec_module(module)
    return module


fieldspec = _load_fieldspec()

# -- what the reference's tables do not say ----------------------------------------------------------

# Each top-level resource: (read model, update model, what it is). Keyed by the table an endpoint
# names, or by its path when the endpoint lists its fields inline.
MODELS: dict[str, tuple[str, str, str]] = {
    "UserPreferences": ("UserPreferences", "PreferencesUpdate", "a user's preferences"),
    "/workspaces/{workspace_id}/preferences": (
        "WorkspacePreferences",
        "WorkspacePreferencesUpdate",
        "a workspace's preferences",
    ),
}
# Several documented tables share one shape: one class serves them all.
NESTED_CLASS = {
    "alpha_features": "AlphaFeature",
    "default_project_task": "ProjectTask",
    "macos_auto_tracking_rules": "MacOSAutoTrackingRule",
    "macos_show_hide_toggl_keyboard_shortcut": "KeyboardShortcut",
    "macos_stop_continue_keyboard_shortcut": "KeyboardShortcut",
    "windows_show_hide_toggl_keyboard_shortcut": "KeyboardShortcut",
    "windows_stop_continue_keyboard_shortcut": "KeyboardShortcut",
    "windows_stop_start_keyboard_shortcut": "KeyboardShortcut",
    "pomodoro_break_project": "ProjectRef",
    "workout_default_project": "ProjectRef",
    "pomodoro_break_tag": "TagRef",
    "workout_default_tag": "TagRef",
    "windows_auto_tracking_rules": "WindowsAutoTrackingRule",
    "parameters": "AutoTrackingRuleParameters",
}
NESTED_DOC = {
    "AlphaFeature": "An alpha (early access) feature and whether it is enabled for the user.",
    "ProjectTask": "A default project and task (``default_project_task``).",
    "MacOSAutoTrackingRule": "A macOS auto-tracking rule (``macos_auto_tracking_rules``).",
    "KeyboardShortcut": "A keyboard shortcut: key code and modifier mask.",
    "ProjectRef": "A reference to a project in a workspace.",
    "TagRef": "A reference to a tag in a workspace.",
    "WindowsAutoTrackingRule": "A Windows auto-tracking rule (``windows_auto_tracking_rules``).",
    "AutoTrackingRuleParameters": "The matching parameters of a Windows auto-tracking rule.",
}
# The reference's camelCase does not always split cleanly.
SNAKE_OVERRIDES = {"toSAcceptNeeded": "tos_accept_needed"}
# docs/toggl-facts.md "Known values" (found against the live API): a Literal type each, open to new values.
KNOWN_VALUES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "date_format": (
        "DateFormat",
        ("MM/DD/YYYY", "DD-MM-YYYY", "MM-DD-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "DD.MM.YYYY"),
    ),
    "timeofday_format": ("TimeOfDayFormat", ("H:mm", "h:mm A")),
    "duration_format": ("DurationFormat", ("classic", "improved", "decimal")),
    "beginningOfWeek": ("Weekday", (0, 1, 2, 3, 4, 5, 6)),
}
# What docs/toggl-facts.md and Toggl's other documentation add to a field's description.
NOTES = {
    "beginningOfWeek": "first day of the week: 0 = Sunday .. 6 = Saturday",
    "date_format": "how dates are shown",
    "timeofday_format": "how times of day are shown: 24-hour or 12-hour clock",
    "duration_format": "how durations are shown",
    "logo": "URL of the workspace's logo (returned by the server, not settable here)",
}
# Fields whose documented type drifted: other shapes seen in older schemas and live answers, taken
# as readily as the documented one.
ALSO_SEEN = {"decimal_separator": ("string",)}
# Lists the server merges item by item: the key that identifies an item, and what an update sends of
# it. The reference's POST example for alpha features carries only ``code`` and ``enabled``.
MERGED_LISTS: dict[str, tuple[str, tuple[str, ...]]] = {"alpha_features": ("code", ("code", "enabled"))}

PY_SCALAR = {"boolean": "bool", "integer": "int", "string": "str"}
KIND_OF_TYPE = {"boolean": "BOOL", "integer": "INT", "string": "STR"}
READ_ONLY_ERROR = re.compile(r"Cannot set value for (\w+)")
VALIDATED_ERROR = re.compile(r"Value in (\w+) is invalid")


def snake(name: str) -> str:
    if name in SNAKE_OVERRIDES:
        return SNAKE_OVERRIDES[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


@dataclass
class Facts:
    """What the endpoints' error messages tell about fields (keyed by lower-cased wire name)."""

    read_only: set[str] = field(default_factory=set)
    validated: set[str] = field(default_factory=set)


class Field:
    def __init__(
        self,
        entry: dict[str, Any],
        tables: dict[str, list[dict[str, Any]]],
        facts: Facts,
        *,
        read_only: bool = False,
    ) -> None:
        self.wire = str(entry["name"])
        self.attr = snake(self.wire)
        self.nested = NESTED_CLASS.get(self.wire) if self.wire in tables else None
        json_type = str(entry["type"])
        alias, values = KNOWN_VALUES.get(self.wire, (None, ()))
        self.values: tuple[Any, ...] = values
        self.alias = alias
        self.also = ALSO_SEEN.get(self.wire, ())
        if json_type in PY_SCALAR:
            self.py, self.kind = PY_SCALAR[json_type], KIND_OF_TYPE[json_type]
        elif json_type == "object" and self.nested:
            self.py, self.kind = self.nested, "OBJECT"
        elif json_type == "object":
            self.py, self.kind = "dict[str, Any]", "DICT"
        elif json_type == "Array of object" and self.nested:
            self.py, self.kind = f"list[{self.nested}]", "OBJECT_LIST"
        elif json_type == "Array of integer":
            self.py, self.kind = "list[int]", "INT_LIST"
        else:  # pragma: no cover - a new spec type needs a decision here
            raise SystemExit(f"unhandled type {json_type!r} for {self.wire}")
        if alias:
            self.py = f"{alias} | {self.py}"
        for other in self.also:
            self.py += f" | {PY_SCALAR[other]}"
        description = str(entry.get("description") or "").strip()
        validated = (
            "the server refuses values it does not know" if self.wire.lower() in facts.validated else ""
        )
        self.doc = "; ".join(
            d for d in (description if description != "-" else "", NOTES.get(self.wire, ""), validated) if d
        )
        self.omitted_if_empty = bool(entry.get("omitted_if_empty"))
        merged = MERGED_LISTS.get(self.wire)
        self.item_key: str | None = merged[0] if merged else None
        self.item_sent: tuple[str, ...] = merged[1] if merged else ()
        self.read_only = read_only or self.wire.lower() in facts.read_only

    def accepts(self) -> str:
        """What an update field may be given."""
        if self.kind == "OBJECT":
            return f"{self.py} | Mapping[str, Any]"
        if self.kind == "OBJECT_LIST":
            return f"Sequence[{self.nested} | Mapping[str, Any]]"
        if self.kind == "INT_LIST":
            return "Sequence[int]"
        if self.kind == "DICT":
            return self.py.replace("dict[str, Any]", "Mapping[str, Any]")
        return self.py

    def summary(self) -> str:
        kind = fieldspec.Kind[self.kind]
        also = tuple(fieldspec.Kind[KIND_OF_TYPE[a]] for a in self.also)
        spec = fieldspec.FieldSpec(
            self.attr,
            self.wire,
            kind,
            also=also,
            values=self.values,
            read_only=self.read_only,
            omitted_if_empty=self.omitted_if_empty,
            doc=self.doc,
        )
        text: str = fieldspec.summary(spec)
        return text

    def spec(self) -> str:
        args = [repr(self.attr), repr(self.wire), f"Kind.{self.kind}"]
        if self.nested:
            args.append(self.nested)
        if self.also:
            args.append(f"also=({''.join(f'Kind.{KIND_OF_TYPE[a]}, ' for a in self.also).strip()})")
        if self.values:
            args.append(f"values=get_args({self.alias})")
        if self.read_only:
            args.append("read_only=True")
        if self.omitted_if_empty:
            args.append("omitted_if_empty=True")
        if self.doc:
            args.append(f"doc={self.doc!r}")
        if self.item_key:
            args.append(f"item_key={self.item_key!r}, item_sent={self.item_sent!r}")
        return f"FieldSpec({', '.join(args)})"


@dataclass
class TopLevel:
    """A resource of the API: its read model (what GET answers) and update model (what POST takes)."""

    read: str
    update: str
    subject: str
    fields: list[Field]
    writable: list[str]
    """Wire names of the fields a POST takes (the update model's)."""
    get_paths: list[str]
    post_paths: list[str]


def _facts(endpoints: list[dict[str, Any]]) -> Facts:
    facts = Facts()
    for endpoint in endpoints:
        for messages in endpoint.get("errors", {}).values():
            for message in messages:
                if m := READ_ONLY_ERROR.search(message):
                    facts.read_only.add(m.group(1).lower())
                if m := VALIDATED_ERROR.search(message):
                    facts.validated.add(m.group(1).lower())
    return facts


def top_level(raw: dict[str, Any], facts: Facts) -> list[TopLevel]:
    """The resources the endpoints name, in the order they first appear."""
    tables: dict[str, list[dict[str, Any]]] = raw["user_preferences_objects"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for endpoint in raw["endpoints"]:
        key = endpoint.get("response") or endpoint.get("body") or endpoint["path"]
        groups.setdefault(key, []).append(endpoint)
    out = []
    for key, endpoints in groups.items():
        if key not in MODELS:
            raise SystemExit(f"the spec has a new resource {key!r}: name its models in MODELS")
        read, update, subject = MODELS[key]
        if key in tables:
            entries = tables[key]
            writable = [e["name"] for e in entries] if any("body" in e for e in endpoints) else []
        else:
            body = [f for e in endpoints for f in e.get("body_fields", [])]
            answer = [f for e in endpoints for f in e.get("response_fields", [])]
            writable = [f["name"] for f in body]
            entries = list({f["name"]: f for f in body + answer}.values())
        fields = [Field(e, tables, facts, read_only=e["name"] not in writable) for e in entries]
        attrs_seen = [f.attr for f in fields]
        assert len(set(attrs_seen)) == len(attrs_seen), f"{read}: snake_case names collide"
        get_paths = [e["path"] for e in endpoints if e["method"] == "GET"]
        post_paths = [e["path"] for e in endpoints if e["method"] == "POST"]
        out.append(TopLevel(read, update, subject, fields, writable, get_paths, post_paths))
    return out


def load() -> tuple[dict[str, list[Field]], list[TopLevel]]:
    raw = json.loads(SPEC.read_text())
    facts = _facts(raw["endpoints"])
    tables: dict[str, list[dict[str, Any]]] = raw["user_preferences_objects"]
    classes: dict[str, list[Field]] = {}
    models = top_level(raw, facts)
    for table, entries in tables.items():
        if any(table == m.read for m in models):
            continue
        name = NESTED_CLASS[table]
        fields = [Field(e, tables, facts) for e in entries]
        if name in classes:  # a shared class: every table it serves must have the same shape
            assert [f.wire for f in classes[name]] == [f.wire for f in fields], table
        classes[name] = fields
    return classes, models


def nested_order(classes: dict[str, list[Field]]) -> list[str]:
    """Classes in dependency order (a class after the classes it holds)."""
    done: list[str] = []

    def visit(name: str) -> None:
        if name in done:
            return
        for f in classes[name]:
            if f.nested:
                visit(f.nested)
        done.append(name)

    for name in classes:
        visit(name)
    return done


def _paths(method: str, paths: list[str]) -> str:
    return " and ".join(f"``{method} {p}``" for p in paths)


def read_model(name: str, doc: str, fields: list[Field]) -> list[str]:
    out = [
        "",
        "",
        "@attrs.define(slots=True, kw_only=True, repr=False)",
        f"class {name}(Model):",
        f'    """{doc}',
        "",
        "    Every field is ``None`` when the response does not carry it; unknown keys, and known keys",
        "    whose value had the wrong JSON type, are kept in ``extra``.",
        '    """',
        "",
    ]
    for f in fields:
        out.append(f"    {f.attr}: {f.py} | None = None")
        out.append(f'    """{f.summary()}"""')
    out.append("    extra: dict[str, Any] = attrs.field(factory=dict)")
    out.append('    """Keys the model does not know, and known keys whose value had the wrong type."""')
    out.append("")
    out.append("    __toggl_fields__: ClassVar[tuple[FieldSpec, ...]] = ()")
    return out


def update_model(name: str, doc: str, fields: list[Field]) -> list[str]:
    # Only type checkers need the TypedDict: at run time each of its string annotations would be
    # compiled into a ForwardRef, tens of milliseconds of import time for nothing.
    out = [
        "",
        "",
        "if TYPE_CHECKING:",
        "",
        f"    class {name}Fields(TypedDict, total=False):",
        f'        """The keyword arguments of :class:`{name}`."""',
        "",
    ]
    out += [f"        {f.attr}: {f.accepts()} | None | Unset" for f in fields]
    out.append("        extra: Mapping[str, Any]")
    out += [
        "",
        "",
        "@attrs.define(slots=True, init=False, repr=False)",
        f"class {name}(UpdateModel):",
        f'    """{doc}',
        "",
        "    Every field reads as :data:`~toggl_prefs.UNSET` until set, and only set fields are sent;",
        "    ``None`` is sent as JSON ``null``. Values are checked when given and when assigned;",
        "    unknown names raise ``TypeError`` naming the closest field.",
        '    """',
        "",
        f"    def __init__(self, **fields: Unpack[{name}Fields]) -> None:",
        "        super().__init__(**fields)",
        "",
    ]
    for f in fields:
        out.append(f"    {f.attr} = Field[{f.py}, {f.accepts()}]()")
        out.append(f'    """{f.summary()}"""')
    return out


def specs(name: str, fields: list[Field]) -> list[str]:
    out = [f"{name}.__toggl_fields__ = ("]
    out += [f"    {f.spec()}," for f in fields]
    out.append(")")
    return out


def render() -> str:
    classes, models = load()
    order = nested_order(classes)
    aliases = {f.alias: f for m in models for f in m.fields if f.alias}
    aliases.update({f.alias: f for fields in classes.values() for f in fields if f.alias})
    lines = [
        '"""Preference models, generated by ``tools/gen_models.py`` from the vendor\'s field tables',
        "(``toggl_prefs/_spec/preferences-fields.json``) and what docs/toggl-facts.md adds to them.",
        "",
        "Do not edit by hand: change the generator (or the spec) and run it again.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args",
        "",
        "import attrs",
        "",
        "from ._base import Field, Model, UpdateModel, bind_update",
        "from ._fieldspec import FieldSpec, Kind",
        "from ._unset import Unset",
        "",
        "if TYPE_CHECKING:",
        "    from typing import TypedDict",
        "",
        "    from typing_extensions import Unpack",
        "",
        "__all__ = [",
    ]
    public = [*aliases, *order, *(n for m in models for n in (m.read, m.update))]
    lines += [f'    "{n}",' for n in public]
    lines += ['    "OMITTED_IF_EMPTY",', '    "READ_ONLY_FIELDS",', "]"]
    for alias, f in aliases.items():
        lines += ["", f"{alias} = Literal[{', '.join(repr(v) for v in f.values)}]"]
        lines.append(f'"""Known values of ``{f.wire}``: a value the server adds later is accepted too."""')
    for name in order:
        lines += read_model(name, NESTED_DOC[name], classes[name])
    for m in models:
        lines += read_model(
            m.read,
            f"{m.subject[:1].upper()}{m.subject[1:]}, as {_paths('GET', m.get_paths)} "
            + ("return them." if len(m.get_paths) > 1 else "returns them."),
            m.fields,
        )
        if m.writable:
            writable = [f for f in m.fields if f.wire in m.writable]
            lines += update_model(
                m.update, f"A partial update of {m.subject}, for {_paths('POST', m.post_paths)}.", writable
            )
    lines += ["", "", "# The field tables, one per read model; the update models take theirs from these."]
    for name in order:
        lines += specs(name, classes[name])
    for m in models:
        lines += specs(m.read, m.fields)
    for m in models:
        if not m.writable:
            continue
        answer_only = sorted(f.wire for f in m.fields if f.wire not in m.writable)
        if answer_only:
            table = f"tuple(s for s in {m.read}.__toggl_fields__ if s.wire not in {set(answer_only)!r})"
        else:
            table = f"{m.read}.__toggl_fields__"
        lines.append(f"bind_update({m.update}, {table})")
    user = next(m for m in models if m.read == "UserPreferences")
    lines += [
        "",
        f"READ_ONLY_FIELDS: frozenset[str] = {user.update}.__toggl_read_only__",
        '"""Attribute names of user preferences the server refuses to set."""',
        "OMITTED_IF_EMPTY: frozenset[str] = frozenset(",
        f"    s.wire for s in {user.read}.__toggl_fields__ if s.omitted_if_empty",
        ")",
        '"""Documented keys of user preferences the server leaves out when their value is empty."""',
    ]
    return "\n".join(lines) + "\n"


# -- comparing the vendored spec with another copy ----------------------------------------------


def _key(item: Any) -> str | None:
    if isinstance(item, dict) and "name" in item:
        return f"field {item['name']}"
    if isinstance(item, dict) and "method" in item and "path" in item:
        return f"{item['method']} {item['path']}"
    return None


def differences(ours: Any, theirs: Any, where: str = "") -> list[str]:
    """What differs between two JSON documents, in words: tables are compared by field name and
    endpoints by method and path, so that an added field reads as one line."""
    here = where or "(root)"
    if type(ours) is not type(theirs):
        return [f"{here}: {type(ours).__name__} in the vendored spec, {type(theirs).__name__} in the other"]
    if isinstance(ours, dict):
        out = [f"{where}/{k}: only in the vendored spec" for k in ours if k not in theirs]
        out += [f"{where}/{k}: only in the other" for k in theirs if k not in ours]
        for k in ours:
            if k in theirs:
                out += differences(ours[k], theirs[k], f"{where}/{k}")
        return out
    if isinstance(ours, list):
        keys_ours, keys_theirs = [_key(i) for i in ours], [_key(i) for i in theirs]
        if None in keys_ours or None in keys_theirs:
            return (
                [] if ours == theirs else [f"{here}: {ours!r} in the vendored spec, {theirs!r} in the other"]
            )
        a, b = dict(zip(keys_ours, ours, strict=True)), dict(zip(keys_theirs, theirs, strict=True))
        out = [f"{where}: {k} only in the vendored spec" for k in a if k not in b]
        out += [f"{where}: {k} only in the other" for k in b if k not in a]
        for k in a:
            if k in b:
                out += differences(a[k], b[k], f"{where}[{k}]")
        if not out and list(a) != list(b):
            out.append(f"{where}: the same entries in another order")
        return out
    return [] if ours == theirs else [f"{here}: {ours!r} in the vendored spec, {theirs!r} in the other"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", action="store_true", help="exit 1 if the generated module is stale")
    group.add_argument(
        "--compare-spec", metavar="PATH", type=Path, help="compare the vendored spec with PATH"
    )
    args = parser.parse_args(argv)
    if args.compare_spec is not None:
        try:
            theirs = json.loads(args.compare_spec.read_text())
        except (OSError, ValueError) as exc:
            print(f"cannot read {args.compare_spec}: {exc}", file=sys.stderr)
            return 2
        found = differences(json.loads(SPEC.read_text()), theirs)
        for line in found[:50]:
            print(line)
        if len(found) > 50:
            print(f"... and {len(found) - 50} more")
        if found:
            print(f"{SPEC.relative_to(ROOT)} differs from {args.compare_spec}", file=sys.stderr)
            return 1
        print(f"{SPEC.relative_to(ROOT)} matches {args.compare_spec}")
        return 0
    text = render()
    if args.check:
        if OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run python tools/gen_models.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
