"""The Gatekeeper policies (policies/) as the `policies` Application deploys them per environment.

objs = render_policies("prod")        # Config, ConstraintTemplates, constraints with prod's enforcement
schemas = constraint_schemas(objs)    # kubeconform schemas for the constraint kinds the templates define

The enforcement comes from the Application's kustomize patches (clusters/argocd/bootstrap,
applicationset-policies.yaml), which take it from clusters/<env>/settings.yaml; rendering
through the same patches means what is checked here is what Argo CD applies.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import bootstrap_values, render_bootstrap
from biogitops.toolchain import tools

POLICIES = REPO_ROOT / "policies"
TEMPLATE_GROUP = "templates.gatekeeper.sh"
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"


def application(env: str, repo_url: str = "https://git.example.invalid/bio-gitops.git") -> dict[str, Any] | None:
    """The `policies` Application of `env` (None when the gatekeeper add-on is off)."""
    values = bootstrap_values(load_settings(env), load_pins(), repo_url, "HEAD")
    objs = render_bootstrap(values, "applicationset-policies.yaml")
    if not objs:
        return None
    appset = objs[0]
    app = json.loads(json.dumps(appset["spec"]["template"]).replace("{{ .name }}", "policies"))
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **app}


def kustomize_build(path: Path, patches: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """`kustomize build` of `path`, with an Application's `kustomize.patches` applied on top."""
    with tempfile.TemporaryDirectory() as tmp:
        overlay = Path(tmp)
        overlay.joinpath("kustomization.yaml").write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "kustomize.config.k8s.io/v1beta1",
                    "kind": "Kustomization",
                    "resources": [os.path.relpath(path, overlay)],  # kustomize refuses absolute roots
                    "patches": patches or [],
                }
            )
        )
        cmd = [str(tools.which("kustomize")), "build", "--load-restrictor", "LoadRestrictionsNone", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kustomize build {path.relative_to(REPO_ROOT)} failed: {last}")
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def render_policies(env: str) -> list[dict[str, Any]]:
    """Everything the `policies` Application of `env` applies ([] when Gatekeeper is off there)."""
    app = application(env)
    if app is None:
        return []
    patches = ((app["spec"]["source"].get("kustomize") or {}).get("patches")) or []
    return kustomize_build(POLICIES, patches)


def constraint_schemas(objs: list[dict[str, Any]], directory: Path) -> int:
    """Write a strict kubeconform schema for each constraint kind the ConstraintTemplates in
    `objs` define (spec.parameters from the template's openAPIV3Schema); returns the count."""
    count = 0
    for obj in objs:
        if obj.get("kind") != "ConstraintTemplate":
            continue
        crd = obj["spec"]["crd"]["spec"]
        kind = crd["names"]["kind"]
        params = (crd.get("validation") or {}).get("openAPIV3Schema") or {"type": "object"}
        params = {**params, "additionalProperties": False} if "properties" in params else params
        schema = {
            "type": "object",
            "required": ["apiVersion", "kind", "metadata", "spec"],
            "additionalProperties": False,
            "properties": {
                "apiVersion": {"enum": [f"{CONSTRAINT_GROUP}/v1beta1", f"{CONSTRAINT_GROUP}/v1"]},
                "kind": {"enum": [kind]},
                "metadata": {"type": "object"},
                "status": {"type": "object"},
                "spec": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "enforcementAction": {"enum": ["deny", "warn", "dryrun"]},
                        "scopedEnforcementActions": {"type": "array"},
                        "match": {"type": "object"},
                        "parameters": params,
                    },
                },
            },
        }
        for version in ("v1beta1", "v1"):
            path = directory / CONSTRAINT_GROUP / f"{kind.lower()}_{version}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(schema))
        count += 1
    return count
