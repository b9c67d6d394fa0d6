"""`invoke bootstrap` on a real cluster with the real Argo CD: projects, Applications,
tenant isolation, idempotency, resume, and labs coming and going."""

from __future__ import annotations

import time

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.render import affected

from .conftest import Cluster, submit_probe
from .conftest import apps as _apps


@pytest.fixture(scope="module")
def result(cluster: Cluster, provider: Provider) -> bs.Result:
    return bs.Bootstrap(Target.of(provider), print).run()


def test_default_project_is_empty_and_unused(cluster: Cluster, result: bs.Result) -> None:
    default = cluster.custom.get_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "appprojects", "default")
    spec = default["spec"]
    assert not spec.get("sourceRepos") and not spec.get("destinations")
    assert {"group": "*", "kind": "*"} in spec["namespaceResourceBlacklist"]
    assert {"group": "*", "kind": "*"} in spec["clusterResourceBlacklist"]
    assert [n for n, a in _apps(cluster).items() if a["spec"]["project"] == "default"] == []


def test_every_expected_project_exists_one_per_lab(cluster: Cluster, result: bs.Result) -> None:
    live = cluster.custom.list_namespaced_custom_object("argoproj.io", "v1alpha1", "argocd", "appprojects")["items"]
    names = {p["metadata"]["name"] for p in live}
    assert set(result.graph.projects) <= names
    labs = sorted(p.stem for p in (REPO_ROOT / "clusters" / result.provider.settings.env / "labs").glob("*.yaml"))
    assert {f"lab-{lab}" for lab in labs} <= names


def test_every_expected_application_exists_and_first_party_are_healthy(cluster: Cluster, result: bs.Result) -> None:
    live = _apps(cluster)
    assert set(result.graph.applications) <= set(live)
    states = {n: bs.blocked(n, bs.app_state(live[n]), live) for n in result.graph.applications}
    # on kind here nothing runs Gatekeeper (its chart is unreachable; kwok runs it as a local
    # process), so only there may the Applications that need it wait on it
    may_wait = set(bs.NEEDS_RUNNING) if result.provider.name == "kind" else set()
    unhealthy = {
        n: states[n]
        for n in result.graph.first_party()
        if states[n] != bs.HEALTHY and not (n in may_wait and states[n].startswith("blocked: "))
    }
    assert unhealthy == {}


def test_live_application_specs_are_the_ones_the_snapshot_defines(cluster: Cluster, result: bs.Result) -> None:
    # onboarding waits only for the Applications a snapshot concerns (affected.py); one whose live
    # spec differs from the expected graph counts as concerned, so any difference in how Argo CD
    # stores a generated spec would make every onboarding wait for every Application
    live = _apps(cluster)
    differ = [n for n, app in result.graph.applications.items() if not affected.spec_matches(app, live[n])]
    assert differ == []


def test_exactly_the_upstream_applications_are_unreachable_offline(cluster: Cluster, result: bs.Result) -> None:
    live = _apps(cluster)
    unreachable = {n for n in result.graph.applications if bs.app_state(live[n]) == bs.UNREACHABLE}
    upstream = set(result.graph.upstream())
    assert upstream, "the graph should contain upstream-chart Applications"
    # derived from the manifests: a first-party Application can never hide in this set
    assert unreachable <= upstream
    for name in upstream - unreachable:
        assert bs.app_state(live[name]) == bs.HEALTHY, name


def _repo(result: bs.Result) -> str:
    return result.graph.applications["cluster-base"]["spec"]["source"]["repoURL"]


def test_lab_cannot_target_another_labs_namespace(cluster: Cluster, result: bs.Result, probe) -> None:
    conds = submit_probe(
        cluster, _repo(result), probe, "itest-cross-lab", "applications/spark-operator/lab", "lab-proteomics"
    )
    assert any(c["type"] == "InvalidSpecError" and "lab-proteomics" in c["message"] for c in conds), conds


def test_lab_cannot_create_a_clusterrole(cluster: Cluster, result: bs.Result, probe) -> None:
    conds = submit_probe(
        cluster, _repo(result), probe, "itest-clusterrole", "tests/fixtures/forbidden-clusterrole", "lab-genomics"
    )
    assert any("ClusterRole" in c["message"] and "not permitted" in c["message"] for c in conds), conds
    assert not cluster.kubectl.ok("get", "clusterrole", "itest-lab-escalation")


def _written(obj: dict) -> str:
    """What changes when anyone but a controller's status update writes `obj`: its resourceVersion,
    except for kinds whose controllers keep rewriting their status (ApplicationSets list their
    Applications' health; Gatekeeper's audit writes each constraint's violations every run),
    where it is the spec's generation, the annotations and every non-status write recorded in
    managedFields (kubectl apply and annotate leave one)."""
    meta = obj["metadata"]
    status_rewritten = obj["kind"] == "ApplicationSet" or obj["apiVersion"].startswith("constraints.gatekeeper.sh/")
    if not status_rewritten:
        return meta["resourceVersion"]
    writes = [
        (m["manager"], m["operation"], m.get("time"))
        for m in meta.get("managedFields") or []
        if m.get("subresource") != "status"
    ]
    return repr((meta["generation"], sorted((meta.get("annotations") or {}).items()), sorted(writes)))


def _managed_versions(cluster: Cluster, result: bs.Result) -> dict[str, str]:
    versions = {}
    for kind in ("appprojects.argoproj.io", "applicationsets.argoproj.io"):
        for obj in cluster.kubectl.json("-n", "argocd", "get", kind, "--show-managed-fields")["items"]:
            versions[f"{kind}/{obj['metadata']['name']}"] = _written(obj)
    live = _apps(cluster)
    for name, app in live.items():
        if name not in result.graph.applications:
            continue
        if bs.blocked(name, bs.app_state(app), live).startswith("blocked: "):
            continue  # kind here: nothing of it can exist (its kinds come from a Gatekeeper not running)
        for res in (app.get("status") or {}).get("resources") or []:
            if res["kind"] == "Application":
                continue
            args = ["get", f"{res['kind']}.{res.get('group') or ''}".rstrip("."), res["name"], "--show-managed-fields"]
            if res.get("namespace"):
                args = ["-n", res["namespace"], *args]
            versions[f"{res['kind']}/{res.get('namespace', '')}/{res['name']}"] = _written(cluster.kubectl.json(*args))
    return versions


def test_second_bootstrap_changes_nothing(cluster: Cluster, provider: Provider, result: bs.Result) -> None:
    before = _managed_versions(cluster, result)
    assert len(before) > 20
    bs.Bootstrap(Target.of(provider), print).run()
    assert _managed_versions(cluster, result) == before


# past Argo CD's install, every step applies Argo CD objects through the API server, alike on every
# provider: CI's kind stage leaves those cases to kwok (conftest, api_server)
PROVIDER_STEPS = ("preflight", "cluster", "argocd")


@pytest.mark.parametrize(
    "step", [s if s in PROVIDER_STEPS else pytest.param(s, marks=pytest.mark.api_server) for s in bs.STEPS[:-1]]
)
def test_bootstrap_interrupted_after_a_step_then_rerun_converges(
    provider: Provider, result: bs.Result, step: str
) -> None:
    bs.Bootstrap(Target.of(provider), print).run(stop_after=step)
    again = bs.Bootstrap(Target.of(provider), print).run()
    assert all(bs.settled(n, s, set(again.graph.upstream())) for n, s in again.states.items())


def _write_lab(path, apps: dict) -> None:
    data = {
        "name": path.stem,
        "owners": f"{path.stem}-admins",
        "members": path.stem,
        "quota": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"},
        "apps": apps,
    }
    path.write_text(yaml.safe_dump(data))


def eventually(cond, timeout: float) -> bool:
    """True as soon as cond() holds; False if it never did within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(2)
    return True


def stays(cond, seconds: float) -> bool:
    """True if cond() holds for the whole of `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not cond():
            return False
        time.sleep(3)
    return True


def kept(cluster: Cluster, *what: str) -> bool:
    """The object exists and nothing is deleting it: `kept(cluster, "-n", ns, "pvc", name)`."""
    if not cluster.kubectl.ok("get", *what):
        return False
    return "deletionTimestamp" not in cluster.kubectl.json("get", *what)["metadata"]


@pytest.mark.api_server  # what Argo CD prunes and keeps: the same on every API server
def test_removing_an_app_or_the_lab_file_keeps_the_labs_namespace_and_volumes(
    cluster: Cluster, provider: Provider, result: bs.Result
) -> None:
    lab_file = REPO_ROOT / "clusters" / provider.settings.env / "labs" / "itest.yaml"
    _write_lab(lab_file, {"nextflow": {"workdir": "1Gi"}})
    try:
        added = bs.Bootstrap(Target.of(provider), print).run()
        assert "lab-itest" in added.graph.projects
        assert added.states["lab-itest"] == bs.HEALTHY
        assert added.states["lab-itest-nextflow"] == bs.HEALTHY
        assert cluster.kubectl.ok("-n", "lab-itest", "get", "resourcequota", "lab-quota")
        assert cluster.kubectl.ok("-n", "lab-itest", "get", "pvc", "nextflow-work")

        # the app leaves `apps:`: its Application goes, its work dir stays
        _write_lab(lab_file, {})
        bs.Bootstrap(Target.of(provider), print).run()
        assert eventually(lambda: "lab-itest-nextflow" not in _apps(cluster), 120)
        assert stays(lambda: kept(cluster, "-n", "lab-itest", "pvc", "nextflow-work"), 20), "work dir deleted"
    finally:
        lab_file.unlink()

    # the lab file goes: its Applications go, its namespace and volumes stay
    bs.Bootstrap(Target.of(provider), print).run()
    assert eventually(lambda: "lab-itest" not in _apps(cluster), 120)
    assert stays(lambda: kept(cluster, "namespace", "lab-itest"), 30), "namespace deleted"
    assert kept(cluster, "-n", "lab-itest", "pvc", "nextflow-work")
    assert kept(cluster, "-n", "lab-itest", "resourcequota", "lab-quota")
    # clean up the orphan by hand (`invoke lab.offboard` is tested on its own)
    cluster.kubectl.run("-n", "argocd", "delete", "appproject", "lab-itest", "--ignore-not-found")
    cluster.kubectl.run("delete", "namespace", "lab-itest", "--wait=false")


def test_lab_project_allows_only_its_namespace_and_no_cluster_kinds(cluster: Cluster, result: bs.Result) -> None:
    proj = cluster.custom.get_namespaced_custom_object(
        "argoproj.io", "v1alpha1", "argocd", "appprojects", "lab-genomics"
    )
    assert [d["namespace"] for d in proj["spec"]["destinations"]] == ["lab-genomics"]
    assert not proj["spec"].get("clusterResourceWhitelist")
