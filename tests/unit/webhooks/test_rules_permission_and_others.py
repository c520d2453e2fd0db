"""The small rules: Permissions (admins only, a missing subject warns), consumers and
maintenance (admins only), audit events (never updated)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    esc,
    family,
    job,
    maintenance,
    permission,
    user,
)

from racetrack_api.v1alpha1 import AuditEvent, ExternalServiceConsumer, Maintenance, Permission
from racetrack_webhooks.rules.fielderrors import FieldError
from racetrack_webhooks.rules.identity import Actor, actor_of
from racetrack_webhooks.rules.maintenance import refusal as maintenance_refusal
from racetrack_webhooks.rules.maintenance import validate_maintenance
from racetrack_webhooks.rules.others import (
    validate_audit_event,
    validate_external_service_consumer,
)
from racetrack_webhooks.rules.permission import validate_permission
from racetrack_webhooks.rules.stamp import LastChange, encode
from racetrack_webhooks.rules.world import World

ALICE = user("alice", active=True)
ROOT = user("root", active=True, admin=True)

SUBJECTS: list[tuple[str, list[dict[str, Any]], dict[str, Any], str | None]] = [
    ("a User that exists", [ALICE], permission("p", "alice", "call_job"), None),
    (
        "a User that does not exist (yet)",
        [],
        permission("p", "dave", "call_job"),
        "spec.subject: User dave does not exist (yet): the Permission is kept and grants "
        "nothing until it does",
    ),
    (
        "a consumer in the namespace",
        [esc("billing")],
        permission("p", "billing", "call_job", subject_kind="ExternalServiceConsumer"),
        None,
    ),
    (
        "a consumer only in another namespace",
        [esc("billing", namespace="other")],
        permission("p", "billing", "call_job", subject_kind="ExternalServiceConsumer"),
        "ExternalServiceConsumer billing does not exist in namespace ml",
    ),
    (
        "a family known from its JobFamily",
        [family("badder")],
        permission("p", "badder", "call_job", subject_kind="JobFamily"),
        None,
    ),
    (
        "a family known from a Job",
        [job(family="badder")],
        permission("p", "badder", "call_job", subject_kind="JobFamily"),
        None,
    ),
    (
        "a family that does not exist",
        [],
        permission("p", "badder", "call_job", subject_kind="JobFamily"),
        "JobFamily badder does not exist in namespace ml",
    ),
]


@pytest.mark.parametrize(
    ("case", "world", "new", "warning"), SUBJECTS, ids=[s[0] for s in SUBJECTS]
)
def test_a_missing_subject_is_a_warning_not_a_refusal(
    case: str, world: list[dict[str, Any]], new: dict[str, Any], warning: str | None
) -> None:
    found = validate_permission(
        Permission.model_validate(new), None, World.of(*world), actor_of({"username": "x"}, World())
    )
    if warning is None:
        assert found == []
        return
    (only,) = found
    assert only.severity == "warning"
    assert warning in str(only)


ADMIN_ONLY: list[tuple[str, Callable[[World, Actor], list[FieldError]]]] = [
    (
        "Permission",
        lambda w, a: validate_permission(
            Permission.model_validate(permission("p", "alice", "full_access")), None, w, a
        ),
    ),
    (
        "ExternalServiceConsumer",
        lambda w, a: validate_external_service_consumer(
            ExternalServiceConsumer.model_validate(esc("billing")), None, w, a
        ),
    ),
    (
        "Maintenance",
        lambda w, a: validate_maintenance(Maintenance.model_validate(maintenance()), None, w, a),
    ),
]


@pytest.mark.parametrize(("kind", "check"), ADMIN_ONLY, ids=[k for k, _ in ADMIN_ONLY])
@pytest.mark.parametrize(
    ("who", "refused"),
    [("alice", True), ("root", False), ("cluster-admin", False)],
    ids=["a User who is not an admin", "an admin User", "an identity that is not a User"],
)
def test_admin_only_kinds(
    kind: str, check: Callable[[World, Actor], list[FieldError]], who: str, refused: bool
) -> None:
    world = World.of(ALICE, ROOT)
    found = check(world, actor_of({"username": who}, world))
    errors = [f for f in found if f.severity == "error"]
    assert bool(errors) == refused
    if refused:
        assert errors[0].code == 403
        assert "only a racetrack admin may" in str(errors[0])
        assert "User alice (Kubernetes user alice) is not an admin" in str(errors[0])


def test_audit_events_are_never_updated_but_may_be_created_and_deleted() -> None:
    event = AuditEvent.model_validate(
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "AuditEvent",
            "metadata": {"name": "e", "namespace": "racetrack-system"},
            "spec": {"action": "job_deployed", "actor": "alice", "time": "2026-11-25T12:00:00Z"},
        }
    )
    root = actor_of({"username": "cluster-admin"}, World())
    assert validate_audit_event(event, None, World(), root) == []
    assert validate_audit_event(None, event, World(), root) == []
    (refusal,) = validate_audit_event(event, event, World(), root)
    assert refusal.code == 403
    assert "AuditEvents are immutable" in str(refusal)


def test_the_maintenance_refusal_says_who_turned_it_on_and_since_when() -> None:
    on = maintenance(message="DB upgrade.")
    stamp = LastChange("bob@corp", "2026-11-25T13:14:15.161718Z", ("maintenance_on",), "bob")
    on["metadata"]["annotations"] = {"racetrack.io/last-change": encode(stamp)}
    refusal = maintenance_refusal(World.of(on, maintenance("later", active=False)))
    assert refusal is not None and refusal.code == 503
    assert str(refusal) == (
        "Racetrack is currently in maintenance mode. Please try again later. Maintenance "
        "upgrade: DB upgrade. Active since 2026-11-25T13:14:15Z, turned on by bob; creating, "
        "changing, deleting and moving Jobs is refused until an admin turns it off."
    )
    assert maintenance_refusal(World.of(maintenance(active=False))) is None
