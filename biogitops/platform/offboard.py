"""`invoke lab.offboard NAME --env ENV [--yes]`: the one explicit way to delete a lab and its data.

Removing a lab file keeps the lab's namespace, volumes, Applications and AppProject
(`invoke status` shows it as "orphaned, data kept"). Offboarding then:
  1. refuses, deleting nothing, while a lab file still defines the lab (Argo CD would recreate
     it), when the lab is not on the cluster, or when nobody can confirm (stdin is not a
     terminal and --yes is missing);
  2. shows what will be deleted: Applications, AppProject, namespace, and each PVC with its
     requested size and bound volume;
  3. exports the lab's objects to out/offboard/<env>-<lab>-<UTC time>.yaml: every listable
     namespaced kind in lab-NAME (Secrets with keys kept and values redacted; Events left out),
     plus its Applications, AppProject, Namespace and bound PersistentVolumes. Volume contents
     are never exported. A failed export deletes nothing;
  4. asks for the lab's name unless --yes;
  5. deletes, waiting for each step: the tenancy and project Applications, then the lab's own
     Applications, all without cascading (finalizer removed first, so Argo CD neither prunes
     nor recreates anything); then the AppProject; then the namespace, with progress.
Every step skips what is already gone, so running it again after an interruption finishes the job.

invoke lab.offboard itest --env dev --provider kwok          # shows, exports, asks, deletes
invoke lab.offboard itest --env dev --provider kwok --yes    # no question (scripts, CI)
"""

from __future__ import annotations

import copy
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.kube import Kubectl, wait_until
from biogitops.cluster.target import Target
from biogitops.config.labs import LAB_SCHEMA
from biogitops.config.settings import CLUSTERS_DIR
from biogitops.console import console, progress, table
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.platform.orphans import LAB_LABEL, Claim, claims_of, lab_files, total_requested

ARGOCD_NS = "argocd"
APPS = "applications.argoproj.io"
PROJECTS = "appprojects.argoproj.io"
REDACTED = "<redacted by lab.offboard>"
# Events are the cluster's record of what happened to the objects, not objects of the lab
# (and `events` and `events.events.k8s.io` are the same objects twice)
SKIPPED = ("events", "events.events.k8s.io")
_NAME = re.compile(LAB_SCHEMA["properties"]["name"]["pattern"])

Progress = Callable[[str], None]


class OffboardError(BioGitopsError):
    """lab.offboard refused or failed; the message says what was (not) deleted."""


def _name(obj: dict[str, Any]) -> str:
    return obj["metadata"]["name"]


@dataclass
class Plan:
    """What offboarding `lab` deletes, as found on the cluster."""

    env: str
    lab: str
    parents: list[dict[str, Any]] = field(default_factory=list)  # lab-NAME (its tenancy)
    children: list[dict[str, Any]] = field(default_factory=list)  # the lab's own Applications
    project: dict[str, Any] | None = None
    namespace: dict[str, Any] | None = None
    claims: list[Claim] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)  # PersistentVolumes bound to the claims

    @property
    def ns(self) -> str:
        return f"lab-{self.lab}"

    @property
    def empty(self) -> bool:
        return not (self.parents or self.children or self.project or self.namespace)

    def rows(self) -> list[list[str]]:
        apps = [*self.parents, *self.children]
        rows = [["Application", _name(a), f"project {a['spec'].get('project', '')}"] for a in apps]
        if self.project:
            rows.append(["AppProject", _name(self.project), ""])
        if self.namespace:
            rows.append(["Namespace", self.ns, (self.namespace.get("status") or {}).get("phase", "")])
        for claim in self.claims:
            volume = f", volume {claim.volume}" if claim.volume else ", not bound"
            reclaim = f" (reclaim policy {claim.reclaim})" if claim.reclaim else ""
            rows.append(["PersistentVolumeClaim", f"{self.ns}/{claim.name}", f"{claim.requested}{volume}{reclaim}"])
        return rows


def get_one(kubectl: Kubectl, *args: str) -> dict[str, Any] | None:
    """One object as JSON, or None when it does not exist."""
    out = kubectl.run(*args, "--ignore-not-found", "-o", "json")
    return json.loads(out) if out.strip() else None


def find_plan(kubectl: Kubectl, env: str, lab: str) -> Plan:
    """Read what belongs to `lab`: Application lab-NAME (its tenancy), every Application in
    project lab-NAME or labelled with the lab, AppProject and namespace lab-NAME, its claims."""
    plan = Plan(env, lab)
    apps = kubectl.json("-n", ARGOCD_NS, "get", APPS)["items"]
    parent_names = (f"lab-{lab}",)
    plan.parents = sorted((a for a in apps if _name(a) in parent_names), key=_name)
    plan.children = sorted(
        (
            a
            for a in apps
            if _name(a) not in parent_names
            and (
                (a.get("spec") or {}).get("project") == plan.ns
                or (a["metadata"].get("labels") or {}).get(LAB_LABEL) == lab
            )
        ),
        key=_name,
    )
    plan.project = get_one(kubectl, "-n", ARGOCD_NS, "get", PROJECTS, plan.ns)
    plan.namespace = get_one(kubectl, "get", "namespace", plan.ns)
    if plan.namespace:
        pvcs = kubectl.json("-n", plan.ns, "get", "persistentvolumeclaims")["items"]
        pvs = kubectl.json("get", "persistentvolumes")["items"]
        plan.volumes = [pv for pv in pvs if ((pv.get("spec") or {}).get("claimRef") or {}).get("namespace") == plan.ns]
        plan.claims = claims_of(pvcs, plan.volumes)
    return plan


# ---------------------------------------------------------------- refusals


def check_name(lab: str) -> None:
    if not _NAME.match(lab):
        raise OffboardError(f"lab name {lab!r} is not a lab name", "use the `name:` of the lab, e.g. genomics")


def check_no_lab_file(env: str, lab: str, root: Path = CLUSTERS_DIR) -> None:
    """Refuse while a file under clusters/ENV/labs/ still defines the lab: Argo CD would recreate it."""
    path = lab_files(env, root).get(lab)
    if path:
        shown = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
        raise OffboardError(
            f"{shown} still defines lab {lab}; Argo CD would recreate what offboarding deletes, nothing deleted",
            f"remove the file, run `invoke bootstrap --env {env}` so that Argo CD sees it gone, then run this again",
        )


def check_not_generated(plan: Plan) -> None:
    """Refuse while an ApplicationSet still generates the lab's Applications (the lab file is gone from
    the working tree, but not yet from the revision Argo CD reads)."""
    for app in plan.parents:
        owners = [r["name"] for r in app["metadata"].get("ownerReferences") or [] if r.get("kind") == "ApplicationSet"]
        if owners and not app["metadata"].get("deletionTimestamp"):
            raise OffboardError(
                f"Argo CD still generates Application {_name(app)} (ApplicationSet {owners[0]}) from a lab file "
                f"of {plan.env}; nothing deleted",
                f"sync the file's removal first (`invoke bootstrap --env {plan.env}`; staging and prod: merge it "
                "and wait until Argo CD reads that revision), then run this again",
            )


def check_confirmable(yes: bool, interactive: bool) -> None:
    if not yes and not interactive:
        raise OffboardError(
            "stdin is not a terminal and --yes is missing; nothing deleted",
            "run it in a terminal to confirm by typing the lab's name, or pass --yes",
        )


# ---------------------------------------------------------------- export


def namespaced_kinds(kubectl: Kubectl) -> list[str]:
    """Every namespaced resource the API server can list, except Events."""
    out = kubectl.run("api-resources", "--namespaced=true", "--verbs=list", "-o", "name")
    kinds = [k.strip() for k in out.splitlines() if k.strip() and k.strip() not in SKIPPED]
    if not kinds:
        raise OffboardError("the API server listed no namespaced resources; nothing deleted")
    return sorted(kinds)


def scrub(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy fit for the export: no managedFields; a Secret keeps its keys, never its values."""
    obj = copy.deepcopy(obj)
    meta = obj.get("metadata") or {}
    meta.pop("managedFields", None)
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = dict.fromkeys(obj[key], REDACTED)
        # client-side apply copies the whole Secret, values included, into this annotation
        (meta.get("annotations") or {}).pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


def collect(kubectl: Kubectl, plan: Plan) -> list[dict[str, Any]]:
    """The lab's objects, scrubbed: Applications, AppProject, Namespace, PersistentVolumes, and
    everything listable in the namespace."""
    objects = [*plan.parents, *plan.children]
    if plan.project:
        objects.append(plan.project)
    if plan.namespace:
        objects.append(plan.namespace)
        objects += plan.volumes
        listed = kubectl.json("-n", plan.ns, "get", ",".join(namespaced_kinds(kubectl)))["items"]
        objects += sorted(listed, key=lambda o: (o.get("kind", ""), _name(o)))
    return [scrub(o) for o in objects]


def default_export_path(env: str, lab: str, now: datetime) -> Path:
    return REPO_ROOT / "out" / "offboard" / f"{env}-{lab}-{now.strftime('%Y%m%dT%H%M%SZ')}.yaml"


def write_export(path: Path, plan: Plan, objects: list[dict[str, Any]], now: datetime) -> Path:
    """Write the export as multi-document YAML (atomically); raise OffboardError when it cannot."""
    header = [
        f"lab.offboard export of lab {plan.lab} ({plan.env}), {now.strftime('%Y-%m-%d %H:%M:%S')} UTC",
        f"{len(objects)} objects; Secrets keep their keys, their values are replaced by {REDACTED!r};",
        "Events are left out; volume contents are not exported.",
    ]
    text = "".join(f"# {line}\n" for line in header) + yaml.safe_dump_all(objects, sort_keys=False)
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as err:
        raise OffboardError(f"cannot write the export {path}: {err.strerror}; nothing deleted", "pass --out") from None
    return path


# ---------------------------------------------------------------- delete


def _gone(kubectl: Kubectl, names: set[str]) -> bool:
    live = {_name(a) for a in kubectl.json("-n", ARGOCD_NS, "get", APPS)["items"]}
    return not (live & names)


def delete_applications(kubectl: Kubectl, apps: list[dict[str, Any]], progress: Progress, timeout: float) -> None:
    """Delete Applications without cascading: drop their finalizer, then delete, then wait."""
    names = {_name(a) for a in apps}
    for name in sorted(names):
        progress(f"deleting Application {name} (not cascading)")
        try:
            kubectl.run("-n", ARGOCD_NS, "patch", APPS, name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
        except BioGitopsError:
            if get_one(kubectl, "-n", ARGOCD_NS, "get", APPS, name) is not None:
                raise  # still there with its finalizer: deleting it now would cascade
            continue
        kubectl.run("-n", ARGOCD_NS, "delete", APPS, name, "--ignore-not-found", "--wait=false")
    if names:
        wait_until(lambda: _gone(kubectl, names), timeout, f"Applications {', '.join(sorted(names))} to go", progress)


def delete(kubectl: Kubectl, plan: Plan, progress: Progress, timeout: float = 300) -> None:
    """Delete in order: the Applications that generate the lab's objects, the lab's own
    Applications, the AppProject, the namespace (and with it the claims)."""
    delete_applications(kubectl, plan.parents, progress, timeout)
    # re-read: a parent still syncing until the moment it went may have re-created a child
    children = find_plan(kubectl, plan.env, plan.lab).children
    delete_applications(kubectl, children, progress, timeout)
    if plan.project:
        progress(f"deleting AppProject {plan.ns}")
        kubectl.run("-n", ARGOCD_NS, "delete", PROJECTS, plan.ns, "--ignore-not-found", "--wait=false")
        wait_until(
            lambda: get_one(kubectl, "-n", ARGOCD_NS, "get", PROJECTS, plan.ns) is None,
            timeout,
            f"AppProject {plan.ns} to go",
            progress,
        )
    if plan.namespace:
        progress(f"deleting namespace {plan.ns}")
        kubectl.run("delete", "namespace", plan.ns, "--ignore-not-found", "--wait=false")

        def namespace_gone() -> bool:
            if get_one(kubectl, "get", "namespace", plan.ns) is None:
                return True
            left = len(kubectl.json("-n", plan.ns, "get", "persistentvolumeclaims")["items"])
            progress(f"namespace {plan.ns} terminating, {left} PVC(s) left")
            return False

        wait_until(
            namespace_gone,
            timeout,
            f"namespace {plan.ns} to go",
            progress,
            interval=2,
            hint=f"see `kubectl get namespace {plan.ns} -o yaml` (status.conditions); run lab.offboard again to finish",
        )


# ---------------------------------------------------------------- driver


def run(
    kubectl: Kubectl,
    env: str,
    lab: str,
    *,
    yes: bool = False,
    out: Path | None = None,
    interactive: bool = False,
    ask: Callable[[str], str] = input,
    timeout: float = 300,
    root: Path = CLUSTERS_DIR,
    now: datetime | None = None,
) -> Path:
    """Refuse, show, export, confirm, delete (see the module docstring); returns the export's path."""
    check_name(lab)
    check_no_lab_file(env, lab, root)
    check_confirmable(yes, interactive)
    plan = find_plan(kubectl, env, lab)
    if plan.empty:
        raise OffboardError(
            f"lab {lab} does not exist on the {env} cluster (no Applications, AppProject or namespace lab-{lab})",
            f"`invoke status --env {env}` lists the labs that are there",
        )
    check_not_generated(plan)
    table(f"lab.offboard {lab} ({env}): to be deleted", ["kind", "name", "detail"], plan.rows())
    console.print(
        f"{len(plan.claims)} PVC(s), {total_requested(plan.claims)} requested; "
        "their contents are not exported: copy what you need before you confirm"
    )
    now = now or datetime.now(UTC)
    try:
        objects = collect(kubectl, plan)
    except OffboardError:
        raise
    except BioGitopsError as err:
        raise OffboardError(
            f"export failed: {err.message}; nothing deleted",
            "fix the cause (an unavailable API service shows in `kubectl get apiservices`), then run this again",
        ) from None
    path = write_export(out or default_export_path(env, lab, now), plan, objects, now)
    console.print(f"exported the lab's objects to {path}")
    if not yes:
        try:
            answer = ask(f"type {lab} to delete it and its data, anything else to stop: ")
        except EOFError:
            answer = ""
        if answer.strip() != lab:
            raise OffboardError("confirmation did not match the lab's name; nothing deleted", f"export kept: {path}")
    with progress(f"deleting lab {lab}") as update:
        delete(kubectl, plan, update, timeout)
    console.print(f"offboarded lab {lab} from {env}; export: {path}")
    return path


def offboard(target: Target, lab: str, yes: bool = False, out: str | None = None, timeout: float = 300) -> Path:
    """`invoke lab.offboard` against the target's cluster, asking on this terminal."""
    return run(
        target.kubectl,
        target.env,
        lab,
        yes=yes,
        out=Path(out) if out else None,
        interactive=sys.stdin.isatty(),
        timeout=timeout,
    )
