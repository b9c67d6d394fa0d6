"""Sealed Secrets as rendered: the upstream chart from kubeseal's Go module with our values (the
name and namespace kubeseal expects, the environment in the certificate's CN), and Galaxy's
sealed credentials delivered by its extras chart into the lab's namespace."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest
import yaml

from biogitops.config.pins import load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render import sealing, targets
from biogitops.toolchain import tools

ENVS = ["dev", "staging", "prod"]
EXTRAS = REPO_ROOT / "applications" / "galaxy" / "extras"


@pytest.fixture(scope="module")
def chart_source() -> list[str]:
    source, why = targets.upstream_source("sealed-secrets", load_pins())
    assert why == ""
    return source


def test_chart_comes_from_kubeseals_module_at_the_pinned_version(chart_source: list[str]) -> None:
    pins = load_pins()
    kubeseal = pins.tool("kubeseal")
    [path] = chart_source
    assert f"{kubeseal.module}@{kubeseal.go_module_version}" in path
    assert (
        yaml.safe_load((Path(path) / "Chart.yaml").read_text())["version"] == pins.charts["sealed-secrets"]["version"]
    )


def test_chart_version_the_module_does_not_ship_is_refused() -> None:
    pins = load_pins()
    charts = {**pins.charts, "sealed-secrets": {**pins.charts["sealed-secrets"], "version": "9.9.9"}}
    with pytest.raises(BioGitopsError, match=r"charts.sealed-secrets: .* holds chart sealed-secrets 2.16.0, not 9.9.9"):
        targets.module_chart("sealed-secrets", dataclasses.replace(pins, charts=charts))


@pytest.mark.parametrize("env", ENVS)
def test_controller_is_where_kubeseal_looks_and_names_its_environment(env: str, chart_source: list[str]) -> None:
    objs = targets.render_upstream("sealed-secrets", env, chart_source)
    [deploy] = [o for o in objs if o["kind"] == "Deployment"]
    [service] = [o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == sealing.CONTROLLER_NAME]
    assert deploy["metadata"]["name"] == sealing.CONTROLLER_NAME
    assert deploy["metadata"]["namespace"] == service["metadata"]["namespace"] == sealing.CONTROLLER_NAMESPACE
    [container] = deploy["spec"]["template"]["spec"]["containers"]
    args = container["args"]
    assert args[args.index("--my-cn") + 1] == sealing.cert_cn(env)
    assert args[args.index("--key-prefix") + 1] == "sealed-secrets-key"
    assert container["image"].endswith(":" + load_pins().tool("kubeseal").version)


def _extras(namespace: str, env: str = "dev") -> subprocess.CompletedProcess:
    files = [EXTRAS / "values.yaml", REPO_ROOT / "applications/galaxy/values.yaml"]
    files.append(REPO_ROOT / f"applications/galaxy/values.{env}.yaml")
    cmd = [str(tools.which("helm")), "template", "galaxy-extras", str(EXTRAS), "--namespace", namespace]
    for vf in files:
        cmd += ["-f", str(vf)]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_extras_deliver_the_labs_sealed_credentials() -> None:
    try:
        tools.which("kubeseal")
    except BioGitopsError as err:
        pytest.skip(f"kubeseal not installed: {err.line()}")
    sealing.ensure_app_credentials("dev", "rendertest", "galaxy", progress=lambda _: None)
    try:
        proc = _extras("lab-rendertest")
        assert proc.returncode == 0, proc.stderr
        sealed = {
            o["metadata"]["name"]: o for o in yaml.safe_load_all(proc.stdout) if o and o["kind"] == "SealedSecret"
        }
        assert set(sealed) == set(sealing.app_credentials("galaxy"))
        assert {o["metadata"]["namespace"] for o in sealed.values()} == {"lab-rendertest"}
        assert sealed["galaxy-db"]["spec"]["template"]["type"] == "kubernetes.io/basic-auth"
    finally:
        for path in sealing.sealed_dir("galaxy", "dev", "lab-rendertest").glob("*.yaml"):
            path.unlink()
        sealing.sealed_dir("galaxy", "dev", "lab-rendertest").rmdir()


def test_extras_in_a_lab_without_sealed_credentials_fail_with_the_command() -> None:
    proc = _extras("lab-nocredentials", "staging")
    assert proc.returncode != 0
    assert "sealed/staging/lab-nocredentials: no sealed credentials" in proc.stderr
    assert "invoke secrets.app-credentials --env staging --lab nocredentials --app galaxy" in proc.stderr


def test_galaxy_reads_its_credentials_from_the_sealed_secrets() -> None:
    values = yaml.safe_load((REPO_ROOT / "applications/galaxy/values.yaml").read_text())
    creds = sealing.app_credentials("galaxy")
    assert values["postgresql"]["galaxyExistingSecret"] in creds
    assert values["postgresql"]["galaxyExistingSecretKeyRef"] in creds["galaxy-db"]["data"]
    for env in values["extraEnv"]:
        ref = env["valueFrom"]["secretKeyRef"]
        assert ref["key"] in creds[ref["name"]]["data"], env["name"]
