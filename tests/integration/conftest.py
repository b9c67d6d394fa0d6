"""Integration fixtures: a real cluster from a provider, Argo CD on it, and clients.

    nox -s integration -- --provider kwok      # offline: control plane + Argo CD as processes
    nox -s integration                         # kind (needs Docker)

The cluster is created once per run, or reused when it is already running and healthy.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config

from biogitops.cluster import Provider
from biogitops.cluster.kube import Kubectl
from biogitops.cluster.kwok import gatekeeper
from biogitops.cluster.target import Target
from biogitops.platform import argocd
from biogitops.platform import bootstrap as bs
from biogitops.platform.gitsource import source_for
from biogitops.render import crds

# the audit tests wait for audit results: audit every 10 s, not the chart's 60 s
os.environ.setdefault(gatekeeper.AUDIT_INTERVAL_ENV, "10")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--provider",
        default="kind",
        choices=["kind", "kwok", "existing"],
        help="cluster provider for the integration suite (default: kind)",
    )
    parser.addoption("--env", default="dev", help="environment under clusters/ (default: dev)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "api_server: admission, RBAC and Argo CD API behaviour, and tasks that act through the API alone"
        " (offboarding, a lab file removed), the same on every provider's API server;"
        " CI proves it on kwok and its kind stage deselects it (-m 'not api_server') to stay within 90 min",
    )


@dataclass
class Cluster:
    provider: Provider
    kubectl: Kubectl
    api: client.ApiClient

    @property
    def core(self) -> client.CoreV1Api:
        return client.CoreV1Api(self.api)

    @property
    def custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def application(self, name: str) -> dict:
        return self.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications", name)


@pytest.fixture(scope="session")
def provider(request: pytest.FixtureRequest) -> Provider:
    return Target(request.config.getoption("--env"), request.config.getoption("--provider")).provider


@pytest.fixture(scope="session")
def cluster(provider: Provider) -> Iterator[Cluster]:
    """Create or reuse the cluster, install Argo CD, and hand out clients.

    State left by a previous session whose processes are gone (a reboot, a new CI run) is
    cleared first: the harness owns its cluster. `invoke cluster.create` refuses such state.
    """
    status = provider.status()
    if status.exists and not status.ready and provider.name == "kwok":
        print(f"clearing stale kwok cluster state ({status.detail})")
        provider.delete(print)
    provider.create(print)
    argocd.install(provider, print)
    kubeconfig = provider.kubeconfig()
    kubectl = Kubectl(kubeconfig, provider.context)
    if provider.crds_from_cache:
        # Online, the crds Application installs the CRDs before any lab exists (wave -1); offline
        # its URLs are unreachable, so the same pinned files come from the Go module cache (as
        # `invoke bootstrap` does on kwok). Before the labs, so that their quotas count
        # SparkApplications from the start.
        crds.install(kubectl, print)
    api = config.new_client_from_config(config_file=str(kubeconfig) if kubeconfig else None, context=provider.context)
    yield Cluster(provider, kubectl, api)
    api.close()


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 2) -> Any:
    """`check()`'s first truthy value, polled every `every` s; AssertionError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def publish_without_preflight(cluster: Cluster, provider: Provider) -> None:
    """Snapshot the working tree for Argo CD, as a push straight to the tracked branch would be
    (preflight never saw it), and make the labs ApplicationSet re-read it now."""
    source_for(provider)
    bs.refresh_applicationsets(cluster.kubectl, ["labs"])


def git_application(name: str, repo_url: str, namespaces: list[str], cluster_kinds: tuple[str, ...] = ()) -> list[dict]:
    """An AppProject of its own and an Application syncing `repo_url` (path ".", branch main)
    into namespaces[0]; the project admits only that repository and `namespaces`."""
    server = "https://kubernetes.default.svc"
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "sourceRepos": [repo_url],
            "destinations": [{"server": server, "namespace": ns} for ns in namespaces],
            "clusterResourceWhitelist": [{"group": "", "kind": k} for k in cluster_kinds],
        },
    }
    app = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": name,
            "source": {"repoURL": repo_url, "targetRevision": "main", "path": "."},
            "destination": {"server": server, "namespace": namespaces[0]},
            "syncPolicy": {
                "automated": {"prune": True, "selfHeal": True},
                "syncOptions": ["CreateNamespace=true"],
            },
        },
    }
    return [project, app]


def git_repo_from(source: Path, bare: Path) -> str:
    """Publish a directory as a one-commit bare git repository; returns its file:// URL."""
    work = bare.with_suffix(".work")
    for old in (work, bare):
        shutil.rmtree(old, ignore_errors=True)
    bare.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, work, symlinks=True)
    git = ["git", "-c", "user.name=bio-gitops", "-c", "user.email=ci@bio-gitops.invalid", "-C", str(work)]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fixture"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return f"file://{bare}"


def apps(cluster: Cluster) -> dict[str, dict]:
    """Every Application in argocd, by name."""
    items = cluster.custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "applications")["items"]
    return {a["metadata"]["name"]: a for a in items}


def probe_app(name: str, project: str, repo_url: str, path: str, namespace: str) -> dict:
    """An Application that a lab could have: `path` of this repository into `namespace`."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": project,
            "source": {"repoURL": repo_url, "targetRevision": "snapshot", "path": path},
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
            "syncPolicy": {"automated": {}},
        },
    }


def refusal(cluster: Cluster, name: str, timeout: float = 300) -> list[dict]:
    """What Argo CD reports when it will not (or cannot) sync Application `name`: its error
    conditions, a failed operation's message, and each resource whose sync failed (while Argo CD
    retries, the operation stays Running); [] if it synced or nothing came in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cluster.application(name).get("status") or {}
        conds = status.get("conditions") or []
        op = status.get("operationState") or {}
        failed = op.get("phase") in ("Failed", "Error") or "not permitted" in op.get("message", "")
        resources = [
            {"type": "SyncFailed", "message": f"{r['kind']} {r['name']}: {r.get('message', '')}"}
            for r in (op.get("syncResult") or {}).get("resources") or []
            if r.get("status") == "SyncFailed"
        ]
        if conds or failed or resources:
            return (
                conds + resources + ([{"type": "OperationError", "message": op.get("message", "")}] if failed else [])
            )
        time.sleep(2)
    return []


@pytest.fixture
def probe(cluster: Cluster) -> Iterator[list[str]]:
    """Names of probe Applications to delete after the test."""
    created: list[str] = []
    yield created
    for name in created:
        cluster.kubectl.run("-n", "argocd", "delete", "application", name, "--ignore-not-found", "--wait=false")


def submit_probe(cluster: Cluster, repo_url: str, probe: list[str], name: str, path: str, namespace: str) -> list:
    """Create an Application in project lab-genomics from this repository; what refused it."""
    cluster.kubectl.apply_text(yaml.safe_dump(probe_app(name, "lab-genomics", repo_url, path, namespace)))
    probe.append(name)
    return refusal(cluster, name)
