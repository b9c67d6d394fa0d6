"""`invoke doctor`: what this machine has and lacks for kwok and kind (biogitops/cluster/doctor.py).

invoke doctor                      # the table; exit 1 when dev's provider cannot run here
invoke doctor --env dev --provider kind
"""

from __future__ import annotations

from invoke import task

from biogitops.cluster import doctor as checks
from biogitops.cluster import get_provider
from biogitops.cluster.target import Target
from biogitops.console import console, table
from biogitops.tasks.cluster import HELP
from biogitops.tasks.common import friendly


@task(help=HELP)
@friendly
def doctor(c, env="dev", provider=None):
    """One table of what this machine has and lacks for each provider, with the fixes; exit 1 when
    the chosen provider cannot run here (the same checks as bootstrap's preflight)."""
    target = Target(env, provider)
    providers = [get_provider(target.settings, name) for name in (checks.KWOK, checks.KIND)]
    found = checks.merge(*(checks.provider_checks(p) for p in providers))
    names = [p.name for p in providers]
    table(f"this machine, for env {env}", ["check", "found", *names, "fix"], checks.table(found, names))
    chosen = target.provider
    if chosen.name not in names:
        found = checks.provider_checks(chosen)
    checks.require(found, chosen.name)
    console.print(f"{chosen.name} can run here ({chosen.reason})")
