"""Host checks with pytest-testinfra: what runs, with which flags, listening where, and
who can read the cluster's state."""

from __future__ import annotations

import re
import stat

import psutil
import pytest
import testinfra
import yaml

from biogitops.cluster.kind import load, workloads
from biogitops.cluster.kind.provider import kind_workers
from biogitops.cluster.kwok.argocd import LocalArgoCD
from biogitops.cluster.kwok.gatekeeper import PORTS as GATEKEEPER_PORTS
from biogitops.cluster.kwok.provider import PORTS
from biogitops.config.pins import load_pins

from .conftest import Cluster


@pytest.fixture(scope="module")
def host():
    return testinfra.get_host("local://")


def _pids_under(cluster: Cluster) -> dict[int, str]:
    """Pid -> name of every process started for this cluster (from the pid files)."""
    found = {}
    for pidfile in cluster.provider.state_dir.rglob("pids/*.pid"):
        try:
            found[int(pidfile.read_text().strip())] = pidfile.stem
        except ValueError:
            continue
    return found


def _listening() -> list[tuple[str, int, int]]:
    """(address, port, pid) of every listening TCP socket (IPv4 and IPv6), from psutil: no
    iproute2 `ss` on the host."""
    return [
        (conn.laddr.ip, conn.laddr.port, conn.pid)
        for conn in psutil.net_connections(kind="tcp")
        if conn.status == psutil.CONN_LISTEN and conn.pid is not None
    ]


def _args(host, pid: int) -> str:
    return host.file(f"/proc/{pid}/cmdline").content.replace(b"\0", b" ").decode()


@pytest.fixture
def kwok(cluster: Cluster):
    if cluster.provider.name != "kwok":
        pytest.skip("kwok host checks: this run uses another provider")
    return cluster


PIDFILE = {  # process -> the pid file that names it (kwokctl's, or ours for Argo CD)
    "argocd-server": "server",
    "argocd-repo-server": "repo-server",
    "argocd-application-controller": "application-controller",
    "argocd-applicationset-controller": "applicationset-controller",
    "miniredis": "redis",
}

EXPECTED_FLAGS = {
    "kube-apiserver": [
        "--bind-address=127.0.0.1",
        "--authorization-mode=Node,RBAC",
        "--etcd-servers=http://127.0.0.1:{etcd}",
    ],
    "etcd": ["--listen-client-urls=http://127.0.0.1:{etcd}"],
    "kube-controller-manager": ["--bind-address=127.0.0.1"],
    "kube-scheduler": ["--bind-address=127.0.0.1"],
    "argocd-server": ["--address 127.0.0.1", "--insecure", "--repo-server-plaintext"],
    "argocd-repo-server": ["--address 127.0.0.1", "--disable-tls"],
    "argocd-application-controller": ["--repo-server-plaintext", "--namespace argocd"],
    "argocd-applicationset-controller": ["--probe-addr 127.0.0.1:", "--webhook-addr 127.0.0.1:"],
    "miniredis": ["-addr 127.0.0.1:", "-password-file "],
}


@pytest.mark.parametrize("process", sorted(EXPECTED_FLAGS))
def test_process_runs_with_expected_flags(host, kwok: Cluster, process: str) -> None:
    base = kwok.provider.base_port
    pids = {name: pid for pid, name in _pids_under(kwok).items()}
    pid = pids.get(PIDFILE.get(process, process))
    assert pid is not None, f"no pid file for {process}"
    assert host.process.get(pid=pid), f"{process} (pid {pid}) is not running"
    args = _args(host, pid)
    assert process in args.split(" ")[0], f"pid {pid} is not {process}: {args[:80]}"
    for flag in EXPECTED_FLAGS[process]:
        assert flag.format(etcd=base + PORTS["etcd"]) in args, f"{process}: {flag} not in {args}"


def test_every_listening_socket_is_loopback(host, kwok: Cluster) -> None:
    ours = _pids_under(kwok)
    assert ours, "no pid files found for the cluster"
    argocd = LocalArgoCD(kwok.provider.state_dir, kwok.provider.kubeconfig(), kwok.provider.base_port)
    # upstream binds the application controller's metrics to 0.0.0.0 (controller/appcontroller.go),
    # and Gatekeeper its --prometheus-port (no flag takes an address)
    allowed_wildcard = {argocd.port("controller-metrics"), kwok.provider.base_port + GATEKEEPER_PORTS["metrics"]}
    seen = [(addr, port, ours[pid]) for addr, port, pid in _listening() if pid in ours]
    assert {name for _, _, name in seen} >= {"kube-apiserver", "etcd", "redis", "server", "repo-server"}
    exposed = [(a, p, n) for a, p, n in seen if a not in ("127.0.0.1", "::1") and p not in allowed_wildcard]
    assert exposed == []


def test_state_and_etcd_data_are_private(host, kwok: Cluster) -> None:
    state = kwok.provider.state_dir
    assert stat.S_IMODE(state.stat().st_mode) & 0o077 == 0, f"{state} is readable by others"
    etcd_data = kwok.provider.cluster_dir / "etcd"
    assert etcd_data.is_dir()
    # the parent is private, so nobody else can reach etcd's data whatever its own mode
    assert host.file(str(state)).mode & 0o077 == 0
    assert host.file(str(kwok.provider.cluster_dir / "pki")).exists


def test_kind_nodes_run_containerd_and_kubelet(cluster: Cluster) -> None:
    """Every node container of a kind cluster built from source, from the inside: the services,
    the versions the node image was built at (pins.yaml), every image baked in, the platform's
    images loaded on their own, and no registry configuration (nothing is pulled: a mirror would
    be a place images could come from)."""
    if cluster.provider.name != "kind":
        pytest.skip(f"kind node checks: this run uses {cluster.provider.name}")
    if cluster.provider.plan.upstream:
        pytest.skip("kind node checks: this cluster runs kind's upstream node image (images: upstream)")
    pins = load_pins()
    k8s = pins.kubernetes_version
    containerd = pins.node_components["containerd"].version
    nodes = [n.metadata.name for n in cluster.core.list_node().items]
    assert len(nodes) == 1 + len(kind_workers(yaml.safe_load(cluster.provider.settings.kind_config.read_text())))
    for node in nodes:
        node_host = testinfra.get_host(f"docker://{node}")
        assert node_host.service("containerd").is_running, node
        assert node_host.service("kubelet").is_running, node
        assert f"v{containerd}" in node_host.check_output("containerd --version")
        assert node_host.check_output("kubelet --version") == f"Kubernetes v{k8s}"
        assert node_host.file("/kind/version").content_string.strip() == f"v{k8s}"
        assert node_host.file("/usr/share/bio-gitops/debian-packages").contains("^runc ")
        config = node_host.file("/etc/containerd/config.toml").content_string
        assert not re.search(r"\.registry|mirrors|config_path", config), f"{node}: registry configuration found"
        images = node_host.check_output("ctr --namespace=k8s.io images list -q")
        for name in ("kube-apiserver", "kube-proxy", "etcd", "coredns/coredns", "pause"):
            assert f"registry.k8s.io/{name}:" in images, f"{node}: {name} image missing"
        for ref in workloads.refs(pins).values():  # loaded one by one, not baked into the node image
            assert load.containerd_name(ref) in images, f"{node}: {ref} not loaded"
