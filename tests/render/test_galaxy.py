"""Galaxy on this platform: the upstream chart with our values fits a lab (its project's kinds,
its quota), and our extras chart adds budgets and scraping. The upstream chart is rendered from
the verified chart cache (`invoke charts.import`) or its repository; without either these tests
skip and say so."""

from __future__ import annotations

import pytest
import yaml
from kubernetes.utils.quantity import parse_quantity

from biogitops.config.labs import load_labs
from biogitops.config.pins import load_pins
from biogitops.paths import REPO_ROOT
from biogitops.render import targets
from biogitops.render.manifests import argo_applies

ENVS = ["dev", "staging", "prod"]
LAB_KINDS = {
    (k["group"], k["kind"])
    for k in yaml.safe_load((REPO_ROOT / "clusters/argocd/lab-tenant/values.yaml").read_text())["labKinds"]
}


@pytest.fixture(scope="module")
def galaxy_source() -> list[str]:
    source, why = targets.upstream_source("galaxy", load_pins())
    if why:
        pytest.skip(f"galaxy {load_pins().charts['galaxy']['version']}: {why}")
    return source


def _extras(env: str) -> list[dict]:
    return targets.render_app_chart("galaxy-extras", env)


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity as a number, read by the pinned client as the rest of the repository does."""
    return float(parse_quantity(value))


def _footprint(objs: list[dict]) -> dict[str, float]:
    """What the running release counts against a ResourceQuota (steady state: Deployments at
    their replicas, the Postgres and RabbitMQ the operators start, every PVC)."""
    total = {"requests.cpu": 0.0, "requests.memory": 0.0, "limits.memory": 0.0, "requests.storage": 0.0}

    def add(resources: dict, times: int = 1) -> None:
        for kind in ("requests", "limits"):
            for res, value in (resources.get(kind) or {}).items():
                key = f"{kind}.{res}"
                if key in total:
                    total[key] += times * _quantity(value)

    for obj in objs:
        kind, spec = obj["kind"], obj.get("spec", {})
        if kind == "Deployment":
            for container in spec["template"]["spec"]["containers"]:
                add(container["resources"], spec.get("replicas", 1))
        elif kind == "Cluster":  # CloudNativePG
            add(spec["resources"], spec.get("instances", 1))
            total["requests.storage"] += spec.get("instances", 1) * _quantity(spec["storage"]["size"])
        elif kind == "RabbitmqCluster":
            add(spec["resources"], spec.get("replicas", 1))
            total["requests.storage"] += _quantity(spec["persistence"]["storage"])
        elif kind == "PersistentVolumeClaim":
            total["requests.storage"] += _quantity(spec["resources"]["requests"]["storage"])
    return total


@pytest.mark.parametrize("env", ENVS)
def test_galaxy_creates_only_kinds_a_lab_project_permits(env: str, galaxy_source: list[str]) -> None:
    objs = [o for o in targets.render_upstream("galaxy", env, galaxy_source) if argo_applies(o)] + _extras(env)
    kinds = {(o["apiVersion"].rpartition("/")[0], o["kind"]) for o in objs}
    assert kinds - LAB_KINDS == set(), "add them to labKinds, or turn them off in applications/galaxy/values.yaml"


@pytest.mark.parametrize("env", ENVS)
def test_every_galaxy_container_sets_memory_requests_and_limits(env: str, galaxy_source: list[str]) -> None:
    missing = []
    for obj in targets.render_upstream("galaxy", env, galaxy_source):
        if obj["kind"] == "Deployment":
            for c in obj["spec"]["template"]["spec"]["containers"]:
                res = c.get("resources") or {}
                if "memory" not in (res.get("requests") or {}) or "memory" not in (res.get("limits") or {}):
                    missing.append(f"{obj['metadata']['name']}/{c['name']}")
    assert missing == []


@pytest.mark.parametrize("env", ENVS)
def test_galaxy_fits_the_quota_of_every_lab_that_enables_it(env: str, galaxy_source: list[str]) -> None:
    labs = [lab for lab in load_labs(env) if "galaxy" in lab.apps]
    if not labs:
        pytest.skip(f"no lab in {env} enables galaxy")
    use = _footprint(targets.render_upstream("galaxy", env, galaxy_source))
    for lab in labs:
        quota = lab.data["quota"]
        hard = {
            "requests.cpu": _quantity(quota["cpu"]),
            "requests.memory": _quantity(quota["memory"]),
            "limits.memory": _quantity(quota["memory"]),
            "requests.storage": _quantity(quota["storage"]),
        }
        over = {k: (use[k], hard[k]) for k in hard if use[k] > hard[k]}
        assert over == {}, f"{lab.path}: galaxy needs more than the quota: {over}"


@pytest.mark.parametrize(("env", "budgets"), [("dev", 0), ("staging", 2), ("prod", 2)])
def test_disruption_budgets_only_where_web_handlers_are_replicated(env: str, budgets: int) -> None:
    pdbs = [o for o in _extras(env) if o["kind"] == "PodDisruptionBudget"]
    assert len(pdbs) == budgets
    assert all(p["spec"]["maxUnavailable"] == 1 for p in pdbs)


def test_service_monitors_carry_the_label_prometheus_selects() -> None:
    values = yaml.safe_load((REPO_ROOT / "observability/prometheus/values.yaml").read_text())
    selector = values["prometheus"]["prometheusSpec"]["serviceMonitorSelector"]["matchLabels"]
    monitors = [o for o in _extras("dev") if o["kind"] == "ServiceMonitor"]
    assert {m["metadata"]["name"] for m in monitors} == {"galaxy-postgres", "galaxy-rabbitmq"}
    assert all(selector.items() <= m["metadata"]["labels"].items() for m in monitors)


@pytest.mark.parametrize("env", ENVS)
def test_extras_select_what_the_upstream_chart_and_its_operators_label(env: str, galaxy_source: list[str]) -> None:
    upstream = targets.render_upstream("galaxy", env, galaxy_source)
    [pg] = [o for o in upstream if o["kind"] == "Cluster"]
    [mq] = [o for o in upstream if o["kind"] == "RabbitmqCluster"]
    extras = {(o["kind"], o["metadata"]["name"]): o for o in _extras(env)}
    assert extras[("Service", "galaxy-postgres-metrics")]["spec"]["selector"] == {
        "cnpg.io/cluster": pg["metadata"]["name"]
    }
    # the RabbitMQ operator names its client Service after the RabbitmqCluster
    selector = extras[("ServiceMonitor", "galaxy-rabbitmq")]["spec"]["selector"]["matchLabels"]
    assert selector["app.kubernetes.io/name"] == mq["metadata"]["name"]
    web = {o["metadata"]["name"]: o for o in upstream if o["kind"] == "Deployment"}
    for pdb in (o for o in extras.values() if o["kind"] == "PodDisruptionBudget"):
        component = pdb["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        matches = [
            n
            for n, d in web.items()
            if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component") == component
        ]
        assert matches, f"{pdb['metadata']['name']} selects no Deployment"
