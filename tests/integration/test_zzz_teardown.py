"""`invoke infra.destroy`'s Kubernetes phase (teardown.drain; tofu is not involved) on a bootstrapped
platform whose lab genomics has its Nextflow work dir and its Spark data (both `Delete=false`): by default it refuses
before deleting anything and names the offboard command; with delete_retained it exports the
claims, deletes them, finishes, and says what it deleted. Named zzz: it deletes ApplicationSets and
Applications of the shared cluster, so it runs last, and bootstraps again when it is done.

    flock /tmp/bio-kwok.lock nox -s integration -- --provider kwok -k teardown
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.infra import teardown
from biogitops.infra.teardown import TeardownError
from biogitops.platform import bootstrap as bs

from .conftest import Cluster

LAB_NS = "lab-genomics"
CLAIM = "nextflow-work"
SPARK_CLAIM = "spark-data"  # applications/spark-operator/lab: genomics runs Spark too
APPSETS = "applicationsets.argoproj.io"
APPS = "applications.argoproj.io"


def _names(cluster: Cluster, *args: str) -> set[str]:
    return {o["metadata"]["name"] for o in cluster.kubectl.json(*args)["items"]}


def _claims(cluster: Cluster) -> set[str]:
    return _names(cluster, "-n", LAB_NS, "get", "persistentvolumeclaims")


@pytest.fixture(scope="module")
def platform(cluster: Cluster, provider: Provider) -> Iterator[None]:
    """dev bootstrapped (lab genomics with Nextflow); objects no Application owns (left by earlier
    tests) removed, since the drain refuses them first; bootstrapped again afterwards."""
    if provider.name != "kwok":
        pytest.skip(f"teardown is proven on kwok; on {provider.name} it has not been run or timed yet")
    result = bs.Bootstrap(Target.of(provider), print).run()
    assert result.states["lab-genomics-nextflow"] == bs.HEALTHY
    for obj in teardown.cloud_backed(cluster.kubectl):
        if not teardown.tracked_by(obj):
            meta = obj["metadata"]
            kind = "pvc" if obj["kind"] == "PersistentVolumeClaim" else "service"
            cluster.kubectl.run("-n", meta["namespace"], "delete", kind, meta["name"], "--wait=false")
    yield
    bs.Bootstrap(Target.of(provider), print).run()


def test_drain_refuses_before_deleting_while_a_lab_keeps_its_work_dir(cluster: Cluster, platform: None) -> None:
    appsets = _names(cluster, "-n", "argocd", "get", APPSETS)
    apps = _names(cluster, "-n", "argocd", "get", APPS)
    assert CLAIM in _claims(cluster)
    with pytest.raises(TeardownError) as err:
        teardown.drain(cluster.kubectl, print, timeout=300, env="dev")
    message = err.value.line()
    assert f"PersistentVolumeClaim {LAB_NS}/{CLAIM}" in message
    assert "`invoke lab.offboard genomics --env dev`" in message and "nothing was deleted" in message
    assert _names(cluster, "-n", "argocd", "get", APPSETS) == appsets
    assert _names(cluster, "-n", "argocd", "get", APPS) == apps
    assert CLAIM in _claims(cluster)


def test_drain_with_delete_retained_exports_the_work_dir_and_finishes(
    cluster: Cluster, platform: None, tmp_path: Path
) -> None:
    export = tmp_path / "teardown.yaml"
    drained = teardown.drain(cluster.kubectl, print, timeout=600, env="dev", delete_retained=True, export=export)
    assert drained.retained == [f"PersistentVolumeClaim {LAB_NS}/{c}" for c in (CLAIM, SPARK_CLAIM)]
    assert "lab-genomics-nextflow" in drained.applications and "lab-genomics-spark" in drained.applications
    assert not {CLAIM, SPARK_CLAIM} & _claims(cluster)
    assert "lab-genomics-nextflow" not in _names(cluster, "-n", "argocd", "get", APPS)
    assert teardown.cloud_backed(cluster.kubectl) == []  # nothing left to hold tofu destroy
    exported = list(yaml.safe_load_all(export.read_text()))
    names = [(o["kind"], o["metadata"]["name"]) for o in exported]
    assert ("PersistentVolumeClaim", CLAIM) in names and ("PersistentVolumeClaim", SPARK_CLAIM) in names
    said = "\n".join(drained.lines())
    assert f"{LAB_NS}/{CLAIM}" in said and "lab-genomics-nextflow" in said and str(export) in said
