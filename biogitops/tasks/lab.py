"""`invoke lab.*`: scaffold lab files."""

from __future__ import annotations

from invoke import task

from biogitops.console import console
from biogitops.labs import scaffold
from biogitops.paths import REPO_ROOT
from biogitops.tasks.common import friendly


@task(help={"name": "the lab's name (a DNS label; its namespace is lab-NAME)", "env": "environment"})
@friendly
def new(c, name, env="dev"):
    """Scaffold clusters/ENV/labs/NAME.yaml (valid, minimal); edit it, then `invoke bootstrap`."""
    path = scaffold(name, env)
    console.print(
        f"wrote {path.relative_to(REPO_ROOT)}; edit owners, quota and apps, then `invoke bootstrap --env {env}`"
    )
