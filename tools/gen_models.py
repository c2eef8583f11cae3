"""Generate ``toggl_prefs/_generated.py`` from the vendor's field tables.

Run ``python tools/gen_models.py`` after the spec changes; ``tests/test_models_spec.py`` fails when the
checked-in module no longer matches what this script would write.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "tests" / "data" / "preferences-fields.json"
OUT = ROOT / "toggl_prefs" / "_generated.py"

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
# Fields the server refuses to set ("Cannot set value for ToSAcceptNeeded").
READ_ONLY = {"toSAcceptNeeded"}

PY_SCALAR = {"boolean": "bool", "integer": "int", "string": "str"}
KIND_SCALAR = {"boolean": "Kind.BOOL", "integer": "Kind.INT", "string": "Kind.STR"}


def snake(name: str) -> str:
    if name in SNAKE_OVERRIDES:
        return SNAKE_OVERRIDES[name]
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


class Field:
    def __init__(self, entry: dict[str, object], tables: dict[str, list[dict[str, object]]]) -> None:
        self.wire = str(entry["name"])
        self.attr = snake(self.wire)
        self.json_type = str(entry["type"])
        self.doc = str(entry.get("description") or "")
        self.omitted_if_empty = bool(entry.get("omitted_if_empty"))
        self.nested = NESTED_CLASS.get(self.wire) if self.wire in tables else None
        t = self.json_type
        if t in PY_SCALAR:
            self.py, self.kind = PY_SCALAR[t], KIND_SCALAR[t]
        elif t == "object" and self.nested:
            self.py, self.kind = self.nested, "Kind.OBJECT"
        elif t == "object":
            self.py, self.kind = "dict[str, Any]", "Kind.DICT"
        elif t == "Array of object" and self.nested:
            self.py, self.kind = f"list[{self.nested}]", "Kind.OBJECT_LIST"
        elif t == "Array of integer":
            self.py, self.kind = "list[int]", "Kind.INT_LIST"
        else:  # pragma: no cover - a new spec type needs a decision here
            raise SystemExit(f"unhandled type {t!r} for {self.wire}")

    def spec(self) -> str:
        nested = self.nested or "None"
        return f"FieldSpec({self.attr!r}, {self.wire!r}, {self.kind}, {nested})"


def load() -> tuple[dict[str, list[Field]], list[Field], list[Field]]:
    raw = json.loads(SPEC.read_text())
    tables: dict[str, list[dict[str, object]]] = raw["user_preferences_objects"]
    classes: dict[str, list[Field]] = {}
    for table, entries in tables.items():
        if table == "UserPreferences":
            continue
        name = NESTED_CLASS[table]
        fields = [Field(e, tables) for e in entries]
        if name in classes:  # a shared class: every table it serves must have the same shape
            assert [f.wire for f in classes[name]] == [f.wire for f in fields], table
        classes[name] = fields
    user = [Field(e, tables) for e in tables["UserPreferences"]]
    ws_post = next(e for e in raw["endpoints"] if e["method"] == "POST" and "workspaces" in e["path"])
    ws = [Field(e, tables) for e in ws_post["body_fields"]]
    ws_resp = [Field(e, tables) for e in ws_post["response_fields"]]
    attrs_seen = [f.attr for f in user]
    assert len(set(attrs_seen)) == len(attrs_seen), "snake_case names collide"
    return classes, user, ws + [f for f in ws_resp if f.wire not in {w.wire for w in ws}]


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


def doc_line(f: Field) -> str:
    bits = [f"``{f.wire}``"]
    if f.omitted_if_empty:
        bits.append("omitted by the server when empty")
    if f.wire in READ_ONLY:
        bits.append("read-only")
    if f.doc and f.doc != "-":
        bits.append(f.doc)
    return "; ".join(bits)


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
        out.append(f'    """{doc_line(f)}"""')
    out.append("    extra: dict[str, Any] = attrs.field(factory=dict)")
    out.append('    """Keys the model does not know, and known keys whose value had the wrong type."""')
    out.append("")
    out.append("    __toggl_fields__: ClassVar[tuple[FieldSpec, ...]] = ()")
    return out


def update_model(name: str, doc: str, fields: list[Field]) -> list[str]:
    def accepts(f: Field) -> str:
        if f.kind == "Kind.OBJECT":
            return f"{f.py} | Mapping[str, Any]"
        if f.kind == "Kind.OBJECT_LIST":
            return f"Sequence[{f.nested} | Mapping[str, Any]]"
        if f.kind == "Kind.INT_LIST":
            return "Sequence[int]"
        return f.py

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
    out += [f"        {f.attr}: {accepts(f)} | None | Unset" for f in fields]
    out.append("        extra: Mapping[str, Any]")
    out += [
        "",
        "",
        "@attrs.define(slots=True, init=False, repr=False)",
        f"class {name}(UpdateModel):",
        f'    """{doc}',
        "",
        "    Every field reads as :data:`~toggl_prefs.UNSET` until set, and only set fields are sent;",
        "    ``None`` is sent as JSON ``null``. Values are type-checked when given and when assigned;",
        "    unknown names raise ``TypeError`` naming the closest field.",
        '    """',
        "",
        f"    def __init__(self, **fields: Unpack[{name}Fields]) -> None:",
        "        super().__init__(**fields)",
        "",
    ]
    for f in fields:
        nested = f", {f.nested}" if f.nested else ""
        out.append(
            f"    {f.attr} = Field[{f.py}, {accepts(f)}]({f.wire!r}, {f.kind}{nested}, doc={doc_line(f)!r})"
        )
    return out


def specs(name: str, fields: list[Field]) -> list[str]:
    out = [f"{name}.__toggl_fields__ = ("]
    out += [f"    {f.spec()}," for f in fields]
    out.append(")")
    return out


def render() -> str:
    classes, user, ws = load()
    order = nested_order(classes)
    lines = [
        '"""Preference models, generated by ``tools/gen_models.py`` from the vendor\'s field tables.',
        "",
        "Do not edit by hand: change the generator and run it again.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from collections.abc import Mapping, Sequence",
        "from typing import TYPE_CHECKING, Any, ClassVar",
        "",
        "import attrs",
        "",
        "from ._base import Field, Model, UpdateModel",
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
    public = [
        *order,
        "UserPreferences",
        "PreferencesUpdate",
        "WorkspacePreferences",
        "WorkspacePreferencesUpdate",
    ]
    lines += [f'    "{n}",' for n in public]
    lines.append("]")
    for name in order:
        lines += read_model(name, NESTED_DOC[name], classes[name])
    ws_read = ws
    ws_write = [f for f in ws if f.wire != "logo"]
    lines += read_model(
        "UserPreferences",
        "A user's preferences, as ``GET /me/preferences`` returns them (171 documented fields).",
        user,
    )
    lines += update_model(
        "PreferencesUpdate",
        "A partial update of a user's preferences, for ``POST /me/preferences``.",
        user,
    )
    lines += read_model(
        "WorkspacePreferences",
        "A workspace's preferences: the ten documented body fields plus ``logo``.",
        ws_read,
    )
    lines += update_model(
        "WorkspacePreferencesUpdate",
        "A partial update of a workspace's preferences, for ``POST /workspaces/{id}/preferences``.",
        ws_write,
    )
    lines += ["", ""]
    for name in order:
        lines += specs(name, classes[name])
    lines += specs("UserPreferences", user)
    lines += specs("PreferencesUpdate", user)
    lines += specs("WorkspacePreferences", ws_read)
    lines += specs("WorkspacePreferencesUpdate", ws_write)
    lines.append("")
    lines.append(f"READ_ONLY_FIELDS: frozenset[str] = frozenset({sorted(snake(w) for w in READ_ONLY)!r})")
    lines.append('"""Attribute names of user preferences the server refuses to set."""')
    lines.append("PreferencesUpdate.__toggl_read_only__ = READ_ONLY_FIELDS")
    for name in ("PreferencesUpdate", "WorkspacePreferencesUpdate"):
        lines.append(f"{name}.__toggl_by_attr__ = {{s.attr: s for s in {name}.__toggl_fields__}}")
    omitted = sorted(f.wire for f in user if f.omitted_if_empty)
    lines.append(f"OMITTED_IF_EMPTY: frozenset[str] = frozenset({omitted!r})")
    lines.append('"""Documented keys of user preferences the server leaves out when their value is empty."""')
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        return 0 if OUT.read_text() == text else 1
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
