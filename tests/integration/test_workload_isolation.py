"""Isolation where lab workloads run, on the real API server (clusters/base/admission, the lab
charts' RBAC and the lab quota):

- the Spark operator's spark-submit reads nothing on its own pod and fetches nothing: a
  SparkApplication's deps and main file stay inside the image, sparkConf and hadoopConf keys are
  on an allow-list, and the operator's other fields a lab may not set are refused
  (`lab-spark-submit`, for every requester);
- platform-run services of a lab (Galaxy's Postgres, RabbitMQ, web) cannot be impersonated or
  their claims mounted by what members launch (`lab-platform-services`);
- members' pods run only as `default`; the lab's workload ServiceAccounts lend themselves to no
  one else (`lab-pod-secrets`); `spark` holds only what a driver needs for its executors; the
  quota counts every kind a lab can create.

The cases are files in tests/fixtures/workloads/{denied,allowed}/: line 1 of a denied one says
`# refused by <policy>: <what the message names>`, line 2 `# as: <identity>`.

    flock /tmp/bio-kwok.lock nox -s integration -- --provider kwok -k test_workload_isolation

Creates are server-side dry runs (the whole admission chain runs, nothing is stored), except the
quota case, which creates and deletes one ConfigMap.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs

from .conftest import Cluster

# the same on every API server: CI proves it on kwok, kind's stage deselects it (conftest)
pytestmark = pytest.mark.api_server

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "workloads"
NAMESPACE = "lab-genomics"
IDENTITIES = {
    "member": ["--as", "genomics-user", "--as-group", "genomics"],
    "owner": ["--as", "genomics-admins-user", "--as-group", "genomics-admins"],
    "spark": ["--as", f"system:serviceaccount:{NAMESPACE}:spark"],
    "nextflow": ["--as", f"system:serviceaccount:{NAMESPACE}:nextflow"],
    "admin": [],  # the kubeconfig's cluster admin, as Argo CD's controller is
    # the Spark operator's controller (spark-submit runs with its token); system:masters stands in
    # for its chart's ClusterRole, which kwok does not install offline
    "operator": [
        "--as",
        "system:serviceaccount:spark-operator:spark-operator-controller",
        "--as-group",
        "system:masters",
    ],
}
_REFUSED = re.compile(r"^# refused by (?P<policy>[a-z-]+): (?P<names>.+)$")
_AS = re.compile(r"^# as: (?P<who>\w+)$")


def _case(path: Path) -> tuple[str, str, str, dict]:
    """(policy, what the message names, identity, object) from a fixture's header lines."""
    first, second = path.read_text().splitlines()[:2]
    refused, who = _REFUSED.match(first), _AS.match(second)
    assert who and who["who"] in IDENTITIES, f"{path.name}: line 2 must be `# as: <{'|'.join(IDENTITIES)}>`"
    policy, names = (refused["policy"], refused["names"]) if refused else ("", "")
    return policy, names, who["who"], yaml.safe_load(path.read_text())


DENIED = sorted((FIXTURES / "denied").glob("*.yaml"))
ALLOWED = sorted((FIXTURES / "allowed").glob("*.yaml"))


@pytest.fixture(scope="module")
def labs_ready(cluster: Cluster, provider: Provider) -> bs.Result:
    assert cluster.kubectl.ok("get", "crd", "sparkapplications.sparkoperator.k8s.io")
    return bs.Bootstrap(Target.of(provider), print).run()


def _dry_run(cluster: Cluster, obj: dict, who: str, timeout: float = 90) -> None:
    """Server-side dry-run create as `who`. Right after the CRDs appear the quota answers "status
    unknown" for a few seconds; that settles, anything else is the answer."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            cluster.kubectl.run(
                *IDENTITIES[who], "-n", NAMESPACE, "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj)
            )
            return
        except BioGitopsError as err:
            if "status unknown for quota" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_every_denied_fixture_names_its_rule() -> None:
    assert DENIED and ALLOWED
    for path in DENIED:
        policy, names, _, _ = _case(path)
        assert policy and names, f"{path.name}: line 1 must be `# refused by <policy>: <field or key>`"


@pytest.mark.parametrize("path", DENIED, ids=[p.stem for p in DENIED])
def test_hostile_workload_is_refused_naming_rule_and_field(cluster: Cluster, labs_ready: bs.Result, path: Path) -> None:
    policy, names, who, obj = _case(path)
    with pytest.raises(BioGitopsError) as refused:
        _dry_run(cluster, obj, who)
    message = str(refused.value)
    assert f"ValidatingAdmissionPolicy '{policy}'" in message, message
    assert names in message, message


@pytest.mark.parametrize("path", ALLOWED, ids=[p.stem for p in ALLOWED])
def test_legitimate_workload_is_accepted(cluster: Cluster, labs_ready: bs.Result, path: Path) -> None:
    _, _, who, obj = _case(path)
    _dry_run(cluster, obj, who)


# what the `spark` ServiceAccount (the driver) may do in its own namespace: its executors (pods)
# and their config map; nothing on claims or Services, no deletecollection, nothing elsewhere
SPARK_RBAC = [
    ("create", "pods", True),
    ("delete", "pods", True),
    ("watch", "pods", True),
    ("create", "configmaps", True),
    ("delete", "configmaps", True),
    ("deletecollection", "pods", False),
    ("deletecollection", "configmaps", False),
    ("create", "services", False),
    ("delete", "services", False),
    ("create", "persistentvolumeclaims", False),
    ("delete", "persistentvolumeclaims", False),
    ("deletecollection", "persistentvolumeclaims", False),
    ("update", "pods", False),
    ("create", "secrets", False),
    ("create", "jobs.batch", False),
]


@pytest.mark.parametrize(
    ("verb", "resource", "allowed"),
    [pytest.param(*row, id=f"{row[0]}-{row[1].split('.')[0]}") for row in SPARK_RBAC],
)
def test_spark_driver_account_holds_only_what_executors_need(
    cluster: Cluster, labs_ready: bs.Result, verb: str, resource: str, allowed: bool
) -> None:
    answer = cluster.kubectl.run(
        "auth", "can-i", verb, resource, "-n", NAMESPACE, *IDENTITIES["spark"], check=False
    ).strip()
    assert answer == ("yes" if allowed else "no"), f"spark: can-i {verb} {resource}: {answer}"


def test_quota_counts_config_maps_the_spark_driver_creates(cluster: Cluster, labs_ready: bs.Result) -> None:
    # a driver (a member's code, holding the spark token) creates config maps: the quota counts them
    hard = cluster.kubectl.json("-n", NAMESPACE, "get", "resourcequota", "lab-quota")["spec"]["hard"]
    assert "count/configmaps" in hard, f"lab-quota does not count config maps: {sorted(hard)}"
    name = "itest-counted-by-quota"
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}

    def used() -> int:
        quota = cluster.kubectl.json("-n", NAMESPACE, "get", "resourcequota", "lab-quota")
        return int(quota.get("status", {}).get("used", {}).get("count/configmaps", "0"))

    deadline = time.monotonic() + 60
    while "count/configmaps" not in cluster.kubectl.json("-n", NAMESPACE, "get", "resourcequota", "lab-quota").get(
        "status", {}
    ).get("used", {}):
        assert time.monotonic() < deadline, "the quota controller never counted config maps"
        time.sleep(1)
    before = used()
    cluster.kubectl.run(*IDENTITIES["spark"], "-n", NAMESPACE, "create", "-f", "-", stdin=yaml.safe_dump(cm))
    try:
        assert used() == before + 1  # admission charges the quota at create time
    finally:
        cluster.kubectl.run("-n", NAMESPACE, "delete", "configmap", name, "--ignore-not-found", check=False)
