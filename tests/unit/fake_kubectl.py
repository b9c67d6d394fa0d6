"""An in-memory stand-in for `biogitops.cluster.kube.Kubectl`, for unit tests of code that reads and deletes objects.

It answers the calls such code makes (`get` of one or several resources, `patch` of finalizers,
`delete`, `api-resources`) from a list of objects, records every call, and behaves like the API
server where the tests depend on it: an object with finalizers is only marked for deletion, and
a deleted namespace takes its objects with it.

kubectl = FakeKubectl([namespace("lab-x"), pvc("lab-x", "data", "10Gi")])
kubectl.json("-n", "lab-x", "get", "persistentvolumeclaims")["items"]
"""

from __future__ import annotations

import copy
import json
from typing import Any

from biogitops.errors import BioGitopsError

RESOURCES = {
    "Application": "applications.argoproj.io",
    "AppProject": "appprojects.argoproj.io",
    "Namespace": "namespaces",
    "PersistentVolumeClaim": "persistentvolumeclaims",
    "PersistentVolume": "persistentvolumes",
    "ConfigMap": "configmaps",
    "Secret": "secrets",
    "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments.apps",
}
ALIASES = {"namespace": "namespaces", "ns": "namespaces", "pvc": "persistentvolumeclaims"}
CLUSTER_SCOPED = {"namespaces", "persistentvolumes"}
_FLAGS_WITH_VALUE = {"-n", "-l", "-o", "-p", "--type"}


class FakeKubectl:
    def __init__(self, objects: list[dict[str, Any]], fail: tuple[str, ...] = ()) -> None:
        self.objects = [copy.deepcopy(o) for o in objects]
        self.calls: list[tuple[str, ...]] = []
        self.fail = fail  # a call whose joined arguments contain one of these fails
        self.cascaded: list[str] = []  # objects deleted while they still had a finalizer

    # ------------------------------------------------------------ the Kubectl interface
    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> str:
        self.calls.append(args)
        if any(f in " ".join(args) for f in self.fail):
            raise BioGitopsError(f"kubectl {' '.join(args[:3])} failed: injected failure")
        opts, words = self._parse(args)
        verb, rest = words[0], words[1:]
        handler = getattr(self, "_" + verb.replace("-", "_"))
        return handler(opts, rest)

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))

    def ok(self, *args: str) -> bool:
        try:
            self.run(*args)
        except BioGitopsError:
            return False
        return True

    # ------------------------------------------------------------ helpers for tests
    def names(self, resource: str) -> list[str]:
        return sorted(o["metadata"]["name"] for o in self.objects if self._resource(o) == resource)

    def verbs(self) -> list[str]:
        """Every mutating call, as `verb resource name`."""
        return [" ".join(c[c.index(v) : c.index(v) + 3]) for c in self.calls for v in ("patch", "delete") if v in c]

    # ------------------------------------------------------------ internals
    @staticmethod
    def _parse(args: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
        opts: dict[str, str] = {}
        words: list[str] = []
        it = iter(args)
        for arg in it:
            if arg in _FLAGS_WITH_VALUE:
                opts[arg] = next(it)
            elif arg.startswith("--"):
                key, _, value = arg.partition("=")
                opts[key] = value or "true"
            else:
                words.append(arg)
        return opts, words

    @staticmethod
    def _resource(obj: dict[str, Any]) -> str:
        return RESOURCES[obj["kind"]]

    def _find(self, resource: str, namespace: str | None, name: str | None = None) -> list[dict[str, Any]]:
        resource = ALIASES.get(resource, resource)
        return [
            o
            for o in self.objects
            if self._resource(o) == resource
            and (resource in CLUSTER_SCOPED or namespace is None or o["metadata"].get("namespace") == namespace)
            and (name is None or o["metadata"]["name"] == name)
        ]

    def _get(self, opts: dict[str, str], rest: list[str]) -> str:
        namespace = None if "--all-namespaces" in opts else opts.get("-n", "default")
        resources = rest[0].split(",")
        name = rest[1] if len(rest) > 1 else None
        found = [o for r in resources for o in self._find(r, namespace, name)]
        if "-l" in opts:
            key = opts["-l"]
            found = [o for o in found if key in (o["metadata"].get("labels") or {})]
        if name is not None:
            if not found:
                if "--ignore-not-found" in opts:
                    return ""
                raise BioGitopsError(f'kubectl get {rest[0]} failed: {rest[0]} "{name}" not found')
            return json.dumps(found[0])
        return json.dumps({"apiVersion": "v1", "kind": "List", "items": found})

    def _api_resources(self, opts: dict[str, str], rest: list[str]) -> str:
        names = sorted(r for r in RESOURCES.values() if r not in CLUSTER_SCOPED)
        return "\n".join([*names, "events", "events.events.k8s.io"]) + "\n"

    def _patch(self, opts: dict[str, str], rest: list[str]) -> str:
        found = self._find(rest[0], opts.get("-n", "default"), rest[1])
        if not found:
            raise BioGitopsError(f'kubectl patch {rest[0]} failed: {rest[0]} "{rest[1]}" not found')
        patch = json.loads(opts["-p"])
        if "finalizers" in patch.get("metadata", {}):
            found[0]["metadata"].pop("finalizers", None)
            if found[0]["metadata"].get("deletionTimestamp"):
                self.objects.remove(found[0])
        return ""

    def _delete(self, opts: dict[str, str], rest: list[str]) -> str:
        found = self._find(rest[0], opts.get("-n", "default"), rest[1])
        if not found:
            if "--ignore-not-found" in opts:
                return ""
            raise BioGitopsError(f'kubectl delete {rest[0]} failed: {rest[0]} "{rest[1]}" not found')
        obj = found[0]
        if obj["metadata"].get("finalizers"):
            self.cascaded.append(f"{obj['kind']}/{obj['metadata']['name']}")
            obj["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
            return ""
        self.objects.remove(obj)
        if obj["kind"] == "Namespace":
            name = obj["metadata"]["name"]
            self.objects = [o for o in self.objects if o["metadata"].get("namespace") != name]
        return ""


# ---------------------------------------------------------------- object builders


def meta(name: str, namespace: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, **extra}
    if namespace:
        out["namespace"] = namespace
    return out


def application(name: str, project: str, lab: str | None = None, owner: str | None = None) -> dict[str, Any]:
    md = meta(name, "argocd", finalizers=["resources-finalizer.argocd.argoproj.io"])
    if lab:
        md["labels"] = {"bio-gitops.io/lab": lab}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "argoproj.io/v1alpha1", "kind": "ApplicationSet", "name": owner}]
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", "metadata": md, "spec": {"project": project}}


def appproject(name: str) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "AppProject", "metadata": meta(name, "argocd"), "spec": {}}


def namespace(name: str, lab: str | None = None, phase: str = "Active") -> dict[str, Any]:
    md = meta(name, labels={"bio-gitops.io/lab": lab} if lab else {})
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": md, "status": {"phase": phase}}


def pvc(ns: str, name: str, size: str, volume: str = "") -> dict[str, Any]:
    spec: dict[str, Any] = {"resources": {"requests": {"storage": size}}}
    if volume:
        spec["volumeName"] = volume
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta(name, ns), "spec": spec}


def pv(name: str, ns: str, claim: str, reclaim: str = "Delete") -> dict[str, Any]:
    spec = {"claimRef": {"namespace": ns, "name": claim}, "persistentVolumeReclaimPolicy": reclaim}
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta(name), "spec": spec}


def secret(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    last = json.dumps({"kind": "Secret", "data": data})
    md = meta(name, ns, annotations={"kubectl.kubernetes.io/last-applied-configuration": last})
    md["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:data": {}}}]
    return {"apiVersion": "v1", "kind": "Secret", "metadata": md, "data": data}


def configmap(ns: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta(name, ns), "data": data}
