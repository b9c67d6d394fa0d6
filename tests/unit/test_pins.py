"""The pin file: the real one is valid, and each kind of broken pin is refused by name."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from biogitops.config.pins import PINS_FILE, load_pins, parse_pins
from biogitops.errors import ConfigError, ToolError

REQUIRED_TOOLS = {
    "helm",
    "kind",
    "kubectl",
    "kustomize",
    "kubeconform",
    "gator",
    "kubeseal",
    "promtool",
    "tofu",
    "tflint",
    "checkov",
    "kwok",
    "kwokctl",
    "etcd",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "argocd",
    "actionlint",
    "miniredis",
}

VALID = {
    "go": {"version": "1.27.3"},
    "kubernetes": {"version": "1.36.3"},
    "tools": {
        "demo": {
            "version": "1.2.3",
            "source": "go",
            "module": "example.com/demo",
            "package": ".",
            "version_args": ["--version"],
        },
    },
}


def test_repository_pin_file_is_valid_and_complete() -> None:
    pins = load_pins()
    assert set(pins.tools) >= REQUIRED_TOOLS
    for pin in pins.tools.values():
        assert pin.version.count(".") == 2
        if pin.source == "download":
            assert len(pin.sha256) == 64


def test_kubernetes_binaries_share_the_kubernetes_pin() -> None:
    pins = load_pins()
    for name in ("kubectl", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
        assert pins.tools[name].version == pins.kubernetes_version


def _broken(path: list, value: object) -> dict:
    data = copy.deepcopy(VALID)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is _DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        pytest.param(["tools", "demo", "version"], "latest", "tools.demo.version", id="floating-version"),
        pytest.param(["tools", "demo", "version"], _DELETE, "tools.demo", id="missing-version"),
        pytest.param(["tools", "demo", "source"], "curl", "tools.demo.source", id="unknown-source"),
        pytest.param(["tools", "demo", "module"], _DELETE, "tools.demo", id="go-source-without-module"),
        pytest.param(["tools", "demo", "colour"], "red", "tools.demo", id="unknown-field"),
        pytest.param(["go"], _DELETE, "<top>", id="no-go-pin"),
        pytest.param(["tools", "Bad_Name"], {}, "tools", id="bad-tool-name"),
    ],
)
def test_invalid_pin_names_the_field(path: list, value: object, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_pins(_broken(path, value), "pins.yaml")
    assert f"pins.yaml: {field}" in str(err.value)


@pytest.mark.parametrize(
    "sha",
    ["abc", "Z" * 64, "0" * 63],
    ids=["short", "not-hex", "one-short"],
)
def test_download_pin_needs_a_full_sha256(sha: str) -> None:
    data = copy.deepcopy(VALID)
    data["tools"]["demo"] = {
        "version": "1.0.0",
        "source": "download",
        "url": "http://127.0.0.1/x",
        "sha256": sha,
        "version_args": [],
    }
    with pytest.raises(ConfigError, match="tools.demo.sha256"):
        parse_pins(data, "pins.yaml")


def test_unknown_tool_lists_known_ones() -> None:
    pins = parse_pins(VALID)
    with pytest.raises(ToolError, match="unknown tool 'nope'.*demo"):
        pins.tool("nope")


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "pins.yaml"
    bad.write_text("go: {version: 1.27.3\n")
    with pytest.raises(ConfigError, match=r"pins.yaml:\d+: not valid YAML"):
        load_pins(bad)


def test_pin_file_is_plain_yaml() -> None:
    assert isinstance(yaml.safe_load(PINS_FILE.read_text()), dict)
