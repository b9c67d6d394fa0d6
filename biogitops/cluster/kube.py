"""A thin wrapper over the pinned kubectl, bound to one kubeconfig (and optional context).

k = Kubectl(Path("kubeconfig.yaml"))
k.apply_text(manifest_yaml)          # server-side apply, field manager bio-gitops
k.json("get", "nodes")               # parsed JSON
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from biogitops.errors import BioGitopsError, Fatal
from biogitops.toolchain import tools

FIELD_MANAGER = "bio-gitops"


class Kubectl:
    def __init__(self, kubeconfig: Path | None, context: str | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context
        self.binary = str(tools.which("kubectl"))

    def argv(self, *args: str) -> list[str]:
        cmd = [self.binary]
        if self.kubeconfig:
            cmd += ["--kubeconfig", str(self.kubeconfig)]
        if self.context:
            cmd += ["--context", self.context]
        return [*cmd, *args]

    def run(self, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 120) -> str:
        """Run kubectl; on failure raise a one-line error with kubectl's last stderr line."""
        try:
            proc = subprocess.run(
                self.argv(*args), input=stdin, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise BioGitopsError(f"kubectl {' '.join(args[:3])} timed out after {timeout:.0f}s") from None
        if check and proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise BioGitopsError(f"kubectl {' '.join(args[:3])} failed: {last}")
        return proc.stdout

    def ok(self, *args: str) -> bool:
        return subprocess.run(self.argv(*args), capture_output=True, timeout=30, check=False).returncode == 0

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "-o", "json"))

    def apply_text(self, text: str, server_side: bool = True, subresource: str = "") -> str:
        args = ["apply", "-f", "-"]
        if server_side:
            args += ["--server-side", f"--field-manager={FIELD_MANAGER}", "--force-conflicts"]
        if subresource:
            args += [f"--subresource={subresource}"]
        return self.run(*args, stdin=text)

    def apply_file(self, path: Path, server_side: bool = True) -> str:
        return self.apply_text(path.read_text(), server_side=server_side)

    def apply_files(self, paths: list[Path], server_side: bool = True) -> str:
        """Apply several files in one kubectl call (one process and one discovery, not one per file)."""
        if not paths:
            return ""
        text = "\n---\n".join(p.read_text() for p in paths)
        return self.apply_text(text, server_side=server_side)

    def wait_crds(self, names: list[str], timeout: float = 60) -> None:
        """Wait until every named CRD is Established, from one listing per poll."""
        wanted = set(names)

        def established() -> bool:
            done = {
                c["metadata"]["name"]
                for c in self.json("get", "crd")["items"]
                if any(
                    x["type"] == "Established" and x["status"] == "True"
                    for x in c.get("status", {}).get("conditions") or []
                )
            }
            return wanted <= done

        wait_until(established, timeout, f"{len(wanted)} CRD(s) to be established")

    def wait_crd(self, name: str, timeout: float = 60) -> None:
        """Wait until a CRD is Established (`kubectl wait` fails while .status is still empty)."""

        def established() -> bool:
            conds = self.json("get", "crd", name).get("status", {}).get("conditions") or []
            return any(c["type"] == "Established" and c["status"] == "True" for c in conds)

        wait_until(established, timeout, f"CRD {name} to be established")

    def reachable(self) -> bool:
        return self.ok("get", "--raw", "/readyz", "--request-timeout=5s")


def wait_until(
    check: Callable[[], Any],
    timeout: float,
    what: str,
    progress: Callable[[str], None] | None = None,
    interval: float = 1.0,
    hint: str = "",
) -> Any:
    """Poll `check` until it returns a truthy value; raise a BioGitopsError after `timeout`."""
    deadline = time.monotonic() + timeout
    start = time.monotonic()
    last_error = ""
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Fatal:
            raise
        except BioGitopsError as err:
            last_error = f" (last error: {err.line()})"
        if progress:
            progress(f"waiting for {what} ({time.monotonic() - start:.0f}s)")
        time.sleep(interval)
    raise BioGitopsError(f"timed out after {timeout:.0f}s waiting for {what}{last_error}", hint)


def api_server_endpoints(kubectl: Kubectl) -> dict[str, str]:
    """The API server's own addresses and ports (the `kubernetes` Service's EndpointSlices), for
    lab egress policies: `{"ips": "10.0.0.1,...", "ports": "6443"}`."""
    slices = kubectl.json(
        "-n", "default", "get", "endpointslices.discovery.k8s.io", "-l", "kubernetes.io/service-name=kubernetes"
    )["items"]
    ips = sorted({a for s in slices for e in s.get("endpoints") or [] for a in e.get("addresses") or []})
    ports = sorted({str(p["port"]) for s in slices for p in s.get("ports") or [] if p.get("port")})
    if not ips or not ports:
        raise BioGitopsError(
            "the kubernetes Service has no endpoints: cannot tell labs where the API server is",
            "check the API server's --advertise-address and the endpoint reconciler",
        )
    return {"ips": ",".join(ips), "ports": ",".join(ports)}
