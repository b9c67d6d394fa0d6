"""`invoke cluster.*`: create, delete and inspect the environment's cluster."""

from __future__ import annotations

from invoke import task

from biogitops.cluster.target import Target
from biogitops.console import console, progress, table
from biogitops.platform import argocd
from biogitops.tasks.common import friendly

HELP = {
    "env": "environment: a folder under clusters/ (dev, staging, prod)",
    "provider": "kind | kwok | existing (default: the environment's settings.yaml)",
}
OFFLINE_HELP = "kind: ask no registry; build the node, Argo CD and Redis images here from pins.yaml's recipes"


@task(help={**HELP, "offline": OFFLINE_HELP})
@friendly
def create(c, env="dev", provider=None, offline=False):
    """Create the cluster, or reuse it when it is already running and healthy.

    kind takes its images upstream by digest when their registries answer, else builds them
    here (`--offline`, or `kind: {images: source|upstream}` in settings.yaml, decide it)."""
    prov = Target(env, provider, offline=offline).provider
    if line := prov.images_line():
        console.print(line)
    with progress(f"cluster {prov.cluster_name} ({prov.name})") as update:
        status = prov.create(update)
    console.print(f"cluster {status.name} ({status.provider}): {status.detail}")
    if prov.kubeconfig():
        console.print(f"export KUBECONFIG={prov.kubeconfig()}")


@task(help=HELP)
@friendly
def delete(c, env="dev", provider=None):
    """Delete the cluster and stop every process started for it (existing clusters are never deleted)."""
    prov = Target(env, provider).provider
    with progress(f"deleting {prov.cluster_name} ({prov.name})") as update:
        prov.delete(update)
    console.print(f"cluster {prov.cluster_name} ({prov.name}) deleted")


@task(help=HELP)
@friendly
def status(c, env="dev", provider=None):
    """Show whether the cluster exists and answers, and each component's state."""
    prov = Target(env, provider).provider
    st = prov.status()
    rows = [[name, state] for name, state in st.components.items()]
    if st.exists and prov.argocd_mode == "local":
        rows += [[f"argocd {name}", state] for name, state in argocd.local(prov).status().items()]
    console.print(f"cluster {st.name} ({st.provider}): {'ready' if st.ready else st.detail}")
    if rows:
        table("components", ["component", "state"], rows)
    if st.exists and prov.kubeconfig():
        console.print(f"export KUBECONFIG={prov.kubeconfig()}")


@task(name="build-node-image")
@friendly
def build_node_image(c):
    """Build the kind node image from pinned sources (no registry); a no-op when it is built.

    The first run debootstraps Debian and builds containerd, kubelet and the control-plane
    images (minutes); later runs take seconds. Needs a Docker engine that runs privileged
    containers, and root for debootstrap. Log: ~/.cache/bio-gitops/nodeimage/build.log."""
    from biogitops.cluster.kind import nodeimage

    with progress("kind node image") as update:
        ref = nodeimage.build(update)
    console.print(f"node image: {ref}")
