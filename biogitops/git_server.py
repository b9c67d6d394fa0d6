"""Serve the dev snapshot repository to an in-cluster Argo CD (kind) with `git daemon`.

The daemon listens on the Docker network gateway of the kind network (reachable from the
kind nodes, not from other hosts), read-only, for the one bare repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from biogitops.errors import BioGitopsError
from biogitops.procs import Managed, port_open, wait_for_port
from biogitops.providers.base import Provider

PORT = 9418


def kind_gateway() -> str:
    """The IPv4 gateway of Docker's `kind` network."""
    docker = shutil.which("docker") or "docker"
    proc = subprocess.run([docker, "network", "inspect", "kind"], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BioGitopsError("cannot inspect the docker network `kind`", "create the kind cluster first")
    for cfg in json.loads(proc.stdout)[0]["IPAM"]["Config"]:
        gateway = cfg.get("Gateway", "")
        if gateway.count(".") == 3:
            return gateway
    raise BioGitopsError("the docker network `kind` has no IPv4 gateway")


def daemon_argv(bare: Path, address: str, port: int = PORT) -> list[str]:
    return [
        "git",
        "daemon",
        "--reuseaddr",
        f"--listen={address}",
        f"--port={port}",
        "--export-all",
        f"--base-path={bare.parent}",
        str(bare),
    ]


def serve(provider: Provider, bare: Path) -> str:
    """Start (or reuse) the git daemon; returns the URL Argo CD uses."""
    address = kind_gateway()
    proc = Managed("git-daemon", provider.state_dir / "git")
    if not proc.alive():
        if port_open(PORT, address):
            raise BioGitopsError(f"port {address}:{PORT} is already in use", "stop the other git daemon")
        proc.start(daemon_argv(bare, address), env={"PATH": "/usr/bin:/bin"})
        wait_for_port(PORT, 15, "git daemon", proc.logfile, host=address)
    return f"git://{address}:{PORT}/{bare.name}"
