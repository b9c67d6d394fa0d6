"""Assemble the kind node image: Debian + systemd + containerd 2.x + kubelet, with every
image the cluster runs already in containerd's store (nothing is pulled, ever).

Same shape as `kind build node-image`, fed from our pinned builds: the node's entrypoint,
systemd units and helper scripts are kind's own, read from the kind module we build at its
pinned version (images/base/files); containerd's configuration and the CNI and storage
manifests are ours (files/).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.cluster.kind.nodeimage.images import ImageSpec

FILES = Path(__file__).parent / "files"
KIND_BASE_FILES = "images/base/files"
# kind's base ships a containerd 1.x configuration and its licence notes: ours replace them
SKIP_KIND_FILES = ("etc/containerd/config.toml", "LICENSES")


def node_dockerfile(debian: str, k8s: str) -> str:
    """The build stage of the node: files in place, systemd trimmed the way a container needs."""
    return (
        "\n".join(
            [
                f"FROM {debian}",
                "COPY kind-base/ /",
                "COPY bin/ /usr/local/bin/",
                "COPY kube/ /usr/bin/",
                "COPY containerd-config.toml /etc/containerd/config.toml",
                "COPY manifests/ /kind/manifests/",
                "RUN set -e; "
                "chmod 0755 /kind /kind/bin /kind/bin/* /usr/local/bin/*; "
                # a container boots no hardware: no udev, no getty, no tmpfiles cleanup at boot
                "find /lib/systemd/system/sysinit.target.wants/ -name systemd-tmpfiles-setup.service -delete; "
                "rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* "
                "/lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* "
                "/lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/*; "
                "echo ReadKMsg=no >> /etc/systemd/journald.conf; "
                "systemctl enable kubelet.service containerd.service undo-mount-hacks.service; "
                "systemctl mask systemd-binfmt.service; "
                "mkdir -p /etc/kubernetes/manifests /opt/cni/bin /var/local-path-provisioner; "
                f"echo v{k8s} > /kind/version",
                "ENV container=docker",
                "STOPSIGNAL SIGRTMIN+3",
            ]
        )
        + "\n"
    )


def render_manifest(name: str, images: dict[str, str]) -> str:
    text = (FILES / name).read_text()
    for marker, ref in images.items():
        text = text.replace(f"@{marker}@", ref)
    leftover = sorted(set(re.findall(r"@[A-Z_]+@", text)))
    if leftover:
        raise ImageBuildError(f"node image: {name} has unfilled markers {leftover}")
    return text


# the netfilter queue our kube-network-policies reads: not its default 100, which an engine
# embedded in the pod network (kindnetd on upstream node images) may hold
NFQUEUE_ID = 110


def network_policy_manifest(image: str) -> str:
    """The NetworkPolicy engine's DaemonSet (files/network-policy.yaml) for `image`; the pod
    subnet stays kind's template marker, filled in at cluster creation."""
    return render_manifest("network-policy.yaml", {"NETWORK_POLICY_IMAGE": image, "NFQUEUE_ID": str(NFQUEUE_ID)})


def build_key(inputs: dict[str, str]) -> str:
    """A short hash of everything that goes into the image: versions, our files, kind's files."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:12]


def file_digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def stage_context(context: Path, kind_module: Path, bins: dict[str, Path], manifests: dict[str, str]) -> None:
    """Lay out the build context: kind's base files, binaries, our configuration and manifests."""
    source = kind_module / KIND_BASE_FILES
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if path.is_dir() or any(str(rel).startswith(skip) for skip in SKIP_KIND_FILES):
            continue
        dest = context / "kind-base" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)
        dest.chmod(0o755 if "bin" in rel.parts else 0o644)
    for folder, names in (
        ("bin", ("containerd", "ctr", "containerd-shim-runc-v2")),
        ("kube", ("kubelet", "kubeadm", "kubectl")),
    ):
        (context / folder).mkdir()
        for name in names:
            shutil.copyfile(bins[name], context / folder / name)
            (context / folder / name).chmod(0o755)
    shutil.copyfile(FILES / "containerd-config.toml", context / "containerd-config.toml")
    (context / "manifests").mkdir()
    for name, text in manifests.items():
        (context / "manifests" / name).write_text(text)


def import_images(docker: Docker, container: str, tarballs: list[Path], progress) -> None:
    """Start containerd inside the build container and import every image, pinned (never GC'd)."""
    docker.run(
        "start containerd in the build container",
        ["exec", container, "sh", "-c", "nohup /usr/local/bin/containerd >/var/log/containerd-build.log 2>&1 &"],
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            docker.run("wait for containerd", ["exec", container, "ctr", "version"])
            break
        except ImageBuildError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    for tarball in tarballs:
        progress(f"ctr import {tarball.name}")
        with tarball.open("rb") as fh:
            docker.run(
                f"import {tarball.name} into the node's containerd",
                [
                    "exec",
                    "-i",
                    container,
                    "ctr",
                    "--namespace=k8s.io",
                    "images",
                    "import",
                    "--label=io.cri-containerd.pinned=pinned",
                    "--all-platforms",
                    "--no-unpack",
                    "--digests",
                    "-",
                ],
                stdin=fh,
            )
    docker.run("stop containerd", ["exec", container, "sh", "-c", "pkill containerd; sleep 2"])


def assemble(
    docker: Docker,
    ref: str,
    debian: str,
    k8s: str,
    kind_module: Path,
    bins: dict[str, Path],
    specs: list[ImageSpec],
    tarballs: list[Path],
    manifests: dict[str, str],
    workdir: Path,
    progress,
) -> None:
    """Build the stage image, import the images in a container of it, commit the node image."""
    stage = ref + "-stage"
    container = "bio-gitops-node-build-" + ref.rsplit(":", 1)[1]
    with tempfile.TemporaryDirectory(prefix="node-", dir=workdir) as tmp:
        context = Path(tmp)
        stage_context(context, kind_module, bins, manifests)
        (context / "Dockerfile").write_text(node_dockerfile(debian, k8s))
        progress("docker build the node stage")
        docker.run("build the node stage", ["build", "-q", "-t", stage, str(context)])
    docker.remove(container)
    try:
        docker.run(
            "start the build container", ["run", "-d", "--name", container, "--entrypoint", "sleep", stage, "infinity"]
        )
        import_images(docker, container, tarballs, progress)
        progress(f"docker commit {ref}")
        docker.run(
            "commit the node image",
            [
                "commit",
                "--change",
                'ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]',
                "--change",
                f"LABEL io.bio-gitops.images={','.join(s.ref for s in specs)}",
                container,
                ref,
            ],
        )
    finally:
        docker.remove(container)
        subprocess.run([docker.binary, "image", "rm", stage], capture_output=True, check=False)
