"""A lab runs a Spark job through the Spark operator on kind, end to end.

    nox -s acceptance -- --provider kind -k spark

The word count of applications/spark-operator/jobs/wordcount.py runs over a file staged on
lab-genomics' claim: the operator (installed from its Go module's chart on kind, its image built
here) runs spark-submit, the driver runs as the lab's `spark` ServiceAccount and starts its
executors in the lab's namespace. The tests read what the job counted, on the claim and in the
driver's log, against counts made here from the same file.
"""

from __future__ import annotations

import time

import pytest
import yaml
from kubernetes.utils.quantity import parse_quantity as quantity

from biogitops.cluster.target import Target
from biogitops.errors import BioGitopsError
from biogitops.platform import spark

LAB = "genomics"
NS = f"lab-{LAB}"


@pytest.fixture(scope="module")
def wordcount(target: Target) -> spark.SparkResult:
    """One word count run over the bundled sample, followed to its end."""
    started = time.monotonic()
    result = spark.run(target, LAB, "wordcount", timeout=1200)
    print(f"spark.run to COMPLETED: {time.monotonic() - started:.0f}s (job {result.seconds:.0f}s)")
    return result


def test_wordcount_completes_with_the_right_counts(target: Target, wordcount: spark.SparkResult) -> None:
    """The operator says COMPLETED, and the counts the driver printed and wrote to the lab's claim
    are those of the staged file, word for word."""
    assert wordcount.state == "COMPLETED", f"{wordcount.reason}\n{wordcount.log[-3000:]}"
    expected = spark.count_words(spark.APPS["wordcount"]["sample"].read_text())
    assert wordcount.counts == expected
    assert sum(wordcount.counts.values()) == 100 and wordcount.counts["the"] == 13
    on_claim = spark.read_output(target, LAB, wordcount)
    assert on_claim == expected, f"{wordcount.output} on claim spark-data"


def test_driver_and_executors_ran_in_the_lab_as_its_spark_account(target: Target, wordcount: spark.SparkResult) -> None:
    """The driver ran in lab-genomics as `spark`; its executors too, and the driver's log names
    the executor pods that did the work."""
    assert wordcount.driver, "no driver pod seen"
    assert len(wordcount.executors) >= 2, wordcount.executors
    pods = {wordcount.driver, *wordcount.executors}
    assert {wordcount.service_accounts.get(p) for p in pods} == {"spark"}, wordcount.service_accounts
    driver = target.kubectl.json("-n", NS, "get", "pod", wordcount.driver)
    assert driver["metadata"]["namespace"] == NS
    assert driver["status"]["phase"] == "Succeeded"
    worked = next(line for line in wordcount.log.splitlines() if line.startswith("wordcount: executors "))
    assert set(worked.split()[2:]) <= set(wordcount.executors), worked


def test_spark_pods_stay_inside_the_labs_quota(target: Target, wordcount: spark.SparkResult) -> None:
    """Every pod of the run declared its CPU and memory (so lab-quota counted it), and together
    they asked no more than the lab has."""
    hard = target.kubectl.json("-n", NS, "get", "resourcequota", "lab-quota")["spec"]["hard"]
    total = {"cpu": 0.0, "memory": 0.0}
    for pod, resources in wordcount.resources.items():
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        assert {"cpu", "memory"} <= set(requests) and "memory" in limits, f"{pod}: {resources}"
        total["cpu"] += float(quantity(requests["cpu"]))
        total["memory"] += float(quantity(requests["memory"]))
    assert len(wordcount.resources) >= 3, wordcount.resources
    assert total["cpu"] <= float(quantity(hard["requests.cpu"]))
    assert total["memory"] <= float(quantity(hard["requests.memory"]))


def test_sparkapplication_with_remote_deps_is_refused_naming_the_rule(target: Target) -> None:
    """A SparkApplication whose dependencies are not inside the image (a URL) never reaches the
    operator: admission refuses it, naming lab-spark-submit and the field."""
    obj = spark.application(target.env, LAB, "wordcount", "wordcount-remote-deps", {})
    obj["spec"]["deps"] = {"pyFiles": ["https://example.org/helpers.py"]}
    with pytest.raises(BioGitopsError) as refused:
        target.kubectl.run("-n", NS, "create", "--dry-run=server", "-f", "-", stdin=yaml.safe_dump(obj))
    message = str(refused.value)
    assert "lab-spark-submit" in message, message
    assert "spec.deps.pyFiles" in message and "local://" in message, message
