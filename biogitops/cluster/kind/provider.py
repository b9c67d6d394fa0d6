"""kind provider: Kubernetes in Docker containers, the default for dev and for users.

Needs a running container engine (Docker). Its images (pins.yaml `images`) come one of two
ways (imagesource.py says which, and bootstrap prints why): upstream, pulled by digest when
their registries answer (no root); or built here from pinned sources: the node image
(nodeimage/, `invoke cluster.build-node-image`, root for debootstrap, privileged containers)
and, loaded into the nodes on their own, Argo CD and Redis (workloads.py, load.py). The
cluster layout is clusters/<env>/kind.yaml, whose workers carry the node groups' labels and taints.

    invoke cluster.create --env dev --provider kind [--offline]
"""

from __future__ import annotations

import json
import shutil
import subprocess
from functools import cached_property
from pathlib import Path

import yaml

from biogitops.cluster import authn, doctor
from biogitops.cluster.base import ClusterStatus, Provider, ProviderError
from biogitops.cluster.doctor import engine_answer, host_cgroup_version
from biogitops.cluster.kind import imagesource, load, nodeimage, registry, workloads
from biogitops.cluster.kind.imagesource import ImagePlan
from biogitops.cluster.kind.keycloak import ContainerKeycloak
from biogitops.cluster.kind.nodeimage.docker import Docker
from biogitops.cluster.kind.nodeimage.rootfs import rootfs_ref
from biogitops.cluster.kube import Kubectl, wait_until
from biogitops.config.pins import load_pins
from biogitops.paths import cache_dir
from biogitops.toolchain import tools

VOLUMES_IN_NODE = "/var/local-path-provisioner"
AUTHN_IN_NODE = "/etc/kubernetes/bio-gitops-authn"  # the API server's authentication configuration
AUTHN_FILE = "authentication-config.yaml"
# the in-cluster Argo CD images that carry its web UI: upstream's release image only
NO_WEB_UI = (
    "this cluster runs Argo CD built here from source (images: source), and the web UI needs "
    "`argo-ui` from a GitHub commit that no registry reachable here serves"
)


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

    @cached_property
    def image_plan(self) -> ImagePlan:
        """Upstream by digest or built here, and why (asks the registries once under `auto`)."""
        return imagesource.choose(self.settings, self.offline, load_pins())

    @property
    def plan(self) -> ImagePlan:
        """The image path of the cluster this provider created, while it exists; else this run's choice."""
        return self.recorded_plan or self.image_plan

    def images_line(self) -> str:
        recorded = self.recorded_plan
        if recorded:
            return f"images: {recorded.path} (the running cluster's, chosen at its creation: {recorded.reason})"
        return self.image_plan.line()

    def check_images(self) -> None:
        """On the upstream path: every pin verified and every registry serving the pinned digest."""
        if not self.plan.upstream:
            return
        if self.offline:  # a running cluster made from upstream images: `--offline` asks no registry
            imagesource.check_verified(load_pins())
        else:
            imagesource.check_upstream(load_pins())

    @property
    def node_image(self) -> str:
        pins = load_pins()
        return str(pins.images["node"].ref) if self.plan.upstream else nodeimage.node_image_ref(pins)

    @property
    def recorded_plan(self) -> ImagePlan | None:
        """The image path the running cluster was created with (None before any)."""
        path = self.state_dir / "images.json"
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return ImagePlan(data["path"], data["reason"])

    def argocd_web_ui(self) -> str:
        return "" if self.plan.upstream else NO_WEB_UI

    def git_server_image(self) -> str:
        return super().git_server_image() if self.plan.upstream else rootfs_ref(load_pins())  # in the node image

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
        if self.identity() is not None:
            trust_identity(config, self.authentication_config.parent)
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

    def identity(self) -> ContainerKeycloak | None:
        """dev's identity provider (settings.yaml `sso: {issuer: local}`): a container beside the nodes."""
        if (self.settings.raw.get("sso") or {}).get("issuer") != "local":
            return None
        return ContainerKeycloak.for_provider(self)

    @property
    def authentication_config(self) -> Path:
        return self.state_dir / "keycloak" / "authn" / AUTHN_FILE

    def check_trusts_identity(self) -> None:
        """A kind cluster made before `sso: {issuer: local}` has an API server that trusts no
        identity provider: its flags are fixed when kind makes it, so it must be made again."""
        if self.identity() is None:
            return
        config = self.state_dir / "kind.yaml"
        made = yaml.safe_load(config.read_text()) if config.is_file() else {}
        if not (made or {}).get("kubeadmConfigPatchesJSON6902"):
            raise ProviderError(
                "the running kind cluster's API server was started without the identity provider's "
                "authentication configuration (settings.yaml sso.issuer: local)",
                f"run `invoke cluster.delete --env {self.settings.env} --provider kind`, then bootstrap again",
            )

    def check_engine(self) -> None:
        """Fail with a hint towards kwok when no usable container engine is there."""
        answers, detail = engine_answer()
        if not answers:
            raise ProviderError(
                f"kind needs a running container engine: {detail}",
                f"install and start Docker, or run with `--provider kwok` (env {self.settings.env})",
            )

    def argocd_images(self) -> dict[str, str]:
        """Argo CD's and Redis's repositories in the install manifests -> what runs instead: the
        pinned digests on the upstream path, the images built here on the source path."""
        pins = load_pins()
        ours = {} if self.plan.upstream else workloads.refs(pins)
        return {pins.images[n].ref.name: ours.get(n) or str(pins.images[n].ref) for n in ("argocd", "redis")}

    def tools(self) -> list[str]:
        return ["kind"]

    def host_checks(self) -> list[doctor.Check]:
        """A container engine; root, debootstrap and wget while the node image is to be built from
        source; the cgroup version and inotify instances (reported)."""
        return [
            *doctor.node_image_checks(nodeimage.needs_source_build()),
            doctor.check_cgroup(),
            doctor.check_inotify(),
        ]

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
            self.check_trusts_identity()
            if idp := self.identity():  # the API server reloads the file: a new dev CA reaches it
                authn.write_config(self.authentication_config, idp.issuer, idp.ca_pem())
            progress("reusing the running kind cluster")
            self.load_platform_images(progress)
            return current
        if not current.exists:  # a record left by a cluster deleted by hand says nothing now
            (self.state_dir / "images.json").unlink(missing_ok=True)
        plan = self.plan
        self.check_images()  # before any cluster: an unverified or changed digest stops here
        progress(self.images_line())
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
            if plan.upstream:
                pin = load_pins().images["node"]
                registry.pull(pin, Docker(cache_dir() / "images" / "node.log", what="image node"), progress)
            else:
                nodeimage.build(progress)  # seconds when it is built already
            if idp := self.identity():
                authn.write_config(self.authentication_config, idp.issuer, idp.ca_pem())
            progress(f"kind create cluster {self.cluster_name} ({self.node_image})")
            proc = subprocess.run(self.create_command(), capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                self.delete()
                raise ProviderError(
                    f"kind create cluster failed: {kind_error(proc.stderr)}", "see `docker ps -a` and retry"
                )
            (self.state_dir / "images.json").write_text(json.dumps({"path": plan.path, "reason": plan.reason}))
        wait_until(Kubectl(self.kubeconfig()).reachable, 300, "the kind API server", progress)
        self.load_platform_images(progress)
        return self.status()

    def load_platform_images(self, progress=_quiet) -> None:
        """Source path: build (or find) Argo CD's and Redis's images and load each into the nodes
        that lack it. The upstream path loads nothing: the nodes pull by digest."""
        if self.plan.upstream:
            return
        built = workloads.build_all(load_pins(), progress)
        docker = Docker(workloads.cache() / "load.log", what="loading images into kind")
        load.load_images(self.cluster_name, list(built.values()), docker, progress)

    def delete(self, progress=_quiet) -> None:
        if (self.state_dir / "keycloak").is_dir():
            ContainerKeycloak.for_provider(self).delete()
        if self.exists():
            progress(f"kind delete cluster {self.cluster_name}")
            subprocess.run(self.delete_command(), capture_output=True, check=False)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)
        if self.volumes_dir().is_dir() and any(self.volumes_dir().iterdir()):
            progress(f"volumes kept at {self.volumes_dir()} (delete them by hand when no lab needs them)")


def kind_error(stderr: str) -> str:
    """The line of kind's output that says what failed: its `ERROR:` line, or a Go panic's first
    line, before the stack trace whose last line names only a runtime file."""
    lines = [line.strip() for line in stderr.strip().splitlines() if line.strip()] or ["no output"]
    return next((line for line in lines if line.startswith(("ERROR:", "panic:", "fatal error:"))), lines[-1])


def trust_identity(config: dict, authn_dir: Path) -> None:
    """Start every control-plane node's API server with the structured authentication
    configuration in `authn_dir` (cluster/authn.py): the directory mounted into the node, then
    into the API server's static pod, and one flag appended to kind's own (a JSON patch: a merge
    patch would replace kind's list of API server flags)."""
    for node in config.get("nodes", []):
        if node.get("role") == "control-plane":
            mount = {"hostPath": str(authn_dir), "containerPath": AUTHN_IN_NODE, "readOnly": True}
            node["extraMounts"] = [*node.get("extraMounts", []), mount]
    volume = {"name": "bio-gitops-authn", "hostPath": AUTHN_IN_NODE, "mountPath": AUTHN_IN_NODE, "readOnly": True}
    flag = {"name": "authentication-config", "value": f"{AUTHN_IN_NODE}/{AUTHN_FILE}"}
    patch = [
        {"op": "add", "path": "/apiServer/extraArgs/-", "value": flag},
        {"op": "add", "path": "/apiServer/extraVolumes", "value": [volume]},
    ]
    json_patch = {"group": "kubeadm.k8s.io", "version": "v1beta4", "kind": "ClusterConfiguration"}
    json_patch["patch"] = yaml.safe_dump(patch, sort_keys=False)
    config["kubeadmConfigPatchesJSON6902"] = [*config.get("kubeadmConfigPatchesJSON6902", []), json_patch]


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
