"""Sealed Secrets, offline: per-environment certificates, the dev key pair, sealing with kubeseal.

    cert = env_cert("staging")                  # secrets/staging/cert.pem, checked to be staging's
    key = ensure_dev_key()                      # ~/.cache/bio-gitops/secrets/dev/tls.{key,crt}
    seal("dev", "lab-genomics", "galaxy-db", {"password": "..."})   # -> SealedSecret (dict)
    check_sealed("dev")                         # every committed SealedSecret matches dev's cert

A certificate belongs to an environment by its subject: CN=bio-gitops-<env> (the dev key is
generated with it; the controllers of staging and prod are started with `--my-cn` set to it,
secrets/sealed-secrets/values.<env>.yaml). Values reach kubeseal on its standard input only,
never through its arguments, a file, or our output.
"""

from __future__ import annotations

import base64
import datetime
import os
import secrets as pysecrets
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from biogitops.config.settings import known_envs
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT, cache_dir
from biogitops.toolchain import tools

SECRETS = REPO_ROOT / "secrets"
CONTROLLER_NAME = "sealed-secrets-controller"  # kubeseal's default --controller-name
CONTROLLER_NAMESPACE = "sealed-secrets"  # not kubeseal's default (kube-system): passed explicitly
KEY_LABEL = "sealedsecrets.bitnami.com/sealed-secrets-key"
SEALED_WITH = "bio-gitops.io/sealed-with"  # annotation: sha256 of the certificate that sealed it
SECRET_TYPES = {"Opaque", "kubernetes.io/basic-auth"}
# SealedSecrets of lab apps: <app>/extras/sealed/<env>/<namespace>/sealedsecret-<name>.yaml
SEALED_GLOB = "applications/*/extras/sealed/{env}/*/*.yaml"


def cert_cn(env: str) -> str:
    return f"bio-gitops-{env}"


def cert_path(env: str) -> Path:
    """secrets/<env>/cert.pem: committed for staging and prod; for dev, a copy of this machine's key."""
    return SECRETS / env / "cert.pem"


def dev_key_dir() -> Path:
    return cache_dir() / "secrets" / "dev"


# ---------------------------------------------------------------- certificates


def load_cert(path: Path) -> x509.Certificate:
    if not path.is_file():
        raise ConfigError(f"{path}: missing")
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError as err:
        raise ConfigError(f"{path}: not a PEM certificate ({err})") from None


def fingerprint(cert: x509.Certificate) -> str:
    return "sha256:" + cert.fingerprint(hashes.SHA256()).hex()


def cert_env(cert: x509.Certificate) -> str:
    """The environment a certificate names in its CN (bio-gitops-<env>), or ''."""
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    cn = str(names[0].value) if names else ""
    return cn.removeprefix("bio-gitops-") if cn.startswith("bio-gitops-") else ""


def check_cert(env: str, path: Path, cert: x509.Certificate) -> None:
    """Refuse a certificate that is not `env`'s: wrong CN, expired, or another environment's file."""
    named = cert_env(cert)
    if named != env:
        what = f"environment {named!r}" if named else f"no bio-gitops environment ({cert.subject.rfc4514_string()})"
        raise ConfigError(
            f"{path}: certificate is for {what}, not {env!r}",
            f"fetch {env}'s own: invoke secrets.fetch-cert --env {env}",
        )
    now = datetime.datetime.now(datetime.UTC)
    if cert.not_valid_after_utc < now:
        raise ConfigError(f"{path}: certificate expired on {cert.not_valid_after_utc:%Y-%m-%d}", "rotate the key")
    for other in known_envs():
        other_path = cert_path(other)
        if other != env and other_path.is_file() and fingerprint(load_cert(other_path)) == fingerprint(cert):
            raise ConfigError(f"{path}: same certificate as {other_path}", "each environment has its own key")


def env_cert(env: str) -> tuple[Path, x509.Certificate]:
    """The certificate to seal for `env`, checked. dev's comes from this machine's key pair."""
    if env == "dev":
        ensure_dev_key()
    path = cert_path(env)
    if not path.is_file():
        raise ConfigError(
            f"{path}: missing: {env} has no sealing certificate yet",
            f"with access to the {env} cluster run `invoke secrets.fetch-cert --env {env}` and commit the file",
        )
    cert = load_cert(path)
    check_cert(env, path, cert)
    return path, cert


# ---------------------------------------------------------------- the dev key pair


@dataclass(frozen=True)
class KeyPair:
    key: Path  # PEM private key (0600)
    cert: Path  # PEM certificate


def generate_key_pair(env: str, directory: Path, bits: int = 4096, days: int = 3650) -> KeyPair:
    """A new RSA key and self-signed certificate with CN=bio-gitops-<env>, as the controller makes."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cert_cn(env))])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False, False), critical=True)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pair = KeyPair(directory / "tls.key", directory / "tls.crt")
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )
    fd = os.open(pair.key.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    pair.key.with_suffix(".tmp").rename(pair.key)
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return pair


def ensure_dev_key(progress=print) -> KeyPair:
    """This machine's dev key pair (generated on first use, kept outside the repository), and
    secrets/dev/cert.pem as its public half (gitignored: every machine has its own)."""
    directory = dev_key_dir()
    pair = KeyPair(directory / "tls.key", directory / "tls.crt")
    if not (pair.key.is_file() and pair.cert.is_file()):
        progress(f"generating this machine's dev sealing key in {directory}")
        pair = generate_key_pair("dev", directory)
    public = cert_path("dev")
    if not public.is_file() or public.read_bytes() != pair.cert.read_bytes():
        public.parent.mkdir(parents=True, exist_ok=True)
        public.write_bytes(pair.cert.read_bytes())
    return pair


def key_secret(pair: KeyPair, name: str = "bio-gitops-dev-key") -> dict[str, Any]:
    """The controller's active key as the Secret it looks for (kubernetes.io/tls, labelled active)."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": {"name": name, "namespace": CONTROLLER_NAMESPACE, "labels": {KEY_LABEL: "active"}},
        "data": {
            "tls.crt": base64.b64encode(pair.cert.read_bytes()).decode(),
            "tls.key": base64.b64encode(pair.key.read_bytes()).decode(),
        },
    }


# ---------------------------------------------------------------- sealing


def refuse_command_line_value(**given: Any) -> None:
    """Secret values are never accepted as arguments: they would stay in shell history and in
    /proc/<pid>/cmdline, readable by every user of the machine."""
    for flag, value in given.items():
        if value not in (None, "", False):
            raise ConfigError(
                f"--{flag.replace('_', '-')}: secret values are not accepted on the command line",
                "put them in a file (--from-file, YAML key: value) or let the task prompt for them (hidden)",
            )


def read_values_file(path: Path) -> dict[str, str]:
    """A YAML mapping of key -> string value."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict) or not data:
        raise ConfigError(f"{path}: expected a mapping of key: value")
    out = {}
    for key, value in data.items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(f"{path}: {key}: value must be a string")
        out[str(key)] = str(value)
    return out


def check_keys(keys: list[str]) -> list[str]:
    for key in keys:
        if "=" in key:
            raise ConfigError(
                f"--keys: {key.split('=')[0]}=…: secret values are not accepted on the command line",
                "name only the keys; the task prompts for each value (hidden), or use --from-file",
            )
        if not key or not all(c.isalnum() or c in "-._" for c in key):
            raise ConfigError(f"--keys: {key!r} is not a valid Secret key (letters, digits, - . _)")
    return keys


class Interrupted(BioGitopsError):
    """SIGINT or SIGTERM arrived while sealing; temporary files were removed."""


@contextmanager
def _signals_raise() -> Iterator[None]:
    """Turn SIGTERM and SIGHUP into an exception (SIGINT already is one) so `finally` runs."""

    def handler(signum: int, _frame: Any) -> None:
        raise Interrupted(f"interrupted by signal {signal.Signals(signum).name}: nothing written")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, previous in old.items():
            signal.signal(sig, previous)


def seal(env: str, namespace: str, name: str, values: dict[str, str], secret_type: str = "Opaque") -> dict[str, Any]:
    """Seal `values` for namespace/name with `env`'s certificate (strict scope); returns the
    SealedSecret, annotated with the certificate's fingerprint. Offline: no cluster is contacted."""
    if secret_type not in SECRET_TYPES:
        raise ConfigError(f"--type {secret_type}: not one of {', '.join(sorted(SECRET_TYPES))}")
    if not values:
        raise ConfigError(f"{namespace}/{name}: no values to seal")
    path, cert = env_cert(env)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": secret_type,
        "metadata": {"name": name, "namespace": namespace},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()},
    }
    cmd = [
        str(tools.which("kubeseal")),
        "--cert",
        str(path),
        "--scope",
        "strict",
        "--format",
        "yaml",
    ]
    env_vars = tools.env_with_tools()
    env_vars["KUBECONFIG"] = os.devnull  # offline: never reach a cluster
    proc = subprocess.run(cmd, input=yaml.safe_dump(secret), capture_output=True, text=True, env=env_vars)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kubeseal failed for {namespace}/{name}: {last}")
    sealed = yaml.safe_load(proc.stdout)
    if not isinstance(sealed, dict) or sealed.get("kind") != "SealedSecret":
        raise BioGitopsError(f"kubeseal returned no SealedSecret for {namespace}/{name}")
    sealed["metadata"].pop("creationTimestamp", None)
    sealed["spec"].get("template", {}).get("metadata", {}).pop("creationTimestamp", None)
    sealed["metadata"].setdefault("annotations", {})[SEALED_WITH] = fingerprint(cert)
    return sealed


def write_atomically(path: Path, text: str) -> None:
    """Write `path` through a temporary file in the same directory, removed on any failure
    or signal: either the whole new file is there, or the old one is untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with _signals_raise():
            with os.fdopen(fd, "w") as handle:
                handle.write(text)
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def seal_to(out: Path | None, env: str, namespace: str, name: str, values: dict[str, str], secret_type: str) -> str:
    """Seal and write the SealedSecret to `out` (or return it as text when `out` is None)."""
    with _signals_raise():
        text = yaml.safe_dump(seal(env, namespace, name, values, secret_type), sort_keys=False)
    if out is not None:
        write_atomically(out, text)
    return text


# ---------------------------------------------------------------- lab app credentials


def app_credentials(app: str) -> dict[str, Any]:
    """What an app needs sealed in each lab namespace: applications/<app>/extras/credentials.yaml."""
    path = REPO_ROOT / "applications" / app / "extras" / "credentials.yaml"
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text()).get("secrets") or {}


def sealed_dir(app: str, env: str, namespace: str) -> Path:
    return REPO_ROOT / "applications" / app / "extras" / "sealed" / env / namespace


def sealed_file(app: str, env: str, namespace: str, name: str) -> Path:
    return sealed_dir(app, env, namespace) / f"sealedsecret-{name}.yaml"


def generate_values(spec: dict[str, Any], lab: str) -> dict[str, str]:
    """Values for one credential: fixed ones (`value`, `{lab}` substituted) or random (`random: N` bytes)."""
    out = {}
    for key, how in spec["data"].items():
        if "value" in how:
            out[key] = str(how["value"]).format(lab=lab)
        else:
            out[key] = pysecrets.token_urlsafe(int(how["random"]))
    return out


def ensure_app_credentials(env: str, lab: str, app: str, regenerate: bool = False, progress=print) -> list[Path]:
    """Seal fresh random credentials of `app` for lab-<lab> where none are sealed with the
    current certificate (or all, with `regenerate`); returns the files written."""
    cert = fingerprint(env_cert(env)[1])
    namespace = f"lab-{lab}"
    written = []
    for name, spec in app_credentials(app).items():
        path = sealed_file(app, env, namespace, name)
        if path.is_file() and not regenerate:
            current = yaml.safe_load(path.read_text()) or {}
            if (current.get("metadata", {}).get("annotations") or {}).get(SEALED_WITH) == cert:
                continue
        progress(f"sealing new {app} credentials {namespace}/{name} ({env})")
        seal_to(path, env, namespace, name, generate_values(spec, lab), spec.get("type", "Opaque"))
        written.append(path)
    return written


# ---------------------------------------------------------------- checks


def sealed_files(env: str) -> list[Path]:
    return sorted(REPO_ROOT.glob(SEALED_GLOB.format(env=env)))


def check_sealed_file(env: str, path: Path, cert_fp: str | None) -> None:
    """One SealedSecret: in its namespace's directory, sealed strict with `env`'s certificate."""
    rel = path.relative_to(REPO_ROOT) if path.is_relative_to(REPO_ROOT) else path
    try:
        obj = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{rel}: not YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(obj, dict) or obj.get("kind") != "SealedSecret":
        raise ConfigError(f"{rel}: not a SealedSecret (kind {obj.get('kind') if isinstance(obj, dict) else None})")
    meta = obj.get("metadata") or {}
    ident = f"SealedSecret {meta.get('namespace')}/{meta.get('name')}"
    directory = path.parent.name
    if meta.get("namespace") != directory:
        raise ConfigError(
            f"{rel}: {ident} is sealed for namespace {meta.get('namespace')!r} but lives under {directory}/",
            f"a sealed value only opens in the namespace it was sealed for: seal it again for {directory}",
        )
    annotations = {**(obj["spec"].get("template", {}).get("metadata", {}).get("annotations") or {})}
    if annotations.get("sealedsecrets.bitnami.com/cluster-wide") or annotations.get(
        "sealedsecrets.bitnami.com/namespace-wide"
    ):
        raise ConfigError(f"{rel}: {ident} is not strictly scoped", "seal with --scope strict (invoke secrets.seal)")
    sealed_with = (meta.get("annotations") or {}).get(SEALED_WITH)
    if cert_fp and sealed_with != cert_fp:
        others = {fingerprint(load_cert(cert_path(e))): e for e in known_envs() if cert_path(e).is_file()}
        which = f"{others[sealed_with]}'s certificate" if sealed_with in others else "an unknown certificate"
        raise ConfigError(
            f"{rel}: {ident} was sealed with {which} ({sealed_with or 'no ' + SEALED_WITH}), not {cert_path(env)}",
            f"seal it again for {env}",
        )


def check_sealed(env: str, check_cert: bool = True) -> int:
    """Every SealedSecret of `env` in the repository; returns how many. Without a certificate
    (staging/prod before their first fetch-cert) a committed SealedSecret is an error."""
    files = sealed_files(env)
    cert_fp = fingerprint(env_cert(env)[1]) if files and check_cert else None
    for path in files:
        check_sealed_file(env, path, cert_fp)
    return len(files)
