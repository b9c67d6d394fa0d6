"""Each check of `nox -s rules` (biogitops/checks/alert_rules.py) fires on its bad fixture, naming the
file, the alert or panel and the reason, and stays quiet on the good one.

Fixtures: tests/fixtures/rules/good/ is a small tree in the repository's layout; each
tests/fixtures/rules/bad/<case>/ holds the files that differ from it (and `.delete`, the paths
it removes).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biogitops.checks import alert_rules
from biogitops.errors import ToolError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "rules"


def _promtool() -> bool:
    try:
        tools.which("promtool")
        return True
    except ToolError:
        return False


needs_promtool = pytest.mark.skipif(
    not _promtool(), reason="promtool not installed (invoke tools.install --only promtool)"
)


def tree(tmp_path: Path, case: str | None = None) -> Path:
    root = tmp_path / "tree"
    shutil.copytree(FIXTURES / "good", root)
    if case:
        bad = FIXTURES / "bad" / case
        shutil.copytree(bad, root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".delete"))
        if (bad / ".delete").is_file():
            for rel in (bad / ".delete").read_text().split():
                (root / rel).unlink()
    return root


def lines(root: Path, promtool: bool) -> list[str]:
    return [str(f) for f in alert_rules.check(root, run_promtool=promtool).findings]


@needs_promtool
def test_good_fixture_passes_every_check(tmp_path: Path) -> None:
    root = tree(tmp_path)
    report = alert_rules.check(root)
    assert [str(f) for f in report.findings] == []
    assert report.counts == {"rule files": 1, "alerts": 1, "panel queries": 2}


RULE = "observability/prometheus/alert-rules/demo.yaml"
ALERT = "alert DemoDown"
# case: (file, rule, what the finding is about, reason)
STATIC_CASES = {
    "no-runbook-url": (RULE, "alert-fields", ALERT, "annotation runbook_url is missing"),
    "no-severity": (RULE, "alert-fields", ALERT, "label severity missing"),
    "no-test": (RULE, "alert-tests", ALERT, "has no test: demo.test.yaml is missing"),
    "no-quiet-case": (RULE, "alert-tests", ALERT, "no case in tests/demo.test.yaml where it does not fire"),
    "runbook-missing": (
        RULE,
        "alert-runbook",
        ALERT,
        "runbook_url names runbooks/alerts/DemoDown.md, which does not exist",
    ),
    "runbook-sections": (
        "runbooks/alerts/DemoDown.md",
        "alert-runbook",
        "runbook of DemoDown",
        "lacks the section(s) ## Mitigation",
    ),
    "not-prometheusrule": (
        "observability/prometheus/alert-rules/extra.yaml",
        "rule-file",
        "is a v1/ConfigMap, not a monitoring.coreos.com/v1 PrometheusRule",
    ),
    "unknown-metric": (
        RULE,
        "metric-exported",
        ALERT,
        "metric demo_requests_total is exposed by no exporter we deploy",
    ),
    "unknown-exporter": (
        "observability/prometheus/metrics.yaml",
        "metrics-file",
        "exporter argocd-application-controller",
        "deployedBy tool:no-such-tool: pins.yaml has no such tool",
    ),
    # hollow alerts and hollow tests (issue 24, item 5): each passes `promtool test rules`
    "always-firing-no-metric": [
        (RULE, "alert-reads-metric", ALERT, "reads no metric that metrics.yaml lists"),
        (
            RULE,
            "alert-quiet-past-for",
            ALERT,
            "no case in tests/demo.test.yaml where it stays quiet past its for: (5m)",
        ),
    ],
    "quiet-at-time-zero": (
        RULE,
        "alert-quiet-past-for",
        ALERT,
        "no case in tests/demo.test.yaml where it stays quiet past its for: (5m)",
    ),
    "quiet-case-without-input": (
        RULE,
        "alert-quiet-past-for",
        ALERT,
        "no case in tests/demo.test.yaml where it stays quiet past its for: (5m)",
    ),
    "absent-nonexistent-metric": (RULE, "alert-reads-metric", ALERT, "reads no metric that metrics.yaml lists"),
    "up-of-unscraped-job": (RULE, "alert-reads-metric", ALERT, "reads no metric that metrics.yaml lists"),
}


@pytest.mark.parametrize("case", sorted(STATIC_CASES), ids=sorted(STATIC_CASES))
def test_static_check_fires_on_its_fixture(tmp_path: Path, case: str) -> None:
    found = lines(tree(tmp_path, case), promtool=False)
    expected = STATIC_CASES[case]
    for finding in expected if isinstance(expected, list) else [expected]:
        assert any(line.startswith(": ".join(finding)) for line in found), found


PROMTOOL_CASES = {
    "invalid-rule-expr": ("observability/prometheus/alert-rules/demo.yaml: promtool-check:", "parse error"),
    "dashboard-invalid-query": (
        "observability/grafana/dashboards/demo.json: promtool-check: panel 'Broken rate': promtool rejects the query:",
        "unexpected",
    ),
    "failing-test": (
        "observability/prometheus/alert-rules/tests/demo.test.yaml: promtool-test: failed:",
        "DemoDown",
    ),
    # reads a listed metric, but `or vector(1)` fires always: the quiet case past `for:` fails
    "or-vector-always-fires": (
        "observability/prometheus/alert-rules/tests/demo.test.yaml: promtool-test: failed:",
        "DemoDown",
    ),
}


@needs_promtool
@pytest.mark.parametrize("case", sorted(PROMTOOL_CASES), ids=sorted(PROMTOOL_CASES))
def test_promtool_check_fires_on_its_fixture(tmp_path: Path, case: str) -> None:
    prefix, reason = PROMTOOL_CASES[case]
    found = lines(tree(tmp_path, case), promtool=True)
    assert any(line.startswith(prefix) and reason in line for line in found), found


HOLLOW = (
    "always-firing-no-metric",
    "quiet-at-time-zero",
    "quiet-case-without-input",
    "absent-nonexistent-metric",
    "up-of-unscraped-job",
    "or-vector-always-fires",
)


def test_every_bad_fixture_has_a_test() -> None:
    cases = {p.name for p in (FIXTURES / "bad").iterdir()}
    assert cases == set(STATIC_CASES) | set(PROMTOOL_CASES)


def test_hollow_fixtures_name_their_rule_on_the_first_line() -> None:
    for case in HOLLOW:
        files = [p for p in (FIXTURES / "bad" / case).rglob("*.yaml")]
        assert files, case
        for path in files:
            assert path.read_text().startswith("# "), f"{path}: first line must name the rule it breaks"
