"""Certificates, keys and kubeconfigs for a local cluster.

Everything is generated for each cluster into its own data directory, so no secret outlives
the cluster. The CA and the service-account signing key are made once and kept while the
cluster is only stopped (``racetrack dev stop``): they are its identity, and service-account
tokens stored in the cluster stay valid. Leaf certificates are issued afresh at every start
(milliseconds), so a resumed cluster never runs on an expired one and its API server's
certificate names the addresses it listens on now. ECDSA P-256 keys keep generation fast;
the API server accepts them for serving, client and service-account signing keys alike.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: The first address of the service range, which in-cluster clients use for ``kubernetes``.
SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
#: As kubeadm: the CA for ten years, leaves for one (and re-issued at every start anyway).
_CA_VALIDITY = datetime.timedelta(days=3650)
_VALIDITY = datetime.timedelta(days=365)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class ClusterPKI:
    ca: KeyPair
    apiserver: KeyPair
    admin: KeyPair
    controller_manager: KeyPair
    scheduler: KeyPair
    service_account_key: Path
    service_account_pub: Path


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _write_cert(cert: x509.Certificate, path: Path) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: datetime.timedelta = _VALIDITY,
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Backdated a little so a clock step right after start does not invalidate it.
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
    )


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


class CertificateAuthority:
    """A CA that issues the cluster's certificates; also loadable for webhooks and gateway."""

    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, pair: KeyPair):
        self.key = key
        self.cert = cert
        self.pair = pair

    @classmethod
    def create(cls, directory: Path) -> CertificateAuthority:
        key = _new_key()
        name = _name("racetrack-dev-ca")
        cert = (
            _builder(name, name, key.public_key(), _CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        pair = KeyPair(directory / "ca.crt", directory / "ca.key")
        _write_cert(cert, pair.cert)
        _write_key(key, pair.key)
        return cls(key, cert, pair)

    @classmethod
    def load(cls, pair: KeyPair) -> CertificateAuthority:
        key = serialization.load_pem_private_key(pair.key.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError(f"{pair.key} is not an ECDSA key made by this module")
        return cls(key, x509.load_pem_x509_certificate(pair.cert.read_bytes()), pair)

    def issue(
        self,
        directory: Path,
        stem: str,
        subject: x509.Name,
        *,
        server_names: list[str] | None = None,
        server_ips: list[str] | None = None,
    ) -> KeyPair:
        key = _new_key()
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        builder = _builder(subject, self.cert.subject, key.public_key()).add_extension(
            x509.BasicConstraints(ca=False, path_length=None), critical=True
        )
        if server_names or server_ips:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in server_names or []]
            alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in server_ips or []]
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False).sign(
            self.key, hashes.SHA256()
        )
        pair = KeyPair(directory / f"{stem}.crt", directory / f"{stem}.key")
        _write_cert(cert, pair.cert)
        _write_key(key, pair.key)
        return pair


def generate_cluster_pki(directory: Path, extra_server_ips: list[str] | None = None) -> ClusterPKI:
    """The cluster's CA and service-account keys (made if missing, else kept) and freshly
    issued leaves: the API server's serving pair and the client pairs."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = KeyPair(directory / "ca.crt", directory / "ca.key")
    sa_key_path = directory / "sa.key"
    sa_pub_path = directory / "sa.pub"
    if ca.cert.exists() and ca.key.exists() and sa_key_path.exists() and sa_pub_path.exists():
        authority = CertificateAuthority.load(ca)
    else:
        authority = CertificateAuthority.create(directory)
        sa_key = _new_key()
        _write_key(sa_key, sa_key_path)
        sa_pub_path.write_bytes(
            sa_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    apiserver = authority.issue(
        directory,
        "apiserver",
        _name("kube-apiserver"),
        server_names=[
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        ],
        server_ips=["127.0.0.1", KUBERNETES_SERVICE_IP, *(extra_server_ips or [])],
    )
    return ClusterPKI(
        ca=authority.pair,
        apiserver=apiserver,
        admin=authority.issue(directory, "admin", _name("racetrack-dev-admin", "system:masters")),
        controller_manager=authority.issue(
            directory, "controller-manager", _name("system:kube-controller-manager")
        ),
        scheduler=authority.issue(directory, "scheduler", _name("system:kube-scheduler")),
        service_account_key=sa_key_path,
        service_account_pub=sa_pub_path,
    )


def write_kubeconfig(path: Path, server: str, ca: KeyPair, client: KeyPair, user: str) -> None:
    """Write a kubeconfig that embeds the certificates, so it can be copied anywhere."""

    def b64(p: Path) -> str:
        return base64.b64encode(p.read_bytes()).decode()

    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "racetrack-dev",
                "cluster": {"server": server, "certificate-authority-data": b64(ca.cert)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": b64(client.cert),
                    "client-key-data": b64(client.key),
                },
            }
        ],
        "contexts": [
            {"name": "racetrack-dev", "context": {"cluster": "racetrack-dev", "user": user}}
        ],
        "current-context": "racetrack-dev",
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    path.chmod(0o600)
