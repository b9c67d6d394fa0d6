#!/usr/bin/env python3
"""A fake `tofu` and `kubectl` for unit tests: records each call, answers from a state file.

Linked as `tofu` and `kubectl` into a test's tool cache. Every call appends [name, *args] as a
JSON line to $FAKE_LOG. Behaviour comes from $FAKE_STATE (JSON), which kubectl also updates:
  tofu:    init_error, plan ("changes" | "none" | "error"), plan_output, outputs
  kubectl: reachable, objects (Services/PVCs), volumes (PersistentVolumes), applications,
           applicationsets, stuck (descriptions "Kind ns/name" that never go away)
Deleting an Application with the resources finalizer deletes what it tracks, except objects whose
sync options hold `Delete=false`, as Argo CD does.
"""

import json
import os
import sys
from pathlib import Path

name = Path(sys.argv[0]).name
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([name, *args]) + "\n")
state_file = Path(os.environ["FAKE_STATE"])
state = json.loads(state_file.read_text()) if state_file.is_file() else {}


def save() -> None:
    state_file.write_text(json.dumps(state))


def tofu() -> int:
    if args[:1] == ["version"]:
        print("OpenTofu v1.11.5\non linux_amd64")
        return 0
    if args[:1] == ["init"]:
        if state.get("init_error"):
            print(state["init_error"], file=sys.stderr)
            return 1
        print("OpenTofu has been successfully initialized!")
        return 0
    if args[:1] == ["plan"]:
        plan = state.get("plan", "changes")
        if plan == "error":
            print(state.get("plan_output", "Error: boom"), file=sys.stderr)
            return 1
        if plan == "none":
            print("No changes. Your infrastructure matches the configuration.")
            return 0
        print("Plan: 3 to add, 0 to change, 0 to destroy.")
        return 2 if "-detailed-exitcode" in args else 0
    if args[:1] == ["output"]:
        print(
            json.dumps(
                {k: {"value": v, "type": "string", "sensitive": False} for k, v in state.get("outputs", {}).items()}
            )
        )
        return 0
    if args[:1] in (["apply"], ["destroy"]):
        print(f"{args[0]} complete")
        return 0
    return 0


def describe(obj: dict) -> str:
    return f"{obj['kind']} {obj['metadata']['namespace']}/{obj['metadata']['name']}"


def argocd_deletes(obj: dict, app: str) -> bool:
    """Whether Argo CD deletes `obj` when Application `app` is deleted with the resources finalizer."""
    annotations = obj["metadata"].get("annotations") or {}
    if annotations.get("argocd.argoproj.io/tracking-id", "").split(":")[0] != app:
        return False
    options = annotations.get("argocd.argoproj.io/sync-options", "").replace(" ", "").split(",")
    return "Delete=false" not in options and describe(obj) not in state.get("stuck", [])


def kubectl() -> int:
    rest = list(args)
    for flag in ("--kubeconfig", "--context"):
        if flag in rest:
            i = rest.index(flag)
            del rest[i : i + 2]
    if rest[:1] == ["version"]:
        print("Client Version: v1.36.3")
        return 0
    if rest[:3] == ["get", "--raw", "/readyz"]:
        return 0 if state.get("reachable", True) else 1
    if rest[:1] == ["config"]:
        return 0
    if rest[:2] == ["-n", "argocd"]:
        rest = rest[2:]
    if rest[:1] == ["get"]:
        kind = rest[1]
        items = {
            "services,persistentvolumeclaims": "objects",
            "applications.argoproj.io": "applications",
            "applicationsets.argoproj.io": "applicationsets",
            "persistentvolumes": "volumes",
        }[kind]
        print(json.dumps({"items": state.get(items, [])}))
        return 0
    if rest[:1] == ["patch"] and rest[1] == "applications.argoproj.io":
        app = next(a for a in state["applications"] if a["metadata"]["name"] == rest[2])
        patch = json.loads(rest[rest.index("-p") + 1])
        if isinstance(patch, list):  # JSON patch: the finalizer
            for op in patch:
                if op["path"] == "/metadata/finalizers":
                    app["metadata"]["finalizers"] = op["value"]
                else:
                    app["metadata"].setdefault("finalizers", []).append(op["value"])
        save()
        return 0
    if rest[:1] == ["delete"] and rest[1] == "applications.argoproj.io":
        app = next(a for a in state["applications"] if a["metadata"]["name"] == rest[2])
        state["applications"].remove(app)
        if "resources-finalizer.argocd.argoproj.io" in (app["metadata"].get("finalizers") or []):
            # what Argo CD does for an Application with the resources finalizer
            state["objects"] = [o for o in state.get("objects", []) if not argocd_deletes(o, rest[2])]
        save()
        return 0
    if rest[:1] == ["-n"] and rest[2:4] == ["delete", "persistentvolumeclaims"]:
        state["objects"] = [
            o
            for o in state.get("objects", [])
            if not (o["kind"] == "PersistentVolumeClaim" and o["metadata"]["namespace"] == rest[1])
            or o["metadata"]["name"] != rest[4]
            or describe(o) in state.get("stuck", [])
        ]
        save()
        return 0
    if rest[:1] == ["delete"] and rest[1] == "applicationsets.argoproj.io":
        state["applicationsets"] = [s for s in state["applicationsets"] if s["metadata"]["name"] != rest[2]]
        save()
        return 0
    return 0


sys.exit(tofu() if name == "tofu" else kubectl())
