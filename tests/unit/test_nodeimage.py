"""The kind node image build without Docker: its inputs, its Dockerfiles, its errors."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from biogitops.cluster.kind import nodeimage
from biogitops.cluster.kind.nodeimage import images, node
from biogitops.cluster.kind.nodeimage.docker import Docker, ImageBuildError
from biogitops.config.pins import load_pins


def test_scratch_image_dockerfile_copies_the_binary_and_sets_the_entrypoint(tmp_path: Path) -> None:
    spec = images.ImageSpec(
        "registry.k8s.io/etcd:3.6.8-0",
        "scratch",
        {"/usr/local/bin/etcd": tmp_path / "etcd"},
        ("/usr/local/bin/etcd",),
        env={"PATH": "/usr/local/bin"},
    )
    assert spec.dockerfile().splitlines() == [
        "FROM scratch",
        "COPY f0 /usr/local/bin/etcd",
        "ENV PATH=/usr/local/bin",
        'ENTRYPOINT ["/usr/local/bin/etcd"]',
    ]


def test_cluster_images_use_the_names_kubeadm_asks_for(tmp_path: Path) -> None:
    pins = load_pins()
    names = [
        "kube-apiserver",
        "kube-controller-manager",
        "kube-scheduler",
        "kube-proxy",
        "etcd",
        "coredns",
        "kubectl",
        "local-path-provisioner",
        "kube-network-policies",
    ]
    versions = {
        **{p.name: p.version for p in pins.tools.values()},
        **{p.name: p.version for p in pins.node_components.values()},
    }
    bins = {n: tmp_path / f"{n}-{versions[n]}" / n for n in names}
    refs = {s.ref for s in images.cluster_images("1.36.3", bins, "deb:1", "k", tmp_path / "agent", tmp_path / "divert")}
    assert {
        "registry.k8s.io/kube-apiserver:v1.36.3",
        "registry.k8s.io/kube-proxy:v1.36.3",
        f"registry.k8s.io/etcd:{versions['etcd']}-0",  # kubeadm's DefaultEtcdVersion form
        f"registry.k8s.io/coredns/coredns:v{versions['coredns']}",
        images.PAUSE_IMAGE,
        "deb:1",  # the helper pods' and git server's base
        f"bio-gitops/kube-network-policies:v{versions['kube-network-policies']}-k",  # the NetworkPolicy engine
    } <= refs
    assert not [r for r in refs if r.endswith(":latest")]
    # the platform's images are loaded on their own, not baked into the node image
    assert not [r for r in refs if r.startswith(("bio-gitops/argocd", "bio-gitops/redis"))]


def test_the_sandbox_image_is_the_one_containerd_pins() -> None:
    config = (node.FILES / "containerd-config.toml").read_text()
    assert f'sandbox = "{images.PAUSE_IMAGE}"' in config


@pytest.mark.parametrize("marker", ["NET_AGENT_IMAGE"])
def test_a_manifest_marker_left_unfilled_is_refused(marker: str) -> None:
    with pytest.raises(ImageBuildError, match=f"unfilled markers.*{marker}"):
        node.render_manifest("default-cni.yaml", {})
    assert "@" not in node.render_manifest("default-cni.yaml", {marker: "img:1"}).split("image:")[1].split()[0]


def test_the_network_policy_engine_is_applied_with_the_pod_network() -> None:
    """kind applies default-cni.yaml only: the engine's DaemonSet must be in it, with its image,
    our queue number in both containers, and kind's pod subnet marker for the diversion."""
    text = node.network_policy_manifest("bio-gitops/kube-network-policies:v0.8.0-k")
    docs = [d for d in yaml.safe_load_all(text.replace("{{ .PodSubnet }}", "10.244.0.0/16")) if d]
    [daemonset] = [d for d in docs if d["kind"] == "DaemonSet"]
    containers = {c["name"]: c for c in daemonset["spec"]["template"]["spec"]["containers"]}
    assert {c["image"] for c in containers.values()} == {"bio-gitops/kube-network-policies:v0.8.0-k"}
    assert f"--nfqueue-id={node.NFQUEUE_ID}" in containers["engine"]["command"]
    env = {e["name"]: e.get("value") for e in containers["divert"]["env"]}
    assert env == {"NFQUEUE_ID": str(node.NFQUEUE_ID), "POD_SUBNET": "10.244.0.0/16"}
    [role] = [d for d in docs if d["kind"] == "ClusterRole"]
    assert {"networkpolicies", "pods", "namespaces"} <= {r for rule in role["rules"] for r in rule["resources"]}


def test_the_key_changes_with_a_pin_and_not_otherwise() -> None:
    pins = load_pins()
    assert nodeimage.node_key(pins) == nodeimage.node_key(load_pins())
    bumped = dataclasses.replace(pins.node_components["containerd"], version="2.4.3")
    other = dataclasses.replace(pins, node_components={**pins.node_components, "containerd": bumped})
    assert nodeimage.node_key(other) != nodeimage.node_key(pins)


def _fake_docker(tmp_path: Path, fake_docker, script: str) -> Docker:
    fake_docker(script)
    return Docker(tmp_path / "build.log")


def test_a_failed_step_names_the_step_its_last_line_and_the_log(tmp_path: Path, fake_docker) -> None:
    docker = _fake_docker(tmp_path, fake_docker, 'echo "pulling..." ; echo "no space left on device" >&2; exit 1\n')
    with pytest.raises(ImageBuildError) as err:
        docker.run("build image registry.k8s.io/kube-proxy:v1.36.3", ["build", "."])
    line = str(err.value)
    assert "node image: build image registry.k8s.io/kube-proxy:v1.36.3 failed: no space left on device" in line
    assert str(tmp_path / "build.log") in line and "\n" not in line
    assert "pulling..." in (tmp_path / "build.log").read_text()


def test_an_engine_that_refuses_privileged_containers_is_named(tmp_path: Path, fake_docker) -> None:
    docker = _fake_docker(tmp_path, fake_docker, 'echo "unable to apply caps: operation not permitted" >&2; exit 125\n')
    with pytest.raises(ImageBuildError, match="cannot run privileged containers: unable to apply caps"):
        docker.check_privileged("deb:1")


def test_no_docker_on_path_says_what_to_do(monkeypatch) -> None:
    monkeypatch.setattr("shutil.which", lambda _: None)
    with pytest.raises(ImageBuildError, match="needs a container engine.*--provider kwok"):
        Docker(Path("/nonexistent/build.log"))
