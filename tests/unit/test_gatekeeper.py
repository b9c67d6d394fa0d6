"""The local Gatekeeper listens only where the port plan says, on loopback; its webhook
certificate is valid for 127.0.0.1 under its own CA; its exemptions come from the Config; the
audit's staging directory exists before the process starts (Gatekeeper never creates it)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from biogitops.cluster.kwok import gatekeeper
from biogitops.cluster.kwok.local import LAST_PORT_OFFSET, PORTS
from biogitops.errors import BioGitopsError


def test_argv_uses_the_planned_ports_on_loopback(tmp_path: Path) -> None:
    argv = gatekeeper.LocalGatekeeper(tmp_path, tmp_path / "kc", 26400).argv(Path("/bin/manager"))
    assert "--host=127.0.0.1" in argv
    assert f"--port={26400 + PORTS['gatekeeper']['webhook']}" in argv
    assert f"--health-addr=127.0.0.1:{26400 + PORTS['gatekeeper']['health']}" in argv
    assert f"--prometheus-port={26400 + PORTS['gatekeeper']['metrics']}" in argv
    assert {"--operation=webhook", "--operation=audit", "--operation=status", "--operation=generate"} <= set(argv)
    assert max(PORTS["gatekeeper"].values()) <= LAST_PORT_OFFSET


def test_audit_cache_directory_is_created_and_dedicated(tmp_path: Path) -> None:
    """Every audit run empties --api-cache-dir and fails when it is missing (no status is then
    written): it is created before the process starts, under Gatekeeper's own state only."""
    local = gatekeeper.LocalGatekeeper(tmp_path / "state", tmp_path / "kc", 26400)
    argv = local.argv(Path("/bin/manager"))
    cache = Path(next(a.split("=", 1)[1] for a in argv if a.startswith("--api-cache-dir=")))
    assert cache == local.audit_cache and cache.is_relative_to(local.home) and cache != local.home
    assert "--audit-match-kind-only" in argv
    assert not cache.exists()
    local.prepare_dirs()
    local.prepare_dirs()  # idempotent, as start() is
    assert cache.is_dir() and oct(cache.stat().st_mode & 0o777) == "0o700"


def test_webhook_certificate_is_for_loopback_and_signed_by_its_ca(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no openssl, nor anything else, on the host
    ca_pem = gatekeeper.make_certs(tmp_path / "certs")
    assert ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    certs = tmp_path / "certs"
    ca = x509.load_pem_x509_certificate(ca_pem)
    serving = x509.load_pem_x509_certificate((certs / "tls.crt").read_bytes())
    serving.verify_directly_issued_by(ca)  # raises unless the CA signed it
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not serving.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    usage = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    key = serialization.load_pem_private_key((certs / "tls.key").read_bytes(), password=None)
    assert key.public_key().public_numbers() == serving.public_key().public_numbers()
    for name in ("tls.key", "ca.key"):
        assert oct((certs / name).stat().st_mode & 0o777) == "0o600"
    # created once: a restart keeps the CA that the webhook configuration trusts
    assert gatekeeper.make_certs(certs) == ca_pem


def test_exempt_namespaces_are_the_configs() -> None:
    assert gatekeeper.excluded_namespaces() == {"kube-system", "kube-public", "kube-node-lease", "gatekeeper-system"}


def test_anchor_pod_meets_restricted_pod_security() -> None:
    pod = gatekeeper.anchor_pod()
    assert pod["metadata"]["namespace"] == gatekeeper.NAMESPACE
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    container = pod["spec"]["containers"][0]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["image"].endswith(f":v{gatekeeper.manager_pin().version}")


@pytest.mark.parametrize(
    ("env", "expected"),
    [(None, "chart"), ("10", 10), ("ten", "error"), ("0", "error")],
    ids=["local-audit-runs-as-often-as-the-charts", "tests-may-audit-faster", "not-a-number", "zero-never-audits"],
)
def test_audit_interval(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, env: str | None, expected: object) -> None:
    if env is None:
        monkeypatch.delenv(gatekeeper.AUDIT_INTERVAL_ENV, raising=False)
    else:
        monkeypatch.setenv(gatekeeper.AUDIT_INTERVAL_ENV, env)
    if expected == "error":
        with pytest.raises(BioGitopsError, match="not a number of seconds"):
            gatekeeper.audit_interval()
        return
    chart = yaml.safe_load(gatekeeper.VALUES.read_text())["auditInterval"]
    assert gatekeeper.audit_interval() == (chart if expected == "chart" else expected)
    argv = gatekeeper.LocalGatekeeper(tmp_path, tmp_path / "kc", 26400).argv(Path("/bin/manager"))
    assert f"--audit-interval={gatekeeper.audit_interval()}" in argv
