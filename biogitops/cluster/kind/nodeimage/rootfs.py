"""The Debian root filesystem every bio-gitops image starts from (node and cluster images).

One debootstrap of the pinned suite with the packages a kind node and the cluster images
need (systemd, iptables, runc, CNI plugins, git, gpg, redis, tini), imported into Docker as
`bio-gitops/debian:<suite>-<key>`. The tarball is kept in the cache, so a pruned engine gets
the image back in seconds. Needs root (debootstrap) and Debian's mirror.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.config.pins import Pins
from biogitops.errors import BioGitopsError

# What the node needs (kind's base image installs the same kind of set), then what the
# cluster images need: kube-proxy (iptables, conntrack), Argo CD (git, ssh, gpg, tini), redis.
PACKAGES = [
    "systemd",
    "systemd-sysv",
    "dbus",
    "conntrack",
    "iptables",
    "nftables",
    "iproute2",
    "ethtool",
    "util-linux",
    "mount",
    "kmod",
    "libseccomp2",
    "pigz",
    "fuse-overlayfs",
    "e2fsprogs",
    "bash",
    "ca-certificates",
    "curl",
    "jq",
    "procps",
    "runc",
    "containernetworking-plugins",
    "socat",
    "git",
    "openssh-client",
    "gnupg",
    "redis-server",
    "tini",
]
PACKAGE_LIST = "/usr/share/bio-gitops/debian-packages"


def rootfs_key(pins: Pins) -> str:
    text = "\n".join([pins.debian["suite"], pins.debian["mirror"], *PACKAGES])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def rootfs_ref(pins: Pins) -> str:
    return f"bio-gitops/debian:{pins.debian['suite']}-{rootfs_key(pins)}"


def debootstrap(pins: Pins, target: Path, log: Path) -> None:
    """Install the suite into `target`, record package versions, drop apt's caches."""
    if os.geteuid() != 0:
        raise BioGitopsError("debootstrap needs root", "run `invoke cluster.build-node-image` as root")
    binary = shutil.which("debootstrap") or "/usr/sbin/debootstrap"
    if not Path(binary).exists():
        raise BioGitopsError("debootstrap is not installed", "apt-get install debootstrap wget")
    argv = [
        binary,
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        pins.debian["suite"],
        str(target),
        pins.debian["mirror"],
    ]
    with log.open("ab") as out:
        out.write(f"\n== debootstrap: {' '.join(argv)}\n".encode())
        out.flush()
        proc = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, check=False)
    if proc.returncode != 0:
        raise ImageBuildError(f"node image: debootstrap of Debian {pins.debian['suite']} failed", f"log: {log}")
    versions = subprocess.run(
        ["chroot", str(target), "dpkg-query", "-W", "-f", "${Package} ${Version}\n"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (target / PACKAGE_LIST.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (target / PACKAGE_LIST.lstrip("/")).write_text(versions)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (target / cache).glob("*"):
            if item.is_file():
                item.unlink()


def ensure_rootfs(pins: Pins, docker: Docker, cache: Path, progress) -> str:
    """The Debian base image reference; built (or re-imported from the cached tarball) when missing."""
    ref = rootfs_ref(pins)
    if docker.image_exists(ref):
        return ref
    tarball = cache / f"rootfs-{rootfs_key(pins)}.tar.gz"
    if not tarball.is_file():
        progress(f"debootstrap Debian {pins.debian['suite']} ({len(PACKAGES)} packages and their dependencies)")
        with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as tmp:
            target = Path(tmp) / "rootfs"
            debootstrap(pins, target, docker.log)
            partial = Path(tmp) / "rootfs.tar.gz"
            subprocess.run(
                ["tar", "--numeric-owner", "-C", str(target), "-czf", str(partial), "."],
                check=True,
                capture_output=True,
            )
            os.replace(partial, tarball)
    progress(f"docker import {ref}")
    with tarball.open("rb") as fh:
        docker.run("import the Debian root filesystem", ["import", "-", ref], stdin=fh)
    return ref
