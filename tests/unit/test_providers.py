"""Providers without a cluster: the commands kind would run, the config kwok writes, errors."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest
import yaml

from biogitops import cluster
from biogitops.cluster import ProviderError, get_provider
from biogitops.cluster.base import node_manifest
from biogitops.cluster.kind import nodeimage, workloads
from biogitops.cluster.kind import provider as kind_module
from biogitops.cluster.kind.provider import KindProvider, kind_workers
from biogitops.cluster.kwok import local
from biogitops.cluster.kwok import provider as kwok
from biogitops.cluster.kwok.provider import KwokProvider
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.errors import ConfigError
from biogitops.render.argocd_manifests import UPSTREAM_ARGOCD, UPSTREAM_REDIS, manifests


@pytest.fixture
def dev(cache: Path):
    return load_settings("dev")


def test_provider_comes_from_settings_unless_overridden(dev, monkeypatch) -> None:
    monkeypatch.setattr(cluster, "engine_answer", lambda: (True, "Docker engine 20.10.24"))
    assert dev.provider == "auto"
    assert isinstance(get_provider(dev), KindProvider)
    assert isinstance(get_provider(dev, "kwok"), KwokProvider)
    assert get_provider(dev, "kwok").reason == "--provider kwok"


@pytest.mark.parametrize(
    ("answer", "chosen", "why"),
    [
        ((True, "Docker engine 20.10.24"), KindProvider, "auto: Docker engine 20.10.24 answered, so kind"),
        (
            (False, "`docker` is not on PATH"),
            KwokProvider,
            "auto: no container engine (`docker` is not on PATH), so kwok",
        ),
        ((False, "`docker info` failed: Cannot connect"), KwokProvider, "so kwok"),
    ],
)
def test_auto_picks_kind_only_when_an_engine_answers(dev, monkeypatch, answer, chosen, why) -> None:
    monkeypatch.setattr(cluster, "engine_answer", lambda: answer)
    provider = get_provider(dev)
    assert isinstance(provider, chosen)
    assert why in provider.reason


def test_engine_answer_without_docker_says_so(monkeypatch) -> None:
    monkeypatch.setattr(kind_module.shutil, "which", lambda _: None)
    assert cluster.engine_answer() == (False, "`docker` is not on PATH")


def test_unknown_provider_is_refused(dev) -> None:
    with pytest.raises(ConfigError, match="unknown provider 'docker-desktop'"):
        get_provider(dev, "docker-desktop")


def test_kind_create_command_uses_the_node_image_built_from_the_pins(dev, cache: Path) -> None:
    cmd = get_provider(dev, "kind").create_command()
    image = cmd[cmd.index("--image") + 1]
    assert image == nodeimage.node_image_ref(load_pins())
    assert image.startswith(f"bio-gitops/kind-node:v{load_pins().kubernetes_version}-")
    assert cmd[cmd.index("--name") + 1] == "bio-gitops-dev"
    assert cmd[cmd.index("--config") + 1].startswith(str(cache))
    assert cmd[cmd.index("--kubeconfig") + 1].startswith(str(cache))


@pytest.mark.parametrize(("version", "patched"), [(1, True), (2, False)])
def test_fail_cgroup_v1_is_set_only_on_a_cgroup_v1_host(dev, cache: Path, monkeypatch, version, patched) -> None:
    monkeypatch.setattr(kind_module, "host_cgroup_version", lambda: version)
    config = yaml.safe_load(get_provider(dev, "kind").effective_config().read_text())
    patches = [yaml.safe_load(p) for p in config.get("kubeadmConfigPatches", [])]
    kubelet = [p for p in patches if p.get("kind") == "KubeletConfiguration"]
    assert (kubelet == [{"kind": "KubeletConfiguration", "failCgroupV1": False}]) is patched
    provider = get_provider(dev, "kind")
    mount = {"hostPath": str(provider.volumes_dir()), "containerPath": kind_module.VOLUMES_IN_NODE}
    for node in config["nodes"]:  # the same host directory in every node: a shared filesystem
        mounts = node.pop("extraMounts")
        assert mounts[0] == mount and all(m["containerPath"] == kind_module.AUTHN_IN_NODE for m in mounts[1:])
    assert config["nodes"] == yaml.safe_load(dev.kind_config.read_text())["nodes"]


def apply_adds(doc: dict, ops: list[dict]) -> dict:
    """RFC 6902 `add` operations, as kind applies them (enough for these patches)."""
    for op in ops:
        assert op["op"] == "add"
        *parents, last = op["path"].strip("/").split("/")
        target = doc
        for key in parents:
            target = target[key]
        if last == "-":
            target.append(op["value"])
        else:
            target[last] = op["value"]
    return doc


def test_kind_api_server_trusts_the_identity_provider_and_keeps_kinds_own_flags(dev, cache: Path) -> None:
    """dev (`sso: {issuer: local}`): the control plane gets the authentication configuration's
    directory and the flag, appended to kind's flags (a merge patch would replace them)."""
    provider = get_provider(dev, "kind")
    config = yaml.safe_load(provider.effective_config().read_text())
    authn_dir = str(provider.authentication_config.parent)
    for node in config["nodes"]:
        trusted = [m for m in node["extraMounts"] if m["hostPath"] == authn_dir]
        assert trusted == (
            [{"hostPath": authn_dir, "containerPath": kind_module.AUTHN_IN_NODE, "readOnly": True}]
            if node["role"] == "control-plane"
            else []
        )
    (patch,) = config["kubeadmConfigPatchesJSON6902"]
    assert (patch["kind"], patch["version"]) == ("ClusterConfiguration", "v1beta4")
    # kind v0.32.0's v1beta4 template starts the API server's flags with runtime-config
    kinds = {"apiServer": {"extraArgs": [{"name": "runtime-config", "value": ""}]}}
    patched = apply_adds(kinds, yaml.safe_load(patch["patch"]))
    flags = {a["name"]: a["value"] for a in patched["apiServer"]["extraArgs"]}
    assert flags == {
        "runtime-config": "",
        "authentication-config": f"{kind_module.AUTHN_IN_NODE}/{kind_module.AUTHN_FILE}",
    }
    assert patched["apiServer"]["extraVolumes"][0]["hostPath"] == kind_module.AUTHN_IN_NODE


def test_kind_without_local_sign_on_starts_no_identity_provider(dev, cache: Path) -> None:
    raw = {**dev.raw, "sso": {"issuer": "https://login.example.org/realms/labs"}}
    provider = get_provider(dataclasses.replace(dev, raw=raw), "kind")
    assert provider.identity() is None
    config = yaml.safe_load(provider.effective_config().read_text())
    assert "kubeadmConfigPatchesJSON6902" not in config


def test_kind_workers_mirror_the_node_groups(dev) -> None:
    workers = kind_workers(yaml.safe_load(dev.kind_config.read_text()))
    expected = []
    for group in dev.node_groups:
        expected += [{"labels": group.labels, "taints": group.taints}] * group.count
    key = lambda w: (sorted(w["labels"].items()), str(w["taints"]))  # noqa: E731
    assert sorted(workers, key=key) == sorted(expected, key=key)


def test_kind_without_docker_suggests_kwok(dev, monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ProviderError, match="--provider kwok"):
        get_provider(dev, "kind").check_engine()


def test_kind_with_a_dead_docker_daemon_suggests_kwok(dev, tmp_path: Path, monkeypatch) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ProviderError, match=r"`docker info` failed: Cannot connect.*--provider kwok"):
        get_provider(dev, "kind").check_engine()


def test_kwokctl_config_uses_local_binaries_and_loopback(dev, cache: Path) -> None:
    prov = get_provider(dev, "kwok")
    binaries = {
        n: Path(f"/opt/{n}")
        for n in ["kwok", "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"]
    }
    opts = prov.kwokctl_config(binaries)["options"]
    assert opts["runtime"] == "binary"
    assert opts["bindAddress"] == "127.0.0.1"
    assert opts["kubeApiserverBinary"] == "/opt/kube-apiserver"
    assert opts["kwokControllerBinary"] == "/opt/kwok"
    assert opts["kubeApiserverPort"] == dev.kwok_base_port + local.PORTS["kwok"]["kube-apiserver"]
    assert not any(str(v).startswith("http") for v in opts.values()), "nothing may be downloaded"


def test_kwok_controllers_hold_no_election_that_a_busy_machine_could_make_them_lose(dev, cache: Path) -> None:
    """CI saw kube-controller-manager and kube-scheduler exit ("leaderelection lost") when the
    loaded API server answered a lease renewal late: the cluster stayed half down for good."""
    prov = get_provider(dev, "kwok")
    binaries = {n: Path(f"/opt/{n}") for n in ["kwok", "etcd", "kubectl", *local.PORTS["kwok"]]}
    patches = {p["name"]: p["extraArgs"] for p in prov.kwokctl_config(binaries)["componentsPatches"]}
    for name in ("kube-controller-manager", "kube-scheduler"):
        assert {"key": "leader-elect", "value": "false"} in patches[name], patches


def test_kwok_missing_binary_names_the_install_command(dev, cache: Path) -> None:
    with pytest.raises(
        ProviderError, match=r"not in the tool cache at the pinned version.*invoke tools.install --only kwokctl"
    ):
        get_provider(dev, "kwok").preflight()


def test_kwok_refuses_a_busy_port(dev, cache: Path, monkeypatch) -> None:
    import socket

    prov = get_provider(dev, "kwok", instance="unit", port_offset=500)  # clear of a running dev cluster
    monkeypatch.setattr(prov, "_binaries", lambda: {})
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", prov.port("etcd")))
        sock.listen()
        with pytest.raises(ProviderError) as err:
            prov.preflight()
    etcd = prov.port("etcd")
    assert err.value.message == f"cannot start the kwok control plane: etcd port {etcd} already in use on 127.0.0.1"
    assert f"pid {os.getpid()} (" in err.value.hint and f"listens on port {etcd}: stop it" in err.value.hint
    assert f"kwok.basePort in {dev.path}" in err.value.hint


def test_kwok_stale_state_is_refused_with_the_delete_command(dev, cache: Path) -> None:
    prov = get_provider(dev, "kwok", port_offset=300)
    prov.cluster_dir.mkdir(parents=True)
    (prov.cluster_dir / "kwok.yaml").write_text("stale: true\n")
    prov.kubeconfig().write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(ProviderError, match=r"stale kwok cluster state.*invoke cluster.delete --env dev"):
        prov.create()


def test_kwok_storage_stand_in_starts_beside_the_cluster(dev, cache: Path, monkeypatch, tmp_path: Path) -> None:
    """ensure_storage applies the default StorageClass and starts the volume provisioner under the
    cluster's state dir (pid and log files in <state>/storage/); it keeps running while the API
    server is away, as it does while kwok restarts."""
    from biogitops.cluster.kwok.procs import Managed

    prov = get_provider(dev, "kwok", instance="unit", port_offset=500)
    applied: list[str] = []
    monkeypatch.setattr(prov, "kubectl", lambda: type("K", (), {"apply_text": lambda _, text: applied.append(text)})())
    prov.kubeconfig().parent.mkdir(parents=True)
    prov.kubeconfig().write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "k", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "k", "context": {"cluster": "k", "user": "u"}}],
                "current-context": "k",
            }
        )
    )
    proc = Managed("kwok-storage", prov.state_dir / "storage")
    try:
        prov.ensure_storage()
        assert [yaml.safe_load(text)["kind"] for text in applied] == ["StorageClass"]
        assert proc.alive()
        assert proc.cmdline()[1:3] == ["-m", "biogitops.cluster.kwok.storage"]
        assert proc.logfile.is_file()
    finally:
        proc.stop()


def test_node_manifest_carries_group_labels_taints_and_capacity(dev) -> None:
    gpu = next(g for g in dev.node_groups if g.name == "gpu")
    node = node_manifest(gpu, 0)
    assert node["metadata"]["name"] == "gpu-0"
    assert node["metadata"]["labels"]["bio-gitops.io/node-group"] == "gpu"
    assert node["spec"]["taints"] == gpu.taints
    assert node["status"]["capacity"]["nvidia.com/gpu"] == gpu.capacity["nvidia.com/gpu"]


def test_bench_instance_does_not_collide_with_dev(dev) -> None:
    main, bench = get_provider(dev, "kwok"), get_provider(dev, "kwok", instance="bench", port_offset=100)
    assert main.cluster_name != bench.cluster_name
    assert main.state_dir != bench.state_dir
    assert main.port("kube-apiserver") != bench.port("kube-apiserver")


@pytest.mark.parametrize(
    ("offset", "refused"),
    [pytest.param(0, False, id="dev-ports-below-the-range"), pytest.param(6360, True, id="ports-cross-into-the-range")],
)
def test_kwok_refuses_ports_in_the_ephemeral_range(dev, monkeypatch, offset: int, refused: bool) -> None:
    prov = get_provider(dev, "kwok", instance="unit", port_offset=offset)
    monkeypatch.setattr(kwok, "ephemeral_ports", lambda: (32768, 60999))
    monkeypatch.setattr(prov, "_binaries", lambda: {})
    monkeypatch.setattr(local, "port_open", lambda port: False)
    if refused:
        last = 32760 + local.LAST_PORT_OFFSET
        with pytest.raises(ProviderError, match=rf"kwok.basePort: ports 32760-{last} fall in the kernel's ephemeral"):
            prov.preflight()
    else:
        assert prov.preflight() == {}


def test_ephemeral_range_is_read_from_the_kernel_file(tmp_path: Path) -> None:
    (tmp_path / "range").write_text("32768\t60999\n")
    assert kwok.ephemeral_ports(tmp_path / "range") == (32768, 60999)
    assert kwok.ephemeral_ports(tmp_path / "missing") is None


def test_a_second_checkout_moves_every_cluster_aside(monkeypatch: pytest.MonkeyPatch) -> None:
    dev = load_settings("dev")
    monkeypatch.setenv("BIOGITOPS_INSTANCE", "b")
    monkeypatch.setenv("BIOGITOPS_PORT_OFFSET", "1000")
    main, bench = get_provider(dev, "kwok"), get_provider(dev, "kwok", instance="bench", port_offset=100)
    assert (main.cluster_name, main.base_port) == ("bio-gitops-dev-b", dev.kwok_base_port + 1000)
    assert (bench.cluster_name, bench.base_port) == ("bio-gitops-dev-b-bench", dev.kwok_base_port + 1100)


@pytest.mark.parametrize(("var", "value"), [("BIOGITOPS_INSTANCE", "Not_A_Label"), ("BIOGITOPS_PORT_OFFSET", "ten")])
def test_a_bad_instance_or_offset_is_refused(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=var):
        get_provider(load_settings("dev"), "kwok")


def test_bootstrap_asks_each_provider_its_own_steps(dev, monkeypatch: pytest.MonkeyPatch) -> None:
    """What used to be `if provider.name == "kind"` in bootstrap: tools, host check, CRDs, Gatekeeper."""
    from biogitops.cluster.existing import ExistingProvider

    kind, kwok_, existing = get_provider(dev, "kind"), get_provider(dev, "kwok"), ExistingProvider(dev)
    assert kind.tools() == ["kind"]
    assert kwok_.tools() == [*kwok.BINARIES, "argocd", "miniredis"]
    assert existing.tools() == []
    assert (kind.crds_from_cache, kwok_.crds_from_cache, existing.crds_from_cache) == (True, True, False)
    existing.prepare_gatekeeper(), existing.start_gatekeeper()  # the base: nothing
    from biogitops.cluster import doctor

    monkeypatch.setattr(doctor, "engine_answer", lambda: (False, "no docker"))
    with pytest.raises(ProviderError, match="container engine: no docker"):
        kind.check_host()
    started: list[object] = []
    monkeypatch.setattr(kwok.gatekeeper, "start_local", lambda provider, progress: started.append(provider))
    kwok_.start_gatekeeper()
    assert started == [kwok_]


def test_kind_runs_argocd_from_its_own_builds_on_the_source_path(dev) -> None:
    kind = get_provider(dev, "kind")
    kind.offline = True
    ours = workloads.refs(load_pins())
    images = kind.argocd_images()
    assert images == {UPSTREAM_ARGOCD: ours["argocd"], UPSTREAM_REDIS: ours["redis"]}
    assert get_provider(dev, "kwok").argocd_images() is None
    running = {c["image"] for o in manifests(images) for c in _containers(o)}
    assert not any(i.startswith((UPSTREAM_ARGOCD, UPSTREAM_REDIS)) for i in running), running
    assert kind.argocd_web_ui() and "argo-ui" in kind.argocd_web_ui()


def test_kind_runs_the_pinned_upstream_images_on_the_upstream_path(dev) -> None:
    kind = get_provider(dataclasses.replace(dev, kind_images="upstream"), "kind")
    pins = load_pins()
    images = kind.argocd_images()
    # the pins name the very repositories Argo CD's install manifests use
    assert images == {UPSTREAM_ARGOCD: pins.images["argocd"].upstream, UPSTREAM_REDIS: pins.images["redis"].upstream}
    assert kind.argocd_web_ui() == ""
    assert kind.node_image == pins.images["node"].upstream


def _containers(obj: dict) -> list[dict]:
    spec = obj.get("spec", {}).get("template", {}).get("spec", {})
    return spec.get("containers", []) + spec.get("initContainers", [])


@pytest.mark.parametrize(
    ("stderr", "named"),
    [
        ("Creating cluster ...\nERROR: failed to create cluster: node(s) already exist\n", "ERROR: failed to create"),
        (
            "panic: runtime error: invalid memory address\n\ngoroutine 1 [running]:\nruntime/asm_amd64.s:1264\n",
            "panic:",
        ),
        ("something odd\n", "something odd"),
    ],
    ids=["kind-error-line", "go-panic-not-its-last-frame", "last-line-otherwise"],
)
def test_a_failed_kind_create_names_what_failed(stderr: str, named: str) -> None:
    from biogitops.cluster.kind.provider import kind_error

    assert kind_error(stderr).startswith(named)
