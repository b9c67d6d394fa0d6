"""Before a cluster is destroyed: let Argo CD remove what it created in the cloud.

A Service of type LoadBalancer owns an AWS load balancer, a PersistentVolumeClaim an EBS volume
or EFS access point. Both live outside the Terraform state, and their network interfaces keep
`tofu destroy` from deleting the subnets, so it hangs. `invoke infra.destroy` therefore first:

1. finds the Argo CD Applications that own such objects (tracking annotation or instance label);
2. stops whatever would recreate them: automated sync off on their parent Application, and
   their ApplicationSet deleted with `--cascade=orphan` (its other Applications stay);
3. gives each owning Application the resources finalizer and deletes it, so Argo CD deletes its
   resources, then waits until those Services and claims are gone.

An object of that kind that no Application owns stops the destroy: it is named, nothing is deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from biogitops.cluster.kube import Kubectl, wait_until
from biogitops.errors import BioGitopsError

NAMESPACE = "argocd"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
APPLICATION = "applications.argoproj.io"
APPLICATIONSET = "applicationsets.argoproj.io"
DRAIN_TIMEOUT = 900.0  # seconds for Argo CD to delete load balancers and volumes

Progress = Callable[[str], None]


class TeardownError(BioGitopsError):
    """The cluster holds cloud resources that Argo CD cannot remove for us."""


def _quiet(_: str) -> None:
    pass


def tracked_by(obj: dict[str, Any]) -> str | None:
    """The Argo CD Application that manages `obj`, from its tracking annotation or instance label."""
    meta = obj.get("metadata") or {}
    tracking = (meta.get("annotations") or {}).get(TRACKING_ANNOTATION)
    if tracking:
        return tracking.split(":", 1)[0]
    return (meta.get("labels") or {}).get(INSTANCE_LABEL)


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


def cloud_backed(kubectl: Kubectl) -> list[dict[str, Any]]:
    """LoadBalancer Services and PersistentVolumeClaims: the objects that own AWS resources."""
    items = kubectl.json("get", "services,persistentvolumeclaims", "--all-namespaces").get("items") or []
    return [
        o
        for o in items
        if o.get("kind") == "PersistentVolumeClaim" or (o.get("spec") or {}).get("type") == "LoadBalancer"
    ]


def owners(kubectl: Kubectl) -> dict[str, list[str]]:
    """Application name -> the cloud-backed objects it owns; TeardownError for unowned ones."""
    found: dict[str, list[str]] = {}
    unowned = []
    for obj in cloud_backed(kubectl):
        app = tracked_by(obj)
        if app:
            found.setdefault(app, []).append(_describe(obj))
        else:
            unowned.append(_describe(obj))
    if unowned:
        raise TeardownError(
            f"not managed by Argo CD, would block the destroy: {', '.join(sorted(unowned))}",
            "delete them (or their load balancers and volumes) first; nothing was deleted",
        )
    return found


def _stop_parent(kubectl: Kubectl, obj: dict[str, Any], apps: dict[str, Any], stopped: set[str]) -> None:
    """Turn automated sync off on the Application that manages `obj`, so it does not recreate it."""
    parent = tracked_by(obj)
    if parent in apps and parent not in stopped:
        patch = json.dumps({"spec": {"syncPolicy": {"automated": None}}})
        kubectl.run("-n", NAMESPACE, "patch", APPLICATION, parent, "--type=merge", "-p", patch)
        stopped.add(parent)


def drain(kubectl: Kubectl, progress: Progress = _quiet, timeout: float | None = None) -> list[str]:
    """Delete, through Argo CD, the Applications that own load balancers or volumes; returns their names."""
    owned = owners(kubectl)
    if not owned:
        return []
    apps = {a["metadata"]["name"]: a for a in kubectl.json("-n", NAMESPACE, "get", APPLICATION).get("items") or []}
    missing = sorted(set(owned) - set(apps))
    if missing:
        raise TeardownError(
            f"objects tracked by Applications that do not exist: {missing}", "delete those objects first"
        )
    stopped: set[str] = set()
    appsets = kubectl.json("-n", NAMESPACE, "get", APPLICATIONSET).get("items") or []
    by_name = {s["metadata"]["name"]: s for s in appsets}
    for name in sorted(owned):
        refs = apps[name]["metadata"].get("ownerReferences") or []
        for ref in refs:
            if ref.get("kind") == "ApplicationSet" and ref["name"] in by_name:
                progress(f"ApplicationSet {ref['name']}: stop its parent, delete it, keep its Applications")
                _stop_parent(kubectl, by_name.pop(ref["name"]), apps, stopped)
                kubectl.run("-n", NAMESPACE, "delete", APPLICATIONSET, ref["name"], "--cascade=orphan")
        if not refs:
            _stop_parent(kubectl, apps[name], apps, stopped)
    for name in sorted(owned):
        progress(f"Application {name}: deleting {', '.join(owned[name])}")
        patch = json.dumps([{"op": "add", "path": "/metadata/finalizers/-", "value": RESOURCES_FINALIZER}])
        if RESOURCES_FINALIZER not in (apps[name]["metadata"].get("finalizers") or []):
            if apps[name]["metadata"].get("finalizers") is None:
                patch = json.dumps([{"op": "add", "path": "/metadata/finalizers", "value": [RESOURCES_FINALIZER]}])
            kubectl.run("-n", NAMESPACE, "patch", APPLICATION, name, "--type=json", "-p", patch)
        kubectl.run("-n", NAMESPACE, "delete", APPLICATION, name, "--wait=false")

    def gone() -> bool:
        left = {app for app in owners(kubectl) if app in owned}
        progress(f"waiting for Argo CD to remove what {', '.join(sorted(left)) or 'nothing'} owned")
        return not left

    wait_until(
        gone,
        DRAIN_TIMEOUT if timeout is None else timeout,
        "Argo CD to remove the load balancers and volumes",
        progress,
        interval=5,
        hint="see `kubectl -n argocd get applications` for what blocks; nothing was destroyed",
    )
    return sorted(owned)
