"""biogitops/cluster/kwok/prometheus.py: the local Prometheus's configuration for a kwok cluster."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
import yaml

from biogitops.cluster.kwok import prometheus
from biogitops.cluster.kwok.local import PORTS
from biogitops.errors import ToolError
from biogitops.toolchain import tools


def kubeconfig(tmp_path: Path, inline: bool) -> Path:
    user = (
        {
            "client-certificate-data": base64.b64encode(b"CERT").decode(),
            "client-key-data": base64.b64encode(b"KEY").decode(),
        }
        if inline
        else {"client-certificate": "pki/admin.crt", "client-key": "/abs/admin.key"}
    )
    path = tmp_path / "kubeconfig.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "clusters": [
                    {
                        "name": "k",
                        "cluster": {
                            "server": "https://127.0.0.1:26400",
                            "certificate-authority-data": base64.b64encode(b"CA").decode(),
                        },
                    }
                ],
                "users": [{"name": "admin", "user": user}],
            }
        )
    )
    return path


@pytest.mark.parametrize("inline", [True, False], ids=["inline-certs", "cert-paths"])
def test_scrapes_apiserver_etcd_and_every_argocd_component(tmp_path: Path, inline: bool) -> None:
    local = prometheus.LocalPrometheus(tmp_path / "state", kubeconfig(tmp_path, inline), 26400)
    config = local.config()
    jobs = {c["job_name"]: c for c in config["scrape_configs"]}
    assert set(jobs) == {"apiserver", "etcd", "gatekeeper", "sealed-secrets", *prometheus.ARGOCD_JOBS}
    assert jobs["apiserver"]["static_configs"][0]["targets"] == [f"127.0.0.1:{26400 + PORTS['kwok']['kube-apiserver']}"]
    for job, port_name in prometheus.ARGOCD_JOBS.items():
        assert jobs[job]["static_configs"][0]["targets"] == [f"127.0.0.1:{26400 + PORTS['argocd'][port_name]}"]
    tls = jobs["apiserver"]["tls_config"]
    assert Path(tls["ca_file"]).read_bytes() == b"CA"
    if inline:
        assert Path(tls["cert_file"]).read_bytes() == b"CERT"
    else:
        assert tls["cert_file"] == str(tmp_path / "pki/admin.crt")
        assert tls["key_file"] == "/abs/admin.key"
    assert local.url == f"http://127.0.0.1:{26400 + PORTS['prometheus']['prometheus']}"


def test_rules_are_the_committed_prometheusrule_specs(tmp_path: Path) -> None:
    local = prometheus.LocalPrometheus(tmp_path / "state", kubeconfig(tmp_path, True), 26400)
    local.write()
    written = {p.name: yaml.safe_load(p.read_text()) for p in (local.home / "rules").glob("*.yaml")}
    assert written == prometheus.rule_specs()
    assert written, "no rule files"


def test_a_file_that_is_not_a_prometheusrule_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("kind: ConfigMap\n")
    with pytest.raises(Exception, match=r"x.yaml: not a PrometheusRule"):
        prometheus.rule_specs(tmp_path)


def test_promtool_accepts_the_configuration_and_rules(tmp_path: Path) -> None:
    try:
        promtool = tools.which("promtool")
    except ToolError:
        pytest.skip("promtool not installed (invoke tools.install --only promtool)")
    local = prometheus.LocalPrometheus(tmp_path / "state", kubeconfig(tmp_path, True), 26400)
    local.write()
    proc = subprocess.run(
        [str(promtool), "check", "config", str(local.home / "prometheus.yml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout and "rules found" in proc.stdout


def test_every_controller_beside_kwok_with_a_metrics_port_is_scraped(tmp_path: Path) -> None:
    """Issue 24: Gatekeeper and the Sealed Secrets controller ran beside kwok unscraped, so their
    alerts were proven by promtool only. Every metrics port of local.PORTS has a scrape job."""
    local = prometheus.LocalPrometheus(tmp_path / "state", kubeconfig(tmp_path, True), 26400)
    scraped = {t for c in local.config()["scrape_configs"] for s in c["static_configs"] for t in s["targets"]}
    metrics_ports = {
        f"127.0.0.1:{26400 + offset}"
        for group, ports in PORTS.items()
        if group != "kwok"
        for name, offset in ports.items()
        if "metrics" in name
    }
    assert metrics_ports - scraped == set()


def test_keycloak_is_scraped_over_tls_once_the_cluster_has_one(tmp_path: Path) -> None:
    """Issue 26: dev's identity provider runs beside kwok like the other controllers and is
    watched like them (KeycloakDown); a cluster without one gets no job that would stay down."""
    from biogitops.checks.alert_rules import declared_jobs
    from biogitops.cluster.kwok.keycloak import ca_file
    from biogitops.paths import REPO_ROOT

    local = prometheus.LocalPrometheus(tmp_path / "state", kubeconfig(tmp_path, True), 26400)
    assert prometheus.KEYCLOAK_JOB not in {c["job_name"] for c in local.config()["scrape_configs"]}
    ca = ca_file(tmp_path / "state")
    ca.parent.mkdir(parents=True)
    ca.write_text("CA")
    [job] = [c for c in local.config()["scrape_configs"] if c["job_name"] == prometheus.KEYCLOAK_JOB]
    assert job["scheme"] == "https" and job["tls_config"] == {"ca_file": str(ca)}
    assert job["static_configs"] == [{"targets": [f"127.0.0.1:{26400 + PORTS['keycloak']['management']}"]}]
    assert prometheus.KEYCLOAK_JOB in declared_jobs(REPO_ROOT)


def test_controller_jobs_are_the_jobs_metrics_yaml_declares() -> None:
    """The local jobs carry the names the in-cluster monitors give them, so that the committed
    rules (`up{job="..."}`) read the same series on kwok and in a cluster."""
    from biogitops.checks.alert_rules import declared_jobs
    from biogitops.paths import REPO_ROOT

    assert set(prometheus.CONTROLLER_JOBS) <= declared_jobs(REPO_ROOT)
    monitors = (REPO_ROOT / "observability/prometheus/service-monitors").glob("*.yaml")
    relabelled = {
        r["replacement"]
        for path in monitors
        for doc in [yaml.safe_load(path.read_text())]
        for ep in doc["spec"].get("endpoints") or doc["spec"].get("podMetricsEndpoints") or []
        for r in ep.get("relabelings") or []
        if r.get("targetLabel") == "job"
    }
    assert set(prometheus.CONTROLLER_JOBS) <= relabelled
