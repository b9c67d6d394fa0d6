"""Benchmarks: wall-clock timings written as JSON (`nox -s bench`, or `python -m biogitops.bench.kwok`).

Every figure is measured on a throw-away kwok cluster (bio-gitops-dev-bench, ports +100), so a
running dev cluster is left alone:
  - kwok_cluster_create_s   from nothing to an API server with Ready nodes
  - argocd_ready_s          from a ready cluster to every Argo CD component answering
  - bootstrap_s             `invoke bootstrap` from nothing until every first-party Application
                            is Synced and Healthy (upstream charts: source unreachable offline)
  - scale.<tag>.<N>         the scaling curve (`--labs 10,100,300,1000`), one fresh cluster per N,
                            bootstrapped from a copy of the working tree with N generated labs:
      settle_s              bootstrap start until every AppProject exists and every Application
                            is settled (what `scale_<N>_labs_s` was)
      rebootstrap_s         the same bootstrap again with nothing changed; `rebootstrap_writes`
                            lists what it changed (must be empty)
      one_more_lab_s        one lab file added, bootstrap again until its Applications settle
                            (what a lab waits for on onboarding)
      idle                  CPU per process over IDLE_S seconds of a settled platform with nothing
                            changing (the cost of periodic reconciliation)
      render_s              `python -m biogitops.checks.conformance` (the render session's renderer and
                            validator) over the copy with N labs
      peak_rss_mib          peak resident memory (VmHWM) of each Argo CD component, the API
                            server and the rest of the control plane, over the whole point
      cpu_s                 CPU seconds per process and per phase, beside the machine's load
      metrics               means of the components' own timings (Prometheus endpoints)
      bottleneck            which component limits the settle phase, and why (a sentence)
      <phase>_error         instead of a figure, when that phase's bootstrap failed (its own
                            message); the point is still written, and the run exits non-zero
Output: out/bench.json (merged with earlier runs), with the machine's cores and load.

    python -m biogitops.bench.kwok [--labs 10,100] [--only startup,bootstrap,scale] [--tag tuned]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster import Provider
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import argocd

OUT = REPO_ROOT / "out" / "bench.json"
INSTANCE, OFFSET = "bench", 100
PHASES = ("settle", "idle", "rebootstrap", "onelab", "render")
IDLE_S = 120  # steady state after settle: what the reconciliation timeout costs
MAX_LABS = 5000  # a lab name is bench<NNNN>; beyond this a run would take hours here anyway
ONBOARD_LAB = "benchonboard"


# ------------------------------------------------------------------ pure helpers (unit-tested)
def parse_labs(text: str) -> list[int]:
    """`--labs`: comma-separated positive lab counts, e.g. "10,100,300" -> [10, 100, 300] (sorted,
    each once). Raises ValueError with a one-line reason."""
    counts: set[int] = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            raise ValueError(f"--labs {text!r}: empty entry (expected e.g. 10,100,300)")
        if not part.isdigit():
            raise ValueError(f"--labs {text!r}: {part!r} is not a whole number of labs")
        count = int(part)
        if count < 1 or count > MAX_LABS:
            raise ValueError(f"--labs {text!r}: {count} is outside 1..{MAX_LABS}")
        counts.add(count)
    return sorted(counts)


def parse_phases(text: str) -> list[str]:
    """`--phases`: which parts of a scale point to run after settle (settle always runs)."""
    chosen = [p.strip() for p in text.split(",") if p.strip()]
    unknown = [p for p in chosen if p not in PHASES]
    if unknown:
        raise ValueError(f"--phases {text!r}: unknown {', '.join(unknown)} (choose from {', '.join(PHASES)})")
    return [p for p in PHASES if p in chosen or p == "settle"]


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text exposition -> {sample name: [(labels, value), ...]} (comments skipped)."""
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        labels: dict[str, str] = {}
        if "{" in line:
            name, rest = line.split("{", 1)
            body, _, tail = rest.rpartition("}")
            for item in _split_labels(body):
                key, _, value = item.partition("=")
                labels[key.strip()] = value.strip().strip('"')
            fields = tail.split()
        else:
            name, *fields = line.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        out.setdefault(name.strip(), []).append((labels, value))
    return out


def _split_labels(body: str) -> list[str]:
    """a="x",b="y,z" -> ['a="x"', 'b="y,z"'] (commas inside quoted values kept)."""
    items, current, quoted, escaped = [], "", False, False
    for char in body:
        if escaped:
            current += char
            escaped = False
            continue
        if char == "\\":
            escaped = True
            current += char
            continue
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            if current.strip():
                items.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        items.append(current)
    return items


def histogram(
    samples: dict[str, list[tuple[dict[str, str], float]]], family: str, by: str = "", only: dict | None = None
) -> dict[str, dict[str, float]]:
    """Count and mean of a histogram/summary family, summed over label sets (grouped by label
    `by` when given; `only` keeps label sets with those values). {group: {count, mean_s}}"""
    groups: dict[str, list[float]] = {}
    for suffix, index in (("_sum", 0), ("_count", 1)):
        for labels, value in samples.get(family + suffix, []):
            if only and any(labels.get(k) != v for k, v in only.items()):
                continue
            key = labels.get(by, "") if by else "all"
            groups.setdefault(key, [0.0, 0.0])[index] += value
    return {
        key: {"count": int(count), "mean_s": round(total / count, 4) if count else 0.0}
        for key, (total, count) in sorted(groups.items())
        if count
    }


def counter(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return round(sum(v for _, v in samples.get(name, [])), 2)


def peak_rss_kib(status: str) -> int:
    """VmHWM (the peak resident set size, KiB) from the text of /proc/<pid>/status; 0 if absent."""
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def cpu_ticks(stat: str) -> int:
    """utime + stime (clock ticks) from the text of /proc/<pid>/stat (the command may hold spaces)."""
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def deltas(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """Per-key increase from `before` to `after` (keys new in `after` count from zero)."""
    return {k: round(after[k] - before.get(k, 0.0), 2) for k in sorted(after)}


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Keys whose version differs, appeared or disappeared between two snapshots."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def bottleneck(cpu: dict[str, float], wall_s: float, cores: int, waits: dict[str, float]) -> dict[str, Any]:
    """Which process limits a phase, from CPU seconds per process over `wall_s` on `cores`.

    `cpu` may hold "other" (the machine's CPU not spent by our processes). When the machine was
    busy most of the phase (>= 80% of cores), it was CPU-bound and the top consumer of ours
    is the bottleneck; otherwise the phase waited, and the largest wait (seconds, from the
    components' metrics) is named beside the top consumer."""
    ours = {k: v for k, v in cpu.items() if k != "other" and v > 0}
    if not ours or wall_s <= 0:
        return {"component": "unknown", "statement": "no CPU figures"}
    top = max(ours, key=lambda k: ours[k])
    busy = (sum(ours.values()) + max(cpu.get("other", 0.0), 0.0)) / (wall_s * cores)
    share = ours[top] / sum(ours.values())
    text = (
        f"{top} used {ours[top]:.0f} CPU-s ({share:.0%} of ours) in {wall_s:.0f} s; "
        f"the machine's {cores} cores were {min(busy, 1):.0%} busy"
    )
    if cpu.get("other", 0) > 0:
        text += f" ({cpu['other'] / (wall_s * cores):.0%} by other work)"
    if busy >= 0.8:
        return {"component": top, "cpu_bound": True, "statement": text + ": CPU-bound"}
    wait = max(waits, key=lambda k: waits[k]) if waits else ""
    if wait and waits[wait] > 0:
        text += f"; largest wait: {wait} {waits[wait]:.1f} s"
    return {"component": top, "cpu_bound": False, "wait": wait, "statement": text}


def lab_file(name: str) -> dict[str, Any]:
    """A generated lab: small quota, one Nextflow work dir (what a typical lab file holds)."""
    return {
        "name": name,
        "owners": f"{name}-admins",
        "members": name,
        "quota": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"},
        "apps": {"nextflow": {"workdir": "1Gi"}},
    }


# ------------------------------------------------------------------ measuring
def _timed(func) -> float:
    start = time.monotonic()
    func()
    return round(time.monotonic() - start, 2)


def _provider(env: str) -> Provider:
    return Target(env, "kwok", instance=INSTANCE, port_offset=OFFSET).provider


def bootstrap_command(env: str, timings: Path | None = None) -> list[str]:
    """`invoke bootstrap` on the throw-away cluster, as `_bootstrap_in` runs it in a checkout."""
    cmd = [sys.executable, "-m", "invoke", "bootstrap", "--env", env, "--provider", "kwok", "--timeout", "3600"]
    return [*cmd, "--timings", str(timings)] if timings else cmd


def aside(provider: Provider) -> dict[str, str]:
    """The environment that moves a child's clusters where `provider` is (BIOGITOPS_INSTANCE, _PORT_OFFSET)."""
    return {"BIOGITOPS_INSTANCE": provider.instance, "BIOGITOPS_PORT_OFFSET": str(provider.port_offset)}


def machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "loadavg": list(os.getloadavg())}


def startup(env: str) -> dict[str, float]:
    provider = _provider(env)
    provider.delete()
    try:
        create = _timed(lambda: provider.create(print))
        ready = _timed(lambda: argocd.install(provider, print))
        figures = {"kwok_cluster_create_s": create, "argocd_ready_s": ready}
        if (idp := provider.identity()) is not None:  # dev's Keycloak, as bootstrap starts it
            figures["identity_provider_start_s"] = _timed(lambda: idp.start(print))
    finally:
        provider.delete()
    return figures


def _bootstrap_in(root: Path, env: str, timings: Path | None = None) -> float:
    """Run `invoke bootstrap` with the code and data in `root` (a checkout) on the throw-away
    cluster (moved aside through the environment, as a second checkout would be); returns seconds."""
    env_vars = dict(os.environ, PYTHONPATH=str(root), **aside(_provider(env)))
    start = time.monotonic()
    proc = subprocess.run(bootstrap_command(env, timings), cwd=root, env=env_vars, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchFailed(f"bootstrap failed after {time.monotonic() - start:.0f}s: {last[:600]}")
    return round(time.monotonic() - start, 2)


class BenchFailed(Exception):
    """A measured bootstrap failed; the point records the reason instead of a figure."""


def _copy_checkout(dest: Path, extra_labs: int, env: str) -> Path:
    """A git checkout of the working tree (with `extra_labs` generated lab files) at `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for rel in files:
        src = REPO_ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    labs = dest / "clusters" / env / "labs"
    for i in range(extra_labs):
        name = f"bench{i:04d}" if extra_labs > 1000 else f"bench{i:03d}"
        (labs / f"{name}.yaml").write_text(yaml.safe_dump(lab_file(name)))
    _commit(dest, "bench", init=True)
    return dest


def _commit(dest: Path, message: str, init: bool = False) -> None:
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@bio-gitops.invalid"]
    if init:
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", message], cwd=dest, check=True)


def bootstrap(env: str, extra_labs: int = 0) -> float:
    provider = _provider(env)
    provider.delete()
    try:
        with tempfile.TemporaryDirectory(prefix="biogitops-bench-") as tmp:
            root = _copy_checkout(Path(tmp) / "repo", extra_labs, env)
            return _bootstrap_in(root, env)
    finally:
        provider.delete()


@dataclass
class Processes:
    """The processes of one throw-away cluster, found by their pid files under its state dir."""

    state_dir: Path
    peak_kib: dict[str, int] = field(default_factory=dict)

    def pids(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for pidfile in sorted(self.state_dir.glob("**/pids/*.pid")):
            group = "kwok" if "clusters" in pidfile.relative_to(self.state_dir).parts else pidfile.parent.parent.name
            name = pidfile.stem if group in ("kwok", "argocd") else f"{group}/{pidfile.stem}"
            try:
                found[name] = int(pidfile.read_text().strip())
            except (OSError, ValueError):
                continue
        return found

    def cpu_s(self) -> dict[str, float]:
        """Cumulative CPU seconds of each live process; updates the peak RSS seen."""
        ticks = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, pid in self.pids().items():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            out[name] = cpu_ticks(stat) / ticks
            self.peak_kib[name] = max(self.peak_kib.get(name, 0), peak_rss_kib(status))
        return out

    def peak_rss_mib(self) -> dict[str, float]:
        return {k: round(v / 1024, 1) for k, v in sorted(self.peak_kib.items())}


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy (every core, from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_s() -> float:
    """CPU seconds of this process's finished children (the bootstrap client, kubectl, helm)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class Phase:
    """CPU per process, the client's CPU and the machine's busy time over one timed phase."""

    def __init__(self, procs: Processes) -> None:
        self.procs = procs
        self.cpu0, self.client0, self.busy0 = procs.cpu_s(), children_cpu_s(), machine_busy_s()
        self.start = time.monotonic()
        self.load0 = os.getloadavg()

    def end(self) -> dict[str, Any]:
        wall = round(time.monotonic() - self.start, 2)
        cpu = deltas(self.cpu0, self.procs.cpu_s())
        cpu["bootstrap-client"] = round(children_cpu_s() - self.client0, 2)
        ours = sum(cpu.values())
        cpu["other"] = round(machine_busy_s() - self.busy0 - ours, 2)
        return {"wall_s": wall, "cpu_s": cpu, "loadavg_start": list(self.load0), "loadavg_end": list(os.getloadavg())}


def _get(url: str, timeout: float = 20) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.read().decode(errors="replace")
    except OSError:
        return ""


def scrape(provider) -> dict[str, dict[str, list]]:
    """Every component's own metrics: Argo CD's endpoints and the API server's /metrics."""
    from biogitops.cluster.kwok.argocd import PORTS

    base = provider.base_port
    out = {
        name: parse_metrics(_get(f"http://127.0.0.1:{base + PORTS[port]}/metrics"))
        for name, port in (
            ("application-controller", "controller-metrics"),
            ("repo-server", "repo-server-metrics"),
            ("applicationset-controller", "appset-metrics"),
        )
    }
    kubectl = provider.kubectl()
    out["kube-apiserver"] = parse_metrics(kubectl.run("get", "--raw", "/metrics", check=False, timeout=60))
    return out


def summarise(metrics: dict[str, dict[str, list]]) -> tuple[dict[str, Any], dict[str, float]]:
    """The timings that tell where time goes, and the waits (seconds summed) for `bottleneck`."""
    ctrl = metrics.get("application-controller", {})
    repo = metrics.get("repo-server", {})
    appset = metrics.get("applicationset-controller", {})
    api = metrics.get("kube-apiserver", {})
    summary = {
        "controller_app_reconcile": histogram(ctrl, "argocd_app_reconcile"),
        "controller_queue_wait": histogram(ctrl, "workqueue_queue_duration_seconds", by="name"),
        "controller_work": histogram(ctrl, "workqueue_work_duration_seconds", by="name"),
        "controller_kubectl_throttle": histogram(ctrl, "argocd_kubectl_rate_limiter_duration_seconds"),
        "controller_kube_requests": histogram(ctrl, "argocd_kubectl_request_duration_seconds"),
        "controller_redis": histogram(ctrl, "argocd_redis_request_duration"),
        "repo_git_requests": histogram(repo, "argocd_git_request_duration_seconds", by="request_type"),
        "repo_parallelism_wait": histogram(repo, "argocd_repo_parallelism_wait_duration_seconds"),
        "appset_queue_wait": histogram(appset, "workqueue_queue_duration_seconds", by="name"),
        "appset_work": histogram(appset, "workqueue_work_duration_seconds", by="name"),
        "appset_kubectl_throttle": histogram(appset, "argocd_kubectl_rate_limiter_duration_seconds"),
        "apiserver_requests": histogram(api, "apiserver_request_duration_seconds", by="verb"),
        "apiserver_flowcontrol_wait": histogram(api, "apiserver_flowcontrol_request_wait_duration_seconds"),
        "etcd_requests": histogram(api, "etcd_request_duration_seconds"),
        "apiserver_throttled_total": counter(api, "apiserver_flowcontrol_rejected_requests_total"),
    }

    def total(name: str, group: str | None = None) -> float:
        rows = summary[name]
        picked = [rows[group]] if group else list(rows.values())
        return round(sum(r["count"] * r["mean_s"] for r in picked if r), 1)

    summary["apiserver_requests"].pop("WATCH", None)  # long-running by design, not latency
    queue = summary["controller_queue_wait"]
    waits = {
        "controller reconciliation queue": total("controller_queue_wait", "app_reconciliation_queue")
        if "app_reconciliation_queue" in queue
        else 0.0,
        "controller operation (sync) queue": total("controller_queue_wait", "app_operation_processing_queue")
        if "app_operation_processing_queue" in queue
        else 0.0,
        "controller client-side throttling": total("controller_kubectl_throttle"),
        "repo-server parallelism limit": total("repo_parallelism_wait"),
        "applicationset queue wait": total("appset_queue_wait"),
        "applicationset client-side throttling": total("appset_kubectl_throttle"),
        "API server priority-and-fairness queue": total("apiserver_flowcontrol_wait"),
    }
    return summary, waits


def written(kubectl) -> dict[str, str]:
    """What a re-bootstrap could write, as versions to compare: the spec and annotations of every
    AppProject, ApplicationSet and Application (Argo CD keeps rewriting their status, and without
    a status subresource that moves their generation too), and the resourceVersion of every
    tenancy object (namespaces, quotas, limit ranges, network policies, role bindings)."""
    versions: dict[str, str] = {}
    for kind in ("appprojects.argoproj.io", "applicationsets.argoproj.io", "applications.argoproj.io"):
        for obj in kubectl.json("-n", "argocd", "get", kind)["items"]:
            meta = obj["metadata"]
            versions[f"{kind}/{meta['name']}"] = json.dumps(
                [obj.get("spec"), meta.get("annotations") or {}, meta.get("labels") or {}], sort_keys=True
            )
    kinds = "namespaces,resourcequotas,limitranges,networkpolicies,rolebindings"
    for obj in kubectl.json("get", kinds, "-A")["items"]:
        meta = obj["metadata"]
        versions[f"{obj['kind']}/{meta.get('namespace', '')}/{meta['name']}"] = meta["resourceVersion"]
    return versions


def _render_at(root: Path) -> float:
    env_vars = dict(os.environ, PYTHONPATH=str(root))
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "biogitops.checks.conformance"], cwd=root, env=env_vars, check=True)
    return round(time.monotonic() - start, 2)


def scale_point(env: str, labs: int, phases: list[str], progress: Callable[[str], None] = print) -> dict[str, Any]:
    """One point of the curve on a fresh throw-away cluster (deleted afterwards). A phase whose
    bootstrap fails records `<phase>_error` (the bootstrap's own message) instead of a figure,
    and the point is still written: a failure at N labs is a result too."""
    provider = _provider(env)
    provider.delete()
    point: dict[str, Any] = {"labs": labs, "machine": machine(), "phases": {}}
    procs = Processes(provider.state_dir)
    try:
        with tempfile.TemporaryDirectory(prefix="biogitops-bench-") as tmp:
            root = _copy_checkout(Path(tmp) / "repo", labs, env)
            steps = Path(tmp) / "steps.json"

            def measured(phase: str, key: str) -> bool:
                """Bootstrap in `root`, as phase `phase`, its seconds under `key`; False if it failed."""
                steps.unlink(missing_ok=True)
                started = Phase(procs)
                try:
                    point[key] = _bootstrap_in(root, env, steps)
                except BenchFailed as err:
                    point[f"{phase}_error"] = str(err)
                    progress(f"bench: {labs} labs: {phase} failed: {err}")
                point["phases"][phase] = started.end()
                if steps.is_file():
                    point[f"{key.removesuffix('_s')}_steps_s"] = json.loads(steps.read_text())
                return f"{phase}_error" not in point

            progress(f"bench: {labs} labs: bootstrap from nothing")
            settled = measured("settle", "settle_s")
            point["apps"], point["projects"] = _counts(provider)
            point["metrics"], waits = summarise(scrape(provider))
            settle = point["phases"]["settle"]
            point["bottleneck"] = bottleneck(settle["cpu_s"], settle["wall_s"], os.cpu_count() or 1, waits)
            point["waits_s"] = waits
            if settled and "idle" in phases:
                progress(f"bench: {labs} labs: {IDLE_S} s settled, nothing changing")
                phase = Phase(procs)
                time.sleep(IDLE_S)
                point["phases"]["idle"] = phase.end()
            if settled and "rebootstrap" in phases:
                progress(f"bench: {labs} labs: bootstrap again, nothing changed")
                kubectl = provider.kubectl()
                before = written(kubectl)
                measured("rebootstrap", "rebootstrap_s")
                point["rebootstrap_writes"] = changed(before, written(kubectl))[:50]
            if settled and "onelab" in phases:
                progress(f"bench: {labs} labs: one more lab")
                lab_dir = root / "clusters" / env / "labs"
                (lab_dir / f"{ONBOARD_LAB}.yaml").write_text(yaml.safe_dump(lab_file(ONBOARD_LAB)))
                _commit(root, "one more lab")
                measured("onelab", "one_more_lab_s")
            point["peak_rss_mib"] = procs.peak_rss_mib()
            if "render" in phases:
                progress(f"bench: {labs} labs: render and validate")
                point["render_s"] = _render_at(root)
    finally:
        procs.cpu_s()
        point["peak_rss_mib"] = procs.peak_rss_mib()
        provider.delete()
    point["machine"]["loadavg_end"] = list(os.getloadavg())
    return point


def _counts(provider) -> tuple[int, int]:
    kubectl = provider.kubectl()
    apps = len(kubectl.json("-n", "argocd", "get", "applications.argoproj.io")["items"])
    projects = len(kubectl.json("-n", "argocd", "get", "appprojects.argoproj.io")["items"])
    return apps, projects


def write(results: dict, out: Path = OUT) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.is_file() else {}
    for key, value in results.items():
        if key == "scale" and isinstance(merged.get("scale"), dict):
            for tag, points in value.items():
                merged["scale"].setdefault(tag, {}).update(points)
        else:
            merged[key] = value
    merged["machine"] = machine()
    merged["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def curve_table(scale: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The curve as a Markdown table (one row per configuration and N), from out/bench.json's
    `scale`: what runbooks/scaling-best-practices.md quotes."""
    rows = [
        "| config | labs | Applications | settle s | s per lab | one more lab s | re-bootstrap s (writes) "
        "| render s | peak RSS MiB: controller / repo-server / appset / API server | load (1 min) | bottleneck |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]

    def fig(point: dict[str, Any], key: str) -> str:
        """A figure, "failed" when its phase failed, "-" when it was not measured."""
        if isinstance(point.get(key), int | float):
            return f"{point[key]:.0f}"
        phase = {"settle_s": "settle", "one_more_lab_s": "onelab", "rebootstrap_s": "rebootstrap"}.get(key, "")
        return "failed" if f"{phase}_error" in point else "-"

    for tag, points in scale.items():
        for labs, point in sorted(points.items(), key=lambda item: int(item[0])):
            rss = point.get("peak_rss_mib") or {}
            mem = " / ".join(
                f"{rss[c]:.0f}" if c in rss else "-"
                for c in ("application-controller", "repo-server", "applicationset-controller", "kube-apiserver")
            )
            writes = point.get("rebootstrap_writes")
            reboot = fig(point, "rebootstrap_s") + (f" ({len(writes)})" if isinstance(writes, list) else "")
            load = (point.get("phases", {}).get("settle") or {}).get("loadavg_start") or point["machine"]["loadavg"]
            per_lab = f"{point['settle_s'] / int(labs):.1f}" if "settle_s" in point else "-"
            found = (point.get("bottleneck") or {}).get("component", "-")
            rows.append(
                f"| {tag} | {labs} | {point.get('apps', '-')} | {fig(point, 'settle_s')} | {per_lab} "
                f"| {fig(point, 'one_more_lab_s')} | {reboot} | {fig(point, 'render_s')} | {mem} "
                f"| {load[0]:.1f} | {found} |"
            )
    return "\n".join(rows)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line; a bad `--labs` or `--phases` exits non-zero with a one-line error."""
    parser = argparse.ArgumentParser(description="bio-gitops benchmarks")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--labs", default="100", help="comma-separated lab counts, e.g. 10,100,300,1000")
    parser.add_argument("--only", default="startup,bootstrap,scale")
    parser.add_argument("--phases", default=",".join(PHASES), help="parts of each scale point")
    parser.add_argument("--tag", default="current", help="name of this configuration (e.g. baseline, tuned)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--table", action="store_true", help="print the curve in --out as Markdown; run nothing")
    args = parser.parse_args(argv)
    try:
        args.labs = parse_labs(args.labs)
        args.phases = parse_phases(args.phases)
    except ValueError as err:
        print(f"bench: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.table:
        print(curve_table(json.loads(args.out.read_text()).get("scale", {})))
        return
    which = set(args.only.split(","))
    results: dict[str, Any] = {}
    if "startup" in which:
        results.update(startup(args.env))
        write(results, args.out)
    if "bootstrap" in which:
        results["bootstrap_s"] = bootstrap(args.env)
        write(results, args.out)
    failed: list[str] = []
    if "scale" in which:
        for labs in args.labs:
            point = scale_point(args.env, labs, args.phases)
            results = {"scale": {args.tag: {str(labs): point}}}
            if "settle_s" in point:
                results[f"scale_{labs}_labs_s"] = point["settle_s"]
            write(results, args.out)
            failed += [f"{labs} labs: {k}: {v}" for k, v in point.items() if k.endswith("_error")]
            print(
                json.dumps({k: point.get(k) for k in ("labs", "settle_s", "one_more_lab_s", "bottleneck")}), flush=True
            )
    print(json.dumps(write({}, args.out), indent=2))
    if failed:
        print("bench: some phases failed (recorded in the JSON):\n  " + "\n  ".join(failed), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
