"""`invoke argocd.*`: install Argo CD on the environment's cluster and reach its UI."""

from __future__ import annotations

from invoke import task

from biogitops.cluster.kwok.argocd import NAMESPACE
from biogitops.cluster.target import Target
from biogitops.console import console, progress
from biogitops.platform import argocd
from biogitops.tasks.cluster import HELP
from biogitops.tasks.common import friendly


@task(help=HELP)
@friendly
def install(c, env="dev", provider=None):
    """Install Argo CD (pinned) on the running cluster and wait until it is ready; idempotent."""
    prov = Target(env, provider).provider
    with progress("Argo CD") as update:
        argocd.install(prov, update)
    console.print("Argo CD is ready; `invoke argocd.ui` says how to reach it")


# kwok runs Argo CD from its Go module, which holds no web UI assets
LOCAL_NO_WEB_UI = (
    "Argo CD runs as local processes built from its Go module, whose web UI needs `argo-ui` "
    "from a GitHub commit that no registry reachable here serves"
)


@task(help=HELP)
@friendly
def ui(c, env="dev", provider=None):
    """Print how to reach Argo CD: the web UI where the running images have it (kind on the
    upstream image path, existing clusters), else the API and why there is no UI (kind built
    from source, kwok). Also where the admin password comes from."""
    prov = Target(env, provider).provider
    kc = f"--kubeconfig {prov.kubeconfig()} " if prov.kubeconfig() else ""
    ctx = f"--context {prov.context} " if prov.context else ""
    if prov.argocd_mode == "local":
        port = argocd.local(prov).port("server")
        console.print(f"Argo CD API: http://127.0.0.1:{port} (API and `argocd` CLI only: {LOCAL_NO_WEB_UI})")
    else:
        console.print(f"kubectl {kc}{ctx}-n {NAMESPACE} port-forward svc/argocd-server 8080:80")
        why = prov.argocd_web_ui()
        if why:
            console.print(f"then the API at http://127.0.0.1:8080, for the `argocd` CLI; no web UI: {why}")
        else:
            console.print("then open the web UI at http://127.0.0.1:8080")
    console.print(
        "user: admin; password: "
        f"kubectl {kc}{ctx}-n {NAMESPACE} get secret argocd-initial-admin-secret "
        "-o jsonpath='{.data.password}' | base64 -d"
    )
