"""The generated certificates are what the API server and its clients need."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from racetrack_devcluster import pki


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def test_serving_certificate_is_signed_by_the_ca_and_names_every_address(tmp_path: Path) -> None:
    certs = pki.generate_cluster_pki(tmp_path)
    ca, serving = load(certs.ca.cert), load(certs.apiserver.cert)
    serving.verify_directly_issued_by(ca)
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "kubernetes.default.svc.cluster.local" in names.get_values_for_type(x509.DNSName)
    ips = names.get_values_for_type(x509.IPAddress)
    assert ipaddress.ip_address("127.0.0.1") in ips
    assert ipaddress.ip_address(pki.KUBERNETES_SERVICE_IP) in ips
    usages = serving.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.SERVER_AUTH in usages


def test_admin_is_a_cluster_admin_and_keys_are_private(tmp_path: Path) -> None:
    certs = pki.generate_cluster_pki(tmp_path)
    admin = load(certs.admin.cert)
    organizations = admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]
    assert certs.admin.key.stat().st_mode & 0o077 == 0
    assert certs.service_account_key.stat().st_mode & 0o077 == 0


def test_loaded_ca_issues_serving_pairs_for_webhooks(tmp_path: Path) -> None:
    certs = pki.generate_cluster_pki(tmp_path / "cluster")
    authority = pki.CertificateAuthority.load(certs.ca)
    (tmp_path / "webhook").mkdir()
    pair = authority.issue(
        tmp_path / "webhook",
        "webhook",
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "webhook")]),
        server_names=["localhost"],
        server_ips=["127.0.0.1"],
    )
    load(pair.cert).verify_directly_issued_by(load(certs.ca.cert))


def test_kubeconfig_embeds_credentials_and_points_at_the_server(tmp_path: Path) -> None:
    certs = pki.generate_cluster_pki(tmp_path)
    path = tmp_path / "kubeconfig"
    pki.write_kubeconfig(path, "https://127.0.0.1:6443", certs.ca, certs.admin, "admin")
    config = yaml.safe_load(path.read_text())
    assert config["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:6443"
    assert config["users"][0]["user"]["client-key-data"]
    assert config["current-context"] == "racetrack-dev"
    assert path.stat().st_mode & 0o077 == 0


def test_a_second_start_keeps_the_ca_and_keys_and_issues_fresh_leaves(tmp_path: Path) -> None:
    first = pki.generate_cluster_pki(tmp_path)
    ca_before = first.ca.cert.read_bytes()
    sa_before = first.service_account_key.read_bytes()
    admin_before = first.admin.cert.read_bytes()
    second = pki.generate_cluster_pki(tmp_path, extra_server_ips=["10.237.0.1"])
    assert second.ca.cert.read_bytes() == ca_before  # tokens and kubeconfigs stay valid
    assert second.service_account_key.read_bytes() == sa_before
    assert second.admin.cert.read_bytes() != admin_before
    serving = load(second.apiserver.cert)
    serving.verify_directly_issued_by(load(second.ca.cert))
    names = serving.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.237.0.1") in names.get_values_for_type(x509.IPAddress)
