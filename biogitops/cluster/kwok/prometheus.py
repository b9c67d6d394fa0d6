"""Prometheus as a local process beside a kwok cluster: the alert rules of this repository,
evaluated for real against the kube-apiserver, etcd and every controller that runs beside kwok
(the Argo CD components, Gatekeeper and the Sealed Secrets controller).

The pinned `prometheus` binary (pins.yaml, the same module and release as promtool) runs from
the environment's state directory, on 127.0.0.1 at kwok.basePort + 19 (local.py's table). Its
rule files are the `spec` of each PrometheusRule in observability/prometheus/alert-rules/,
extracted unchanged. Logs: <state>/prometheus/logs/prometheus.log.

    from biogitops.cluster.kwok import prometheus
    prom = prometheus.local(provider)
    prom.start(progress)            # idempotent; waits until /-/ready answers
    prom.alerts()                   # active alerts: [{"labels": ..., "state": "firing"}, ...]
    prom.stop()

Each controller is scraped under the job its monitors give it in the cluster
(observability/prometheus/service-monitors/, metrics.yaml `job`), so that the committed rules
read the same series here. kube-state-metrics and the kubelet do not run here: the alerts that
read them are proven by `promtool test rules` only (`nox -s rules`).
"""

from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.kwok.keycloak import ca_file as keycloak_ca_file
from biogitops.cluster.kwok.local import LocalProcess, port
from biogitops.cluster.kwok.procs import http_ok
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

RULES_DIR = REPO_ROOT / "observability" / "prometheus" / "alert-rules"
# what is scraped besides kwok's kube-apiserver and etcd: job -> the Argo CD port (local.PORTS)
ARGOCD_JOBS = {
    "argocd-application-controller": "controller-metrics",
    "argocd-server": "server-metrics",
    "argocd-repo-server": "repo-server-metrics",
    "argocd-applicationset-controller": "appset-metrics",
}
# the other controllers beside kwok: job (as metrics.yaml and the monitors name it) -> (group, port)
# of local.PORTS; every group of that table with a metrics port is scraped (test_prometheus_local.py)
CONTROLLER_JOBS = {
    "gatekeeper": ("gatekeeper", "metrics"),
    "sealed-secrets": ("sealed-secrets", "metrics"),
}
# dev's identity provider, when the cluster has one (its CA exists): its management port serves
# /metrics over the same TLS as the issuer
KEYCLOAK_JOB = "keycloak"


def _quiet(_: str) -> None:
    pass


def rule_specs(rules_dir: Path = RULES_DIR) -> dict[str, dict[str, Any]]:
    """file name -> the `spec` (rule groups) of each PrometheusRule, as Prometheus reads it."""
    out = {}
    for path in sorted(rules_dir.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or doc.get("kind") != "PrometheusRule":
            raise BioGitopsError(f"{path}: not a PrometheusRule", "run `nox -s rules` for the details")
        out[path.name] = doc["spec"]
    return out


@dataclass
class LocalPrometheus(LocalProcess):
    """Start, query and stop Prometheus for one kwok cluster."""

    group, name, what, listens, timeout = "prometheus", "prometheus", "Prometheus", ("prometheus",), 90
    scrape_interval: str = "15s"
    evaluation_interval: str = "15s"

    @property
    def url(self) -> str:
        return self.endpoint("prometheus")

    def _client_tls(self) -> dict[str, Any]:
        """TLS settings for the kube-apiserver from the kubeconfig (inline data written to files)."""
        config = yaml.safe_load(self.kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        tls_dir = self.home / "tls"
        tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        out: dict[str, Any] = {}
        for field, key in (
            ("certificate-authority", "ca_file"),
            ("client-certificate", "cert_file"),
            ("client-key", "key_file"),
        ):
            if cluster.get(f"{field}-data") or user.get(f"{field}-data"):
                path = tls_dir / f"{field}.pem"
                path.write_bytes(base64.b64decode(cluster.get(f"{field}-data") or user[f"{field}-data"]))
                path.chmod(0o600)
                out[key] = str(path)
            elif cluster.get(field) or user.get(field):
                given = Path(cluster.get(field) or user[field])
                out[key] = str(given if given.is_absolute() else self.kubeconfig.parent / given)
        if "ca_file" not in out:
            out["insecure_skip_verify"] = True
        if "cert_file" not in out and user.get("token"):
            raise BioGitopsError(f"{self.kubeconfig}: token users are not supported", "use the kwok admin kubeconfig")
        return out

    def config(self) -> dict[str, Any]:
        """prometheus.yml: the kwok control plane, the local controllers, and the extracted rules."""

        def target(group: str, name: str) -> list[dict[str, Any]]:
            return [{"targets": [f"127.0.0.1:{port(self.base_port, group, name)}"]}]

        scrape = [
            {
                "job_name": "apiserver",
                "scheme": "https",
                "tls_config": self._client_tls(),
                "static_configs": target("kwok", "kube-apiserver"),
            },
            {"job_name": "etcd", "static_configs": target("kwok", "etcd")},
        ]
        scrape += [{"job_name": job, "static_configs": target("argocd", p)} for job, p in ARGOCD_JOBS.items()]
        scrape += [{"job_name": job, "static_configs": target(g, p)} for job, (g, p) in CONTROLLER_JOBS.items()]
        if keycloak_ca_file(self.state_dir).is_file():
            scrape.append(
                {
                    "job_name": KEYCLOAK_JOB,
                    "scheme": "https",
                    "tls_config": {"ca_file": str(keycloak_ca_file(self.state_dir))},
                    "static_configs": target("keycloak", "management"),
                }
            )
        return {
            "global": {"scrape_interval": self.scrape_interval, "evaluation_interval": self.evaluation_interval},
            "rule_files": [str(self.home / "rules" / "*.yaml")],
            "scrape_configs": scrape,
        }

    def write(self, rules: dict[str, dict[str, Any]] | None = None) -> None:
        """Write prometheus.yml and the rule files (this repository's unless `rules` is given)."""
        rules_dir = self.home / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in rules_dir.glob("*.yaml"):
            old.unlink()
        for name, spec in (rules if rules is not None else rule_specs()).items():
            (rules_dir / name).write_text(yaml.safe_dump(spec, sort_keys=False))
        (self.home / "prometheus.yml").write_text(yaml.safe_dump(self.config(), sort_keys=False))

    def binary(self, progress: Callable[[str], None] = _quiet) -> Path:
        return tools.which("prometheus")

    def argv(self, binary: Path) -> list[str]:
        return [
            str(binary),
            f"--config.file={self.home / 'prometheus.yml'}",
            f"--storage.tsdb.path={self.home / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port('prometheus')}",
            "--web.enable-lifecycle",  # POST /-/reload after the rule files change
            "--storage.tsdb.retention.time=1d",
        ]

    def probe(self) -> bool:
        return http_ok(f"{self.url}/-/ready")

    def start(
        self,
        progress: Callable[[str], None] = _quiet,
        timeout: float | None = None,
        rules: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        """Write config and rules, start Prometheus unless it runs (then reload it); wait until ready."""
        self.write(rules)
        if self.alive():
            self.reload()
            return
        super().start(progress, timeout)

    def reload(self) -> None:
        request = urllib.request.Request(f"{self.url}/-/reload", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=10) as resp:
            body = json.load(resp)
        if body.get("status") != "success":
            raise BioGitopsError(f"Prometheus API {path}: {body.get('error')}")
        return body["data"]

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("alerts")["alerts"]

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [a for a in self.alerts() if a["labels"].get("alertname") == name and a["state"] == "firing"]

    def targets(self) -> dict[str, str]:
        """job -> health (up, down, unknown) of every active target."""
        return {t["labels"]["job"]: t["health"] for t in self.api("targets")["activeTargets"]}

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self.api("query", query=expr)["result"]


def local(provider: Any, **kwargs: Any) -> LocalPrometheus:
    """Prometheus for a kwok provider's cluster (its state directory, kubeconfig and ports)."""
    return LocalPrometheus.for_provider(provider, **kwargs)
