"""Argo CD on a provider's cluster: in-cluster (kind, existing) or local processes (kwok).

from biogitops.platform.argocd import install
install(provider, progress)          # idempotent; waits until Argo CD answers
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import yaml

from biogitops.cluster import Provider
from biogitops.cluster.kube import wait_until
from biogitops.cluster.kwok.argocd import NAMESPACE, LocalArgoCD
from biogitops.render.argocd_manifests import manifests as incluster_manifests
from biogitops.render.manifests import argocd_config
from biogitops.toolchain.gomodules import argocd_crds


def _quiet(_: str) -> None:
    pass


def local(provider: Provider) -> LocalArgoCD:
    return LocalArgoCD(provider.state_dir, Path(provider.kubeconfig() or ""), provider.base_port)


def install(provider: Provider, progress=_quiet) -> None:
    """Install (or re-check) Argo CD at the pinned version and wait until it is ready."""
    kubectl = provider.kubectl()
    progress("applying Argo CD CRDs (server-side: they are too large for client-side apply)")
    kubectl.apply_files(list(argocd_crds()))
    kubectl.wait_crds([yaml.safe_load(crd.read_text())["metadata"]["name"] for crd in argocd_crds()])
    progress(f"applying Argo CD configuration (clusters/argocd/config, {provider.settings.env}) where missing")
    config = argocd_config(provider.settings)
    # the root Application owns these once it exists: applied again, they would change hands
    # (and resourceVersion) on every run. Argo CD needs them before it starts.
    missing = [o for o in config if not kubectl.ok("get", o["kind"].lower(), o["metadata"]["name"], "-n", NAMESPACE)]
    if missing:
        kubectl.apply_text(yaml.safe_dump_all(missing))
    # argocd-secret must exist before the server starts; the server fills in its keys
    # (server.secretkey, the admin password), so it never lives in git
    if not kubectl.ok("-n", NAMESPACE, "get", "secret", "argocd-secret"):
        kubectl.run("-n", NAMESPACE, "create", "secret", "generic", "argocd-secret")
        kubectl.run(
            "-n",
            NAMESPACE,
            "label",
            "secret",
            "argocd-secret",
            "app.kubernetes.io/name=argocd-secret",
            "app.kubernetes.io/part-of=argocd",
        )
    if provider.argocd_mode == "local":
        data = {o["metadata"]["name"]: o.get("data") or {} for o in config if o["kind"] == "ConfigMap"}
        local(provider).start(kubectl, progress, data.get("argocd-cmd-params-cm"), settings=data.get("argocd-cm"))
        return
    progress("applying Argo CD install manifests (pinned upstream, no Dex)")
    kubectl.apply_text(yaml.safe_dump_all(incluster_manifests(provider.argocd_images())))
    for deploy in ("argocd-server", "argocd-repo-server", "argocd-applicationset-controller", "argocd-redis"):
        kubectl.run("-n", NAMESPACE, "rollout", "status", f"deployment/{deploy}", "--timeout=300s", timeout=320)
    kubectl.run(
        "-n",
        NAMESPACE,
        "rollout",
        "status",
        "statefulset/argocd-application-controller",
        "--timeout=300s",
        timeout=320,
    )


CA_ANNOTATION = "bio-gitops.io/identity-ca"


def trust_identity_ca(kubectl, ca_pem: bytes, progress=_quiet, timeout: float = 180) -> bool:
    """Restart the in-cluster argocd-server once it should trust dev's identity CA. It makes its
    OIDC client once, when the process starts (Argo CD 3.5.3 server.NewServer; a changed
    argocd-cm only re-runs the listeners), so `oidc.config.rootCA` reaches it through a restart
    alone: first wait until argocd-cm carries this CA, then restart. The CA's hash in the pod
    template says which CA it started with: a repeated bootstrap with the same CA writes nothing.
    True when it restarted."""
    digest = hashlib.sha256(ca_pem).hexdigest()[:16]
    path = "{.spec.template.metadata.annotations.bio-gitops\\.io/identity-ca}"
    if kubectl.run("-n", NAMESPACE, "get", "deployment", "argocd-server", "-o", f"jsonpath={path}").strip() == digest:
        return False
    wanted = "".join(ca_pem.decode().split())

    def configured() -> bool:
        oidc = kubectl.run("-n", NAMESPACE, "get", "configmap", "argocd-cm", "-o", "jsonpath={.data.oidc\\.config}")
        return wanted in "".join(oidc.split())

    wait_until(configured, timeout, "argocd-cm's oidc.config to carry the identity provider's CA", progress)
    progress("restarting argocd-server: it reads the identity provider's CA only when it starts")
    patch = {"spec": {"template": {"metadata": {"annotations": {CA_ANNOTATION: digest}}}}}
    kubectl.run("-n", NAMESPACE, "patch", "deployment", "argocd-server", "--type=merge", "-p", json.dumps(patch))
    kubectl.run("-n", NAMESPACE, "rollout", "status", "deployment/argocd-server", "--timeout=300s", timeout=320)
    return True
