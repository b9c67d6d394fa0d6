"""`invoke ci.*`: keep the GitHub workflow copies of ci/actions/ in step."""

from __future__ import annotations

from invoke import task

from biogitops.checks import workflows
from biogitops.tasks.common import friendly


@task
@friendly
def sync(c):
    """Copy ci/actions/*.yml to .github/workflows/ (GitHub runs reusable workflows only there)."""
    written = workflows.sync()
    for path in written:
        print(f"wrote {path.relative_to(workflows.REPO_ROOT)}")
    if not written:
        print(".github/workflows/ is up to date with ci/actions/")
