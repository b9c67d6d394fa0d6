"""Nox sessions: `nox` runs every session that needs no container engine; `nox --list` shows them.

The logic lives in biogitops/checks/sessions.py. Sessions run in the environment where bio-gitops
is installed (`pip install -e .`), so every Python dependency is the pinned one.
"""

import nox

from biogitops.checks import sessions

nox.options.default_venv_backend = "none"
nox.options.sessions = sessions.DEFAULT
nox.options.error_on_missing_interpreters = True


@nox.session
def lint(session: nox.Session) -> None:
    """yamllint, ruff, actionlint on the CI workflows, shell syntax."""
    sessions.lint(session)


@nox.session
def unit(session: nox.Session) -> None:
    """pytest over biogitops/ (tests/unit)."""
    sessions.unit(session)


@nox.session
def render(session: nox.Session) -> None:
    """Every overlay and chart rendered per environment, validated strictly against offline schemas."""
    sessions.render(session)


@nox.session
def rules(session: nox.Session) -> None:
    """promtool check/test of every alert rule, runbook links, dashboard queries, metric sources."""
    sessions.rules(session)


@nox.session
def policy(session: nox.Session) -> None:
    """Gatekeeper suites (`gator verify`, allowed and denied cases) and repository rules over rendered output."""
    sessions.policy(session)


@nox.session
def integration(session: nox.Session) -> None:
    """Bootstrap a real cluster and test it: `nox -s integration -- --provider kwok` (default kind)."""
    sessions.integration(session)


@nox.session
def acceptance(session: nox.Session) -> None:
    """Labs run real analyses on kind, asserted on their outputs: `nox -s acceptance -- --provider kind`."""
    sessions.acceptance(session)


@nox.session
def bench(session: nox.Session) -> None:
    """Timings as JSON in out/bench.json: kwok startup, bootstrap to healthy, N labs (`-- --labs 100`);
    with Docker, kind too (node image cold and warm, cluster create, bootstrap)."""
    sessions.bench(session)


@nox.session
def terraform(session: nox.Session) -> None:
    """infrastructure/: tofu fmt, tflint, checkov, HCL rules with fixtures (tofu validate/test run in CI)."""
    sessions.terraform(session)
