"""The Docker CLI for image builds: every step logged to one file, failures as one line.

d = Docker(log=Path("build.log"))                  # errors say "node image: <step> failed"
d = Docker(Path("argocd.log"), what="image argocd")  # one log, one prefix per image
d.run("import the root filesystem", ["import", "-", "bio-gitops/debian:x"], stdin=fh)
d.image_exists("bio-gitops/debian:x")
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import IO

from biogitops.errors import BioGitopsError


class ImageBuildError(BioGitopsError):
    """A step of a node image build failed; the message names the step and the log."""


def docker_binary() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise ImageBuildError(
            "building the kind node image needs a container engine, and `docker` is not on PATH",
            "install and start Docker, or use `--provider kwok`",
        )
    return docker


class Docker:
    """Runs `docker` subcommands, appending their output to `log`; `what` starts each error."""

    def __init__(self, log: Path, what: str = "node image") -> None:
        self.binary = docker_binary()
        self.log = log
        self.what = what
        log.parent.mkdir(parents=True, exist_ok=True)

    def run(self, step: str, args: list[str], stdin: IO[bytes] | None = None, timeout: float = 3600) -> str:
        """Run `docker ARGS`; on failure raise naming `step`, its last output line and the log."""
        with self.log.open("ab") as log:
            log.write(f"\n== {step}: docker {' '.join(args)}\n".encode())
            log.flush()
            proc = subprocess.run([self.binary, *args], stdin=stdin, capture_output=True, timeout=timeout, check=False)
            log.write(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            lines = [ln for ln in (proc.stderr or proc.stdout).decode(errors="replace").splitlines() if ln.strip()]
            raise ImageBuildError(
                f"{self.what}: {step} failed: {lines[-1][:200] if lines else 'no output'}", f"log: {self.log}"
            )
        return proc.stdout.decode(errors="replace")

    def image_exists(self, ref: str) -> bool:
        proc = subprocess.run([self.binary, "image", "inspect", ref], capture_output=True, check=False)
        return proc.returncode == 0

    def remove(self, *refs: str) -> None:
        """Remove containers or images, ignoring the ones already gone (cleanup after a failure)."""
        for ref in refs:
            subprocess.run([self.binary, "rm", "-f", "-v", ref], capture_output=True, check=False)

    def check_privileged(self, image: str) -> None:
        """A kind node is a privileged container: fail early, naming the cause, when the engine refuses one."""
        proc = subprocess.run(
            [self.binary, "run", "--rm", "--privileged", "--entrypoint", "/bin/true", image],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise ImageBuildError(
                f"the container engine cannot run privileged containers: {last[:200]}",
                "kind nodes need them; on our machines start Docker with ../shared/tools/start-dockerd",
            )
