"""kwok provider: a real control plane as local processes, with simulated nodes.

kube-apiserver, kube-controller-manager, kube-scheduler and etcd run as processes started by
kwokctl's binary runtime, from the pinned binaries in the tool cache (nothing is downloaded).
kwok's controller turns Node objects into Ready nodes and Pods into Running pods without a
container runtime. Every component listens on 127.0.0.1, on ports counted up from the
environment's `kwok.basePort`.

    invoke cluster.create --env dev --provider kwok
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import yaml

from biogitops.cluster import authn, doctor
from biogitops.cluster.base import ClusterStatus, Provider, ProviderError, node_manifest
from biogitops.cluster.kube import wait_until
from biogitops.cluster.kwok import gatekeeper, local
from biogitops.cluster.kwok.keycloak import LocalKeycloak
from biogitops.cluster.kwok.local import LAST_PORT_OFFSET
from biogitops.cluster.kwok.procs import Managed, port_open
from biogitops.cluster.kwok.sealedsecrets import LocalSealedSecrets
from biogitops.errors import ToolError
from biogitops.toolchain import tools

BINARIES = [
    "kwokctl",
    "kwok",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
]

# The control plane's offsets from kwok.basePort, in the one table of ports beside kwok (local.py);
# kept under this name for importers outside cluster/ (integration tests).
PORTS = local.PORTS["kwok"]


def _quiet(_: str) -> None:
    pass


def ephemeral_ports(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> tuple[int, int] | None:
    """The kernel's range of local ports for outgoing connections, if it can be read."""
    try:
        low, high = path.read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return None


class KwokProvider(Provider):
    name = "kwok"

    @property
    def argocd_mode(self) -> str:
        return "local"

    # -- paths
    @property
    def workdir(self) -> Path:
        """KWOK_WORKDIR: kwokctl keeps clusters/<name>/ (pki, etcd data, logs, pids) here."""
        return self.state_dir / "kwok"

    @property
    def cluster_dir(self) -> Path:
        return self.workdir / "clusters" / self.cluster_name

    def kubeconfig(self) -> Path:
        return self.cluster_dir / "kubeconfig.yaml"

    @property
    def merged_kubeconfig(self) -> Path:
        """Where kwokctl merges its context; kept here so ~/.kube/config is never touched."""
        return self.state_dir / "kubeconfig-contexts.yaml"

    def port(self, component: str) -> int:
        return local.port(self.base_port, "kwok", component)

    # -- helpers
    def _env(self) -> dict[str, str]:
        env = tools.env_with_tools()
        env["KWOK_WORKDIR"] = str(self.workdir)
        return env

    def _binaries(self) -> dict[str, Path]:
        try:
            return {name: path.resolve() for name, path in tools.require(BINARIES).items()}
        except ToolError as err:
            raise ProviderError(f"kwok provider: {err.message}", err.hint) from None

    def kwokctl_config(self, binaries: dict[str, Path]) -> dict:
        """The KwokctlConfiguration: binary runtime, pinned local binaries, loopback ports."""
        return {
            "apiVersion": "config.kwok.x-k8s.io/v1alpha1",
            "kind": "KwokctlConfiguration",
            "options": {
                "runtime": "binary",
                "bindAddress": "127.0.0.1",
                "kubeApiserverPort": self.port("kube-apiserver"),
                "etcdPort": self.port("etcd"),
                "etcdPeerPort": self.port("etcd-peer"),
                "kubeControllerManagerPort": self.port("kube-controller-manager"),
                "kubeSchedulerPort": self.port("kube-scheduler"),
                "kwokControllerPort": self.port("kwok-controller"),
                "kubeApiserverBinary": str(binaries["kube-apiserver"]),
                "kubeControllerManagerBinary": str(binaries["kube-controller-manager"]),
                "kubeSchedulerBinary": str(binaries["kube-scheduler"]),
                "kubectlBinary": str(binaries["kubectl"]),
                "etcdBinary": str(binaries["etcd"]),
                "kwokControllerBinary": str(binaries["kwok"]),
                "kubeAuthorization": True,
            },
            "componentsPatches": [
                # one of each: nothing to elect, and a lease renewal the busy API server answers
                # late (a loaded machine) would make them exit ("leaderelection lost") for good
                *(
                    {"name": name, "extraArgs": [{"key": "leader-elect", "value": "false"}]}
                    for name in ("kube-controller-manager", "kube-scheduler")
                ),
                # the API server trusts dev's identity provider from its first start (cluster/authn.py)
                *(
                    [
                        {
                            "name": "kube-apiserver",
                            "extraArgs": [{"key": "authentication-config", "value": str(self.authentication_config)}],
                        }
                    ]
                    if self.identity()
                    else []
                ),
            ],
        }

    def _kwokctl(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        binary = tools.tools_bin() / "kwokctl"
        cmd = [str(binary), "--name", self.cluster_name, *args]
        return subprocess.run(cmd, env=self._env(), capture_output=True, text=True, timeout=timeout, check=False)

    # -- what bootstrap asks of a provider: Argo CD and Gatekeeper run as local processes
    def tools(self) -> list[str]:
        return [*BINARIES, "argocd", "miniredis"]

    def host_checks(self) -> list[doctor.Check]:
        """Its ports, from kwok.basePort (held by its own cluster when that runs)."""
        first, last = self.base_port, self.base_port + LAST_PORT_OFFSET
        return [doctor.check_ports(first, last, running=(self.cluster_dir / "kwok.yaml").is_file())]

    @property
    def crds_from_cache(self) -> bool:
        return True

    def prepare_gatekeeper(self, progress=_quiet) -> None:
        gatekeeper.ensure_manager(progress)  # built once from gator's module, then cached

    def identity(self) -> LocalKeycloak | None:
        if (self.settings.raw.get("sso") or {}).get("issuer") != "local":
            return None
        return LocalKeycloak.for_provider(self)

    @property
    def authentication_config(self) -> Path:
        return self.state_dir / "keycloak" / "authentication-config.yaml"

    def local_sealed_secrets(self) -> LocalSealedSecrets:
        return LocalSealedSecrets(self)

    def start_gatekeeper(self, progress=_quiet) -> None:
        gatekeeper.start_local(self, progress)  # no container runs the chart's

    # -- interface
    def status(self) -> ClusterStatus:
        exists = (self.cluster_dir / "kwok.yaml").is_file()
        if not exists:
            return ClusterStatus(self.name, self.cluster_name, False, False, "no cluster state")
        components = {}
        for component in PORTS:
            if component == "etcd-peer":
                continue
            components[component] = "up" if port_open(self.port(component)) else "down"
        ready = components["kube-apiserver"] == "up" and self.kubectl().reachable()
        down = [c for c, s in components.items() if s == "down"]
        detail = "ready" if ready and not down else f"down: {', '.join(down) or 'apiserver not ready'}"
        return ClusterStatus(self.name, self.cluster_name, True, ready and not down, detail, components)

    def preflight(self) -> dict[str, Path]:
        ephemeral = ephemeral_ports()
        first, last = self.base_port, self.base_port + LAST_PORT_OFFSET
        if ephemeral and first <= ephemeral[1] and last >= ephemeral[0]:
            raise ProviderError(
                f"kwok.basePort: ports {first}-{last} fall in the kernel's ephemeral range "
                f"{ephemeral[0]}-{ephemeral[1]}, where any outgoing connection may hold them",
                f"set kwok.basePort in {self.settings.path} so that they stay below {ephemeral[0]}",
            )
        binaries = self._binaries()
        ports = {c: self.port(c) for c in PORTS}
        local.refuse_busy("the kwok control plane", ports, self.settings.path, ProviderError)
        return binaries

    def create(self, progress=_quiet) -> ClusterStatus:
        current = self.status()
        if current.ready:
            progress("reusing the running kwok cluster")
            self.check_trusts_identity()
            self.ensure_nodes(progress)
            self.ensure_storage(progress)
            return current
        if current.exists:
            raise ProviderError(
                f"stale kwok cluster state in {self.cluster_dir} ({current.detail})",
                f"run `invoke cluster.delete --env {self.settings.env} --provider kwok`, then create again",
            )
        binaries = self.preflight()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.state_dir, 0o700)
        if idp := self.identity():
            authn.write_config(self.authentication_config, idp.issuer, idp.ca_pem())
        config = self.state_dir / "kwokctl.yaml"
        config.write_text(yaml.safe_dump(self.kwokctl_config(binaries), sort_keys=False))
        progress("starting etcd, kube-apiserver, controller-manager, scheduler and kwok")
        try:
            proc = self._kwokctl(
                "create",
                "cluster",
                "--config",
                str(config),
                "--kubeconfig",
                str(self.merged_kubeconfig),
                "--wait",
                "3m",
            )
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                raise ProviderError(f"kwokctl create cluster failed: {last}", f"see {self.cluster_dir}/logs/")
            os.chmod(self.workdir, 0o700)
            wait_until(self.kubectl().reachable, 120, "the kube-apiserver to be ready", progress)
            self.ensure_nodes(progress)
            self.ensure_storage(progress)
        except BaseException:
            progress("creation failed: stopping what was started")
            self.delete()
            raise
        return self.status()

    def check_trusts_identity(self) -> None:
        """A running cluster made before `sso: {issuer: local}` has an API server that trusts no
        identity provider: its flags are fixed at start, so it must be made again."""
        if self.identity() is None:
            return
        config = self.state_dir / "kwokctl.yaml"
        made = yaml.safe_load(config.read_text()) if config.is_file() else {}
        patches = [p for p in (made or {}).get("componentsPatches") or [] if p.get("name") == "kube-apiserver"]
        if not any(arg.get("key") == "authentication-config" for p in patches for arg in p.get("extraArgs") or []):
            raise ProviderError(
                "the running kwok cluster's API server was started without the identity provider's "
                "authentication configuration (settings.yaml sso.issuer: local)",
                f"run `invoke cluster.delete --env {self.settings.env} --provider kwok`, then bootstrap again",
            )

    def ensure_nodes(self, progress=_quiet) -> None:
        """Apply one Node per node-group member and wait until all are Ready."""
        nodes = [node_manifest(g, i) for g in self.settings.node_groups for i in range(g.count)]
        if not nodes:
            return
        kubectl = self.kubectl()
        kubectl.apply_text(yaml.safe_dump_all(nodes), server_side=True)
        # status is a subresource: on a reused cluster, capacity changes in settings.yaml
        # reach the nodes only through it
        kubectl.apply_text(yaml.safe_dump_all(nodes), server_side=True, subresource="status")

        def all_ready() -> bool:
            items = kubectl.json("get", "nodes")["items"]
            ready = {
                n["metadata"]["name"]
                for n in items
                if any(
                    c["type"] == "Ready" and c["status"] == "True" for c in n.get("status", {}).get("conditions", [])
                )
            }
            return {n["metadata"]["name"] for n in nodes} <= ready

        wait_until(all_ready, 120, f"{len(nodes)} kwok nodes to be Ready", progress)

    def ensure_storage(self, progress=_quiet) -> None:
        """A default StorageClass and the stand-in provisioner process (kwok has no storage)."""
        from biogitops.cluster.kwok import storage

        self.kubectl().apply_text(yaml.safe_dump(storage.storage_class()))
        storage.LocalStorage.for_provider(self).start(progress)

    def delete(self, progress=_quiet) -> None:
        """Stop everything started for this cluster (Argo CD, git daemon, control plane); remove its state."""
        for pidfile in sorted(self.state_dir.glob("*/pids/*.pid")):  # processes beside the cluster
            progress(f"stopping {pidfile.stem}")
            Managed(pidfile.stem, pidfile.parent.parent).stop(timeout=10)
        if (self.cluster_dir / "kwok.yaml").is_file() and (tools.tools_bin() / "kwokctl").exists():
            progress("stopping the kwok control plane")
            self._kwokctl("delete", "cluster", "--kubeconfig", str(self.merged_kubeconfig))
        self._kill_leftovers()
        # processes can hold their sockets for a moment after the kill: wait until all are closed
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(port_open(self.port(c)) for c in PORTS):
            time.sleep(0.2)
        if self.state_dir.exists():
            shutil.rmtree(self.state_dir)

    def _kill_leftovers(self) -> None:
        """Kill any component whose pid file kwokctl left behind (e.g. after a failed create)."""
        pids = self.cluster_dir / "pids"
        if pids.is_dir():
            for pidfile in pids.glob("*.pid"):
                Managed(pidfile.stem, self.cluster_dir).stop(timeout=5)
