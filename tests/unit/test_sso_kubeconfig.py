"""A lab user's kubeconfig (biogitops/platform/sso.py user_kubeconfig, `invoke sso.kubeconfig`):
that user alone, whatever the cluster's own kubeconfig holds."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import yaml

from biogitops.platform import sso


def _token(claims: dict) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2ln"


def test_the_users_kubeconfig_carries_no_client_certificate_and_asks_for_tokens(tmp_path: Path) -> None:
    admin = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "kind-dev", "cluster": {"server": "https://127.0.0.1:6443", "certificate-authority-data": "Q0E="}}
        ],
        "users": [{"name": "admin", "user": {"client-certificate-data": "Q0VSVA==", "client-key-data": "S0VZ"}}],
        "contexts": [{"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "admin"}}],
        "current-context": "kind-dev",
    }
    (tmp_path / "admin.yaml").write_text(yaml.safe_dump(admin))
    config = sso.user_kubeconfig(tmp_path / "admin.yaml", "genomics-member", ["python", "-m", "invoke", "sso.token"])
    assert "client-certificate-data" not in yaml.safe_dump(config) and "client-key" not in yaml.safe_dump(config)
    assert config["clusters"] == admin["clusters"]
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "python" and user["user"]["exec"]["args"][-1] == "sso.token"
    assert config["contexts"][0]["context"] == {"cluster": "kind-dev", "user": "genomics-member"}


def test_the_exec_credential_expires_with_the_token() -> None:
    token = _token({"exp": 1796300000, "preferred_username": "genomics-member"})
    credential = sso.exec_credential(token)
    assert credential["kind"] == "ExecCredential"
    assert credential["status"] == {"token": token, "expirationTimestamp": "2026-12-03T12:13:20Z"}


class FakeKubectl:
    """The argocd-server Deployment's pod-template annotation, and what was run against it."""

    def __init__(self, annotation: str) -> None:
        self.annotation = annotation
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, timeout: float = 120) -> str:
        self.calls.append(args)
        return self.annotation if "get" in args else ""


def test_argocd_server_restarts_once_for_a_new_identity_ca_and_never_again() -> None:
    """It builds its OIDC client when it starts: a CA it did not start with needs a restart; the
    same CA again (a repeated bootstrap) writes nothing."""
    from biogitops.platform import argocd

    ca = b"-----BEGIN CERTIFICATE-----\ndev\n-----END CERTIFICATE-----\n"
    fresh = FakeKubectl("")
    assert argocd.trust_identity_ca(fresh, ca) is True
    assert any("patch" in call for call in fresh.calls) and any("rollout" in call for call in fresh.calls)
    patch = next(call for call in fresh.calls if "patch" in call)[-1]
    digest = json.loads(patch)["spec"]["template"]["metadata"]["annotations"][argocd.CA_ANNOTATION]
    again = FakeKubectl(digest)
    assert argocd.trust_identity_ca(again, ca) is False
    assert [call for call in again.calls if "get" not in call] == []
