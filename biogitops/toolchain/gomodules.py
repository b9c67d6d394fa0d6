"""Read files from pinned upstream Go modules (Argo CD's CRDs and install manifests).

The module is fetched once through the Go module proxy into the Go module cache, at the
version pinned in pins.yaml: nothing upstream is copied into this repository.

    crds = argocd_dir() / "manifests" / "crds"
"""

from __future__ import annotations

import json
import subprocess
from functools import cache
from pathlib import Path

from biogitops.config.pins import load_pins
from biogitops.errors import ToolError
from biogitops.toolchain.tools import go_toolchain


@cache
def module_dir(module: str, version: str) -> Path:
    """The read-only source directory of module@version (downloads it on first use)."""
    go, env = go_toolchain(load_pins())
    # always through the checksum database: a module is used only if sum.golang.org vouches for it
    env.update({"GOSUMDB": "sum.golang.org", "GONOSUMDB": "", "GONOSUMCHECK": "", "GOPRIVATE": "", "GOINSECURE": ""})
    proc = subprocess.run(
        [str(go), "mod", "download", "-json", f"{module}@{version}"], capture_output=True, text=True, env=env
    )
    try:
        info = json.loads(proc.stdout)
    except ValueError:
        info = {"Error": proc.stderr.strip() or "no output"}
    if proc.returncode != 0 or info.get("Error") or not info.get("Dir"):
        raise ToolError(f"cannot fetch {module}@{version}: {info.get('Error')}", "check access to the Go module proxy")
    return Path(info["Dir"])


def argocd_dir() -> Path:
    """Argo CD's source tree at the pinned version (manifests/crds, manifests/install.yaml)."""
    pin = load_pins().tool("argocd")
    return module_dir(pin.module, pin.go_module_version)


def argocd_crds() -> list[Path]:
    crds = sorted((argocd_dir() / "manifests" / "crds").glob("*-crd.yaml"))
    if not crds:
        raise ToolError("no CRDs found in the Argo CD module", "check the argocd pin in pins.yaml")
    return crds
