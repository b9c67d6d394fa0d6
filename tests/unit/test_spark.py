"""`invoke spark.run`: the SparkApplication of a run, bad input, what the driver printed (no cluster)."""

from __future__ import annotations

import pytest

from biogitops.errors import ConfigError
from biogitops.platform import spark

IMAGE = "bio-gitops/spark:abc123"


def test_wordcount_runs_our_job_from_the_image_as_the_labs_spark_account() -> None:
    obj = spark.application("dev", "genomics", "wordcount", "wordcount-1", {"image": IMAGE, "input": "/data/in.txt"})
    spec = obj["spec"]
    assert obj["metadata"]["name"] == "wordcount-1"
    assert spec["image"] == IMAGE and spec["type"] == "Python"
    # lab-spark-submit: the main file inside the image, no sparkConf, no deps from outside
    assert spec["mainApplicationFile"] == "local:///opt/spark/jobs/wordcount.py"
    assert "sparkConf" not in spec and "deps" not in spec
    assert spec["arguments"] == ["/data/in.txt", "/data/results/wordcount"]
    assert spec["driver"]["serviceAccount"] == "spark"
    assert spec["driver"]["labels"]["bio-gitops.io/needs-apiserver"] == "true"
    assert spec["volumes"] == [{"name": "data", "persistentVolumeClaim": {"claimName": "spark-data"}}]
    for role in ("driver", "executor"):
        assert spec[role]["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
        assert spec[role]["securityContext"]["runAsNonRoot"] is True
    assert spec["executor"]["instances"] >= 2
    # dev runs on a laptop's kind: a quarter CPU asked per pod, Spark's cores unchanged
    assert (spec["driver"]["coreRequest"], spec["driver"]["cores"]) == ("250m", 1)
    assert spec["timeToLiveSeconds"] > 0


@pytest.mark.parametrize(
    ("lab", "app", "expected"),
    [
        ("genomics", "pagerank", "unknown Spark app 'pagerank'"),
        ("proteomics", "wordcount", "lab proteomics has no spark app"),
        ("nolab", "wordcount", "unknown lab 'nolab'"),
    ],
    ids=["unknown-app", "lab-without-spark", "unknown-lab"],
)
def test_bad_input_is_one_line_naming_it(lab: str, app: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        spark.application("dev", lab, app, "x-1", {})
    assert expected in err.value.line()
    assert "\n" not in err.value.line()


def test_counts_are_read_from_the_driver_log_and_the_claims_file() -> None:
    log = "INFO starting\nwordcount: 5 words\nwordcount-begin\nthe\t3\nlab's\t2\nwordcount-end\nINFO stopped\n"
    assert spark.parse_driver_log(log) == {"the": 3, "lab's": 2}
    assert spark.parse_driver_log("INFO no table\n") == {}
    assert spark.parse_counts("the\t3\nlab's\t2\n") == {"the": 3, "lab's": 2}


def test_the_oracle_counts_words_as_the_job_does() -> None:
    assert spark.count_words("The lab's gene, the GENE; a ' b") == {"the": 2, "lab's": 1, "gene": 2, "a": 1, "b": 1}
    sample = spark.count_words(spark.APPS["wordcount"]["sample"].read_text())
    assert sum(sample.values()) == 100 and sample["the"] == 13


def test_claim_pod_is_restricted_and_mounts_the_labs_claim() -> None:
    pod = spark.claim_pod("genomics", "x-stage", IMAGE, "true", configmap="x-input")
    spec = pod["spec"]
    [container] = spec["containers"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {v["name"]: v for v in spec["volumes"]}["data"]["persistentVolumeClaim"]["claimName"] == "spark-data"
    assert "memory" in container["resources"]["limits"]


def test_report_names_the_result_and_where_it_is() -> None:
    result = spark.SparkResult(
        "wordcount-1", "COMPLETED", driver="d", counts={"the": 3}, input="/data/in.txt", output="/data/o.tsv"
    )
    lines = spark.report_lines(result, "genomics")
    assert lines[0].startswith("run wordcount-1 in lab-genomics: COMPLETED")
    assert "most frequent: the 3" in lines
    failed = spark.report_lines(spark.SparkResult("wordcount-2", "FAILED", reason="boom"), "genomics")
    assert "why: boom" in failed and any("spark.logs" in line for line in failed)


def _addon(sync: str, health: str, name: str = "spark-operator") -> dict:
    return {"metadata": {"name": name}, "status": {"sync": {"status": sync}, "health": {"status": health}}}


@pytest.mark.parametrize(
    ("addons", "installed"),
    [
        # what kind showed: the chart repository unreachable, no resources, "Healthy" beside "Unknown"
        ([_addon("Unknown", "Healthy")], False),
        ([_addon("OutOfSync", "Healthy")], False),
        ([_addon("Synced", "Progressing")], False),
        ([_addon("Synced", "Healthy", name="gatekeeper")], False),
        ([], False),
        ([_addon("Synced", "Healthy")], True),
    ],
    ids=[
        "chart-unreachable-is-not-installed",
        "out-of-sync",
        "not-healthy-yet",
        "another-addon",
        "no-addons",
        "synced-and-healthy",
    ],
)
def test_argo_cd_installed_the_operator_only_when_its_addon_is_synced_and_healthy(
    addons: list, installed: bool
) -> None:
    assert spark.argocd_installed(addons) is installed
