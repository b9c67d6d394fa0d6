"""Sealed Secrets with the real controller: this machine's dev key is the active one, a
SealedSecret committed in git is unsealed after Argo CD syncs it, one moved to another namespace
is refused with the error on its status, keys survive a backup and restore, and a second
bootstrap changes nothing.

    flock /tmp/bio-gitops-kwok.lock nox -s integration -- --provider kwok -k sealed
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.kwok import sealedsecrets
from biogitops.cluster.target import Target
from biogitops.platform import bootstrap as bs
from biogitops.platform import sealkeys
from biogitops.render import sealing

from .conftest import Cluster, git_application, git_repo_from

NAMESPACE = "lab-genomics"
OTHER = "lab-proteomics"
VALUE = "itest-value-9d1c"


@pytest.fixture(scope="module")
def result(cluster: Cluster, provider: Provider) -> bs.Result:
    if not provider.settings.raw["addons"]["sealedSecrets"]["enabled"]:
        pytest.skip(f"sealedSecrets is not enabled in {provider.settings.path}")
    return bs.Bootstrap(Target.of(provider), print).run()


def _secret(cluster: Cluster, namespace: str, name: str) -> dict | None:
    if not cluster.kubectl.ok("-n", namespace, "get", "secret", name):
        return None
    return cluster.kubectl.json("-n", namespace, "get", "secret", name)


def _wait(what: str, check, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


@pytest.fixture(scope="module")
def synced(cluster: Cluster, result: bs.Result, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """(kwok: a file:// repository is readable only by a repo-server on this host.)
    A git repository with two SealedSecrets, synced by an Argo CD Application of its own project:
    one for lab-genomics, one sealed for lab-genomics but moved to lab-proteomics."""
    if cluster.provider.name != "kwok":
        pytest.skip("a file:// repository is readable only by a repo-server on this host (kwok)")
    src = tmp_path_factory.mktemp("sealed-src")
    good = sealing.seal("dev", NAMESPACE, "itest-sealed", {"token": VALUE})
    moved = sealing.seal("dev", NAMESPACE, "itest-moved", {"token": VALUE})
    moved["metadata"]["namespace"] = OTHER
    moved["spec"]["template"]["metadata"]["namespace"] = OTHER
    (src / "sealedsecret-itest-sealed.yaml").write_text(yaml.safe_dump(good))
    (src / "sealedsecret-itest-moved.yaml").write_text(yaml.safe_dump(moved))
    url = git_repo_from(src, tmp_path_factory.mktemp("sealed-git") / "sealed.git")
    cluster.kubectl.apply_text(yaml.safe_dump_all(git_application("itest-sealed", url, [NAMESPACE, OTHER])))
    try:
        yield url
    finally:
        cluster.kubectl.run("-n", "argocd", "delete", "application", "itest-sealed", "--ignore-not-found", check=False)
        cluster.kubectl.run("-n", "argocd", "delete", "appproject", "itest-sealed", "--ignore-not-found", check=False)
        for ns, name in ((NAMESPACE, "itest-sealed"), (OTHER, "itest-moved")):
            cluster.kubectl.run("-n", ns, "delete", "sealedsecret", name, "--ignore-not-found", check=False)


def test_controller_seals_with_this_machines_dev_key(cluster: Cluster, provider: Provider, result: bs.Result) -> None:
    if provider.name != "kwok":
        pytest.skip(
            f"{provider.name}: the Sealed Secrets chart is unreachable here, so no controller runs in the "
            "cluster; on kwok the controller runs as a local process"
        )
    local = sealedsecrets.LocalSealedSecrets(provider)
    assert local.ready()
    assert local.cert() == sealing.ensure_dev_key().cert.read_bytes()


def test_committed_sealed_secret_is_unsealed_after_argo_syncs(cluster: Cluster, synced: str) -> None:
    secret = _wait("the unsealed Secret", lambda: _secret(cluster, NAMESPACE, "itest-sealed"))
    assert base64.b64decode(secret["data"]["token"]).decode() == VALUE
    owners = secret["metadata"].get("ownerReferences") or []
    assert [o["kind"] for o in owners] == ["SealedSecret"]


def test_sealed_secret_moved_to_another_namespace_is_refused(cluster: Cluster, synced: str) -> None:
    def failed() -> list[dict]:
        if not cluster.kubectl.ok("-n", OTHER, "get", "sealedsecret", "itest-moved"):
            return []
        obj = cluster.kubectl.json("-n", OTHER, "get", "sealedsecret", "itest-moved")
        conds = (obj.get("status") or {}).get("conditions") or []
        return [c for c in conds if c.get("type") == "Synced" and c.get("status") == "False"]

    [cond] = _wait("the SealedSecret to report that it cannot be decrypted", failed)
    assert "decrypt" in cond.get("message", ""), cond
    assert _secret(cluster, OTHER, "itest-moved") is None


def test_keys_survive_backup_and_restore(cluster: Cluster, provider: Provider, synced: str, tmp_path: Path) -> None:
    """The procedure a rebuilt cluster follows: back the keys up, lose them (and what they
    unsealed), restore them; the controller unseals again with the restored key."""
    _wait("the unsealed Secret", lambda: _secret(cluster, NAMESPACE, "itest-sealed"))
    backup, count = sealkeys.backup_keys(provider, tmp_path / "keys.yaml")
    assert count >= 1 and oct(backup.stat().st_mode & 0o777) == "0o600"
    if provider.name == "kwok":
        sealedsecrets.LocalSealedSecrets(provider).stop()
    cluster.kubectl.run("-n", "sealed-secrets", "delete", "secret", "-l", sealing.KEY_LABEL)
    cluster.kubectl.run("-n", NAMESPACE, "delete", "secret", "itest-sealed")
    assert sealkeys.restore_keys(provider, backup, print) == count
    secret = _wait("the Secret unsealed again", lambda: _secret(cluster, NAMESPACE, "itest-sealed"))
    assert base64.b64decode(secret["data"]["token"]).decode() == VALUE
    keys = cluster.kubectl.json("-n", "sealed-secrets", "get", "secret", "-l", sealing.KEY_LABEL)["items"]
    assert len(keys) == count  # restored, not replaced by a key the controller made itself


def _state(cluster: Cluster) -> dict[str, str]:
    out = {}
    for ns, kind, selector in (
        ("sealed-secrets", "secret", f"-l={sealing.KEY_LABEL}"),
        (NAMESPACE, "sealedsecret", "--all"),
        (NAMESPACE, "secret", "--field-selector=type!=kubernetes.io/service-account-token"),
    ):
        args = ["-n", ns, "get", kind] + ([selector] if selector != "--all" else [])
        for obj in cluster.kubectl.json(*args)["items"]:
            out[f"{ns}/{kind}/{obj['metadata']['name']}"] = obj["metadata"]["resourceVersion"]
    crd = cluster.kubectl.json("get", "crd", "sealedsecrets.bitnami.com")
    out["crd"] = crd["metadata"]["resourceVersion"]
    return out


def test_second_bootstrap_changes_nothing_for_secrets(cluster: Cluster, provider: Provider, synced: str) -> None:
    _wait("the unsealed Secret", lambda: _secret(cluster, NAMESPACE, "itest-sealed"))
    before = _state(cluster)
    pid = sealedsecrets.LocalSealedSecrets(provider).proc.pid() if provider.name == "kwok" else None
    dev_files = {p: p.stat().st_mtime_ns for p in Path(sealing.REPO_ROOT).glob(sealing.SEALED_GLOB.format(env="dev"))}
    bs.Bootstrap(Target.of(provider), print).run()
    assert _state(cluster) == before
    if pid is not None:
        assert sealedsecrets.LocalSealedSecrets(provider).proc.pid() == pid
    assert {p: p.stat().st_mtime_ns for p in dev_files} == dev_files


def test_rotation_keeps_what_old_keys_sealed_open(
    cluster: Cluster, provider: Provider, synced: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Last: a new active key, and the Secret sealed with the old one is still unsealed. The
    rotation runs on a copy of this machine's key pair; the new key is removed afterwards."""
    if provider.name != "kwok":
        pytest.skip("reads the certificate from the local controller (kwok)")
    copy = tmp_path / "dev-key"
    copy.mkdir()
    for name in ("tls.key", "tls.crt"):
        (copy / name).write_bytes((sealing.dev_key_dir() / name).read_bytes())
    monkeypatch.setattr(sealing, "dev_key_dir", lambda: copy)
    local = sealedsecrets.LocalSealedSecrets(provider)
    before = local.cert()
    new_key = sealkeys.rotate_key(provider, print)
    try:
        assert local.cert() != before
        assert local.cert() == (copy / "tls.crt").read_bytes()
        assert (copy / "previous").is_dir()
        cluster.kubectl.run("-n", NAMESPACE, "delete", "secret", "itest-sealed")
        secret = _wait("the Secret recreated with the old key", lambda: _secret(cluster, NAMESPACE, "itest-sealed"))
        assert base64.b64decode(secret["data"]["token"]).decode() == VALUE
    finally:
        cluster.kubectl.run("-n", "sealed-secrets", "delete", "secret", new_key, "--ignore-not-found")
        monkeypatch.undo()
        sealing.ensure_dev_key()
        sealkeys.restart_controller(provider, print)
