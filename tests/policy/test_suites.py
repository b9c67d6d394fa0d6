"""The suite checks refuse a template without a suite, a suite without a denied or an allowed
case, and (with gator) a suite whose expectation is wrong; the repository's own suites pass."""

from __future__ import annotations

import pytest

from biogitops.checks import policy_suites
from biogitops.errors import ToolError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "suites"


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("template-without-suite", "demo/template.yaml: suite-missing: no suite.yaml beside it"),
        ("suite-without-denied-case", "demo/suite.yaml: denied-case: tests[0] (demo): no denied case"),
        ("suite-without-allowed-case", "demo/suite.yaml: allowed-case: tests[0] (demo): no allowed case"),
        ("template-not-in-suite", "demo/template-second.yaml: template-untested: no test in"),
        (
            "constraint-with-exemption",
            "demo/samples/constraint.yaml: constraint-exemption: spec.match.excludedNamespaces: exemptions live",
        ),
    ],
    ids=["template-without-suite", "no-denied-case", "no-allowed-case", "template-not-in-suite", "exemption"],
)
def test_bad_suite_is_refused_naming_the_file(case: str, expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    problems = [str(p) for p in policy_suites.coverage(FIXTURES / case)]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"tests/fixtures/suites/{case}/")
    assert expected in problems[0]
    assert policy_suites.main(["--root", str(FIXTURES / case), "--no-run"]) == 1
    rule = problems[0].split(": ")[1]
    assert capsys.readouterr().out.splitlines() == [problems[0], f"suites: 1 finding(s), rules: {rule} (1 policies)"]


def test_repository_policies_are_covered() -> None:
    assert policy_suites.coverage() == []
    assert len(policy_suites.policy_dirs()) >= 7


def _gator() -> None:
    try:
        tools.which("gator")
    except ToolError as err:
        pytest.skip(f"gator not installed: {err.line()}")


def test_wrong_expectation_fails_gator_verify() -> None:
    _gator()
    root = FIXTURES / "wrong-expectation"
    assert policy_suites.coverage(root) == []
    proc = policy_suites.verify(root)
    assert proc.returncode != 0
    assert "load-balancer-claimed-allowed" in proc.stdout + proc.stderr
