"""biogitops/bootstrap.py at many labs: the refresh after a new dev snapshot asks Argo CD in a few
kubectl calls, not one per Application."""

from __future__ import annotations

from typing import Any

import pytest

from biogitops import bootstrap as bs
from biogitops.render import Graph

COMMIT = "a" * 40
OLD = "b" * 40


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def run(self, *args: str, **_: Any) -> str:
        self.calls.append(args)
        return ""


def _bootstrap(monkeypatch: pytest.MonkeyPatch, apps: dict[str, str]) -> tuple[bs.Bootstrap, Recorder]:
    kubectl = Recorder()
    boot = bs.Bootstrap.__new__(bs.Bootstrap)
    boot.commit, boot.progress = COMMIT, lambda _: None
    boot.graph = Graph(applications={name: {} for name in apps})
    live = {name: {"status": {"sync": {"revision": rev}}} for name, rev in apps.items()}
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
