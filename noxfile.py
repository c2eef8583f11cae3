"""nox sessions: tests on each supported Python that is installed, lint, typecheck; bench (not run
by default: it takes minutes).

``nox`` runs the tests on the oldest and newest supported Pythons (3.10 and 3.13) plus lint and
typecheck; ``nox -s tests`` runs every supported version found; ``nox -s tests-3.12`` one of them.
A version that is not installed is skipped (an error on CI, where nox sets
``error_on_missing_interpreters``).
"""

from __future__ import annotations

import glob
import os
import shutil

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]  # requires-python >= 3.10; the classifiers say the same
OLDEST, NEWEST = PYTHONS[0], PYTHONS[-1]

nox.options.sessions = [f"tests-{OLDEST}", f"tests-{NEWEST}", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True


def _find_pyenv_pythons() -> None:
    """Let nox find pyenv's installed Pythons: pyenv's shims answer only for the versions selected
    with ``pyenv global``/``local``, so ``python3.10`` fails although 3.10 is installed."""
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    extra = []
    for version in PYTHONS:
        if shutil.which(f"python{version}") and not _is_pyenv_shim(version):
            continue
        found = sorted(glob.glob(os.path.join(root, "versions", f"{version}.*", "bin")))
        if found:
            extra.append(found[-1])
    if extra:
        os.environ["PATH"] = os.pathsep.join([*extra, os.environ.get("PATH", "")])


def _is_pyenv_shim(version: str) -> bool:
    path = shutil.which(f"python{version}") or ""
    return os.sep + "shims" + os.sep in path


_find_pyenv_pythons()


@nox.session(python=PYTHONS)
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
    # The check that the committed report is current would judge the report being replaced.
    stale_check = "tests/reliability/test_report.py::test_the_committed_report_covers_every_fault_case"
    env = {"TOGGL_PREFS_RELIABILITY_REPORT": "RELIABILITY.md"}
    session.run("pytest", "-q", "tests/reliability", "--deselect", stale_check, env=env)
    session.run("pytest", "-q", "tests/reliability/test_report.py")
