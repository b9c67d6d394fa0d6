"""`invoke sso.*`: dev's identity provider (Keycloak beside kwok), its test users and their tokens.

    invoke sso.users --env dev                          # every user and its groups
    invoke sso.token --env dev --user genomics-member   # an ID token, for kubectl and the Argo CD CLI
    invoke sso.sync --env dev                           # the realm again from the lab files
    kubectl --token "$(invoke sso.token --env dev --user genomics-member)" -n lab-genomics get pods

The users are `<lab>-owner`, `<lab>-member` for every lab file and `platform-admin`; their
passwords are generated on this machine and kept 0600 in the cluster's state directory.
"""

from __future__ import annotations

from invoke import task

from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.console import console, progress
from biogitops.errors import ConfigError
from biogitops.platform import sso
from biogitops.tasks.common import friendly

HELP = {
    "env": "environment: a folder under clusters/ (dev: the one with its own identity provider)",
    "provider": "kind | kwok (default: the environment's settings.yaml)",
}


def _realm(env: str, provider: str | None) -> sso.Realm:
    target = Target(env, provider)  # type: ignore[arg-type]
    idp = target.provider.identity()
    if idp is None:
        raise ConfigError(
            f"{env} on {target.provider.name} has no identity provider of its own (settings.yaml sso.issuer)",
            "sign in through the organisation's issuer; dev on kwok runs its own (`invoke bootstrap --env dev`)",
        )
    if not idp.ready():
        raise ConfigError(
            f"the identity provider of {env} does not answer at {idp.issuer}",
            f"start it with `invoke bootstrap --env {env}`; its log: {idp.logfile}",
        )
    return sso.Realm(idp)


@task(help={**HELP, "user": "a user of `invoke sso.users`, e.g. genomics-member"})
@friendly
def token(c, user, env="dev", provider=None):
    """Print an ID token of a test user (valid five minutes)."""
    print(_realm(env, provider).token(user))


@task(help=HELP)
@friendly
def users(c, env="dev", provider=None):
    """List the identity provider's users and their groups."""
    for user, groups in _realm(env, provider).users().items():
        console.print(f"{user:24} {', '.join(groups) or '-'}")


@task(help=HELP)
@friendly
def sync(c, env="dev", provider=None):
    """Make the realm's groups and test users match the lab files (bootstrap does it too)."""
    with progress("identity provider") as report:
        changes = _realm(env, provider).sync(load_labs(env), report)
    if not any(changes.values()):
        console.print("identity provider: groups and users match the lab files")
