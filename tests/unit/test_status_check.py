"""`invoke status --lab LAB --check` (biogitops/platform/report.py): what the onboarding and rebuild
runbooks promise, checked on the live cluster. A lab whose Applications are not all Synced/Healthy,
a lab with no Application at all, or a SealedSecret that did not open fails the check, naming it."""

from __future__ import annotations

from typing import Any

import pytest

from biogitops.errors import BioGitopsError
from biogitops.platform import report


def app(name: str, sync: str = "Synced", health: str = "Healthy", lab: str | None = None) -> dict[str, Any]:
    labels = {"bio-gitops.io/lab": lab} if lab else {}
    return {
        "metadata": {"name": name, "labels": labels},
        "spec": {"project": f"lab-{lab}" if lab else "platform"},
        "status": {"sync": {"status": sync}, "health": {"status": health}},
    }


def sealed(name: str, ok: bool, message: str = "") -> dict[str, Any]:
    condition = {"type": "Synced", "status": "True" if ok else "False", "message": message}
    return {"metadata": {"namespace": "lab-x", "name": name}, "status": {"conditions": [condition]}}


class FakeKubectl:
    def __init__(self, apps: list[dict], sealed_secrets: list[dict] | None) -> None:
        self.apps, self.sealed_secrets = apps, sealed_secrets

    def json(self, *args: str) -> dict[str, Any]:
        if "applications.argoproj.io" in args:
            return {"items": self.apps}
        assert "sealedsecrets.bitnami.com" in args
        return {"items": self.sealed_secrets or []}

    def ok(self, *args: str) -> bool:
        return self.sealed_secrets is not None


class FakeTarget:
    def __init__(self, apps: list[dict], sealed_secrets: list[dict] | None = None) -> None:
        self.kubectl = FakeKubectl(apps, sealed_secrets)


HEALTHY_LAB = [app("lab-drill"), app("lab-drill-nextflow", lab="drill"), app("cluster-base")]


@pytest.mark.parametrize(
    ("apps", "sealed_secrets", "lab", "problem"),
    [
        ([app("lab-drill"), app("lab-drill-nextflow", "OutOfSync", lab="drill")], None, "drill", "lab-drill-nextflow"),
        ([app("lab-drill", health="Progressing")], None, "drill", "lab-drill: Synced/Progressing"),
        ([app("cluster-base")], None, "drill", "no Application of lab drill"),
        ([app("cluster-base", health="Degraded")], None, None, "cluster-base"),
        (HEALTHY_LAB, [sealed("db", False, "no key could decrypt secret")], None, "no key could decrypt secret"),
    ],
    ids=[
        "lab-app-out-of-sync",
        "lab-tenancy-app-progressing",
        "lab-with-no-application",
        "platform-app-degraded",
        "sealed-secret-not-opened",
    ],
)
def test_check_fails_naming_what_is_not_as_the_page_promises(
    apps: list[dict], sealed_secrets: list[dict] | None, lab: str | None, problem: str
) -> None:
    with pytest.raises(BioGitopsError, match=problem):
        report.check_status(FakeTarget(apps, sealed_secrets), lab=lab, wait_s=0)


def test_check_passes_when_every_application_is_healthy_and_every_sealed_secret_opened() -> None:
    target = FakeTarget([*HEALTHY_LAB, app("galaxy-upstream", "Unknown", "Unknown")], [sealed("db", True)])
    target.kubectl.apps[-1]["status"]["conditions"] = [{"type": "ComparisonError", "message": "dial tcp: no such host"}]
    target.kubectl.apps[-1]["spec"]["sources"] = [{"repoURL": "https://charts.example.invalid", "chart": "x"}]
    lines = report.check_status(target, lab=None, wait_s=0)
    assert any("Synced/Healthy" in line for line in lines)
    assert report.check_status(target, lab="drill", wait_s=0)


def test_the_lab_filter_keeps_only_the_labs_applications() -> None:
    rows = report.lab_rows(HEALTHY_LAB, "drill")
    assert [r["metadata"]["name"] for r in rows] == ["lab-drill", "lab-drill-nextflow"]
