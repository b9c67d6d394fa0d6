"""`invoke observability.*`: reach Prometheus and Grafana; run Prometheus beside kwok.

invoke observability.ui --env dev                    # where Prometheus / Grafana answer
invoke observability.start --env dev --provider kwok # the local Prometheus (kwok only)
invoke observability.stop --env dev --provider kwok
"""

from __future__ import annotations

from invoke import task

from biogitops.cluster import Provider
from biogitops.cluster.kwok import prometheus
from biogitops.cluster.target import Target
from biogitops.console import console, progress
from biogitops.errors import BioGitopsError
from biogitops.tasks.cluster import HELP
from biogitops.tasks.common import friendly

NAMESPACE = "monitoring"
RELEASE = "kube-prometheus-stack"  # the add-on's Application name, used as its Helm release name


def _local(env: str, provider: str | None) -> tuple[Provider, prometheus.LocalPrometheus]:
    prov = Target(env, provider).provider
    if prov.argocd_mode != "local":
        raise BioGitopsError(
            f"the local Prometheus runs beside kwok only (provider is {prov.name})",
            f"on {prov.name} kube-prometheus-stack runs in the cluster: `invoke observability.ui --env {env}`",
        )
    return prov, prometheus.local(prov)


@task(help=HELP)
@friendly
def start(c, env="dev", provider=None):
    """Start Prometheus beside the running kwok cluster with this repository's rules; idempotent."""
    _, local = _local(env, provider)
    with progress("Prometheus") as update:
        local.start(update)
    console.print(f"Prometheus: {local.url} (rules from observability/prometheus/alert-rules/)")


@task(help=HELP)
@friendly
def stop(c, env="dev", provider=None):
    """Stop the local Prometheus of the kwok cluster."""
    _, local = _local(env, provider)
    local.stop()
    console.print("Prometheus stopped")


@task(help=HELP)
@friendly
def ui(c, env="dev", provider=None):
    """Print how to reach Prometheus (kwok: a local process) or Grafana and Prometheus (in-cluster)."""
    prov = Target(env, provider).provider
    if prov.argocd_mode == "local":
        local = prometheus.local(prov)
        state = "running" if local.ready() else f"not running: `invoke observability.start --env {env} --provider kwok`"
        console.print(f"Prometheus: {local.url} ({state}); alerts at {local.url}/api/v1/alerts")
        console.print(
            "This build serves the HTTP API, not the web UI. Grafana and kube-prometheus-stack need a "
            "container runtime: use the kind provider for them."
        )
        return
    kc = f"--kubeconfig {prov.kubeconfig()} " if prov.kubeconfig() else ""
    ctx = f"--context {prov.context} " if prov.context else ""
    console.print(f"Grafana:    kubectl {kc}{ctx}-n {NAMESPACE} port-forward svc/{RELEASE}-grafana 3000:80")
    console.print("            then open http://127.0.0.1:3000 (dashboards in the bio-gitops folder)")
    console.print(
        f"            user admin; password: kubectl {kc}{ctx}-n {NAMESPACE} get secret {RELEASE}-grafana "
        "-o jsonpath='{.data.admin-password}' | base64 -d"
    )
    console.print(f"Prometheus: kubectl {kc}{ctx}-n {NAMESPACE} port-forward svc/{RELEASE}-prometheus 9090:9090")
