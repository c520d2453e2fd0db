"""From a stamp to AuditEvents: descriptions in the original's style, labels to filter by,
names that are the same however often the same change is seen."""

from __future__ import annotations

from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    annotated,
    esc,
    family,
    job,
    maintenance,
    permission,
    user,
)

from racetrack_webhooks.audit.records import Who, label_value
from racetrack_webhooks.audit.transcribe import deletion_event, rotation_event, stamped_events
from racetrack_webhooks.rules.stamp import LastChange, encode
from racetrack_webhooks.rules.world import World

AT = "2026-11-25T12:00:00.000001Z"


def stamped(obj: dict[str, Any], *actions: str, by: str = "bob-k8s", user_: str | None = "bob",
            **details: Any) -> dict[str, Any]:  # fmt: skip
    change = LastChange(by, AT, actions, user_, details)
    out: dict[str, Any] = annotated(obj, **{"racetrack.io/last-change": encode(change)})
    return out


OWNED = annotated(job(), **{"racetrack.io/deployed-by": "alice"})

DESCRIBED: list[tuple[str, str, dict[str, Any], str]] = [
    ("Job", "job_deployed", stamped(job(), "job_deployed"), "job adder v1.0.0 deployed by bob"),
    ("Job", "job_changed", stamped(OWNED, "job_changed", fields=["replicas"]),
     "job adder v1.0.0 of user alice changed by bob (replicas)"),
    ("Job", "job_redeployed", stamped(OWNED, "job_redeployed"),
     "job adder v1.0.0 of user alice redeployed by bob"),
    ("Job", "job_moved", stamped(OWNED, "job_moved", target="eu-2"),
     "job adder v1.0.0 of user alice moved to eu-2 by bob"),
    ("User", "user_registered", stamped(user("carol"), "user_registered"),
     "user carol registered by bob"),
    ("User", "user_activated", stamped(user("carol"), "user_activated"),
     "user carol activated by bob"),
    ("User", "user_deactivated", stamped(user("carol"), "user_deactivated"),
     "user carol deactivated by bob"),
    ("User", "user_changed", stamped(user("carol"), "user_changed", fields=["admin"]),
     "user carol changed by bob (admin)"),
    ("User", "token_reset", stamped(user("carol"), "token_reset"),
     "token of user carol reset by bob"),
    ("ExternalServiceConsumer", "esc_created", stamped(esc("billing"), "esc_created"),
     "ESC billing created by bob"),
    ("ExternalServiceConsumer", "token_reset", stamped(esc("billing"), "token_reset"),
     "token of ESC billing reset by bob"),
    ("JobFamily", "token_reset", stamped(family(), "token_reset"),
     "token of job family adder reset by bob"),
    ("Permission", "permission_granted",
     stamped(permission("p", "alice", "deploy_job", family="adder", version="1.x"),
             "permission_granted"),
     "permission p granted by bob: User alice may deploy_job on adder v1.x (namespace ml)"),
    ("Permission", "permission_changed",
     stamped(permission("p", "alice", "full_access", namespace="racetrack-system"),
             "permission_changed"),
     "permission p changed by bob: User alice may full_access on every job (every namespace)"),
    ("Maintenance", "maintenance_on", stamped(maintenance(message="DB upgrade"), "maintenance_on"),
     "maintenance upgrade turned on by bob: DB upgrade"),
    ("Maintenance", "maintenance_off", stamped(maintenance(), "maintenance_off"),
     "maintenance upgrade turned off by bob"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("kind", "action", "obj", "message"), DESCRIBED, ids=[f"{d[0]}-{d[1]}" for d in DESCRIBED]
)
def test_each_action_is_described(
    kind: str, action: str, obj: dict[str, Any], message: str
) -> None:
    (event,) = stamped_events(kind, obj, World())
    spec = event["spec"]
    assert spec["action"] == action
    assert spec["message"] == message
    assert (spec["actor"], spec["actorUser"], spec["time"]) == ("bob-k8s", "bob", AT)
    assert (spec["kind"], spec["name"]) == (kind, obj["metadata"]["name"])
    assert event["metadata"]["namespace"] == "racetrack-system"
    assert event["metadata"]["labels"]["racetrack.io/actor"] == "bob"


def test_a_job_event_has_the_labels_to_filter_by() -> None:
    (event,) = stamped_events("Job", stamped(OWNED, "job_changed"), World())
    assert event["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "racetrack-operator",
        "racetrack.io/actor": "bob",
        "racetrack.io/family": "adder",
        "racetrack.io/version": "1.0.0",
        "racetrack.io/job": "adder-v1-0-0",
        "racetrack.io/namespace": "ml",
    }
    assert event["spec"]["details"] == {"uid": "uid-adder-v1-0-0"}
    assert (event["spec"]["family"], event["spec"]["version"]) == ("adder", "1.0.0")


def test_the_same_change_always_gets_the_same_name_and_another_change_another() -> None:
    first = stamped_events("Job", stamped(OWNED, "job_changed"), World())
    again = stamped_events("Job", stamped(OWNED, "job_changed"), World())
    assert first[0]["metadata"]["name"] == again[0]["metadata"]["name"]
    assert first[0]["metadata"]["name"].startswith("adder-v1-0-0.job-changed.")
    later = annotated(OWNED, **{"racetrack.io/last-change": encode(
        LastChange("bob-k8s", "2026-11-25T12:00:00.000002Z", ("job_changed",)))})  # fmt: skip
    assert (
        stamped_events("Job", later, World())[0]["metadata"]["name"] != first[0]["metadata"]["name"]
    )


def test_no_stamp_no_event_and_an_unknown_action_is_skipped() -> None:
    assert stamped_events("Job", job(), World()) == []
    odd = stamped(job(), "job_teleported", "job_deployed")
    assert [e["spec"]["action"] for e in stamped_events("Job", odd, World())] == ["job_deployed"]


def test_a_family_made_by_the_operator_is_credited_to_the_first_jobs_deployer() -> None:
    deployed = stamped(OWNED, "job_deployed", by="alice-k8s", user_="alice")
    made = stamped(family(), "family_created", by="system:serviceaccount:racetrack-system:op",
                   user_=None)  # fmt: skip
    (event,) = stamped_events("JobFamily", made, World.of(deployed))
    assert event["spec"]["message"] == "job family adder created by alice (first Job adder-v1-0-0)"
    assert (event["spec"]["actor"], event["spec"]["actorUser"]) == ("alice-k8s", "alice")
    assert event["spec"]["details"]["createdBy"] == "system:serviceaccount:racetrack-system:op"


def test_a_family_made_by_hand_before_any_job_keeps_its_own_actor() -> None:
    made = stamped(family(), "family_created", by="root", user_=None)
    later_job = stamped(OWNED, "job_deployed", by="alice")
    later_job["metadata"]["creationTimestamp"] = "2026-11-26T00:00:00Z"
    (event,) = stamped_events("JobFamily", made, World.of(later_job))
    assert event["spec"]["message"] == "job family adder created by root"


def test_a_deletion_is_recorded_pending_and_named_by_its_request() -> None:
    event = deletion_event("Job", OWNED, Who("bob-k8s", "bob"), AT, "req-7", World())
    assert event is not None
    assert event["metadata"]["labels"]["racetrack.io/pending"] == "true"
    assert event["spec"]["message"] == "job adder v1.0.0 of user alice deleted by bob"
    assert event["spec"]["details"] == {"uid": "uid-adder-v1-0-0", "request": "req-7"}
    other = deletion_event("Job", OWNED, Who("bob-k8s", "bob"), AT, "req-8", World())
    assert other is not None and other["metadata"]["name"] != event["metadata"]["name"]
    assert deletion_event("JobFamily", family(), Who("bob"), AT, "req-9", World()) is None


def test_a_key_rotation_event_holds_no_part_of_the_secret() -> None:
    metadata = {"metadata": {"name": "racetrack-auth-key", "namespace": "racetrack-system",
                "uid": "s1", "annotations": {"racetrack.io/rotate-key-at": "r2"}}}  # fmt: skip
    event = rotation_event(metadata, Who("root"), AT, "req-1", World())
    assert event["spec"]["message"] == "auth key rotated by root"
    assert event["spec"]["details"] == {"uid": "s1", "request": "req-1", "rotateKeyAt": "r2"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("alice", "alice"),
        ("alice@example.org", "alice_example.org"),
        ("system:serviceaccount:ci:argo", "system_serviceaccount_ci_argo"),
        ("-x-", "x"),
    ],
)
def test_label_value(text: str, value: str) -> None:
    assert label_value(text) == value


def test_a_long_label_value_is_cut_and_ends_with_a_hash() -> None:
    long = "u" * 100 + "@example.org"
    value = label_value(long)
    assert len(value) <= 63 and value.startswith("u" * 52 + "-")
    assert value != label_value("u" * 101 + "@example.org")
