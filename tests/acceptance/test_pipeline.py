"""A lab runs the first-party Nextflow pipeline (pipelines/fastq-qc) on kind, end to end.

    nox -s acceptance -- --provider kind -k pipeline

The launcher is the lab's Job, every task a pod in lab-genomics under the lab's service
account, the work dir on the lab's claim; the tests read what the analysis produced.
"""

from __future__ import annotations

import re
import time

from biogitops.cluster.target import Target
from biogitops.platform import pipeline

LAB = "genomics"


def test_fastq_qc_report_counts_every_sample(target: Target) -> None:
    """The MultiQC report of a 3-sample run lists FastQC results for exactly those 3 samples."""
    started = time.monotonic()
    task_pods: dict[str, str] = {}  # seen while the run goes (Nextflow deletes finished tasks)

    def watch(line: str) -> None:
        print(line)
        pods = target.kubectl.json("-n", f"lab-{LAB}", "get", "pods", "-l", "nextflow.io/app=nextflow")["items"]
        task_pods.update({p["metadata"]["name"]: p["spec"]["serviceAccountName"] for p in pods})

    result = pipeline.run(target, LAB, "fastq-qc", params={"samples": "3"}, timeout=1800, progress=watch)
    print(f"pipeline.run to report: {time.monotonic() - started:.0f}s")
    assert result.state == "succeeded", f"{result.reason}\n{result.log[-3000:]}"
    assert result.report == f"/workspace/runs/{result.name}/results/multiqc_report.html"
    samples = {re.match(r"sample\d+", row["Sample"]).group() for row in result.general_stats}
    assert samples == {"sample1", "sample2", "sample3"}, result.general_stats
    # both mates of each sample, each with the 500 reads the pipeline generated (in millions)
    assert len(result.general_stats) == 6
    assert {float(row["fastqc-total_sequences"]) for row in result.general_stats} == {0.0005}
    # the tasks ran as pods of the lab, under the lab's service account
    assert task_pods, "no task pod of the run seen in the lab's namespace"
    assert set(task_pods.values()) == {"nextflow"}


def test_failing_task_fails_the_run_and_keeps_its_log(target: Target) -> None:
    """A task that exits non-zero fails the run; its error stays readable through pipeline.logs."""
    result = pipeline.run(target, LAB, "fastq-qc", params={"samples": "2", "fail_sample": "sample2"}, timeout=1800)
    assert result.state == "failed"
    assert "TRIM" in result.reason, result.reason
    kept = pipeline.logs(target, LAB, result.name)
    assert "trimming of sample2 fails on purpose" in kept


def test_task_above_the_labs_limit_stops_the_run_naming_it(target: Target) -> None:
    """A task asking 12 CPUs, above what a lab container may have (LimitRange max 8), ends the
    run with that limit's message instead of waiting for ever."""
    result = pipeline.run(target, LAB, "fastq-qc", params={"samples": "1", "fastqc_cpus": "12"}, timeout=900)
    assert result.state == "failed"
    assert "maximum cpu usage per Container is 8, but limit is 12" in result.reason


def test_tasks_beyond_the_quota_queue_and_the_status_says_so(target: Target) -> None:
    """Three FastQC tasks of 8 CPUs each ask 24 of the lab's 16: the third waits, and the run's
    status names the quota."""
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result = pipeline.run(
        target, LAB, "fastq-qc", params={"samples": "3", "fastqc_cpus": "8"}, follow=False, progress=print
    )
    verdicts = []
    deadline = time.monotonic() + 900
    try:
        while time.monotonic() < deadline and not verdicts:
            verdicts = [v for m in pipeline.task_refusals(target, LAB, since) if (v := pipeline.quota_verdict(m))]
            time.sleep(10)
        assert verdicts and verdicts[0][0] == "queued", verdicts
        assert "quota lab-quota is in use" in verdicts[0][1]
    finally:
        pipeline.stop_tasks(target, LAB, result.name)
        target.kubectl.run("-n", f"lab-{LAB}", "delete", "job", result.name, "--wait=false", check=False)
