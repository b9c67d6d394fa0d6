"""The kind node image, built on this machine from pinned sources, without any registry.

    invoke cluster.build-node-image          # first run: debootstrap + builds; then seconds

What goes in (pins.yaml, `nodeImage` and `tools`): a Debian root filesystem (debootstrap),
containerd 2.x, kubelet, kubeadm and kubectl, and as container images already in the node's
containerd: kube-apiserver, kube-controller-manager, kube-scheduler, kube-proxy, etcd,
CoreDNS, pause, the pod network agent, local-path-provisioner and the Debian base. What the
platform runs (Argo CD, Redis, lab workloads) is not baked in: each is built and loaded on its
own (biogitops/cluster/kind/workloads.py, load.py). This is the source path of the `node` pin
in pins.yaml `images`; the upstream path pulls kind's own image instead. The image
is tagged `bio-gitops/kind-node:v<kubernetes>-<key>`, the key a hash of every input, so a
changed pin or file builds a new image and an unchanged one is reused.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from biogitops.cluster import doctor
from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.cluster.kind.nodeimage.images import build_images, cluster_images
from biogitops.cluster.kind.nodeimage.node import (
    FILES,
    KIND_BASE_FILES,
    assemble,
    build_key,
    file_digests,
    network_policy_manifest,
    render_manifest,
)
from biogitops.cluster.kind.nodeimage.rootfs import ensure_rootfs, rootfs_key, rootfs_ref
from biogitops.config.pins import Pins, ToolPin, load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import cache_dir
from biogitops.toolchain import tools
from biogitops.toolchain.gomodules import module_dir

__all__ = ["ImageBuildError", "build", "node_image_ref"]

CONTENT_MODULES = ("images.py", "node.py", "rootfs.py")
# binaries from `tools` that the node or its images carry
TOOLS_IN_IMAGE = (
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "etcd",
    "kubectl",
    "kind",
)


def _quiet(_: str) -> None:
    pass


def _pins_in_image(pins: Pins) -> list[ToolPin]:
    return [pins.tools[name] for name in TOOLS_IN_IMAGE] + list(pins.node_components.values())


def node_key(pins: Pins) -> str:
    """The hash of every input: pinned versions, the Debian base, our files, this package's code."""
    inputs = {pin.name: f"{pin.module}@{pin.version} {pin.ldflags} {pin.tags}" for pin in _pins_in_image(pins)}
    inputs["debian"] = rootfs_key(pins)
    # what defines the images' content: our files and the modules that lay them out (not this
    # orchestration code, so editing it keeps a running cluster's images current)
    here = Path(__file__).parent
    inputs["files"] = str(file_digests(here / "files"))
    inputs["code"] = str({name: file_digests(here)[name] for name in CONTENT_MODULES})
    return build_key(inputs)


def node_image_ref(pins: Pins | None = None) -> str:
    pins = pins or load_pins()
    return f"bio-gitops/kind-node:v{pins.kubernetes_version}-{node_key(pins)}"


def cache() -> Path:
    return cache_dir() / "nodeimage"


def ensure_binaries(pins: Pins, progress) -> dict[str, Path]:
    """Build (or reuse from the tool cache) every binary the node image holds."""
    bins = {}
    for pin in _pins_in_image(pins):
        status = tools.install_one(pin, pins, progress, use_path=False)
        bins[pin.name] = status.path
    return bins


def build(progress=_quiet, pins: Pins | None = None) -> str:
    """Build the node image unless it is there already; returns its reference."""
    pins = pins or load_pins()
    root = cache()
    root.mkdir(parents=True, exist_ok=True)
    docker = Docker(root / "build.log")
    ref = node_image_ref(pins)
    if docker.image_exists(ref):
        progress(f"node image {ref} is built already")
        return ref
    # before minutes of compiling: root, debootstrap and wget when the root filesystem is still to make
    doctor.require(doctor.node_image_checks(needs_source_build(pins)), "kind")
    bins = ensure_binaries(pins, progress)
    debian = ensure_rootfs(pins, docker, root, progress)
    docker.check_privileged(debian)
    key = node_key(pins)
    specs = cluster_images(
        pins.kubernetes_version, bins, debian, key, FILES / "net-agent.sh", FILES / "netpol-divert.sh"
    )
    tarballs = build_images(specs, docker, root / f"images-{key}", progress)
    by_name = {spec.ref.split(":")[0].rsplit("/", 1)[1]: spec.ref for spec in specs}
    manifests = {
        # kind applies default-cni.yaml only: the NetworkPolicy engine goes in with the pod network
        "default-cni.yaml": render_manifest("default-cni.yaml", {"NET_AGENT_IMAGE": by_name["net-agent"]})
        + "---\n"
        + network_policy_manifest(by_name["kube-network-policies"]),
        "default-storage.yaml": render_manifest(
            "default-storage.yaml",
            {"PROVISIONER_IMAGE": by_name["local-path-provisioner"], "HELPER_IMAGE": debian},
        ),
    }
    kind = pins.tools["kind"]
    kind_module = module_dir(kind.module, kind.go_module_version)
    if not (kind_module / KIND_BASE_FILES).is_dir():
        raise ImageBuildError(f"node image: {kind_module}/{KIND_BASE_FILES} is missing", "reinstall kind")
    assemble(
        docker, ref, debian, pins.kubernetes_version, kind_module, bins, specs, tarballs, manifests, root, progress
    )
    prune(docker, root, key, progress)
    return ref


def needs_source_build(pins: Pins | None = None) -> bool:
    """Whether the Debian root filesystem is still to be made with debootstrap (root, debootstrap,
    wget): neither the node image, the root filesystem's image nor its cached tarball is there.
    True when no engine answers (then nothing can be known)."""
    pins = pins or load_pins()
    if (cache() / f"rootfs-{rootfs_key(pins)}.tar.gz").is_file():
        return False
    try:
        docker = Docker(cache() / "build.log")
        return not (docker.image_exists(node_image_ref(pins)) or docker.image_exists(rootfs_ref(pins)))
    except (BioGitopsError, OSError):
        return True


def prune(docker: Docker, root: Path, key: str, progress) -> None:
    """Drop the image tarballs and node images of earlier keys (each is gigabytes); a running
    cluster keeps its nodes, whose image layers Docker holds until they are deleted."""
    for old in root.glob("images-*"):
        if old.name != f"images-{key}":
            shutil.rmtree(old, ignore_errors=True)
    listing = docker.run("list node images", ["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
    # the platform's images prune themselves
    ours = ("bio-gitops/kind-node:", "bio-gitops/net-agent:", "bio-gitops/kube-network-policies:")
    stale = [ref for ref in listing.split() if ref.startswith(ours) and not ref.endswith(key)]
    if stale:
        progress(f"removing {len(stale)} image(s) of earlier node image builds")
        subprocess.run([docker.binary, "image", "rm", *stale], capture_output=True, check=False)
