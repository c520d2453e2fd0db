"""Webhook settings from ``RACETRACK_*`` environment variables, with documented defaults.

One frozen object, read once at start, the same in a Pod and on a laptop.
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Mapping

from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE

PREFIX = "RACETRACK_"


class SettingsError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True)
class Settings:
    platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE
    """RACETRACK_PLATFORM_NAMESPACE: where audit events and the auditor's Lease live, and where
    Permissions grant on every namespace."""
    webhook_host: str = "0.0.0.0"
    """RACETRACK_WEBHOOK_HOST: address the TLS server listens on."""
    webhook_port: int = 8443
    """RACETRACK_WEBHOOK_PORT: port of the TLS server the API server calls."""
    tls_cert_file: str = "/etc/racetrack-webhooks/tls/tls.crt"
    """RACETRACK_TLS_CERT_FILE: serving certificate (PEM, chain first), e.g. cert-manager's."""
    tls_key_file: str = "/etc/racetrack-webhooks/tls/tls.key"
    """RACETRACK_TLS_KEY_FILE: its private key."""
    tls_reload_seconds: float = 10.0
    """RACETRACK_TLS_RELOAD_SECONDS: how often the files are checked; a renewed certificate is
    used for new connections from then on, without a restart."""
    metrics_port: int = 9090
    """RACETRACK_METRICS_PORT: Prometheus metrics on 0.0.0.0:PORT/metrics (plain HTTP);
    0 = a free port."""
    self_username: str = f"system:serviceaccount:{DEFAULT_PLATFORM_NAMESPACE}:racetrack-webhooks"
    """RACETRACK_SELF_USERNAME: the webhooks' own Kubernetes identity; its writes (audit events,
    a family's deleted versions) are never stamped or refused."""
    identity: str = dataclasses.field(default_factory=socket.gethostname)
    """RACETRACK_IDENTITY: this replica's name in the auditor's Lease (the pod name)."""
    lease_seconds: float = 15.0
    """RACETRACK_LEASE_SECONDS: how long the auditor's Lease holds without renewal; one replica
    writes audit events, another takes over this long after it stops."""
    audit_max_events: int = 10_000
    """RACETRACK_AUDIT_MAX_EVENTS: audit events kept; the oldest beyond it are pruned (0: no
    limit)."""
    audit_max_age_days: float = 365.0
    """RACETRACK_AUDIT_MAX_AGE_DAYS: audit events older than this are pruned (0: no limit)."""
    audit_prune_seconds: float = 60.0
    """RACETRACK_AUDIT_PRUNE_SECONDS: how often retention runs."""
    audit_pending_grace_seconds: float = 90.0
    """RACETRACK_AUDIT_PENDING_GRACE_SECONDS: how long a recorded deletion may stay unseen
    before its pending event is dropped as refused (longer than the API server's request
    timeout, 60 s by default)."""
    audit_catch_up_seconds: float = 300.0
    """RACETRACK_AUDIT_CATCH_UP_SECONDS: after a restart, stamped changes this much older than
    the newest audit event are checked again (their events are named by what they record, so
    the overlap writes nothing twice)."""
    api_concurrency: int = 16
    """RACETRACK_API_CONCURRENCY: API requests in flight at once (threads and connections)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        source = os.environ if env is None else env
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            raw = source.get(PREFIX + field.name.upper())
            if raw is None:
                continue
            values[field.name] = _parse(PREFIX + field.name.upper(), field.type, raw)
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.api_concurrency < 1:
            raise SettingsError(f"{PREFIX}API_CONCURRENCY must be at least 1")
        for name in ("audit_max_events", "audit_max_age_days"):
            if getattr(settings, name) < 0:
                raise SettingsError(f"{PREFIX}{name.upper()} must be 0 (no limit) or more")
        return settings


def _parse(variable: str, type_: object, raw: str) -> object:
    text = raw.strip()
    converters: dict[object, type[int] | type[float]] = {"int": int, "float": float}
    convert = converters.get(type_)
    if convert is None:
        return text
    try:
        return convert(text.replace("_", ""))
    except ValueError:
        noun = "an integer" if convert is int else "a number"
        raise SettingsError(f"{variable} must be {noun}, not {raw!r}") from None
