"""`nox -s render` proves itself: broken fields make strict validation fail, and the committed
graph of the dev environment matches the manifests."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from biogitops.checks import conformance, kubeschemas
from biogitops.paths import REPO_ROOT
from biogitops.render.graph import environment_graph

GOOD_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "ok", "namespace": "x"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "ok"}},
        "template": {
            "metadata": {"labels": {"app": "ok"}},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.10"}]},
        },
    },
}
GOOD_PROJECT = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "AppProject",
    "metadata": {"name": "p", "namespace": "argocd"},
    "spec": {"sourceRepos": ["https://example.invalid/r.git"], "destinations": [{"namespace": "x", "server": "s"}]},
}
GOOD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "foos.example.com"},
    "spec": {
        "group": "example.com",
        "names": {"kind": "Foo", "plural": "foos"},
        "scope": "Namespaced",
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object", "anyOf": [{"required": ["spec"]}]}},
            }
        ],
    },
}


def _broken(obj: dict, path: list, value: object) -> dict:
    out = yaml.safe_load(yaml.safe_dump(obj))
    node = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


@pytest.fixture(scope="module")
def schema_dir() -> Path:
    return kubeschemas.ensure()


@pytest.mark.parametrize(
    "obj", [GOOD_DEPLOYMENT, GOOD_PROJECT, GOOD_CRD], ids=["deployment", "appproject", "crd-whose-schema-has-anyof"]
)
def test_valid_objects_pass(tmp_path: Path, schema_dir: Path, obj: dict) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(yaml.safe_dump(obj))
    proc = conformance.kubeconform([path], schema_dir)
    assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize(
    ("obj", "path", "value"),
    [
        pytest.param(GOOD_DEPLOYMENT, ["spec", "replicas"], "two", id="deployment-replicas-wrong-type"),
        pytest.param(
            GOOD_DEPLOYMENT,
            ["spec", "template", "spec", "containers", 0, "imagePullPolicy2"],
            "x",
            id="deployment-unknown-container-field",
        ),
        pytest.param(GOOD_PROJECT, ["spec", "sourceRepo"], ["x"], id="appproject-unknown-field"),
        pytest.param(GOOD_PROJECT, ["spec", "destinations"], "everywhere", id="appproject-wrong-type"),
    ],
)
def test_broken_field_fails_validation(tmp_path: Path, schema_dir: Path, obj: dict, path: list, value: object) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(_broken(obj, path, value)))
    proc = conformance.kubeconform([bad], schema_dir)
    assert proc.returncode != 0
    assert "Invalid: 1" in proc.stdout


def test_dev_graph_in_handbook_is_current() -> None:
    committed = (REPO_ROOT / "handbook" / "graph-dev.md").read_text()
    assert committed == environment_graph("dev"), "run `invoke graph --env dev`"
