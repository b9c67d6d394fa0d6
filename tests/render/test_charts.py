"""The lab application charts, rendered: least-privilege RBAC, storage per environment,
resources and non-root on every container, pinned images."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.platform import pipeline
from biogitops.render import targets
from biogitops.render.manifests import helm_template

NEXTFLOW = REPO_ROOT / "applications" / "nextflow"
SPARK_LAB = REPO_ROOT / "applications" / "spark-operator" / "lab"
ENVS = ["dev", "staging", "prod"]


def _nextflow(env: str, launcher: bool = False) -> list[dict]:
    values = {"lab": "genomics"}
    if launcher:
        values["launcher"] = {"enabled": True, "revision": "1.0.1"}
    return helm_template(NEXTFLOW, [values], value_files=[NEXTFLOW / "values.yaml", NEXTFLOW / f"values.{env}.yaml"])


def _kind(objs: list[dict], kind: str) -> list[dict]:
    return [o for o in objs if o["kind"] == kind]


def test_nextflow_role_has_exactly_the_executor_verbs() -> None:
    [role] = _kind(_nextflow("dev"), "Role")
    rules = {
        (g, r): sorted(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
    }
    assert rules == {
        ("", "pods"): ["create", "delete", "get", "list", "watch"],
        ("", "pods/log"): ["get"],
        ("", "pods/status"): ["get"],
        ("batch", "jobs"): ["create", "delete", "get", "list", "watch"],
        ("batch", "jobs/status"): ["get"],
        ("", "persistentvolumeclaims"): ["get"],
    }
    flat = str(role["rules"])
    assert "*" not in flat


@pytest.mark.parametrize(
    ("env", "mode"), [("dev", "ReadWriteOnce"), ("staging", "ReadWriteMany"), ("prod", "ReadWriteMany")]
)
def test_workdir_access_mode_follows_the_environment(env: str, mode: str) -> None:
    [pvc] = _kind(_nextflow(env), "PersistentVolumeClaim")
    assert pvc["spec"]["accessModes"] == [mode]


def test_nextflow_profile_is_explicit() -> None:
    [cm] = _kind(_nextflow("dev"), "ConfigMap")
    config = cm["data"]["nextflow.config"]
    for setting in (
        "namespace = 'lab-genomics'",
        "serviceAccount = 'nextflow'",
        "storageClaimName = 'nextflow-work'",
        "storageMountPath = '/workspace'",
        "computeResourceType = 'Job'",
        "bio-gitops.io/lab",
    ):
        assert setting in config


def _pod_specs(objs: list[dict]) -> list[tuple[str, dict, dict]]:
    """(name, pod securityContext, container) for every container in the objects."""
    out = []
    for obj in objs:
        spec = obj.get("spec", {})
        if obj["kind"] == "Job":
            pod = spec["template"]["spec"]
            out += [(obj["metadata"]["name"], pod.get("securityContext", {}), c) for c in pod["containers"]]
        if obj["kind"] == "SparkApplication":
            for role in ("driver", "executor"):
                ctx = spec[role]["securityContext"]
                out.append(
                    (
                        f"{obj['metadata']['name']}-{role}",
                        ctx,
                        {
                            "image": spec["image"],
                            "securityContext": ctx,
                            "resources": {"cores": spec[role]["cores"], "memory": spec[role]["memory"]},
                        },
                    )
                )
    return out


def _all_workloads() -> list[tuple[str, dict, dict]]:
    objs = []
    for env in ENVS:
        objs += _nextflow(env, launcher=True)
    objs += helm_template(SPARK_LAB, [{"lab": "genomics", "sparkPi": {"enabled": True}}])
    return _pod_specs(objs)


def test_every_container_has_resources_and_runs_as_non_root() -> None:
    workloads = _all_workloads()
    assert len(workloads) >= 5
    for name, pod_ctx, container in workloads:
        assert container.get("resources"), name
        ctx = {**pod_ctx, **container.get("securityContext", {})}
        assert ctx.get("runAsNonRoot") is True, name
        assert ctx.get("allowPrivilegeEscalation") is False, name
        assert ctx.get("capabilities", {}).get("drop") == ["ALL"], name


def test_every_image_is_pinned() -> None:
    for name, _, container in _all_workloads():
        image = container["image"]
        assert re.search(r":(\d[\w.-]*)$|@sha256:[0-9a-f]{64}$", image), f"{name}: {image} is not pinned"
        assert not image.endswith(":latest")


@pytest.mark.parametrize("revision", ["main", "master", "dev", "feature/x"])
def test_pipeline_revision_that_is_a_branch_is_refused(revision: str) -> None:
    with pytest.raises(ConfigError, match="looks like a branch"):
        pipeline.check_revision(revision)


@pytest.mark.parametrize("revision", ["1.0.1", "v3.14.0", "3.0", "a1b2c3d", "0123456789abcdef0123456789abcdef01234567"])
def test_pipeline_revision_tag_or_commit_is_accepted(revision: str) -> None:
    assert pipeline.check_revision(revision) == revision


def test_launcher_runs_nextflow_run_with_the_pinned_revision() -> None:
    job = pipeline.launcher_job("dev", "genomics", "nf-core/demo", "1.0.1", "test", "nf-demo-1")
    container = job["spec"]["template"]["spec"]["containers"][0]
    # `sh -c 'mkdir -p $RUN_DIR && cd $RUN_DIR && nextflow run "$@" …' nextflow ARGS`: the run's own directory
    assert 'nextflow run "$@"' in container["command"][2]
    args = container["args"]
    assert args[0] == "nf-core/demo"
    assert "kuberun" not in container["command"][2] + " ".join(args)
    assert args[args.index("-r") + 1] == "1.0.1"
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "nextflow"


def test_environment_without_a_values_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    chart = tmp_path / "nextflow"
    chart.mkdir()
    (chart / "values.yaml").write_text("lab: x\n")
    monkeypatch.setitem(targets.APP_CHARTS, "nextflow", (chart, [str(chart / "values.{env}.yaml")], {}))
    with pytest.raises(BioGitopsError, match=r"nextflow/values.dev.yaml: missing"):
        targets.targets("dev")
