"""Sign-on with real tokens: dev's identity provider (Keycloak beside kwok) issues ID tokens for
the test users the lab files give it, and the real API server honours them by group.

    flock /tmp/bio-kwok.lock nox -s integration -- --provider kwok -k test_sso

Each request is made with the token alone (no client certificate), as `kubectl --token` does.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from biogitops.cluster import Provider
from biogitops.cluster.authn import PREFIX
from biogitops.cluster.kwok import local
from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.platform import bootstrap as bs
from biogitops.platform import sso
from biogitops.toolchain import tools

from .conftest import Cluster, wait_until


@pytest.fixture(scope="module")
def realm(cluster: Cluster, provider: Provider) -> Iterator[sso.Realm]:
    """Bootstrap starts the identity provider with the cluster and makes its realm from the lab files."""
    idp = provider.identity()
    if idp is None:
        pytest.skip(f"no identity provider of our own on {provider.name}: settings.yaml sso.issuer is not `local`")
    bs.Bootstrap(Target.of(provider), print).run()
    assert idp.ready(), "bootstrap leaves the identity provider running"
    yield sso.Realm(idp)


def _api(cluster: Cluster) -> tuple[str, ssl.SSLContext]:
    conf = cluster.api.configuration
    context = ssl.create_default_context(cafile=conf.ssl_ca_cert) if conf.ssl_ca_cert else ssl.create_default_context()
    return conf.host, context


def request(cluster: Cluster, token: str, path: str) -> int:
    """The API server's HTTP status for GET `path` with `token` alone."""
    host, context = _api(cluster)
    req = urllib.request.Request(host + path, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=20, context=context) as resp:
            return resp.status
    except urllib.error.HTTPError as err:
        return err.code


def whoami(cluster: Cluster, token: str) -> dict[str, Any]:
    host, context = _api(cluster)
    body = json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode()
    req = urllib.request.Request(
        host + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=20, context=context) as resp:
        return json.loads(resp.read())["status"]["userInfo"]


def eventually(check, timeout: float = 60) -> None:
    """The API server fetches the issuer's keys in the background after it starts."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            break
        time.sleep(2)


def test_a_member_sees_their_lab_and_nothing_else(cluster: Cluster, realm: sso.Realm) -> None:
    token = realm.token("genomics-member")
    eventually(lambda: request(cluster, token, "/api/v1/namespaces/lab-genomics/pods") == 200)
    assert request(cluster, token, "/api/v1/namespaces/lab-genomics/pods") == 200
    assert request(cluster, token, "/api/v1/namespaces/lab-proteomics/pods") == 403
    assert request(cluster, token, "/api/v1/pods") == 403, "no cluster-wide listing"
    user = whoami(cluster, token)
    assert user["username"] == f"{PREFIX}genomics-member"
    assert f"{PREFIX}genomics" in user["groups"]


def test_kubectl_with_the_users_kubeconfig_is_that_user(cluster: Cluster, provider: Provider, tmp_path) -> None:
    """What the handbook gives a lab member: `invoke sso.kubeconfig`, then plain kubectl (its exec
    plugin asks `invoke sso.token` for each fresh token). The cluster's own kubeconfig with
    `--token` would be the admin: its client certificate wins."""
    env = {**os.environ, "PATH": f"{tools.tools_bin()}{os.pathsep}{os.environ['PATH']}"}
    task = [sys.executable, "-m", "invoke", "sso.kubeconfig", "--env", "dev", "--provider", provider.name]
    made = subprocess.run([*task, "--user", "genomics-member"], capture_output=True, text=True, env=env, check=True)
    kubeconfig = made.stdout.strip().splitlines()[-1]
    kubectl = [str(tools.tools_bin() / "kubectl"), "--kubeconfig", kubeconfig]
    own = subprocess.run([*kubectl, "-n", "lab-genomics", "get", "pods"], capture_output=True, text=True, env=env)
    other = subprocess.run([*kubectl, "-n", "lab-proteomics", "get", "pods"], capture_output=True, text=True, env=env)
    assert own.returncode == 0, own.stderr
    assert other.returncode != 0 and 'User "oidc:genomics-member" cannot list' in other.stderr, other.stderr


def test_the_platform_admin_token_is_cluster_admin(cluster: Cluster, realm: sso.Realm) -> None:
    token = realm.token("platform-admin")
    eventually(lambda: request(cluster, token, "/api/v1/pods") == 200)
    assert request(cluster, token, "/api/v1/pods") == 200


def test_a_token_claiming_a_system_group_gets_no_system_rights(cluster: Cluster, realm: sso.Realm) -> None:
    """A group named `system:masters` in the provider (a hostile or careless admin) arrives
    prefixed: the token is an ordinary user's, with no rights."""
    base = f"/admin/realms/{realm.realm}"
    realm._call("POST", f"{base}/groups", {"name": "system:masters"})
    group = next(g for g in realm._call("GET", f"{base}/groups?search=system:masters") if g["name"] == "system:masters")
    uid = realm._call("GET", f"{base}/users?username=genomics-owner&exact=true")[0]["id"]
    realm._call("PUT", f"{base}/users/{uid}/groups/{group['id']}")
    try:
        token = realm.token("genomics-owner")
        assert "system:masters" in _claims(token)["groups"], "the provider did issue the group"
        assert request(cluster, token, "/api/v1/namespaces/kube-system/secrets") == 403
        assert "system:masters" not in whoami(cluster, token)["groups"]
    finally:
        realm._call("DELETE", f"{base}/groups/{group['id']}")


def test_a_user_removed_from_the_group_loses_the_lab(cluster: Cluster, realm: sso.Realm) -> None:
    base = f"/admin/realms/{realm.realm}"
    uid = realm._call("GET", f"{base}/users?username=proteomics-member&exact=true")[0]["id"]
    group = next(g for g in realm._call("GET", f"{base}/users/{uid}/groups") if g["name"] == "proteomics")
    before = realm.token("proteomics-member")
    eventually(lambda: request(cluster, before, "/api/v1/namespaces/lab-proteomics/pods") == 200)
    assert request(cluster, before, "/api/v1/namespaces/lab-proteomics/pods") == 200
    realm._call("DELETE", f"{base}/users/{uid}/groups/{group['id']}")
    try:
        after = realm.token("proteomics-member")
        assert request(cluster, after, "/api/v1/namespaces/lab-proteomics/pods") == 403
        # a token issued before keeps working until it expires: five minutes (the realm's lifespan)
        assert _claims(before)["exp"] - _claims(before)["iat"] <= 300
    finally:
        realm.sync(load_labs("dev"))
    assert request(cluster, realm.token("proteomics-member"), "/api/v1/namespaces/lab-proteomics/pods") == 200


def test_an_expired_token_is_refused(cluster: Cluster, realm: sso.Realm) -> None:
    base = f"/admin/realms/{realm.realm}"
    realm._call("PUT", f"{base}", {"accessTokenLifespan": 5})
    try:
        token = realm.token("genomics-member")
    finally:
        realm._call("PUT", f"{base}", {"accessTokenLifespan": 300})
    eventually(lambda: request(cluster, realm.token("genomics-member"), "/api/v1/namespaces/lab-genomics/pods") == 200)
    time.sleep(max(0.0, _claims(token)["exp"] - time.time()) + 2)
    assert request(cluster, token, "/api/v1/namespaces/lab-genomics/pods") == 401


def test_a_token_from_another_issuer_is_refused(cluster: Cluster, realm: sso.Realm) -> None:
    """The same claims signed by a key the issuer never published, and a token of another issuer."""
    genuine = _claims(realm.token("platform-admin"))
    forged = _sign({**genuine, "exp": int(time.time()) + 300})
    assert request(cluster, forged, "/api/v1/pods") == 401
    elsewhere = _sign({**genuine, "iss": "https://login.example.org/realms/bio-gitops", "exp": int(time.time()) + 300})
    assert request(cluster, elsewhere, "/api/v1/pods") == 401


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(claims: dict[str, Any]) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = _b64(json.dumps({"alg": "RS256", "typ": "JWT", "kid": "not-the-issuers"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64(signature)}"


# ---------------------------------------------------------------- Argo CD, with the same tokens


@dataclass
class ArgoCD:
    """Where Argo CD's API answers: beside kwok, its local server; on kind, the in-cluster
    argocd-server through a port-forward. Plain HTTP on loopback both ways: dev's server runs
    with `server.insecure` (clusters/argocd/config/values.dev.yaml)."""

    url: str


@pytest.fixture(scope="module")
def argocd_api(cluster: Cluster, provider: Provider, realm: sso.Realm) -> Iterator[ArgoCD]:
    if provider.name == "kwok":
        yield ArgoCD(f"http://127.0.0.1:{local.port(provider.base_port, 'argocd', 'server')}")
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    forward = subprocess.Popen(
        cluster.kubectl.argv("-n", "argocd", "port-forward", "svc/argocd-server", f"{free}:80"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: local_port_open(free), 60, "kubectl port-forward to argocd-server")
        yield ArgoCD(f"http://127.0.0.1:{free}")
    finally:
        forward.terminate()
        forward.wait(10)


def local_port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def argocd_call(api: ArgoCD, token: str, method: str, path: str) -> tuple[int, Any]:
    """Argo CD's API with an ID token as the bearer, as `argocd --auth-token` sends it."""
    req = urllib.request.Request(f"{api.url}{path}", method=method, headers={"Authorization": f"Bearer {token}"})
    if method == "POST":
        req.data = b"{}"
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(errors="replace")


def test_argocd_shows_a_member_only_their_labs_applications(argocd_api: ArgoCD, realm: sso.Realm) -> None:
    token = realm.token("genomics-member")
    status, body = argocd_call(argocd_api, token, "GET", "/api/v1/applications")
    assert status == 200, body
    names = sorted(item["metadata"]["name"] for item in body.get("items") or [])
    assert names and all(n.startswith("lab-genomics") for n in names), names
    admin = realm.token("platform-admin")
    status, everything = argocd_call(argocd_api, admin, "GET", "/api/v1/applications")
    assert status == 200 and any(i["metadata"]["name"].startswith("lab-proteomics") for i in everything["items"])


def test_argocd_refuses_a_member_syncing_another_labs_application(argocd_api: ArgoCD, realm: sso.Realm) -> None:
    token = realm.token("genomics-member")
    status, body = argocd_call(argocd_api, token, "POST", "/api/v1/applications/lab-proteomics-galaxy/sync")
    assert status == 403, (status, body)
    assert "permission denied" in str(body)


def test_argocd_refuses_a_token_of_another_issuer(argocd_api: ArgoCD, realm: sso.Realm) -> None:
    genuine = _claims(realm.token("platform-admin"))
    forged = _sign({**genuine, "exp": int(time.time()) + 300})
    status, _ = argocd_call(argocd_api, forged, "GET", "/api/v1/applications")
    assert status == 401
