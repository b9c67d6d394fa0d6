"""`invoke release.*`: promote staging or prod to a commit (the pull request is the promotion)."""

from __future__ import annotations

from invoke import task

from biogitops.config.settings import promote as promote_env
from biogitops.console import console
from biogitops.paths import REPO_ROOT
from biogitops.tasks.common import friendly


@task(help={"env": "staging or prod", "sha": "the full 40-hex commit SHA to follow (git rev-parse <commit>)"})
@friendly
def promote(c, env, sha):
    """Point ENV at commit SHA (clusters/ENV/settings.yaml repo.revision); commit it as a pull request."""
    path = promote_env(env, sha)
    console.print(f"wrote {path.relative_to(REPO_ROOT)}: {env} follows {sha}; open a pull request with it")
