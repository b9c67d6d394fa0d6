"""The lab admission policies (clusters/base/admission) are in every environment's overlay, each
bound and enforced, admitted by the project that syncs them, and agree with the charts they
police: the namespace names its owners and members groups, the quota holds LoadBalancers and
NodePorts at zero, and the ServiceAccounts members' pods may run as are the lab charts' own.

    nox -s render -- -k lab_admission
"""

from __future__ import annotations

import ast

import pytest
import yaml

from biogitops.config.labs import Lab, load_labs
from biogitops.paths import REPO_ROOT
from biogitops.render import targets as render_targets

ENVS = ["dev", "staging", "prod"]
POLICIES = {"lab-pod-secrets", "lab-rbac", "lab-services", "lab-spark-submit", "lab-platform-services"}
WORKLOAD_CHARTS = [REPO_ROOT / "applications" / "nextflow", REPO_ROOT / "applications" / "spark-operator" / "lab"]


@pytest.fixture(scope="module", params=ENVS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, dict[str, list[dict]]]:
    return request.param, render_targets.targets(request.param)


def admission_gaps(objs: list[dict]) -> list[str]:
    """What is missing for the lab policies to be enforced: a policy, its Deny binding, Fail on error."""
    policies = {o["metadata"]["name"]: o for o in objs if o["kind"] == "ValidatingAdmissionPolicy"}
    bindings = {
        o["spec"]["policyName"]: o["spec"].get("validationActions", [])
        for o in objs
        if o["kind"] == "ValidatingAdmissionPolicyBinding"
    }
    gaps = []
    for name in sorted(POLICIES):
        policy = policies.get(name)
        if policy is None:
            gaps.append(f"{name}: no ValidatingAdmissionPolicy")
            continue
        if policy["spec"].get("failurePolicy", "Fail") != "Fail":
            gaps.append(f"{name}: failurePolicy is not Fail")
        selector = policy["spec"]["matchConstraints"].get("namespaceSelector", {})
        if {"key": "bio-gitops.io/lab", "operator": "Exists"} not in selector.get("matchExpressions", []):
            gaps.append(f"{name}: not scoped to lab namespaces (bio-gitops.io/lab)")
        if "Deny" not in bindings.get(name, []):
            gaps.append(f"{name}: no binding with validationActions [Deny]")
    return gaps


def test_lab_policies_are_enforced_in_every_overlay(rendered: tuple[str, dict[str, list[dict]]]) -> None:
    env, targets = rendered
    assert admission_gaps(targets[f"{env}/overlay"]) == []


def test_a_policy_without_its_binding_is_a_gap(rendered: tuple[str, dict[str, list[dict]]]) -> None:
    env, targets = rendered
    objs = [
        o
        for o in targets[f"{env}/overlay"]
        if not (o["kind"] == "ValidatingAdmissionPolicyBinding" and o["metadata"]["name"] == "lab-rbac")
    ]
    warn_only = yaml.safe_load(yaml.safe_dump(objs))
    for o in warn_only:
        if o["kind"] == "ValidatingAdmissionPolicy" and o["metadata"]["name"] == "lab-services":
            o["spec"]["failurePolicy"] = "Ignore"
    assert admission_gaps(warn_only) == [
        "lab-rbac: no binding with validationActions [Deny]",
        "lab-services: failurePolicy is not Fail",
    ]


def test_the_platform_project_admits_the_admission_kinds(rendered: tuple[str, dict[str, list[dict]]]) -> None:
    env, targets = rendered
    [project] = [
        o for o in targets[f"{env}/bootstrap"] if o["kind"] == "AppProject" and o["metadata"]["name"] == "platform"
    ]
    allowed = {(k["group"], k["kind"]) for k in project["spec"].get("clusterResourceWhitelist", [])}
    kinds = {
        ("admissionregistration.k8s.io", o["kind"])
        for o in render_targets.kustomize(REPO_ROOT / "clusters/base/admission")
    }
    assert kinds - allowed == set()


def _policy(name: str) -> dict:
    path = REPO_ROOT / "clusters" / "base" / "admission" / f"validatingadmissionpolicy-{name}.yaml"
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("policy", ["lab-pod-secrets", "lab-platform-services"])
def test_restricted_requesters_are_the_lab_charts_accounts(policy: str) -> None:
    # the workload accounts whose pods run members' code are exactly the lab charts' own
    variables = {v["name"]: v["expression"] for v in _policy(policy)["spec"]["variables"]}
    named = variables.get("labAccounts") or variables["workload"].split(".exists")[0].strip()
    charts = {yaml.safe_load((chart / "values.yaml").read_text())["serviceAccount"] for chart in WORKLOAD_CHARTS}
    assert set(ast.literal_eval(named)) == {"default"} | charts


def _lab_tenant(targets: dict[str, list[dict]], lab: str, kind: str) -> dict:
    [obj] = [o for o in targets[f"dev/lab-tenant-{lab}"] if o["kind"] == kind]
    return obj


@pytest.mark.parametrize("lab", load_labs("dev"), ids=lambda lab: lab.name)
def test_lab_namespace_names_its_groups_and_quota_closes_external_services(lab: Lab) -> None:
    rendered = render_targets.targets("dev")
    annotations = _lab_tenant(rendered, lab.name, "Namespace")["metadata"].get("annotations", {})
    assert annotations.get("bio-gitops.io/owners") == lab.data["owners"]
    assert annotations.get("bio-gitops.io/members") == lab.data["members"]
    hard = _lab_tenant(rendered, lab.name, "ResourceQuota")["spec"]["hard"]
    assert (hard.get("services.loadbalancers"), hard.get("services.nodeports")) == ("0", "0")
