"""`invoke pipeline.run`: the first-party pipeline's launcher, bad input, quota verdicts (no cluster)."""

from __future__ import annotations

import pytest

from biogitops.config.pins import load_pins
from biogitops.errors import ConfigError
from biogitops.platform import pipeline

IMAGES = {"nextflow": "bio-gitops/nextflow:24.10.0-abc", "nf-tasks": "bio-gitops/nf-tasks:def"}


def test_first_party_pipeline_runs_from_its_configmap_in_the_images_built_here() -> None:
    job = pipeline.launcher_job("dev", "genomics", "fastq-qc", "", "test", "nf-fastq-qc-1", IMAGES)
    pod = job["spec"]["template"]["spec"]
    [container] = pod["containers"]
    assert container["image"] == IMAGES["nextflow"]
    assert pod["serviceAccountName"] == "nextflow"
    assert container["args"][0] == "/pipeline/main.nf"
    assert container["args"][container["args"].index("--task_image") + 1] == IMAGES["nf-tasks"]
    assert container["args"][container["args"].index("-work-dir") + 1] == "/workspace/runs/nf-fastq-qc-1/work"
    assert {"name": "NXF_OFFLINE", "value": "true"} in container["env"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["pipeline"]["configMap"]["name"] == "nf-fastq-qc-1-pipeline"
    assert volumes["work"]["persistentVolumeClaim"]["claimName"] == "nextflow-work"


def test_github_pipeline_keeps_its_revision_and_profile() -> None:
    job = pipeline.launcher_job("dev", "genomics", "nf-core/demo", "1.0.1", "test", "nf-demo-1")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["args"][:7] == ["nf-core/demo", "-r", "1.0.1", "-name", "nf-demo-1", "-profile", "test,k8s"]
    assert container["image"] == "docker.io/nextflow/nextflow:24.10.0"


def test_pipeline_configmap_carries_the_pipeline_files() -> None:
    configmap = pipeline.pipeline_configmap("fastq-qc", "nf-x", "genomics")
    assert {"main.nf", "nextflow.config"} <= set(configmap["data"])


@pytest.mark.parametrize(
    ("lab", "name", "revision", "expected"),
    [
        ("genomics", "no-such-pipeline", "", "unknown pipeline 'no-such-pipeline'"),
        ("genomics", "nf-core/demo", "main", "looks like a branch"),
        ("genomics", "nf-core/demo", "", "needs --revision"),
        ("proteomics", "fastq-qc", "", "lab proteomics has no nextflow app"),
        ("nolab", "fastq-qc", "", "unknown lab 'nolab'"),
    ],
    ids=["unknown-pipeline", "branch-revision", "github-without-revision", "lab-without-app", "unknown-lab"],
)
def test_bad_input_is_one_line_naming_it(lab: str, name: str, revision: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        pipeline.launcher_job("dev", lab, name, revision, "test", "nf-x", IMAGES)
    assert expected in err.value.line()
    assert "\n" not in err.value.line()


@pytest.mark.parametrize(
    ("message", "verdict"),
    [
        (
            'pods "nf-1" is forbidden: exceeded quota: lab-quota, requested: requests.cpu=17, '
            "used: requests.cpu=600m,requests.memory=1Gi, limited: requests.cpu=16",
            "too-small",
        ),
        (
            'pods "nf-1" is forbidden: exceeded quota: lab-quota, requested: requests.cpu=8, '
            "used: requests.cpu=16500m, limited: requests.cpu=16",
            "queued",
        ),
        (
            'Error creating: pods "nf-1" is forbidden: maximum cpu usage per Container is 8, but limit is 12',
            "too-small",
        ),
        (
            'Error creating: pods "nf-1" is forbidden: violates PodSecurity "restricted:v1.36": '
            "allowPrivilegeEscalation != false",
            "too-small",
        ),
        (
            'Error creating: Pod "nf-1" is invalid: spec.containers[0].resources.requests: Invalid value: "12": '
            "must be less than or equal to cpu limit of 1",
            "too-small",
        ),
        ("Error creating: pods exceed a deadline", None),
    ],
    ids=[
        "task-above-whole-quota",
        "quota-in-use",
        "above-limitrange-max",
        "pod-security-refusal",
        "request-above-default-limit",
        "not-a-refusal",
    ],
)
def test_quota_refusals_say_whether_the_task_waits_or_can_never_run(message: str, verdict: str | None) -> None:
    found = pipeline.quota_verdict(message)
    assert (found[0] if found else None) == verdict


def test_launcher_log_gives_status_report_and_samples() -> None:
    log = (
        "N E X T F L O W\nrun-status: 0\nreport: /workspace/runs/r/results/multiqc_report.html\ngeneral-stats:\n"
        "Sample\tFastQC_mqc-generalstats-fastqc-total_sequences\nsample1_R1\t500.0\nsample2_R1\t500.0\n"
    )
    result = pipeline.parse_launcher_log("r", log)
    assert result.state == "succeeded"
    assert result.report.endswith("results/multiqc_report.html")
    assert [row["Sample"] for row in result.general_stats] == ["sample1_R1", "sample2_R1"]
    failed = pipeline.parse_launcher_log("r", "ERROR ~ Error executing process > 'TRIM (sample2)'\nrun-status: 1\n")
    assert failed.state == "failed" and "TRIM" in failed.reason


def test_the_nextflow_chart_runs_the_release_we_build() -> None:
    """applications/nextflow pins the Nextflow release pins.yaml builds (images.nextflow)."""
    import yaml

    from biogitops.paths import REPO_ROOT

    values = yaml.safe_load((REPO_ROOT / "applications/nextflow/values.yaml").read_text())
    assert load_pins().images["nextflow"].ref.tag == values["image"]["tag"]
