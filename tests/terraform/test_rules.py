"""The HCL rules of biogitops/infra/rules.py: infrastructure/ keeps them, each fixture breaks its rule."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from biogitops.infra import rules
from biogitops.infra.rules import INFRA_DIR, RULES, check
from biogitops.paths import REPO_ROOT

FIXTURES = Path(__file__).parent / "fixtures"


def test_infrastructure_keeps_every_rule() -> None:
    findings = check(INFRA_DIR)
    assert not findings, "\n" + "\n".join(map(str, findings))


def test_every_rule_has_a_fixture() -> None:
    missing = [rule for rule in RULES if not (FIXTURES / rule).is_dir()]
    assert not missing, f"rules without a failing fixture under {FIXTURES}: {missing}"


@pytest.mark.parametrize("rule", sorted(RULES))
def test_fixture_breaks_its_rule_and_names_the_file(rule: str) -> None:
    fixture = FIXTURES / rule
    findings = [f for f in check(fixture) if f.rule == rule]
    assert findings, f"{rule}: no finding on {fixture}"
    for finding in findings:
        path = REPO_ROOT / finding.file  # relative inside the repository, absolute outside it
        assert path.is_relative_to(fixture), finding
        assert path.exists() or path.parent.is_dir(), finding
        assert f": {rule}: " in str(finding)


def test_unparsable_file_is_one_finding_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "modules" / "x" / "main.tf"
    broken.parent.mkdir(parents=True)
    broken.write_text('variable "x" {\n  type = \n')
    findings = check(tmp_path)
    assert [f.rule for f in findings] == ["hcl-parse"]
    assert str(broken) in findings[0].message


def test_main_exits_non_zero_on_findings(capsys: pytest.CaptureFixture[str]) -> None:
    assert rules.main([str(FIXTURES / "variable-typed")]) == 1
    out = capsys.readouterr().out.splitlines()
    fixture = "tests/terraform/fixtures/variable-typed"
    assert f'{fixture}/modules/broken/variables.tf: variable-typed: variable "name" has no type' in out
    assert out[-1].startswith(f"terraform rules: {len(out) - 1} finding(s), rules: ")
    assert "variable-typed" in out[-1] and out[-1].endswith(f"({len(RULES)} rules over {fixture})")
    assert rules.main([str(INFRA_DIR)]) == 0
    assert capsys.readouterr().out.startswith("terraform rules: no findings (")


# The wrong values the issue names, made in a copy of the real tree: each fails naming file and rule.
MUTATIONS = [
    ("envs/prod/main.tf", "endpoint_public_access = false", "endpoint_public_access = true", "prod-private-endpoint"),
    (
        "modules/node-group/main.tf",
        'taints        = [{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }]',
        "taints        = []",
        "node-group-labels",
    ),
    ("modules/vpc/variables.tf", "  type        = bool\n", "", "variable-typed"),
    ("envs/staging/versions.tf", 'version = "6.28.0"', 'version = ">= 6.28"', "provider-pinned"),
    ("envs/prod/main.tf", '"eu-west-1b", "eu-west-1c"]', '"eu-west-1b"]', "prod-multi-az"),
    # issue 24 item 3: prod passes false, the module hard-codes true
    (
        "modules/eks-cluster/main.tf",
        "endpoint_public_access       = var.endpoint_public_access",
        "endpoint_public_access       = true",
        "prod-private-endpoint",
    ),
    # issue 23 item 5, undone in the module that sets it
    (
        "modules/eks-cluster/main.tf",
        'jsonencode({ enableNetworkPolicy = "true" })',
        'jsonencode({ enableNetworkPolicy = "false" })',
        "vpc-cni-network-policy",
    ),
    (
        "modules/eks-cluster/main.tf",
        '      configuration_values = jsonencode({ enableNetworkPolicy = "true" })\n',
        "",
        "vpc-cni-network-policy",
    ),
    (
        "modules/node-group/main.tf",
        "http_put_response_hop_limit = 1",
        "http_put_response_hop_limit = 2",
        "node-metadata-hop-limit",
    ),
    (
        "modules/node-group/main.tf",
        'http_tokens                 = "required"',
        'http_tokens = "optional"',
        "node-metadata-hop-limit",
    ),
    (
        "modules/eks-cluster/main.tf",
        "    eks-pod-identity-agent = {",
        "    eks-pod-identity-agent-off = {",
        "addon-pod-identity",
    ),
    (
        "modules/eks-cluster/main.tf",
        "      pod_identity_association = [{",
        '      service_account_role_arn = "arn:aws:iam::123456789012:role/ebs"\n'
        "      pod_identity_association_off = [{",
        "addon-pod-identity",
    ),
    # issue 26: the API server trusts the issuer Argo CD signs in through
    (
        "envs/staging/main.tf",
        'sso_issuer_url = "https://login.example.org/realms/bio-gitops"',
        'sso_issuer_url = "https://elsewhere.example.org/realms/x"',
        "env-sso-issuer",
    ),
    ("envs/prod/main.tf", '  sso_client_id  = "argocd-prod"\n', "", "env-sso-issuer"),
]
MUTATION_IDS = [
    "prod-private-endpoint-at-the-call",
    "node-group-labels",
    "variable-typed",
    "provider-pinned",
    "prod-multi-az",
    "public-endpoint-hard-coded-in-eks-cluster-module",
    "vpc-cni-network-policy-false",
    "vpc-cni-configuration-removed",
    "node-hop-limit-2",
    "node-imdsv1-allowed",
    "pod-identity-agent-removed",
    "ebs-csi-on-irsa-not-pod-identity",
    "api-server-trusts-another-issuer",
    "api-server-issuer-without-client-id",
]


@pytest.mark.parametrize(("file", "old", "new", "rule"), MUTATIONS, ids=MUTATION_IDS)
def test_a_wrong_value_in_the_real_tree_names_file_and_rule(
    tmp_path: Path, file: str, old: str, new: str, rule: str
) -> None:
    tree = tmp_path / "infrastructure"
    shutil.copytree(INFRA_DIR, tree, ignore=shutil.ignore_patterns(".terraform*"))
    target = tree / file
    assert old in target.read_text(), f"{file} no longer holds {old!r}: update this test"
    target.write_text(target.read_text().replace(old, new, 1))
    lines = [str(f) for f in check(tree) if f.rule == rule]
    assert lines, f"{rule} did not fire after changing {file}"
    assert any(line.startswith(f"{target}: {rule}: ") for line in lines), lines


# Each tree under fixtures/invariants/ breaks one invariant somewhere other than where it is
# usually set (a variable's default, an env's argument, a nested module, a raw resource, a
# local); the file that breaks it says so on its first line: `# breaks RULE: what`.
INVARIANT_BREAKS = sorted(p for p in (FIXTURES / "invariants").iterdir() if p.is_dir())


def _broken_file(tree: Path) -> tuple[Path, str]:
    for path in sorted(tree.rglob("*.tf")):
        first = path.read_text().splitlines()[0]
        if first.startswith("# breaks "):
            return path, first.removeprefix("# breaks ").split(":")[0]
    raise AssertionError(f"{tree}: no .tf file starts with '# breaks RULE: ...'")


@pytest.mark.parametrize("tree", INVARIANT_BREAKS, ids=[p.name for p in INVARIANT_BREAKS])
def test_an_invariant_broken_anywhere_in_the_module_tree_is_found(tree: Path) -> None:
    path, rule = _broken_file(tree)
    assert rule in RULES, f"{path}: names unknown rule {rule!r}"
    findings = [f for f in check(tree) if f.rule == rule]
    assert findings, f"{rule} did not fire on {tree}"
    assert any(REPO_ROOT / f.file == path for f in findings), [str(f) for f in findings]


def test_new_rule_fixtures_name_their_rule_on_the_first_line() -> None:
    for rule in ("vpc-cni-network-policy", "node-metadata-hop-limit", "addon-pod-identity"):
        path, named = _broken_file(FIXTURES / rule)
        assert named == rule, path
