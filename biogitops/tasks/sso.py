"""`invoke sso.*`: dev's identity provider (Keycloak beside kwok or kind), its test users and their tokens.

    invoke sso.users --env dev                          # every user and its groups
    invoke sso.token --env dev --user genomics-member   # an ID token, for kubectl and the Argo CD CLI
    invoke sso.sync --env dev                           # the realm again from the lab files
    export KUBECONFIG=$(invoke sso.kubeconfig --env dev --user genomics-member)
    kubectl -n lab-genomics get pods                    # as genomics-member; lab-proteomics: Forbidden

`kubectl --token` beside the cluster's own kubeconfig is not that user: that kubeconfig holds the
admin's client certificate, which the API server takes over any token.

The users are `<lab>-owner`, `<lab>-member` for every lab file and `platform-admin`; their
passwords are generated on this machine and kept 0600 in the cluster's state directory.
"""

from __future__ import annotations

import json
import sys

import yaml
from invoke import task

from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.console import console, progress
from biogitops.errors import ConfigError
from biogitops.paths import REPO_ROOT
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
            "sign in through the organisation's issuer; dev runs its own (`invoke bootstrap --env dev`)",
        )
    if not idp.ready():
        raise ConfigError(
            f"the identity provider of {env} does not answer at {idp.issuer}",
            f"start it with `invoke bootstrap --env {env}`; its log: {idp.log_hint}",
        )
    return sso.Realm(idp)


@task(
    help={
        **HELP,
        "user": "a user of `invoke sso.users`, e.g. genomics-member",
        "exec_credential": "print it as kubectl's exec plugins do (what `invoke sso.kubeconfig` runs)",
    }
)
@friendly
def token(c, user, env="dev", provider=None, exec_credential=False):
    """Print an ID token of a test user (valid five minutes)."""
    id_token = _realm(env, provider).token(user)
    print(json.dumps(sso.exec_credential(id_token)) if exec_credential else id_token)


@task(help={**HELP, "user": "a user of `invoke sso.users`, e.g. genomics-member"})
@friendly
def kubeconfig(c, user, env="dev", provider=None):
    """Write a kubeconfig that is USER alone (a fresh token on each expiry) and print its path."""
    realm = _realm(env, provider)
    realm.token(user)  # an unknown user stops here, naming the known ones
    target = Target(env, provider)  # type: ignore[arg-type]
    command = [sys.executable, "-m", "invoke", "--search-root", str(REPO_ROOT), "sso.token"]
    command += ["--env", env, "--provider", target.provider.name, "--user", user, "--exec-credential"]
    config = sso.user_kubeconfig(target.provider.kubeconfig(), user, command)
    path = realm.idp.home / f"kubeconfig-{user}.yaml"
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    print(path)


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
