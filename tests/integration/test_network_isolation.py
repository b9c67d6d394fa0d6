"""NetworkPolicies hold on the wire: real TCP connections from pods in lab namespaces.

    nox -s integration -- --provider kind -k network_isolation

Small pods from the Debian base image in the node image (bash's /dev/tcp, git daemon as a
listener) run in lab-genomics and lab-proteomics after bootstrap. Each case opens one TCP
connection and reads how it ended: `open` (the handshake completed) or `timeout` (no answer:
a policy dropped the first packet). A closed port answers at once (`refused`), which no case
accepts as isolation: that packet got through. The engine is kube-network-policies, built into
the node image (biogitops/cluster/kind/nodeimage/files/network-policy.yaml). kwok runs no
container, so nothing here runs on kwok.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.platform import bootstrap as bs

from .conftest import Cluster

LISTEN_PORT = 8080
HTTPS_PORT = 443  # where a controller's stolen token would go: any address on 443
CONNECT_SECONDS = 4
# pods of the test: (namespace, name, labels, port); each serves its port
PODS = [
    ("lab-genomics", "netprobe-client", {}, LISTEN_PORT),
    ("lab-genomics", "netprobe-apiserver", {"bio-gitops.io/needs-apiserver": "true"}, LISTEN_PORT),
    ("lab-genomics", "netprobe-listener", {}, LISTEN_PORT),
    ("lab-proteomics", "netprobe-listener", {}, LISTEN_PORT),
    # the Spark operator's namespace, and an outside address on 443 (a namespace without policies)
    ("spark-operator", "netprobe-operator", {}, LISTEN_PORT),
    ("default", "netprobe-https", {}, HTTPS_PORT),
]
SCRIPT = (
    'timeout {s} bash -c "exec 3<>/dev/tcp/$0/$1" 2>/dev/null; rc=$?; '
    "if [ $rc = 0 ]; then echo open; elif [ $rc = 124 ]; then echo timeout; else echo refused; fi"
)


@pytest.fixture(scope="module")
def pods(cluster: Cluster, provider: Provider) -> Iterator[dict[str, str]]:
    """Bootstrap dev, start the probe pods, and hand out each one's IP by 'namespace/name'."""
    if provider.name != "kind":
        pytest.skip(f"packet tests need pods that run: {provider.name} runs no container, kind does")
    bs.Bootstrap(Target.of(provider), print).run()
    image = provider.git_server_image()  # the Debian base, in the node image
    for namespace, name, labels, port in PODS:
        cluster.kubectl.run("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=true")
        cluster.kubectl.apply_text(yaml.safe_dump(_pod(namespace, name, labels, image, port)))
    ips: dict[str, str] = {}
    deadline = time.monotonic() + 180
    for namespace, name, _, _ in PODS:
        while True:
            pod = cluster.kubectl.json("-n", namespace, "get", "pod", name)
            ready = any(
                c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", [])
            )
            if ready:
                ips[f"{namespace}/{name}"] = pod["status"]["podIP"]
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"probe pod {namespace}/{name} not ready: {pod.get('status')}")
            time.sleep(2)
    yield ips
    for namespace, name, _, _ in PODS:
        cluster.kubectl.run("-n", namespace, "delete", "pod", name, "--ignore-not-found", "--wait=false", check=False)


def _pod(namespace: str, name: str, labels: dict[str, str], image: str, port: int) -> dict:
    """A restricted-profile pod: a git daemon on `port` (a listener any TCP client reaches); a
    port below 1024 through the namespaced sysctl that lets a non-root user bind it."""
    sysctls = [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "0"}] if port < 1024 else []
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/name": name, **labels}},
        "spec": {
            "automountServiceAccountToken": False,
            "terminationGracePeriodSeconds": 1,
            "securityContext": {
                "runAsNonRoot": True,
                "runAsUser": 65534,
                "seccompProfile": {"type": "RuntimeDefault"},
                **({"sysctls": sysctls} if sysctls else {}),
            },
            "containers": [
                {
                    "name": "probe",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["git", "daemon", "--reuseaddr", "--base-path=/tmp", f"--port={port}", "/tmp"],
                    "env": [{"name": "HOME", "value": "/tmp"}],
                    "readinessProbe": {"tcpSocket": {"port": port}, "periodSeconds": 2},
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                }
            ],
        },
    }


def connect(cluster: Cluster, source: str, host: str, port: int) -> str:
    """Open one TCP connection from pod `source` ('namespace/name'): open, timeout or refused."""
    namespace, name = source.split("/")
    script = SCRIPT.format(s=CONNECT_SECONDS)
    out = cluster.kubectl.run("-n", namespace, "exec", name, "--", "bash", "-c", script, host, str(port), timeout=60)
    return out.strip().splitlines()[-1]


CLIENT = "lab-genomics/netprobe-client"
OPERATOR = "spark-operator/netprobe-operator"
# (source pod, target: a probe pod's key or a DNS name, port, how the connection must end)
CASES = [
    pytest.param(CLIENT, "lab-genomics/netprobe-listener", LISTEN_PORT, "open", id="same-lab-allowed"),
    pytest.param(CLIENT, "lab-proteomics/netprobe-listener", LISTEN_PORT, "timeout", id="lab-to-other-lab-refused"),
    pytest.param(
        "lab-proteomics/netprobe-listener",
        "lab-genomics/netprobe-listener",
        LISTEN_PORT,
        "timeout",
        id="other-lab-to-lab-refused",
    ),
    pytest.param(
        CLIENT, "argocd-repo-server.argocd.svc.cluster.local", 8081, "timeout", id="lab-to-argocd-repo-server-refused"
    ),
    pytest.param(CLIENT, "argocd-server.argocd.svc.cluster.local", 80, "timeout", id="lab-to-argocd-server-refused"),
    pytest.param(CLIENT, "argocd-redis.argocd.svc.cluster.local", 6379, "timeout", id="lab-to-argocd-redis-refused"),
    pytest.param(CLIENT, "git-server.argocd.svc.cluster.local", 9418, "timeout", id="lab-to-git-server-refused"),
    pytest.param(CLIENT, "kube-dns.kube-system.svc.cluster.local", 53, "open", id="lab-to-dns-allowed"),
    pytest.param(
        "lab-genomics/netprobe-apiserver",
        "kubernetes.default.svc.cluster.local",
        443,
        "open",
        id="lab-pod-that-needs-the-apiserver-reaches-it",
    ),
    pytest.param(
        CLIENT, "kubernetes.default.svc.cluster.local", 443, "timeout", id="other-lab-pod-to-apiserver-refused"
    ),
    pytest.param(CLIENT, "default/netprobe-https", HTTPS_PORT, "timeout", id="lab-to-outside-443-refused"),
    pytest.param(
        OPERATOR,
        "kubernetes.default.svc.cluster.local",
        443,
        "open",
        id="spark-operator-reaches-the-apiserver",
    ),
    pytest.param(
        OPERATOR, "default/netprobe-https", HTTPS_PORT, "timeout", id="spark-operator-to-any-address-on-443-refused"
    ),
    pytest.param(
        OPERATOR, "lab-genomics/netprobe-listener", LISTEN_PORT, "timeout", id="spark-operator-to-lab-refused"
    ),
]


@pytest.mark.parametrize(("source", "target", "port", "expected"), CASES)
def test_lab_connection(cluster: Cluster, pods: dict[str, str], source: str, target: str, port: int, expected: str):
    host = pods.get(target, target)
    got = connect(cluster, source, host, port)
    assert got == expected, f"{source} -> {target}:{port}: the TCP connection ended {got}, expected {expected}"
