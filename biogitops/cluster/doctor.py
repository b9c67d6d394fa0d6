"""What this machine has and lacks for each cluster provider: one check function per piece, one
table, and the one error bootstrap's preflight raises from the same checks.

    invoke doctor --env dev                 # the table for kwok and kind; exit 1 when the
                                            # environment's provider cannot run here
    require(provider_checks(provider))      # bootstrap's preflight: ProviderError, one line per gap

kwok needs python, git, the pinned tools in the cache, its ports from kwok.basePort and some disk.
kind needs python, git, its tools and disk, plus a container engine that answers, and for the node
image built from source: root, debootstrap and wget. The cgroup version is reported (v1 works: the
project's kind config sets failCgroupV1: false).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from biogitops.cluster.base import ProviderError
from biogitops.cluster.kwok.procs import listener, port_open
from biogitops.config.pins import Pins, load_pins
from biogitops.errors import ToolError
from biogitops.paths import cache_dir
from biogitops.toolchain import tools

KWOK, KIND = "kwok", "kind"
MIN_PYTHON = (3, 11)
# free space in the cache: kwok's cluster state and a few tool rebuilds; kind's node image and
# the images in it (a few GiB each, the Debian root filesystem, Docker's copies)
MIN_FREE_GIB = {KWOK: 2, KIND: 20}


@dataclass(frozen=True)
class Check:
    """One piece of the machine: what was found, whether it is enough, and the fix when not."""

    name: str
    ok: bool
    found: str
    fix: str = ""
    needed_by: frozenset[str] = frozenset({KWOK, KIND})

    def line(self) -> str:
        return f"{self.name}: {self.found}" + (f" ({self.fix})" if self.fix and not self.ok else "")


class HostError(ProviderError):
    """This machine lacks what the chosen provider needs (one line per missing piece)."""


# ---------------------------------------------------------------- every provider


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> Check:
    found = ".".join(map(str, version))
    ok = version[:2] >= MIN_PYTHON
    return Check("python", ok, found, f"install Python {'.'.join(map(str, MIN_PYTHON))} or newer")


def check_git(which: Callable[[str], str | None] | None = None) -> Check:
    git = (which or shutil.which)("git")
    if git is None:
        return Check("git", False, "not found", "install git (Debian: apt-get install git)")
    proc = subprocess.run([git, "--version"], capture_output=True, text=True, check=False)
    return Check("git", proc.returncode == 0, proc.stdout.strip() or f"{git} does not run", "reinstall git")


def check_tools(names: Iterable[str], provider: str, pins: Pins | None = None) -> Check:
    """The pinned tools `provider` drives are in the cache at their pins (ours at their main.go)."""
    pins = pins or load_pins()
    names = list(names)
    label, needed_by = f"pinned tools for {provider}", frozenset({provider})
    missing = []
    for name in names:
        try:
            tools.which(name, pins)
        except ToolError:
            missing.append(name)
    if not missing:
        return Check(label, True, f"{len(names)} in {tools.tools_bin()}", needed_by=needed_by)
    fix = f"run `invoke tools.install --only {','.join(missing)}`"
    return Check(label, False, f"missing: {', '.join(missing)}", fix, needed_by)


def check_ports(first: int, last: int, running: bool = False, needed_by: Iterable[str] = (KWOK,)) -> Check:
    """Ports first..last on 127.0.0.1 are free (kwok.basePort onwards), unless our cluster holds them."""
    name = f"ports {first}-{last}"
    if running:
        return Check(name, True, "held by this environment's running cluster", needed_by=frozenset(needed_by))
    busy = [p for p in range(first, last + 1) if port_open(p)]
    if not busy:
        return Check(name, True, "free", needed_by=frozenset(needed_by))
    holder = listener(busy[0]) or "another process"
    return Check(
        name,
        False,
        f"in use: {', '.join(map(str, busy[:5]))}{' ...' if len(busy) > 5 else ''} ({holder} on {busy[0]})",
        "stop what listens there, or move kwok.basePort in clusters/<env>/settings.yaml",
        frozenset(needed_by),
    )


def check_disk(provider: str, path: Path | None = None) -> Check:
    """Free space where the cache lives (tools, cluster state, the node image's build)."""
    path = path or cache_dir()
    probe = path
    while not probe.exists():
        probe = probe.parent
    free_gib = shutil.disk_usage(probe).free / 2**30
    need = MIN_FREE_GIB[provider]
    return Check(
        f"disk for {provider}",
        free_gib >= need,
        f"{free_gib:.1f} GiB free at {path} (needs {need})",
        f"free {need} GiB at {path}, or point BIOGITOPS_CACHE at a larger disk",
        frozenset({provider}),
    )


# ---------------------------------------------------------------- kind


def engine_answer() -> tuple[bool, str]:
    """Whether a container engine answers `docker info`, and what it said (version or error)."""
    docker = shutil.which("docker")
    if docker is None:
        return False, "`docker` is not on PATH"
    try:
        proc = subprocess.run(
            [docker, "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=20, check=False
        )
    except subprocess.TimeoutExpired:
        return False, "`docker info` did not answer within 20s"
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"`docker info` failed: {last[:120]}"
    return True, f"Docker engine {proc.stdout.strip()}"


def host_cgroup_version() -> int:
    """2 when /sys/fs/cgroup is the unified hierarchy, else 1."""
    return 2 if Path("/sys/fs/cgroup/cgroup.controllers").exists() else 1


def check_engine(answer: Callable[[], tuple[bool, str]] | None = None) -> Check:
    ok, detail = (answer or engine_answer)()
    fix = "install and start a Docker engine (Debian: apt-get install docker.io; dockerd), or use --provider kwok"
    return Check("container engine", ok, detail, fix, frozenset({KIND}))


def check_root(euid: int | None = None) -> Check:
    euid = os.geteuid() if euid is None else euid
    found = "root" if euid == 0 else f"uid {euid}"
    return Check(
        "root (node image source build)", euid == 0, found, "run as root: debootstrap needs it", frozenset({KIND})
    )


def check_program(name: str, package: str, which: Callable[[str], str | None] | None = None) -> Check:
    """A host program the node image's source build runs (debootstrap, and the wget it fetches with)."""
    found = (which or shutil.which)(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").is_file() else None)
    return Check(
        f"{name} (node image source build)",
        found is not None,
        found or "not found",
        f"install it: apt-get install {package}",
        frozenset({KIND}),
    )


def check_cgroup(version: int | None = None) -> Check:
    version = host_cgroup_version() if version is None else version
    found = "v2" if version == 2 else "v1 (kubelets need failCgroupV1: false, which the project's kind config sets)"
    return Check("cgroup", True, found, needed_by=frozenset({KIND}))


INOTIFY_INSTANCES = Path("/proc/sys/fs/inotify/max_user_instances")
INOTIFY_FOR_TWO = 512  # what kind's known-issues page asks for several clusters on one host


def check_inotify(instances: int | None = None) -> Check:
    """Reported, never refused: one kind cluster runs with the usual 128 inotify instances, but a
    second one beside it (`BIOGITOPS_INSTANCE`) ran out here: kube-proxy exited with "too many
    open files" and no Service answered in that cluster."""
    if instances is None:
        try:
            instances = int(INOTIFY_INSTANCES.read_text())
        except (OSError, ValueError):
            return Check("inotify", True, "not readable here", needed_by=frozenset({KIND}))
    found = f"max_user_instances {instances}"
    if instances < INOTIFY_FOR_TWO:
        found += (
            f": enough for one kind cluster; for a second beside it, "
            f"`sysctl -w fs.inotify.max_user_instances={INOTIFY_FOR_TWO}`"
        )
    return Check("inotify", True, found, needed_by=frozenset({KIND}))


def node_image_checks(source_build: bool = True) -> list[Check]:
    """What building kind's node image needs: an engine, and for the Debian root filesystem root,
    debootstrap and wget (`source_build` False when that filesystem is built already)."""
    checks = [check_engine()]
    if source_build:
        checks += [check_root(), check_program("debootstrap", "debootstrap"), check_program("wget", "wget")]
    return checks


# ---------------------------------------------------------------- together

BOOTSTRAP_TOOLS = ("kubectl", "helm", "kustomize")


def provider_checks(provider: object) -> list[Check]:
    """Everything `provider` (a cluster provider) needs of this machine: python, git, the pinned
    tools bootstrap drives, disk, then the provider's own (`host_checks()`: kwok's ports; kind's
    engine, node image build and cgroup)."""
    name: str = provider.name  # type: ignore[attr-defined]
    checks = [check_tools([*BOOTSTRAP_TOOLS, *provider.tools()], name)]  # type: ignore[attr-defined]
    if name in MIN_FREE_GIB:
        checks = [check_python(), check_git(), *checks, check_disk(name)]
    return [*checks, *provider.host_checks()]  # type: ignore[attr-defined]


def merge(*lists: Iterable[Check]) -> list[Check]:
    """The checks of several providers as one list: a check made for both (python, git) once,
    needed by the union of them; order kept."""
    merged: dict[str, Check] = {}
    for checks in lists:
        for check in checks:
            seen = merged.get(check.name)
            merged[check.name] = check if seen is None else replace(seen, needed_by=seen.needed_by | check.needed_by)
    return list(merged.values())


def failing(checks: Iterable[Check], provider: str) -> list[Check]:
    return [c for c in checks if provider in c.needed_by and not c.ok]


def require(checks: Iterable[Check], provider: str) -> None:
    """HostError listing every check `provider` needs that fails, each with its fix; else nothing."""
    bad = failing(checks, provider)
    if bad:
        lines = "\n".join(f"  {c.line()}" for c in bad)
        raise HostError(
            f"this machine cannot run the {provider} provider:\n{lines}",
            f"`invoke doctor --provider {provider}` shows what it has and lacks",
        )


def table(checks: Iterable[Check], providers: Iterable[str] = (KWOK, KIND)) -> list[list[str]]:
    """Rows for a table: check, what was found, then per provider 'ok' / 'MISSING' / '' (not
    needed), then the fix of a failing check."""
    rows = []
    for check in checks:
        marks = [("ok" if check.ok else "MISSING") if p in check.needed_by else "" for p in providers]
        rows.append([check.name, check.found, *marks, "" if check.ok else check.fix])
    return rows
