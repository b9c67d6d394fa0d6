"""Argo CD's health checks for Gatekeeper (argocd-cm `resource.customizations`): a constraint is
Healthy only when every Gatekeeper process enforces its current generation, a template only once
compiled; errors are Degraded. Run by Argo CD's own Lua engine, offline, through the pinned
binary (the checks are skipped only when it is not in the tool cache):

    invoke tools.install --only argocd
    argocd admin settings resource-overrides health RESOURCE.yaml --argocd-cm-path ARGOCD_CM.yaml
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from biogitops.config.settings import load_settings
from biogitops.errors import ToolError
from biogitops.render.manifests import argocd_config
from biogitops.toolchain import tools

ARGOCD_CM = next(o for o in argocd_config(load_settings("dev")) if o["metadata"]["name"] == "argocd-cm")
CM = ARGOCD_CM["data"]
OVERRIDES = yaml.safe_load(CM["resource.customizations"])
CONSTRAINT = "constraints.gatekeeper.sh/*"
TEMPLATE = "templates.gatekeeper.sh/ConstraintTemplate"


@pytest.fixture(scope="module")
def argocd() -> Path:
    try:
        return tools.which("argocd")
    except ToolError:
        pytest.skip("the pinned argocd is not in the tool cache: run `invoke tools.install --only argocd`")


def _health(argocd: Path, tmp_path: Path, obj: dict) -> tuple[str, str]:
    """(status, message) of `obj` as Argo CD assesses it with the argocd-cm we render."""
    cm, resource = tmp_path / "argocd-cm.yaml", tmp_path / "resource.yaml"
    cm.write_text(yaml.safe_dump(ARGOCD_CM))
    resource.write_text(yaml.safe_dump(obj))
    cmd = [str(argocd), "admin", "settings", "resource-overrides", "health", str(resource), "--argocd-cm-path", str(cm)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env={"HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    fields = dict(line.split(": ", 1) for line in proc.stdout.splitlines() if ": " in line)
    assert "STATUS" in fields, f"no health script matched {obj['apiVersion']} {obj['kind']}: {proc.stdout}"
    return fields["STATUS"], fields.get("MESSAGE", "")


def _pod(generation: int, enforced: bool = True, errors: list | None = None) -> dict:
    pod: dict = {"id": "gatekeeper-local", "enforced": enforced, "observedGeneration": generation}
    if errors:
        pod["errors"] = errors
    return pod


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(None, "Progressing", id="no-status-yet"),
        pytest.param({"byPod": []}, "Progressing", id="no-gatekeeper-process-reports"),
        pytest.param({"byPod": [_pod(1)]}, "Progressing", id="older-generation-enforced"),
        pytest.param({"byPod": [_pod(2), _pod(2, enforced=False)]}, "Progressing", id="one-process-not-enforcing"),
        pytest.param({"byPod": [_pod(2, errors=[{"message": "bad"}])]}, "Degraded", id="error"),
        pytest.param({"totalViolations": 4, "byPod": [_pod(2), _pod(2)]}, "Healthy", id="enforced-with-violations"),
    ],
)
def test_constraint_is_healthy_only_when_enforced(
    argocd: Path, tmp_path: Path, status: dict | None, expected: str
) -> None:
    obj: dict = {
        "apiVersion": "constraints.gatekeeper.sh/v1beta1",
        "kind": "K8sRequiredLabels",  # any kind: the check is keyed constraints.gatekeeper.sh/*
        "metadata": {"name": "demo", "generation": 2},
        "spec": {"enforcementAction": "deny"},
    }
    if status is not None:
        obj["status"] = status
    state, message = _health(argocd, tmp_path, obj)
    assert state == expected, message
    if expected == "Healthy":
        assert "enforced (deny)" in message and "4 violation(s)" in message


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(None, "Progressing", id="not-compiled"),
        pytest.param({"created": True, "byPod": [_pod(1)]}, "Healthy", id="compiled"),
        pytest.param(
            {"created": True, "byPod": [_pod(1, errors=[{"message": "rego_parse_error"}])]}, "Degraded", id="rego-error"
        ),
    ],
)
def test_template_is_healthy_once_compiled(argocd: Path, tmp_path: Path, status: dict | None, expected: str) -> None:
    obj: dict = {
        "apiVersion": "templates.gatekeeper.sh/v1",
        "kind": "ConstraintTemplate",
        "metadata": {"name": "k8srequiredlabels", "generation": 1},
    }
    if status is not None:
        obj["status"] = status
    assert _health(argocd, tmp_path, obj)[0] == expected


def test_the_checks_cover_the_keys_argocd_cm_configures() -> None:
    assert {CONSTRAINT, TEMPLATE} <= set(OVERRIDES)
    assert all("health.lua" in OVERRIDES[key] for key in (CONSTRAINT, TEMPLATE))


def test_every_argocd_cm_key_is_a_valid_config_map_key() -> None:
    """The API server refuses keys outside [-._a-zA-Z0-9] (a `*` in a split health key did)."""
    import re

    assert [k for k in CM if not re.fullmatch(r"[-._a-zA-Z0-9]+", k)] == []
