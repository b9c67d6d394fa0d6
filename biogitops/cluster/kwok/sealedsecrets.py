"""The Sealed Secrets controller as a local process beside a kwok cluster, built from the Go module
kubeseal comes from, at the same version (pins.yaml: tools.kubeseal). Upstream it reads only
in-cluster credentials (`rest.InClusterConfig`), so our build swaps that one call for the
KUBECONFIG the process is given (built in a temporary copy of the module with that one file
rewritten; nothing upstream is copied into this repository). It listens on 127.0.0.1 at
kwok.basePort + 30 (HTTP: /healthz, /v1/cert.pem) and +31 (metrics), the `sealed-secrets` ports of
the table in local.py. Logs:
<state>/sealed-secrets/logs/controller.log.

    LocalSealedSecrets(provider).start(progress)   # builds the controller on first use; idempotent
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from pathlib import Path

from biogitops.cluster.base import Provider
from biogitops.cluster.kwok.local import LocalProcess
from biogitops.cluster.kwok.procs import http_ok
from biogitops.config.pins import ToolPin, load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import tools_dir
from biogitops.render import sealing
from biogitops.toolchain import tools
from biogitops.toolchain.gomodules import module_dir

NAMESPACE = sealing.CONTROLLER_NAMESPACE
CRD = "helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"
CHART = "helm/sealed-secrets"
IN_CLUSTER = "rest.InClusterConfig()"
OUT_OF_CLUSTER = 'clientcmd.BuildConfigFromFlags("", os.Getenv("KUBECONFIG"))'


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- the controller binary


def controller_pin() -> ToolPin:
    """kubeseal's pin with the controller's main package: one module, one version."""
    kubeseal = load_pins().tool("kubeseal")
    return ToolPin(
        name="sealed-secrets-controller",
        version=kubeseal.version,
        source="go",
        version_args=("--version",),
        module=kubeseal.module,
        module_version=kubeseal.module_version,
        package="cmd/controller",
        ldflags=kubeseal.ldflags,
    )


def kubeconfig_patch(text: str) -> str:
    """pkg/controller/main.go with its in-cluster config replaced by $KUBECONFIG's."""
    import_old, import_new = '"k8s.io/client-go/rest"', '"k8s.io/client-go/tools/clientcmd"'
    if text.count(IN_CLUSTER) != 1 or text.count(import_old) != 1:
        raise BioGitopsError(
            "sealed-secrets controller: pkg/controller/main.go no longer calls rest.InClusterConfig() once",
            "update kubeconfig_patch in biogitops/cluster/kwok/sealedsecrets.py for the pinned version",
        )
    return text.replace(IN_CLUSTER, OUT_OF_CLUSTER).replace(import_old, import_new)


def controller_binary(progress=_quiet) -> Path:
    """Build the controller once into the tool cache; later calls cost nothing."""
    pin = controller_pin()
    out = tools_dir() / f"{pin.name}-{pin.version}" / pin.name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".building")
    progress(f"building the sealed-secrets controller {pin.version} (first use only)")
    tools.go_build(pin, load_pins(), tmp, progress, patches={"pkg/controller/main.go": kubeconfig_patch})
    tmp.rename(out)
    return out


def module_path(rel: str) -> Path:
    pin = controller_pin()
    return module_dir(pin.module, pin.go_module_version) / rel


# ---------------------------------------------------------------- the local controller (kwok)


class LocalSealedSecrets(LocalProcess):
    """The controller as a supervised process beside a kwok cluster."""

    group, name, what, listens = "sealed-secrets", "controller", "the sealed-secrets controller", ("http", "metrics")
    timeout = 60

    def __init__(self, provider: Provider) -> None:
        super().__init__(provider.state_dir, Path(provider.kubeconfig() or ""), provider.base_port)
        self.provider = provider

    def binary(self, progress: Callable[[str], None] = _quiet) -> Path:
        return controller_binary(progress)

    def argv(self, binary: Path) -> list[str]:
        return [
            str(binary),
            "--key-prefix",
            "sealed-secrets-key",
            "--update-status",
            "--key-renew-period",
            "0",  # dev: the key is ours (sealing.ensure_dev_key); rotation is `invoke secrets.rotate-key`
            "--my-cn",
            sealing.cert_cn(self.provider.settings.env),
            "--listen-addr",
            f"127.0.0.1:{self.port('http')}",
            "--listen-metrics-addr",
            f"127.0.0.1:{self.port('metrics')}",
        ]

    def env(self) -> dict[str, str]:
        env = tools.env_with_tools()
        env.update({"KUBECONFIG": str(self.kubeconfig), "POD_NAMESPACE": NAMESPACE})
        return env

    def probe(self) -> bool:
        return http_ok(self.endpoint("http", "/healthz"))

    def cert(self) -> bytes:
        with urllib.request.urlopen(self.endpoint("http", "/v1/cert.pem"), timeout=10) as resp:
            return resp.read()
