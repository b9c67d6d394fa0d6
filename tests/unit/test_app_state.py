"""How bootstrap reads an Application's state, and which ones may be 'source unreachable'."""

from __future__ import annotations

import pytest

from biogitops.platform import bootstrap as bs
from biogitops.platform.bootstrap import HEALTHY, UNREACHABLE, app_state, settled

FIRST_PARTY = {"metadata": {"labels": {}}, "spec": {"source": {"repoURL": "file:///r", "path": "x"}}}
UPSTREAM = {"metadata": {"labels": {}}, "spec": {"sources": [{"repoURL": "https://charts", "chart": "c"}]}}
ERROR = {"conditions": [{"type": "ComparisonError", "message": "failed to fetch chart: dial tcp: no such host"}]}


@pytest.mark.parametrize(
    ("app", "status", "state"),
    [
        pytest.param(
            FIRST_PARTY, {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}}, HEALTHY, id="healthy"
        ),
        pytest.param(UPSTREAM, ERROR, UNREACHABLE, id="upstream-chart-unreachable"),
        pytest.param(
            FIRST_PARTY,
            ERROR,
            "error: failed to fetch chart: dial tcp: no such host",
            id="first-party-error-is-never-unreachable",
        ),
        pytest.param(
            FIRST_PARTY,
            {"sync": {"status": "OutOfSync"}, "health": {"status": "Progressing"}},
            "OutOfSync/Progressing",
            id="progressing",
        ),
        pytest.param(FIRST_PARTY, {}, "-/-", id="no-status-yet"),
    ],
)
def test_app_state(app: dict, status: dict, state: str) -> None:
    assert app_state({**app, "status": status}) == state


def test_only_upstream_names_may_settle_unreachable() -> None:
    assert settled("gatekeeper", UNREACHABLE, {"gatekeeper"})
    assert not settled("cluster-base", UNREACHABLE, {"gatekeeper"})
    assert settled("cluster-base", HEALTHY, set())


def test_an_unresolved_revision_is_not_a_commit_behind_the_snapshot() -> None:
    # `crds` offline: its remote URLs never resolve, so Argo CD keeps the branch name
    unresolved = {"status": {"sync": {"status": "Unknown", "revision": "snapshot"}}}
    assert bs._revisions(unresolved) == []
    multi = {"status": {"sync": {"revisions": ["1.2.3", "a" * 40]}}}
    assert bs._revisions(multi) == ["a" * 40]


@pytest.mark.parametrize(
    ("gatekeeper_status", "policies_state", "expected"),
    [
        pytest.param(
            ERROR,
            "error: constraint kinds not found",
            "blocked: gatekeeper is source unreachable",
            id="policies-blocked-while-gatekeeper-is-unreachable",
        ),
        pytest.param(
            {"sync": {"status": "Synced"}, "health": {"status": "Healthy"}},
            "OutOfSync/Progressing",
            "OutOfSync/Progressing",
            id="policies-must-settle-once-gatekeeper-runs",
        ),
        pytest.param(ERROR, HEALTHY, HEALTHY, id="healthy-policies-stay-healthy"),
    ],
)
def test_policies_wait_on_gatekeeper_only_when_its_source_is_unreachable(
    gatekeeper_status: dict, policies_state: str, expected: str
) -> None:
    live = {"gatekeeper": {**UPSTREAM, "status": gatekeeper_status}}
    state = bs.blocked("policies", policies_state, live)
    assert state == expected
    assert settled("policies", state, set()) is (expected != "OutOfSync/Progressing")


def test_an_application_without_a_running_dependency_is_never_blocked() -> None:
    live = {"gatekeeper": {**UPSTREAM, "status": ERROR}}
    assert bs.blocked("observability", "error: boom", live) == "error: boom"
