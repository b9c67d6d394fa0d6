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


LAB_FILES = "lab-files-generator"
LAB_FILES_PORT = 4355  # biogitops/platform/labgen.py DEFAULT_PORT
LAB_FILES_CACHE = "/var/cache/lab-files-generator"


def lab_files_sidecar(image: str) -> dict[str, Any]:
    """The `labs` ApplicationSet's plugin generator, a container in the controller's pod. It
    listens on loopback only: nothing else in the cluster reaches it, token or not (and so no
    kubelet probe either: the controller's error condition says when it does not answer)."""
    return {
        "name": LAB_FILES,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--listen", f"127.0.0.1:{LAB_FILES_PORT}", "--cache", LAB_FILES_CACHE],
        "env": [
            {"name": "LAB_FILES_TOKEN", "valueFrom": {"secretKeyRef": {"name": LAB_FILES, "key": "token"}}},
            {"name": "HOME", "value": LAB_FILES_CACHE},
        ],
        "resources": {"requests": {"cpu": "20m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": 999,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [{"name": LAB_FILES, "mountPath": LAB_FILES_CACHE}],
    }


def adjust(
    objects: list[dict[str, Any]], images: dict[str, str] | None = None, lab_files_image: str = ""
) -> list[dict[str, Any]]:
    """Drop Dex and the ConfigMaps we own; set resources on every container; replace upstream
    image references (`repository` -> our reference, for a kind node that cannot pull); add the
    lab files generator beside the ApplicationSet controller."""
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
            if name == "argocd-applicationset-controller" and lab_files_image:
                pod["containers"].append(lab_files_sidecar(lab_files_image))
                pod.setdefault("volumes", []).append({"name": LAB_FILES, "emptyDir": {"sizeLimit": "1Gi"}})
        out.append(obj)
    return out


CLUSTER_SCOPED = {"CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
UPSTREAM_ARGOCD = "quay.io/argoproj/argocd"
UPSTREAM_REDIS = "public.ecr.aws/docker/library/redis"


def manifests(images: dict[str, str] | None = None, lab_files_image: str = "") -> list[dict[str, Any]]:
    """The adjusted upstream install manifests at the pinned version; `images` maps upstream
    repositories to the references to run instead (kind: the node image's own builds);
    `lab_files_image` runs the labs ApplicationSet's generator beside its controller."""
    raw = (argocd_dir() / "manifests" / "install.yaml").read_text()
    return adjust(list(yaml.safe_load_all(raw)), images, lab_files_image)
