"""biogitops/render/affected.py: which Applications a new snapshot concerns (onboarding one lab at a
thousand labs must not wait for the other 999), and that nothing that matters is missed."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from biogitops.render.affected import changed_files, concerned

PATHS = "argocd.argoproj.io/manifest-generate-paths"


def app(path: str, annotation: str | None = ".", multi: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "annotations": {PATHS: annotation} if annotation else {}}
    spec: dict[str, Any] = {"sources": [{"path": path}]} if multi else {"source": {"path": path}}
    return {"metadata": meta, "spec": spec}


TENANT = app("clusters/argocd/lab-tenant")
NEXTFLOW = app("applications/nextflow")
LAB_FILE = "clusters/dev/labs/genomics.yaml"


@pytest.mark.parametrize(
    ("application", "changed", "lab_file", "expected"),
    [
        (TENANT, {"clusters/dev/labs/new.yaml"}, LAB_FILE, False),
        (NEXTFLOW, {"clusters/dev/labs/new.yaml"}, LAB_FILE, False),
        (TENANT, {LAB_FILE}, LAB_FILE, True),
        (NEXTFLOW, {LAB_FILE}, LAB_FILE, True),
        (TENANT, {"clusters/argocd/lab-tenant/templates/namespace.yaml"}, LAB_FILE, True),
        (NEXTFLOW, {"clusters/argocd/lab-tenant/templates/_application.tpl"}, LAB_FILE, True),
        (NEXTFLOW, {"clusters/argocd/lab-tenant/templates/_application.tpl"}, None, False),
        (NEXTFLOW, {"clusters/argocd/config/values.yaml"}, None, True),
        (NEXTFLOW, {"applications/nextflow-extra/x.yaml"}, None, False),
        (NEXTFLOW, {"pins.yaml"}, None, True),
        (NEXTFLOW, {"clusters/dev/settings.yaml"}, None, True),
        (NEXTFLOW, {"clusters/staging/settings.yaml"}, None, False),
        (NEXTFLOW, {"clusters/argocd/bootstrap/templates/applicationset-labs.yaml"}, None, True),
        (app("applications/nextflow", "/observability;."), {"observability/rules.yaml"}, None, True),
        (app("applications/nextflow", "../galaxy"), {"applications/galaxy/values.yaml"}, None, True),
        (app("x", "/observability/*.yaml"), {"observability/rules.yaml"}, None, True),
        (app("x", "/observability/*.yaml"), {"observability/grafana/board.yaml"}, None, False),
        (app("x", "/observability/**"), {"observability/grafana/board.yaml"}, None, True),
        (app("x", None), {"README.md"}, None, True),
        (app("x", None), set(), None, False),
        (app("x", ".", multi=True), {"README.md"}, None, True),
        (NEXTFLOW, None, None, True),
    ],
    ids=[
        "another-lab-added-tenancy-untouched",
        "another-lab-added-app-untouched",
        "own-lab-file-edited",
        "own-lab-file-reaches-its-apps",
        "tenant-chart-edited",
        "tenant-chart-writes-the-specs-of-the-labs-apps",
        "tenant-chart-is-not-an-input-of-platform-apps",
        "argo-cd-configuration-changes-everything",
        "a-sibling-folder-with-a-common-prefix-is-not-the-path",
        "pins-change-everything",
        "this-envs-settings-change-everything",
        "another-envs-settings-do-not",
        "applicationset-templates-change-everything",
        "absolute-path-in-the-annotation",
        "relative-path-leaving-the-source",
        "a-glob-matches-inside-its-folder",
        "a-star-does-not-cross-folders",
        "a-double-star-does",
        "no-annotation-depends-on-everything",
        "no-annotation-nothing-changed",
        "several-sources-depend-on-everything",
        "unknown-old-revision-concerns-all",
    ],
)
def test_concerned(application: dict, changed: set[str] | None, lab_file: str | None, expected: bool) -> None:
    assert concerned(application, changed, "dev", lab_file) is expected


def _with_source(application: dict[str, Any], **source: Any) -> dict[str, Any]:
    return {**application, "spec": {**application["spec"], "source": {**application["spec"]["source"], **source}}}


IPS = {"helm": {"parameters": [{"name": "apiServer.ips", "value": "10.0.0.1"}], "valueFiles": [], "skipCrds": False}}


@pytest.mark.parametrize(
    ("live", "expected"),
    [
        (_with_source(NEXTFLOW, helm={"parameters": [{"name": "apiServer.ips", "value": "10.0.0.2"}]}), True),
        (_with_source(NEXTFLOW, helm={"parameters": [{"name": "apiServer.ips", "value": "10.0.0.1"}]}), False),
        (_with_source(NEXTFLOW, targetRevision="HEAD", **IPS), False),
        ({**NEXTFLOW, "spec": {"sources": [NEXTFLOW["spec"]["source"]]}}, True),
    ],
    ids=[
        "spec-changed-outside-git-concerns-it",
        "argo-cd-omits-an-empty-list-and-false",
        "fields-argo-cd-fills-in-do-not-count",
        "one-source-became-several",
    ],
)
def test_a_live_spec_that_is_not_the_snapshots_concerns_the_app(live: dict[str, Any], expected: bool) -> None:
    snapshot = _with_source(NEXTFLOW, **IPS)
    assert concerned(snapshot, {"README.md"}, "dev", live=live) is expected


def test_changed_files_between_two_commits(tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    (tmp_path / "a.yaml").write_text("a: 1\n")
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "one"], cwd=tmp_path, check=True)
    one = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "new.yaml").write_text("name: new\n")
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-qm", "two"], cwd=tmp_path, check=True)
    two = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path, capture_output=True, text=True).stdout.strip()
    assert changed_files(tmp_path, one, two) == {"labs/new.yaml"}
    assert changed_files(tmp_path, "0" * 40, two) is None
