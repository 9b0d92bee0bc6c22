"""A local certificate authority and the certificate of the TLS Azurite that Terraform's azurerm backend talks to.

The azurerm backend has no custom endpoint: it always asks for ``https://<account>.blob.core.windows.net``
(hashicorp/terraform internal/backend/remote-state/azure/api_client.go, ``naiveStorageAccountBlobBaseURL``). The
sandbox answers that name through a CONNECT proxy with an Azurite serving a certificate for
``*.blob.core.windows.net`` signed by this CA. Terraform trusts the CA through ``SSL_CERT_FILE`` (Go reads it on
Linux), which names ``ca-bundle.pem``: the public roots plus this CA, so that other programs of a shell that
sourced env.sh still reach the internet.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from register_dr.sandbox.lifecycle.secrets import write_private

BLOB_SUFFIX = "blob.core.windows.net"
SERVER_NAMES = (f"devstoreaccount1.{BLOB_SUFFIX}", f"*.{BLOB_SUFFIX}")
CA_NAME = "register-dr sandbox CA"
# Re-issued well before expiry: the server certificate is renewed at any `sandbox up` within 30 days of its end.
CA_DAYS = 3650
SERVER_DAYS = 397
RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class TlsFiles:
    """Where the CA, the server certificate and its key live in the sandbox home."""

    folder: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca-key.pem"

    @property
    def cert(self) -> Path:
        return self.folder / "blob-cert.pem"

    @property
    def key(self) -> Path:
        return self.folder / "blob-key.pem"

    @property
    def bundle(self) -> Path:
        """The public roots plus the sandbox CA: what SSL_CERT_FILE names."""
        return self.folder / "ca-bundle.pem"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _valid(path: Path) -> x509.Certificate | None:
    """The certificate at ``path`` if it is still good for RENEW_BEFORE, else None."""
    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return cert if cert.not_valid_after_utc - _now() > RENEW_BEFORE else None


def _new_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    now = _now()
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    write_private(files.ca_key, _key_pem(key))
    files.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _load_ca(files: TlsFiles) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    cert = _valid(files.ca_cert)
    if cert is None:
        return None
    try:
        key = serialization.load_pem_private_key(files.ca_key.read_bytes(), password=None)
    except (OSError, ValueError):
        return None
    return cert, key  # type: ignore[return-value]


def _new_server_cert(files: TlsFiles, ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    now = _now()
    names = [x509.DNSName(name) for name in SERVER_NAMES] + [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAMES[0])]))
        .issuer_name(ca_cert.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    write_private(files.key, _key_pem(key))
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def ensure_tls(folder: Path) -> TlsFiles:
    """The CA, the server certificate and the bundle in ``folder``: kept while valid, made or renewed otherwise.

    A CA kept across `sandbox up` keeps SSL_CERT_FILE of already-open shells valid."""
    files = TlsFiles(folder)
    folder.mkdir(parents=True, exist_ok=True)
    loaded = _load_ca(files)
    renewed_ca = loaded is None
    ca_cert, ca_key = loaded or _new_ca(files)
    if renewed_ca or _valid(files.cert) is None or not files.key.exists():
        _new_server_cert(files, ca_cert, ca_key)
    bundle = Path(certifi.where()).read_text() + "\n# " + CA_NAME + "\n" + files.ca_cert.read_text()
    if not files.bundle.exists() or files.bundle.read_text() != bundle:
        files.bundle.write_text(bundle)
    return files
