"""A stand-in volume provisioner for kwok clusters, which have no storage of their own.

It binds every Pending PersistentVolumeClaim of the `standard` StorageClass to a new
PersistentVolume of the requested size and access modes, as a real provisioner would, so
that claims (Nextflow's work dir, Galaxy's data) reach Bound and Argo CD sees them Healthy.
Nothing is ever written to those volumes: kwok runs no containers.

Started by the kwok provider (KwokProvider.ensure_storage, as `LocalStorage`), stopped with
the cluster; by hand:
    python -m biogitops.cluster.kwok.storage --kubeconfig PATH
Logs: <state>/storage/logs/kwok-storage.log.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client, config
from kubernetes.client.rest import ApiException

from biogitops.cluster.kwok.local import LocalProcess

STORAGE_CLASS = "standard"
PROVISIONER = "bio-gitops.io/kwok-fake"


class LocalStorage(LocalProcess):
    """This module's main() as a process beside the cluster; it listens nowhere, so it is ready
    once it runs."""

    group, name, what, timeout = "storage", "kwok-storage", "the kwok volume provisioner", 30

    def binary(self, progress: Callable[[str], None] | None = None) -> Path:
        return Path(sys.executable)

    def argv(self, binary: Path) -> list[str]:
        return [str(binary), "-m", "biogitops.cluster.kwok.storage", "--kubeconfig", str(self.kubeconfig)]


def storage_class() -> dict:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def volume_for(pvc: client.V1PersistentVolumeClaim) -> dict:
    """The PersistentVolume that satisfies `pvc` (pre-bound to it through claimRef)."""
    ns, name = pvc.metadata.namespace, pvc.metadata.name
    digest = hashlib.sha256(f"{ns}/{name}/{pvc.metadata.uid}".encode()).hexdigest()[:10]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"pv-{digest}", "labels": {"bio-gitops.io/provisioner": "kwok-fake"}},
        "spec": {
            "capacity": {"storage": pvc.spec.resources.requests["storage"]},
            "accessModes": pvc.spec.access_modes,
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": f"/var/lib/kwok-fake/{ns}/{name}"},
            "claimRef": {"namespace": ns, "name": name, "uid": pvc.metadata.uid},
        },
    }


def reconcile(core: client.CoreV1Api) -> int:
    """Create volumes for pending claims and drop released ones; returns how many were created."""
    created = 0
    for pvc in core.list_persistent_volume_claim_for_all_namespaces().items:
        sc = pvc.spec.storage_class_name or STORAGE_CLASS
        if pvc.status.phase != "Pending" or pvc.spec.volume_name or sc != STORAGE_CLASS:
            continue
        try:
            core.create_persistent_volume(volume_for(pvc))
            created += 1
        except ApiException as err:
            if err.status != 409:
                raise
    for pv in core.list_persistent_volume(label_selector="bio-gitops.io/provisioner=kwok-fake").items:
        if pv.status.phase == "Released":
            core.delete_persistent_volume(pv.metadata.name)
    return created


def main() -> None:
    parser = argparse.ArgumentParser(description="bind PVCs on a kwok cluster")
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--interval", type=float, default=2.0)
    args = parser.parse_args()
    core = client.CoreV1Api(config.new_client_from_config(config_file=args.kubeconfig))
    while True:
        try:
            if reconcile(core):
                print("bound pending claims", flush=True)
        except Exception as err:  # keep serving; the API server may be restarting
            print(f"reconcile failed: {err}", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    main()
