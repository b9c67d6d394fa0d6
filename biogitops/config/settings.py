"""Environment settings: `clusters/<env>/settings.yaml`, schema-checked.

from biogitops.config.settings import load_settings
settings = load_settings("dev")          # ConfigError naming file and field when invalid
settings.provider, settings.node_groups
settings.addon_enabled("gatekeeper"), settings.addon("gatekeeper").get("enforcement")
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from biogitops.config.yamlschema import load_yaml, validate
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT

CLUSTERS_DIR = REPO_ROOT / "clusters"
PROVIDERS = ("auto", "kind", "kwok", "existing")  # auto: kind when a container engine answers, else kwok
# where kind's images come from (pins.yaml `images`): auto pulls them by digest when their
# registries answer and builds them from source otherwise (biogitops/cluster/kind/imagesource.py)
KIND_IMAGES = ("auto", "source", "upstream")
LAB_APPS = ("nextflow", "galaxy", "spark")
ADDONS = ("gatekeeper", "sealedSecrets", "monitoring", "sparkOperator", "galaxyDeps")  # `addons:` in settings.yaml
# a lab app needs a cluster-wide add-on of the same environment
APP_ADDONS = {"galaxy": "galaxyDeps", "spark": "sparkOperator"}
# where each app's per-environment values live
APP_VALUES = {
    "nextflow": "applications/nextflow/values.{env}.yaml",
    "galaxy": "applications/galaxy/values.{env}.yaml",
    "spark": "applications/spark-operator/lab/values.{env}.yaml",
}

_QUANTITY = {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|Pi|M|G|T|P)?$"}
_LABELS = {
    "type": "object",
    "propertyNames": {"pattern": r"^([a-z0-9.-]+/)?[A-Za-z0-9][-A-Za-z0-9_.]{0,62}$"},
    "additionalProperties": {"type": "string", "maxLength": 63},
}
_TAINT = {
    "type": "object",
    "required": ["key", "effect"],
    "additionalProperties": False,
    "properties": {
        "key": {"type": "string"},
        "value": {"type": "string"},
        "effect": {"enum": ["NoSchedule", "PreferNoSchedule", "NoExecute"]},
    },
}
_ADDON = {
    "type": "object",
    "required": ["enabled"],
    "properties": {"enabled": {"type": "boolean"}},
}

SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["environment", "provider", "repo", "nodeGroups"],
    "additionalProperties": False,
    "properties": {
        "environment": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
        "provider": {"enum": list(PROVIDERS)},
        "repo": {
            "type": "object",
            "required": ["url", "revision"],
            "additionalProperties": False,
            "properties": {
                "url": {"anyOf": [{"const": "local"}, {"type": "string", "pattern": "^(https://|ssh://|git@)"}]},
                "revision": {"type": "string", "minLength": 1},
            },
        },
        "sso": {
            "type": "object",
            "required": ["issuer", "clientID"],
            "additionalProperties": False,
            "properties": {
                # `local`: dev's own identity provider beside the cluster (biogitops/platform/sso.py)
                "issuer": {"anyOf": [{"const": "local"}, {"type": "string", "pattern": "^https://[^@/\\s]+(/\\S*)?$"}]},
                "clientID": {"type": "string", "minLength": 1},
                # Grafana's own client at the provider (default: clientID); its secret is sealed per env
                "grafanaClientID": {"type": "string", "minLength": 1},
                "groupsClaim": {"type": "string", "minLength": 1},
            },
        },
        "kind": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"config": {"type": "string"}, "images": {"enum": list(KIND_IMAGES)}},
        },
        "kwok": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"basePort": {"type": "integer", "minimum": 1024, "maximum": 65000}},
        },
        "existing": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"context": {"type": "string", "minLength": 1}},
        },
        "nodeGroups": {
            "type": "object",
            "minProperties": 1,
            "propertyNames": {"pattern": "^[a-z][a-z0-9-]*$"},
            "additionalProperties": {
                "type": "object",
                "required": ["count", "capacity"],
                "additionalProperties": False,
                "properties": {
                    "count": {"type": "integer", "minimum": 0, "maximum": 1000},
                    "capacity": {
                        "type": "object",
                        "required": ["cpu", "memory", "pods"],
                        "additionalProperties": _QUANTITY,
                    },
                    "labels": _LABELS,
                    "taints": {"type": "array", "items": _TAINT},
                },
            },
        },
        "addons": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "gatekeeper": {
                    **_ADDON,
                    "properties": {
                        "enabled": {"type": "boolean"},
                        "enforcement": {"enum": ["warn", "deny", "dryrun"]},
                        "requireImageDigests": {"type": "boolean"},
                    },
                    "additionalProperties": False,
                },
                "sealedSecrets": {**_ADDON, "additionalProperties": False},
                "monitoring": {**_ADDON, "additionalProperties": False},
                "sparkOperator": {**_ADDON, "additionalProperties": False},
                "galaxyDeps": {**_ADDON, "additionalProperties": False},
            },
        },
        "apps": {
            "type": "object",
            "additionalProperties": False,
            "properties": {app: {**_ADDON, "additionalProperties": False} for app in LAB_APPS},
        },
    },
}


@dataclass(frozen=True)
class NodeGroup:
    name: str
    count: int
    capacity: dict[str, str]
    labels: dict[str, str]
    taints: list[dict[str, str]]


@dataclass(frozen=True)
class Settings:
    """One environment's settings, as read from clusters/<env>/settings.yaml."""

    env: str
    path: Path
    provider: str
    repo_url: str
    repo_revision: str
    node_groups: list[NodeGroup]
    kind_config: Path | None
    kwok_base_port: int
    context: str | None
    raw: dict[str, Any]
    kind_images: str = "auto"  # `kind: {images: auto|source|upstream}`

    @property
    def apps(self) -> list[str]:
        """The lab apps this environment offers (`apps:` in settings.yaml)."""
        return [app for app in LAB_APPS if ((self.raw.get("apps") or {}).get(app) or {}).get("enabled")]

    @property
    def env_dir(self) -> Path:
        return self.path.parent

    def addon(self, name: str) -> dict[str, Any]:
        """The add-on's block under `addons:` (empty when settings.yaml leaves it out).

        ValueError for a name that is not an add-on (a typo would otherwise read as disabled)."""
        if name not in ADDONS:
            raise ValueError(f"unknown add-on {name!r} (add-ons: {', '.join(ADDONS)})")
        return dict((self.raw.get("addons") or {}).get(name) or {})

    def addon_enabled(self, name: str) -> bool:
        """Whether settings.yaml says `addons.<name>.enabled: true`."""
        return bool(self.addon(name).get("enabled"))

    @property
    def addons(self) -> dict[str, bool]:
        """Each add-on settings.yaml lists, enabled or not (in the file's order)."""
        return {name: self.addon_enabled(name) for name in self.raw.get("addons") or {}}


def known_envs(root: Path = CLUSTERS_DIR) -> list[str]:
    """Environments are the folders under clusters/ that hold a settings.yaml."""
    return sorted(p.parent.name for p in root.glob("*/settings.yaml"))


# environments that follow the remote repository at a revision nobody can move (a tag can be
# re-pointed by anyone allowed to push tags; a commit SHA names one tree forever)
PINNED_ENVS = ("staging", "prod")
_SHA = re.compile(r"[0-9a-f]{40}")


def _check_revision(path: Path, revision: str, env: str) -> None:
    if env in PINNED_ENVS and not _SHA.fullmatch(revision):
        raise ConfigError(
            f"{path}: repo.revision: {revision!r} is a name someone can move; {env} follows a commit SHA"
            " (rule immutable-revision)",
            f"invoke release.promote --env {env} --sha <40-hex commit>",
        )


def promote(env: str, sha: str, root: Path = CLUSTERS_DIR, repo: Path | None = None) -> Path:
    """Point `env` (staging or prod) at commit `sha`: rewrites `repo.revision` in its settings.yaml,
    nothing else, after checking the commit is in the local clone. Review and merge the change:
    that pull request is the promotion.

        invoke release.promote --env staging --sha 0123abcd...   (the full 40-hex SHA)
    """
    if not _SHA.fullmatch(sha):
        raise ConfigError(f"--sha: {sha!r} is not a full commit SHA (40 hex digits)", "git rev-parse <commit>")
    git = ["git", "-C", str(repo or REPO_ROOT)]
    if subprocess.run([*git, "cat-file", "-e", f"{sha}^{{commit}}"], capture_output=True).returncode != 0:
        raise ConfigError(
            f"--sha: {sha} is not a commit of this repository's clone", "git fetch origin, then run again"
        )
    path = root / env / "settings.yaml"
    text = path.read_text()
    new, count = re.subn(r"(?m)^(  revision:[ \t]*)\S+", lambda m: m.group(1) + sha, text, count=1)
    if count != 1:
        raise ConfigError(f"{path}: repo.revision: not found", "the file needs a `repo:` block with `revision:`")
    path.write_text(new)
    load_settings(env, root)  # what was written is valid
    return path


def load_settings(env: str, root: Path = CLUSTERS_DIR) -> Settings:
    """Read and validate `clusters/<env>/settings.yaml`."""
    path = root / env / "settings.yaml"
    if not path.is_file():
        raise ConfigError(
            f"unknown environment {env!r}",
            f"known environments: {', '.join(known_envs(root)) or 'none'} (clusters/<env>/settings.yaml)",
        )
    data = load_yaml(path)
    validate(data, SETTINGS_SCHEMA, path)
    if data["environment"] != env:
        raise ConfigError(f"{path}: environment: is {data['environment']!r} but the folder is {env!r}")
    _check_repo_url(path, data["repo"]["url"])
    _check_revision(path, data["repo"]["revision"], env)
    if data["provider"] == "existing" and not (data.get("existing") or {}).get("context"):
        raise ConfigError(f"{path}: existing.context: required when provider is existing")
    _check_apps(path, data, env)
    kind_cfg = (data.get("kind") or {}).get("config")
    groups = [
        NodeGroup(
            name=name,
            count=spec["count"],
            capacity={k: str(v) for k, v in spec["capacity"].items()},
            labels=dict(spec.get("labels") or {}),
            taints=list(spec.get("taints") or []),
        )
        for name, spec in data["nodeGroups"].items()
    ]
    return Settings(
        env=env,
        path=path,
        provider=data["provider"],
        repo_url=data["repo"]["url"],
        repo_revision=data["repo"]["revision"],
        node_groups=groups,
        kind_config=(path.parent / kind_cfg) if kind_cfg else None,
        kwok_base_port=(data.get("kwok") or {}).get("basePort", 26400),
        context=(data.get("existing") or {}).get("context"),
        raw=data,
        kind_images=(data.get("kind") or {}).get("images", "auto"),
    )


def _check_repo_url(path: Path, url: str) -> None:
    """Credentials never live in a repository URL: Argo CD takes them from a repository Secret."""
    parts = urlsplit(url)
    if (url.startswith("https://") and "@" in parts.netloc) or (url.startswith("ssh://") and parts.password):
        raise ConfigError(
            f"{path}: repo.url: embeds credentials",
            "remove user:token@ and give Argo CD a repository Secret (sealed, secrets/)",
        )


def _check_apps(path: Path, data: dict[str, Any], env: str) -> None:
    """An offered app needs its add-on and a values file for this environment."""
    addons = data.get("addons") or {}
    apps = data.get("apps") or {}
    for app in LAB_APPS:
        if not (apps.get(app) or {}).get("enabled"):
            continue
        addon = APP_ADDONS.get(app)
        if addon and not (addons.get(addon) or {}).get("enabled"):
            raise ConfigError(
                f"{path}: apps.{app}: needs addons.{addon}.enabled: true", f"enable {addon} or disable {app}"
            )
        values = REPO_ROOT / APP_VALUES[app].format(env=env)
        if not values.is_file():
            raise ConfigError(
                f"{path}: apps.{app}: {values.relative_to(REPO_ROOT)} does not exist",
                f"create it from values.dev.yaml, or disable {app} for {env}",
            )
