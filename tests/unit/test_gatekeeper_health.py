"""Argo CD's health checks for Gatekeeper (argocd-cm `resource.customizations`): a constraint is
Healthy only when every Gatekeeper process enforces its current generation, a template only once
compiled; errors are Degraded. Run with Lua 5.1, the dialect of Argo CD's gopher-lua."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest
import yaml

from biogitops.config.settings import load_settings
from biogitops.render.manifests import argocd_config

CM = next(o for o in argocd_config(load_settings("dev")) if o["metadata"]["name"] == "argocd-cm")["data"]
OVERRIDES = yaml.safe_load(CM["resource.customizations"])
CONSTRAINT = "constraints.gatekeeper.sh/*"
TEMPLATE = "templates.gatekeeper.sh/ConstraintTemplate"


def _lua(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"[{json.dumps(k)}]={_lua(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "{" + ",".join(_lua(v) for v in value) + "}"
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _health(key: str, obj: dict) -> tuple[str, str]:
    lua = shutil.which("lua5.1")
    if not lua:
        pytest.skip("lua5.1 not installed (.ci/system-packages installs it)")
    # Argo CD runs the script as a function body with `obj` set; so do we
    script = f"obj = {_lua(obj)}\nlocal function check()\n{OVERRIDES[key]['health.lua']}\nend\n"
    script += "local hs = check()\nprint(hs.status)\nprint(hs.message)\n"
    proc = subprocess.run([lua, "-"], input=script, capture_output=True, text=True, check=True)
    status, message = proc.stdout.splitlines()[:2]
    return status, message


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
def test_constraint_is_healthy_only_when_enforced(status: dict | None, expected: str) -> None:
    obj: dict = {"metadata": {"generation": 2}, "spec": {"enforcementAction": "deny"}}
    if status is not None:
        obj["status"] = status
    state, message = _health(CONSTRAINT, obj)
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
def test_template_is_healthy_once_compiled(status: dict | None, expected: str) -> None:
    obj: dict = {"metadata": {"generation": 1}}
    if status is not None:
        obj["status"] = status
    assert _health(TEMPLATE, obj)[0] == expected


def test_every_argocd_cm_key_is_a_valid_config_map_key() -> None:
    """The API server refuses keys outside [-._a-zA-Z0-9] (a `*` in a split health key did)."""
    import re

    assert [k for k in CM if not re.fullmatch(r"[-._a-zA-Z0-9]+", k)] == []
