"""Before a cluster is destroyed: let Argo CD remove what it created in the cloud.

A Service of type LoadBalancer owns an AWS load balancer, a PersistentVolumeClaim an EBS volume
or EFS access point. Both live outside the Terraform state, and their network interfaces keep
`tofu destroy` from deleting the subnets, so it hangs. `invoke infra.destroy` therefore first:

1. finds the Argo CD Applications that own such objects (tracking annotation or instance label);
2. finds what the platform keeps on purpose: objects whose sync options say `Delete=false`
   (a lab's `nextflow-work` claim). Argo CD never deletes those, so waiting for them would never
   end. Unless `delete_retained` is set, the drain stops here, deleting nothing, and names them
   with the `invoke lab.offboard` command that exports and deletes each lab first. With it, they
   are exported (objects and bound PersistentVolumes, never volume contents) to
   out/teardown/<env>-<UTC time>.yaml and deleted explicitly once their Applications are gone;
3. stops whatever would recreate them: automated sync off on their parent Application, and
   their ApplicationSet deleted with `--cascade=orphan` (its other Applications stay);
4. gives each owning Application the resources finalizer and deletes it, so Argo CD deletes its
   resources, then waits until those Services and claims are gone.

An object of that kind that no Application owns stops the destroy: it is named, nothing is deleted.
The result (`Drained`) and every error after the first deletion say exactly what was deleted.

    from biogitops.infra import teardown
    teardown.drain(kubectl, print, env="dev")                         # refuses while labs keep data
    teardown.drain(kubectl, print, env="dev", delete_retained=True)   # exports, then deletes them too
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.kube import Kubectl, wait_until
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT

NAMESPACE = "argocd"
TRACKING_ANNOTATION = "argocd.argoproj.io/tracking-id"
INSTANCE_LABEL = "app.kubernetes.io/instance"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
LAB_LABEL = "bio-gitops.io/lab"
RESOURCES_FINALIZER = "resources-finalizer.argocd.argoproj.io"
APPLICATION = "applications.argoproj.io"
APPLICATIONSET = "applicationsets.argoproj.io"
DRAIN_TIMEOUT = 900.0  # seconds for Argo CD to delete load balancers and volumes
RETAINED_FLAG = "--delete-retained"  # the infra.destroy flag that exports and deletes kept objects

Progress = Callable[[str], None]


class TeardownError(BioGitopsError):
    """The cluster holds cloud resources that Argo CD cannot remove for us."""


def _quiet(_: str) -> None:
    pass


@dataclass
class Drained:
    """What the drain deleted, in order; `lines()` is what `invoke infra.destroy` prints."""

    applicationsets: list[str] = field(default_factory=list)  # deleted with --cascade=orphan
    applications: list[str] = field(default_factory=list)  # deleted with their resources
    objects: list[str] = field(default_factory=list)  # "Service ns/name": what Argo CD removed
    retained: list[str] = field(default_factory=list)  # kept on purpose, exported and deleted by us
    export: Path | None = None
    left_in_aws: list[str] = field(default_factory=list)  # "pv (claim ns/name)": reclaim policy Retain

    @property
    def deleted_anything(self) -> bool:
        return bool(self.applicationsets or self.applications or self.retained)

    def lines(self) -> list[str]:
        out = []
        if self.applicationsets:
            out.append(f"ApplicationSets deleted (their Applications kept): {', '.join(self.applicationsets)}")
        if self.applications:
            out.append(f"Applications deleted through Argo CD: {', '.join(self.applications)}")
        if self.objects:
            out.append(f"removed with them: {', '.join(self.objects)}")
        if self.retained:
            out.append(f"kept on purpose, exported to {_rel(self.export)} and deleted: {', '.join(self.retained)}")
        if self.left_in_aws:
            out.append(
                "volumes with reclaim policy Retain, left in AWS with their data after the destroy: "
                + ", ".join(self.left_in_aws)
            )
        return out or ["no load balancers or volumes on the cluster; nothing deleted before tofu destroy"]


def _rel(path: Path | None) -> str:
    if path is None:
        return "-"
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else str(path)


def tracked_by(obj: dict[str, Any]) -> str | None:
    """The Argo CD Application that manages `obj`, from its tracking annotation or instance label."""
    meta = obj.get("metadata") or {}
    tracking = (meta.get("annotations") or {}).get(TRACKING_ANNOTATION)
    if tracking:
        return tracking.split(":", 1)[0]
    return (meta.get("labels") or {}).get(INSTANCE_LABEL)


def retained(obj: dict[str, Any]) -> bool:
    """True when Argo CD keeps `obj` when its Application is deleted: sync option `Delete=false`
    (also `Delete=confirm`, which waits for a person), in any order and spacing."""
    options = ((obj.get("metadata") or {}).get("annotations") or {}).get(SYNC_OPTIONS) or ""
    return any(o.strip().replace(" ", "") in ("Delete=false", "Delete=confirm") for o in options.split(","))


def _describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('namespace')}/{meta.get('name')}"


def _lab(obj: dict[str, Any]) -> str | None:
    meta = obj.get("metadata") or {}
    lab = (meta.get("labels") or {}).get(LAB_LABEL)
    if lab:
        return lab
    ns = meta.get("namespace") or ""
    return ns.removeprefix("lab-") if ns.startswith("lab-") else None


def cloud_backed(kubectl: Kubectl) -> list[dict[str, Any]]:
    """LoadBalancer Services and PersistentVolumeClaims: the objects that own AWS resources."""
    items = kubectl.json("get", "services,persistentvolumeclaims", "--all-namespaces").get("items") or []
    return [
        o
        for o in items
        if o.get("kind") == "PersistentVolumeClaim" or (o.get("spec") or {}).get("type") == "LoadBalancer"
    ]


def owners(kubectl: Kubectl, objects: list[dict[str, Any]] | None = None) -> dict[str, list[str]]:
    """Application name -> the cloud-backed objects it owns; TeardownError for unowned ones."""
    found: dict[str, list[str]] = {}
    unowned = []
    for obj in cloud_backed(kubectl) if objects is None else objects:
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


def refuse_retained(kept: list[dict[str, Any]], env: str) -> TeardownError:
    """The refusal that names every kept object and how to remove it; raised before any deletion."""
    labs = sorted({lab for o in kept if (lab := _lab(o))})
    steps = [
        f"remove clusters/{env}/labs/{lab}.yaml, let it sync, then `invoke lab.offboard {lab} --env {env}` "
        "(exports the lab, deletes its data)"
        for lab in labs
    ]
    if any(_lab(o) is None for o in kept):
        steps.append("delete the others yourself")
    return TeardownError(
        f"kept on purpose (Delete=false), Argo CD will not delete: {', '.join(sorted(_describe(o) for o in kept))}",
        f"{'; '.join(steps)}; or rerun with {RETAINED_FLAG} to export and delete them here; nothing was deleted",
    )


def export_retained(kubectl: Kubectl, kept: list[dict[str, Any]], env: str, path: Path | None = None) -> Path:
    """Write the kept objects and their bound PersistentVolumes (no managedFields) as multi-document
    YAML to out/teardown/<env>-<UTC time>.yaml; volume contents are not exported."""
    now = datetime.now(UTC)
    path = path or REPO_ROOT / "out" / "teardown" / f"{env}-{now.strftime('%Y%m%dT%H%M%SZ')}.yaml"
    names = {(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in kept}
    volumes = [
        pv
        for pv in kubectl.json("get", "persistentvolumes").get("items") or []
        if (ref := (pv.get("spec") or {}).get("claimRef") or {}) and (ref.get("namespace"), ref.get("name")) in names
    ]
    objects = []
    for obj in [*kept, *volumes]:
        obj = copy.deepcopy(obj)
        (obj.get("metadata") or {}).pop("managedFields", None)
        objects.append(obj)
    header = (
        f"# infra.destroy export ({env}), {now.strftime('%Y-%m-%d %H:%M:%S')} UTC: objects Argo CD keeps on purpose\n"
        f"# and their PersistentVolumes, {len(objects)} objects; volume contents are not exported.\n"
    )
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(header + yaml.safe_dump_all(objects, sort_keys=False))
        tmp.replace(path)
    except OSError as err:
        raise TeardownError(f"cannot write the export {path}: {err.strerror}", "nothing was deleted") from None
    return path


def retained_volumes(kubectl: Kubectl, claims: list[dict[str, Any]]) -> list[str]:
    """PersistentVolumes bound to `claims` whose reclaim policy is Retain: deleting the claim keeps the
    EBS volume or EFS access point, outside the Terraform state; named so the operator knows."""
    if not claims:
        return []
    names = {(c["metadata"].get("namespace"), c["metadata"]["name"]) for c in claims}
    out = []
    for pv in kubectl.json("get", "persistentvolumes").get("items") or []:
        spec = pv.get("spec") or {}
        ref = spec.get("claimRef") or {}
        if spec.get("persistentVolumeReclaimPolicy") == "Retain" and (ref.get("namespace"), ref.get("name")) in names:
            out.append(f"{pv['metadata']['name']} (claim {ref['namespace']}/{ref['name']})")
    return sorted(out)


def _stop_parent(
    kubectl: Kubectl,
    obj: dict[str, Any],
    apps: dict[str, Any],
    stopped: set[str],
    appsets: dict[str, Any],
    done: Drained,
    progress: Progress,
) -> None:
    """Turn automated sync off on the Application that manages `obj`, and stop what manages that
    Application in turn (its ApplicationSet would put automated sync back), so nothing recreates it."""
    parent = tracked_by(obj)
    if parent in apps and parent not in stopped:
        stopped.add(parent)
        # its ApplicationSet first: until that is gone it puts automated sync back at once
        _stop_applicationsets(kubectl, apps[parent], apps, stopped, appsets, done, progress)
        patch = json.dumps({"spec": {"syncPolicy": {"automated": None}}})
        kubectl.run("-n", NAMESPACE, "patch", APPLICATION, parent, "--type=merge", "-p", patch)


def _stop_applicationsets(
    kubectl: Kubectl,
    app: dict[str, Any],
    apps: dict[str, Any],
    stopped: set[str],
    appsets: dict[str, Any],
    done: Drained,
    progress: Progress,
) -> None:
    """Delete the ApplicationSet that owns `app`, keeping its Applications, after stopping the
    Application that manages that ApplicationSet (it would recreate it)."""
    for ref in app["metadata"].get("ownerReferences") or []:
        if ref.get("kind") == "ApplicationSet" and ref["name"] in appsets:
            progress(f"ApplicationSet {ref['name']}: stop its parent, delete it, keep its Applications")
            _stop_parent(kubectl, appsets.pop(ref["name"]), apps, stopped, appsets, done, progress)
            kubectl.run("-n", NAMESPACE, "delete", APPLICATIONSET, ref["name"], "--cascade=orphan")
            done.applicationsets.append(ref["name"])


def drain(
    kubectl: Kubectl,
    progress: Progress = _quiet,
    timeout: float | None = None,
    env: str = "dev",
    delete_retained: bool = False,
    export: Path | None = None,
) -> Drained:
    """Delete, through Argo CD, the Applications that own load balancers or volumes; see the module.

    Refuses before deleting anything while objects are kept on purpose, unless `delete_retained`.
    """
    done = Drained()
    objects = cloud_backed(kubectl)
    kept = [o for o in objects if retained(o)]
    owned = owners(kubectl, objects)
    if kept and not delete_retained:
        raise refuse_retained(kept, env)
    if not owned:
        return done
    apps = {a["metadata"]["name"]: a for a in kubectl.json("-n", NAMESPACE, "get", APPLICATION).get("items") or []}
    kept_names = {_describe(o) for o in kept}
    # an Application already deleted (an interrupted run) may leave only kept objects behind
    missing = sorted(a for a in set(owned) - set(apps) if not set(owned[a]) <= kept_names)
    if missing:
        raise TeardownError(
            f"objects tracked by Applications that do not exist: {missing}", "delete those objects first"
        )
    done.left_in_aws = retained_volumes(kubectl, [o for o in objects if o.get("kind") == "PersistentVolumeClaim"])
    if kept:
        done.export = export_retained(kubectl, kept, env, export)
        progress(f"exported what is kept on purpose to {_rel(done.export)}")
    try:
        _drain(kubectl, progress, timeout, owned, apps, kept, done)
    except BioGitopsError as err:
        if not done.deleted_anything:
            raise
        raise TeardownError(
            f"{err.message}; deleted so far: {'; '.join(done.lines())}",
            "see `kubectl -n argocd get applications` for what blocks, then rerun (it goes on from here); "
            "tofu destroy was not run",
        ) from None
    return done


def _drain(
    kubectl: Kubectl,
    progress: Progress,
    timeout: float | None,
    owned: dict[str, list[str]],
    apps: dict[str, Any],
    kept: list[dict[str, Any]],
    done: Drained,
) -> None:
    stopped: set[str] = set()
    appsets = kubectl.json("-n", NAMESPACE, "get", APPLICATIONSET).get("items") or []
    by_name = {s["metadata"]["name"]: s for s in appsets}
    live = sorted(a for a in owned if a in apps)
    for name in live:
        # whatever would recreate the Application: its ApplicationSet, or the Application whose
        # chart holds it (and that one's ApplicationSet, which would turn its automated sync back on)
        _stop_applicationsets(kubectl, apps[name], apps, stopped, by_name, done, progress)
        if not apps[name]["metadata"].get("ownerReferences"):
            _stop_parent(kubectl, apps[name], apps, stopped, by_name, done, progress)
    kept_names = {_describe(o) for o in kept}
    for name in live:
        progress(f"Application {name}: deleting {', '.join(owned[name])}")
        patch = json.dumps([{"op": "add", "path": "/metadata/finalizers/-", "value": RESOURCES_FINALIZER}])
        if RESOURCES_FINALIZER not in (apps[name]["metadata"].get("finalizers") or []):
            if apps[name]["metadata"].get("finalizers") is None:
                patch = json.dumps([{"op": "add", "path": "/metadata/finalizers", "value": [RESOURCES_FINALIZER]}])
            kubectl.run("-n", NAMESPACE, "patch", APPLICATION, name, "--type=json", "-p", patch)
        kubectl.run("-n", NAMESPACE, "delete", APPLICATION, name, "--wait=false")
        done.applications.append(name)
        done.objects += [o for o in owned[name] if o not in kept_names]
    limit = DRAIN_TIMEOUT if timeout is None else timeout
    if kept:
        # Argo CD skips them: once their Applications are gone nothing recreates them, so delete them here

        def apps_gone() -> bool:
            names = {a["metadata"]["name"] for a in kubectl.json("-n", NAMESPACE, "get", APPLICATION)["items"]}
            return not names & set(live)

        wait_until(
            apps_gone,
            limit,
            f"Argo CD to finish deleting {', '.join(live)}",
            progress,
            interval=5,
        )
        for obj in kept:
            meta = obj["metadata"]
            kind = "persistentvolumeclaims" if obj.get("kind") == "PersistentVolumeClaim" else "services"
            progress(f"deleting {_describe(obj)} (kept on purpose, exported)")
            kubectl.run("-n", meta["namespace"], "delete", kind, meta["name"], "--ignore-not-found", "--wait=false")
            done.retained.append(_describe(obj))
    watched = {o for n in owned for o in owned[n]}

    def gone() -> bool:
        left = sorted(watched & {_describe(o) for o in cloud_backed(kubectl)})
        progress(f"waiting for the removal of {', '.join(left) or 'nothing'}")
        return not left

    wait_until(gone, limit, "the load balancers and volumes to be removed", progress, interval=5)
