"""biogitops/render/rendercache.py through manifests.helm_template(cache=True): a hit is exactly what helm
would print, and any change to the chart, the values or the arguments is a miss."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from biogitops.errors import BioGitopsError
from biogitops.render import manifests, rendercache


@pytest.fixture
def chart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(rendercache, "_dir", lambda: tmp_path / "cache")
    root = tmp_path / "chart"
    (root / "templates").mkdir(parents=True)
    (root / "Chart.yaml").write_text("apiVersion: v2\nname: probe\nversion: 0.1.0\n")
    (root / "values.yaml").write_text("size: 1\n")
    (root / "templates" / "configmap.yaml").write_text(
        '{{- if lt (int .Values.size) 0 }}{{ fail "size: negative" }}{{ end }}\n'
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: probe}\ndata: {size: {{ .Values.size | quote }}}\n"
    )
    monkeypatch.setattr(manifests, "REPO_ROOT", tmp_path)
    return root


@pytest.fixture
def helm_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    runs: list[list[str]] = []
    real = subprocess.run

    def counting(cmd, *args, **kwargs):
        runs.append(cmd)
        return real(cmd, *args, **kwargs)

    monkeypatch.setattr(manifests.subprocess, "run", counting)
    return runs


def _size(objs: list[dict]) -> str:
    return objs[0]["data"]["size"]


def test_same_inputs_are_rendered_once(chart: Path, helm_runs: list) -> None:
    first = manifests.helm_template(chart, [{"size": 3}], cache=True)
    again = manifests.helm_template(chart, [{"size": 3}], cache=True)
    assert first == again and _size(again) == "3"
    assert len(helm_runs) == 1


@pytest.mark.parametrize(
    "change",
    ["values", "template-edited", "file-added", "release"],
)
def test_any_changed_input_renders_again(chart: Path, helm_runs: list, change: str) -> None:
    manifests.helm_template(chart, [{"size": 3}], cache=True)
    values, release = [{"size": 3}], "render"
    if change == "values":
        values = [{"size": 4}]
    elif change == "template-edited":
        template = chart / "templates" / "configmap.yaml"
        template.write_text(template.read_text().replace("{{ .Values.size | quote }}", '"edited"'))
    elif change == "file-added":
        (chart / "templates" / "other.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n")
    else:
        release = "another"
    objs = manifests.helm_template(chart, values, release=release, cache=True)
    assert len(helm_runs) == 2
    assert _size(objs) == {"values": "4", "template-edited": "edited"}.get(change, "3")


def test_a_failed_render_is_not_kept(chart: Path, helm_runs: list) -> None:
    for _ in range(2):
        with pytest.raises(BioGitopsError, match="size: negative"):
            manifests.helm_template(chart, [{"size": -1}], cache=True)
    assert len(helm_runs) == 2


def test_without_cache_helm_always_runs(chart: Path, helm_runs: list) -> None:
    manifests.helm_template(chart, [{"size": 3}])
    manifests.helm_template(chart, [{"size": 3}])
    assert len(helm_runs) == 2
