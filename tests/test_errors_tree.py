"""The exception-tree picture at the top of ``errors.py`` is the real hierarchy, and every message the
fake server answers maps to a typed error."""

from __future__ import annotations

import re

import pytest

from toggl_prefs import errors
from toggl_prefs._classify import build_error


def _picture() -> dict[str, str]:
    """Class name -> parent class name, as drawn in the module docstring."""
    doc = errors.__doc__ or ""
    parents: dict[str, str] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+)\b", line)
        if not match or not line.startswith("    "):
            continue
        depth = len(match.group(1)) + (4 if "── " in line else 0)
        name = match.group(2)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        if stack:
            parents[name] = stack[-1][1]
        stack.append((depth, name))
    return parents


def test_the_picture_shows_every_error_under_its_parent() -> None:
    drawn = _picture()
    assert drawn, "no tree found in the errors docstring"
    exported = [getattr(errors, n) for n in errors.__all__]
    for cls in exported:
        if cls is errors.TogglError:
            continue
        assert cls.__name__ in drawn, f"{cls.__name__} is missing from the picture"
        parent = next(b for b in cls.__mro__[1:] if b.__module__ == errors.__name__)
        assert drawn[cls.__name__] == parent.__name__, cls.__name__
    assert set(drawn) <= {c.__name__ for c in exported}


@pytest.mark.parametrize(
    ("body", "expected"),
    [(b'"Invalid since"', errors.InvalidSinceError), (b"invalid since.", errors.InvalidSinceError)],
)
def test_invalid_since_is_typed(body: bytes, expected: type[errors.APIError]) -> None:
    err = build_error(400, body, {}, method="GET", url="http://127.0.0.1/me/preferences/web")
    assert type(err) is expected and isinstance(err, errors.BadRequestError)
