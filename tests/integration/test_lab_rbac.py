"""Lab RBAC as documented, on the real API server: what lab-admin and lab-member may do in their
own and another lab's namespace (`kubectl auth can-i`), and what admission refuses even where
RBAC allows it (clusters/base/admission): members reading Secrets through the pods they launch or
running them as the lab's platform accounts,
bindings and Roles wider than the lab, Services exposed outside the cluster.

    flock /tmp/bio-gitops-kwok.lock nox -s integration -- --provider kwok -k test_lab_rbac

Creates are server-side dry runs: the full admission chain runs and nothing is stored.
"""

from __future__ import annotations

import copy
import time

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.platform import pipeline
from biogitops.render.manifests import helm_template

from .conftest import Cluster

# the same on every API server: CI proves it on kwok, kind's stage deselects it (conftest)
pytestmark = pytest.mark.api_server

SPARK_LAB = REPO_ROOT / "applications" / "spark-operator" / "lab"
NEXTFLOW = REPO_ROOT / "applications" / "nextflow"
# owners and members groups of each dev lab (clusters/dev/labs/*.yaml)
LABS = {"genomics": ("genomics-admins", "genomics"), "proteomics": ("proteomics-admins", "proteomics")}
OTHER = {"genomics": "proteomics", "proteomics": "genomics"}

# role, verb, resource, namespace ("own", "other", or "" for cluster scope), allowed
MATRIX = [
    ("member", "get", "pods", "own", True),
    ("member", "get", "pods/log", "own", True),
    ("member", "list", "events", "own", True),
    ("member", "create", "jobs.batch", "own", True),
    ("member", "delete", "jobs.batch", "own", True),
    ("member", "create", "sparkapplications.sparkoperator.k8s.io", "own", True),
    ("member", "get", "resourcequotas", "own", True),
    ("member", "get", "secrets", "own", False),
    ("member", "list", "secrets", "own", False),
    ("member", "create", "pods", "own", False),
    ("member", "create", "pods/exec", "own", False),
    ("member", "create", "pods/attach", "own", False),
    ("member", "update", "pods/ephemeralcontainers", "own", False),
    ("member", "create", "serviceaccounts/token", "own", False),
    ("member", "impersonate", "serviceaccounts", "own", False),
    ("member", "patch", "jobs.batch", "own", False),
    ("member", "create", "cronjobs.batch", "own", False),
    ("member", "create", "deployments.apps", "own", False),
    ("member", "create", "configmaps", "own", False),
    ("member", "create", "services", "own", False),
    ("member", "create", "rolebindings.rbac.authorization.k8s.io", "own", False),
    ("member", "get", "pods", "other", False),
    ("member", "create", "jobs.batch", "other", False),
    ("member", "create", "sparkapplications.sparkoperator.k8s.io", "other", False),
    ("admin", "get", "secrets", "own", True),
    ("admin", "create", "pods", "own", True),
    ("admin", "create", "pods/exec", "own", True),
    ("admin", "create", "deployments.apps", "own", True),
    ("admin", "create", "cronjobs.batch", "own", True),
    ("admin", "create", "services", "own", True),
    ("admin", "create", "serviceaccounts", "own", True),
    ("admin", "get", "networkpolicies.networking.k8s.io", "own", True),
    ("admin", "list", "rolebindings.rbac.authorization.k8s.io", "own", True),
    ("admin", "create", "networkpolicies.networking.k8s.io", "own", False),
    ("admin", "delete", "resourcequotas", "own", False),
    ("admin", "patch", "limitranges", "own", False),
    ("admin", "create", "rolebindings.rbac.authorization.k8s.io", "own", False),
    ("admin", "create", "roles.rbac.authorization.k8s.io", "own", False),
    ("admin", "escalate", "roles.rbac.authorization.k8s.io", "own", False),
    ("admin", "bind", "clusterroles.rbac.authorization.k8s.io", "own", False),
    ("admin", "impersonate", "serviceaccounts", "own", False),
    ("admin", "create", "serviceaccounts/token", "own", False),
    ("admin", "delete", "namespaces", "", False),
    ("admin", "create", "clusterrolebindings.rbac.authorization.k8s.io", "", False),
    ("admin", "get", "secrets", "other", False),
    ("admin", "create", "pods", "other", False),
    ("admin", "create", "jobs.batch", "other", False),
]


@pytest.fixture(scope="module")
def labs_ready(cluster: Cluster, provider: Provider) -> bs.Result:
    assert cluster.kubectl.ok("get", "crd", "sparkapplications.sparkoperator.k8s.io")
    return bs.Bootstrap(Target.of(provider), print).run()


def _identity(lab: str, role: str) -> list[str]:
    group = LABS[lab][0 if role == "admin" else 1]
    return ["--as", f"{group}-user", "--as-group", group]


def _namespace(lab: str, where: str) -> list[str]:
    return {"own": ["-n", f"lab-{lab}"], "other": ["-n", f"lab-{OTHER[lab]}"], "": []}[where]


@pytest.mark.parametrize("lab", sorted(LABS))
@pytest.mark.parametrize(
    ("role", "verb", "resource", "where", "allowed"),
    [pytest.param(*row, id="-".join([row[0], row[1], row[2].split(".")[0], row[3] or "cluster"])) for row in MATRIX],
)
def test_can_i(
    cluster: Cluster, labs_ready: bs.Result, lab: str, role: str, verb: str, resource: str, where: str, allowed: bool
) -> None:
    # `can-i VERB pods/exec` would ask about a pod named "exec": subresources go in their own flag
    kind, _, sub = resource.partition("/")
    subresource = [f"--subresource={sub}"] if sub else []
    answer = cluster.kubectl.run(
        "auth", "can-i", verb, kind, *subresource, *_namespace(lab, where), *_identity(lab, role), check=False
    ).strip()
    assert answer == ("yes" if allowed else "no"), f"{role} of {lab}: can-i {verb} {resource} {where}: {answer}"


def _create(cluster: Cluster, obj: dict, namespace: str, *identity: str) -> None:
    """Server-side dry-run create; raises BioGitopsError with the refusal."""
    cluster.kubectl.run(*identity, "-n", namespace, "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj))


def _refused(cluster: Cluster, obj: dict, message: str, *identity: str, namespace: str = "lab-genomics") -> None:
    """The dry-run create fails with `message` (a regular expression) in kubectl's error."""
    with pytest.raises(BioGitopsError, match=message):
        _create(cluster, obj, namespace, *identity)


def _member(lab: str = "genomics") -> list[str]:
    return _identity(lab, "member")


def _launcher(name: str = "itest-rbac-launcher") -> dict:
    return pipeline.launcher_job("dev", "genomics", "nf-core/demo", "1.0.1", "test", name)


def _member_job(name: str = "itest-rbac-job") -> dict:
    """A Job as a member writes one: the launcher's pod, as `default`, without the platform's labels."""
    job = _launcher(name)
    job["spec"]["template"]["metadata"]["labels"] = {"bio-gitops.io/lab": "genomics"}
    job["spec"]["template"]["spec"]["serviceAccountName"] = "default"
    return job


def _with_pod(job: dict, change) -> dict:
    out = copy.deepcopy(job)
    change(out["spec"]["template"]["spec"])
    return out


def _secret_volume(spec: dict) -> None:
    spec["volumes"].append({"name": "creds", "secret": {"secretName": "galaxy-db"}})


def _projected_secret(spec: dict) -> None:
    spec["volumes"].append({"name": "creds", "projected": {"sources": [{"secret": {"name": "galaxy-db"}}]}})


def _env_secret(spec: dict) -> None:
    ref = {"secretKeyRef": {"name": "galaxy-db", "key": "password"}}
    spec["containers"][0]["env"].append({"name": "PASSWORD", "valueFrom": ref})


def _env_from_secret(spec: dict) -> None:
    spec["containers"][0]["envFrom"] = [{"secretRef": {"name": "galaxy-db"}}]


def _init_env_secret(spec: dict) -> None:
    init = copy.deepcopy(spec["containers"][0])
    init["name"] = "init"
    init["env"] = [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "galaxy-db", "key": "password"}}}]
    spec["initContainers"] = [init]


def _other_account(spec: dict) -> None:
    spec["serviceAccountName"] = "galaxy"


def _deprecated_account_field(spec: dict) -> None:
    del spec["serviceAccountName"]  # the API server fills it from the deprecated alias
    spec["serviceAccount"] = "galaxy"


ESCALATIONS = {
    "secret-volume": (_secret_volume, "may not mount Secrets"),
    "projected-secret": (_projected_secret, "may not mount Secrets"),
    "env-secretKeyRef": (_env_secret, "may not read Secrets into the environment"),
    "envFrom-secretRef": (_env_from_secret, "may not read Secrets into the environment"),
    "initContainer-secretKeyRef": (_init_env_secret, "may not read Secrets into the environment"),
    "other-serviceaccount": (_other_account, "run only as the ServiceAccount default"),
    "deprecated-serviceAccount-field": (_deprecated_account_field, "run only as the ServiceAccount default"),
}


@pytest.mark.parametrize("case", sorted(ESCALATIONS))
def test_member_job_that_reaches_secrets_is_refused(cluster: Cluster, labs_ready: bs.Result, case: str) -> None:
    change, message = ESCALATIONS[case]
    _refused(cluster, _with_pod(_member_job(), change), message, *_member())


def _as_kind(kind: str, job: dict) -> dict:
    """The Job's pod template inside another workload kind."""
    if kind == "CronJob":
        return {
            "apiVersion": "batch/v1",
            "kind": kind,
            "metadata": {"name": "itest-rbac-kind"},
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": job["spec"]}},
        }
    template = copy.deepcopy(job["spec"]["template"])
    template["spec"]["restartPolicy"] = "Always"
    spec = {"selector": {"matchLabels": template["metadata"]["labels"]}, "template": template}
    if kind == "StatefulSet":
        spec["serviceName"] = "itest"
    return {"apiVersion": "apps/v1", "kind": kind, "metadata": {"name": "itest-rbac-kind"}, "spec": spec}


@pytest.mark.parametrize("kind", ["CronJob", "Deployment", "StatefulSet", "ReplicaSet"])
def test_every_pod_template_kind_is_checked(cluster: Cluster, labs_ready: bs.Result, kind: str) -> None:
    # no lab role lets members or workload accounts create these (see the matrix); if one ever
    # does, admission still reads the pod template: the nextflow account, with RBAC out of the way
    sa = ["--as", "system:serviceaccount:lab-genomics:nextflow", "--as-group", "system:masters"]
    _create(cluster, _as_kind(kind, _member_job()), "lab-genomics", *sa)
    _refused(cluster, _as_kind(kind, _with_pod(_member_job(), _secret_volume)), "may not mount Secrets", *sa)


def test_member_job_as_default_is_still_accepted(cluster: Cluster, labs_ready: bs.Result) -> None:
    _create(cluster, _member_job(), "lab-genomics", *_member())


def test_launcher_runs_as_nextflow_only_when_an_owner_starts_it(cluster: Cluster, labs_ready: bs.Result) -> None:
    # the nextflow account creates and deletes the lab's pods: a member may not lend it to a Job
    launcher = _launcher()
    launcher["spec"]["template"]["metadata"]["labels"] = {"bio-gitops.io/lab": "genomics"}
    _refused(cluster, launcher, "run only as the ServiceAccount default", *_member())
    _create(cluster, _launcher(), "lab-genomics", *_identity("genomics", "admin"))


def test_owner_may_mount_secrets(cluster: Cluster, labs_ready: bs.Result) -> None:
    # an owner who is also a member is an owner
    identity = [*_identity("genomics", "admin"), "--as-group", "genomics"]
    _create(cluster, _with_pod(_launcher("itest-rbac-owner"), _secret_volume), "lab-genomics", *identity)


def _task_pod(name: str) -> dict:
    """A Nextflow task pod (restricted profile), as the `nextflow` ServiceAccount submits it."""
    values = yaml.safe_load((NEXTFLOW / "values.yaml").read_text())
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"nextflow.io/app": "nextflow"}},
        "spec": {
            "serviceAccountName": "nextflow",
            "restartPolicy": "Never",
            "securityContext": values["taskSecurityContext"],
            "containers": [
                {
                    "name": "task",
                    "image": "quay.io/biocontainers/fastqc:0.12.1--hdfd78af_0",
                    "env": [],
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "256Mi"}},
                }
            ],
            "volumes": [],
        },
    }


@pytest.mark.parametrize("account", ["nextflow", "spark"])
def test_workload_account_pod_with_secrets_is_refused(cluster: Cluster, labs_ready: bs.Result, account: str) -> None:
    sa = ["--as", f"system:serviceaccount:lab-genomics:{account}"]

    def pod_as_itself() -> dict:
        pod = _task_pod("itest-rbac-task")
        pod["spec"]["serviceAccountName"] = account  # its tasks or executors run as itself
        return pod

    _create(cluster, pod_as_itself(), "lab-genomics", *sa)
    pod = pod_as_itself()
    _secret_volume(pod["spec"])
    _refused(cluster, pod, "may not mount Secrets", *sa)
    pod = pod_as_itself()
    _env_secret(pod["spec"])
    _refused(cluster, pod, "may not read Secrets into the environment", *sa)


def _spark_app() -> dict:
    [app] = [
        o
        for o in helm_template(SPARK_LAB, [{"lab": "genomics", "sparkPi": {"enabled": True}}])
        if o["kind"] == "SparkApplication"
    ]
    return app


def _spark_with(change) -> dict:
    app = _spark_app()
    change(app["spec"])
    return app


SPARK_ESCALATIONS = {
    "driver-secrets": (
        lambda s: s["driver"].update(secrets=[{"name": "galaxy-db", "path": "/s", "secretType": "Generic"}]),
        "may not add Secrets",
    ),
    "executor-envSecretKeyRefs": (
        lambda s: s["executor"].update(envSecretKeyRefs={"P": {"name": "galaxy-db", "key": "password"}}),
        "may not add Secrets",
    ),
    "sparkConf-secret": (
        lambda s: s.update(sparkConf={"spark.kubernetes.driver.secrets.galaxy-db": "/s"}),
        "spark.kubernetes.driver.secrets.galaxy-db is not on the allow-list",
    ),
    "secret-volume": (
        lambda s: s.update(volumes=[{"name": "creds", "secret": {"secretName": "galaxy-db"}}]),
        # two policies refuse it; the API server reports whichever it evaluates first, and that
        # order is not fixed (kwok: lab-spark-submit, kind: lab-pod-secrets)
        r"spec.volumes\[creds\]: a lab Spark pod mounts only|may not mount Secrets \(secret or projected",
    ),
    "driver-envFrom": (
        lambda s: s["driver"].update(envFrom=[{"secretRef": {"name": "galaxy-db"}}]),
        "may not read Secrets into the environment",
    ),
    "driver-other-serviceaccount": (
        lambda s: s["driver"].update(serviceAccount="galaxy"),
        "spec.driver.serviceAccount",
    ),
    "executor-template-serviceaccount": (
        lambda s: s["executor"].update(template={"spec": {"serviceAccountName": "galaxy"}}),
        "spec.executor.template",
    ),
}


@pytest.mark.parametrize("case", sorted(SPARK_ESCALATIONS))
def test_member_spark_application_that_reaches_secrets_is_refused(
    cluster: Cluster, labs_ready: bs.Result, case: str
) -> None:
    change, message = SPARK_ESCALATIONS[case]
    _refused(cluster, _spark_with(change), message, *_member())


def _quota_settled(cluster: Cluster, timeout: float = 90) -> None:
    """Right after the CRD appears the quota refuses with "status unknown" for a few seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _create(cluster, _spark_app(), "lab-genomics", *_member())
            return
        except BioGitopsError as err:
            if "status unknown for quota" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(2)


def test_member_spark_application_is_still_accepted(cluster: Cluster, labs_ready: bs.Result) -> None:
    _quota_settled(cluster)


def _binding(name: str, kind: str, role: str, subjects: list[dict]) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role},
        "subjects": subjects,
    }


GROUP = {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "genomics"}
DEFAULT_SA = {"kind": "ServiceAccount", "name": "default", "namespace": "lab-genomics"}

BAD_BINDINGS = {
    "cluster-admin": (_binding("itest-rb", "ClusterRole", "cluster-admin", [GROUP]), "not ClusterRole cluster-admin"),
    "admin": (_binding("itest-rb", "ClusterRole", "admin", [GROUP]), "not ClusterRole admin"),
    "lab-admin-to-serviceaccount": (
        _binding("itest-rb", "ClusterRole", "bio-gitops:lab-admin", [DEFAULT_SA]),
        "bound to the lab's people groups only",
    ),
    "role-to-system-authenticated": (
        _binding("itest-rb", "Role", "nextflow", [{**GROUP, "name": "system:authenticated"}]),
        "no system: users or groups",
    ),
    "role-to-another-labs-serviceaccount": (
        _binding("itest-rb", "Role", "nextflow", [{**DEFAULT_SA, "namespace": "lab-proteomics"}]),
        "ServiceAccounts of that namespace",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_BINDINGS))
def test_cluster_admin_cannot_widen_a_lab_with_a_rolebinding(
    cluster: Cluster, labs_ready: bs.Result, case: str
) -> None:
    # as the kubeconfig's cluster admin, as Argo CD's controller is: RBAC's escalation check passes
    binding, message = BAD_BINDINGS[case]
    _refused(cluster, binding, message)


def _role(rules: list[dict]) -> dict:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "itest-role"},
        "rules": rules,
    }


BAD_ROLES = {
    "wildcard-verbs": ({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}, "no wildcards"),
    "wildcard-resources": ({"apiGroups": ["batch"], "resources": ["*"], "verbs": ["get"]}, "no wildcards"),
    "wildcard-groups": ({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}, "no wildcards"),
    "escalate": (
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["escalate"]},
        "escalate, bind or impersonate",
    ),
    "impersonate": ({"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["impersonate"]}, "impersonate"),
    "networkpolicy-write": (
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["create", "delete"]},
        "may only read ResourceQuotas",
    ),
    "resourcequota-write": ({"apiGroups": [""], "resources": ["resourcequotas"], "verbs": ["patch"]}, "only read"),
    "limitrange-write": ({"apiGroups": [""], "resources": ["limitranges"], "verbs": ["update"]}, "only read"),
    "rolebinding-write": (
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]},
        "only read",
    ),
    "secrets": ({"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}, "may not grant Secrets"),
    "token": ({"apiGroups": [""], "resources": ["serviceaccounts/token"], "verbs": ["create"]}, "may not grant"),
    "exec": ({"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]}, "may not grant"),
}


@pytest.mark.parametrize("case", sorted(BAD_ROLES))
def test_cluster_admin_cannot_write_a_role_wider_than_the_lab(
    cluster: Cluster, labs_ready: bs.Result, case: str
) -> None:
    rule, message = BAD_ROLES[case]
    _refused(cluster, _role([rule]), message)


def test_galaxy_operator_may_write_its_database_role(cluster: Cluster, labs_ready: bs.Result) -> None:
    # CloudNativePG gives each Postgres instance a Role that reads the Secrets it names
    role = _role([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "watch"], "resourceNames": ["db"]}])
    operator = ["--as", "system:serviceaccount:galaxy-deps:cnpg-manager", "--as-group", "system:masters"]
    _create(cluster, role, "lab-proteomics", *operator)
    _refused(cluster, role, "may not grant Secrets", namespace="lab-proteomics")


def test_the_charts_roles_and_bindings_are_accepted(cluster: Cluster, labs_ready: bs.Result) -> None:
    objs = helm_template(NEXTFLOW, [{"lab": "genomics"}]) + helm_template(SPARK_LAB, [{"lab": "genomics"}])
    rbac = [o for o in objs if o["kind"] in ("Role", "RoleBinding")]
    assert len(rbac) == 4
    rbac += [
        _binding("lab-admin", "ClusterRole", "bio-gitops:lab-admin", [{**GROUP, "name": "genomics-admins"}]),
        _binding("lab-member", "ClusterRole", "bio-gitops:lab-member", [GROUP]),
    ]
    for obj in rbac:
        obj["metadata"]["name"] = f"itest-{obj['metadata']['name']}"  # the real ones exist already
        _create(cluster, obj, "lab-genomics")


def test_lab_quota_holds_loadbalancers_and_nodeports_at_zero(cluster: Cluster, labs_ready: bs.Result) -> None:
    for lab in LABS:
        hard = cluster.kubectl.json("-n", f"lab-{lab}", "get", "resourcequota", "lab-quota")["spec"]["hard"]
        assert (hard.get("services.loadbalancers"), hard.get("services.nodeports")) == ("0", "0"), hard


def _service(**spec: object) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "itest-svc"},
        "spec": {"selector": {"app": "x"}, "ports": [{"port": 80}], **spec},
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param({"type": "LoadBalancer"}, "exposes a lab outside the cluster", id="loadbalancer"),
        pytest.param({"type": "NodePort"}, "exposes a lab outside the cluster", id="nodeport"),
        pytest.param({"externalIPs": ["203.0.113.7"]}, "may not set externalIPs", id="externalIPs"),
    ],
)
def test_service_exposed_outside_the_cluster_is_refused(
    cluster: Cluster, labs_ready: bs.Result, spec: dict, message: str
) -> None:
    # as the lab owner (RBAC allows Services) and as the cluster admin (Argo CD)
    for identity in (_identity("genomics", "admin"), []):
        _refused(cluster, _service(**spec), message, *identity)


def test_cluster_ip_service_is_accepted(cluster: Cluster, labs_ready: bs.Result) -> None:
    _create(cluster, _service(), "lab-genomics", *_identity("genomics", "admin"))
