"""Top-level tasks: `invoke bootstrap`, `invoke status`, `invoke graph`."""

from __future__ import annotations

from pathlib import Path

from invoke import task

from biogitops.cluster.target import Target
from biogitops.console import console, progress, show
from biogitops.paths import REPO_ROOT
from biogitops.platform import bootstrap as bs
from biogitops.platform.report import bootstrap_report, check_status, status_report
from biogitops.render.graph import environment_graph
from biogitops.tasks.cluster import HELP, OFFLINE_HELP
from biogitops.tasks.common import friendly


@task(
    help={
        **HELP,
        "stop_after": f"stop after this step ({', '.join(bs.STEPS)})",
        "timeout": "seconds to wait for Applications to settle",
        "timings": "also write each step's seconds to this JSON file (benchmarks)",
        "offline": OFFLINE_HELP,
    }
)
@friendly
def bootstrap(c, env="dev", provider=None, stop_after=None, timeout=900, timings=None, offline=False):
    """Bring up the platform for ENV: cluster, Argo CD, projects, ApplicationSets; idempotent."""
    target = Target(env, provider, offline=offline)
    console.print(f"provider: {target.provider.name} ({target.provider.reason})")
    if line := target.provider.images_line():
        console.print(line)
    with progress(f"bootstrap {env}") as update:
        result = bs.Bootstrap(target, update, timeout=float(timeout)).run(stop_after)
    if timings:
        result.write_timings(Path(timings))
    if stop_after and stop_after != "wait":
        console.print(f"stopped after step {stop_after}; run again to continue")
        return
    show(bootstrap_report(result, provider))


@task(
    help={
        **HELP,
        "lab": "only this lab's Applications (lab-LAB and its apps)",
        "check": "exit 1, naming each, unless every Application shown is Synced/Healthy (upstream ones "
        "unreachable from here excepted) and, without --lab, every SealedSecret opened",
        "wait": "with --check: seconds to wait for that before failing",
    }
)
@friendly
def status(c, env="dev", provider=None, lab=None, check=False, wait=0):
    """The Applications table of ENV's cluster, right now, and labs whose file is gone but whose data is kept."""
    target = Target(env, provider)
    show(status_report(target, lab))
    if check:
        for line in check_status(target, lab, float(wait)):
            console.print(line)


@task(help={"env": HELP["env"], "out": "file to write (default handbook/graph-<env>.md)"})
@friendly
def graph(c, env="dev", out=None):
    """Write a Mermaid diagram of projects, ApplicationSets, Applications and namespaces."""
    path = Path(out) if out else REPO_ROOT / f"handbook/graph-{env}.md"
    path.write_text(environment_graph(env))
    console.print(f"wrote {path}")
