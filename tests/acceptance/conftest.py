"""Acceptance fixtures: a bootstrapped kind cluster where labs run real analyses.

    nox -s acceptance -- --provider kind      # bootstraps dev (or reuses it), then runs these

On kwok no container runs, so every test here skips, saying so.
"""

from __future__ import annotations

import pytest

from biogitops.cluster.target import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--provider", default="kind", choices=["kind", "kwok", "existing"], help="cluster provider")
    parser.addoption("--env", default="dev", help="environment under clusters/ (default: dev)")


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    provider = request.config.getoption("--provider")
    if provider == "kwok":
        pytest.skip("kwok runs no containers: analyses need kind (`nox -s acceptance -- --provider kind`)")
    target = Target(request.config.getoption("--env"), provider)
    if not target.provider.status().ready:
        pytest.fail(f"no {provider} cluster answers: `invoke bootstrap --env {target.env} --provider {provider}` first")
    return target
