"""Argo CD installed in the cluster (kind, existing) from the pinned upstream manifests.

Upstream's manifests/install.yaml at the pinned tag (read from the Go module cache, never
copied into this repo) is adjusted before it is applied: no Dex (SSO goes straight to the
OIDC provider), resources on every container, the application controller's SyncError
metric (CONTROLLER_ARGS), and our own ConfigMaps from
clusters/argocd/config/ instead of upstream's empty ones.
"""

from __future__ import annotations

from typing import Any

import yaml

from biogitops.toolchain.gomodules import argocd_dir

OURS = {"argocd-cm", "argocd-rbac-cm", "argocd-cmd-params-cm"}

RESOURCES = {
    # peak RSS measured on kwok with 20 operation processors: 1.6 GiB at 100 labs, 3.1 GiB at
    # 1000 (runbooks/scaling-best-practices.md); raise it with the number of labs
    "argocd-application-controller": {
        "requests": {"cpu": "250m", "memory": "512Mi"},
        "limits": {"memory": "4Gi"},
    },
    "argocd-repo-server": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
    "argocd-server": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "argocd-applicationset-controller": {
        "requests": {"cpu": "50m", "memory": "128Mi"},
        "limits": {"memory": "512Mi"},
    },
    "argocd-redis": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
}
# the application controller exports argocd_app_condition for these condition types only
# (upstream default: none); the ArgoCDAppSyncFailing alert reads SyncError
CONTROLLER_ARGS = ["--metrics-application-conditions", "SyncError"]
DEFAULT_RESOURCES = {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}}


def adjust(objects: list[dict[str, Any]], images: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Drop Dex and the ConfigMaps we own; set resources on every container; replace upstream
    image references (`repository` -> our reference, for a kind node that cannot pull)."""
    images = images or {}
    out = []
    for obj in objects:
        if not obj:
            continue
        name = obj.get("metadata", {}).get("name", "")
        if "dex" in name:
            continue
        if obj.get("kind") == "ConfigMap" and name in OURS:
            continue
        if obj.get("kind") not in CLUSTER_SCOPED:  # upstream leaves the namespace to `kubectl -n`
            obj.setdefault("metadata", {})["namespace"] = "argocd"
        if obj.get("kind") in ("Deployment", "StatefulSet"):
            pod = obj["spec"]["template"]["spec"]
            for container in pod.get("containers", []) + pod.get("initContainers", []):
                container["resources"] = RESOURCES.get(name, DEFAULT_RESOURCES)
                repository = container["image"].rsplit(":", 1)[0]
                if repository in images:
                    container["image"] = images[repository]
                    container["imagePullPolicy"] = "IfNotPresent"
                if container.get("name") == "argocd-application-controller":
                    container["args"] = [*container.get("args", []), *CONTROLLER_ARGS]
        out.append(obj)
    return out


CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
UPSTREAM_ARGOCD = "quay.io/argoproj/argocd"
UPSTREAM_REDIS = "public.ecr.aws/docker/library/redis"


def manifests(images: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The adjusted upstream install manifests at the pinned version; `images` maps upstream
    repositories to the references to run instead (kind: the node image's own builds)."""
    raw = (argocd_dir() / "manifests" / "install.yaml").read_text()
    return adjust(list(yaml.safe_load_all(raw)), images)
