"""Isolation where lab workloads run, as rendered: the rules of clusters/base/admission agree with
the charts they police. Platform-run Services in a lab namespace select on a label that members'
pods may not carry, and platform-run claims are not among those members' pods may mount; the
`spark` driver Role is what a driver needs for its executors; the lab quota counts every kind a
lab's people and workload accounts can create. The live refusals are in
tests/integration/test_workload_isolation.py.

    nox -s render -- -k workload_isolation
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

from biogitops.config.pins import load_pins
from biogitops.paths import REPO_ROOT
from biogitops.render import targets
from biogitops.render.manifests import helm_template

ENVS = ["dev", "staging", "prod"]
ADMISSION = REPO_ROOT / "clusters" / "base" / "admission"
LAB_ROLES = [REPO_ROOT / "clusters" / "base" / "rbac" / f"clusterrole-lab-{r}.yaml" for r in ("admin", "member")]
WORKLOAD_CHARTS = [REPO_ROOT / "applications" / "nextflow", REPO_ROOT / "applications" / "spark-operator" / "lab"]


def _variable(policy: str, name: str) -> object:
    doc = yaml.safe_load((ADMISSION / f"validatingadmissionpolicy-{policy}.yaml").read_text())
    [expression] = [v["expression"] for v in doc["spec"]["variables"] if v["name"] == name]
    return ast.literal_eval(expression)


def _reserved(key: str) -> bool:
    """A label key members' pods may not carry (the policy's reservedKeys and reservedPrefixes)."""
    prefixes = tuple(_variable("lab-platform-services", "reservedPrefixes"))
    return key in _variable("lab-platform-services", "reservedKeys") or key.startswith(prefixes)


def _member_may_mount(claim: str) -> bool:
    """A claim members' pods may mount (the policy's memberClaims and memberClaimPrefix)."""
    prefix = str(_variable("lab-platform-services", "memberClaimPrefix"))
    return claim in _variable("lab-platform-services", "memberClaims") or claim.startswith(prefix)


def _unguarded_services(objs: list[dict]) -> list[str]:
    """Services whose selector a member's pod could copy: none of its keys is reserved."""
    return [
        o["metadata"]["name"]
        for o in objs
        if o["kind"] == "Service" and o["spec"].get("selector") and not any(map(_reserved, o["spec"]["selector"]))
    ]


@pytest.mark.parametrize("env", ENVS)
def test_platform_run_services_select_on_a_reserved_label(env: str) -> None:
    assert _unguarded_services(targets.render_app_chart("galaxy-extras", env)) == []


def test_a_service_selecting_only_free_labels_is_unguarded() -> None:
    service = {"kind": "Service", "metadata": {"name": "hub"}, "spec": {"selector": {"app": "jupyterhub"}}}
    assert _unguarded_services([service]) == ["hub"]


@pytest.fixture(scope="module")
def galaxy_source() -> list[str]:
    source, why = targets.upstream_source("galaxy", load_pins())
    if why:
        pytest.skip(f"galaxy {load_pins().charts['galaxy']['version']}: {why}")
    return source


@pytest.mark.parametrize("env", ENVS)
def test_upstream_galaxy_services_and_claims_are_out_of_members_reach(env: str, galaxy_source: list[str]) -> None:
    upstream = targets.render_upstream("galaxy", env, galaxy_source)
    assert _unguarded_services(upstream) == []
    claims = [o["metadata"]["name"] for o in upstream if o["kind"] == "PersistentVolumeClaim"]
    # the operators name their claims after the Cluster (<name>-1) and the RabbitmqCluster
    claims += [f"{o['metadata']['name']}-1" for o in upstream if o["kind"] == "Cluster"]
    claims += [f"persistence-{o['metadata']['name']}-server-0" for o in upstream if o["kind"] == "RabbitmqCluster"]
    assert [c for c in claims if _member_may_mount(c)] == []


def test_the_lab_work_dir_is_the_claim_members_may_mount() -> None:
    objs = helm_template(WORKLOAD_CHARTS[0], [{"lab": "genomics"}])
    [claim] = [o["metadata"]["name"] for o in objs if o["kind"] == "PersistentVolumeClaim"]
    assert _member_may_mount(claim)
    assert not _member_may_mount("galaxy-postgres-1")


def _spark_rules() -> dict[tuple[str, str], set[str]]:
    [role] = [o for o in helm_template(WORKLOAD_CHARTS[1], [{"lab": "genomics"}]) if o["kind"] == "Role"]
    return {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}


def test_spark_driver_role_is_what_a_driver_needs_for_its_executors() -> None:
    # Spark's driver creates, watches and deletes its executor pods and their config map
    # (spark.kubernetes.executor... conf map); spark-submit (the operator) makes the driver's
    # Service; on-demand claims are refused by the sparkConf allow-list
    assert _spark_rules() == {
        ("", "pods"): {"get", "list", "watch", "create", "delete"},
        ("", "configmaps"): {"get", "list", "watch", "create", "delete"},
    }


def _creatable(objs: list[dict]) -> set[str]:
    """`count/<resource>[.<group>]` for every resource a Role or ClusterRole lets its holder create."""
    out = set()
    for obj in objs:
        for rule in obj.get("rules", []):
            if "create" not in rule["verbs"]:
                continue
            for group in rule.get("apiGroups", []):
                for resource in rule.get("resources", []):
                    if "/" not in resource:
                        out.add(f"count/{resource}" + (f".{group}" if group else ""))
    return out


def test_quota_counts_every_kind_a_lab_can_create() -> None:
    roles = [yaml.safe_load(p.read_text()) for p in LAB_ROLES]
    for chart in WORKLOAD_CHARTS:
        roles += [o for o in helm_template(chart, [{"lab": "genomics"}]) if o["kind"] == "Role"]
    quota = next(o for o in targets.targets("dev")["dev/lab-tenant-genomics"] if o["kind"] == "ResourceQuota")
    hard = set(quota["spec"]["hard"])
    # the core object counts also go by their plain names (`pods` counts pods not yet finished)
    hard |= {f"count/{key}" for key in hard if "/" not in key and "." not in key}
    missing = sorted(_creatable(roles) - hard)
    assert missing == [], "add them to clusters/argocd/lab-tenant/templates/resourcequota.yaml"


def test_a_role_that_creates_an_uncounted_kind_is_found() -> None:
    role = {"rules": [{"apiGroups": ["apps"], "resources": ["deployments", "deployments/scale"], "verbs": ["create"]}]}
    assert _creatable([role]) == {"count/deployments.apps"}


def _literals_across_lines(policy: dict) -> list[str]:
    """CEL string literals the API server refuses: one that spans a line (YAML keeps the newline of
    a more-indented line in a folded block) or one with a YAML-style '' quote (CEL escapes \\')."""
    spec = policy["spec"]
    expressions = [v["expression"] for v in spec.get("variables", [])]
    expressions += [v.get(k, "") for v in spec.get("validations", []) for k in ("expression", "messageExpression")]
    found = [m[:60] for e in expressions for m in re.findall(r"'(?:[^'\\]|\\.)*'", e, re.S) if "\n" in m]
    return found + [e[m.start() : m.start() + 60] for e in expressions for m in re.finditer(r"\w''\w", e)]


@pytest.mark.parametrize("path", sorted(ADMISSION.glob("validatingadmissionpolicy-*.yaml")), ids=lambda p: p.stem)
def test_admission_policy_has_no_string_literal_across_lines(path: Path) -> None:
    assert _literals_across_lines(yaml.safe_load(path.read_text())) == []


@pytest.mark.parametrize(
    "text", ["e: >-\n  'a +\n    b' + 'c'\n", "e: \"'a claim''s data'\"\n"], ids=["across-lines", "yaml-quote"]
)
def test_a_literal_the_api_server_refuses_is_found(text: str) -> None:
    expression = yaml.safe_load(text)["e"]
    assert _literals_across_lines({"spec": {"validations": [{"expression": "true", "messageExpression": expression}]}})


def test_the_lab_charts_spark_example_carries_no_reserved_label() -> None:
    # a member submits it as it is; its labels go onto the driver pod
    objs = helm_template(WORKLOAD_CHARTS[1], [{"lab": "genomics", "sparkPi": {"enabled": True}}])
    [app] = [o for o in objs if o["kind"] == "SparkApplication"]
    labels = [app["metadata"].get("labels", {}), app["spec"]["driver"].get("labels", {})]
    labels.append(app["spec"]["executor"].get("labels", {}))
    assert [k for m in labels for k in m if _reserved(k)] == []
