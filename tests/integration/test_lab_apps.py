"""Lab workloads on the real API server: a Nextflow launcher Job and a SparkApplication are
accepted in the lab's namespace and counted by its quota, and refused in another lab's."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml

from biogitops import bootstrap as bs
from biogitops import pipeline
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.providers import Provider
from biogitops.render import helm_template

from .conftest import Cluster

SPARK_LAB = REPO_ROOT / "applications" / "spark-operator" / "lab"


@pytest.fixture(scope="module")
def labs_ready(cluster: Cluster, provider: Provider) -> bs.Result:
    # the SparkApplication CRD was installed with the cluster (conftest), before any lab quota
    assert cluster.kubectl.ok("get", "crd", "sparkapplications.sparkoperator.k8s.io")
    return bs.Bootstrap(provider.settings.env, provider.name, print).run()


def _as_member(cluster: Cluster, group: str, *args: str, stdin: str | None = None, check: bool = True) -> str:
    return cluster.kubectl.run("--as", f"{group}-user", "--as-group", group, *args, stdin=stdin, check=check)


def _used(cluster: Cluster, namespace: str, resource: str) -> str:
    quota = cluster.kubectl.json("-n", namespace, "get", "resourcequota", "lab-quota")
    return quota.get("status", {}).get("used", {}).get(resource, "0")


def _wait_used(cluster: Cluster, namespace: str, resource: str, want: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    used = _used(cluster, namespace, resource)
    while used != want and time.monotonic() < deadline:
        time.sleep(1)
        used = _used(cluster, namespace, resource)
    return used


@pytest.fixture
def cleanup(cluster: Cluster) -> Iterator[list[tuple[str, str, str]]]:
    made: list[tuple[str, str, str]] = []
    yield made
    for ns, kind, name in made:
        cluster.kubectl.run("-n", ns, "delete", kind, name, "--ignore-not-found", "--wait=false", check=False)


def test_launcher_job_is_accepted_and_counted(cluster: Cluster, labs_ready: bs.Result, cleanup) -> None:
    job = pipeline.launcher_job("dev", "genomics", "nf-core/demo", "1.0.1", "test", "itest-nf-launcher")
    _as_member(cluster, "genomics", "-n", "lab-genomics", "create", "-f", "-", stdin=yaml.safe_dump(job))
    cleanup.append(("lab-genomics", "job", "itest-nf-launcher"))
    assert _wait_used(cluster, "lab-genomics", "count/jobs.batch", "1") == "1"


def test_spark_application_is_accepted_and_counted(cluster: Cluster, labs_ready: bs.Result, cleanup) -> None:
    [app] = [
        o
        for o in helm_template(SPARK_LAB, [{"lab": "genomics", "sparkPi": {"enabled": True}}])
        if o["kind"] == "SparkApplication"
    ]
    # right after the CRD appears, the quota controller has not yet counted the new resource
    # and admission refuses with "status unknown for quota": that settles within seconds
    deadline = time.monotonic() + 90
    while True:
        try:
            _as_member(cluster, "genomics", "-n", "lab-genomics", "create", "-f", "-", stdin=yaml.safe_dump(app))
            break
        except BioGitopsError as err:
            if "status unknown for quota" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(2)
    cleanup.append(("lab-genomics", "sparkapplication", app["metadata"]["name"]))
    used = _wait_used(cluster, "lab-genomics", "count/sparkapplications.sparkoperator.k8s.io", "1")
    assert used == "1"


def test_lab_cannot_create_workloads_in_another_labs_namespace(cluster: Cluster, labs_ready: bs.Result) -> None:
    job = pipeline.launcher_job("dev", "genomics", "nf-core/demo", "1.0.1", "test", "itest-intruder")
    out = _as_member(
        cluster, "genomics", "-n", "lab-proteomics", "create", "-f", "-", stdin=yaml.safe_dump(job), check=False
    )
    assert not cluster.kubectl.ok("-n", "lab-proteomics", "get", "job", "itest-intruder")
    [app] = [
        o
        for o in helm_template(SPARK_LAB, [{"lab": "genomics", "sparkPi": {"enabled": True}}])
        if o["kind"] == "SparkApplication"
    ]
    _as_member(cluster, "genomics", "-n", "lab-proteomics", "create", "-f", "-", stdin=yaml.safe_dump(app), check=False)
    assert not cluster.kubectl.ok("-n", "lab-proteomics", "get", "sparkapplication", app["metadata"]["name"])
    assert out == ""  # kubectl printed nothing on stdout: the create was forbidden
