"""`invoke lab.*`: scaffold lab files; offboard a lab whose file is gone."""

from __future__ import annotations

from invoke import task

from biogitops.cluster.target import Target
from biogitops.config.labs import scaffold
from biogitops.console import console
from biogitops.paths import REPO_ROOT
from biogitops.platform.offboard import offboard as offboard_lab
from biogitops.tasks.cluster import HELP
from biogitops.tasks.common import friendly


@task(help={"name": "the lab's name (a DNS label; its namespace is lab-NAME)", "env": "environment"})
@friendly
def new(c, name, env="dev"):
    """Scaffold clusters/ENV/labs/NAME.yaml (valid, minimal); edit it, then `invoke bootstrap`."""
    path = scaffold(name, env)
    console.print(
        f"wrote {path.relative_to(REPO_ROOT)}; edit owners, quota and apps, then `invoke bootstrap --env {env}`"
    )


@task(
    help={
        **HELP,
        "name": "the lab to delete (its file must already be removed and synced)",
        "yes": "do not ask for the lab's name (needed when stdin is not a terminal)",
        "out": "export file (default out/offboard/<env>-<lab>-<UTC time>.yaml)",
        "timeout": "seconds to wait for each deletion step",
    }
)
@friendly
def offboard(c, name, env="dev", provider=None, yes=False, out=None, timeout=300):
    """Delete lab NAME and its data: show what goes, export its objects, confirm, delete."""
    offboard_lab(Target(env, provider), name, yes=yes, out=out, timeout=float(timeout))
