"""kube-prometheus-stack selects this repository's rules and monitors by our own label, and
every rule and monitor we ship carries it (the chart's default selects only its release label)."""

from __future__ import annotations

import pytest
import yaml

from biogitops.config.settings import known_envs
from biogitops.paths import REPO_ROOT
from biogitops.render import targets

LABEL = {"bio-gitops.io/monitoring": "true"}
VALUES = yaml.safe_load((REPO_ROOT / "observability/prometheus/values.yaml").read_text())
SELECTED_KINDS = {"PrometheusRule", "ServiceMonitor", "PodMonitor"}


@pytest.mark.parametrize("kind", ["rule", "serviceMonitor", "podMonitor"])
def test_prometheus_selects_our_label_in_every_namespace(kind: str) -> None:
    spec = VALUES["prometheus"]["prometheusSpec"]
    assert spec[f"{kind}SelectorNilUsesHelmValues"] is False
    assert spec[f"{kind}Selector"] == {"matchLabels": LABEL}
    assert spec[f"{kind}NamespaceSelector"] == {}


def test_the_charts_own_objects_carry_the_label() -> None:
    assert VALUES["commonLabels"] == LABEL


def test_env_values_do_not_override_the_selectors() -> None:
    for env in known_envs():
        path = REPO_ROOT / f"observability/prometheus/values.{env}.yaml"
        spec = ((yaml.safe_load(path.read_text()) or {}).get("prometheus") or {}).get("prometheusSpec") or {}
        assert not [k for k in spec if "Selector" in k], f"{path} changes a selector"


@pytest.mark.parametrize("env", known_envs())
def test_every_rule_and_monitor_we_ship_is_selected(env: str) -> None:
    objects = targets.kustomize(REPO_ROOT / "observability") + targets.render_app_chart("galaxy-extras", env)
    shipped = [o for o in objects if o["kind"] in SELECTED_KINDS]
    assert {o["kind"] for o in shipped} == SELECTED_KINDS
    unselected = [
        f"{o['kind']}/{o['metadata']['name']}"
        for o in shipped
        if not LABEL.items() <= o["metadata"].get("labels", {}).items()
    ]
    assert unselected == []


def test_dashboards_reach_grafanas_sidecar_and_provider() -> None:
    objects = targets.kustomize(REPO_ROOT / "observability")
    dashboards = [
        o
        for o in objects
        if o["kind"] == "ConfigMap"
        and o["metadata"]["name"].startswith("grafana-dashboard-")
        and "provider" not in o["metadata"]["name"]
    ]
    sidecar = VALUES["grafana"]["sidecar"]["dashboards"]
    provider = yaml.safe_load((REPO_ROOT / "observability/grafana/provisioning.yaml").read_text())["providers"][0]
    assert len(dashboards) == len(list((REPO_ROOT / "observability/grafana/dashboards").glob("*.json")))
    for cm in dashboards:
        assert cm["metadata"]["labels"][sidecar["label"]] == sidecar["labelValue"]
        assert cm["metadata"]["annotations"]["k8s-sidecar-target-directory"] == provider["options"]["path"]
    mount = VALUES["grafana"]["extraConfigmapMounts"][0]
    assert mount["configMap"] in {o["metadata"]["name"] for o in objects if o["kind"] == "ConfigMap"}
    assert mount["mountPath"].startswith("/etc/grafana/provisioning/dashboards/")
