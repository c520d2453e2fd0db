"""The kinds with one rule each: consumers are admins' to manage, audit events never change."""

from __future__ import annotations

from racetrack_api.v1alpha1 import AuditEvent, ExternalServiceConsumer
from racetrack_webhooks.rules.admins import admin_only
from racetrack_webhooks.rules.fielderrors import FORBIDDEN, FieldError
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import World


def validate_external_service_consumer(
    new: ExternalServiceConsumer | None,
    old: ExternalServiceConsumer | None,
    world: World,
    actor: Actor,
) -> list[FieldError]:
    return admin_only(actor, "create, change or delete ExternalServiceConsumers")


def validate_audit_event(
    new: AuditEvent | None, old: AuditEvent | None, world: World, actor: Actor
) -> list[FieldError]:
    if new is None or old is None:
        return []  # written by the webhooks, deleted by retention (or an admin)
    return [
        FieldError(
            "",
            "AuditEvents are immutable: neither spec nor labels change once written (delete "
            "old ones to prune the log; the webhooks' retention setting does it for you)",
            FORBIDDEN,
        )
    ]
