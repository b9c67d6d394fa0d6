"""`invoke spark.install-operator|run|logs`: Spark jobs in a lab's namespace (biogitops/platform/spark.py)."""

from __future__ import annotations

import sys

from invoke import task

from biogitops.cluster.target import Target
from biogitops.console import console
from biogitops.platform import spark
from biogitops.tasks.common import friendly

HELP = {"env": "environment", "lab": "lab name (namespace lab-LAB)", "provider": "kind | kwok | existing"}


@task(name="install-operator", help={"env": HELP["env"], "provider": HELP["provider"]})
@friendly
def install_operator(c, env="dev", provider=None):
    """Install the Spark operator from its chart in the operator's Go module (where Argo CD cannot
    reach the chart repository), with our values; on kind with the image built here."""
    how = spark.install_operator(Target(env, provider))
    console.print(f"spark operator ready ({'Argo CD' if how == 'argocd' else 'chart from its Go module'})")


@task(
    help={
        **HELP,
        "app": f"the job to run: {', '.join(sorted(spark.APPS))}",
        "input": "a file on the lab's claim spark-data (/data/...); default: the app's bundled sample, staged first",
        "follow": "wait until the run ends (default true)",
        "timeout": "seconds to wait for the run to end",
    }
)
@friendly
def run(c, lab, app="wordcount", input="", env="dev", provider=None, follow=True, timeout=900):
    """Submit a Spark job in the lab's namespace, follow it, print its result; non-zero when it fails."""
    result = spark.run(Target(env, provider), lab, app, input, follow, float(timeout))
    for line in spark.report_lines(result, lab):
        console.print(line, markup=False, highlight=False)
    if (follow and result.state != "COMPLETED") or (result.state == "COMPLETED" and not result.counts):
        sys.exit(1)


@task(help={**HELP, "run": "the run's name (printed by spark.run; none: list the lab's runs)"})
@friendly
def logs(c, lab, run="", env="dev", provider=None):
    """The driver's log of a run (its pod stays after the run), or the lab's runs and their states."""
    target = Target(env, provider)
    if not run:
        for item in spark.runs(target, lab):
            console.print(f"{item['name']}  {item['state'] or '-'}")
        return
    console.print(spark.driver_log(target, lab, run), markup=False, highlight=False)
