"""invoke infra.*: command sequences against a fake tofu and kubectl on PATH, and the refusals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.errors import ConfigError
from biogitops.infra import teardown, tofu
from biogitops.infra.teardown import TeardownError
from biogitops.paths import REPO_ROOT, tools_bin

FAKE = Path(__file__).parent / "fakes" / "fake_cli.py"


class Fakes:
    def __init__(self, root: Path) -> None:
        self.log = root / "calls.jsonl"
        self.state = root / "state.json"

    def set(self, **state: Any) -> None:
        self.state.write_text(json.dumps(state))

    def read(self) -> dict[str, Any]:
        return json.loads(self.state.read_text())

    def calls(self, tool: str | None = None) -> list[list[str]]:
        if not self.log.is_file():
            return []
        lines = [json.loads(line) for line in self.log.read_text().splitlines()]
        return [c for c in lines if tool is None or c[0] == tool]

    def verbs(self) -> list[str]:
        """tofu subcommands and kubectl verbs in call order, version probes left out."""
        out = []
        for call in self.calls():
            args = [a for a in call[1:] if not a.startswith("--context") and not a.startswith("--kubeconfig")]
            if call[0] == "kubectl":
                args = [a for a in args if a not in ("-n", "argocd")]
            if args and args[0] != "version":
                out.append(f"{call[0]} {args[0]}")
        return out


@pytest.fixture
def fakes(tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """A fake tofu and kubectl in the tool cache and on PATH; AWS credentials from a profile."""
    bindir = tools_bin()
    bindir.mkdir(parents=True)
    for name in ("tofu", "kubectl"):
        (bindir / name).symlink_to(FAKE)
    FAKE.chmod(0o755)
    fakes = Fakes(tmp_path)
    fakes.set()
    monkeypatch.setenv("FAKE_LOG", str(fakes.log))
    monkeypatch.setenv("FAKE_STATE", str(fakes.state))
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_WEB_IDENTITY_TOKEN_FILE", "KUBECONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_PROFILE", "bio-gitops-test")
    monkeypatch.setattr(teardown, "DRAIN_TIMEOUT", 2.0)  # a regression fails fast instead of waiting 15 minutes
    return fakes


# ------------------------------------------------------------------ refusals before any tofu


def test_unknown_env_names_the_known_ones(fakes: Fakes) -> None:
    with pytest.raises(ConfigError, match=r"unknown infrastructure environment 'qa'.*known: dev, prod, staging"):
        tofu.plan("qa")
    assert fakes.calls() == []


def test_no_credentials_runs_nothing(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE")
    with pytest.raises(tofu.InfraError, match="no AWS credentials.*nothing was run"):
        tofu.plan("dev")
    with pytest.raises(tofu.InfraError, match="no AWS credentials"):
        tofu.apply("dev", yes=True)
    with pytest.raises(tofu.InfraError, match="no AWS credentials"):
        tofu.destroy("dev", yes=True)
    assert fakes.calls() == []


def test_half_a_key_pair_is_named(fakes: Fakes, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_PROFILE")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    with pytest.raises(tofu.InfraError, match="AWS_SECRET_ACCESS_KEY is not"):
        tofu.plan("dev")
    assert fakes.calls() == []


def test_shared_credentials_file_counts(tmp_path: Path) -> None:
    creds = tmp_path / ".aws" / "credentials"
    creds.parent.mkdir()
    creds.write_text("[default]\n")
    tofu.check_credentials({"HOME": str(tmp_path)})
    with pytest.raises(tofu.InfraError):
        tofu.check_credentials({"HOME": str(tmp_path / "elsewhere")})


# ------------------------------------------------------------------ plan and apply


def test_plan_runs_init_then_plan_into_tfplan(fakes: Fakes) -> None:
    result = tofu.plan("dev")
    assert result.changes
    assert result.plan_file == REPO_ROOT / "infrastructure" / "envs" / "dev" / "tfplan"
    assert fakes.verbs() == ["tofu init", "tofu plan"]
    plan = fakes.calls("tofu")[-1]
    assert {"-out=tfplan", "-input=false", "-detailed-exitcode", "-no-color"} <= set(plan)


def test_plan_without_changes(fakes: Fakes) -> None:
    fakes.set(plan="none")
    assert not tofu.plan("dev").changes


def test_variable_failing_validation_is_named(fakes: Fakes) -> None:
    # tofu 1.11's -no-color output for a failed validation, as printed for infrastructure/modules
    fakes.set(
        plan="error",
        plan_output=(
            '\nError: Invalid value for variable\n\n  on main.tf line 23, in module "eks_cluster":\n'
            "  23:   endpoint_public_access = true\n    ├────────────────\n"
            "    │ var.endpoint_public_access is true\n\n"
            "endpoint_public_access must be false in prod: reach the API server through\nthe VPC (VPN, bastion).\n\n"
            "This was checked by the validation rule at\n../../modules/eks-cluster/variables.tf:58,3-13.\n"
        ),
    )
    with pytest.raises(tofu.InfraError) as err:
        tofu.plan("prod")
    assert str(err.value) == (
        "tofu plan failed in infrastructure/envs/prod: Invalid value for variable (main.tf line 23): "
        "endpoint_public_access must be false in prod: reach the API server through the VPC (VPN, bastion)."
    )
    assert fakes.verbs() == ["tofu init", "tofu plan"]


def test_missing_state_bucket_names_bucket_and_file(fakes: Fakes) -> None:
    fakes.set(init_error='Error: Failed to get existing workspaces: S3 bucket "bio-gitops-tfstate-dev" does not exist.')
    with pytest.raises(tofu.InfraError) as err:
        tofu.apply("dev", yes=True)
    message = str(err.value)
    assert "'bio-gitops-tfstate-dev'" in message and "infrastructure/envs/dev/backend.tf" in message
    assert fakes.verbs() == ["tofu init"]


def test_apply_applies_the_saved_plan(fakes: Fakes) -> None:
    assert tofu.apply("dev", yes=True)
    assert fakes.verbs() == ["tofu init", "tofu plan", "tofu apply"]
    assert fakes.calls("tofu")[-1][-1] == "tfplan"


def test_apply_without_yes_and_no_terminal_applies_nothing(fakes: Fakes) -> None:
    with pytest.raises(tofu.InfraError, match="rerun with --yes"):
        tofu.apply("dev")
    assert "tofu apply" not in fakes.verbs()


def test_apply_with_nothing_to_do_does_not_apply(fakes: Fakes) -> None:
    fakes.set(plan="none")
    assert not tofu.apply("dev", yes=True)
    assert fakes.verbs() == ["tofu init", "tofu plan"]


# ------------------------------------------------------------------ ordered destroy


def _obj(kind: str, ns: str, name: str, app: str | None, sync: str = "", **spec: Any) -> dict[str, Any]:
    annotations = {"argocd.argoproj.io/tracking-id": f"{app}:/{kind}:{ns}/{name}"} if app else {}
    if sync:
        annotations["argocd.argoproj.io/sync-options"] = sync
    return {"kind": kind, "metadata": {"namespace": ns, "name": name, "annotations": annotations}, "spec": spec}


def _app(name: str, appset: str | None = None, parent: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "argocd"}
    if appset:
        meta["ownerReferences"] = [{"kind": "ApplicationSet", "name": appset}]
    if parent:
        meta["annotations"] = {"argocd.argoproj.io/tracking-id": f"{parent}:argoproj.io/Application:argocd/{name}"}
    return {"kind": "Application", "metadata": meta}


def _cluster_with_cloud_resources(fakes: Fakes) -> None:
    appset = _app("addons", parent="bootstrap")
    appset["kind"] = "ApplicationSet"
    fakes.set(
        reachable=True,
        objects=[
            _obj("Service", "galaxy", "web", "addons-galaxy", type="LoadBalancer"),
            _obj("Service", "galaxy", "internal", "addons-galaxy", type="ClusterIP"),
            _obj("PersistentVolumeClaim", "lab-genomics", "work", "lab-genomics"),
        ],
        applications=[
            _app("addons-galaxy", appset="addons"),
            _app("lab-genomics", parent="root"),
            _app("bootstrap"),
            _app("root"),
        ],
        applicationsets=[appset],
    )


def test_destroy_removes_owning_applications_through_argocd_first(fakes: Fakes) -> None:
    _cluster_with_cloud_resources(fakes)
    removed = tofu.destroy("dev", yes=True)
    assert removed.applications == ["addons-galaxy", "lab-genomics"]
    assert removed.applicationsets == ["addons"] and removed.retained == []
    verbs = fakes.verbs()
    assert verbs[0] == "tofu init" and verbs[-1] == "tofu destroy"
    assert verbs.count("tofu destroy") == 1
    kubectl = [c for c in fakes.calls("kubectl") if "config" not in c and "version" not in c]
    mutations = [" ".join(a for a in c[1:] if not a.startswith("--context") and a != "bio-gitops-dev") for c in kubectl]
    mutations = [m for m in mutations if " get " not in f" {m} "]
    no_auto_sync = '--type=merge -p {"spec": {"syncPolicy": {"automated": null}}}'
    assert mutations == [
        f"-n argocd patch applications.argoproj.io bootstrap {no_auto_sync}",
        "-n argocd delete applicationsets.argoproj.io addons --cascade=orphan",
        f"-n argocd patch applications.argoproj.io root {no_auto_sync}",
        "-n argocd patch applications.argoproj.io addons-galaxy --type=json -p "
        '[{"op": "add", "path": "/metadata/finalizers", "value": ["resources-finalizer.argocd.argoproj.io"]}]',
        "-n argocd delete applications.argoproj.io addons-galaxy --wait=false",
        "-n argocd patch applications.argoproj.io lab-genomics --type=json -p "
        '[{"op": "add", "path": "/metadata/finalizers", "value": ["resources-finalizer.argocd.argoproj.io"]}]',
        "-n argocd delete applications.argoproj.io lab-genomics --wait=false",
    ]
    assert all("--context" in c for c in kubectl)  # the environment's context, never the current one
    destroy = fakes.calls("tofu")[-1]
    assert "-auto-approve" in destroy and "-input=false" in destroy
    assert fakes.read()["objects"] == []  # Argo CD deleted everything the two Applications owned


def _lab_with_work_dir(fakes: Fakes) -> None:
    """A lab whose nextflow work dir carries Delete=false (as applications/nextflow renders it),
    under the labs ApplicationSet, beside a load balancer Argo CD does delete."""
    appset = _app("labs", parent="root")
    appset["kind"] = "ApplicationSet"
    fakes.set(
        reachable=True,
        objects=[
            _obj("Service", "galaxy", "web", "addons-galaxy", type="LoadBalancer"),
            _obj(
                "PersistentVolumeClaim",
                "lab-genomics",
                "nextflow-work",
                "lab-genomics-nextflow",
                sync="Prune=false,Delete=false",
                volumeName="pvc-1234",
            ),
        ],
        volumes=[
            {
                "kind": "PersistentVolume",
                "metadata": {"name": "pvc-1234"},
                "spec": {"claimRef": {"namespace": "lab-genomics", "name": "nextflow-work"}},
            }
        ],
        applications=[_app("addons-galaxy", parent="root"), _app("lab-genomics-nextflow", appset="labs"), _app("root")],
        applicationsets=[appset],
    )


def test_destroy_refuses_before_deleting_anything_while_a_lab_keeps_its_work_dir(fakes: Fakes) -> None:
    _lab_with_work_dir(fakes)
    with pytest.raises(TeardownError) as err:
        tofu.destroy("dev", yes=True)
    message = err.value.line()
    assert "PersistentVolumeClaim lab-genomics/nextflow-work" in message
    assert "`invoke lab.offboard genomics --env dev`" in message and "--delete-retained" in message
    assert "nothing was deleted" in message
    assert not [c for c in fakes.calls("kubectl") if "delete" in c or "patch" in c]
    assert "tofu destroy" not in fakes.verbs()
    assert len(fakes.read()["applicationsets"]) == 1 and len(fakes.read()["objects"]) == 2


def test_destroy_delete_retained_exports_the_work_dir_then_deletes_it(fakes: Fakes, tmp_path: Path) -> None:
    _lab_with_work_dir(fakes)
    drained = tofu.destroy("dev", yes=True, delete_retained=True)
    assert fakes.read()["objects"] == []  # the load balancer through Argo CD, the claim by us
    assert drained.retained == ["PersistentVolumeClaim lab-genomics/nextflow-work"]
    assert drained.applications == ["addons-galaxy", "lab-genomics-nextflow"]
    assert drained.applicationsets == ["labs"]
    assert drained.export is not None
    exported = list(yaml.safe_load_all(drained.export.read_text()))
    assert [(o["kind"], o["metadata"]["name"]) for o in exported] == [
        ("PersistentVolumeClaim", "nextflow-work"),
        ("PersistentVolume", "pvc-1234"),
    ]
    said = "\n".join(drained.lines())
    assert "nextflow-work" in said and str(drained.export.name) in said and "lab-genomics-nextflow" in said
    deletes = [c for c in fakes.calls("kubectl") if "delete" in c]
    assert deletes[-1][-4:] == ["persistentvolumeclaims", "nextflow-work", "--ignore-not-found", "--wait=false"]
    assert fakes.verbs()[-1] == "tofu destroy"
    drained.export.unlink()


def test_destroy_names_volumes_that_outlive_it_in_aws(fakes: Fakes) -> None:
    _cluster_with_cloud_resources(fakes)
    retain = {"claimRef": {"namespace": "lab-genomics", "name": "work"}, "persistentVolumeReclaimPolicy": "Retain"}
    fakes.set(
        **{**fakes.read(), "volumes": [{"kind": "PersistentVolume", "metadata": {"name": "pv-9"}, "spec": retain}]}
    )
    drained = tofu.destroy("dev", yes=True)
    assert drained.left_in_aws == ["pv-9 (claim lab-genomics/work)"]
    assert any("left in AWS" in line and "pv-9" in line for line in drained.lines())


def test_destroy_that_times_out_after_deleting_says_what_it_deleted(fakes: Fakes) -> None:
    _cluster_with_cloud_resources(fakes)
    fakes.set(**{**fakes.read(), "stuck": ["Service galaxy/web"]})
    with pytest.raises(TeardownError) as err:
        tofu.destroy("dev", yes=True)
    message = err.value.line()
    assert "nothing was destroyed" not in message and "nothing was deleted" not in message
    assert "ApplicationSets deleted (their Applications kept): addons" in message
    assert "Applications deleted through Argo CD: addons-galaxy, lab-genomics" in message
    assert "tofu destroy was not run" in message
    assert "tofu destroy" not in fakes.verbs()


def test_destroy_refuses_when_the_cluster_is_unreachable(fakes: Fakes) -> None:
    _cluster_with_cloud_resources(fakes)
    state = fakes.read()
    fakes.set(**{**state, "reachable": False})
    with pytest.raises(tofu.InfraError, match="unreachable.*--skip-drain.*nothing was destroyed"):
        tofu.destroy("dev", yes=True)
    assert "tofu destroy" not in fakes.verbs()


def test_destroy_stops_on_a_load_balancer_argocd_does_not_own(fakes: Fakes) -> None:
    fakes.set(objects=[_obj("Service", "default", "hand-made", None, type="LoadBalancer")], applications=[])
    with pytest.raises(TeardownError, match="Service default/hand-made"):
        tofu.destroy("dev", yes=True)
    assert "tofu destroy" not in fakes.verbs()
    assert not [c for c in fakes.calls("kubectl") if "delete" in c]


def test_destroy_skip_drain_goes_straight_to_destroy(fakes: Fakes) -> None:
    assert not tofu.destroy("dev", yes=True, skip_drain=True).deleted_anything
    assert fakes.verbs() == ["tofu init", "tofu destroy"]


def test_destroy_needs_confirmation(fakes: Fakes) -> None:
    with pytest.raises(tofu.InfraError, match="rerun with --yes"):
        tofu.destroy("dev")
    assert fakes.verbs() == []


# ------------------------------------------------------------------ kubeconfig


OUTPUTS = {
    "region": "eu-west-1",
    "cluster_name": "bio-gitops-prod",
    "cluster_endpoint": "https://ABC.gr7.eu-west-1.eks.amazonaws.com",
    "cluster_certificate_authority_data": "Q0EK",
}


def test_kubeconfig_writes_the_settings_context(fakes: Fakes, tmp_path: Path) -> None:
    fakes.set(outputs=OUTPUTS)
    context, path = tofu.kubeconfig("prod", tmp_path / "kubeconfig")
    assert context == "bio-gitops-prod"  # existing.context in clusters/prod/settings.yaml
    config = [c[3:] for c in fakes.calls("kubectl") if c[1:3] == ["--kubeconfig", str(path)]]
    assert config[0] == ["config", "set-cluster", context, f"--server={OUTPUTS['cluster_endpoint']}"]
    assert config[1] == ["config", "set", f"clusters.{context}.certificate-authority-data", "Q0EK"]
    assert config[2][:3] == ["config", "set-credentials", context]
    assert "--exec-arg=bio-gitops-prod" in config[2] and "--exec-arg=eu-west-1" in config[2]
    assert config[-1] == ["config", "use-context", context]


def test_kubeconfig_before_apply_says_so(fakes: Fakes, tmp_path: Path) -> None:
    fakes.set(outputs={})
    with pytest.raises(tofu.InfraError, match="run `invoke infra.apply --env dev` first"):
        tofu.kubeconfig("dev", tmp_path / "kubeconfig")


def test_invoke_task_fails_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "invoke", "infra.plan", "--env", "qa"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        "error: unknown infrastructure environment 'qa': no infrastructure/envs/qa (known: dev, prod, staging)"
    ]


def test_validate_inits_without_backend_validates_and_tests_every_directory(fakes: Fakes) -> None:
    done = tofu.validate_all()
    assert done[0] == "infrastructure/modules/eks-cluster: init, validate, test"
    assert done[-1] == "infrastructure/envs/staging: init, validate"  # envs have no tofu test files
    assert len(done) == 7
    inits = [c for c in fakes.calls("tofu") if c[1] == "init"]
    assert len(inits) == 7 and all("-backend=false" in c for c in inits)
    assert [c[1] for c in fakes.calls("tofu") if c[1] != "version"][:3] == ["init", "validate", "test"]


def test_validate_offline_says_ci_runs_it(fakes: Fakes) -> None:
    fakes.set(init_error="Error: Failed to query available provider packages\n\nCould not retrieve the list.")
    with pytest.raises(tofu.InfraError, match=r"tofu init failed in infrastructure/modules/eks-cluster.*CI runs this"):
        tofu.validate_all()
