"""Labs, the tenants: one data file per lab, `clusters/<env>/labs/<lab>.yaml`, schema-checked.

from biogitops.config.labs import load_labs
labs = load_labs("dev")            # every lab file, validated together
labs[0].namespace                  # 'lab-genomics'

invoke lab.new proteomics --env dev   # scaffolds a valid file
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.settings import CLUSTERS_DIR, LAB_APPS, Settings
from biogitops.config.yamlschema import load_yaml, parse_yaml, validate
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT

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

# CPU may be given in millicores; bytes never in millibytes (`16m` of memory is 0.016 bytes)
_CPU = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?m?$"}
_BYTES = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$"}
_GROUP = {"type": "string", "minLength": 1, "maxLength": 128}
# above this a lab's storage quota is a typo, not a request (clusters/argocd/lab-tenant has the same)
STORAGE_CEILING = "100Ti"
LAB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "owners", "members", "quota", "apps"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{1,38}[a-z0-9]$"},
        "description": {"type": "string", "maxLength": 200},
        "owners": _GROUP,
        "members": _GROUP,
        "quota": {
            "type": "object",
            "required": ["cpu", "memory", "storage"],
            "additionalProperties": False,
            "properties": {
                "cpu": _CPU,
                "memory": _BYTES,
                "storage": _BYTES,
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
                    "properties": {"workdir": _BYTES},
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


def parse_lab(path: Path, text: str | None = None) -> Lab:
    """Validate one lab file (read from `path`, or given as `text`, e.g. from `git show`)."""
    data = load_yaml(path) if text is None else parse_yaml(text, path)
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
    _check_limits(path, data)
    return Lab(name=name, path=path, data=data)


def _check_limits(path: Path, data: dict[str, Any]) -> None:
    """What a schema cannot say: groups that are not Kubernetes' own, sizes that make sense."""
    for key in ("owners", "members"):
        group = data[key]
        if group.startswith("system:") or any(ch.isspace() for ch in group):
            raise ConfigError(
                f"{path}: {key}: {group!r} is not an OIDC group of the lab",
                "no whitespace, and never a Kubernetes system: group",
            )
    # the pinned client's parser, imported here: `import kubernetes` costs ~0.3 s every `invoke` would pay
    from kubernetes.utils.quantity import parse_quantity as quantity

    quota = data["quota"]
    if quantity(quota["cpu"]) <= 0:
        raise ConfigError(f"{path}: quota.cpu: must be more than 0", 'e.g. cpu: "4"')
    for key in ("memory", "storage"):
        if quantity(quota[key]) <= 0:
            raise ConfigError(f"{path}: quota.{key}: must be more than 0")
    if quantity(quota["storage"]) > quantity(STORAGE_CEILING):
        raise ConfigError(
            f"{path}: quota.storage: {quota['storage']} is over the platform's ceiling of {STORAGE_CEILING}",
            "ask the platform team for shared storage instead",
        )
    workdir = ((data.get("apps") or {}).get("nextflow") or {}).get("workdir")
    if workdir and quantity(workdir) > quantity(quota["storage"]):
        raise ConfigError(
            f"{path}: apps.nextflow.workdir: {workdir} is larger than quota.storage ({quota['storage']})",
            "shrink the work dir or raise the storage quota",
        )


def nested_lab_files(env: str, root: Path = CLUSTERS_DIR) -> list[Path]:
    """Lab files in subfolders of labs/: Argo CD never reads them, so they are refused."""
    top = labs_dir(env, root)
    return sorted(p for p in top.rglob("*.yaml") if p.parent != top) if top.is_dir() else []


def load_labs(env: str, root: Path = CLUSTERS_DIR) -> list[Lab]:
    """Every lab of `env`, validated. Lab files live directly in clusters/<env>/labs/."""
    nested = nested_lab_files(env, root)
    if nested:
        raise ConfigError(
            f"{nested[0]}: lab files must sit directly in {labs_dir(env, root)}; Argo CD does not read subfolders",
            "move it up a folder, or out of clusters/ if it is an old lab",
        )
    # file names are unique in one folder and each lab's name equals its file's: one namespace per lab
    return [parse_lab(p) for p in sorted(labs_dir(env, root).glob("*.yaml"))]


def load_labs_at(env: str, revision: str, repo: Path = REPO_ROOT) -> list[Lab]:
    """The labs of `env` as Argo CD will read them: from `revision` of the git repository.

    For staging/prod, whose Applications follow a pinned revision, preflight validates these
    rather than the working tree. The revision must be known locally (`git fetch` first)."""
    rel = f"clusters/{env}/labs"
    git = ["git", "-C", str(repo)]
    known = subprocess.run([*git, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], capture_output=True)
    if known.returncode != 0:
        raise ConfigError(
            f"clusters/{env}/settings.yaml: repo.revision: {revision!r} is not in the local clone",
            "git fetch --tags origin, then run again",
        )
    listing = subprocess.run(
        [*git, "ls-tree", "-r", "--name-only", revision, "--", rel], capture_output=True, text=True, check=True
    ).stdout.split()
    files = [f for f in listing if f.endswith(".yaml")]
    nested = [f for f in files if Path(f).parent.as_posix() != rel]
    if nested:
        raise ConfigError(
            f"{revision}:{nested[0]}: lab files must sit directly in {rel}; Argo CD does not read subfolders",
            "move it up a folder in that revision",
        )
    labs = []
    for name in sorted(files):
        text = subprocess.run([*git, "show", f"{revision}:{name}"], capture_output=True, text=True, check=True).stdout
        labs.append(parse_lab(Path(f"{revision}:{name}"), text))
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
