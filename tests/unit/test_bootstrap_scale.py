"""biogitops/platform/bootstrap.py at many labs: the refresh after a new dev snapshot asks Argo CD in a few
kubectl calls, not one per Application."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from biogitops.platform import bootstrap as bs
from biogitops.render.manifests import Graph

COMMIT = "a" * 40
OLD = "b" * 40


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, **_: Any) -> str:
        self.calls.append(args)
        return ""


def _bootstrap(
    monkeypatch: pytest.MonkeyPatch, apps: dict[str, str], changed: set[str] | None = None
) -> tuple[bs.Bootstrap, Recorder]:
    """A Bootstrap at snapshot COMMIT whose Applications are at `apps` (name -> revision), with
    `changed` the files changed since OLD (None: unknown, so every Application is concerned)."""
    kubectl = Recorder()
    boot = bs.Bootstrap.__new__(bs.Bootstrap)
    boot.commit, boot.progress = COMMIT, lambda _: None
    boot.settings = SimpleNamespace(env="dev")
    boot._changes, boot._lab_files = {OLD: changed}, {}
    boot.graph = Graph(applications={name: {} for name in apps})
    live = {name: {"metadata": {"name": name}, "status": {"sync": {"revision": rev}}} for name, rev in apps.items()}
    monkeypatch.setattr(bs.Bootstrap, "kubectl", property(lambda _: kubectl))
    monkeypatch.setattr(boot, "applications", lambda: live)
    monkeypatch.setattr(bs, "refresh_applicationsets", lambda *_: None)
    return boot, kubectl


@pytest.mark.parametrize("behind", [1, bs.ANNOTATE_BATCH, bs.ANNOTATE_BATCH + 1, 1000])
def test_refresh_annotates_every_application_behind_in_batches(monkeypatch, behind: int) -> None:
    apps = {f"app{i:04d}": OLD for i in range(behind)} | {"current": COMMIT}
    boot, kubectl = _bootstrap(monkeypatch, apps)
    boot.refresh()
    named = [a for call in kubectl.calls for a in call[5:-1]]  # after `-n argocd annotate --overwrite application`
    assert sorted(named) == sorted(n for n, rev in apps.items() if rev == OLD)  # each once, none at the snapshot
    assert len(kubectl.calls) == -(-behind // bs.ANNOTATE_BATCH)
    assert all(call[-1] == "argocd.argoproj.io/refresh=normal" for call in kubectl.calls)


def test_refresh_writes_nothing_when_every_application_is_at_the_snapshot(monkeypatch) -> None:
    boot, kubectl = _bootstrap(monkeypatch, {"a": COMMIT, "b": COMMIT})
    boot.refresh()
    assert kubectl.calls == []


@pytest.mark.parametrize(
    ("live_path", "refreshed"),
    [("applications/nextflow", [("root",)]), ("applications/nextflow-old", [("lab-a-nextflow", "root")])],
    ids=["live-spec-as-the-snapshot-defines-it", "live-spec-changed-outside-git"],
)
def test_refresh_leaves_applications_the_snapshot_does_not_concern(monkeypatch, live_path, refreshed) -> None:
    # one lab added: only its file changed; the other labs' Applications render the same
    boot, kubectl = _bootstrap(
        monkeypatch, {"lab-a": OLD, "lab-a-nextflow": OLD, "root": OLD}, {"clusters/dev/labs/new.yaml"}
    )
    paths = {"argocd.argoproj.io/manifest-generate-paths": "."}
    boot.graph = Graph(
        applications={
            "lab-a": {
                "metadata": {"name": "lab-a", "annotations": paths},
                "spec": {"source": {"path": "clusters/argocd/lab-tenant"}},
            },
            "lab-a-nextflow": {
                "metadata": {"name": "lab-a-nextflow", "annotations": paths},
                "spec": {"source": {"path": "applications/nextflow"}},
            },
            "root": {"metadata": {"name": "root"}, "spec": {"source": {"path": "clusters/argocd/bootstrap"}}},
        }
    )
    for name, app in boot.applications().items():
        app["spec"] = {"source": dict(boot.graph.applications[name]["spec"]["source"])}
    boot.applications()["lab-a-nextflow"]["spec"]["source"]["path"] = live_path
    boot._lab_files = {"lab-a": "clusters/dev/labs/a.yaml", "lab-a-nextflow": "clusters/dev/labs/a.yaml"}
    boot.refresh()
    assert [call[5:-1] for call in kubectl.calls] == refreshed  # root: no annotation, it depends on everything
