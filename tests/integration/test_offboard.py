"""A lab whose file is removed: its data is kept and reported orphaned, and `invoke lab.offboard`
exports and deletes it, on a real API server with the real Argo CD.

    flock /tmp/bio-gitops-kwok.lock nox -s integration -- --provider kwok -k offboard
"""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.config.labs import labs_dir, scaffold
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.platform import offboard as ob

from .conftest import Cluster

# exports and deletes through the API alone: proven on kwok, deselected by CI's kind stage
pytestmark = pytest.mark.api_server

LAB = "offtest"
NS = f"lab-{LAB}"
SECRET_VALUE = "b2ZmdGVzdC1wYXNzd29yZA=="  # base64 of a password the export must never hold


@dataclass
class Removed:
    namespace_kept: bool
    claims_kept: list[str]


def _invoke(provider: Provider, *args: str, stdin: Any = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "invoke", *args, "--env", provider.settings.env, "--provider", provider.name]
    return subprocess.run(cmd, cwd=REPO_ROOT, stdin=stdin, capture_output=True, text=True, timeout=600, check=False)


def _typed(provider: Provider, answer: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`invoke ARGS` on a pseudo-terminal (Python's pty module, no util-linux `script`), typing
    `answer` at its prompt; stdout holds what the terminal showed (stderr merged, as on a screen)."""
    cmd = [sys.executable, "-m", "invoke", *args, "--env", provider.settings.env, "--provider", provider.name]
    master, terminal = pty.openpty()
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdin=terminal, stdout=terminal, stderr=terminal)
    os.close(terminal)
    os.write(master, (answer + "\n").encode())
    shown = bytearray()
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the command exited and closed the terminal
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(master)
        if proc.poll() is None and time.monotonic() >= deadline:
            proc.kill()
    returncode = proc.wait(timeout=60)
    return subprocess.CompletedProcess(cmd, returncode, shown.decode(errors="replace").replace("\r\n", "\n"), "")


def _orphan_row(provider: Provider) -> str:
    """The row of `invoke status` for lab offtest in the orphaned-labs table (not an Application's row)."""
    out = _invoke(provider, "status")
    assert out.returncode == 0, out.stderr
    return next((line for line in out.stdout.splitlines() if f" {LAB} " in line and f" {NS} " in line), out.stdout)


def _app_names(cluster: Cluster) -> set[str]:
    items = cluster.kubectl.json("-n", "argocd", "get", "applications.argoproj.io")["items"]
    return {a["metadata"]["name"] for a in items}


def _namespace_phase_of(cluster: Cluster, name: str) -> str:
    ns = ob.get_one(cluster.kubectl, "get", "namespace", name)
    return (ns or {}).get("status", {}).get("phase", "gone")


def _namespace_phase(cluster: Cluster) -> str:
    return _namespace_phase_of(cluster, NS)


def _lab_data(ns: str) -> list[dict[str, Any]]:
    """Objects a lab's users keep in its namespace, which Argo CD does not manage."""
    return [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db", "namespace": ns},
            "data": {"pw": SECRET_VALUE},
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes", "namespace": ns}, "data": {"a": "b"}},
    ]


@pytest.fixture(scope="module")
def removed(cluster: Cluster, provider: Provider) -> Removed:
    """Bootstrap with lab `offtest` as `invoke lab.new` writes it, add data by hand, remove the lab file,
    bootstrap again, and wait until Argo CD has acted on the removal."""
    env = provider.settings.env
    (labs_dir(env) / f"{LAB}.yaml").unlink(missing_ok=True)  # left by an interrupted run
    lab_file = scaffold(LAB, env)  # Nextflow, with a 50Gi work-dir claim
    try:
        added = bs.Bootstrap(Target.of(provider), print).run()
        assert added.states[f"lab-{LAB}-nextflow"] == bs.HEALTHY
        cluster.kubectl.apply_text(yaml.safe_dump_all(_lab_data(NS)), server_side=False)
    finally:
        lab_file.unlink()
    bs.Bootstrap(Target.of(provider), print).run()
    # the ApplicationSets drop the lab's generated Applications; whatever they cascade into settles
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and (
        {f"lab-{LAB}"} & _app_names(cluster) or _namespace_phase(cluster) == "Terminating"
    ):
        time.sleep(2)
    kept = _namespace_phase(cluster) == "Active"
    claims = cluster.kubectl.json("-n", NS, "get", "pvc")["items"] if kept else []
    return Removed(kept, sorted(c["metadata"]["name"] for c in claims))


def test_removed_lab_file_leaves_the_lab_reported_orphaned_with_its_data(
    cluster: Cluster, provider: Provider, removed: Removed
) -> None:
    """Needs the deletion-safety change of issue 9 (ApplicationSets preserve resources, namespaces and
    PVCs carry Delete=false). Before it, removing the file deletes the namespace and this fails."""
    assert removed.namespace_kept, f"namespace {NS} was deleted when its lab file was removed"
    assert removed.claims_kept == ["nextflow-work"]
    row = _orphan_row(provider)
    assert "orphaned, data kept" in row and " 1 " in row and "50Gi" in row, row


@pytest.fixture(scope="module")
def orphan(cluster: Cluster, removed: Removed) -> Iterator[None]:
    """The orphan `removed` left, completed by hand where the cluster deleted it (before the
    deletion-safety change): namespace, claim, data, AppProject and a child Application."""
    kubectl = cluster.kubectl
    template = cluster.application("lab-genomics-nextflow")
    project = kubectl.json("-n", "argocd", "get", "appproject", "lab-genomics")
    if _namespace_phase(cluster) == "gone":
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS, "labels": {"bio-gitops.io/lab": LAB}}}
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "nextflow-work", "namespace": NS},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "50Gi"}}},
        }
        kubectl.apply_text(yaml.safe_dump_all([ns, claim, *_lab_data(NS)]), server_side=False)
    if not kubectl.ok("-n", "argocd", "get", "appproject", NS):
        spec = {**project["spec"], "destinations": [{"server": "https://kubernetes.default.svc", "namespace": NS}]}
        proj = {"apiVersion": project["apiVersion"], "kind": "AppProject", "metadata": {"name": NS}, "spec": spec}
        proj["metadata"]["namespace"] = "argocd"
        kubectl.apply_text(yaml.safe_dump(proj))
    if f"lab-{LAB}-nextflow" not in _app_names(cluster):
        app = {
            "apiVersion": template["apiVersion"],
            "kind": "Application",
            "metadata": {
                "name": f"lab-{LAB}-nextflow",
                "namespace": "argocd",
                "labels": {"bio-gitops.io/lab": LAB},
                "finalizers": ["resources-finalizer.argocd.argoproj.io"],
            },
            "spec": {
                "project": NS,
                "source": template["spec"]["source"],
                "destination": {"server": "https://kubernetes.default.svc", "namespace": NS},
            },
        }
        kubectl.apply_text(yaml.safe_dump(app))
    yield
    for app in (f"lab-{LAB}-nextflow", f"lab-{LAB}"):  # whatever a failed test left
        unfinalize = ("--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        kubectl.run("-n", "argocd", "patch", "application", app, *unfinalize, check=False)
        kubectl.run("-n", "argocd", "delete", "application", app, "--ignore-not-found", "--wait=false", check=False)
    kubectl.run("-n", "argocd", "delete", "appproject", NS, "--ignore-not-found", "--wait=false", check=False)
    kubectl.run("delete", "namespace", NS, "--ignore-not-found", "--wait=false", check=False)


def test_offboard_of_a_lab_with_a_file_is_refused_and_deletes_nothing(
    cluster: Cluster, provider: Provider, removed: Removed
) -> None:
    out = _invoke(provider, "lab.offboard", "genomics", "--yes")
    assert out.returncode == 1
    assert "clusters/dev/labs/genomics.yaml still defines lab genomics" in out.stderr
    assert _namespace_phase_of(cluster, "lab-genomics") == "Active"
    assert "lab-genomics-nextflow" in _app_names(cluster)


def test_offboard_without_terminal_or_yes_is_refused_and_deletes_nothing(
    cluster: Cluster, provider: Provider, orphan: None
) -> None:
    out = _invoke(provider, "lab.offboard", LAB)
    assert out.returncode == 1
    assert "stdin is not a terminal and --yes is missing" in out.stderr
    assert _namespace_phase(cluster) == "Active"
    assert f"lab-{LAB}-nextflow" in _app_names(cluster)


def test_status_reports_a_lab_namespace_without_a_lab_file_as_orphaned(provider: Provider, orphan: None) -> None:
    row = _orphan_row(provider)
    assert "orphaned, data kept" in row and " 1 " in row and "50Gi" in row, row


def test_offboard_with_a_mistyped_confirmation_deletes_nothing(
    cluster: Cluster, provider: Provider, orphan: None, tmp_path: Path
) -> None:
    out = _typed(provider, "offtset", "lab.offboard", LAB, "--out", str(tmp_path / "export.yaml"))
    assert out.returncode == 1, out.stdout
    assert "confirmation did not match the lab's name; nothing deleted" in out.stdout  # the pty merges stderr
    assert _namespace_phase(cluster) == "Active"
    assert f"lab-{LAB}-nextflow" in _app_names(cluster)
    assert cluster.kubectl.ok("-n", "argocd", "get", "appproject", NS)


def test_offboard_exports_then_deletes_namespace_claims_applications_and_project(
    cluster: Cluster, provider: Provider, orphan: None, tmp_path: Path
) -> None:
    export = tmp_path / "export.yaml"
    out = _invoke(provider, "lab.offboard", LAB, "--yes", "--out", str(export))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "PersistentVolumeClaim" in out.stdout and f"{NS}/nextflow-work" in out.stdout and "50Gi" in out.stdout
    assert _namespace_phase(cluster) == "gone"
    assert not {n for n in _app_names(cluster) if n == f"lab-{LAB}" or n.startswith(f"lab-{LAB}-")}
    assert not cluster.kubectl.ok("-n", "argocd", "get", "appproject", NS)
    text = export.read_text()
    assert SECRET_VALUE not in text
    docs = {(d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(text) if d}
    assert {
        ("Namespace", NS),
        ("PersistentVolumeClaim", "nextflow-work"),
        ("Application", f"lab-{LAB}-nextflow"),
        ("AppProject", NS),
        ("Secret", "db"),
        ("ConfigMap", "notes"),
    } <= docs
    again = _invoke(provider, "lab.offboard", LAB, "--yes", "--out", str(tmp_path / "again.yaml"))
    assert again.returncode == 1 and f"lab {LAB} does not exist on the" in again.stderr
