"""Top-level tasks: `invoke bootstrap`, `invoke status`, `invoke graph`."""

from __future__ import annotations

from pathlib import Path

from invoke import task

from biogitops.cluster.kwok.argocd import NAMESPACE
from biogitops.config.labs import load_labs
from biogitops.config.pins import load_pins
from biogitops.config.settings import load_settings
from biogitops.console import console, progress, table
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.platform.orphans import ORPHAN_COLUMNS, live_orphans
from biogitops.render.graph import mermaid
from biogitops.render.manifests import bootstrap_values, expected_graph, render_bootstrap, root_application
from biogitops.tasks.cluster import HELP
from biogitops.tasks.common import friendly


@task(
    help={
        **HELP,
        "stop_after": f"stop after this step ({', '.join(bs.STEPS)})",
        "timeout": "seconds to wait for Applications to settle",
    }
)
@friendly
def bootstrap(c, env="dev", provider=None, stop_after=None, timeout=900):
    """Bring up the platform for ENV: cluster, Argo CD, projects, ApplicationSets; idempotent."""
    run = bs.Bootstrap(env, provider, timeout=float(timeout))
    console.print(f"provider: {run.provider.name} ({run.provider.reason})")
    with progress(f"bootstrap {env}") as update:
        run.progress = update
        result = run.run(stop_after)
    if stop_after and stop_after != "wait":
        console.print(f"stopped after step {stop_after}; run again to continue")
        return
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
    table(f"bio-gitops {env} ({result.provider.name})", ["application", "project", "state", "source"], rows)
    unreachable = [n for n, s in result.states.items() if s == bs.UNREACHABLE]
    blocked = [n for n, s in result.states.items() if s.startswith("blocked: ")]
    if unreachable:
        console.print(
            f"{len(unreachable)} upstream-chart Application(s) cannot reach their chart repository "
            "from here"
            + (f", and {len(blocked)} need one of them running ({', '.join(blocked)})" if blocked else "")
            + "; every other first-party Application is Synced and Healthy."
        )
    console.print(f"steps: {', '.join(f'{k} {v:.0f}s' for k, v in result.timings.items())}")
    console.print(f"Argo CD: `invoke argocd.ui --env {env}" + (f" --provider {provider}`" if provider else "`"))
    console.print(
        f"Grafana: kubectl -n monitoring port-forward svc/kube-prometheus-stack-grafana 3000:80 "
        f"(once kube-prometheus-stack is synced); Argo CD namespace: {NAMESPACE}"
    )


@task(help=HELP)
@friendly
def status(c, env="dev", provider=None):
    """The Applications table of ENV's cluster, right now, and labs whose file is gone but whose data is kept."""
    rows = [list(r) for r in bs.live_states(env, provider)]
    table(f"bio-gitops {env}", ["application", "project", "state"], rows)
    orphans = live_orphans(env, provider)
    if orphans:
        table(f"labs without a lab file in clusters/{env}/labs/", ORPHAN_COLUMNS, [o.row() for o in orphans])
        console.print(f"to delete one and its data: `invoke lab.offboard NAME --env {env}`")


@task(help={"env": HELP["env"], "out": "file to write (default handbook/graph-<env>.md)"})
@friendly
def graph(c, env="dev", out=None):
    """Write a Mermaid diagram of projects, ApplicationSets, Applications and namespaces."""
    path = Path(out) if out else REPO_ROOT / f"handbook/graph-{env}.md"
    path.write_text(render_graph(env))
    console.print(f"wrote {path}")


def render_graph(env: str) -> str:
    settings = load_settings(env)
    values = bootstrap_values(settings, load_pins(), f"<{env} repository>", settings.repo_revision)
    if settings.repo_url != "local":
        values["repoURL"] = settings.repo_url
    labs = load_labs(env)
    objs = [*render_bootstrap(values), root_application(values)]
    return mermaid(expected_graph(settings, labs, objs, values), env)
