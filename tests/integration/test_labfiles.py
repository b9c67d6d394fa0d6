"""Lab files and member syncs against the real Argo CD (its ApplicationSet controller, server and
application controller): one broken lab file stops only itself, a file named like a lab's app
takes nothing over, and a member's token cannot replace-sync a lab's claim.

    flock /tmp/bio-kwok.lock nox -s integration -- --provider kwok -k test_labfiles

Files are published as a commit pushed straight to the tracked branch would be: a snapshot of the
working tree that preflight never saw (as tests/integration/test_tenancy.py does).
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import argocd as platform_argocd
from biogitops.platform import bootstrap as bs
from biogitops.platform.labfiles import live_broken_lab_files
from biogitops.toolchain import tools

from .conftest import Cluster, apps, publish_without_preflight, wait_until

# the same on every API server: CI proves it on kwok, kind's stage deselects it (conftest)
pytestmark = pytest.mark.api_server

# a lab file with the gpu a `<<:` merge key would give it under Go YAML (preflight refuses the
# merge key; here the file says it outright, as Argo CD would read it)
BROKEN = """name: itest-broken
owners: itest-broken-admins
members: itest-broken
quota: {cpu: "1", memory: 1Gi, storage: 1Gi, gpu: 64000}
apps: {}
"""
# named like lab-genomics' own Nextflow Application
TAKEOVER = """name: genomics-nextflow
owners: genomics-admins
members: genomics
quota: {cpu: "1", memory: 1Gi, storage: 1Gi}
apps: {}
"""


@pytest.fixture(scope="module")
def result(cluster: Cluster, provider: Provider) -> bs.Result:
    return bs.Bootstrap(Target.of(provider), print).run()


def _quota_cpu(cluster: Cluster, namespace: str) -> str:
    quota = cluster.kubectl.json("-n", namespace, "get", "resourcequota", "lab-quota")
    return quota["spec"]["hard"]["requests.cpu"]


@pytest.fixture
def broken_beside_a_change(cluster: Cluster, provider: Provider, result: bs.Result) -> Iterator[str]:
    labs = REPO_ROOT / "clusters" / provider.settings.env / "labs"
    proteomics = labs / "proteomics.yaml"
    original = proteomics.read_text()
    before = _quota_cpu(cluster, "lab-proteomics")
    wanted = "9" if before != "9" else "7"
    (labs / "itest-broken.yaml").write_text(BROKEN)
    (labs / "genomics-nextflow.yaml").write_text(TAKEOVER)
    proteomics.write_text(original.replace(f'cpu: "{before}"', f'cpu: "{wanted}"'))
    assert proteomics.read_text() != original, "the proteomics fixture changed shape"
    try:
        publish_without_preflight(cluster, provider)
        yield wanted
    finally:
        proteomics.write_text(original)
        (labs / "itest-broken.yaml").unlink()
        (labs / "genomics-nextflow.yaml").unlink()
        publish_without_preflight(cluster, provider)
        cluster.kubectl.run("-n", "argocd", "delete", "application", "lab-itest-broken", "--ignore-not-found")


def test_a_broken_lab_file_stops_only_itself_and_takes_nothing_over(
    cluster: Cluster, provider: Provider, broken_beside_a_change: str
) -> None:
    wanted = broken_beside_a_change
    # the other lab's quota change, pushed in the same commit, lands
    wait_until(
        lambda: _quota_cpu(cluster, "lab-proteomics") == wanted, 300, f"lab-proteomics' cpu quota to be {wanted}"
    )
    # the broken file has an Application of its own, refused by the chart naming the rule
    wait_until(lambda: "lab-itest-broken" in apps(cluster), 120, "the broken file's own Application")

    def named() -> list[tuple[str, str]]:
        return [b for b in live_broken_lab_files(Target.of(provider)) if b[0].endswith("/itest-broken.yaml")]

    wait_until(lambda: bool(named()), 180, "status to name the broken lab file")
    [(_, why)] = named()
    assert "quota.gpu" in why and "(rule lab-quota-gpu)" in why, why
    assert not cluster.kubectl.ok("get", "namespace", "lab-itest-broken"), "a refused lab creates nothing"
    # genomics-nextflow.yaml is never read: lab-genomics' Nextflow Application stays its own
    child = apps(cluster)["lab-genomics-nextflow"]
    assert child["spec"]["project"] == "lab-genomics"
    assert not [o for o in child["metadata"].get("ownerReferences") or [] if o.get("kind") == "ApplicationSet"]


# ------------------------------------------------------------------ a member's token and the claims


def _argocd(*args: str, config: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(tools.which("argocd")), *args, "--config", str(config)], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise AssertionError(f"argocd {' '.join(args[:3])} failed: {proc.stderr.strip()}")
    return proc


@pytest.fixture
def member_token(cluster: Cluster, provider: Provider, result: bs.Result, tmp_path: Path) -> tuple[str, str, Path]:
    """A real Argo CD token of lab-genomics' `members` project role, and the server it is for."""
    if provider.argocd_mode != "local":
        pytest.skip("the Argo CD API is reached on loopback only where Argo CD runs as local processes (kwok)")
    server = f"127.0.0.1:{platform_argocd.local(provider).port('server')}"
    secret = cluster.kubectl.json("-n", "argocd", "get", "secret", "argocd-initial-admin-secret")
    password = base64.b64decode(secret["data"]["password"]).decode()
    config = tmp_path / "argocd-config"
    _argocd("login", server, "--username", "admin", "--password", password, "--plaintext", config=config)
    token = _argocd("proj", "role", "create-token", "lab-genomics", "members", "--token-only", config=config)
    return server, token.stdout.strip(), config


@pytest.mark.parametrize(
    "flags",
    [["--replace", "--force"], ["--replace"], ["--force"], ["--prune", "--force"]],
    ids=["replace-force", "replace", "force", "prune-force"],
)
def test_member_sync_cannot_replace_or_prune_the_labs_claim(
    cluster: Cluster, member_token: tuple[str, str, Path], flags: list[str]
) -> None:
    server, token, config = member_token
    claim = cluster.kubectl.json("-n", "lab-genomics", "get", "pvc", "nextflow-work")
    proc = _argocd(
        "app", "sync", "lab-genomics-nextflow", *flags,
        "--resource", ":PersistentVolumeClaim:nextflow-work",
        "--server", server, "--plaintext", "--auth-token", token, "--timeout", "60",
        config=config, check=False,
    )  # fmt: skip
    if "--replace" in flags:
        assert proc.returncode != 0, proc.stdout
        assert "sync with replace was disabled on the API Server level" in proc.stderr, proc.stderr
    time.sleep(10)  # what a sync started would have done by now
    after = cluster.kubectl.json("-n", "lab-genomics", "get", "pvc", "nextflow-work")
    assert after["metadata"]["uid"] == claim["metadata"]["uid"], "the lab's work dir was deleted and re-created"
    assert not after["metadata"].get("deletionTimestamp")
