"""The tools of `nox -s terraform` fire on bad input, and what only OpenTofu can check without a provider.

Each tool runs with the same command the session runs on infrastructure/ (biogitops.checks.terraform),
pointed at a fixture under fixtures/tools/ that it must reject.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from biogitops.checks import terraform
from biogitops.errors import ToolError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

FIXTURES = Path(__file__).parent / "fixtures" / "tools"
SCRIPTS = REPO_ROOT / "infrastructure" / "scripts"
RHEL = REPO_ROOT / "infrastructure" / "modules" / "rhel-bootstrap"


def need(name: str) -> str:
    try:
        return str(tools.which(name))
    except ToolError as err:
        pytest.skip(f"{name} is not installed ({err.line()})")


def run(cmd: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**tools.env_with_tools(), "TF_IN_AUTOMATION": "1", **env}
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=full_env, timeout=600, check=False)


def test_tofu_fmt_rejects_unformatted_hcl() -> None:
    need("tofu")
    proc = run(terraform.fmt_command(FIXTURES / "fmt"))
    assert proc.returncode != 0
    assert "main.tf" in proc.stdout + proc.stderr


def test_tflint_reports_an_unused_variable() -> None:
    need("tflint")
    [command] = terraform.tflint_commands(FIXTURES / "tflint")
    proc = run(command)
    assert proc.returncode != 0, proc.stdout
    assert "terraform_unused_declarations" in proc.stdout


def test_checkov_reports_unencrypted_efs() -> None:
    need("checkov")
    proc = run(terraform.checkov_command(FIXTURES / "checkov"))
    assert proc.returncode != 0, proc.stdout
    assert "CKV_AWS_42" in proc.stdout  # EFS encrypted at rest


def test_shellcheck_rejects_an_unquoted_expansion() -> None:
    proc = run([terraform.shellcheck(), str(FIXTURES / "shellcheck" / "unquoted.bash")])
    assert proc.returncode != 0
    assert "SC2086" in proc.stdout


def test_state_scripts_are_shellcheck_clean() -> None:
    scripts = sorted(SCRIPTS.glob("*.sh"))
    assert len(scripts) >= 3
    proc = run([terraform.shellcheck(), "-x", *map(str, scripts)], cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize("script", ["state-import.sh", "state-move.sh"])
def test_state_scripts_explain_themselves(script: str) -> None:
    proc = run(["bash", str(SCRIPTS / script), "--help"])
    assert proc.returncode == 0
    assert proc.stdout.startswith(f"usage: infrastructure/scripts/{script} ENV ")
    bad = run(["bash", str(SCRIPTS / script), "qa", "a", "b"])
    assert bad.returncode == 1
    assert "unknown environment 'qa'" in bad.stderr and "known: dev prod staging" in bad.stderr


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The rhel-bootstrap script as tofu renders it (no provider needed: outputs only)."""
    tofu = need("tofu")
    root = tmp_path_factory.mktemp("rhel-render")
    (root / "main.tf").write_text(
        f"""module "rhel" {{
  source                 = "{RHEL}"
  kubernetes_version     = "1.36.3"
  containerd_version     = "2.1.5"
  control_plane_endpoint = "k8s.lab.example.org:6443"
  join_token             = "abcdef.0123456789abcdef"
  ca_cert_hash           = "sha256:{"0" * 64}"
  node_labels            = {{ "bio-gitops.io/node-group" = "gpu" }}
  node_taints            = [{{ key = "nvidia.com/gpu", value = "present", effect = "NoSchedule" }}]
}}

output "script" {{
  value     = module.rhel.script
  sensitive = true
}}
"""
    )
    for args in (["init", "-input=false", "-no-color"], ["apply", "-auto-approve", "-input=false", "-no-color"]):
        proc = run([tofu, *args], cwd=root)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = run([tofu, "output", "-raw", "script"], cwd=root)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_rendered_rhel_script_is_shellcheck_clean(rendered: str, tmp_path: Path) -> None:
    script = tmp_path / "bio-gitops-join"
    script.write_text(rendered)
    proc = run([terraform.shellcheck(), str(script)])
    assert proc.returncode == 0, proc.stdout
    assert "kubeadm join --config" in rendered


def test_rhel_bootstrap_tofu_test_passes(tmp_path: Path) -> None:
    """`tofu test` of the one module without providers runs here; the others only in CI."""
    tofu = need("tofu")
    module = tmp_path / "rhel-bootstrap"
    shutil.copytree(RHEL, module, ignore=shutil.ignore_patterns(".terraform*"))
    init = run([tofu, "init", "-input=false", "-no-color"], cwd=module)
    assert init.returncode == 0, init.stdout + init.stderr
    proc = run([tofu, "test", "-no-color"], cwd=module)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "5 passed, 0 failed" in proc.stdout


def test_rhel_bootstrap_refuses_a_bad_variable_naming_it(tmp_path: Path) -> None:
    tofu = need("tofu")
    (tmp_path / "main.tf").write_text(
        f'module "rhel" {{\n  source = "{RHEL}"\n  kubernetes_version = "1.36.3"\n'
        '  containerd_version = "1.7.0"\n  control_plane_endpoint = "k8s:6443"\n'
        f'  join_token = "abcdef.0123456789abcdef"\n  ca_cert_hash = "sha256:{"0" * 64}"\n}}\n'
    )
    assert run([tofu, "init", "-input=false", "-no-color"], cwd=tmp_path).returncode == 0
    proc = run([tofu, "plan", "-input=false", "-no-color"], cwd=tmp_path)
    assert proc.returncode != 0
    assert "containerd_version must be an exact 2.x version" in proc.stderr
    assert os.path.basename(str(RHEL / "variables.tf")) in proc.stderr
