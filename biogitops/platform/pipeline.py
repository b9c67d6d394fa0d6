"""Start a Nextflow pipeline run in a lab's namespace, follow it, and say how it ended.

    invoke pipeline.run --env dev --lab genomics --pipeline fastq-qc          # first-party (pipelines/)
    invoke pipeline.run --env dev --lab genomics --pipeline nf-core/demo --revision 1.0.1 [--profile test]
    invoke pipeline.logs --env dev --lab genomics --run nf-fastq-qc-20261202211500

The launcher Job comes from the lab's own chart (applications/nextflow, `launcher.enabled`),
so it runs with the lab's service account, work dir and `k8s` profile; every task is a pod in
the lab's namespace. It runs as the `nextflow` ServiceAccount, which admission lends only to
Jobs a lab owner or the platform creates (not a member's: clusters/base/admission,
lab-pod-secrets), so run this with an owner's or the platform's credentials. A first-party
pipeline (a folder of pipelines/) goes to the launcher as a ConfigMap and runs offline; on kind,
the lab images it needs (pins.yaml images, recipe.lab) are built here and loaded into the nodes
first. Each run keeps its directory on the lab's claim (runs/<name>: work dir, log, results),
whether it succeeded or failed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import yaml

from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.config.pins import Pins, load_pins
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import helm_template

CHART = REPO_ROOT / "applications" / "nextflow"
PIPELINES = REPO_ROOT / "pipelines"
# the lab images each first-party pipeline's tasks run in (pins.yaml images), by its params
TASK_IMAGES = {"fastq-qc": {"task_image": "nf-tasks"}}
LAUNCHER_IMAGE = "nextflow"
_TAG = re.compile(r"^v?\d+(\.\d+){0,3}([-+][0-9A-Za-z.-]+)?$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_PIPELINE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$|^https://[\w./-]+$")


def check_revision(revision: str) -> str:
    """A pipeline revision must be a release tag or a commit: a branch moves under you."""
    if _TAG.match(revision) or _COMMIT.match(revision):
        return revision
    raise ConfigError(f"--revision {revision!r} looks like a branch", "pin a release tag (e.g. 1.0.1) or a commit SHA")


def first_party() -> list[str]:
    """The pipelines that live in this repository (pipelines/<name>/main.nf)."""
    return sorted(p.parent.name for p in PIPELINES.glob("*/main.nf"))


def is_first_party(pipeline: str) -> bool:
    return "/" not in pipeline and not pipeline.startswith("https:")


def check_pipeline(pipeline: str, revision: str) -> None:
    """A first-party name that exists, or owner/name (or an https URL) at a tag or commit."""
    if is_first_party(pipeline):
        if pipeline not in first_party():
            raise ConfigError(
                f"unknown pipeline {pipeline!r}",
                f"first-party pipelines (pipelines/): {', '.join(first_party())}; or owner/name from GitHub "
                "with --revision",
            )
        return
    if not _PIPELINE.match(pipeline):
        raise ConfigError(f"--pipeline {pipeline!r} is not a first-party name, owner/name or an https URL")
    if not revision:
        raise ConfigError(f"--pipeline {pipeline} needs --revision", "pin a release tag (e.g. 1.0.1) or a commit SHA")
    check_revision(revision)


def check_lab(env: str, lab: str) -> None:
    labs = {item.name: item for item in load_labs(env)}
    if lab not in labs:
        raise ConfigError(f"unknown lab {lab!r} in {env}", f"labs: {', '.join(sorted(labs)) or 'none'}")
    if "nextflow" not in labs[lab].apps:
        raise ConfigError(
            f"lab {lab} has no nextflow app in {env}",
            f"add `nextflow: {{}}` under apps: in {labs[lab].path.relative_to(REPO_ROOT)} and let Argo CD sync",
        )


def pipeline_configmap(pipeline: str, name: str, lab: str) -> dict:
    """The files of a first-party pipeline as the ConfigMap its launcher mounts at /pipeline."""
    folder = PIPELINES / pipeline
    data = {path.name: path.read_text() for path in sorted(folder.iterdir()) if path.is_file()}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{name}-pipeline",
            "labels": {"app.kubernetes.io/name": "nextflow", "bio-gitops.io/lab": lab, "bio-gitops.io/run": name},
        },
        "data": data,
    }


def launcher_job(
    env: str,
    lab: str,
    pipeline: str,
    revision: str,
    profile: str,
    name: str,
    images: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> dict:
    """The launcher Job of one run, rendered from the lab's chart (`images`: pin name -> the
    reference to run instead of the chart's, on kind's images built here)."""
    check_lab(env, lab)
    check_pipeline(pipeline, revision)
    images = images or {}
    local = is_first_party(pipeline)
    launcher: dict = {"enabled": True, "name": name, "pipeline": pipeline, "revision": revision, "profile": profile}
    extra = dict(params or {})
    if local:
        launcher |= {"configMap": f"{name}-pipeline", "offline": "true", "profile": ""}
        for param, image in TASK_IMAGES.get(pipeline, {}).items():
            extra.setdefault(param, images.get(image, ""))
    launcher["params"] = [item for key, value in extra.items() for item in (f"--{key}", str(value))]
    values: dict = {"lab": lab, "launcher": launcher}
    if LAUNCHER_IMAGE in images:
        repository, tag = images[LAUNCHER_IMAGE].rsplit(":", 1)
        values["image"] = {"repository": repository, "tag": tag}
    files = [CHART / "values.yaml", CHART / f"values.{env}.yaml"]
    [job] = helm_template(CHART, [values], value_files=files, show_only="templates/launcher-job.yaml")
    return job


def lab_images(target: Target, pipeline: str, pins: Pins, progress=print) -> dict[str, str]:
    """On kind: build (or find) the launcher's and the pipeline's task images and load them into
    the nodes; elsewhere nothing (the chart's images are pulled)."""
    if target.provider.name != "kind" or not is_first_party(pipeline):
        return {}
    from biogitops.cluster.kind import load, workloads
    from biogitops.cluster.kind.nodeimage.docker import Docker

    names = [LAUNCHER_IMAGE, *TASK_IMAGES.get(pipeline, {}).values()]
    missing = [name for name in names if name not in pins.images]
    if missing:
        raise ConfigError(f"pins.yaml images has no {', '.join(missing)}", "add the lab image's recipe to pins.yaml")
    built = workloads.build_lab(pins, names, progress)
    docker = Docker(workloads.cache() / "load.log", what="loading lab images into kind")
    load.load_images(target.provider.cluster_name, list(built.values()), docker, progress, schedulable(target))
    return built


def schedulable(target: Target) -> list[str]:
    """The nodes a lab pod without tolerations can land on (no NoSchedule/NoExecute taint): the
    lab images go there only (each is gigabytes; a kind node name is its container's)."""
    nodes = target.kubectl.json("get", "nodes").get("items", [])
    return [
        node["metadata"]["name"]
        for node in nodes
        if not any(t.get("effect") in ("NoSchedule", "NoExecute") for t in node.get("spec", {}).get("taints") or [])
    ]


@dataclass
class RunResult:
    """How a run ended: `state` (succeeded, failed), its name, the report's path on the lab's
    claim, the MultiQC general statistics it printed (sample -> columns), and why it failed."""

    name: str
    state: str
    report: str = ""
    general_stats: list[dict[str, str]] = field(default_factory=list)
    reason: str = ""
    log: str = ""


def parse_launcher_log(name: str, log: str) -> RunResult:
    """What the launcher printed at its end: `run-status: N`, `report: PATH`, the general stats."""
    status = re.search(r"^run-status: (\d+)$", log, re.M)
    report = re.search(r"^report: (\S+)$", log, re.M)
    stats: list[dict[str, str]] = []
    if "general-stats:" in log:
        rows = [line for line in log.split("general-stats:", 1)[1].splitlines() if "\t" in line]
        if rows:
            header = rows[0].split("\t")
            stats = [dict(zip(header, row.split("\t"), strict=False)) for row in rows[1:]]
    failed = not status or status.group(1) != "0"
    reason = ""
    if failed:
        errors = [line.strip() for line in log.splitlines() if "ERROR ~" in line or "Caused by" in line]
        reason = errors[0] if errors else (log.strip().splitlines() or ["no output"])[-1]
    return RunResult(
        name, "failed" if failed else "succeeded", report.group(1) if report else "", stats, reason[:300], log
    )


_QUOTA = re.compile(
    r"exceeded quota: (?P<quota>[\w-]+), requested: (?P<requested>.+?), used: .*?, limited: (?P<limited>\S+)"
)
_FORBIDDEN = re.compile(r"is (?:forbidden|invalid): (.+)$")
_LIMIT = re.compile(r"(maximum \w+ usage per \w+ is \S+, but limit is \S+)")


def _quantity(text: str) -> float:
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 1e3, "M": 1e6, "G": 1e9}
    match = re.match(r"^([\d.]+)([A-Za-z]*)$", text.strip())
    if not match:
        return 0.0
    return float(match.group(1)) * units.get(match.group(2), 1)


def quota_verdict(message: str) -> tuple[str, str] | None:
    """From a task Job's FailedCreate event: ("queued", why) when the quota is in use now,
    ("too-small", why) when the task asks more than the quota (or the LimitRange) allows at all,
    or its pod is refused for another reason (Pod Security, a policy)."""
    if found := _LIMIT.search(message):
        return "too-small", f"the lab's LimitRange refuses a task: {found.group(1)}"
    found = _QUOTA.search(message)
    if not found:
        if refused := _FORBIDDEN.search(message):  # Pod Security, a policy: never admitted as it is
            return "too-small", f"a task pod is refused: {refused.group(1)[:240]}"
        return None
    requested = dict(item.split("=", 1) for item in found.group("requested").split(",") if "=" in item)
    limited = dict(item.split("=", 1) for item in found.group("limited").split(",") if "=" in item)
    for resource, amount in requested.items():
        if resource in limited and _quantity(amount) > _quantity(limited[resource]):
            return "too-small", (
                f"a task asks {resource}={amount}, more than quota {found.group('quota')} allows the lab "
                f"in all ({resource}={limited[resource]})"
            )
    return "queued", f"quota {found.group('quota')} is in use ({found.group('requested')} waits)"


def task_refusals(target: Target, lab: str, since: str) -> list[str]:
    """The messages of FailedCreate events of the lab's Jobs since `since` (RFC 3339)."""
    events = target.kubectl.json("-n", f"lab-{lab}", "get", "events", "--field-selector", "reason=FailedCreate")
    out = []
    for event in events.get("items", []):
        stamp = event.get("lastTimestamp") or event.get("eventTime") or ""
        if event.get("involvedObject", {}).get("kind") == "Job" and stamp >= since:
            out.append(event.get("message", ""))
    return out


def run(
    target: Target,
    lab: str,
    pipeline: str,
    revision: str = "",
    profile: str = "test",
    follow: bool = True,
    timeout: float = 3600,
    progress=print,
    params: dict[str, str] | None = None,
) -> RunResult:
    """Create the launcher Job and (optionally) wait for it; returns how the run ended. A task
    the quota can never admit stops the run (its task Jobs are deleted, so Nextflow ends it and
    its log says why); one that waits for quota in use is reported as queued."""
    check_lab(target.env, lab)
    check_pipeline(pipeline, revision)
    slug = re.sub(r"[^a-z0-9]+", "-", pipeline.lower().split("/")[-1]).strip("-")[:30]
    name = f"nf-{slug}-{time.strftime('%Y%m%d%H%M%S')}"
    if not target.kubectl.ok("get", "namespace", f"lab-{lab}"):
        raise BioGitopsError(
            f"lab-{lab} does not exist on the {target.provider.name} cluster of {target.env}",
            f"`invoke bootstrap --env {target.env}` and wait until the lab's Applications are Synced",
        )
    images = lab_images(target, pipeline, load_pins(), progress)
    job = launcher_job(target.env, lab, pipeline, revision, profile, name, images, params)
    kubectl = target.kubectl
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    if is_first_party(pipeline):
        kubectl.run(
            "-n", f"lab-{lab}", "create", "-f", "-", stdin=yaml.safe_dump(pipeline_configmap(pipeline, name, lab))
        )
    kubectl.run("-n", f"lab-{lab}", "create", "-f", "-", stdin=yaml.safe_dump(job))
    progress(f"started run {name} in lab-{lab} (launcher Job {name}, work dir runs/{name} on claim nextflow-work)")
    if not follow:
        return RunResult(name, "started")
    deadline = time.monotonic() + timeout
    said = ""
    stopped = ""
    while time.monotonic() < deadline:
        status = kubectl.json("-n", f"lab-{lab}", "get", "job", name).get("status", {})
        if status.get("succeeded") or status.get("failed"):
            result = parse_launcher_log(name, logs(target, lab, name))
            if stopped:
                result.state, result.reason = "failed", stopped
            return result
        for message in task_refusals(target, lab, since):
            verdict = quota_verdict(message)
            if verdict and verdict[0] == "too-small" and not stopped:
                stopped = verdict[1]
                progress(f"{name}: {stopped}; stopping the run")
                stop_tasks(target, lab, name)
            elif verdict and verdict[1] != said:
                said = verdict[1]
                progress(f"{name}: queued: {said}")
        progress(f"{name}: running (launcher active={status.get('active', 0)})")
        time.sleep(10)
    raise BioGitopsError(
        f"pipeline run {name} still running after {timeout:.0f}s", f"invoke pipeline.logs --lab {lab} --run {name}"
    )


def stop_tasks(target: Target, lab: str, name: str) -> None:
    """Delete the run's task Jobs (Nextflow labels them with the run's name, `-name`), so Nextflow
    sees its tasks gone, fails them and ends the run with its log and work dir kept."""
    jobs = target.kubectl.json("-n", f"lab-{lab}", "get", "jobs", "-l", f"nextflow.io/runName={name}")
    for job in jobs.get("items", []):
        target.kubectl.run("-n", f"lab-{lab}", "delete", "job", job["metadata"]["name"], "--wait=false", check=False)


def logs(target: Target, lab: str, name: str) -> str:
    """The launcher's log of run `name` (its Job is kept a day after it ends)."""
    return target.kubectl.run("-n", f"lab-{lab}", "logs", f"job/{name}", "--tail=-1", check=False, timeout=60)


def runs(target: Target, lab: str) -> list[dict]:
    """The lab's runs (launcher Jobs), newest last: name and state."""
    jobs = target.kubectl.json("-n", f"lab-{lab}", "get", "jobs", "-l", "app.kubernetes.io/component=launcher")
    out = []
    for job in jobs.get("items", []):
        status = job.get("status", {})
        state = "succeeded" if status.get("succeeded") else "failed" if status.get("failed") else "running"
        out.append({"name": job["metadata"]["name"], "state": state})
    return sorted(out, key=lambda item: item["name"])


def report_lines(result: RunResult, lab: str) -> list[str]:
    """What `invoke pipeline.run` prints at the end."""
    lines = [f"run {result.name} in lab-{lab}: {result.state}"]
    if result.report:
        lines.append(f"report: {result.report} (claim nextflow-work of lab-{lab})")
    if result.general_stats:
        samples = {re.sub(r"_R[12]$", "", row.get("Sample", "")) for row in result.general_stats}
        lines.append(f"MultiQC report: {len(samples)} samples ({len(result.general_stats)} read files)")
    if result.reason:
        lines.append(f"why: {result.reason}")
    if result.state != "succeeded":
        lines.append(f"logs and work dir kept: invoke pipeline.logs --lab {lab} --run {result.name}")
    return lines
