"""biogitops/cluster/kwok/local.py: the one port table beside kwok, and the LocalProcess base
every controller there is built on (busy ports refused with the fix, a dead process reported
with its last log line, ready once it serves, stopped by its pid file)."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from biogitops.cluster.kwok import local
from biogitops.cluster.kwok.local import PORTS, LocalProcess
from biogitops.errors import BioGitopsError, Fatal


def test_port_offsets_are_unique_and_the_last_is_derived() -> None:
    offsets = [offset for ports in PORTS.values() for offset in ports.values()]
    assert len(offsets) == len(set(offsets)), "two processes share a port offset"
    assert max(offsets) == local.LAST_PORT_OFFSET


def test_port_table_keeps_the_ports_every_component_had() -> None:
    """The numbers are an interface: handbook/GITOPS.md (kwok.basePort), ONBOARDING.md (+11),
    OBSERVABILITY.md (+19) and SECRETS.md (+30, +31) name them."""
    flat = {f"{group}/{name}": offset for group, ports in PORTS.items() for name, offset in ports.items()}
    assert flat == {
        "kwok/kube-apiserver": 0,
        "kwok/etcd": 1,
        "kwok/etcd-peer": 2,
        "kwok/kube-controller-manager": 3,
        "kwok/kube-scheduler": 4,
        "kwok/kwok-controller": 5,
        "argocd/redis": 10,
        "argocd/server": 11,
        "argocd/server-metrics": 12,
        "argocd/repo-server": 13,
        "argocd/repo-server-metrics": 14,
        "argocd/controller-metrics": 15,
        "argocd/appset-webhook": 16,
        "argocd/appset-probe": 17,
        "argocd/appset-metrics": 18,
        "prometheus/prometheus": 19,
        "gatekeeper/webhook": 20,
        "gatekeeper/health": 21,
        "gatekeeper/metrics": 22,
        "sealed-secrets/http": 30,
        "sealed-secrets/metrics": 31,
        "keycloak/https": 40,
        "keycloak/management": 41,
    }


class Served(LocalProcess):
    """A stand-in controller: Python's HTTP server on the `prometheus` port, or a `script`."""

    group, name, what, listens, timeout = "prometheus", "served", "the stand-in", ("prometheus",), 20
    script = ""

    def binary(self, progress=None) -> Path:
        return Path(sys.executable)

    def argv(self, binary: Path) -> list[str]:
        if self.script:
            return [str(binary), "-c", self.script]
        return [str(binary), "-m", "http.server", "--bind", "127.0.0.1", str(self.port("prometheus"))]


@pytest.fixture
def free_base(tmp_path: Path) -> int:
    """A base port whose `prometheus` port is free at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        free = sock.getsockname()[1]
    return free - PORTS["prometheus"]["prometheus"]


@pytest.fixture
def served(tmp_path: Path, free_base: int) -> Iterator[Served]:
    proc = Served(tmp_path / "state", tmp_path / "kubeconfig", free_base)
    yield proc
    proc.stop()


def test_start_waits_until_ready_and_stop_forgets_the_pid(served: Served) -> None:
    seen: list[str] = []
    served.start(seen.append)
    assert served.ready() and served.state() == "ready"
    assert seen[0] == f"starting the stand-in on 127.0.0.1:{served.port('prometheus')}"
    assert served.proc.pidfile == served.state_dir / "prometheus" / "pids" / "served.pid"
    pid = served.proc.pid()
    served.start(seen.append)  # idempotent: the running process is kept
    assert served.proc.pid() == pid
    served.stop()
    assert served.state() == "stopped" and not served.proc.pidfile.exists()


def test_busy_port_is_refused_with_what_listens_and_the_fix(served: Served) -> None:
    number = served.port("prometheus")
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", number))
        sock.listen()
        with pytest.raises(BioGitopsError) as err:
            served.start()
    assert err.value.message == f"cannot start the stand-in: prometheus port {number} already in use on 127.0.0.1"
    assert f"pid {os.getpid()} (" in err.value.hint and f"listens on port {number}" in err.value.hint  # this test
    assert "kwok.basePort in clusters/<env>/settings.yaml" in err.value.hint
    assert not served.alive(), "nothing is started beside a port taken by something else"


def test_a_process_that_exits_reports_its_last_log_line(served: Served) -> None:
    served.script = "import sys; print('listening soon'); print('fatal: bad flag --x'); print(); sys.exit(3)"
    with pytest.raises(Fatal) as err:
        served.start()
    assert err.value.message == "the stand-in exited: fatal: bad flag --x"
    assert err.value.hint == f"see {served.state_dir / 'prometheus' / 'logs' / 'served.log'}"


class Restarting(Served):
    restart_on_new_argv = True


def test_a_new_command_line_restarts_only_where_asked(served: Served) -> None:
    served.start()
    pid = served.proc.pid()
    served.script = "import time; time.sleep(60)"  # another argv, e.g. changed flags
    assert not served.launch(), "restart_on_new_argv is off: the running process is kept"
    assert served.proc.pid() == pid
    restarting = Restarting(served.state_dir, served.kubeconfig, served.base_port)
    restarting.script = served.script
    seen: list[str] = []
    assert restarting.launch(seen.append)
    assert restarting.proc.pid() != pid and seen[0] == "restarting the stand-in: its command line or settings changed"
    assert not restarting.launch(), "the same command line again: kept"


class Configured(Restarting):
    """A stand-in whose settings arrive in its environment, as Argo CD's cmd params do."""

    setting: str = "true"

    def settings_env(self) -> dict[str, str]:
        return {"STAND_IN_SYNC_WITH_REPLACE_ALLOWED": self.setting}

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.settings_env()}


def test_a_changed_setting_restarts_the_process_that_reads_it(served: Served) -> None:
    """A setting read at start (server.sync.replace.allowed) must reach a process already running:
    the same command line with another setting is a restart, as a new pod would be."""
    configured = Configured(served.state_dir, served.kubeconfig, served.base_port)
    configured.script = "import time; time.sleep(60)"
    configured.launch()
    pid = configured.proc.pid()
    argv = configured.argv(configured.binary())
    deadline = time.monotonic() + 10
    while configured.proc.cmdline() != argv and time.monotonic() < deadline:  # until it has exec'd
        time.sleep(0.05)
    assert not configured.launch(), "nothing changed: kept"
    configured.setting = "false"
    seen: list[str] = []
    assert configured.launch(seen.append)
    assert configured.proc.pid() != pid
    deadline = time.monotonic() + 10
    while "STAND_IN_SYNC_WITH_REPLACE_ALLOWED" not in configured.proc.environ() and time.monotonic() < deadline:
        time.sleep(0.05)  # a busy machine: CI once read it before the kernel could
    assert configured.proc.environ().get("STAND_IN_SYNC_WITH_REPLACE_ALLOWED") == "false", configured.proc.environ()
    configured.stop()


def controllers(tmp_path: Path) -> list[LocalProcess]:
    """Every controller beside kwok, for a cluster whose ports start at 26400."""
    from biogitops.cluster import get_provider
    from biogitops.cluster.kwok import argocd, gatekeeper, keycloak, prometheus, sealedsecrets, storage
    from biogitops.config.settings import load_settings

    state, kubeconfig = tmp_path / "state", tmp_path / "kubeconfig"
    provider = get_provider(load_settings("dev"), "kwok")
    assert provider.base_port == 26400
    return [
        *(argocd.LocalArgoCD(state, kubeconfig, 26400).component(name) for name in argocd.COMPONENTS),
        gatekeeper.LocalGatekeeper(state, kubeconfig, 26400),
        prometheus.LocalPrometheus(state, kubeconfig, 26400),
        sealedsecrets.LocalSealedSecrets(provider),
        storage.LocalStorage(state, kubeconfig, 26400),
        keycloak.LocalKeycloak(state, kubeconfig, 26400),
    ]


def test_every_port_beside_the_control_plane_has_one_process_that_binds_it(tmp_path: Path) -> None:
    owners: dict[tuple[str, str], list[str]] = {}
    for proc in controllers(tmp_path):
        for name in proc.listens:
            owners.setdefault((proc.group, name), []).append(proc.name)
        argv = " ".join(proc.argv(Path("/bin/x")))
        for name, number in proc.ports().items():
            assert str(number) in argv, f"{proc.what} does not pass its {name} port {number}"
    table = {(group, name) for group, ports in PORTS.items() if group != "kwok" for name in ports}
    assert set(owners) == table
    assert all(len(names) == 1 for names in owners.values()), owners


def test_argocd_starts_nothing_while_one_of_its_ports_is_taken(tmp_path: Path, monkeypatch, free_base: int) -> None:
    from biogitops.cluster.kwok import argocd

    base = free_base + PORTS["prometheus"]["prometheus"] - PORTS["argocd"]["server"]
    local_argocd = argocd.LocalArgoCD(tmp_path / "state", tmp_path / "kubeconfig", base)
    monkeypatch.setattr(argocd.LocalArgoCD, "_prepare", lambda self: None)
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", local_argocd.port("server")))
        sock.listen()
        with pytest.raises(BioGitopsError) as err:
            local_argocd.start(kubectl=None)  # type: ignore[arg-type]
    assert err.value.message.startswith("cannot start Argo CD: ")
    assert f"server port {local_argocd.port('server')}" in err.value.message
    assert local_argocd.status() == dict.fromkeys(argocd.COMPONENTS, "stopped")
