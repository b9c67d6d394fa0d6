"""What `invoke bootstrap` and `invoke status` print, built from a run's result or the live cluster.

from biogitops.console import show
from biogitops.platform.report import bootstrap_report, status_report
show(status_report(Target("dev", "kwok")))              # `invoke status --env dev --provider kwok`
show(bootstrap_report(result, provider="kwok"))         # after Bootstrap(...).run()
"""

from __future__ import annotations

from biogitops.cluster.kwok.argocd import NAMESPACE
from biogitops.cluster.target import Target
from biogitops.console import Report, Table
from biogitops.platform.bootstrap import UNREACHABLE, Result, live_states
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


def status_report(target: Target) -> Report:
    """The Applications of the target's cluster right now, and labs whose file is gone but whose
    data is kept (what `invoke status` prints)."""
    env = target.env
    rows = [list(row) for row in live_states(target)]
    report = Report([Table(f"bio-gitops {env}", ["application", "project", "state"], rows)])
    orphans = live_orphans(target)
    if orphans:
        report.add(
            Table(f"labs without a lab file in clusters/{env}/labs/", ORPHAN_COLUMNS, [o.row() for o in orphans])
        )
        report.add(f"to delete one and its data: `invoke lab.offboard NAME --env {env}`")
    return report
