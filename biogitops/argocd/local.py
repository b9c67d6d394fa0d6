"""Argo CD as local processes beside a kwok cluster (no container runtime needed).

The pinned `argocd` binary is one multi-call executable: started under the names
argocd-server, argocd-repo-server, argocd-application-controller and
argocd-applicationset-controller (symlinks in the state directory) it becomes that component.
Redis comes from Debian's redis-server. Everything listens on 127.0.0.1, except the
application controller's metrics endpoint, which upstream binds to 0.0.0.0 unconditionally
(controller/appcontroller.go); it gets a port of its own from the plan below.

Logs: <state>/argocd/logs/<component>.log; pids: <state>/argocd/pids/<component>.pid.
"""

from __future__ import annotations

import shutil
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from biogitops import tools
from biogitops.errors import BioGitopsError, Fatal
from biogitops.kube import Kubectl, wait_until
from biogitops.procs import Managed, port_open, wait_for_port

NAMESPACE = "argocd"

# Offsets from the environment's kwok.basePort (the cluster itself uses +0..+5).
PORTS = {
    "redis": 10,
    "server": 11,
    "server-metrics": 12,
    "repo-server": 13,
    "repo-server-metrics": 14,
    "controller-metrics": 15,
    "appset-webhook": 16,
    "appset-probe": 17,
    "appset-metrics": 18,
}

COMPONENTS = ["redis", "repo-server", "application-controller", "applicationset-controller", "server"]


def _quiet(_: str) -> None:
    pass


@dataclass
class LocalArgoCD:
    """Start, check and stop Argo CD's components as processes for one kwok cluster."""

    state_dir: Path
    kubeconfig: Path
    base_port: int

    @property
    def home(self) -> Path:
        return self.state_dir / "argocd"

    def port(self, name: str) -> int:
        return self.base_port + PORTS[name]

    def proc(self, component: str) -> Managed:
        return Managed(component, self.home)

    def _env(self) -> dict[str, str]:
        env = tools.env_with_tools()
        env.update(
            {
                "KUBECONFIG": str(self.kubeconfig),
                # the in-cluster destination (https://kubernetes.default.svc) uses KUBECONFIG
                "ARGOCD_FAKE_IN_CLUSTER": "true",
                "ARGOCD_GPG_ENABLED": "false",
                "ARGOCD_SSH_DATA_PATH": str(self.home / "ssh"),
                "ARGOCD_TLS_DATA_PATH": str(self.home / "tls"),
                "ARGOCD_ASK_PASS_SOCK": str(self.home / "askpass.sock"),
                "HOME": str(self.home / "home"),
                "TMPDIR": str(self.home / "tmp"),
            }
        )
        env.pop("ARGOCD_BINARY_NAME", None)
        env.pop("ARGOCD_SERVER_METRICS_LISTEN_ADDRESS", None)
        return env

    def argv(self, component: str) -> list[str]:
        """The command line of each component (flags documented upstream per component)."""
        redis = f"127.0.0.1:{self.port('redis')}"
        repo = f"127.0.0.1:{self.port('repo-server')}"
        kube = ["--kubeconfig", str(self.kubeconfig), "--namespace", NAMESPACE]
        bindir = self.home / "bin"
        if component == "redis":
            return [
                str(self._redis()),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port("redis")),
                "--protected-mode",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.home),
            ]
        if component == "repo-server":
            return [
                str(bindir / "argocd-repo-server"),
                "--redis",
                redis,
                "--address",
                "127.0.0.1",
                "--port",
                str(self.port("repo-server")),
                "--disable-tls",
                "--client-ca-path",
                "",
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(self.port("repo-server-metrics")),
            ]
        if component == "application-controller":
            return [
                str(bindir / "argocd-application-controller"),
                *kube,
                "--redis",
                redis,
                "--repo-server",
                repo,
                "--repo-server-plaintext",
                "--metrics-port",
                str(self.port("controller-metrics")),
                "--status-processors",
                "10",
                "--operation-processors",
                "5",
            ]
        if component == "applicationset-controller":
            return [
                str(bindir / "argocd-applicationset-controller"),
                *kube,
                "--argocd-repo-server",
                repo,
                "--repo-server-plaintext",
                "--metrics-addr",
                f"127.0.0.1:{self.port('appset-metrics')}",
                "--probe-addr",
                f"127.0.0.1:{self.port('appset-probe')}",
                "--webhook-addr",
                f"127.0.0.1:{self.port('appset-webhook')}",
            ]
        if component == "server":
            return [
                str(bindir / "argocd-server"),
                *kube,
                "--redis",
                redis,
                "--repo-server",
                repo,
                "--repo-server-plaintext",
                "--insecure",
                "--address",
                "127.0.0.1",
                "--port",
                str(self.port("server")),
                "--metrics-address",
                "127.0.0.1",
                "--metrics-port",
                str(self.port("server-metrics")),
                "--staticassets",
                str(self.home / "ui"),
            ]
        raise BioGitopsError(f"unknown Argo CD component {component!r}")

    def _redis(self) -> Path:
        found = shutil.which("redis-server")
        if not found:
            raise BioGitopsError(
                "redis-server not found (Argo CD's cache on kwok)", "install it: apt-get install redis-server"
            )
        return Path(found)

    def _prepare(self) -> None:
        argocd = tools.which("argocd").resolve()
        for sub in ("bin", "ssh", "tls", "home", "tmp", "ui", "logs", "pids"):
            (self.home / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in (
            "argocd-server",
            "argocd-repo-server",
            "argocd-application-controller",
            "argocd-applicationset-controller",
        ):
            link = self.home / "bin" / name
            if link.is_symlink() and link.resolve() == argocd:
                continue
            link.unlink(missing_ok=True)
            link.symlink_to(argocd)

    def ready(self, component: str) -> bool:
        if not self.proc(component).alive():
            return False
        if component == "redis":
            return port_open(self.port("redis"))
        if component == "repo-server":
            return port_open(self.port("repo-server"))
        if component == "application-controller":
            return _http_ok(f"http://127.0.0.1:{self.port('controller-metrics')}/metrics")
        if component == "applicationset-controller":
            return _http_ok(f"http://127.0.0.1:{self.port('appset-metrics')}/metrics")
        return _http_ok(f"http://127.0.0.1:{self.port('server')}/healthz")

    def status(self) -> dict[str, str]:
        return {c: "ready" if self.ready(c) else ("running" if self.proc(c).alive() else "stopped") for c in COMPONENTS}

    def start(self, kubectl: Kubectl, progress=_quiet, timeout: float = 180) -> None:
        """Apply CRDs and config, then start every component that is not running; wait for all."""
        self._prepare()
        self._redis()
        if not any(self.proc(c).alive() for c in COMPONENTS):
            busy = [f"{name} {self.port(name)}" for name in PORTS if port_open(self.port(name))]
            if busy:
                raise BioGitopsError(
                    f"cannot start Argo CD: port(s) {', '.join(busy)} already in use on 127.0.0.1",
                    "stop what listens there, or change kwok.basePort in the environment settings",
                )
        for component in COMPONENTS:
            proc = self.proc(component)
            if proc.alive():
                continue
            progress(f"starting argocd {component}")
            proc.start(self.argv(component), self._env())
            if component == "redis":
                wait_for_port(self.port("redis"), 30, "redis-server", proc.logfile)
        for component in COMPONENTS:
            wait_until(
                lambda c=component: self._ready_or_dead(c),
                timeout,
                f"Argo CD {component} to be ready",
                progress,
                hint=f"see {self.proc(component).logfile}",
            )

    def _ready_or_dead(self, component: str) -> bool:
        if not self.proc(component).alive():
            log = self.proc(component).logfile
            lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.is_file() else []
            raise Fatal(f"Argo CD {component} exited: {lines[-1][:200] if lines else 'no log'}", f"see {log}")
        return self.ready(component)

    def stop(self) -> None:
        for component in reversed(COMPONENTS):
            self.proc(component).stop()


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False
