"""A private CA and a serving certificate for 127.0.0.1, made with the pinned `cryptography`
package (no `openssl` on the host): what a webhook run beside kwok serves, and what its
webhook configuration trusts (caBundle).

    ca_pem = loopback_certs(state / "gatekeeper" / "certs", "bio-gitops local gatekeeper CA")

The directory then holds ca.crt, ca.key, tls.crt and tls.key (keys 0600). They are made once:
a second call returns the same CA, so a restarted process keeps the caBundle it was given.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DAYS = 3650
HOST_IP = "127.0.0.1"
HOST_NAME = "localhost"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _write_key(path: Path, key: rsa.RSAPrivateKey) -> None:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)


def _certificate(
    subject: str,
    issuer: str,
    public_key: rsa.RSAPublicKey,
    signer: rsa.RSAPrivateKey,
    ca: bool,
    addresses: tuple[str, ...] = (HOST_IP,),
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=DAYS))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        san = [*(x509.IPAddress(ipaddress.ip_address(a)) for a in addresses), x509.DNSName(HOST_NAME)]
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def loopback_certs(directory: Path, ca_name: str, address: str = HOST_IP) -> bytes:
    """Make (once) a CA named `ca_name` and a certificate for 127.0.0.1, localhost and `address`
    (where a container serves it) signed by it in `directory`; return the CA certificate (PEM)."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    ca, ca_key = directory / "ca.crt", directory / "ca.key"
    crt, key = directory / "tls.crt", directory / "tls.key"
    if not (ca.is_file() and crt.is_file() and key.is_file()):
        ca_private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_cert = _certificate(ca_name, ca_name, ca_private.public_key(), ca_private, ca=True)
        serving = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        addresses = tuple(dict.fromkeys((HOST_IP, address)))
        serving_cert = _certificate(address, ca_name, serving.public_key(), ca_private, ca=False, addresses=addresses)
        _write_key(ca_key, ca_private)
        _write_key(key, serving)
        crt.write_bytes(serving_cert.public_bytes(serialization.Encoding.PEM))
        ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))  # last: its presence means done
    return ca.read_bytes()
