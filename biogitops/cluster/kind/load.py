"""Images built here go into a kind cluster's nodes one by one, through each node's containerd.

    from biogitops.cluster.kind import load
    load.load_images("bio-gitops-dev", ["bio-gitops/argocd:v3.5.3-<key>"], docker, progress)

What `kind load docker-image` does (`docker save` into `ctr images import` in every node), plus
the label that pins each image, so kubelet never garbage-collects one nothing could pull back.
An image a node holds already is skipped: loading costs nothing when no image changed.
"""

from __future__ import annotations

import subprocess

from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.toolchain import tools

IMPORT = ["ctr", "--namespace=k8s.io", "images", "import", "--label=io.cri-containerd.pinned=pinned", "--digests", "-"]


def _quiet(_: str) -> None:
    pass


def nodes(cluster: str) -> list[str]:
    """The node containers of a kind cluster (`kind get nodes`)."""
    proc = subprocess.run(
        [str(tools.tools_bin() / "kind"), "get", "nodes", "--name", cluster],
        capture_output=True,
        text=True,
        check=False,
    )
    return [line for line in proc.stdout.split() if line.strip()]


def containerd_name(ref: str) -> str:
    """The name containerd files a Docker Hub-style reference under ('bio-gitops/x:1' -> 'docker.io/bio-gitops/x:1')."""
    first = ref.split("/", 1)[0]
    return ref if "/" in ref and ("." in first or ":" in first or first == "localhost") else f"docker.io/{ref}"


def held(docker: Docker, node: str) -> set[str]:
    """The image names a node's containerd holds."""
    listing = docker.run(
        f"list the images of {node}", ["exec", node, "ctr", "--namespace=k8s.io", "images", "ls", "-q"]
    )
    return set(listing.split())


def load_images(cluster: str, refs: list[str], docker: Docker, progress=_quiet, only: list[str] | None = None) -> None:
    """Import each image into every node of `cluster` that lacks it (`only`: these nodes only,
    e.g. those a lab's pods can be scheduled on)."""
    for node in nodes(cluster):
        if only is not None and node not in only:
            continue
        present = held(docker, node)
        for ref in refs:
            if containerd_name(ref) in present:
                continue
            progress(f"loading {ref} into {node}")
            save = subprocess.Popen([docker.binary, "save", ref], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            try:
                docker.run(f"load {ref} into {node}", ["exec", "-i", node, *IMPORT], stdin=save.stdout)
            finally:
                if save.stdout:
                    save.stdout.close()
                save.wait()
            if save.returncode != 0:
                raise ImageBuildError(f"{docker.what}: `docker save {ref}` failed", f"is it built? log: {docker.log}")
