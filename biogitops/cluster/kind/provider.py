"""kind provider: Kubernetes in Docker containers, the default for dev and for users.

Needs a running container engine (Docker) that runs privileged containers. The node image
is built on this machine from pinned sources (biogitops/cluster/kind/nodeimage, `invoke
cluster.build-node-image`; `create` builds it first when it is missing); the cluster layout
is clusters/<env>/kind.yaml, whose workers carry the node groups' labels and taints.

    invoke cluster.create --env dev --provider kind
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml

from biogitops.cluster import doctor
from biogitops.cluster.base import ClusterStatus, Provider, ProviderError
from biogitops.cluster.doctor import engine_answer, host_cgroup_version
from biogitops.cluster.kind import nodeimage
from biogitops.cluster.kube import Kubectl, wait_until
from biogitops.config.pins import load_pins
from biogitops.paths import cache_dir
from biogitops.render.argocd_manifests import UPSTREAM_ARGOCD, UPSTREAM_REDIS
from biogitops.toolchain import tools

VOLUMES_IN_NODE = "/var/local-path-provisioner"


def _quiet(_: str) -> None:
    pass


class KindProvider(Provider):
    name = "kind"

    def kubeconfig(self) -> Path:
        return self.state_dir / "kubeconfig.yaml"

    @property
    def config_file(self) -> Path:
        if not self.settings.kind_config:
            raise ProviderError(f"{self.settings.path}: kind.config: required for the kind provider")
        return self.settings.kind_config

    @property
    def node_image(self) -> str:
        return nodeimage.node_image_ref(load_pins())

    def volumes_dir(self) -> Path:
        """The host directory behind every node's /var/local-path-provisioner: the dev volumes.
        Outside the state directory, so deleting the cluster keeps the labs' data."""
        return cache_dir() / "kind-volumes" / self.cluster_name

    def effective_config(self) -> Path:
        """clusters/<env>/kind.yaml, with the volumes directory mounted into every node (the
        node image's StorageClass is a shared filesystem there), plus `failCgroupV1: false` for
        kubelet when this host is on cgroup v1 (Kubernetes 1.35+ refuses v1 otherwise); written
        to the state directory."""
        config = yaml.safe_load(self.config_file.read_text())
        volumes = self.volumes_dir()
        volumes.mkdir(parents=True, exist_ok=True)
        mount = {"hostPath": str(volumes), "containerPath": VOLUMES_IN_NODE}
        for node in config.get("nodes", []):
            node["extraMounts"] = [*node.get("extraMounts", []), mount]
        if host_cgroup_version() == 1:
            patch = "kind: KubeletConfiguration\nfailCgroupV1: false\n"
            config["kubeadmConfigPatches"] = [*config.get("kubeadmConfigPatches", []), patch]
        out = self.state_dir / "kind.yaml"
        out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        out.write_text(yaml.safe_dump(config, sort_keys=False))
        return out

    def create_command(self) -> list[str]:
        """The exact `kind create cluster` invocation."""
        return [
            str(tools.tools_bin() / "kind"),
            "create",
            "cluster",
            "--name",
            self.cluster_name,
            "--config",
            str(self.effective_config()),
            "--image",
            self.node_image,
            "--kubeconfig",
            str(self.kubeconfig()),
            "--wait",
            "5m",
        ]

    def delete_command(self) -> list[str]:
        return [
            str(tools.tools_bin() / "kind"),
            "delete",
            "cluster",
            "--name",
            self.cluster_name,
            "--kubeconfig",
            str(self.kubeconfig()),
        ]

    def check_engine(self) -> None:
        """Fail with a hint towards kwok when no usable container engine is there."""
        answers, detail = engine_answer()
        if not answers:
            raise ProviderError(
                f"kind needs a running container engine: {detail}",
                f"install and start Docker, or run with `--provider kwok` (env {self.settings.env})",
            )

    def argocd_images(self) -> dict[str, str]:
        """Upstream Argo CD and Redis replaced by the images built into the node image."""
        ours = nodeimage.platform_images()
        return {UPSTREAM_ARGOCD: ours["argocd"], UPSTREAM_REDIS: ours["redis"]}

    def tools(self) -> list[str]:
        return ["kind"]

    def host_checks(self) -> list[doctor.Check]:
        """A container engine; root, debootstrap and wget while the node image is to be built from
        source; the cgroup version (reported)."""
        return [*doctor.node_image_checks(nodeimage.needs_source_build()), doctor.check_cgroup()]

    @property
    def crds_from_cache(self) -> bool:
        return True  # the node image has no way to GitHub here

    def exists(self) -> bool:
        if not (tools.tools_bin() / "kind").exists():
            return False
        proc = subprocess.run(
            [str(tools.tools_bin() / "kind"), "get", "clusters"], capture_output=True, text=True, check=False
        )
        return self.cluster_name in proc.stdout.split()

    def status(self) -> ClusterStatus:
        if shutil.which("docker") is None or not self.exists():
            return ClusterStatus(self.name, self.cluster_name, False, False, "no kind cluster")
        ready = self.kubeconfig().is_file() and Kubectl(self.kubeconfig()).reachable()
        return ClusterStatus(self.name, self.cluster_name, True, ready, "ready" if ready else "apiserver not ready")

    def create(self, progress=_quiet) -> ClusterStatus:
        self.check_engine()
        tools.which("kind")
        current = self.status()
        if current.ready:
            progress("reusing the running kind cluster")
            return current
        if current.exists:  # containers exist but the API is not answering: export a fresh kubeconfig
            subprocess.run(
                [
                    str(tools.tools_bin() / "kind"),
                    "export",
                    "kubeconfig",
                    "--name",
                    self.cluster_name,
                    "--kubeconfig",
                    str(self.kubeconfig()),
                ],
                capture_output=True,
                check=False,
            )
        else:
            self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            nodeimage.build(progress)  # seconds when it is built already
            progress(f"kind create cluster {self.cluster_name} ({self.node_image})")
            proc = subprocess.run(self.create_command(), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                self.delete()
                raise ProviderError(f"kind create cluster failed: {last}", "see `docker ps -a` and retry")
        wait_until(Kubectl(self.kubeconfig()).reachable, 300, "the kind API server", progress)
        return self.status()

    def delete(self, progress=_quiet) -> None:
        if self.exists():
            progress(f"kind delete cluster {self.cluster_name}")
            subprocess.run(self.delete_command(), capture_output=True, check=False)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        if self.volumes_dir().is_dir() and any(self.volumes_dir().iterdir()):
            progress(f"volumes kept at {self.volumes_dir()} (delete them by hand when no lab needs them)")


def kind_workers(config: dict) -> list[dict]:
    """The worker nodes of a kind config, with their labels and the taints from kubeadm patches."""
    workers = []
    for node in config.get("nodes", []):
        if node.get("role") != "worker":
            continue
        taints: list[dict] = []
        for patch in node.get("kubeadmConfigPatches", []):
            doc = yaml.safe_load(patch)
            taints += (doc.get("nodeRegistration") or {}).get("taints") or []
        workers.append({"labels": node.get("labels", {}), "taints": taints})
    return workers
