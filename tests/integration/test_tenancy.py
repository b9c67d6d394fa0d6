"""Tenancy against the real Argo CD and API server: what a lab file or a lab's Application may
not do, and Argo CD holding its own bootstrap objects in place.

Hostile lab files are published the way a commit pushed straight to the tracked branch would
be: a snapshot of the working tree that preflight never saw, read by Argo CD's own generators.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.render.manifests import static_projects

from .conftest import Cluster, apps, publish_without_preflight, submit_probe, wait_until

# the same on every API server: CI proves it on kwok, kind's stage deselects it (conftest)
pytestmark = pytest.mark.api_server

HOSTILE = REPO_ROOT / "tests" / "fixtures" / "labs" / "hostile" / "widen.yaml"


@pytest.fixture(scope="module")
def result(cluster: Cluster, provider: Provider) -> bs.Result:
    return bs.Bootstrap(Target.of(provider), print).run()


def _remove_lab_objects(cluster: Cluster, lab: str) -> None:
    for app in [n for n in apps(cluster) if n == f"lab-{lab}" or n.startswith(f"lab-{lab}-")]:
        cluster.kubectl.run("-n", "argocd", "delete", "application", app, "--ignore-not-found", "--wait=false")
    cluster.kubectl.run("-n", "argocd", "delete", "appproject", f"lab-{lab}", "--ignore-not-found")
    cluster.kubectl.run("delete", "namespace", f"lab-{lab}", "--ignore-not-found", "--wait=false")


@pytest.fixture
def hostile_files(cluster: Cluster, provider: Provider, result: bs.Result) -> Iterator[tuple[Path, Path]]:
    labs = REPO_ROOT / "clusters" / provider.settings.env / "labs"
    top, nested = labs / "widen.yaml", labs / "archive" / "nested.yaml"
    top.write_text(HOSTILE.read_text())
    nested.parent.mkdir(exist_ok=True)
    nested.write_text(HOSTILE.read_text().replace("name: widen", "name: nested"))
    try:
        publish_without_preflight(cluster, provider)
        yield top, nested
    finally:
        top.unlink()
        nested.unlink()
        nested.parent.rmdir()
        publish_without_preflight(cluster, provider)
        for lab in ("widen", "nested"):
            _remove_lab_objects(cluster, lab)


def test_lab_file_with_platform_keys_pushed_without_preflight_widens_nothing(
    cluster: Cluster, provider: Provider, hostile_files: tuple[Path, Path]
) -> None:
    """The chart refuses a field a lab file does not have (rule lab-fields): the file's own
    Application shows it, and nothing of the lab is created, let alone widened."""
    from biogitops.platform.labfiles import live_broken_lab_files

    wait_until(lambda: "lab-widen" in apps(cluster), 240, "lab-widen's Application")
    assert apps(cluster)["lab-widen"]["spec"]["project"] == "tenants"

    def refused() -> list[tuple[str, str]]:
        return [b for b in live_broken_lab_files(Target.of(provider)) if b[0].endswith("/widen.yaml")]

    wait_until(lambda: bool(refused()), 240, "the chart's refusal of widen.yaml")
    [(_, why)] = refused()
    assert "is not a field of a lab file (rule lab-fields)" in why, why
    assert not cluster.kubectl.ok("-n", "argocd", "get", "appproject", "lab-widen")
    assert not cluster.kubectl.ok("-n", "lab-widen", "get", "limitrange", "lab-defaults")


def test_nested_lab_file_pushed_without_preflight_is_not_deployed(
    cluster: Cluster, hostile_files: tuple[Path, Path]
) -> None:
    # both files arrive in one snapshot: once the top-level lab is generated, the nested one
    # has been seen by the same generator pass
    wait_until(lambda: "lab-widen" in apps(cluster), 240, "the top-level lab's Application")
    live = apps(cluster)
    assert "lab-nested" not in live
    assert not cluster.kubectl.ok("get", "namespace", "lab-nested")


@pytest.mark.parametrize(
    ("fixture", "kind"),
    [
        ("appproject", "AppProject"),
        ("application", "Application"),
        ("networkpolicy", "NetworkPolicy"),
        ("resourcequota", "ResourceQuota"),
        ("rolebinding-cluster-admin", "RoleBinding"),
    ],
)
def test_lab_application_cannot_change_what_bounds_the_lab(
    cluster: Cluster, result: bs.Result, probe: list[str], fixture: str, kind: str
) -> None:
    repo = result.graph.applications["cluster-base"]["spec"]["source"]["repoURL"]
    name = f"itest-escalate-{fixture}"
    refused = submit_probe(cluster, repo, probe, name, f"tests/fixtures/lab-escalation/{fixture}", "lab-genomics")
    assert refused, f"Argo CD synced a lab Application that creates a {kind}"
    text = " ".join(c.get("message", "") for c in refused)
    assert kind in text or "denied" in text or "forbidden" in text, refused
    [path] = sorted((REPO_ROOT / "tests" / "fixtures" / "lab-escalation" / fixture).glob("*.yaml"))
    if kind == "RoleBinding":  # a lab kind: admission refuses the role, whoever applies it (Argo CD is cluster-admin)
        out = cluster.kubectl.run("-n", "lab-genomics", "create", "--dry-run=server", "-f", str(path), check=False)
        assert out == "" and not cluster.kubectl.ok("-n", "lab-genomics", "get", "rolebinding", "itest-cluster-admin")
    obj = yaml.safe_load(path.read_text())
    plural = {"AppProject": "appprojects.argoproj.io", "Application": "applications.argoproj.io"}.get(
        kind, kind.lower()
    )
    for namespace in ("lab-genomics", "argocd"):
        assert not cluster.kubectl.ok("-n", namespace, "get", plural, obj["metadata"]["name"])


def test_deleted_default_project_comes_back_restricted(cluster: Cluster, result: bs.Result) -> None:
    cluster.kubectl.run("-n", "argocd", "delete", "appproject", "default")

    def restricted() -> bool:
        if not cluster.kubectl.ok("-n", "argocd", "get", "appproject", "default"):
            return False
        spec = cluster.kubectl.json("-n", "argocd", "get", "appproject", "default")["spec"]
        return not spec.get("sourceRepos") and {"group": "*", "kind": "*"} in spec.get("namespaceResourceBlacklist", [])

    wait_until(restricted, 240, "Argo CD to put `default` back, restricted")


def test_edited_default_project_is_put_back(cluster: Cluster, result: bs.Result) -> None:
    cluster.kubectl.run(
        "-n",
        "argocd",
        "patch",
        "appproject",
        "default",
        "--type=merge",
        "-p",
        '{"spec": {"sourceRepos": ["*"], "destinations": [{"server": "*", "namespace": "*"}]}}',
    )

    def restricted() -> bool:
        spec = cluster.kubectl.json("-n", "argocd", "get", "appproject", "default")["spec"]
        return not spec.get("sourceRepos") and not spec.get("destinations")

    wait_until(restricted, 240, "Argo CD to undo the edit of `default`")


def test_bootstrap_objects_are_owned_by_the_root_application(cluster: Cluster, result: bs.Result) -> None:
    root = cluster.application(bs.ROOT)
    owned = {(r["kind"], r["name"]) for r in root["status"]["resources"]}
    for appset in ("platform", "labs"):
        assert ("ApplicationSet", appset) in owned
    for project in ("default", "argocd", *static_projects()):
        assert ("AppProject", project) in owned
    assert ("ConfigMap", "argocd-cm") in owned
