"""kwok cluster lifecycle on a throw-away instance: create, reuse, delete leaves nothing behind."""

from __future__ import annotations

import os

import pytest

from biogitops.cluster import Provider, get_provider
from biogitops.cluster.kwok.argocd import PORTS as ARGOCD_PORTS
from biogitops.cluster.kwok.procs import pid_alive, port_open
from biogitops.cluster.kwok.provider import PORTS as CLUSTER_PORTS
from biogitops.platform import argocd


@pytest.fixture
def scratch(provider: Provider) -> Provider:
    if provider.name != "kwok":
        pytest.skip("kwok lifecycle: this run uses another provider")
    return get_provider(provider.settings, "kwok", instance="lifecycle", port_offset=400)


def _pids(prov: Provider) -> list[int]:
    return [int(p.read_text()) for p in prov.state_dir.rglob("pids/*.pid")]


def test_create_reuse_delete_leaves_no_process_or_port(scratch: Provider) -> None:
    scratch.delete()
    try:
        scratch.create(print)
        argocd.install(scratch, print)
        pids = _pids(scratch)
        assert len(pids) >= 10  # control plane, kwok, provisioner, redis, four Argo CD components
        again = scratch.create(print)  # a second create reuses the running cluster
        assert again.ready and sorted(_pids(scratch)) == sorted(pids)
        os.kill(pids[0], 0)
    finally:
        scratch.delete()
    ports = [scratch.base_port + off for off in [*CLUSTER_PORTS.values(), *ARGOCD_PORTS.values()]]
    assert [p for p in pids if pid_alive(p)] == []
    assert [p for p in ports if port_open(p)] == []
    assert not scratch.state_dir.exists()
