"""The policies render per environment as the `policies` Application applies them, their
constraints validate strictly against schemas made from our templates, and the Gatekeeper chart
renders from its Go module (pinned, checked by the Go checksum database) with our values."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml

from biogitops.checks import conformance, kubeschemas
from biogitops.config.pins import load_pins
from biogitops.config.settings import known_envs, load_settings
from biogitops.render import targets
from biogitops.render.policies import CONSTRAINT_GROUP, constraint_schemas, render_policies


@pytest.mark.parametrize("env", known_envs())
def test_constraints_carry_the_environments_enforcement(env: str) -> None:
    gk = load_settings(env).raw["addons"]["gatekeeper"]
    constraints = [o for o in render_policies(env) if o["apiVersion"].startswith(CONSTRAINT_GROUP)]
    assert len(constraints) >= 8
    assert {c["spec"]["enforcementAction"] for c in constraints} == {gk["enforcement"]}
    images = next(c for c in constraints if c["kind"] == "BioGitopsImages")
    assert images["spec"]["parameters"]["digestRequiredIn"] == (["lab-*"] if gk.get("requireImageDigests") else [])


@pytest.fixture(scope="module")
def schema_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    extra = tmp_path_factory.mktemp("constraints")
    assert constraint_schemas(render_policies("dev"), extra) >= 8
    return kubeschemas.ensure(), extra


def _constraint(parameters: dict) -> dict:
    return {
        "apiVersion": f"{CONSTRAINT_GROUP}/v1beta1",
        "kind": "BioGitopsImages",
        "metadata": {"name": "x"},
        "spec": {"enforcementAction": "warn", "parameters": parameters},
    }


@pytest.mark.parametrize(
    ("parameters", "valid"),
    [
        pytest.param({"registries": ["quay.io/biocontainers/"], "digestRequiredIn": []}, True, id="valid"),
        pytest.param({"registries": "quay.io/biocontainers/"}, False, id="registries-not-a-list"),
        pytest.param({"registry": ["quay.io/"]}, False, id="unknown-parameter"),
    ],
)
def test_constraint_parameters_validate_against_the_template(
    tmp_path: Path, schema_dirs: tuple[Path, Path], parameters: dict, valid: bool
) -> None:
    path = tmp_path / "constraint.yaml"
    path.write_text(yaml.safe_dump(_constraint(parameters)))
    proc = conformance.kubeconform([path], *schema_dirs)
    assert (proc.returncode == 0) == valid, proc.stdout


@pytest.mark.parametrize("env", known_envs())
def test_gatekeeper_chart_renders_from_its_go_module(env: str) -> None:
    pins = load_pins()
    chart = targets.module_chart("gatekeeper", pins)
    assert "/github.com/open-policy-agent/gatekeeper/v3@v" + pins.charts["gatekeeper"]["version"] in str(chart)
    objs = targets.render_upstream("gatekeeper", env, [str(chart)])
    kinds = {o["kind"] for o in objs}
    assert {"Deployment", "ValidatingWebhookConfiguration"} <= kinds
    # our values reached the chart: no hook jobs (CRDs come from the crds Application)
    assert "Job" not in kinds


def test_chart_module_pin_pointing_elsewhere_is_refused_naming_the_pin() -> None:
    pins = load_pins()
    wrong = dict(pins.charts["gatekeeper"], goModulePath="charts/gatekeeper/templates")
    broken = dataclasses.replace(pins, charts={**pins.charts, "gatekeeper": wrong})
    with pytest.raises(targets.BioGitopsError, match=r"pins.yaml: charts.gatekeeper: .* holds chart None None"):
        targets.module_chart("gatekeeper", broken)
