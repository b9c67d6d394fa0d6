"""The controllers that run beside a kwok cluster as supervised local processes, and the one
table of the loopback ports that everything beside kwok listens on.

kwok runs no containers, so Argo CD (argocd.py), Prometheus (prometheus.py), Gatekeeper
(gatekeeper.py), the Sealed Secrets controller (sealedsecrets.py) and the volume stand-in
(storage.py) run on this machine against the kwok API server. Each is a `LocalProcess`:

    home        <state>/<group>/                 (the provider's state dir; group as in PORTS)
    pid, log    <home>/pids/<name>.pid, <home>/logs/<name>.log
    ports       kwok.basePort + PORTS[group][port], on 127.0.0.1

A controller supplies only what differs: `group`, `name`, `what`, the ports it `listens` on,
`binary()` (find or build it), `argv()`, `env()` and the readiness `probe()`:

    class Echo(LocalProcess):
        group, name, what, listens = "prometheus", "echo", "the echo server", ("prometheus",)

        def binary(self, progress=_quiet) -> Path:
            return Path(sys.executable)

        def argv(self, binary: Path) -> list[str]:
            return [str(binary), "-m", "http.server", "--bind", "127.0.0.1", str(self.port("prometheus"))]

    echo = Echo(provider.state_dir, provider.kubeconfig(), provider.base_port)
    echo.start(progress)    # refuses busy ports; waits until ready, or reports the last log line
    echo.ready(); echo.stop()
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

from biogitops.cluster.kube import wait_until
from biogitops.cluster.kwok.procs import Managed, last_log_line, listener, port_open
from biogitops.errors import BioGitopsError, Fatal
from biogitops.toolchain import tools

# Offsets from the environment's kwok.basePort, by the process group that listens there (the
# group is also the directory under the provider's state dir). One table, so that no two
# processes share a port and the provider knows where the ports end. The storage stand-in
# (storage.py) listens nowhere.
PORTS: dict[str, dict[str, int]] = {
    # the control plane, started by kwokctl (provider.py); its files are under kwok/clusters/
    "kwok": {
        "kube-apiserver": 0,
        "etcd": 1,
        "etcd-peer": 2,
        "kube-controller-manager": 3,
        "kube-scheduler": 4,
        "kwok-controller": 5,
    },
    "argocd": {
        "redis": 10,
        "server": 11,
        "server-metrics": 12,
        "repo-server": 13,
        "repo-server-metrics": 14,
        "controller-metrics": 15,  # upstream binds it on every address (controller/appcontroller.go)
        "appset-webhook": 16,
        "appset-probe": 17,
        "appset-metrics": 18,
    },
    "prometheus": {"prometheus": 19},
    "gatekeeper": {"webhook": 20, "health": 21, "metrics": 22},  # metrics: upstream binds every address
    "sealed-secrets": {"http": 30, "metrics": 31},
    "keycloak": {"https": 40, "management": 41},  # dev's identity provider (keycloak.py)
}
LAST_PORT_OFFSET = max(offset for ports in PORTS.values() for offset in ports.values())
SETTINGS = "clusters/<env>/settings.yaml"


def _quiet(_: str) -> None:
    pass


def port(base_port: int, group: str, name: str) -> int:
    """The loopback port of `name` in `group` for a cluster whose ports start at `base_port`."""
    return base_port + PORTS[group][name]


PORTS_RELEASE_S = 5.0  # how long a restarted process's ports may take to close


def refuse_busy(
    what: str, ports: Mapping[str, int], settings: str | Path = SETTINGS, error: type[BioGitopsError] = BioGitopsError
) -> None:
    """Raise the one error for ports taken by something else: which ports, how to see who holds
    them, and the fix (stop it, or move every port beside kwok with kwok.basePort)."""
    busy = {name: number for name, number in ports.items() if port_open(number)}
    if not busy:
        return
    named = ", ".join(f"{name} port {number}" for name, number in busy.items())
    first = next(iter(busy.values()))
    holder = listener(first) or "another process (not visible to this user)"
    raise error(
        f"cannot start {what}: {named} already in use on 127.0.0.1",
        f"{holder} listens on port {first}: stop it, or move every port beside kwok with kwok.basePort in {settings}",
    )


@dataclass
class LocalProcess:
    """One supervised process beside a kwok cluster; subclasses say what differs (module doc)."""

    state_dir: Path
    kubeconfig: Path
    base_port: int

    group: ClassVar[str] = ""  # the PORTS group and the directory under state_dir
    name: ClassVar[str] = ""  # pid and log file names
    what: ClassVar[str] = ""  # in messages: "starting {what}", "{what} exited: ..."
    listens: ClassVar[tuple[str, ...]] = ()  # the names in PORTS[group] this process binds
    timeout: ClassVar[float] = 180  # seconds to become ready after a start
    restart_on_new_argv: ClassVar[bool] = False  # restart when the running command line differs

    @classmethod
    def for_provider(cls, provider: Any, **kwargs: Any) -> Self:
        """The process for a provider's cluster (its state dir, kubeconfig and base port)."""
        return cls(provider.state_dir, Path(provider.kubeconfig() or ""), provider.base_port, **kwargs)

    # -- where
    @property
    def home(self) -> Path:
        return self.state_dir / self.group

    @property
    def proc(self) -> Managed:
        return Managed(self.name, self.home)

    @property
    def logfile(self) -> Path:
        return self.proc.logfile

    def port(self, name: str) -> int:
        return port(self.base_port, self.group, name)

    def endpoint(self, port_name: str, path: str = "") -> str:
        """http://127.0.0.1:<port><path>, where the process serves `port_name`."""
        return f"http://127.0.0.1:{self.port(port_name)}{path}"

    def ports(self) -> dict[str, int]:
        """The ports this process listens on: name -> number."""
        return {name: self.port(name) for name in self.listens}

    # -- what differs (override)
    def binary(self, progress: Callable[[str], None] = _quiet) -> Path:
        """The executable: found, or built on first use."""
        raise NotImplementedError

    def argv(self, binary: Path) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return tools.env_with_tools()

    def settings_env(self) -> dict[str, str]:
        """The part of `env()` that carries the process's settings: a running process whose
        environment differs there is restarted (with restart_on_new_argv), as a pod would be."""
        return {}

    def probe(self) -> bool:
        """True once the running process serves (default: all its ports accept connections)."""
        return all(port_open(number) for number in self.ports().values())

    # -- lifecycle
    def alive(self) -> bool:
        return self.proc.alive()

    def ready(self) -> bool:
        return self.alive() and self.probe()

    def state(self) -> str:
        """ready, running (not yet ready) or stopped."""
        return "ready" if self.ready() else ("running" if self.alive() else "stopped")

    def start(self, progress: Callable[[str], None] = _quiet, timeout: float | None = None) -> None:
        """Start the process unless it runs, then wait until it is ready; idempotent."""
        self.launch(progress)
        self.wait(progress, timeout)

    def launch(self, progress: Callable[[str], None] = _quiet) -> bool:
        """Start the process unless it runs (with the same command line, where that matters);
        refuse ports that something else holds. True when it was started."""
        if self.alive() and not self.restart_on_new_argv:
            return False
        argv = self.argv(self.binary(progress))
        if self.alive():
            wanted = self.settings_env()
            running = self.proc.environ()
            same_settings = all(running.get(k) == v for k, v in wanted.items())
            if self.proc.cmdline() == argv and same_settings:
                return False
            progress(f"restarting {self.what}: its command line or settings changed")
            self.proc.stop()
            # its sockets close as the kernel reaps it: give them a moment before calling them busy
            deadline = time.monotonic() + PORTS_RELEASE_S
            while time.monotonic() < deadline and any(port_open(n) for n in self.ports().values()):
                time.sleep(0.1)
        refuse_busy(self.what, self.ports())
        where = f" on 127.0.0.1:{next(iter(self.ports().values()))}" if self.listens else ""
        progress(f"starting {self.what}{where}")
        self.proc.start(argv, self.env())
        return True

    def wait(self, progress: Callable[[str], None] = _quiet, timeout: float | None = None) -> None:
        """Wait until the process is ready; raise at once with its last log line if it exits."""
        wait_until(
            self.ready_or_dead,
            self.timeout if timeout is None else timeout,
            f"{self.what} to be ready",
            progress,
            hint=f"see {self.logfile}",
        )

    def ready_or_dead(self) -> bool:
        if not self.alive():
            raise Fatal(f"{self.what} exited: {last_log_line(self.logfile) or 'no log'}", f"see {self.logfile}")
        return self.probe()

    def stop(self, timeout: float = 10) -> None:
        self.proc.stop(timeout)
