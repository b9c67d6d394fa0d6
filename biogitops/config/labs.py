"""Labs, the tenants: one data file per lab, `clusters/<env>/labs/<lab>.yaml`, schema-checked.

from biogitops.config.labs import load_labs
labs = load_labs("dev")            # every lab file, validated together
labs[0].namespace                  # 'lab-genomics'

invoke lab.new proteomics --env dev   # scaffolds a valid file
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.settings import CLUSTERS_DIR, LAB_APPS, Settings
from biogitops.config.yamlschema import parse_plain_yaml
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

# The rules a lab file keeps, each with a name that preflight and the lab-tenant chart both print
# (clusters/argocd/lab-tenant/templates/_lab.tpl checks the same, in the same order, because Argo
# CD renders lab files preflight never saw). tests/fixtures/labs/rules.yaml is the one table both
# are tested against (tests/render/test_lab_rules.py). Patterns are matched whole (fullmatch):
# Go's `$` does not match before a trailing newline, Python's `re.match(...$)` does.
NAME_PATTERN = r"[a-z][a-z0-9-]{1,38}[a-z0-9]"
CPU_PATTERN = r"[0-9]+(\.[0-9]+)?m?"  # millicores allowed
BYTES_PATTERN = r"[0-9]+(\.[0-9]+)?(k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?"  # never millibytes: `16m` is 0.016 bytes
# an OIDC group: printable ASCII without spaces (no unicode lookalikes of another lab's group)
GROUP_PATTERN = r"[!-~]{1,128}"
PLATFORM_GROUP = "platform-admins"  # clusters/base/rbac/clusterrolebinding-platform-admin.yaml; no lab's group
FIELDS = ("name", "description", "owners", "members", "quota", "apps")
QUOTA_FIELDS = ("cpu", "memory", "storage", "gpu")
APP_FIELDS: dict[str, tuple[str, ...]] = {"nextflow": ("workdir",), "galaxy": (), "spark": ()}
DESCRIPTION_MAX = 200
GPU_MAX = 64
# above these a lab's quota is a typo, not a request (clusters/argocd/lab-tenant/values.yaml has the same)
CPU_CEILING = "4096"
MEMORY_CEILING = "64Ti"
STORAGE_CEILING = "100Ti"
# kept for readers of the lab name's pattern (offboard)
LAB_SCHEMA: dict[str, Any] = {"properties": {"name": {"pattern": f"^{NAME_PATTERN}$"}}}


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
    """Validate one lab file (read from `path`, or given as `text`, e.g. from `git show`).

    The YAML itself first (no anchors, merge keys, duplicate keys or tags: Argo CD's Go YAML
    would read them otherwise), then the rules of `check_lab_data`."""
    if text is None:
        try:
            text = path.read_text()
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
    return check_lab_data(parse_plain_yaml(text, path), path)


def _refuse(path: Path, field: str, problem: str, rule: str, fix: str) -> ConfigError:
    return ConfigError(f"{path}: {field}: {problem} (rule {rule})", fix)


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _full(pattern: str, value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(pattern, value) is not None


def check_lab_data(data: Any, path: Path) -> Lab:
    """Check a lab file's data (as parsed) against every rule; the first broken rule is raised as
    one line: `<file>: <field>: <problem> (rule <name>)`, with the fix as its hint.

        check_lab_data({"name": "genomics", ...}, Path("clusters/dev/labs/genomics.yaml"))
    """
    if not isinstance(data, dict):
        raise _refuse(path, "<top>", "must be a map of the lab's fields", "lab-fields", "see handbook/ONBOARDING.md")
    unknown = sorted(str(k) for k in data if k not in FIELDS)
    if unknown:
        raise _refuse(path, unknown[0], "is not a field of a lab file", "lab-fields", "allowed: " + ", ".join(FIELDS))
    name = data.get("name")
    if not _full(NAME_PATTERN, name):
        raise _refuse(
            path, "name", f"{name!r} is not a DNS label of 3 to 40 characters", "lab-name", "lowercase a-z, 0-9 and -"
        )
    if name in RESERVED or name.startswith(("kube-", "lab-")):
        raise _refuse(
            path, "name", f"{name!r} is reserved for the platform", "lab-name-reserved", "choose another name"
        )
    if name.endswith(tuple(f"-{app}" for app in LAB_APPS)):  # lab-<x>-<app> names a lab's Application
        raise _refuse(
            path,
            "name",
            f"{name!r} ends like an app name",
            "lab-name-app-suffix",
            "choose a name not ending in -" + "/-".join(LAB_APPS),
        )
    if path.stem != name:
        raise _refuse(
            path, "name", f"is {name!r} but the file is {path.name}", "lab-file-name", f"rename it {name}.yaml"
        )
    description = data.get("description", "")
    if not _is_text(description) or len(description) > DESCRIPTION_MAX:
        raise _refuse(
            path,
            "description",
            f"must be text of at most {DESCRIPTION_MAX} characters",
            "lab-description",
            "shorten it",
        )
    for key in ("owners", "members"):
        group = data.get(key)
        if not _full(GROUP_PATTERN, group) or group.startswith("system:"):
            raise _refuse(
                path,
                key,
                f"{group!r} is not an OIDC group of the lab",
                "lab-group",
                "1 to 128 printable ASCII characters, no whitespace, never a Kubernetes system: group",
            )
    _check_limits(path, data)
    return Lab(name=name, path=path, data=data)


def _check_limits(path: Path, data: dict[str, Any]) -> None:
    """The quota and the apps: sizes that make sense, apps the platform has."""
    # the pinned client's parser, imported here: `import kubernetes` costs ~0.3 s every `invoke` would pay
    from kubernetes.utils.quantity import parse_quantity as quantity

    quota = data.get("quota")
    if (
        not isinstance(quota, dict)
        or any(k not in QUOTA_FIELDS for k in quota)
        or not {"cpu", "memory", "storage"} <= set(quota)
    ):
        raise _refuse(
            path,
            "quota",
            "must be a map of cpu, memory, storage and an optional gpu",
            "lab-quota-fields",
            'e.g. {cpu: "4", memory: 16Gi, storage: 100Gi}',
        )
    cpu = quota["cpu"]
    if not _full(CPU_PATTERN, cpu) or not 0 < quantity(cpu) <= quantity(CPU_CEILING):
        raise _refuse(
            path,
            "quota.cpu",
            f"{cpu!r} is not a CPU quantity above 0 and at most {CPU_CEILING}",
            "lab-quota-cpu",
            'quote it: cpu: "4"',
        )
    for key, ceiling in (("memory", MEMORY_CEILING), ("storage", STORAGE_CEILING)):
        size = quota[key]
        if not _full(BYTES_PATTERN, size) or not 0 < quantity(size) <= quantity(ceiling):
            raise _refuse(
                path,
                f"quota.{key}",
                f"{size!r} is not a byte quantity above 0 and at most the platform's ceiling of {ceiling}",
                "lab-quota-bytes",
                "e.g. 64Gi; for more, ask the platform team for shared storage",
            )
    gpu = quota.get("gpu", 0)
    if isinstance(gpu, bool) or not isinstance(gpu, (int, float)) or gpu != int(gpu) or not 0 <= gpu <= GPU_MAX:
        raise _refuse(
            path, "quota.gpu", f"{gpu!r} is not a whole number from 0 to {GPU_MAX}", "lab-quota-gpu", "e.g. gpu: 1"
        )
    apps = data.get("apps")
    if not isinstance(apps, dict) or any(app not in LAB_APPS for app in apps):
        raise _refuse(
            path, "apps", "must be a map of the platform's apps", "lab-apps", "allowed: " + ", ".join(LAB_APPS)
        )
    for app, settings in apps.items():
        if not isinstance(settings, dict) or any(k not in APP_FIELDS[app] for k in settings):
            allowed = ", ".join(APP_FIELDS[app]) or "none"
            raise _refuse(
                path,
                f"apps.{app}",
                f"must be a map of its settings ({allowed})",
                "lab-app-settings",
                f"e.g. {app}: {{}}",
            )
    if "workdir" in (apps.get("nextflow") or {}):
        workdir = apps["nextflow"]["workdir"]
        if not _full(BYTES_PATTERN, workdir) or not 0 < quantity(workdir) <= quantity(quota["storage"]):
            raise _refuse(
                path,
                "apps.nextflow.workdir",
                f"{workdir!r} is not a byte quantity above 0 and at most quota.storage ({quota['storage']})",
                "lab-workdir",
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
                    f"{lab.path}: apps.{app}: not offered in {settings.env} (rule lab-apps)",
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
