"""What each environment renders, offline: overlays, the bootstrap chart, Argo CD's config, lab
tenancy, first-party app charts and policies (`targets`), and the upstream charts with our values
(`upstream_targets`), from a verified archive or Go module when the chart repository is unreachable.
The `render` session validates them (biogitops/checks/conformance.py); runtime code renders upstream
charts with these functions too (Gatekeeper's CRDs beside kwok).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.config.labs import check_apps, load_labs
from biogitops.config.pins import Pins, load_pins
from biogitops.config.settings import APP_VALUES, load_settings
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import (
    ARGOCD,
    addon_values,
    argocd_config,
    argocd_sso,
    bootstrap_values,
    helm_template,
    render_bootstrap,
    tenant_values,
)
from biogitops.render.policies import render_policies
from biogitops.toolchain import chartarchives, tools
from biogitops.toolchain.gomodules import module_dir

APPS = REPO_ROOT / "applications"
# First-party charts of a lab's Applications: chart, value files after its values.yaml (as the
# lab-tenant chart passes them), and values that switch on the optional parts so they are checked.
APP_CHARTS: dict[str, tuple[Path, list[str], dict]] = {
    "nextflow": (
        APPS / "nextflow",
        [APP_VALUES["nextflow"]],
        {"lab": "example", "launcher": {"enabled": True, "revision": "1.0.0"}},
    ),
    "spark-lab": (
        APPS / "spark-operator" / "lab",
        [APP_VALUES["spark"]],
        {"lab": "example", "sparkPi": {"enabled": True}, "wordcount": {"enabled": True}},
    ),
    "galaxy-extras": (APPS / "galaxy" / "extras", ["applications/galaxy/values.yaml", APP_VALUES["galaxy"]], {}),
}
PLACEHOLDER_REPO = "https://git.example.invalid/bio-gitops.git"


@dataclass
class Report:
    rendered: dict[str, int] = field(default_factory=dict)  # target -> object count
    skipped: dict[str, str] = field(default_factory=dict)  # target -> reason


def kustomize(path: Path) -> list[dict]:
    proc = subprocess.run([str(tools.which("kustomize")), "build", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kustomize build {path.relative_to(REPO_ROOT)} failed: {last}")
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def reachable(url: str, timeout: float = 5) -> str:
    """'' when `url` answers, else the reason it does not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return ""
    except (urllib.error.URLError, OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def targets(env: str) -> dict[str, list[dict]]:
    """Every first-party render target of one environment: name -> objects."""
    settings = load_settings(env)
    labs = load_labs(env)
    check_apps(labs, settings)
    pins = load_pins()
    values = bootstrap_values(settings, pins, PLACEHOLDER_REPO, settings.repo_revision, labs=labs)
    out: dict[str, list[dict]] = {
        f"{env}/overlay": kustomize(REPO_ROOT / "clusters" / env),
        f"{env}/bootstrap": render_bootstrap({**values, "rootValues": values}),
        f"{env}/argocd-config": argocd_config(settings),
        # alert rules, monitors and dashboards (the observability Application; the same in every env)
        f"{env}/observability": kustomize(REPO_ROOT / "observability"),
    }
    for lab in labs:
        out[f"{env}/lab-tenant-{lab.name}"] = helm_template(ARGOCD / "lab-tenant", [tenant_values(env, values, lab)])
    for name in APP_CHARTS:
        out[f"{env}/{name}"] = render_app_chart(name, env)
    if policy_objs := render_policies(env):
        out[f"{env}/policies"] = policy_objs
    return out


def render_app_chart(name: str, env: str) -> list[dict]:
    """One first-party app chart (APP_CHARTS) with the value files its Application passes for `env`."""
    chart, files, extra = APP_CHARTS[name]
    value_files = [chart / "values.yaml"] + [REPO_ROOT / f.format(env=env) for f in files]
    for vf in value_files:
        if not vf.is_file():
            raise BioGitopsError(f"{vf}: missing", f"every app chart needs values for each environment ({env})")
    return helm_template(chart, [extra], value_files=value_files)


def drop_nulls(node: Any) -> Any:
    """Remove null map values, as the API server does when it decodes an object: upstream
    templates often leave `key:` empty (`annotations:` with nothing under it)."""
    if isinstance(node, dict):
        return {k: drop_nulls(v) for k, v in node.items() if v is not None}
    if isinstance(node, list):
        return [drop_nulls(v) for v in node]
    return node


def _chart_spec(name: str) -> dict[str, Any]:
    """Where an upstream chart goes and which values it takes (the bootstrap chart's `charts`)."""
    return yaml.safe_load((ARGOCD / "bootstrap" / "values.yaml").read_text())["charts"].get(name) or {}


def upstream_value_files(name: str, env: str) -> list[Path]:
    """Our values for an upstream chart, as its Application passes them (bootstrap chart values)."""
    spec = _chart_spec(name)
    if not spec.get("values"):
        return []
    base = REPO_ROOT / spec["values"]
    env_file = base.with_name(f"values.{env}.yaml")
    return [base] + ([env_file] if env_file.is_file() else [])


def upstream_source(name: str, pins: Pins) -> tuple[list[str], str]:
    """How `helm template` reaches a pinned chart: (arguments, "") or ([], why it cannot)."""
    chart = pins.charts[name]
    if chart.get("module_of"):
        return [str(module_chart(name, pins))], ""
    archive = chartarchives.cached(name, pins)
    if archive:
        return [str(archive)], ""
    if chart.get("goModule"):
        return [str(module_chart(name, pins))], ""
    why = reachable(chart["repoURL"].rstrip("/") + "/index.yaml")
    if why:
        return [], f"chart repository unreachable ({why}) and no verified archive in {chartarchives.charts_dir()}"
    return [chart["chart"], "--repo", chart["repoURL"], "--version", chart["version"]], ""


def module_chart(name: str, pins: Pins) -> Path:
    """An upstream chart shipped in a Go module: its own (goModule) or a pinned tool's (module_of)."""
    chart = pins.charts[name]
    if chart.get("goModule"):
        return _go_module_chart(name, pins)
    return _tool_module_chart(name, pins)


def _go_module_chart(name: str, pins: Pins) -> Path:
    """The chart directory inside its pinned Go module (pins.yaml goModule/goModulePath), fetched
    through the module proxy and checked against the Go checksum database; its Chart.yaml must
    carry the pinned version."""
    chart = pins.charts[name]
    directory = module_dir(chart["goModule"], f"v{chart['version']}") / chart.get("goModulePath", ".")
    meta = directory / "Chart.yaml"
    found = (yaml.safe_load(meta.read_text()) or {}) if meta.is_file() else {}
    if found.get("name") != chart["chart"] or str(found.get("version")) != chart["version"]:
        raise BioGitopsError(
            f"pins.yaml: charts.{name}: {chart['goModule']}@v{chart['version']}/{chart.get('goModulePath', '.')} "
            f"holds chart {found.get('name')} {found.get('version')}, not {chart['chart']} {chart['version']}",
            "fix goModulePath or the version",
        )
    return directory


def _tool_module_chart(name: str, pins: Pins) -> Path:
    """A chart shipped in a pinned tool's Go module (charts.<name>.module_of), from the Go module
    cache: `go mod download` checks the module against the Go checksum database."""
    chart = pins.charts[name]
    tool = pins.tool(chart["module_of"])
    path = module_dir(tool.module, tool.go_module_version) / chart["path"]
    meta = yaml.safe_load((path / "Chart.yaml").read_text()) if (path / "Chart.yaml").is_file() else {}
    if str(meta.get("version")) != chart["version"]:
        raise BioGitopsError(
            f"pins.yaml: charts.{name}: {tool.module}@{tool.go_module_version}/{chart['path']} holds chart "
            f"{meta.get('name')} {meta.get('version')}, not {chart['version']}",
            "pin the chart version the module ships",
        )
    return path


def render_upstream(
    name: str, env: str, source: list[str], namespace: str | None = None, extra_values: dict | None = None
) -> list[dict]:
    """One upstream chart with our values for `env`, then what bootstrap computes for it (its
    Application's valuesObject: `addon_values`), then `extra_values` (what a machine adds: the
    image built here on kind), nulls dropped as the API server would."""
    pins_version = load_pins().charts[name]["version"]
    # an add-on's own namespace; a lab app (galaxy) goes to a lab's
    namespace = namespace or _chart_spec(name).get("namespace", "lab-example")
    cmd = [str(tools.which("helm")), "template", name, *source, "--namespace", namespace]
    for vf in upstream_value_files(name, env):
        cmd += ["-f", str(vf)]
    computed = addon_values(argocd_sso(load_settings(env)), load_labs(env)).get(name)
    with tempfile.TemporaryDirectory() as tmp:
        for index, values in enumerate((computed, extra_values)):
            if values:
                (Path(tmp) / f"values-{index}.json").write_text(json.dumps(values))
                cmd += ["-f", str(Path(tmp) / f"values-{index}.json")]
        proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BioGitopsError(f"helm template {name} {pins_version} ({env} values) failed: {proc.stderr.strip()[-200:]}")
    return [drop_nulls(o) for o in yaml.safe_load_all(proc.stdout) if o]


def upstream_targets(report: Report, envs: list[str]) -> dict[str, list[dict]]:
    """Upstream charts with our values for each environment, and the remote CRDs: rendered from
    the chart cache (`invoke charts.import`) or the repository when reachable, else skipped
    with the reason."""
    out: dict[str, list[dict]] = {}
    pins = load_pins()
    for name, chart in pins.charts.items():
        source, why = upstream_source(name, pins)
        if why:
            report.skipped[f"chart {name} {chart['version']}"] = why
            continue
        for env in envs:
            out[f"{env}/upstream-{name}"] = render_upstream(name, env, source)
    crds = REPO_ROOT / "clusters" / "base" / "crds"
    urls = yaml.safe_load((crds / "kustomization.yaml").read_text())["resources"]
    why = reachable(urls[0])
    if why:
        report.skipped["clusters/base/crds"] = f"remote CRD URLs unreachable ({why})"
    else:
        out["upstream/crds"] = kustomize(crds)
    return out
