"""observability/prometheus/metrics.yaml is true: every metric it lists is registered in the
named file of the exporter's Go module, at the version we deploy (read from the module cache,
fetched through the Go module proxy and checked against the Go checksum database)."""

from __future__ import annotations

import pytest
import yaml

from biogitops.checks.alert_rules import METRICS
from biogitops.config.pins import load_pins
from biogitops.paths import REPO_ROOT
from biogitops.toolchain.gomodules import module_dir

SOURCES = yaml.safe_load((REPO_ROOT / METRICS).read_text())
ENTRIES = [
    (exporter, spec, metric, source)
    for exporter, spec in SOURCES["exporters"].items()
    for metric, source in spec["metrics"].items()
]


@pytest.mark.parametrize(("exporter", "spec", "metric", "source"), ENTRIES, ids=[e[2] for e in ENTRIES])
def test_metric_is_registered_in_the_pinned_source(exporter: str, spec: dict, metric: str, source: str) -> None:
    if spec.get("proxy") is False:
        pytest.skip(f"{spec['module']} is not served by the Go module proxy; checked by reading its repository")
    module, version = spec["module"].split("@")
    path, _, literal = source.partition("#")
    text = (module_dir(module, version) / path).read_text()
    assert (literal or f'"{metric}"') in text, f"{exporter}: {metric} not found in {spec['module']}/{path}"


@pytest.mark.parametrize("exporter", sorted(SOURCES["exporters"]))
def test_exporter_version_is_the_one_we_deploy(exporter: str) -> None:
    spec = SOURCES["exporters"][exporter]
    pins = load_pins()
    kind, _, name = spec["deployedBy"].partition(":")
    if "module" not in spec:  # a job only (a Java server): nothing but its `up` may be read
        assert not spec.get("metrics"), f"{exporter}: metrics need the module that registers them"
        assert spec.get("job"), f"{exporter}: an entry without a module declares its scrape job"
        assert pins.tool(name).version, f"{exporter}: deployedBy {spec['deployedBy']} is not pinned"
        return
    version = spec["module"].split("@")[1]
    if kind == "tool":
        pin = pins.tool(name)
        assert spec["module"] == f"{pin.module}@{pin.go_module_version}"
    elif kind == "kubernetes":
        minor_patch = pins.kubernetes_version.split(".", 1)[1]
        assert version in {f"v{pins.kubernetes_version}", f"v0.{minor_patch}"}
    else:
        assert name in pins.charts, f"{exporter}: deployedBy {spec['deployedBy']} is not a pinned chart"
        chart = pins.charts[name]
        module = spec["module"].split("@")[0]
        if chart.get("module_of"):  # the chart ships in a pinned tool's module: the controller is that release
            tool = pins.tool(chart["module_of"])
            assert spec["module"] == f"{tool.module}@v{tool.version}", f"{exporter}: deployed is {tool.version}"
        elif chart.get("goModule") == module:  # the chart ships in the exporter's module, same tag
            assert version == f"v{chart['version']}", f"{exporter}: deployed is {chart['version']}"
