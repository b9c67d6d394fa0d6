"""Labs that are on the cluster but no longer in git: their data is kept until someone offboards them.

Removing a lab file leaves the lab's namespace (label `bio-gitops.io/lab`) and its
PersistentVolumeClaims in place. `invoke status` lists such labs as "orphaned, data kept";
`invoke lab.offboard NAME --env ENV` deletes one explicitly.

from biogitops.platform.orphans import orphaned_labs
orphaned_labs(kubectl, "dev")       # [Orphan(lab='itest', namespace='lab-itest', claims=[...])]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.kube import Kubectl
from biogitops.cluster.target import Target
from biogitops.config.labs import labs_dir
from biogitops.config.settings import CLUSTERS_DIR
from biogitops.errors import BioGitopsError

LAB_LABEL = "bio-gitops.io/lab"
ORPHANED = "orphaned, data kept"
DELETING = "being deleted"

# binary units, largest first: how human_bytes shows a size
_BINARY = {"Ei": 2**60, "Pi": 2**50, "Ti": 2**40, "Gi": 2**30, "Mi": 2**20, "Ki": 2**10}


def quantity_bytes(text: str) -> int:
    """Bytes in a Kubernetes storage quantity (`10Gi`, `500M`, `1e3`, `1073741824`), rounded up
    as the API server's `Quantity.Value()` does; read by the pinned client's `parse_quantity`."""
    # imported here: `import kubernetes` costs ~0.3 s, and every `invoke` imports this module
    from kubernetes.utils.quantity import parse_quantity

    try:
        return math.ceil(parse_quantity(str(text).strip()))
    except ValueError:
        raise BioGitopsError(
            f"unreadable storage quantity {text!r}", "expected e.g. 10Gi, 500M or a byte count"
        ) from None


def human_bytes(count: int) -> str:
    """`10Gi`, `1.5Ti`, `512Mi`: binary units, at most one decimal."""
    for unit, size in _BINARY.items():
        if count >= size:
            value = count / size
            return f"{value:.0f}{unit}" if value == int(value) else f"{value:.1f}{unit}"
    return f"{count}"


@dataclass(frozen=True)
class Claim:
    """A PersistentVolumeClaim: what it requests and the volume it is bound to."""

    name: str
    requested: str
    volume: str = ""
    reclaim: str = ""  # the bound PersistentVolume's reclaim policy, when readable

    @property
    def bytes(self) -> int:
        return quantity_bytes(self.requested) if self.requested else 0


def claims_of(pvcs: list[dict[str, Any]], pvs: list[dict[str, Any]] | None = None) -> list[Claim]:
    """Claims from `kubectl get pvc -o json` items, with reclaim policies from PersistentVolume items."""
    reclaim = {v["metadata"]["name"]: (v.get("spec") or {}).get("persistentVolumeReclaimPolicy", "") for v in pvs or []}
    out = []
    for pvc in pvcs:
        spec = pvc.get("spec") or {}
        requested = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "")
        volume = spec.get("volumeName") or ""
        out.append(Claim(pvc["metadata"]["name"], requested, volume, reclaim.get(volume, "")))
    return sorted(out, key=lambda c: c.name)


def total_requested(claims: list[Claim]) -> str:
    return human_bytes(sum(c.bytes for c in claims))


def lab_files(env: str, root: Path = CLUSTERS_DIR) -> dict[str, Path]:
    """Lab name -> file, for every YAML file Argo CD's generator may read under clusters/ENV/labs/.

    Subfolders count (the git-files generator's `*` matches them), and both the file name and
    its `name:` field count: preflight requires them to agree, Argo CD uses the field.
    """
    found: dict[str, Path] = {}
    base = labs_dir(env, root)
    for path in sorted(base.rglob("*.yaml")) if base.is_dir() else []:
        found.setdefault(path.stem, path)
        try:
            data = yaml.safe_load(path.read_text())
        except (yaml.YAMLError, OSError):
            continue
        if isinstance(data, dict) and isinstance(data.get("name"), str):
            found.setdefault(data["name"], path)
    return found


@dataclass
class Orphan:
    lab: str
    namespace: str
    state: str = ORPHANED
    claims: list[Claim] = field(default_factory=list)

    def row(self) -> list[str]:
        return [self.lab, self.namespace, self.state, str(len(self.claims)), total_requested(self.claims)]


ORPHAN_COLUMNS = ["lab", "namespace", "state", "PVCs", "requested"]


def orphaned_labs(kubectl: Kubectl, env: str, root: Path = CLUSTERS_DIR) -> list[Orphan]:
    """Lab namespaces on the cluster whose lab has no file in clusters/ENV/labs/."""
    files = lab_files(env, root)
    namespaces = kubectl.json("get", "namespaces", "-l", LAB_LABEL)["items"]
    orphans = []
    for ns in namespaces:
        lab = ns["metadata"].get("labels", {}).get(LAB_LABEL, "")
        if not lab or lab in files:
            continue
        phase = (ns.get("status") or {}).get("phase", "")
        orphans.append(Orphan(lab, ns["metadata"]["name"], DELETING if phase == "Terminating" else ORPHANED))
    if orphans:
        pvcs = kubectl.json("get", "persistentvolumeclaims", "--all-namespaces")["items"]
        for orphan in orphans:
            orphan.claims = claims_of([p for p in pvcs if p["metadata"].get("namespace") == orphan.namespace])
    return sorted(orphans, key=lambda o: o.lab)


def live_orphans(target: Target) -> list[Orphan]:
    """Orphaned labs on the target's cluster right now, for `invoke status`."""
    return orphaned_labs(target.kubectl, target.env)
