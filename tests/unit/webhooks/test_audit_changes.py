"""change_of and deletion_of, as a table: which changes are audited, and as what."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    annotated,
    changed,
    esc,
    family,
    job,
    maintenance,
    permission,
    user,
)

from racetrack_webhooks.audit.changes import change_of, deletion_of, is_key_rotation

RESET = {"racetrack.io/reset-token-at": "2"}

CHANGES: list[tuple[str, str, dict[str, Any] | None, dict[str, Any], list[str], dict[str, Any]]] = [
    # (case, kind, old, new, actions, details)
    ("a Job created is deployed", "Job", None, job(), ["job_deployed"], {}),
    ("a Job's spec changed", "Job", job(), changed(job(), replicas=3, labels={"a": "b"}),
     ["job_changed"], {"fields": ["labels", "replicas"]}),
    ("a Job moved", "Job", job(), changed(job(), infrastructureTarget="eu-2"), ["job_moved"],
     {"target": "eu-2"}),
    ("a Job redeployed", "Job", job(), annotated(job(), **{"racetrack.io/redeploy-at": "1"}),
     ["job_redeployed"], {}),
    ("a Job changed and redeployed at once", "Job", job(),
     annotated(changed(job(), replicas=2), **{"racetrack.io/redeploy-at": "1"}),
     ["job_changed", "job_redeployed"], {"fields": ["replicas"]}),
    ("a redeploy annotation removed is no redeploy", "Job",
     annotated(job(), **{"racetrack.io/redeploy-at": "1"}), job(), [], {}),
    ("a Job's labels changed: not audited", "Job", job(),
     {**job(), "metadata": {**job()["metadata"], "labels": {"x": "y"}}}, [], {}),
    ("a family created", "JobFamily", None, family(), ["family_created"], {}),
    ("a family's token reset", "JobFamily", family(), annotated(family(), **RESET),
     ["token_reset"], {}),
    ("a User registered", "User", None, user("carol"), ["user_registered"], {}),
    ("a User activated", "User", user("carol"), user("carol", active=True), ["user_activated"], {}),
    ("a User deactivated", "User", user("carol", active=True), user("carol", active=False),
     ["user_deactivated"], {}),
    ("a User made admin", "User", user("carol"), user("carol", admin=True), ["user_changed"],
     {"fields": ["admin"]}),
    ("a User's token reset", "User", user("carol"), annotated(user("carol"), **RESET),
     ["token_reset"], {}),
    ("a consumer created", "ExternalServiceConsumer", None, esc("billing"), ["esc_created"], {}),
    ("a consumer's token reset", "ExternalServiceConsumer", esc("billing"),
     annotated(esc("billing"), **RESET), ["token_reset"], {}),
    ("a Permission granted", "Permission", None, permission("p", "alice", "call_job"),
     ["permission_granted"], {}),
    ("a Permission changed", "Permission", permission("p", "alice", "call_job"),
     permission("p", "alice", "full_access"), ["permission_changed"], {}),
    ("maintenance created active", "Maintenance", None, maintenance(), ["maintenance_on"], {}),
    ("maintenance created inactive: nothing yet", "Maintenance", None, maintenance(active=False),
     [], {}),
    ("maintenance turned on", "Maintenance", maintenance(active=False), maintenance(),
     ["maintenance_on"], {}),
    ("maintenance turned off", "Maintenance", maintenance(), maintenance(active=False),
     ["maintenance_off"], {}),
    ("maintenance's message changed: not audited", "Maintenance", maintenance(),
     maintenance(message="later"), [], {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("case", "kind", "old", "new", "actions", "details"), CHANGES, ids=[c[0] for c in CHANGES]
)
def test_change_of(
    case: str,
    kind: str,
    old: dict[str, Any] | None,
    new: dict[str, Any],
    actions: list[str],
    details: dict[str, Any],
) -> None:
    change = change_of(kind, old, new)
    assert list(change.actions) == actions
    assert dict(change.details) == details
    assert bool(change) == bool(actions)


@pytest.mark.parametrize(
    ("kind", "old", "action"),
    [
        ("Job", job(), "job_deleted"),
        ("User", user("carol"), "user_deleted"),
        ("ExternalServiceConsumer", esc("billing"), "esc_deleted"),
        ("Permission", permission("p", "alice", "call_job"), "permission_revoked"),
        ("Maintenance", maintenance(), "maintenance_off"),
        ("Maintenance", maintenance(active=False), None),
        ("JobFamily", family(), None),
    ],
)
def test_deletion_of(kind: str, old: dict[str, Any], action: str | None) -> None:
    assert deletion_of(kind, old) == action


def test_a_key_rotation_is_a_new_rotate_key_at() -> None:
    secret = {"metadata": {"name": "racetrack-auth-key", "annotations": {}}}
    rotated = {
        "metadata": {
            "name": "racetrack-auth-key",
            "annotations": {"racetrack.io/rotate-key-at": "1"},
        }
    }
    assert is_key_rotation(secret, rotated)
    assert not is_key_rotation(rotated, rotated)
    assert not is_key_rotation(rotated, secret)
