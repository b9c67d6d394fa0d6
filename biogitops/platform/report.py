"""What `invoke bootstrap` and `invoke status` print, built from a run's result or the live cluster.

from biogitops.console import show
from biogitops.platform.report import bootstrap_report, status_report
show(status_report(Target("dev", "kwok")))              # `invoke status --env dev --provider kwok`
check_status(Target("dev", "kwok"), lab="genomics")    # `invoke status ... --lab genomics --check`
show(bootstrap_report(result, provider="kwok"))         # after Bootstrap(...).run()
"""

from __future__ import annotations

import time
from typing import Any

from biogitops.cluster.kwok.argocd import NAMESPACE
from biogitops.cluster.target import Target
from biogitops.console import Report, Table
from biogitops.errors import BioGitopsError
from biogitops.platform.bootstrap import HEALTHY, UNREACHABLE, Result, app_state, live_states
from biogitops.platform.labfiles import live_broken_lab_files
from biogitops.platform.orphans import ORPHAN_COLUMNS, live_orphans


def bootstrap_report(result: Result, provider: str | None = None) -> Report:
    """The Applications table of a finished bootstrap, why some are not healthy, and where to look
    next (`provider`: the --provider given, repeated in the commands it suggests)."""
    env = result.provider.settings.env
    upstream = set(result.graph.upstream())
    rows = [
        [
            name,
            result.graph.applications[name]["spec"].get("project", ""),
            state,
            "upstream" if name in upstream else "first-party",
        ]
        for name, state in sorted(result.states.items())
    ]
    report = Report()
    report.add(Table(f"bio-gitops {env} ({result.provider.name})", ["application", "project", "state", "source"], rows))
    unreachable = [n for n, s in result.states.items() if s == UNREACHABLE]
    blocked = [n for n, s in result.states.items() if s.startswith("blocked: ")]
    if unreachable:
        report.add(
            f"{len(unreachable)} upstream-chart Application(s) cannot reach their chart repository "
            "from here"
            + (f", and {len(blocked)} need one of them running ({', '.join(blocked)})" if blocked else "")
            + "; every other first-party Application is Synced and Healthy."
        )
    report.add(f"steps: {', '.join(f'{k} {v:.0f}s' for k, v in result.timings.items())}")
    report.add(f"Argo CD: `invoke argocd.ui --env {env}" + (f" --provider {provider}`" if provider else "`"))
    report.add(
        f"Grafana: kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80 "
        f"(once kube-prometheus-stack is synced); Argo CD namespace: {NAMESPACE}"
    )
    return report


LAB_LABEL = "bio-gitops.io/lab"


def lab_rows(apps: list[dict[str, Any]], lab: str) -> list[dict[str, Any]]:
    """A lab's Applications: its tenancy Application `lab-<lab>` and its apps (labelled with the lab)."""
    return [
        a
        for a in apps
        if a["metadata"]["name"] == f"lab-{lab}" or (a["metadata"].get("labels") or {}).get(LAB_LABEL) == lab
    ]


def _problems(target: Any, lab: str | None) -> tuple[list[str], int, int]:
    """What is not as the runbooks promise: (problems, Applications looked at, SealedSecrets looked at)."""
    apps = target.kubectl.json("-n", NAMESPACE, "get", "applications.argoproj.io")["items"]
    if lab:
        apps = lab_rows(apps, lab)
        if not apps:
            return [f"no Application of lab {lab} in the cluster (is clusters/<env>/labs/{lab}.yaml deployed?)"], 0, 0
    problems = []
    for a in sorted(apps, key=lambda a: a["metadata"]["name"]):
        state = app_state(a)
        if state != HEALTHY and state != UNREACHABLE and not state.startswith("blocked: "):
            problems.append(f"Application {a['metadata']['name']}: {state}")
    sealed: list[dict[str, Any]] = []
    if not lab and target.kubectl.ok("get", "crd", "sealedsecrets.bitnami.com"):
        sealed = target.kubectl.json("get", "sealedsecrets.bitnami.com", "-A")["items"]
        for item in sealed:
            conditions = (item.get("status") or {}).get("conditions") or []
            synced = next((c for c in conditions if c.get("type") == "Synced"), None)
            if not synced or synced.get("status") != "True":
                meta = item["metadata"]
                why = (synced or {}).get("message") or "not unsealed yet"
                problems.append(f"SealedSecret {meta['namespace']}/{meta['name']}: {why}")
    return problems, len(apps), len(sealed)


def check_status(target: Any, lab: str | None = None, wait_s: float = 0) -> list[str]:
    """What `invoke status --check` proves, waiting up to `wait_s` for it: every Application (of
    `lab`, when given: at least one) Synced/Healthy, upstream ones whose chart is unreachable from
    here excepted, and (without `lab`) every SealedSecret opened. Raises, naming each one that is
    not; returns the lines to print when all are."""
    deadline = time.monotonic() + wait_s
    while True:
        problems, apps, sealed = _problems(target, lab)
        if not problems:
            what = f"lab {lab}'s {apps} Application(s)" if lab else f"{apps} Application(s)"
            lines = [f"{what}: Synced/Healthy (or upstream and unreachable from here)"]
            if not lab:
                lines.append(f"{sealed} SealedSecret(s): every one opened")
            return lines
        if time.monotonic() >= deadline:
            raise BioGitopsError(
                f"{len(problems)} not as expected: " + "; ".join(problems),
                "see runbooks/lab-sync-stuck.md for Applications, runbooks/alerts/SealedSecretsUnsealErrors.md "
                "for SealedSecrets",
            )
        time.sleep(3)


def status_report(target: Target, lab: str | None = None) -> Report:
    """The Applications of the target's cluster right now (of one lab, when given), and labs whose
    file is gone but whose data is kept (what `invoke status` prints)."""
    env = target.env
    rows = [list(row) for row in live_states(target)]
    if lab:
        rows = [r for r in rows if r[0] == f"lab-{lab}" or r[0].startswith(f"lab-{lab}-")]
    report = Report([Table(f"bio-gitops {env}", ["application", "project", "state"], rows)])
    broken = live_broken_lab_files(target)
    if broken:
        rows = [list(b) for b in broken]
        report.add(Table("broken lab files (each stops only its own lab)", ["lab file", "refused because"], rows))
        report.add(f"fix the file (preflight shows the same: `invoke bootstrap --env {env}`), or remove it")
    orphans = live_orphans(target)
    if orphans:
        report.add(
            Table(f"labs without a lab file in clusters/{env}/labs/", ORPHAN_COLUMNS, [o.row() for o in orphans])
        )
        report.add(f"to delete one and its data: `invoke lab.offboard NAME --env {env}`")
    return report
