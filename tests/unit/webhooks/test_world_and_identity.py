"""The world's indexes follow every watch event; identities map to Users as documented."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    changed,
    esc,
    family,
    job,
    maintenance,
    permission,
    user,
)

from racetrack_api.permissions import SubjectRef
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_webhooks.rules.identity import map_identity
from racetrack_webhooks.rules.world import World

MAPPINGS: list[tuple[str, list[dict[str, Any]], str, str | None]] = [
    ("by kubernetesUsername", [user("alice", kubernetesUsername="a@corp")], "a@corp", "alice"),
    ("by name", [user("alice")], "alice", "alice"),
    ("by name, naming itself", [user("alice", kubernetesUsername="alice")], "alice", "alice"),
    (
        "not by name when the User names another identity",
        [user("alice", kubernetesUsername="a@corp")],
        "alice",
        None,
    ),
    (
        "kubernetesUsername wins over a name",
        [user("alice"), user("bob", kubernetesUsername="alice")],
        "alice",
        "bob",
    ),
    ("an identity with no User", [user("alice")], "system:serviceaccount:ci:argo", None),
]


@pytest.mark.parametrize(
    ("case", "users", "username", "expected"), MAPPINGS, ids=[m[0] for m in MAPPINGS]
)
def test_an_identity_maps_to_a_user(
    case: str, users: list[dict[str, Any]], username: str, expected: str | None
) -> None:
    found = map_identity(username, World.of(*users))
    assert (found.name if found else None) == expected


def test_users_are_found_by_their_current_email_and_identity_only() -> None:
    world = World.of(user("alice", email="a@x.org", kubernetesUsername="a@corp"))
    renamed = changed(user("alice", email="a@x.org", kubernetesUsername="a@corp"), email="b@x.org")
    world.apply("User", user("alice", email="a@x.org", kubernetesUsername="a@corp"), renamed)
    assert world.users_with_email("a@x.org") == []
    assert [u.name for u in world.users_with_email("B@X.org")] == ["alice"]
    world.apply("User", renamed, None)
    assert world.users_with_kubernetes_username("a@corp") == []
    assert world.user("alice") is None


def test_grants_follow_their_permission() -> None:
    alice = SubjectRef(SubjectKind.USER, "alice")
    bob = SubjectRef(SubjectKind.USER, "bob")
    granted = permission("p", "alice", "deploy_job")
    world = World.of(granted)
    assert [g.scope for g in world.grants_of(alice)] == ["deploy_job"]
    moved = changed(granted, subject={"kind": "User", "name": "bob"})
    world.apply("Permission", granted, moved)
    assert list(world.grants_of(alice)) == []
    assert len(list(world.grants_of(bob))) == 1
    world.apply("Permission", moved, None)
    assert list(world.grants_of(bob)) == []


def test_a_permission_it_cannot_read_grants_nothing() -> None:
    odd = permission("p", "alice", "deploy_job")
    odd["spec"]["scope"] = "teleport"
    world = World.of(odd)
    assert list(world.grants_of(SubjectRef(SubjectKind.USER, "alice"))) == []


def test_maintenance_on_and_off() -> None:
    on = maintenance()
    world = World.of(on)
    assert [m.name for m in world.active_maintenances()] == ["upgrade"]
    off = changed(on, active=False)
    world.apply("Maintenance", on, off)
    assert world.active_maintenances() == []
    world.apply("Maintenance", off, None)
    assert world.maintenances == {}


def test_jobs_and_families() -> None:
    first = job(name="a1")
    world = World.of(first, esc("billing"))
    assert world.jobs_of_version("ml", "adder", "1.0.0") == {"a1"}
    assert world.family_exists("ml", "adder")
    assert not world.family_exists("other", "adder")
    world.apply("Job", first, None)
    assert world.jobs_of_version("ml", "adder", "1.0.0") == set()
    assert not world.family_exists("ml", "adder")
    world.apply("JobFamily", None, family(deleted="1.0.0, 0.9.0"))
    assert world.family_exists("ml", "adder")
    assert world.deleted_versions("ml", "adder") == {"1.0.0", "0.9.0"}
    assert world.esc_exists("ml", "billing") and not world.esc_exists("ml", "other")


def test_deleted_versions_are_also_read_from_job_deleted_audit_events() -> None:
    """Until the auditor has written a deletion onto the family, its audit event says it."""
    event = {
        "kind": "AuditEvent",
        "metadata": {"name": "e1", "namespace": "racetrack-system"},
        "spec": {"action": "job_deleted", "kind": "Job", "namespace": "ml", "family": "adder",
                 "version": "1.0.0", "actor": "bob", "time": "2026-11-25T12:00:00Z"},
    }  # fmt: skip
    other = {
        "kind": "AuditEvent",
        "metadata": {"name": "e2", "namespace": "racetrack-system"},
        "spec": {**event["spec"], "action": "job_deployed", "version": "2.0.0"},  # type: ignore[dict-item]
    }
    world = World.of(event, other)
    assert world.deleted_versions("ml", "adder") == {"1.0.0"}
    assert world.deleted_versions("other", "adder") == set()
    world.apply("AuditEvent", event, None)  # pruned by retention
    assert world.deleted_versions("ml", "adder") == set()
