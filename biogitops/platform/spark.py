"""Spark jobs in a lab's namespace through the Kubeflow Spark operator, and the operator on kind.

    invoke spark.install-operator --env dev                    # kind: chart from its Go module, image built here
    invoke spark.run --env dev --lab genomics --app wordcount  # submit, follow, print the result
    invoke spark.logs --env dev --lab genomics --run wordcount-20261203081500

A job is a SparkApplication rendered from the lab's chart (applications/spark-operator/lab), so
its driver runs as the lab's `spark` ServiceAccount, its driver and executors in lab-<lab>, its
data on the lab's claim (`spark-data`, mounted at /data). The operator runs spark-submit for it.

Where the operator comes from: Argo CD's `spark-operator` Application installs the upstream
chart from its repository. Where that repository is out of reach (our machines), the same chart
at the same pinned version is read from the operator's Go module (verified by the Go checksum
database) and applied with the same values, plus the image built here from pins.yaml
(images.spark-operator); Argo CD's Application then reports "source unreachable" and touches
none of it. On kind, `spark.run` does that first when the operator is not running.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.config.pins import Pins, load_pins
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT

CHART = REPO_ROOT / "applications" / "spark-operator" / "lab"
JOBS = REPO_ROOT / "applications" / "spark-operator" / "jobs"
NAMESPACE = "spark-operator"
OPERATOR_IMAGE = "spark-operator"
SPARK_IMAGE = "spark"
# what `spark.run --app` knows: the chart's values key and the bundled input staged when none is given
APPS = {"wordcount": {"values": "wordcount", "sample": JOBS / "wordcount-sample.txt"}}
DEPLOYMENTS = ("spark-operator-controller", "spark-operator-webhook")
WEBHOOKS = ("mutatingwebhookconfiguration", "validatingwebhookconfiguration")
ENDED = {"COMPLETED", "FAILED", "SUBMISSION_FAILED"}
WORD = re.compile(r"[a-z0-9']+")


def _quiet(_: str) -> None:
    pass


def count_words(text: str) -> dict[str, int]:
    """What the word count must find in `text` (the job's rule, for checking its output)."""
    return dict(Counter(w for w in WORD.findall(text.lower()) if w.strip("'")))


def check_lab(env: str, lab: str) -> None:
    """The lab exists in `env` and enables the spark app."""
    labs = {item.name: item for item in load_labs(env)}
    if lab not in labs:
        raise ConfigError(f"unknown lab {lab!r} in {env}", f"labs: {', '.join(sorted(labs)) or 'none'}")
    if "spark" not in labs[lab].apps:
        raise ConfigError(
            f"lab {lab} has no spark app in {env}",
            f"add `spark: {{}}` under apps: in {labs[lab].path.relative_to(REPO_ROOT)} and let Argo CD sync",
        )


def check_app(app: str) -> None:
    if app not in APPS:
        raise ConfigError(f"unknown Spark app {app!r}", f"known: {', '.join(sorted(APPS))}")


# --- the operator ---------------------------------------------------------------------------


def operator_objects(env: str, image: str = "") -> list[dict[str, Any]]:
    """The operator chart at its pinned version, from its Go module, with our values for `env`
    (`image`: the reference to run instead of upstream's, the one built here on kind)."""
    from biogitops.cluster.kind.load import containerd_name
    from biogitops.render.targets import module_chart, render_upstream

    extra: dict[str, Any] = {}
    if image:
        # the chart writes registry/repository:tag; ours is a Docker Hub-style name kind's nodes hold
        name, tag = containerd_name(image).rsplit(":", 1)
        registry, repository = name.split("/", 1)
        extra["image"] = {"registry": registry, "repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}
    objs = render_upstream(
        "spark-operator", env, [str(module_chart("spark-operator", load_pins()))], NAMESPACE, extra or None
    )
    cluster_scoped = {
        "ClusterRole",
        "ClusterRoleBinding",
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    }
    for obj in objs:
        if obj["kind"] not in cluster_scoped:
            obj["metadata"]["namespace"] = NAMESPACE
    return objs


def operator_state(target: Target) -> str:
    """'' when the operator's controller and webhook are available and the webhook has put its
    CA into both webhook configurations, else what is missing."""
    kubectl = target.kubectl
    for name in DEPLOYMENTS:
        if not kubectl.ok("-n", NAMESPACE, "get", "deployment", name):
            return f"deployment {NAMESPACE}/{name} does not exist"
        status = kubectl.json("-n", NAMESPACE, "get", "deployment", name).get("status", {})
        if not status.get("availableReplicas"):
            return f"deployment {NAMESPACE}/{name} has no available replica"
    for kind in WEBHOOKS:
        if not kubectl.ok("get", kind, "spark-operator-webhook"):
            return f"{kind} spark-operator-webhook does not exist"
        hooks = kubectl.json("get", kind, "spark-operator-webhook").get("webhooks") or []
        if not hooks or not all(h.get("clientConfig", {}).get("caBundle") for h in hooks):
            return f"{kind} spark-operator-webhook has no CA yet (the webhook writes it when it starts)"
    return ""


def operator_images(target: Target, pins: Pins, names: list[str], progress=print) -> dict[str, str]:
    """On kind: build (or find) the named images and load them into the nodes lab pods (and the
    operator) can land on; pin name -> reference. Elsewhere nothing (upstream's are pulled)."""
    if target.provider.name != "kind":
        return {}
    from biogitops.cluster.kind import load, workloads
    from biogitops.cluster.kind.nodeimage.docker import Docker
    from biogitops.platform.pipeline import schedulable

    built = workloads.build_lab(pins, names, progress)
    docker = Docker(workloads.cache() / "load.log", what="loading Spark images into kind")
    load.load_images(target.provider.cluster_name, list(built.values()), docker, progress, schedulable(target))
    return built


def argocd_installed(addons: list[dict[str, Any]]) -> bool:
    """Argo CD installed the operator from its chart: the add-on `spark-operator` is Synced and
    Healthy. Healthy alone is not enough: an Application whose chart repository is unreachable has
    no resources, and Argo CD reports "Healthy" for it beside sync status "Unknown"."""
    from biogitops.platform.bootstrap import HEALTHY, app_state

    return any(app["metadata"]["name"] == "spark-operator" and app_state(app) == HEALTHY for app in addons)


def install_operator(target: Target, progress=print, timeout: float = 300) -> str:
    """Apply the operator chart (see the module docstring) and wait until it is ready; returns
    how it was installed. A no-op apply when nothing changed."""
    from biogitops.cluster.kube import wait_until

    kubectl = target.kubectl
    if not kubectl.ok("get", "crd", "sparkapplications.sparkoperator.k8s.io"):
        raise BioGitopsError(
            "the SparkApplication CRD is not installed",
            f"`invoke bootstrap --env {target.env}` installs it (clusters/base/crds) before any add-on",
        )
    if not kubectl.ok("get", "namespace", NAMESPACE):
        raise BioGitopsError(
            f"namespace {NAMESPACE} does not exist", f"`invoke bootstrap --env {target.env}` creates it (clusters/base)"
        )
    argo = {}
    if kubectl.ok("get", "crd", "applications.argoproj.io"):
        argo = kubectl.json("-n", "argocd", "get", "applications.argoproj.io", "-l", "bio-gitops.io/layer=addons")
    if argocd_installed(argo.get("items", [])) and not operator_state(target):
        progress("spark operator: installed by Argo CD from its chart repository")
        return "argocd"
    images = operator_images(target, load_pins(), [OPERATOR_IMAGE], progress)
    objs = operator_objects(target.env, images.get(OPERATOR_IMAGE, ""))
    progress(
        f"spark operator: chart spark-operator {load_pins().charts['spark-operator']['version']} from its Go "
        f"module ({len(objs)} objects) into {NAMESPACE}"
    )
    kubectl.apply_text(yaml.safe_dump_all(objs))
    missing = {"now": ""}

    def ready() -> bool:
        missing["now"] = operator_state(target)
        return not missing["now"]

    try:
        wait_until(
            ready,
            timeout,
            "the Spark operator",
            progress=lambda line: progress(f"{line}: {missing['now']}"),
            interval=5,
        )
    except BioGitopsError:
        raise BioGitopsError(
            f"the Spark operator is not ready after {timeout:.0f}s: {missing['now']}",
            f"kubectl -n {NAMESPACE} get pods; kubectl -n {NAMESPACE} logs deploy/spark-operator-webhook",
        ) from None
    progress("spark operator: ready")
    return "module"


def ensure_operator(target: Target, progress=print) -> None:
    """The operator must be running before a job is submitted; on kind it is installed if not."""
    missing = operator_state(target)
    if not missing:
        return
    if target.provider.name != "kind":
        raise BioGitopsError(
            f"the Spark operator is not running: {missing}",
            f"`invoke spark.install-operator --env {target.env}`, or let Argo CD sync the spark-operator add-on",
        )
    progress(f"spark operator: not running ({missing}); installing it")
    install_operator(target, progress)


# --- a job ----------------------------------------------------------------------------------


def application(env: str, lab: str, app: str, name: str, values: dict[str, Any]) -> dict[str, Any]:
    """The SparkApplication of one run, rendered from the lab's chart with `values` for the app."""
    from biogitops.render.manifests import helm_template

    check_lab(env, lab)
    check_app(app)
    key = APPS[app]["values"]
    files = [CHART / "values.yaml", CHART / f"values.{env}.yaml"]
    chart_values = {"lab": lab, key: {"enabled": True, "name": name, **values}}
    [obj] = helm_template(CHART, [chart_values], value_files=files, show_only=f"templates/sparkapplication-{app}.yaml")
    return obj


def claim_pod(lab: str, name: str, image: str, script: str, configmap: str = "") -> dict[str, Any]:
    """A short pod of the lab that runs `script` with the lab's Spark claim at /data (and a
    ConfigMap at /input): how a run stages its input and reads its output back."""
    volumes: list[dict[str, Any]] = [{"name": "data", "persistentVolumeClaim": {"claimName": "spark-data"}}]
    mounts = [{"name": "data", "mountPath": "/data"}]
    if configmap:
        volumes.append({"name": "input", "configMap": {"name": configmap}})
        mounts.append({"name": "input", "mountPath": "/input", "readOnly": True})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": {"app.kubernetes.io/part-of": "spark", "bio-gitops.io/lab": lab, "bio-gitops.io/role": "claim"},
        },
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": 185, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["/bin/sh", "-c", script],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "32Mi"},
                        "limits": {"cpu": "200m", "memory": "64Mi"},
                    },
                    "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": mounts,
                }
            ],
            "volumes": volumes,
        },
    }


def on_claim(
    target: Target, lab: str, name: str, image: str, script: str, configmap: str = "", timeout: float = 300
) -> str:
    """Run `script` in a claim pod (claim_pod), wait for it to end, delete it; returns its output.
    Raises when it fails, with what it printed."""
    kubectl = target.kubectl
    ns = f"lab-{lab}"
    kubectl.run("-n", ns, "delete", "pod", name, "--ignore-not-found", "--wait=true", timeout=120)
    kubectl.run("-n", ns, "create", "-f", "-", stdin=yaml.safe_dump(claim_pod(lab, name, image, script, configmap)))
    deadline = time.monotonic() + timeout
    phase = ""
    while time.monotonic() < deadline:
        phase = kubectl.json("-n", ns, "get", "pod", name).get("status", {}).get("phase", "")
        if phase in ("Succeeded", "Failed"):
            break
        time.sleep(2)
    out = kubectl.run("-n", ns, "logs", name, check=False, timeout=60)
    kubectl.run("-n", ns, "delete", "pod", name, "--ignore-not-found", "--wait=false", check=False)
    if phase != "Succeeded":
        raise BioGitopsError(
            f"pod {ns}/{name} on the lab's claim spark-data ended {phase or 'not in time'}: {out.strip()[-300:]}",
            f"kubectl -n {ns} describe pvc spark-data",
        )
    return out


def stage_input(target: Target, lab: str, run_name: str, text: str, image: str) -> str:
    """Write `text` to /data/input/<run>.txt on the lab's claim; returns that path."""
    kubectl = target.kubectl
    ns = f"lab-{lab}"
    configmap = f"{run_name}-input"
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": configmap, "labels": {"app.kubernetes.io/part-of": "spark", "bio-gitops.io/lab": lab}},
        "data": {"input.txt": text},
    }
    kubectl.apply_text(yaml.safe_dump({**cm, "metadata": {**cm["metadata"], "namespace": ns}}))
    path = f"/data/input/{run_name}.txt"
    try:
        on_claim(
            target, lab, f"{run_name}-stage", image, f"mkdir -p /data/input && cp /input/input.txt {path}", configmap
        )
    finally:
        kubectl.run("-n", ns, "delete", "configmap", configmap, "--ignore-not-found", check=False)
    return path


@dataclass
class SparkResult:
    """How a run ended: the operator's state (COMPLETED, FAILED, ...), its driver and executor
    pods, the counts the driver printed, where it wrote them, and why it failed."""

    name: str
    state: str
    driver: str = ""
    executors: dict[str, str] = field(default_factory=dict)  # pod -> its last state
    service_accounts: dict[str, str] = field(default_factory=dict)  # pod -> its ServiceAccount
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # pod -> its container's resources
    counts: dict[str, int] = field(default_factory=dict)
    input: str = ""
    output: str = ""
    reason: str = ""
    log: str = ""
    seconds: float = 0.0


def parse_driver_log(log: str) -> dict[str, int]:
    """The table the word count printed between its `wordcount-begin` and `wordcount-end` lines."""
    if "wordcount-begin" not in log or "wordcount-end" not in log:
        return {}
    body = log.split("wordcount-begin", 1)[1].split("wordcount-end", 1)[0]
    counts = {}
    for line in body.strip().splitlines():
        word, _, count = line.partition("\t")
        if count.strip().isdigit():
            counts[word.strip()] = int(count)
    return counts


def parse_counts(tsv: str) -> dict[str, int]:
    """counts.tsv as the job wrote it (word TAB count per line)."""
    return {w: int(c) for w, _, c in (line.partition("\t") for line in tsv.splitlines() if "\t" in line)}


def driver_log(target: Target, lab: str, name: str) -> str:
    """The driver's log of run `name` (its pod stays after the run ends)."""
    app = target.kubectl.json("-n", f"lab-{lab}", "get", "sparkapplication", name)
    pod = (app.get("status") or {}).get("driverInfo", {}).get("podName") or f"{name}-driver"
    return target.kubectl.run("-n", f"lab-{lab}", "logs", pod, "--tail=-1", check=False, timeout=60)


def _pods(target: Target, lab: str, name: str) -> list[dict[str, Any]]:
    return target.kubectl.json("-n", f"lab-{lab}", "get", "pods", "-l", f"sparkoperator.k8s.io/app-name={name}")[
        "items"
    ]


def run(
    target: Target,
    lab: str,
    app: str = "wordcount",
    input_path: str = "",
    follow: bool = True,
    timeout: float = 900,
    progress=print,
) -> SparkResult:
    """Submit one run of `app` in the lab's namespace and (optionally) follow it to its end.

    `input_path`: a file on the lab's claim (/data/...); none: the app's bundled sample is staged
    at /data/input/<run>.txt first. The output goes to /data/results/<run>/ on the claim."""
    check_lab(target.env, lab)
    check_app(app)
    ns = f"lab-{lab}"
    if not target.kubectl.ok("get", "namespace", ns):
        raise BioGitopsError(
            f"{ns} does not exist on the {target.provider.name} cluster of {target.env}",
            f"`invoke bootstrap --env {target.env}` and wait until the lab's Applications are Synced",
        )
    if not target.kubectl.ok("-n", ns, "get", "serviceaccount", "spark"):
        raise BioGitopsError(
            f"{ns} has no spark ServiceAccount yet", f"wait until Argo CD has synced lab-{lab}-spark (invoke status)"
        )
    started = time.monotonic()
    ensure_operator(target, progress)
    pins = load_pins()
    images = operator_images(target, pins, [SPARK_IMAGE], progress)
    image = images.get(SPARK_IMAGE, "")
    name = f"{app}-{time.strftime('%Y%m%d%H%M%S')}"
    if not input_path:
        sample = APPS[app]["sample"]
        input_path = stage_input(target, lab, name, sample.read_text(), image or _chart_image(target.env, app))
        progress(f"{name}: staged {sample.relative_to(REPO_ROOT)} at {input_path} on claim spark-data")
    values: dict[str, Any] = {"input": input_path, "output": f"/data/results/{name}"}
    if image:
        values["image"] = image
    obj = application(target.env, lab, app, name, values)
    target.kubectl.run("-n", ns, "create", "-f", "-", stdin=yaml.safe_dump(obj))
    progress(f"{name}: SparkApplication created in {ns} (driver as ServiceAccount spark, data on claim spark-data)")
    result = SparkResult(name, "SUBMITTED", input=input_path, output=f"/data/results/{name}/counts.tsv")
    if not follow:
        return result
    return follow_run(target, lab, result, timeout, progress, started)


def _chart_image(env: str, app: str) -> str:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    return values[APPS[app]["values"]]["image"]


def follow_run(
    target: Target, lab: str, result: SparkResult, timeout: float, progress=print, started: float | None = None
) -> SparkResult:
    """Poll the SparkApplication until the operator says it ended; fill in pods, log and counts."""
    ns = f"lab-{lab}"
    started = started or time.monotonic()
    deadline = time.monotonic() + timeout
    said = ""
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = target.kubectl.json("-n", ns, "get", "sparkapplication", result.name).get("status") or {}
        state = (status.get("applicationState") or {}).get("state", "") or "PENDING"
        for pod in _pods(target, lab, result.name):
            role = pod["metadata"].get("labels", {}).get("spark-role", "")
            podname = pod["metadata"]["name"]
            result.service_accounts[podname] = pod["spec"].get("serviceAccountName", "")
            result.resources[podname] = pod["spec"]["containers"][0].get("resources") or {}
            if role == "driver":
                result.driver = podname
            elif role == "executor":
                result.executors[podname] = pod.get("status", {}).get("phase", "")
        for podname, exec_state in (status.get("executorState") or {}).items():
            result.executors[podname] = exec_state
        line = f"{state}: driver {result.driver or '-'}, {len(result.executors)} executor(s)"
        if line != said:
            progress(f"{result.name}: {line} ({time.monotonic() - started:.0f}s)")
            said = line
        if state in ENDED:
            result.state = state
            break
        time.sleep(3)
    else:
        raise BioGitopsError(
            f"Spark run {result.name} not ended after {timeout:.0f}s ({said})",
            f"invoke spark.logs --lab {lab} --run {result.name}; "
            f"kubectl -n {ns} describe sparkapplication {result.name}",
        )
    result.seconds = time.monotonic() - started
    result.reason = (status.get("applicationState") or {}).get("errorMessage", "")[:400]
    result.log = driver_log(target, lab, result.name)
    result.counts = parse_driver_log(result.log)
    if result.state == "COMPLETED" and not result.counts:
        result.reason = "the driver printed no word table (wordcount-begin/-end)"
    return result


def read_output(target: Target, lab: str, result: SparkResult, image: str = "") -> dict[str, int]:
    """counts.tsv of a run, read back from the lab's claim."""
    image = image or (operator_images(target, load_pins(), [SPARK_IMAGE], _quiet).get(SPARK_IMAGE) or "")
    out = on_claim(
        target, lab, f"{result.name}-read", image or _chart_image(target.env, "wordcount"), f"cat {result.output}"
    )
    return parse_counts(out)


def report_lines(result: SparkResult, lab: str) -> list[str]:
    """What `invoke spark.run` prints at the end."""
    lines = [f"run {result.name} in lab-{lab}: {result.state} ({result.seconds:.0f}s)"]
    if result.driver:
        lines.append(f"driver {result.driver}, executors {', '.join(sorted(result.executors)) or '-'}")
    if result.counts:
        top = sorted(result.counts.items(), key=lambda item: (-item[1], item[0]))[:10]
        lines.append(f"{sum(result.counts.values())} words, {len(result.counts)} distinct, in {result.input}")
        lines.append("most frequent: " + ", ".join(f"{w} {c}" for w, c in top))
        lines.append(f"counts: {result.output} (claim spark-data of lab-{lab})")
    if result.reason:
        lines.append(f"why: {result.reason}")
    if result.state != "COMPLETED":
        lines.append(f"driver log kept: invoke spark.logs --lab {lab} --run {result.name}")
    return lines


def runs(target: Target, lab: str) -> list[dict[str, str]]:
    """The lab's SparkApplications, oldest first: name and state."""
    apps = target.kubectl.json("-n", f"lab-{lab}", "get", "sparkapplications")["items"]
    out = [
        {
            "name": a["metadata"]["name"],
            "state": ((a.get("status") or {}).get("applicationState") or {}).get("state", ""),
        }
        for a in apps
    ]
    return sorted(out, key=lambda item: item["name"])
