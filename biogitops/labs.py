"""Labs, the tenants: one data file per lab, `clusters/<env>/labs/<lab>.yaml`, schema-checked.

from biogitops.labs import load_labs
labs = load_labs("dev")            # every lab file, validated together
labs[0].namespace                  # 'lab-genomics'

invoke lab.new proteomics --env dev   # scaffolds a valid file
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.errors import ConfigError
from biogitops.schema import load_yaml, validate
from biogitops.settings import CLUSTERS_DIR, LAB_APPS, Settings

# Names a lab may not take: they are, or look like, platform namespaces.
RESERVED = {
    "argocd",
    "default",
    "platform",
    "security",
    "observability",
    "workloads",
    "bootstrap",
    "monitoring",
    "gatekeeper-system",
    "sealed-secrets",
    "spark-operator",
    "kube-system",
    "kube-public",
    "kube-node-lease",
}

_QUANTITY = r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$"
_QTY = {"type": "string", "pattern": _QUANTITY}

LAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "owners", "members", "quota", "apps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,38}[a-z0-9]$"},
        "description": {"type": "string", "maxLength": 200},
        "owners": {"type": "string", "minLength": 1},
        "members": {"type": "string", "minLength": 1},
        "quota": {
            "type": "object",
            "required": ["cpu", "memory", "storage"],
            "additionalProperties": False,
            "properties": {
                "cpu": _QTY,
                "memory": _QTY,
                "storage": _QTY,
                "gpu": {"type": "integer", "minimum": 0, "maximum": 64},
            },
        },
        "apps": {
            "type": "object",
            "propertyNames": {"enum": list(LAB_APPS)},
            "additionalProperties": False,
            "properties": {
                "nextflow": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"workdir": _QTY},
                },
                "galaxy": {"type": "object", "additionalProperties": False, "properties": {}},
                "spark": {"type": "object", "additionalProperties": False, "properties": {}},
            },
        },
    },
}


@dataclass(frozen=True)
class Lab:
    name: str
    path: Path
    data: dict[str, Any]

    @property
    def namespace(self) -> str:
        return f"lab-{self.name}"

    @property
    def project(self) -> str:
        return f"lab-{self.name}"

    @property
    def apps(self) -> list[str]:
        return sorted(self.data.get("apps") or {})


def labs_dir(env: str, root: Path = CLUSTERS_DIR) -> Path:
    return root / env / "labs"


def parse_lab(path: Path) -> Lab:
    data = load_yaml(path)
    validate(data, LAB_SCHEMA, path)
    name = data["name"]
    if name in RESERVED or name.startswith(("kube-", "lab-")):
        raise ConfigError(f"{path}: name: {name!r} is reserved for the platform", "choose another lab name")
    if name.endswith(tuple(f"-{app}" for app in LAB_APPS)):  # lab-<x>-<app> names a lab's Application
        raise ConfigError(
            f"{path}: name: {name!r} ends like an app name", "choose a name not ending in -" + "/-".join(LAB_APPS)
        )
    if path.stem != name:
        raise ConfigError(f"{path}: name: is {name!r} but the file is {path.name}", f"rename it to {name}.yaml")
    return Lab(name=name, path=path, data=data)


def load_labs(env: str, root: Path = CLUSTERS_DIR) -> list[Lab]:
    """Every lab of `env`, validated; two labs may not claim one namespace."""
    labs = [parse_lab(p) for p in sorted(labs_dir(env, root).glob("*.yaml"))]
    seen: dict[str, Path] = {}
    for lab in labs:
        if lab.namespace in seen:
            raise ConfigError(
                f"{lab.path}: name: namespace {lab.namespace} is already claimed by {seen[lab.namespace]}"
            )
        seen[lab.namespace] = lab.path
    return labs


def check_apps(labs: list[Lab], settings: Settings) -> None:
    """A lab may enable only the apps its environment offers (`apps:` in settings.yaml)."""
    for lab in labs:
        for app in lab.apps:
            if app not in settings.apps:
                raise ConfigError(
                    f"{lab.path}: apps.{app}: not offered in {settings.env}",
                    f"remove it, or set apps.{app}.enabled: true in clusters/{settings.env}/settings.yaml",
                )


def scaffold(name: str, env: str, root: Path = CLUSTERS_DIR) -> Path:
    """Write a minimal valid lab file for `name`; refuses to overwrite."""
    path = labs_dir(env, root) / f"{name}.yaml"
    if path.exists():
        raise ConfigError(f"{path} already exists", "edit it instead")
    if not (root / env / "settings.yaml").is_file():
        raise ConfigError(f"unknown environment {env!r}", f"create clusters/{env}/settings.yaml first")
    data = {
        "name": name,
        "description": f"{name} lab",
        "owners": f"{name}-admins",
        "members": name,
        "quota": {"cpu": "8", "memory": "32Gi", "storage": "100Gi", "gpu": 0},
        "apps": {"nextflow": {"workdir": "50Gi"}},
    }
    text = yaml.safe_dump(data, sort_keys=False)
    tmp = path.with_suffix(".yaml.tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(text)
    try:
        parse_lab(tmp.rename(path))
    except ConfigError:
        path.unlink()
        raise
    return path
