"""Gatekeeper as a local process beside a kwok cluster, the way Argo CD runs there.

kwok runs no containers, so the pinned Gatekeeper controller-manager (built from the same Go
module and version as `gator`, pins.yaml tools.gator) runs on this machine against the kwok API
server: admission webhook, audit and status in one process. Its ValidatingWebhookConfiguration
is the pinned chart's, pointed at https://127.0.0.1:<port> with a self-signed CA in caBundle.

    python -m biogitops.cluster.kwok.gatekeeper build    # compile the controller-manager (cached)
    start_local(provider, progress)         # CRDs, anchor Pod, certificate, process, webhook; idempotent

Gatekeeper records its status per Pod and owns those records by that Pod, so a Pod object named
like the process (gatekeeper-local, in gatekeeper-system) stands in for it; kwok reports it
Running. Logs: <state>/gatekeeper/logs/gatekeeper.log.

The audit stages every object it lists in --api-cache-dir and empties that directory first
(pkg/audit/manager.go, auditResources → removeAllFromDir). Gatekeeper never creates it: in the
chart it is an emptyDir mounted at /tmp/audit. Without it every audit run fails at once and no
constraint's status.violations is ever written, so start() creates <state>/gatekeeper/audit.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.kube import Kubectl
from biogitops.cluster.kwok.local import PORTS as PORT_TABLE
from biogitops.cluster.kwok.local import LocalProcess
from biogitops.cluster.kwok.procs import http_ok
from biogitops.cluster.kwok.tlscerts import loopback_certs
from biogitops.config.pins import ToolPin, load_pins
from biogitops.errors import BioGitopsError, ToolError
from biogitops.paths import REPO_ROOT, tools_dir
from biogitops.toolchain import tools
from biogitops.toolchain.gomodules import module_dir

NAMESPACE = "gatekeeper-system"
WEBHOOK_NAME = "gatekeeper-validating-webhook-configuration"  # the chart's, and the default Gatekeeper expects
CONFIG = REPO_ROOT / "policies" / "gatekeeper" / "config.yaml"
POD_NAME = "gatekeeper-local"
# webhook, health, metrics: offsets from kwok.basePort in the one table (local.py); kept under
# this name for importers outside cluster/ (integration tests)
PORTS = PORT_TABLE["gatekeeper"]
# the integration tests set it (10 s) to see audit results within a wait
AUDIT_INTERVAL_ENV = "BIOGITOPS_GATEKEEPER_AUDIT_INTERVAL"
VALUES = REPO_ROOT / "policies" / "gatekeeper" / "values.yaml"
# the API server calls the webhook on a shared, busy machine; the chart's 3 s is tight there
WEBHOOK_TIMEOUT = 10


def audit_interval() -> int:
    """Seconds between audit runs of the local Gatekeeper: the chart's `auditInterval`
    (policies/gatekeeper/values.yaml), as in a cluster, unless BIOGITOPS_GATEKEEPER_AUDIT_INTERVAL
    says otherwise. Each run lists every object its constraints match, so at a thousand labs a
    10 s interval costs Gatekeeper most of a core (runbooks/scaling-best-practices.md)."""
    raw = os.environ.get(AUDIT_INTERVAL_ENV) or str(yaml.safe_load(VALUES.read_text()).get("auditInterval", 60))
    if not raw.isdigit() or int(raw) == 0:
        raise BioGitopsError(
            f"Gatekeeper audit interval {raw!r} is not a number of seconds",
            f"set {AUDIT_INTERVAL_ENV} (or auditInterval in {VALUES.relative_to(REPO_ROOT)}) to e.g. 60",
        )
    return int(raw)


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- binary
def manager_pin() -> ToolPin:
    """The controller-manager: gator's module and version, its main package at the module root."""
    gator = load_pins().tool("gator")
    return dataclasses.replace(gator, name="gatekeeper-manager", package=".")


def manager_path() -> Path:
    pin = manager_pin()
    return tools_dir() / f"{pin.name}-{pin.version}" / "manager"


def built_version(binary: Path) -> str | None:
    """The Gatekeeper module version compiled into `binary` (`go version -m`), or None."""
    go, env = tools.go_toolchain(load_pins())
    proc = subprocess.run([str(go), "version", "-m", str(binary)], capture_output=True, text=True, env=env)
    pin = manager_pin()
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] in ("dep", "mod") and fields[1] == pin.module:
            return fields[2]
    return None


def ensure_manager(progress=_quiet) -> Path:
    """The controller-manager binary at the pinned version, built on first use (several minutes)."""
    pin = manager_pin()
    out = manager_path()
    if out.is_file() and built_version(out) == pin.go_module_version:
        return out
    progress(f"building the Gatekeeper controller-manager {pin.version} (first use only)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name("manager.tmp")
    tools.go_build(pin, load_pins(), tmp, progress)
    found = built_version(tmp)
    if found != pin.go_module_version:
        raise ToolError(f"built controller-manager reports {pin.module} {found}, pinned {pin.go_module_version}")
    tmp.rename(out)
    return out


def module_root() -> Path:
    pin = manager_pin()
    return module_dir(pin.module, pin.go_module_version)


def crd_files() -> list[Path]:
    """Every CRD of the pinned release (the chart's crds/), as the crds Application installs them."""
    crds = sorted((module_root() / "charts" / "gatekeeper" / "crds").glob("*.yaml"))
    if not crds:
        raise ToolError("no CRDs in the Gatekeeper module", "check the gator pin in pins.yaml")
    return crds


# ---------------------------------------------------------------- certificates
def make_certs(directory: Path) -> bytes:
    """A CA and a serving certificate for 127.0.0.1 in `directory` (tls.crt, tls.key, ca.crt),
    created once (tlscerts.py); returns the CA certificate (PEM) for the webhook's caBundle."""
    return loopback_certs(directory, "bio-gitops local gatekeeper CA")


# ---------------------------------------------------------------- manifests
def anchor_pod() -> dict[str, Any]:
    """The Pod that stands in for the local process (restricted Pod Security, like the namespace)."""
    pin = manager_pin()
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": POD_NAME,
            "namespace": NAMESPACE,
            "labels": {"app.kubernetes.io/name": "gatekeeper", "bio-gitops.io/local-process": "true"},
        },
        "spec": {
            "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "manager",
                    "image": f"docker.io/openpolicyagent/gatekeeper:v{pin.version}",
                    "resources": {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "capabilities": {"drop": ["ALL"]},
                        "readOnlyRootFilesystem": True,
                    },
                }
            ],
        },
    }


def webhook_configuration(ca_pem: bytes, port: int) -> dict[str, Any]:
    """The pinned chart's ValidatingWebhookConfiguration, calling 127.0.0.1:<port> by URL."""
    from biogitops.render.targets import module_chart, render_upstream

    objs = render_upstream("gatekeeper", "dev", [str(module_chart("gatekeeper", load_pins()))])
    vwh = next(o for o in objs if o["kind"] == "ValidatingWebhookConfiguration")
    bundle = base64.b64encode(ca_pem).decode()
    exempt = excluded_namespaces()
    for hook in vwh["webhooks"]:
        path = hook["clientConfig"]["service"].get("path", "/v1/admit")
        hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}{path}", "caBundle": bundle}
        hook["timeoutSeconds"] = WEBHOOK_TIMEOUT
        if hook["name"] == "validation.gatekeeper.sh":
            # namespaces no policy looks at are not sent at all (node leases renew every few seconds)
            for expr in hook["namespaceSelector"]["matchExpressions"]:
                if expr["key"] == "kubernetes.io/metadata.name" and expr["operator"] == "NotIn":
                    expr["values"] = sorted(set(expr["values"]) | exempt)
    vwh["metadata"].pop("annotations", None)
    vwh["metadata"]["labels"] = {**vwh["metadata"].get("labels", {}), "bio-gitops.io/local-process": "true"}
    return vwh


def excluded_namespaces() -> set[str]:
    """The namespaces exempt from every policy, from their one place: policies/gatekeeper/config.yaml."""
    config = yaml.safe_load(CONFIG.read_text())
    return {ns for match in config["spec"].get("match") or [] for ns in match.get("excludedNamespaces") or []}


# ---------------------------------------------------------------- process
class LocalGatekeeper(LocalProcess):
    """The Gatekeeper controller-manager for one kwok cluster: `start(kubectl, progress)`."""

    group, name, what, listens = "gatekeeper", "gatekeeper", "Gatekeeper", ("webhook", "health", "metrics")

    @property
    def audit_cache(self) -> Path:
        """The audit's staging directory (--api-cache-dir), emptied by every audit run."""
        return self.home / "audit"

    def prepare_dirs(self) -> None:
        """Create the directories the process expects and never creates itself (the chart mounts
        an emptyDir for the audit's): without it every audit run fails before writing any status."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.audit_cache.mkdir(mode=0o700, exist_ok=True)

    def binary(self, progress: Callable[[str], None] = _quiet) -> Path:
        return ensure_manager(progress)

    def argv(self, binary: Path) -> list[str]:
        return [
            str(binary),
            f"--kubeconfig={self.kubeconfig}",
            "--operation=webhook",
            "--operation=audit",
            "--operation=status",
            "--operation=generate",  # the constraint CRDs from the templates (no operation: no CRDs)
            "--host=127.0.0.1",
            f"--port={self.port('webhook')}",
            f"--cert-dir={self.home / 'certs'}",
            "--disable-cert-rotation",
            f"--health-addr=127.0.0.1:{self.port('health')}",
            f"--prometheus-port={self.port('metrics')}",  # upstream binds it on every address
            f"--exempt-namespace={NAMESPACE}",
            f"--audit-interval={audit_interval()}",
            # every constraint names its kinds: list those, not every kind the API serves
            # (measured on kwok, 2 busy cores: 0.1-0.8 s a run instead of 6-10 s every 10 s)
            "--audit-match-kind-only",
            "--constraint-violations-limit=100",  # the chart's 20 hides most of a busy dev cluster
            f"--api-cache-dir={self.audit_cache}",  # must exist: prepare_dirs()
            "--disable-opa-builtin=http.send",
            "--log-denies",
            "--shutdown-delay=0",
        ]

    def env(self) -> dict[str, str]:
        env = tools.env_with_tools()
        env.update({"POD_NAME": POD_NAME, "POD_NAMESPACE": NAMESPACE, "HOME": str(self.home)})
        return env

    def probe(self) -> bool:
        return http_ok(self.endpoint("health", "/readyz"))

    def start(  # type: ignore[override]
        self, kubectl: Kubectl, progress: Callable[[str], None] = _quiet, timeout: float | None = None
    ) -> None:
        """CRDs, anchor Pod, certificate, process, then the webhook configuration; waits for each."""
        ca = make_certs(self.home / "certs")
        webhook = webhook_configuration(ca, self.port("webhook"))
        if not self.ready():
            # the webhook fails closed (policies/gatekeeper/values.yaml): while the manager is down
            # its registration would refuse the CRDs and the anchor Pod this start applies. The
            # chart's pods start without asking their own webhook; the process here does the same,
            # and registers the webhook again once it answers.
            kubectl.run("delete", "validatingwebhookconfiguration", webhook["metadata"]["name"], "--ignore-not-found")
        progress("applying Gatekeeper CRDs (pinned module)")
        for crd in crd_files():
            kubectl.apply_file(crd)
        for crd in crd_files():
            kubectl.wait_crd(yaml.safe_load(crd.read_text())["metadata"]["name"])
        if not kubectl.ok("get", "namespace", NAMESPACE):
            raise BioGitopsError(
                f"namespace {NAMESPACE} does not exist", "it comes from clusters/base/namespaces (cluster-base)"
            )
        kubectl.apply_text(yaml.safe_dump(anchor_pod()))
        self.prepare_dirs()
        super().start(progress, timeout)
        kubectl.apply_text(yaml.safe_dump(webhook))


def local(provider: Any) -> LocalGatekeeper:
    return LocalGatekeeper.for_provider(provider)


def start_local(provider: Any, progress=_quiet) -> None:
    """Run Gatekeeper for a provider whose controllers run as local processes (kwok)."""
    kubectl = Kubectl(provider.kubeconfig(), provider.context)
    local(provider).start(kubectl, progress)


def main(argv: list[str]) -> int:
    if argv[:1] != ["build"]:
        print("usage: python -m biogitops.cluster.kwok.gatekeeper build", file=sys.stderr)
        return 2
    try:
        path = ensure_manager(print)
    except BioGitopsError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        return 1
    print(f"gatekeeper controller-manager {manager_pin().version}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
