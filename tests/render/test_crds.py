"""clusters/base/crds/kustomization.yaml is the one list of CRDs installed before the add-ons:
it holds every CRD each add-on chart synced with skipCrds ships, and every upstream CRD the
schemas validate against (biogitops/checks/kubeschemas.py) is installed from it."""

from __future__ import annotations

from functools import cache

import pytest
import yaml

from biogitops.checks.kubeschemas import CRD_MODULES
from biogitops.paths import REPO_ROOT
from biogitops.render import crds
from biogitops.toolchain.gomodules import module_dir

CHARTS = yaml.safe_load((REPO_ROOT / "clusters/argocd/bootstrap/values.yaml").read_text())["charts"]
SKIPPED = sorted(n for n, c in CHARTS.items() if c.get("addon") and c.get("skipCrds") is not False)


@cache
def listed_names() -> set[str]:
    return {name for item in crds.listed() for name in crds.crd_names(item.file())}


def test_every_add_on_that_skips_crds_says_where_its_crds_are() -> None:
    assert set(SKIPPED) == set(crds.CHART_CRDS)


@pytest.mark.parametrize("chart", SKIPPED)
def test_every_crd_of_the_chart_is_listed(chart: str) -> None:
    module, version, directory = crds.CHART_CRDS[chart]
    shipped = set()
    for path in sorted((module_dir(module, version) / directory).glob("*.yaml")):
        shipped |= crds.crd_names(path)
    assert shipped, f"no CRDs in {module}@{version}/{directory}"
    assert shipped - listed_names() == set(), f"{chart}: add these to clusters/base/crds/kustomization.yaml"


def test_chart_crd_versions_follow_pins() -> None:
    from biogitops.config.pins import load_pins

    pins = load_pins()
    for chart in ("gatekeeper", "spark-operator"):  # charts released with their module's tag
        assert crds.CHART_CRDS[chart][1] == f"v{pins.charts[chart]['version']}", chart
    # a chart inside a pinned tool's module (pins.yaml `module_of`): the CRDs of that tool's release
    for chart, spec in pins.charts.items():
        if spec.get("module_of") and chart in crds.CHART_CRDS:
            tool = pins.tool(spec["module_of"])
            assert crds.CHART_CRDS[chart][:2] == (tool.module, f"v{tool.version}"), chart


def test_schema_crd_versions_follow_pins() -> None:
    """The CRDs the schemas validate against are those of the deployed releases (pins.yaml)."""
    from biogitops.config.pins import load_pins

    pins = load_pins()
    deployed = {tool.module: f"v{tool.version}" for tool in pins.tools.values() if tool.module}
    deployed |= {spec["goModule"]: f"v{spec['version']}" for spec in pins.charts.values() if spec.get("goModule")}
    for module, version, _ in CRD_MODULES:
        if module in deployed:
            assert version == deployed[module], module


def test_schemas_validate_against_installed_crds() -> None:
    listed = {(i.module, i.version, i.path) for i in crds.listed()}
    for module, version, paths in CRD_MODULES:
        if module in crds.MODULES.values():
            missing = [p for p in paths if (module, version, p) not in listed]
            assert missing == [], f"{module}@{version}: schema CRDs not in clusters/base/crds: {missing}"


def test_an_unknown_url_is_refused(tmp_path) -> None:
    bad = tmp_path / "kustomization.yaml"
    bad.write_text("resources:\n  - https://example.invalid/crd.yaml\n")
    with pytest.raises(Exception, match="not a raw.githubusercontent.com file of a known module"):
        crds.listed(bad)
