"""Gatekeeper for real: the policies Application syncs and its constraints are enforced; in a lab
namespace a privileged pod, a :latest image and a LoadBalancer Service are admitted with a
warning (dev: warn) and refused once the same constraints run as staging's (deny); so is each
workload controller whose pod template breaks a pod policy (a Deployment, a CronJob, ...), and
an Argo CD Application syncing such a Deployment shows the refusal on that Deployment; the audit
reports what is already there; platform namespaces keep working; a re-bootstrap changes nothing.

On kwok Gatekeeper is a local process (biogitops/cluster/kwok/gatekeeper.py) whose webhook the real API
server calls over loopback. The test namespaces carry no Pod Security labels, so every refusal
seen here is Gatekeeper's, not Pod Security admission's.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.kwok import gatekeeper
from biogitops.cluster.target import Target
from biogitops.platform import bootstrap as bs
from biogitops.render.policies import CONSTRAINT_GROUP, render_policies

from .conftest import Cluster, git_application, git_repo_from, refusal, wait_until

NS = "lab-gktest"  # lab-* as the constraints match; labelled as a lab
IMAGE = "quay.io/biocontainers/samtools:1.21--h50ea8bc_0"


@pytest.fixture(scope="module")
def result(cluster: Cluster, provider: Provider) -> Iterator[bs.Result]:
    if provider.name != "kwok":
        pytest.skip(
            "kind: Gatekeeper's chart is unreachable here and no Gatekeeper image is in the node image, so nothing "
            "enforces on kind; these live tests run on kwok, where Gatekeeper runs as a local process"
        )
    yield bs.Bootstrap(Target.of(provider), print).run()
    # The kwok cluster outlives this run and is reused by the next: leave no webhook behind that
    # calls a stopped process. The next bootstrap starts Gatekeeper and its webhook again.
    gatekeeper.local(provider).stop()
    _kubectl(cluster, "delete", "validatingwebhookconfiguration", gatekeeper.WEBHOOK_NAME, "--ignore-not-found")


def _kubectl(cluster: Cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cluster.kubectl.argv(*args), input=stdin, capture_output=True, text=True, timeout=60)


def _create(cluster: Cluster, obj: dict) -> subprocess.CompletedProcess:
    return _kubectl(cluster, "create", "-f", "-", stdin=yaml.safe_dump(obj))


def _pod(
    name: str, namespace: str = NS, image: str = IMAGE, container_security: dict | None = None, **spec: object
) -> dict:
    """A pod every policy accepts, unless the arguments say otherwise."""
    container = {
        "name": "task",
        "image": image,
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
        "securityContext": container_security or {},
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000}, "containers": [container], **spec},
    }


def _workload(kind: str, name: str, image: str = IMAGE) -> dict:
    """A workload controller `kind` whose pod template is `_pod`'s, with `image`."""
    pod = _pod(name, image=image)
    labels = {"app.kubernetes.io/name": name}
    template = {"metadata": {"labels": labels}, "spec": pod["spec"]}
    apps = {"apiVersion": "apps/v1", "kind": kind, "metadata": pod["metadata"]}
    if kind in ("Deployment", "ReplicaSet", "DaemonSet"):
        return {**apps, "spec": {"selector": {"matchLabels": labels}, "template": template}}
    if kind == "StatefulSet":
        return {**apps, "spec": {"serviceName": name, "selector": {"matchLabels": labels}, "template": template}}
    job = {"template": {**template, "spec": {**pod["spec"], "restartPolicy": "Never"}}}
    meta = {"apiVersion": "batch/v1", "kind": kind, "metadata": pod["metadata"]}
    if kind == "Job":
        return {**meta, "spec": job}
    return {**meta, "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": job}}}


WORKLOADS = ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob"]
LATEST = "quay.io/biocontainers/samtools:latest"


def _service(name: str, kind: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NS},
        "spec": {"type": kind, "selector": {"app": name}, "ports": [{"port": 8000}]},
    }


BAD = {
    "privileged": (lambda n: _pod(n, container_security={"privileged": True}), "is privileged"),
    "latest": (lambda n: _pod(n, image="quay.io/biocontainers/samtools:latest"), "floating tag :latest"),
    # a LoadBalancer is refused before Gatekeeper by the lab-services admission policy
    # (clusters/base/admission), whatever the enforcement: test_loadbalancer_is_refused_under_warn
    "host-network": (lambda n: _pod(n, hostNetwork=True), "sets hostNetwork: true"),
}


def _constraints(cluster: Cluster) -> list[dict]:
    return cluster.kubectl.json("get", "constraints")["items"]


def _enforced(c: dict) -> bool:
    pods = (c.get("status") or {}).get("byPod") or []
    generation = c["metadata"]["generation"]
    return bool(pods) and all(p.get("enforced") and p.get("observedGeneration") == generation for p in pods)


@pytest.fixture(scope="module")
def lab_namespace(cluster: Cluster, result: bs.Result) -> Iterator[str]:
    """A lab namespace with its default-deny, once Gatekeeper's inventory has it (a compliant pod
    is then reviewed without any warning)."""
    cluster.kubectl.apply_text(
        yaml.safe_dump_all(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": NS, "labels": {"bio-gitops.io/lab": "gktest"}},
                },
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "default-deny", "namespace": NS},
                    "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
                },
            ]
        )
    )

    def clean_review() -> bool:
        proc = _kubectl(cluster, "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(_pod("probe")))
        return proc.returncode == 0 and "Warning" not in proc.stderr

    wait_until(clean_review, 120, f"Gatekeeper to admit a compliant pod in {NS} without warnings")
    yield NS
    _kubectl(cluster, "delete", "namespace", NS, "--wait=false")


def test_policies_application_is_synced_and_healthy(cluster: Cluster, result: bs.Result) -> None:
    assert "policies" in result.graph.applications
    app = cluster.application("policies")
    assert bs.app_state(app) == bs.HEALTHY, app.get("status", {}).get("resources")
    kinds = {r["kind"] for r in app["status"]["resources"] if r.get("group") == CONSTRAINT_GROUP}
    assert len(kinds) >= 8


def test_every_constraint_is_enforced_with_the_environments_action(
    cluster: Cluster, provider: Provider, result: bs.Result
) -> None:
    expected = provider.settings.raw["addons"]["gatekeeper"]["enforcement"]
    objs = render_policies(provider.settings.env)
    rendered = {o["metadata"]["name"] for o in objs if o["apiVersion"].startswith(CONSTRAINT_GROUP)}
    live = {c["metadata"]["name"]: c for c in _constraints(cluster)}
    assert rendered <= set(live)
    for name in rendered:
        assert live[name]["spec"]["enforcementAction"] == expected, name
        assert _enforced(live[name]), (name, live[name].get("status"))


@pytest.mark.parametrize("case", sorted(BAD))
def test_warn_admits_with_the_reason(cluster: Cluster, provider: Provider, lab_namespace: str, case: str) -> None:
    if provider.settings.raw["addons"]["gatekeeper"]["enforcement"] != "warn":
        pytest.skip(f"{provider.settings.env} does not warn")
    make, reason = BAD[case]
    proc = _create(cluster, make(f"warn-{case}"))
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" in proc.stderr and reason in proc.stderr, proc.stderr


def test_warn_admits_a_deployment_with_the_reason(cluster: Cluster, provider: Provider, lab_namespace: str) -> None:
    """The reason shows on the Deployment that was applied, not only later on its pods."""
    if provider.settings.raw["addons"]["gatekeeper"]["enforcement"] != "warn":
        pytest.skip(f"{provider.settings.env} does not warn")
    proc = _create(cluster, _workload("Deployment", "warn-latest-deployment", LATEST))
    assert proc.returncode == 0, proc.stderr
    assert "Warning:" in proc.stderr and "[allowed-images]" in proc.stderr, proc.stderr
    assert "floating tag :latest" in proc.stderr, proc.stderr


def test_audit_reports_a_deployment_admitted_under_warn(
    cluster: Cluster, provider: Provider, lab_namespace: str
) -> None:
    """The audit lists the Deployment itself (kind Deployment), not only the pods it makes."""
    if provider.settings.raw["addons"]["gatekeeper"]["enforcement"] == "deny":
        pytest.skip(f"{provider.settings.env} denies: nothing violating is admitted to audit")
    deployment = _workload("Deployment", "audit-host-deployment")
    deployment["spec"]["template"]["spec"]["hostPID"] = True
    proc = _create(cluster, deployment)
    assert proc.returncode == 0, proc.stderr

    def reported() -> list | None:
        status = cluster.kubectl.json("get", "biogitopsnohostaccess", "lab-no-host-access").get("status") or {}
        found = [
            v
            for v in status.get("violations") or []
            if v.get("namespace") == NS and v.get("name") == "audit-host-deployment" and v.get("kind") == "Deployment"
        ]
        return found or None

    what = "the audit to report deployment audit-host-deployment"
    found = wait_until(reported, 30 + 6 * gatekeeper.audit_interval(), what)
    assert "hostPID" in found[0]["message"], found[0]


def test_audit_reports_existing_violations(cluster: Cluster, provider: Provider, lab_namespace: str) -> None:
    """A pod admitted under warn shows up in audit. lab-no-host-access, not allowed-images: the
    dev labs' own pods fill allowed-images' list of violations, which audit caps."""
    expected = provider.settings.raw["addons"]["gatekeeper"]["enforcement"]
    proc = _create(cluster, _pod("audit-host-network", hostNetwork=True))
    assert proc.returncode == 0, proc.stderr

    def reported() -> tuple[dict, list] | None:
        status = cluster.kubectl.json("get", "biogitopsnohostaccess", "lab-no-host-access").get("status") or {}
        found = [
            v
            for v in status.get("violations") or []
            if v.get("namespace") == NS and v.get("name") == "audit-host-network"
        ]
        return (status, found) if found else None

    status, found = wait_until(
        reported, 30 + 6 * gatekeeper.audit_interval(), "the audit to report pod audit-host-network"
    )
    assert "hostNetwork" in found[0]["message"]
    assert found[0]["kind"] == "Pod" and found[0]["enforcementAction"] == expected, found[0]
    assert status["totalViolations"] >= len(status["violations"]) >= 1 and status.get("auditTimestamp"), status


def test_loadbalancer_is_refused_under_warn(cluster: Cluster, lab_namespace: str) -> None:
    # two layers: Gatekeeper's lab-services only warns in dev, the admission policy refuses
    proc = _create(cluster, _service("warn-loadbalancer", "LoadBalancer"))
    assert proc.returncode != 0 and "lab-services" in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def staging_constraints(cluster: Cluster, result: bs.Result) -> Iterator[list[str]]:
    """Staging's constraints (enforcementAction deny, as rendered for staging) beside dev's,
    renamed so that Argo CD neither owns nor prunes them; removed afterwards."""
    objs = [o for o in render_policies("staging") if o["apiVersion"].startswith(CONSTRAINT_GROUP)]
    assert objs and all(o["spec"]["enforcementAction"] == "deny" for o in objs)
    for obj in objs:
        obj["metadata"] = {"name": f"staging-{obj['metadata']['name']}"}
    cluster.kubectl.apply_text(yaml.safe_dump_all(objs))
    names = [(o["kind"].lower(), o["metadata"]["name"]) for o in objs]

    def all_enforced() -> bool:
        return all(_enforced(cluster.kubectl.json("get", kind, name)) for kind, name in names)

    wait_until(all_enforced, 120, "staging's constraints to be enforced")
    yield [n for _, n in names]
    for kind, name in names:
        _kubectl(cluster, "delete", kind, name, "--ignore-not-found")


@pytest.mark.parametrize("case", sorted(BAD))
def test_deny_refuses_with_the_reason(
    cluster: Cluster, lab_namespace: str, staging_constraints: list[str], case: str
) -> None:
    make, reason = BAD[case]
    obj = make(f"deny-{case}")
    proc = _create(cluster, obj)
    assert proc.returncode != 0, f"{case} was admitted"
    assert 'admission webhook "validation.gatekeeper.sh" denied the request' in proc.stderr, proc.stderr
    assert reason in proc.stderr
    kind = obj["kind"].lower()
    assert not cluster.kubectl.ok("-n", NS, "get", kind, obj["metadata"]["name"])


@pytest.mark.parametrize("kind", WORKLOADS, ids=[f"{k.lower()}-with-latest-image-admitted" for k in WORKLOADS])
def test_deny_refuses_a_workload_with_the_reason(
    cluster: Cluster, lab_namespace: str, staging_constraints: list[str], kind: str
) -> None:
    """The controller is refused when it is applied, with the constraint's message, before any pod."""
    obj = _workload(kind, f"deny-{kind.lower()}", LATEST)
    proc = _create(cluster, obj)
    assert proc.returncode != 0, f"{kind} with {LATEST} was admitted"
    assert 'admission webhook "validation.gatekeeper.sh" denied the request' in proc.stderr, proc.stderr
    assert "[staging-allowed-images]" in proc.stderr and "floating tag :latest" in proc.stderr, proc.stderr
    assert not cluster.kubectl.ok("-n", NS, "get", kind.lower(), obj["metadata"]["name"])


@pytest.mark.parametrize("kind", WORKLOADS)
def test_deny_admits_a_compliant_workload(
    cluster: Cluster, lab_namespace: str, staging_constraints: list[str], kind: str
) -> None:
    obj = _workload(kind, f"ok-{kind.lower()}")
    proc = _create(cluster, obj)
    try:
        assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr
    finally:
        name = obj["metadata"]["name"]
        _kubectl(cluster, "-n", NS, "delete", kind.lower(), name, "--ignore-not-found", "--wait=false")


def test_argocd_shows_the_refusal_on_the_synced_deployment(
    cluster: Cluster, provider: Provider, lab_namespace: str, staging_constraints: list[str], tmp_path: Path
) -> None:
    """An Application whose Deployment names a refused image is not Healthy: its sync fails on
    that Deployment with the constraint's message, where the user looks."""
    if provider.name != "kwok":
        pytest.skip("a file:// repository is readable only by a repo-server on this host (kwok)")
    name = "gk-refused-image"
    source = tmp_path / "app"
    source.mkdir()
    source.joinpath("deployment.yaml").write_text(yaml.safe_dump(_workload("Deployment", name, LATEST)))
    repo_url = git_repo_from(source, provider.state_dir / "git" / f"{name}.git")
    cluster.kubectl.apply_text(yaml.safe_dump_all(git_application(name, repo_url, [NS])))
    try:
        found = refusal(cluster, name, timeout=180)
        messages = [c.get("message", "") for c in found]
        assert any(
            m.startswith(f"Deployment {name}:") and "[staging-allowed-images]" in m and "floating tag :latest" in m
            for m in messages
        ), found
        status = cluster.application(name).get("status") or {}
        assert (status.get("health") or {}).get("status") != "Healthy", status.get("health")
        assert not cluster.kubectl.ok("-n", NS, "get", "deployment", name)
    finally:
        _kubectl(cluster, "-n", "argocd", "delete", "application", name, "--ignore-not-found", "--wait=false")
        _kubectl(cluster, "-n", "argocd", "delete", "appproject", name, "--ignore-not-found", "--wait=false")


def test_deny_admits_a_compliant_pod(cluster: Cluster, lab_namespace: str, staging_constraints: list[str]) -> None:
    proc = _create(cluster, _pod("deny-compliant"))
    assert proc.returncode == 0 and "Warning" not in proc.stderr, proc.stderr


@pytest.mark.parametrize(
    ("namespace", "pod"),
    [
        # node-exporter's shape: the lab policies do not match platform namespaces
        ("monitoring", _pod("host-agent", "monitoring", hostNetwork=True, container_security={"privileged": True})),
        # the control plane is exempt from every policy (policies/gatekeeper/config.yaml)
        ("kube-system", _pod("latest-tool", "kube-system", image="registry.example.invalid/tool:latest")),
    ],
    ids=["monitoring-host-access", "kube-system-any-image"],
)
def test_platform_namespaces_keep_working_under_deny(
    cluster: Cluster, result: bs.Result, staging_constraints: list[str], namespace: str, pod: dict
) -> None:
    proc = _create(cluster, pod)
    try:
        assert proc.returncode == 0, proc.stderr
    finally:
        name = pod["metadata"]["name"]
        _kubectl(cluster, "-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=false")


def test_rebootstrap_leaves_gatekeeper_and_policies_untouched(
    cluster: Cluster, provider: Provider, result: bs.Result
) -> None:
    local = gatekeeper.local(provider)
    pid = local.proc.pid()
    vwh = cluster.kubectl.json("get", "validatingwebhookconfiguration", gatekeeper.WEBHOOK_NAME)
    before = {c["metadata"]["name"]: c["metadata"]["generation"] for c in _constraints(cluster)}
    bs.Bootstrap(Target.of(provider), print).run()
    after_vwh = cluster.kubectl.json("get", "validatingwebhookconfiguration", vwh["metadata"]["name"])
    assert local.proc.pid() == pid and local.ready()
    assert after_vwh["metadata"]["resourceVersion"] == vwh["metadata"]["resourceVersion"]
    after = {c["metadata"]["name"]: c["metadata"]["generation"] for c in _constraints(cluster)}
    assert {n: g for n, g in after.items() if n in before} == before
