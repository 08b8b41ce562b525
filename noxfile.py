"""nox sessions for signbench. `nox` alone runs the default sessions (tests, lint)."""

from __future__ import annotations

import nox

nox.options.sessions = ["tests", "lint"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (fixtures plus real-data tests when the data is present)."""
    session.install("-e", ".[test]")
    session.run("pytest", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """Lint with ruff (errors, pyflakes, import order, bugbear, pyupgrade)."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "src", "tests", "bench", "noxfile.py", *session.posargs)
