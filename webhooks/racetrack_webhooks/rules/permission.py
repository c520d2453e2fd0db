"""Permissions: granted and revoked by admins; a missing subject is a warning, not a refusal.

GitOps applies objects in any order, so a Permission may arrive before its User, consumer or
family: it is admitted with a warning (``kubectl`` prints it) and grants nothing until the
subject exists.
"""

from __future__ import annotations

from racetrack_api.v1alpha1 import Permission
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_webhooks.rules.admins import admin_only
from racetrack_webhooks.rules.fielderrors import FieldError, warning
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import World


def validate_permission(
    new: Permission | None, old: Permission | None, world: World, actor: Actor
) -> list[FieldError]:
    errors = admin_only(actor, "grant, change or revoke Permissions")
    if new is not None and not errors:
        errors += subject_warnings(new, world)
    return errors


def subject_warnings(permission: Permission, world: World) -> list[FieldError]:
    subject = permission.spec.subject
    namespace = subject.namespace or permission.namespace or ""
    if subject.kind == SubjectKind.USER:
        exists, where = world.user(subject.name) is not None, ""
    elif subject.kind == SubjectKind.EXTERNAL_SERVICE_CONSUMER:
        exists, where = world.esc_exists(namespace, subject.name), f" in namespace {namespace}"
    else:
        exists, where = world.family_exists(namespace, subject.name), f" in namespace {namespace}"
    if exists:
        return []
    return [
        warning(
            "spec.subject",
            f"{subject.kind} {subject.name} does not exist{where} (yet): the Permission is "
            "kept and grants nothing until it does",
        )
    ]
