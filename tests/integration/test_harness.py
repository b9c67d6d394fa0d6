"""The harness itself: a first-party Application from a local git repository reaches Synced
and Healthy through the real Argo CD, and its pods run on the provider's nodes."""

from __future__ import annotations

import time

import pytest
import yaml

from biogitops.paths import REPO_ROOT

from .conftest import Cluster, git_application, git_repo_from

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "harness-app"
NAMESPACE = "harness"


def _wait_synced_healthy(cluster: Cluster, name: str, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    app: dict = {}
    while time.monotonic() < deadline:
        app = cluster.application(name)
        status = app.get("status", {})
        if status.get("sync", {}).get("status") == "Synced" and status.get("health", {}).get("status") == "Healthy":
            return app
        time.sleep(2)
    status = app.get("status", {})
    sync, health = status.get("sync", {}).get("status"), status.get("health", {}).get("status")
    pytest.fail(
        f"Application {name} not Synced/Healthy after {timeout:.0f}s: sync={sync} health={health} "
        f"conditions={status.get('conditions')}"
    )


def test_local_git_application_is_synced_and_healthy(cluster: Cluster) -> None:
    if cluster.provider.name != "kwok":
        pytest.skip(
            "a file:// repository is readable only by a repo-server on this host (kwok); "
            "in-cluster Argo CD needs the git server that bootstrap provides"
        )
    repo_url = git_repo_from(FIXTURE, cluster.provider.state_dir / "git" / "harness.git")
    cluster.kubectl.apply_text(yaml.safe_dump_all(git_application("harness", repo_url, [NAMESPACE], ("Namespace",))))
    app = _wait_synced_healthy(cluster, "harness")
    kinds = sorted(r["kind"] for r in app["status"]["resources"])
    assert kinds == ["ConfigMap", "Deployment"]
    assert app["spec"]["project"] == "harness"


def test_harness_pods_run_on_kwok_nodes(cluster: Cluster) -> None:
    if cluster.provider.name != "kwok":
        pytest.skip("kwok-only: on kind the pods run on real kind nodes")
    deadline = time.monotonic() + 120
    pods = []
    while time.monotonic() < deadline:
        pods = cluster.core.list_namespaced_pod(NAMESPACE, label_selector="app.kubernetes.io/name=hello").items
        if len(pods) == 2 and all(p.status.phase == "Running" for p in pods):
            break
        time.sleep(1)
    assert [p.status.phase for p in pods] == ["Running", "Running"]
    fake_nodes = {
        n.metadata.name
        for n in cluster.core.list_node().items
        if (n.metadata.annotations or {}).get("kwok.x-k8s.io/node") == "fake"
    }
    assert {p.spec.node_name for p in pods} <= fake_nodes
    # no toleration in the fixture: tainted spot and gpu nodes must not be chosen
    assert all(p.spec.node_name.startswith("general-") for p in pods)


def test_nodes_mirror_the_node_groups(cluster: Cluster) -> None:
    nodes = {n.metadata.name: n for n in cluster.core.list_node().items}
    for group in cluster.provider.settings.node_groups:
        members = [n for n in nodes.values() if (n.metadata.labels or {}).get("bio-gitops.io/node-group") == group.name]
        assert len(members) == group.count, group.name
        for node in members:
            taints = {(t.key, t.value, t.effect) for t in (node.spec.taints or [])}
            assert {(t["key"], t.get("value"), t["effect"]) for t in group.taints} <= taints
            if cluster.provider.name == "kwok":
                assert node.status.capacity["cpu"] == group.capacity["cpu"]
