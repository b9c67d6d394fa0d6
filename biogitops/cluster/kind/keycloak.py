"""dev's identity provider beside a kind cluster: Keycloak from pins.yaml `images.keycloak` (the
pinned distribution that runs beside kwok, built into an image here), run by the container engine
on the `kind` network at a fixed address, started before the cluster: the API server trusts it
from its first start, and the host, the API server (no cluster DNS) and every pod reach one URL.

    idp = ContainerKeycloak.for_provider(provider)
    idp.launch(progress)   # builds the image once, starts the container; idempotent
    idp.wait(progress)     # until /health/ready answers over TLS
    idp.issuer             # https://172.18.255.254:8443/realms/bio-gitops

The address is the last free one of the network's IPv4 subnet, chosen once per cluster and kept:
the engine hands addresses out from the bottom, so no node takes it. The certificate comes from
this cluster's dev CA (made here, never committed), the H2 database lives in the cluster's state
directory (bind-mounted; the container runs as this user, so the files stay this user's).
Log: `docker logs <cluster>-keycloak`.
The realm, clients, groups and users are the platform layer's (biogitops/platform/sso.py).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from biogitops.cluster.kube import wait_until
from biogitops.cluster.kwok.keycloak import ADMIN, DevKeycloak, https_ok
from biogitops.errors import BioGitopsError, Fatal

NETWORK = "kind"  # the network kind puts its nodes on
HTTPS, MANAGEMENT = 8443, 9000
# kind's own network settings (sigs.k8s.io/kind pkg/cluster/internal/providers/docker/network.go),
# for a machine where no kind cluster made the network yet
KIND_NETWORK_ARGS = ("-d=bridge", "-o", "com.docker.network.bridge.enable_ip_masquerade=true")
KIND_IPV6_SUBNET = "fc00:f853:ccd:e793::/64"


def _quiet(_: str) -> None:
    pass


class KeycloakContainerError(BioGitopsError):
    """The identity provider's container cannot be started."""


def _docker(args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    from biogitops.cluster.kind.nodeimage.docker import docker_binary

    proc = subprocess.run([docker_binary(), *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise KeycloakContainerError(
            f"docker {args[0]} {args[1] if len(args) > 1 else ''}: {last}", "see `docker ps -a`"
        )
    return proc


def ensure_network() -> str:
    """The `kind` network's IPv4 subnet, making the network first as kind would when it is missing."""
    if _docker(["network", "inspect", NETWORK], check=False).returncode != 0:
        made = _docker(
            ["network", "create", *KIND_NETWORK_ARGS, "--ipv6", "--subnet", KIND_IPV6_SUBNET, NETWORK], False
        )
        if made.returncode != 0:  # an engine without IPv6: kind falls back the same way
            _docker(["network", "create", *KIND_NETWORK_ARGS, NETWORK])
    ipam = json.loads(_docker(["network", "inspect", NETWORK, "--format", "{{json .IPAM.Config}}"]).stdout)
    for entry in ipam or []:
        if ipaddress.ip_network(entry.get("Subnet", "::/128"), strict=False).version == 4:
            return entry["Subnet"]
    raise KeycloakContainerError(f"the {NETWORK!r} network has no IPv4 subnet", f"docker network inspect {NETWORK}")


def last_address(subnet: str, taken: frozenset[str] = frozenset()) -> str:
    """The highest usable IPv4 address of `subnet` (not the broadcast address) that no container
    holds: a second cluster's identity provider (the bench's) takes the one below."""
    network = ipaddress.ip_network(subnet, strict=False)
    if network.num_addresses < 8:
        raise KeycloakContainerError(f"the {NETWORK!r} network's subnet {subnet} is too small", "use a /29 or larger")
    for index in range(network.num_addresses - 2, network.num_addresses // 2, -1):
        if str(network[index]) not in taken:
            return str(network[index])
    raise KeycloakContainerError(f"no free address in the top half of {subnet}", f"docker network inspect {NETWORK}")


def taken_addresses() -> frozenset[str]:
    """The IPv4 addresses containers hold on the network now."""
    listing = _docker(["network", "inspect", NETWORK, "--format", "{{range .Containers}}{{.IPv4Address}} {{end}}"])
    return frozenset(entry.split("/")[0] for entry in listing.stdout.split())


@dataclass
class ContainerKeycloak(DevKeycloak):
    """Keycloak 26 in production mode in a container beside the kind cluster `cluster_name`."""

    state_dir: Path
    cluster_name: str

    what = "the identity provider (Keycloak, a container on the kind network)"
    https_port = HTTPS
    timeout = 300  # about 40 s alone; a busy 2-core machine takes several times that

    @classmethod
    def for_provider(cls, provider: Any) -> Self:
        return cls(provider.state_dir, provider.cluster_name)

    # -- where
    @property
    def home(self) -> Path:
        return self.state_dir / "keycloak"

    @property
    def container(self) -> str:
        return f"{self.cluster_name}-keycloak"

    @property
    def address(self) -> str:  # type: ignore[override]
        """Its address on the kind network (kept in the state directory once chosen)."""
        record = self.home / "address"
        if not record.is_file():
            self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
            subnet = ensure_network()
            record.write_text(last_address(subnet, taken_addresses()))
        return record.read_text().strip()

    @property
    def log_hint(self) -> str:
        return f"docker logs {self.container}"

    # -- what runs
    def image(self, progress: Callable[[str], None] = _quiet) -> str:
        from biogitops.cluster.kind import workloads
        from biogitops.config.pins import load_pins

        pins = load_pins()
        return workloads.build(pins.images["keycloak"], pins, progress)

    def run_args(self, image: str) -> list[str]:
        """The `docker run` arguments, from `--name` on (what a restart compares)."""
        self.ca_pem()
        data = self.home / "data"
        data.mkdir(parents=True, exist_ok=True, mode=0o700)
        env_file = self.home / "bootstrap.env"  # read by Keycloak only while its master realm has no user
        if not env_file.is_file():
            env_file.touch(mode=0o600)
            env_file.write_text(
                f"KC_BOOTSTRAP_ADMIN_USERNAME={ADMIN}\nKC_BOOTSTRAP_ADMIN_PASSWORD={self.admin_password()}\n"
            )
        return [
            "--name",
            self.container,
            "--network",
            NETWORK,
            "--ip",
            self.address,
            "--restart",
            "unless-stopped",  # comes back with the engine, as the nodes do
            "--user",
            f"{os.getuid()}:{os.getgid()}",
            "--env-file",
            str(env_file),
            "-v",
            f"{self.home / 'certs'}:/certs:ro",
            "-v",
            f"{data}:/data",
            # not kind's node label (io.x-k8s.kind.cluster): kind and our image loader would take it for a node
            "--label",
            f"bio-gitops.io/beside={self.cluster_name}",
            image,
            "start",
            "--optimized",
            f"--hostname={self.base_url}",
            "--http-enabled=false",
            f"--https-port={HTTPS}",
            "--https-certificate-file=/certs/tls.crt",
            "--https-certificate-key-file=/certs/tls.key",
            f"--http-management-port={MANAGEMENT}",
            "--db-url=jdbc:h2:file:/data/keycloakdb;NON_KEYWORDS=VALUE",
            "--cache=local",
        ]

    def _inspect(self) -> dict[str, Any] | None:
        proc = _docker(["container", "inspect", self.container], check=False)
        return json.loads(proc.stdout)[0] if proc.returncode == 0 else None

    def alive(self) -> bool:
        info = self._inspect()
        return bool(info and info["State"]["Running"])

    # -- lifecycle
    def launch(self, progress: Callable[[str], None] = _quiet) -> bool:
        """Start the container unless it runs with the same image and arguments; True when started."""
        image = self.image(progress)
        args = self.run_args(image)
        info = self._inspect()
        if info and info["State"]["Running"] and info["Config"]["Labels"].get("bio-gitops.io/args") == json.dumps(args):
            return False
        if info:
            progress(f"restarting {self.what}: its image or arguments changed")
            _docker(["rm", "-f", self.container])
        progress(f"starting {self.what} at {self.base_url}")
        _docker(["run", "-d", "--label", f"bio-gitops.io/args={json.dumps(args)}", *args])
        return True

    def probe(self) -> bool:
        # the management interface inherits the main interface's TLS
        return https_ok(f"https://{self.address}:{MANAGEMENT}/health/ready", self.ssl_context())

    def ready(self) -> bool:
        return self.alive() and self.probe()

    def state(self) -> str:
        """ready, running (not yet ready) or stopped."""
        return "ready" if self.ready() else ("running" if self.alive() else "stopped")

    def ready_or_dead(self) -> bool:
        if not self.alive():
            logs = _docker(["logs", "--tail", "1", self.container], check=False)
            last = (logs.stdout + logs.stderr).strip().splitlines()[-1:] or ["no log"]
            raise Fatal(f"{self.what} exited: {last[0]}", f"docker logs {self.container}")
        return self.probe()

    def wait(self, progress: Callable[[str], None] = _quiet, timeout: float | None = None) -> None:
        wait_until(
            self.ready_or_dead,
            self.timeout if timeout is None else timeout,
            f"{self.what} to be ready",
            progress,
            hint=f"docker logs {self.container}",
        )

    def start(self, progress: Callable[[str], None] = _quiet, timeout: float | None = None) -> None:
        self.launch(progress)
        self.wait(progress, timeout)

    def stop(self, timeout: float = 10) -> None:
        _docker(["stop", "-t", str(int(timeout)), self.container], check=False)

    def delete(self) -> None:
        """Remove the container (with the cluster: its data is in the state directory)."""
        _docker(["rm", "-f", self.container], check=False)
