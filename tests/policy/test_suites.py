"""The suite checks refuse a template without a suite, a suite without a denied or an allowed
case, and (with gator) a suite whose expectation is wrong; every ConstraintTemplate deployed
from policies/ needs a suite, whatever its file name, folder or wrapping; a pod policy matches
the workload controllers and its suite tries each; the repository's own suites pass."""

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
        (
            "template-without-suite",
            "demo/template.yaml: suite-missing: ConstraintTemplate biogitopslabservices: no suite.yaml beside it",
        ),
        ("suite-without-denied-case", "demo/suite.yaml: denied-case: tests[0] (demo): no denied case"),
        ("suite-without-allowed-case", "demo/suite.yaml: allowed-case: tests[0] (demo): no allowed case"),
        ("template-not-in-suite", "demo/template-second.yaml: template-untested: ConstraintTemplate"),
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


@pytest.mark.parametrize(
    ("case", "root", "expected"),
    [
        ("template-named-otherwise", "", "demo/checks.yaml: template-untested: ConstraintTemplate biogitopsescape"),
        (
            "template-in-gatekeeper-folder",
            "",
            "gatekeeper/template.yaml: suite-missing: ConstraintTemplate biogitopsescape: no suite.yaml beside it",
        ),
        ("template-inside-list", "", "demo/bundle.yaml: template-untested: ConstraintTemplate biogitopsescape"),
        (
            "template-from-other-folder",
            "policies",
            "shared/escape.yaml: suite-missing: ConstraintTemplate biogitopsescape: no suite.yaml beside it",
        ),
        ("second-template-in-file", "", "demo/template.yaml: template-untested: ConstraintTemplate biogitopsescape"),
        (
            "constraint-matches-pods-only",
            "",
            "demo/samples/constraint.yaml: workload-kinds: BioGitopsDemoPods demo-pods matches Pod but not "
            "Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob",
        ),
        (
            "workload-kinds-untested",
            "",
            "demo/suite.yaml: workload-cases: tests[0] (demo): no allowed and denied case for Deployment, "
            "StatefulSet, DaemonSet, ReplicaSet, Job, CronJob",
        ),
        ("lib-copy-differs", "", "demo/template.yaml: lib-copy: ConstraintTemplate biogitopsdemopods: libs[0]"),
        (
            "template-patched-by-kustomization",
            "",
            "kustomization.yaml: template-untested: ConstraintTemplate biogitopslabservices as deployed",
        ),
    ],
    ids=[
        "template-file-not-named-template",
        "template-in-gatekeeper-folder",
        "template-inside-a-list",
        "template-from-another-folder-via-kustomization",
        "second-template-in-a-tested-file",
        "pod-policy-matching-pods-only",
        "workload-kinds-without-cases",
        "shared-lib-copy-drifted",
        "template-changed-by-a-kustomize-patch",
    ],
)
def test_escaped_template_is_refused(case: str, root: str, expected: str) -> None:
    """Issue 24, item 6 (and 4): each way a template once slipped past the suite rule, or a pod
    policy past the workload controllers, is found and named."""
    problems = [str(p) for p in policy_suites.coverage(FIXTURES / case / root)]
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"tests/fixtures/suites/{case}/{expected}"), problems
    first_line = (REPO_ROOT / problems[0].split(": ")[0]).read_text().splitlines()[0]
    assert first_line.startswith("# suite rule ") and problems[0].split(": ")[1] in first_line, first_line


def test_the_escapes_pass_gator_verify_alone() -> None:
    """Why the rule is needed: gator runs only what a suite names, so every escape passes it."""
    _gator()
    for case in ("template-named-otherwise", "template-in-gatekeeper-folder", "second-template-in-file"):
        assert policy_suites.verify(FIXTURES / case).returncode == 0, case


def test_repository_templates_are_all_found() -> None:
    """Every ConstraintTemplate that policies/kustomization.yaml deploys is among those the rule checks."""
    found = {t.name for t in policy_suites.templates()}
    deployed = {
        d["metadata"]["name"]
        for path in policy_suites.kustomized_files(policy_suites.POLICIES)
        for d in policy_suites.documents(path)
        if d.get("kind") == "ConstraintTemplate"
    }
    assert deployed and deployed <= found


def test_workloads_lib_knows_every_kind_the_rule_asks_for() -> None:
    """policies/lib/workloads.rego finds a pod spec in each kind the workload-kinds rule makes a
    pod policy match (and in a Pod): a kind matched without a path there would pass unchecked."""
    lib = policy_suites.WORKLOADS_LIB.read_text()
    table = lib.split("pod_spec_path := {", 1)[1].split("}", 1)[0]
    kinds = {line.split(":")[0].strip().strip('"') for line in table.strip().splitlines()}
    assert kinds == {"Pod", *policy_suites.WORKLOAD_KINDS}


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
