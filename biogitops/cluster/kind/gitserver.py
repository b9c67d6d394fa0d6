"""The dev snapshot for an in-cluster Argo CD (kind): a git server inside the cluster.

Bootstrap applies clusters/dev/git-server/ (a `git daemon` Deployment, its Service and a
NetworkPolicy) and pushes the snapshot branch through `kubectl exec`, so the push is
authenticated by the API server and nothing listens on the host; this works the same on
Linux, Docker Desktop and rootless Docker. Argo CD reads `git://git-server.argocd.svc...`.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import yaml

from biogitops.cluster.kube import Kubectl
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain.tools import env_with_tools

MANIFESTS = REPO_ROOT / "clusters" / "dev" / "git-server"
NAMESPACE = "argocd"
REPO = "/srv/git/bio-gitops.git"
URL = "git://git-server.argocd.svc.cluster.local:9418/bio-gitops.git"


def manifests(image: str) -> list[dict]:
    """The git server's objects, its container on `image` (the node image's Debian base)."""
    objects = [yaml.safe_load(p.read_text()) for p in sorted(MANIFESTS.glob("*.yaml"))]
    for obj in objects:
        if obj["kind"] == "Deployment":
            obj["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return objects


def ext_url(kubectl: Kubectl) -> str:
    """A git `ext::` remote that runs the pack service in the git server's pod via kubectl exec."""
    argv = [*kubectl.argv("-n", NAMESPACE, "exec", "-i", "deploy/git-server", "--"), "%S", REPO]
    return "ext::" + " ".join(arg.replace(" ", "% ") for arg in argv)


def push(bare: Path, branch: str, kubectl: Kubectl) -> None:
    """Push `branch` of the local bare repository to the in-cluster git server (forced: a new
    snapshot may not descend from the last one)."""
    env = env_with_tools(dict(os.environ))
    cmd = [
        "git",
        "-c",
        "protocol.ext.allow=always",
        "-C",
        str(bare),
        "push",
        "--quiet",
        "--force",
        ext_url(kubectl),
        f"{branch}:refs/heads/{branch}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(
            f"pushing the dev snapshot to the in-cluster git server failed: {last[:200]}",
            f"check `kubectl -n {NAMESPACE} get pods -l app.kubernetes.io/name=git-server`; ran {shlex.join(cmd[:6])}",
        )


def serve(kubectl: Kubectl, bare: Path, branch: str, image: str, progress) -> str:
    """Start (or reuse) the in-cluster git server, push the snapshot; returns the URL Argo CD uses."""
    progress("in-cluster git server for the dev snapshot")
    kubectl.apply_text(yaml.safe_dump_all(manifests(image)))
    kubectl.run("-n", NAMESPACE, "rollout", "status", "deployment/git-server", "--timeout=120s", timeout=130)
    push(bare, branch, kubectl)
    return URL
