"""The Sealed Secrets controller's keys on a cluster (the controller itself runs in the cluster, or
beside kwok: biogitops/cluster/kwok/sealedsecrets.py).

    prepare(provider, progress)              # bootstrap: active key (dev), CRD + local controller (kwok)
    fetch_cert(provider)                     # the controller's current certificate (PEM)
    backup_keys(provider, out) / restore_keys(provider, file)
    rotate(provider, progress)               # `invoke secrets.rotate-key`: rotate_key, then dev's credentials
"""

from __future__ import annotations

import datetime
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from biogitops.cluster.base import Provider
from biogitops.cluster.kube import Kubectl
from biogitops.cluster.kwok.sealedsecrets import CRD, module_path
from biogitops.config.labs import load_labs
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT, cache_dir
from biogitops.render import sealing
from biogitops.toolchain import tools

NAMESPACE = sealing.CONTROLLER_NAMESPACE


def _quiet(_: str) -> None:
    pass


# ---------------------------------------------------------------- cluster operations


def key_secret_name(pair: sealing.KeyPair) -> str:
    fp = sealing.fingerprint(sealing.load_cert(pair.cert))
    return f"sealed-secrets-key-dev-{fp.removeprefix('sha256:')[:10]}"


def ensure_namespace(kubectl: Kubectl) -> None:
    # the platform Application manages it later (clusters/base/namespaces/sealed-secrets.yaml)
    manifest = yaml.safe_load((REPO_ROOT / "clusters/base/namespaces/sealed-secrets.yaml").read_text())
    kubectl.apply_text(yaml.safe_dump(manifest))


def install_dev_key(provider: Provider, progress=_quiet) -> str:
    """This machine's dev key as an active controller key (idempotent); returns the Secret's name."""
    pair = sealing.ensure_dev_key(progress)
    kubectl = provider.kubectl()
    ensure_namespace(kubectl)
    name = key_secret_name(pair)
    kubectl.apply_text(yaml.safe_dump(sealing.key_secret(pair, name)))
    return name


def restart_controller(provider: Provider, progress=_quiet) -> None:
    """Make the controller read its keys again (it loads them when it starts)."""
    if (local := provider.local_sealed_secrets()) is not None:
        local.stop()
        local.start(progress)
        return
    kubectl = provider.kubectl()
    deploy = f"deployment/{sealing.CONTROLLER_NAME}"
    if not kubectl.ok("-n", NAMESPACE, "get", deploy):
        # not deployed (yet; offline its chart is unreachable): it reads the key when it starts
        progress(f"{sealing.CONTROLLER_NAME} is not running in {NAMESPACE}: it loads the key when it starts")
        return
    kubectl.run("-n", NAMESPACE, "rollout", "restart", deploy)
    kubectl.run("-n", NAMESPACE, "rollout", "status", deploy, "--timeout=180s", timeout=200)


def prepare(provider: Provider, labs: list[Any], progress=_quiet) -> None:
    """Bootstrap's part: dev gets this machine's key as the active one before any controller
    starts, and its labs' app credentials sealed with it; kwok gets the CRD and a local controller."""
    env = provider.settings.env
    if env == "dev":
        install_dev_key(provider, progress)
        seal_lab_credentials(env, labs, progress)
    if (local := provider.local_sealed_secrets()) is not None:
        kubectl = provider.kubectl()
        kubectl.apply_file(module_path(CRD))
        kubectl.wait_crd("sealedsecrets.bitnami.com")
        local.start(progress)


def seal_lab_credentials(env: str, labs: list[Any], progress=_quiet) -> list[Path]:
    """Seal, with the current certificate, the credentials each lab's apps need where they are not
    sealed with it yet (sealing.ensure_app_credentials); returns the files written."""
    written: list[Path] = []
    for lab in labs:
        for app in lab.apps:
            if sealing.app_credentials(app):
                written += sealing.ensure_app_credentials(env, lab.name, app, progress=progress)
    return written


def fetch_cert(provider: Provider) -> bytes:
    """The controller's current certificate: from the local process on kwok, else through kubeseal."""
    if (local := provider.local_sealed_secrets()) is not None:
        return local.cert()
    cmd = [
        str(tools.which("kubeseal")),
        "--fetch-cert",
        "--controller-name",
        sealing.CONTROLLER_NAME,
        "--controller-namespace",
        NAMESPACE,
    ]
    if provider.kubeconfig():
        cmd += ["--kubeconfig", str(provider.kubeconfig())]
    if provider.context:
        cmd += ["--context", provider.context]
    proc = subprocess.run(cmd, capture_output=True, timeout=60, env=tools.env_with_tools())
    if proc.returncode != 0:
        last = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kubeseal --fetch-cert failed: {last}", f"is the controller running in {NAMESPACE}?")
    return proc.stdout


def write_cert(env: str, pem: bytes) -> Path:
    """Check a fetched certificate is `env`'s, then write secrets/<env>/cert.pem."""
    path = sealing.cert_path(env)
    tmp = path.with_suffix(".fetched")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_bytes(pem)
    try:
        sealing.check_cert(env, path, sealing.load_cert(tmp))
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def backups_dir(env: str) -> Path:
    return cache_dir() / "secrets" / env / "backups"


def check_backup_path(out: Path) -> Path:
    out = out.resolve()
    if out.is_relative_to(REPO_ROOT.resolve()):
        raise ConfigError(f"{out}: inside the repository", "private keys never go near git: choose a path outside it")
    return out


def backup_keys(provider: Provider, out: Path | None = None) -> tuple[Path, int]:
    """Every sealing key of the controller into one file (0600), outside the repository."""
    env = provider.settings.env
    out = check_backup_path(out or backups_dir(env) / f"keys-{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}.yaml")
    kubectl = provider.kubectl()
    items = kubectl.json("-n", NAMESPACE, "get", "secrets", "-l", sealing.KEY_LABEL)["items"]
    if not items:
        raise BioGitopsError(f"no sealing keys in namespace {NAMESPACE}", "is the controller installed and started?")
    keep = ("name", "namespace", "labels", "annotations")
    clean = [
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": s["type"],
            "metadata": {k: v for k, v in s["metadata"].items() if k in keep},
            "data": s["data"],
        }
        for s in items
    ]
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": clean}, handle, sort_keys=False)
    return out, len(clean)


def read_backup(path: Path) -> list[dict[str, Any]]:
    """The key Secrets in a backup file; anything else in it is refused."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        raise ConfigError(f"{path}: not YAML") from None
    items = data.get("items") if isinstance(data, dict) else None
    if not items:
        raise ConfigError(f"{path}: no key Secrets (expected a List written by invoke secrets.backup-key)")
    for item in items:
        meta = item.get("metadata") or {}
        if item.get("kind") != "Secret" or item.get("type") != "kubernetes.io/tls":
            raise ConfigError(f"{path}: {meta.get('name')}: not a kubernetes.io/tls Secret")
        if sealing.KEY_LABEL not in (meta.get("labels") or {}) or not {"tls.crt", "tls.key"} <= set(item["data"]):
            raise ConfigError(f"{path}: {meta.get('name')}: not a sealing key (label {sealing.KEY_LABEL}, tls.crt/key)")
        meta["namespace"] = NAMESPACE
    return items


def restore_keys(provider: Provider, path: Path, progress=_quiet) -> int:
    """Put backed-up keys back (a rebuilt cluster), then restart the controller so it loads them."""
    items = read_backup(path)
    kubectl = provider.kubectl()
    ensure_namespace(kubectl)
    kubectl.apply_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": items}))
    restart_controller(provider, progress)
    return len(items)


def rotate_key(provider: Provider, progress=_quiet) -> str:
    """A new active sealing key; the old ones stay, so what they sealed still opens.

    dev: a new key pair in the cache (the old one kept beside it), installed, and the dev app
    credentials sealed again with it. Elsewhere: the controller makes the key itself (key
    cutoff now), and the new certificate is fetched into secrets/<env>/cert.pem.
    """
    env = provider.settings.env
    if env == "dev":
        directory = sealing.dev_key_dir()
        old = directory / "previous" / f"{datetime.datetime.now(datetime.UTC):%Y%m%dT%H%M%SZ}"
        old.mkdir(parents=True, mode=0o700)
        for name in ("tls.key", "tls.crt"):
            if (directory / name).is_file():
                (directory / name).rename(old / name)
        name = install_dev_key(provider, progress)
        restart_controller(provider, progress)
        return name
    kubectl = provider.kubectl()
    cutoff = datetime.datetime.now(datetime.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")
    deploy = f"deployment/{sealing.CONTROLLER_NAME}"
    kubectl.run("-n", NAMESPACE, "set", "env", deploy, f"SEALED_SECRETS_KEY_CUTOFF_TIME={cutoff}")
    kubectl.run("-n", NAMESPACE, "rollout", "status", deploy, "--timeout=180s", timeout=200)
    time.sleep(2)
    return str(write_cert(env, fetch_cert(provider)))


@dataclass
class Rotation:
    """What `rotate` did: the new key, the credentials sealed again with it, what is left to do."""

    key: str
    resealed: list[Path] = field(default_factory=list)
    next_step: str = ""


def rotate(provider: Provider, progress=_quiet) -> Rotation:
    """`invoke secrets.rotate-key`: a new active key (rotate_key); then dev's lab app credentials
    sealed again with it, or, elsewhere, the certificate to commit."""
    env = provider.settings.env
    key = rotate_key(provider, progress)
    if env == "dev":
        return Rotation(key, seal_lab_credentials(env, load_labs(env), progress))
    return Rotation(key, next_step=f"commit {sealing.cert_path(env)}; seal new values with it from now on")
