"""`invoke secrets.*`: seal credentials for an environment, and look after the controller's keys.

    invoke secrets.seal --env staging --namespace lab-genomics --name s3 --keys access-key,secret-key
    invoke secrets.seal --env dev --namespace lab-genomics --name s3 --from-file ~/s3.yaml --out x.yaml
    invoke secrets.app-credentials --env dev --lab genomics --app galaxy
    invoke secrets.fetch-cert --env staging
    invoke secrets.check
    invoke secrets.backup-key --env dev / secrets.restore-key --env dev --file F / secrets.rotate-key --env dev

Values come from a file or a hidden prompt, never from the command line, and are never printed.
"""

from __future__ import annotations

import getpass
from pathlib import Path

from invoke import task

from biogitops.cluster.target import Target
from biogitops.config.settings import known_envs
from biogitops.console import console, progress
from biogitops.errors import ConfigError
from biogitops.render import sealing
from biogitops.tasks.common import friendly

ENV = {"env": "environment: a folder under clusters/ (dev, staging, prod)"}
HELP = {**ENV, "provider": "kind | kwok | existing (default: the environment's settings.yaml)"}
REFUSED = "refused: secret values are never taken from the command line"


def _required(task: str, **given: str | None) -> None:
    missing = [f"--{flag}" for flag, value in given.items() if not value]
    if missing:
        raise ConfigError(f"{', '.join(missing)}: required", f"invoke secrets.{task} --help")


def _provider(task: str, env: str | None, provider: str | None):
    _required(task, env=env)
    return Target(env, provider).provider  # type: ignore[arg-type]


@task(
    help={
        **ENV,
        "namespace": "the namespace the Secret is for (it opens nowhere else)",
        "name": "the Secret's name",
        "from_file": "a YAML file of key: value to seal (instead of prompting)",
        "keys": "comma-separated key names to prompt for, hidden (e.g. username,password)",
        "type": "Secret type: Opaque (default) or kubernetes.io/basic-auth",
        "out": "write the SealedSecret here (default: print it; it holds no readable value)",
        "value": REFUSED,
        "literal": REFUSED,
        "from_literal": REFUSED,
    }
)
@friendly
def seal(
    c,
    env=None,
    namespace=None,
    name=None,
    from_file=None,
    keys="",
    type="Opaque",
    out=None,
    value=None,
    literal=None,
    from_literal=None,
):
    """Seal values for one Secret with the environment's certificate, offline (kubeseal --cert)."""
    sealing.refuse_command_line_value(value=value, literal=literal, from_literal=from_literal)
    _required("seal", env=env, namespace=namespace, name=name)
    key_names = sealing.check_keys([k.strip() for k in keys.split(",") if k.strip()])
    if from_file and key_names:
        raise ConfigError("--from-file and --keys: give one of them")
    if from_file:
        values = sealing.read_values_file(Path(from_file).expanduser())
    elif key_names:
        values = {k: getpass.getpass(f"{k} for {namespace}/{name} (hidden): ") for k in key_names}
        empty = [k for k, v in values.items() if not v]
        if empty:
            raise ConfigError(f"{', '.join(empty)}: empty value", "type a value at the prompt")
    else:
        raise ConfigError("nothing to seal", "pass --from-file FILE or --keys k1,k2 (prompted, hidden)")
    text = sealing.seal_to(Path(out) if out else None, env, namespace, name, values, type)
    if out:
        console.print(f"sealed {namespace}/{name} ({', '.join(sorted(values))}) for {env}: {out}")
    else:
        print(text, end="")


@task(
    name="app-credentials",
    help={
        **ENV,
        "lab": "the lab (namespace lab-<lab>)",
        "app": "the app whose extras/credentials.yaml lists what it needs (default galaxy)",
        "regenerate": "seal new random values even where current ones exist",
    },
)
@friendly
def app_credentials(c, env=None, lab=None, app="galaxy", regenerate=False):
    """Seal random credentials an app needs in a lab namespace, beside the app (extras/sealed/)."""
    _required("app-credentials", env=env, lab=lab)
    if not sealing.app_credentials(app):
        raise ConfigError(f"applications/{app}/extras/credentials.yaml: missing", f"{app} declares no credentials")
    written = sealing.ensure_app_credentials(env, lab, app, regenerate=regenerate, progress=console.print)
    for path in written:
        console.print(f"wrote {path}")
    if not written:
        console.print(f"{app} credentials for lab-{lab} ({env}) are current")


@task(name="fetch-cert", help=HELP)
@friendly
def fetch_cert(c, env=None, provider=None):
    """Write secrets/<env>/cert.pem from the environment's running controller (checked to be env's)."""
    from biogitops.platform import sealkeys

    prov = _provider("fetch-cert", env, provider)
    path = sealkeys.write_cert(env, sealkeys.fetch_cert(prov))
    console.print(f"{env} certificate {sealing.fingerprint(sealing.load_cert(path))}: {path}")


@task(help={"env": "one environment (default: all)"})
@friendly
def check(c, env=None):
    """Check every SealedSecret in the repository: its namespace's folder, strict scope, env's certificate."""
    for name in [env] if env else known_envs():
        count = sealing.check_sealed(name)
        console.print(f"{name}: {count} SealedSecret(s) ok")


@task(name="backup-key", help={**HELP, "out": "file to write (default: the cache, never the repository)"})
@friendly
def backup_key(c, env=None, provider=None, out=None):
    """Export the controller's sealing keys (private!) to a 0600 file outside the repository."""
    from biogitops.platform import sealkeys

    prov = _provider("backup-key", env, provider)
    path, count = sealkeys.backup_keys(prov, Path(out).expanduser() if out else None)
    console.print(f"{count} sealing key(s) of {env} written to {path} (mode 0600): store it offline")


@task(name="restore-key", help={**HELP, "file": "a file written by secrets.backup-key"})
@friendly
def restore_key(c, env=None, file=None, provider=None):
    """Put backed-up sealing keys into a (rebuilt) cluster and restart the controller to load them."""
    from biogitops.platform import sealkeys

    _required("restore-key", file=file)
    prov = _provider("restore-key", env, provider)
    with progress("restoring sealing keys") as update:
        count = sealkeys.restore_keys(prov, Path(file).expanduser(), update)
    console.print(f"{count} sealing key(s) restored into {env}; the controller reloaded them")


@task(name="rotate-key", help=HELP)
@friendly
def rotate_key(c, env=None, provider=None):
    """Make a new active sealing key (old keys stay, so existing SealedSecrets still open)."""
    from biogitops.platform import sealkeys

    prov = _provider("rotate-key", env, provider)
    with progress("rotating the sealing key") as update:
        rotation = sealkeys.rotate(prov, update)
    console.print(f"new sealing key for {env}: {rotation.key}")
    for path in rotation.resealed:
        console.print(f"sealed again: {path}")
    if rotation.next_step:
        console.print(rotation.next_step)
