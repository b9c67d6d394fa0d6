"""What keeps many labs cheap, as rendered: the Applications generated per lab declare the paths
their manifests come from (`manifest-generate-paths`), so a commit that adds one lab re-renders
that lab only; and the sizing of Argo CD reaches its ConfigMaps. Timings are in `nox -s bench`."""

from __future__ import annotations

from typing import Any

import pytest

from biogitops.config.labs import load_labs
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import (
    argocd_config,
    bootstrap_values,
    expected_graph,
    render_bootstrap,
    root_application,
)

PATHS = "argocd.argoproj.io/manifest-generate-paths"
PER_LAB_LAYERS = {"labs", "lab-apps"}


def _per_lab_apps(env: str) -> dict[str, dict[str, Any]]:
    settings = load_settings(env)
    values = bootstrap_values(settings, load_pins(), "https://git.example.invalid/r.git", "HEAD")
    graph = expected_graph(settings, load_labs(env), [*render_bootstrap(values), root_application(values)], values)
    return {
        name: app
        for name, app in graph.applications.items()
        if app["metadata"].get("labels", {}).get("bio-gitops.io/layer") in PER_LAB_LAYERS
    }


def test_dev_has_per_lab_applications_to_check() -> None:
    layers = {a["metadata"]["labels"]["bio-gitops.io/layer"] for a in _per_lab_apps("dev").values()}
    assert layers == PER_LAB_LAYERS


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_single_source_per_lab_application_names_existing_paths(env: str) -> None:
    """A missing annotation re-renders every lab on every commit; a path that does not exist
    (a chart moved) would hide real changes from Argo CD."""
    for name, app in _per_lab_apps(env).items():
        annotations = app["metadata"].get("annotations") or {}
        if "sources" in app["spec"]:  # Galaxy: values through a ref source, which the paths cannot see
            assert PATHS not in annotations, name
            continue
        assert PATHS in annotations, f"{name}: no {PATHS}"
        base = REPO_ROOT / app["spec"]["source"]["path"]
        for path in annotations[PATHS].split(";"):
            target = REPO_ROOT / path.lstrip("/") if path.startswith("/") else base / path
            assert target.resolve().is_dir(), f"{name}: {path} is no folder ({target})"


def test_sizing_values_reach_the_configmaps_argo_cd_reads() -> None:
    data = {o["metadata"]["name"]: o["data"] for o in argocd_config(load_settings("dev")) if o["kind"] == "ConfigMap"}
    params = data["argocd-cmd-params-cm"]
    for key in (
        "controller.status.processors",
        "controller.operation.processors",
        "controller.repo.server.timeout.seconds",
        "reposerver.parallelism.limit",
        "applicationsetcontroller.concurrent.reconciliations.max",
    ):
        assert params[key].isdigit(), key
    assert data["argocd-cm"]["timeout.reconciliation.jitter"].endswith("s")
