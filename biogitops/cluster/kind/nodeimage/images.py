"""The container images a bio-gitops kind cluster runs, built from the pinned binaries.

Each image is a Dockerfile generated here: the control-plane images hold one static binary
under the name kubeadm expects (`kubeadm config images list`), so nothing is pulled; the rest
start from the Debian root filesystem (rootfs.py). `docker save` writes each one to a tarball
that node.py imports into the node image's containerd. The platform's own images are not here:
they are built and loaded into the cluster one by one (biogitops/cluster/kind/workloads.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from biogitops.cluster.kind.nodeimage.docker import Docker

# the versions kubeadm 1.36 asks for (cmd/kubeadm/app/constants): etcd "<version>-0", pause 3.10.2
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.2"


@dataclass(frozen=True)
class ImageSpec:
    """One image: its reference, its base ("scratch" or the Debian image), files and entrypoint."""

    ref: str
    base: str
    files: dict[str, Path] = field(default_factory=dict)  # path in the image -> file on the host
    entrypoint: tuple[str, ...] = ()
    run: tuple[str, ...] = ()  # shell commands (Debian base only)
    user: str = ""
    env: dict[str, str] = field(default_factory=dict)

    def dockerfile(self) -> str:
        lines = [f"FROM {self.base}"]
        for index, dest in enumerate(sorted(self.files)):
            lines.append(f"COPY f{index} {dest}")
        if self.run:
            lines.append("RUN " + " && ".join(self.run))
        for key, value in sorted(self.env.items()):
            lines.append(f"ENV {key}={value}")
        if self.user:
            lines.append(f"USER {self.user}")
        if self.entrypoint:
            lines.append(f"ENTRYPOINT {json.dumps(list(self.entrypoint))}")
        return "\n".join(lines) + "\n"

    @property
    def slug(self) -> str:
        return self.ref.replace("/", "_").replace(":", "_")


def cluster_images(
    k8s: str, bins: dict[str, Path], debian: str, key: str, net_agent: Path, netpol_divert: Path
) -> list[ImageSpec]:
    """Every image the node itself needs: control plane and the add-ons kind installs (pod
    network, NetworkPolicy engine, storage). The platform's images (Argo CD, Redis, lab
    workloads) are built and loaded on their own (biogitops/cluster/kind/workloads.py)."""
    path = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    control_plane = [
        ImageSpec(
            f"registry.k8s.io/{name}:v{k8s}",
            "scratch",
            {f"/usr/local/bin/{name}": bins[name]},
            (f"/usr/local/bin/{name}",),
            env=path,
        )
        for name in ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
    ]
    return [
        *control_plane,
        ImageSpec(
            f"registry.k8s.io/kube-proxy:v{k8s}",
            debian,
            {"/usr/local/bin/kube-proxy": bins["kube-proxy"]},
            ("/usr/local/bin/kube-proxy",),
        ),
        ImageSpec(
            f"registry.k8s.io/etcd:{_version(bins['etcd'])}-0",
            "scratch",
            {"/usr/local/bin/etcd": bins["etcd"]},
            ("/usr/local/bin/etcd",),
            env=path,
        ),
        ImageSpec(
            f"registry.k8s.io/coredns/coredns:v{_version(bins['coredns'])}",
            "scratch",
            {"/coredns": bins["coredns"]},
            ("/coredns",),
        ),
        # the sandbox container only has to exist and stay asleep; tini reaps and forwards signals
        ImageSpec(PAUSE_IMAGE, debian, {}, ("/usr/bin/tini", "-s", "--", "/bin/sleep", "infinity")),
        ImageSpec(
            f"bio-gitops/net-agent:{key}",
            debian,
            {"/usr/local/bin/net-agent": net_agent, "/usr/local/bin/kubectl": bins["kubectl"]},
            ("/usr/local/bin/net-agent",),
        ),
        # the NetworkPolicy engine and its packet diversion (network-policy.yaml): Debian for
        # nft and iptables; tagged with the key as the diversion script is ours
        ImageSpec(
            f"bio-gitops/kube-network-policies:v{_version(bins['kube-network-policies'])}-{key}",
            debian,
            {
                "/usr/local/bin/kube-network-policies": bins["kube-network-policies"],
                "/usr/local/bin/netpol-divert": netpol_divert,
            },
            ("/usr/local/bin/kube-network-policies",),
        ),
        ImageSpec(
            f"bio-gitops/local-path-provisioner:v{_version(bins['local-path-provisioner'])}",
            "scratch",
            {"/usr/local/bin/local-path-provisioner": bins["local-path-provisioner"]},
            ("/usr/local/bin/local-path-provisioner",),
        ),
        # the base itself: local-path-provisioner's helper pods, the in-cluster git server
        ImageSpec(debian, debian),
    ]


def _version(binary: Path) -> str:
    """The pinned version of a tool from its install directory name (<name>-<version>)."""
    return binary.parent.name.rsplit("-", 1)[1]


def build_images(specs: list[ImageSpec], docker: Docker, out: Path, progress) -> list[Path]:
    """docker build each spec and save it to out/<slug>.tar; returns the tarballs."""
    out.mkdir(parents=True, exist_ok=True)
    tarballs = []
    for spec in specs:
        tarball = out / f"{spec.slug}.tar"
        if not tarball.is_file():
            progress(f"image {spec.ref}")
            with tempfile.TemporaryDirectory(prefix="image-", dir=out) as tmp:
                context = Path(tmp)
                for index, dest in enumerate(sorted(spec.files)):
                    shutil.copy2(spec.files[dest], context / f"f{index}")
                    (context / f"f{index}").chmod(0o755)
                (context / "Dockerfile").write_text(spec.dockerfile())
                docker.run(f"build image {spec.ref}", ["build", "-q", "-t", spec.ref, str(context)])
                partial = context / "image.tar"
                docker.run(f"save image {spec.ref}", ["save", "-o", str(partial), spec.ref])
                partial.replace(tarball)
        tarballs.append(tarball)
    return tarballs
