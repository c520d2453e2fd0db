"""A renewed serving certificate is used for new handshakes without a restart; settings."""

from __future__ import annotations

import shutil
import socket
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509

from racetrack_devcluster import pki
from racetrack_webhooks.server.tls import CertificateReloader
from racetrack_webhooks.settings import Settings, SettingsError


def serving_pair(authority: pki.CertificateAuthority, directory: Path, stem: str) -> pki.KeyPair:
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "webhooks")])
    return authority.issue(directory, stem, name, server_ips=["127.0.0.1"])


def presented_serial(context: ssl.SSLContext, ca: Path) -> int:
    """Handshake once over loopback; the serial number of the certificate the server sent."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve)
    thread.start()
    client = ssl.create_default_context(cafile=str(ca))
    with (
        socket.create_connection(("127.0.0.1", port)) as raw,
        client.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    thread.join(5)
    listener.close()
    assert der is not None
    return x509.load_der_x509_certificate(der).serial_number


def test_a_renewed_certificate_is_presented_from_the_next_handshake(tmp_path: Path) -> None:
    authority = pki.CertificateAuthority.create(tmp_path)
    first = serving_pair(authority, tmp_path, "first")
    second = serving_pair(authority, tmp_path, "second")
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    shutil.copy(first.cert, cert)
    shutil.copy(first.key, key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    reloader = CertificateReloader(context, cert, key)
    serial = x509.load_pem_x509_certificate(first.cert.read_bytes()).serial_number
    assert presented_serial(context, authority.pair.cert) == serial
    assert reloader.check() is False  # nothing changed

    # Half-way through a renewal: the new certificate beside the old key. Kept the old pair.
    shutil.copy(second.cert, cert)
    assert reloader.check() is False
    assert presented_serial(context, authority.pair.cert) == serial

    shutil.copy(second.key, key)
    assert reloader.check() is True
    renewed = x509.load_pem_x509_certificate(second.cert.read_bytes()).serial_number
    assert presented_serial(context, authority.pair.cert) == renewed
    assert reloader.reloads == 1


def test_settings_from_the_environment() -> None:
    settings = Settings.from_env(
        {"RACETRACK_AUDIT_MAX_EVENTS": "1_000", "RACETRACK_AUDIT_MAX_AGE_DAYS": "0.5",
         "RACETRACK_PLATFORM_NAMESPACE": "platform"}
    )  # fmt: skip
    assert (settings.audit_max_events, settings.audit_max_age_days) == (1000, 0.5)
    assert settings.platform_namespace == "platform"
    assert Settings.from_env({}).audit_max_events == 10_000


@pytest.mark.parametrize(
    ("env", "complaint"),
    [
        ({"RACETRACK_WEBHOOK_PORT": "https"}, "RACETRACK_WEBHOOK_PORT must be an integer"),
        ({"RACETRACK_AUDIT_MAX_AGE_DAYS": "-1"}, "RACETRACK_AUDIT_MAX_AGE_DAYS must be 0"),
        ({"RACETRACK_LEASE_SECONDS": "soon"}, "RACETRACK_LEASE_SECONDS must be a number"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], complaint: str) -> None:
    with pytest.raises(SettingsError, match=complaint):
        Settings.from_env(env)
