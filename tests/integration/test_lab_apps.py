"""Lab workloads on the real API server: a Nextflow launcher Job and a SparkApplication are
accepted in the lab's namespace and counted by its quota, and refused in another lab's; Nextflow
task pods meet the restricted Pod Security profile; Galaxy's release runs in a Galaxy lab."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml

from biogitops.checks.kubeschemas import CRD_MODULES
from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.config.pins import load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.platform import pipeline
from biogitops.render import targets
from biogitops.render.manifests import argo_applies, helm_template
from biogitops.toolchain.gomodules import module_dir

from .conftest import Cluster

SPARK_LAB = REPO_ROOT / "applications" / "spark-operator" / "lab"


@pytest.fixture(scope="module")
def labs_ready(cluster: Cluster, provider: Provider) -> bs.Result:
    # the SparkApplication CRD was installed with the cluster (conftest), before any lab quota
    assert cluster.kubectl.ok("get", "crd", "sparkapplications.sparkoperator.k8s.io")
    return bs.Bootstrap(Target.of(provider), print).run()


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
    # the launcher runs as the nextflow account, which a lab owner (not a member) may lend a Job
    _as_member(cluster, "genomics-admins", "-n", "lab-genomics", "create", "-f", "-", stdin=yaml.safe_dump(job))
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


NEXTFLOW = REPO_ROOT / "applications" / "nextflow"


def _nextflow_task_job(name: str, labelled: bool = True) -> dict:
    """A task Job shaped as Nextflow 24.10 submits it (computeResourceType Job): our
    k8s.securityContext at pod level, nothing on the container."""
    values = yaml.safe_load((NEXTFLOW / "values.yaml").read_text())
    labels = {"bio-gitops.io/lab": "genomics"}
    if labelled:
        labels["nextflow.io/app"] = "nextflow"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "securityContext": values["taskSecurityContext"],
                    "containers": [
                        {
                            "name": name,
                            "image": "quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0",
                            "command": ["bash", "-ue", ".command.run"],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"memory": "256Mi"},
                            },
                        }
                    ],
                },
            },
        },
    }


def _job_pods(cluster: Cluster, namespace: str, job: str, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pods = cluster.kubectl.json("-n", namespace, "get", "pods", "-l", f"job-name={job}")["items"]
        if pods:
            return pods
        time.sleep(1)
    events = cluster.kubectl.run("-n", namespace, "get", "events", "--field-selector", f"involvedObject.name={job}")
    raise AssertionError(f"job {job} made no pod in {timeout}s: {events}")


def test_nextflow_task_pods_meet_the_restricted_profile(cluster: Cluster, labs_ready: bs.Result, cleanup) -> None:
    job = _nextflow_task_job("itest-nf-task")
    nextflow_sa = "system:serviceaccount:lab-genomics:nextflow"  # who submits tasks in a real run
    cluster.kubectl.run("--as", nextflow_sa, "-n", "lab-genomics", "create", "-f", "-", stdin=yaml.safe_dump(job))
    cleanup.append(("lab-genomics", "job", "itest-nf-task"))
    [pod] = _job_pods(cluster, "lab-genomics", "itest-nf-task")
    [container] = pod["spec"]["containers"]
    # added at admission (clusters/base/admission), then checked by Pod Security "restricted"
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_unlabelled_pod_without_container_hardening_is_refused(cluster: Cluster, labs_ready: bs.Result) -> None:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "itest-not-nextflow"},
        "spec": _nextflow_task_job("itest-not-nextflow", labelled=False)["spec"]["template"]["spec"],
    }
    with pytest.raises(BioGitopsError, match='violates PodSecurity "restricted'):
        cluster.kubectl.run("-n", "lab-genomics", "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(pod))


def test_galaxy_lab_is_baseline_and_gets_its_network_allowances(cluster: Cluster, labs_ready: bs.Result) -> None:
    def enforce(ns: str) -> str:
        return cluster.kubectl.json("get", "namespace", ns)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]

    def policies(ns: str) -> set[str]:
        return {p["metadata"]["name"] for p in cluster.kubectl.json("-n", ns, "get", "networkpolicy")["items"]}

    galaxy_policies = {
        "allow-galaxy-apiserver",
        "allow-galaxy-metrics",
        "allow-galaxy-postgres-apiserver",
        "allow-galaxy-postgres-operator",
        "allow-galaxy-rabbitmq-operator",
    }
    assert enforce("lab-proteomics") == "baseline"  # enables galaxy
    assert enforce("lab-genomics") == "restricted"
    assert galaxy_policies <= policies("lab-proteomics")
    assert galaxy_policies & policies("lab-genomics") == set()


@pytest.fixture
def galaxy_objects() -> list[dict]:
    source, why = targets.upstream_source("galaxy", load_pins())
    if why:
        pytest.skip(f"galaxy {load_pins().charts['galaxy']['version']}: {why}")
    objs = targets.render_upstream("galaxy", "dev", source, namespace="lab-proteomics")
    objs += targets.render_app_chart("galaxy-extras", "dev")
    return [o for o in objs if argo_applies(o)]


def test_galaxy_release_runs_in_a_galaxy_lab_within_its_quota(
    cluster: Cluster, labs_ready: bs.Result, galaxy_objects: list[dict]
) -> None:
    # the galaxy-deps operators install these CRDs online; offline the same releases come from
    # the Go module cache (as the render schemas do)
    for module, version, paths in CRD_MODULES:
        if any(key in module for key in ("cloudnative-pg", "rabbitmq", "prometheus-operator")):
            for path in paths:
                cluster.kubectl.apply_file(module_dir(module, version) / path)
    for crd in (
        "clusters.postgresql.cnpg.io",
        "rabbitmqclusters.rabbitmq.com",
        "servicemonitors.monitoring.coreos.com",
    ):
        cluster.kubectl.wait_crd(crd)
    text = yaml.safe_dump_all(galaxy_objects)
    try:
        cluster.kubectl.run(
            "-n", "lab-proteomics", "apply", "--server-side", "--field-manager=itest", "-f", "-", stdin=text
        )
        deployments = [o["metadata"]["name"] for o in galaxy_objects if o["kind"] == "Deployment"]
        assert deployments
        deadline = time.monotonic() + 180
        pending = set(deployments)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                d = cluster.kubectl.json("-n", "lab-proteomics", "get", "deployment", name)
                if d.get("status", {}).get("readyReplicas", 0) == d["spec"]["replicas"]:
                    pending.discard(name)
            time.sleep(2)
        events = cluster.kubectl.run("-n", "lab-proteomics", "get", "events", "--field-selector", "reason=FailedCreate")
        assert pending == set(), f"not ready: {sorted(pending)}; {events.strip()[-400:]}"
        assert _used(cluster, "lab-proteomics", "requests.memory") != "0"
    finally:
        cluster.kubectl.run(
            "-n", "lab-proteomics", "delete", "-f", "-", "--ignore-not-found", "--wait=false", stdin=text, check=False
        )
