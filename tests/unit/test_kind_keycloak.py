"""dev's identity provider beside kind (biogitops/cluster/kind/keycloak.py): where it listens and
how it is started. The container itself runs in tests/integration/test_sso.py on kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from biogitops.cluster.kind import keycloak
from biogitops.cluster.kind.keycloak import ContainerKeycloak, KeycloakContainerError


@pytest.mark.parametrize(
    ("subnet", "address"),
    [("172.18.0.0/16", "172.18.255.254"), ("10.89.0.0/24", "10.89.0.254"), ("192.168.7.0/29", "192.168.7.6")],
    ids=["kind-default", "small-engine-subnet", "smallest-usable"],
)
def test_it_takes_the_last_address_of_the_network(subnet: str, address: str) -> None:
    assert keycloak.last_address(subnet) == address


def test_a_second_cluster_takes_the_address_below() -> None:
    assert keycloak.last_address("172.18.0.0/16", frozenset({"172.18.255.254"})) == "172.18.255.253"


def test_a_subnet_too_small_for_it_is_refused() -> None:
    with pytest.raises(KeycloakContainerError, match="too small"):
        keycloak.last_address("172.18.0.0/30")


def test_one_issuer_url_names_the_container_address_and_its_certificate_too(tmp_path: Path) -> None:
    idp = ContainerKeycloak(tmp_path, "bio-gitops-dev")
    (tmp_path / "keycloak").mkdir()
    (tmp_path / "keycloak" / "address").write_text("172.18.255.254")
    assert idp.issuer == "https://172.18.255.254:8443/realms/bio-gitops"
    args = idp.run_args("bio-gitops/keycloak:test")
    assert args[args.index("--ip") + 1] == "172.18.255.254"
    assert f"--hostname={idp.base_url}" in args  # the `iss` of every token, whoever asks
    from cryptography import x509

    cert = x509.load_pem_x509_certificate((tmp_path / "keycloak" / "certs" / "tls.crt").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "172.18.255.254" in {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    # the admin's password goes in a 0600 file, never on the command line
    assert idp.admin_password() not in " ".join(args)
    assert (tmp_path / "keycloak" / "bootstrap.env").stat().st_mode & 0o077 == 0
