"""The CRDs installed before the add-ons: one list, clusters/base/crds/kustomization.yaml.

Online, the `crds` Application applies its URLs (pinned upstream tags). Offline (kwok) the
same files come from the upstream Go modules at the same tags, through the module cache:

    from biogitops.render import crds
    crds.install(kubectl, progress)        # every listed CRD, from the module cache
    crds.listed()                          # [Listed(module, version, path), ...]

tests/render/test_crds.py checks the list against the CRDs each add-on chart synced with
skipCrds ships (its chart's crds/ directory, read from the chart's Go module).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from biogitops.config.pins import load_pins
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT

KUSTOMIZATION = REPO_ROOT / "clusters" / "base" / "crds" / "kustomization.yaml"

# GitHub repository -> the Go module that holds it (the module path carries the major version)
MODULES = {
    "open-policy-agent/gatekeeper": "github.com/open-policy-agent/gatekeeper/v3",
    "bitnami-labs/sealed-secrets": "github.com/bitnami-labs/sealed-secrets",
    "prometheus-operator/prometheus-operator": "github.com/prometheus-operator/prometheus-operator",
    "kubeflow/spark-operator": "github.com/kubeflow/spark-operator/v2",
}
# The prometheus-operator release kube-prometheus-stack (pins.yaml charts) is generated from:
# that chart is not a Go module and pins.yaml has no entry for the operator (88.5.3: v0.93.1).
PROMETHEUS_OPERATOR = "v0.93.1"


def chart_crds() -> dict[str, tuple[str, str, str]]:
    """Where each add-on chart synced with skipCrds keeps its CRDs, as (Go module, tag, directory),
    the tags read from pins.yaml: the chart's own crds/ where the chart lives in a module (its
    `goModule`, or the pinned tool it ships with, `module_of`: sealed-secrets in kubeseal's)."""
    pins = load_pins()
    charts = pins.charts
    kubeseal = pins.tool(charts["sealed-secrets"]["module_of"])
    return {
        "gatekeeper": (
            charts["gatekeeper"]["goModule"],
            f"v{charts['gatekeeper']['version']}",
            "charts/gatekeeper/crds",
        ),
        "sealed-secrets": (kubeseal.module or "", f"v{kubeseal.version}", "helm/sealed-secrets/crds"),
        "kube-prometheus-stack": (
            "github.com/prometheus-operator/prometheus-operator",
            PROMETHEUS_OPERATOR,
            "example/prometheus-operator-crd",
        ),
        "spark-operator": (
            "github.com/kubeflow/spark-operator/v2",
            f"v{charts['spark-operator']['version']}",
            "charts/spark-operator-chart/crds",
        ),
    }


CHART_CRDS = chart_crds()
_URL = re.compile(r"^https://raw\.githubusercontent\.com/([^/]+/[^/]+)/([^/]+)/(.+\.yaml)$")


@dataclass(frozen=True)
class Listed:
    module: str
    version: str
    path: str

    def file(self) -> Path:
        from biogitops.toolchain.gomodules import module_dir

        return module_dir(self.module, self.version) / self.path


def listed(kustomization: Path = KUSTOMIZATION) -> list[Listed]:
    """The kustomization's resources as (module, version, path); refuses a URL it cannot map."""
    out = []
    for url in yaml.safe_load(kustomization.read_text()).get("resources") or []:
        match = _URL.match(url)
        if not match or match.group(1) not in MODULES:
            raise BioGitopsError(
                f"{kustomization}: resources: {url} is not a raw.githubusercontent.com file of a known module",
                f"add its repository to MODULES in {__file__}",
            )
        out.append(Listed(MODULES[match.group(1)], match.group(2), match.group(3)))
    return out


def crd_names(path: Path) -> set[str]:
    return {
        d["metadata"]["name"]
        # BaseLoader: some upstream CRDs hold a bare `=` (a YAML value tag safe_load refuses)
        for d in yaml.load_all(path.read_text(), Loader=getattr(yaml, "CBaseLoader", yaml.BaseLoader))
        if d and d.get("kind") == "CustomResourceDefinition"
    }


def install(kubectl, progress=print, only: set[str] | None = None) -> list[str]:
    """Apply the listed CRDs (server-side: several are too large for client-side apply) and wait
    until they are established; `only` limits it to CRDs of those groups. Returns the names."""
    names: list[str] = []
    paths: list[Path] = []
    for item in listed():
        path = item.file()
        found = sorted(crd_names(path))
        if only is not None and not any(n.split(".", 1)[1] in only for n in found):
            continue
        paths.append(path)
        names += found
    kubectl.apply_files(paths)  # one kubectl call: a re-run costs one request per CRD, not one process
    progress(f"installed {len(names)} CRDs from the Go module cache (clusters/base/crds)")
    kubectl.wait_crds(names)
    return names
