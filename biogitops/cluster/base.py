"""The interface every cluster provider implements (kind, kwok, existing).

provider = Target("dev", "kwok").provider   # biogitops/cluster/target.py
provider.create()            # idempotent: reuses a healthy cluster
provider.status()            # ClusterStatus
provider.kubeconfig()        # path to pass to kubectl / the Kubernetes client
provider.kubectl()           # a Kubectl for that kubeconfig and context
provider.delete()
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from biogitops.cluster.kube import Kubectl
from biogitops.config.pins import load_pins
from biogitops.config.settings import NodeGroup, Settings
from biogitops.errors import BioGitopsError
from biogitops.paths import cache_dir

if TYPE_CHECKING:  # kwok's controller module imports this one
    from biogitops.cluster.kwok.sealedsecrets import LocalSealedSecrets

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class ProviderError(BioGitopsError):
    """A cluster cannot be created, reached or deleted."""


@dataclass
class ClusterStatus:
    provider: str
    name: str
    exists: bool
    ready: bool
    detail: str = ""
    components: dict[str, str] = field(default_factory=dict)


class Provider(abc.ABC):
    """A place where the platform's Kubernetes API comes from."""

    name: str = ""

    def __init__(self, settings: Settings, instance: str = "", port_offset: int = 0) -> None:
        """`instance` names a second cluster for the same environment (benchmarks use one)."""
        self.settings = settings
        self.instance = instance
        self.port_offset = port_offset
        self.reason = ""  # why this provider: the command line, settings.yaml, or auto's probe
        self.offline = False  # `--offline`: ask no registry (kind builds its images from source)

    @property
    def suffix(self) -> str:
        return f"-{self.instance}" if self.instance else ""

    @property
    def cluster_name(self) -> str:
        return f"bio-gitops-{self.settings.env}{self.suffix}"

    @property
    def state_dir(self) -> Path:
        """Per-environment, per-provider state outside the repository (mode 0700)."""
        return cache_dir() / "clusters" / f"{self.settings.env}-{self.name}{self.suffix}"

    @property
    def base_port(self) -> int:
        """First of the loopback ports used by processes beside the cluster (kwok)."""
        return self.settings.kwok_base_port + self.port_offset

    @property
    def context(self) -> str | None:
        """The kubeconfig context to use (None: the file's current context)."""
        return None

    @property
    def argocd_mode(self) -> str:
        """'in-cluster' (Argo CD runs as pods) or 'local' (as processes beside the cluster)."""
        return "in-cluster"

    # -- what bootstrap asks of a provider; the defaults suit a cluster that runs everything as pods
    def tools(self) -> list[str]:
        """Pinned tools this provider needs beyond kubectl, helm and kustomize (bootstrap's preflight)."""
        return []

    def host_checks(self) -> list:
        """This provider's own checks of the machine (doctor.Check), beyond python, git, tools and disk."""
        return []

    def check_host(self) -> None:
        """Raise ProviderError (doctor.HostError), one line per missing piece with its fix, when this
        machine cannot run the cluster: bootstrap's preflight, and `invoke doctor`'s verdict."""
        from biogitops.cluster import doctor  # lazy: doctor builds on this module's ProviderError

        doctor.require(doctor.provider_checks(self), self.name)

    @property
    def crds_from_cache(self) -> bool:
        """Whether bootstrap applies the pinned CRDs from the Go module cache itself, for a cluster
        that may not reach their URLs (else the crds Application applies them)."""
        return False

    def prepare_gatekeeper(self, progress: Progress = _quiet) -> None:
        """Preflight, when Gatekeeper is enabled: what it needs on this machine (here: nothing, it is a pod)."""
        return None

    def start_gatekeeper(self, progress: Progress = _quiet) -> None:
        """Before the policies layer, when Gatekeeper is enabled: run it where no pod can (here: nothing)."""
        return None

    def identity(self) -> Any:
        """dev's identity provider as a local process beside this cluster (settings.yaml
        `sso: {issuer: local}`), or None: staging/prod use the organisation's issuer, and on kind
        the identity provider has no image yet."""
        return None

    def local_sealed_secrets(self) -> LocalSealedSecrets | None:
        """The Sealed Secrets controller as a local process beside this cluster, or None where it
        runs as a pod (installed by its Application)."""
        return None

    def images_line(self) -> str:
        """Where this cluster's images come from, for bootstrap's first lines ('' when nothing to say)."""
        return ""

    def check_images(self) -> None:
        """Raise, naming the fix, when the images this cluster would run cannot be had as pinned;
        called before any cluster is created (preflight)."""
        return None

    def argocd_web_ui(self) -> str:
        """'' when the Argo CD on this cluster serves the web UI, else why it serves the API only."""
        return ""

    def git_server_image(self) -> str:
        """The image of the in-cluster git server for the dev snapshot (it needs sh and git):
        upstream's Argo CD image, which has both, for a cluster that pulls."""
        return str(load_pins().images["argocd"].ref)

    def argocd_images(self) -> dict[str, str] | None:
        """Upstream image repositories in Argo CD's install manifests -> the references to run
        instead (None: upstream's own, pulled by the cluster)."""
        return None

    def kubectl(self) -> Kubectl:
        """A kubectl for this cluster: its kubeconfig and context (ToolError when kubectl is not installed)."""
        return Kubectl(self.kubeconfig(), self.context)

    @abc.abstractmethod
    def create(self, progress=None) -> ClusterStatus: ...

    @abc.abstractmethod
    def delete(self, progress=None) -> None: ...

    @abc.abstractmethod
    def status(self) -> ClusterStatus: ...

    @abc.abstractmethod
    def kubeconfig(self) -> Path | None: ...


def node_manifest(group: NodeGroup, index: int) -> dict:
    """A Node object for one member of a node group (used by kwok; mirrors kind's workers)."""
    name = f"{group.name}-{index}"
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64",
                "type": "kwok",
                **group.labels,
            },
        },
        "spec": {"taints": [dict(t) for t in group.taints]},
        "status": {
            "capacity": dict(group.capacity),
            "allocatable": dict(group.capacity),
            "nodeInfo": {"kubeletVersion": "fake", "operatingSystem": "linux", "architecture": "amd64"},
        },
    }
