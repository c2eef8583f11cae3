"""nox sessions: tests, lint, typecheck; bench (not run by default: it takes minutes)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    session.install("-e", ".[bench]")
    session.run("python", "benchmarks/run.py", *session.posargs)


@nox.session
def soak(session: nox.Session) -> None:
    """A long soak (200,000 calls by default); the seeded CI soak is part of `tests`."""
    session.install("-e", ".[test]")
    calls = session.posargs[0] if session.posargs else "200000"
    session.run("pytest", "-q", "tests/reliability/test_soak.py", env={"TOGGL_PREFS_SOAK_CALLS": calls})


@nox.session
def reliability_report(session: nox.Session) -> None:
    """Regenerate RELIABILITY.md from a run of the reliability suite."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", "tests/reliability", env={"TOGGL_PREFS_RELIABILITY_REPORT": "RELIABILITY.md"})
