"""What a backup holds, and the order and shape in which a restore creates it."""

from __future__ import annotations

from typing import Any

import pytest

from racetrack_cli import restoreplan

API = "racetrack.io/v1alpha1"


def obj(
    kind: str,
    name: str,
    namespace: str | None = None,
    uid: str | None = None,
    owners: list[tuple[str, str, str]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid or f"uid-{kind}-{name}"}
    if namespace:
        meta["namespace"] = namespace
    if owners:
        meta["ownerReferences"] = [
            {"apiVersion": API, "kind": k, "name": n, "uid": u, "controller": True}
            for k, n, u in owners
        ]
    return {
        "apiVersion": "v1" if kind == "Secret" else API,
        "kind": kind,
        "metadata": meta,
        **extra,
    }


def test_strip_removes_what_the_api_server_sets_and_keeps_what_the_object_is() -> None:
    served = obj(
        "Job",
        "adder-v1",
        "ml",
        spec={"name": "adder"},
        status={"image": "x"},
    )
    served["metadata"].update(
        {
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{}],
            "finalizers": ["racetrack.io/finalizer"],
            "labels": {"team": "ml"},
            "annotations": {
                "racetrack.io/deployed-by": "alice",
                "kopf.zalando.org/last-handled-configuration": "{}",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        }
    )
    assert restoreplan.strip(served) == {
        "apiVersion": API,
        "kind": "Job",
        "metadata": {
            "name": "adder-v1",
            "namespace": "ml",
            "labels": {"team": "ml"},
            "annotations": {"racetrack.io/deployed-by": "alice"},
        },
        "spec": {"name": "adder"},
    }
    assert served["status"] == {"image": "x"}, "strip copies, never changes its argument"


def test_owners_come_before_what_they_own_and_the_auth_key_first() -> None:
    user = obj("User", "alice", uid="u1")
    family = obj("JobFamily", "adder", "ml", uid="f1")
    objects = [
        obj("Maintenance", "upgrade"),
        obj("AuditEvent", "e1", "ml"),
        obj("Permission", "alice-call", "ml", owners=[("Job", "adder-v1", "j1")]),
        obj("Job", "adder-v1", "ml", uid="j1"),
        obj("Secret", "family-adder-token", "ml", owners=[("JobFamily", "adder", "f1")]),
        obj("Secret", "user-alice-token", "rt", owners=[("User", "alice", "u1")]),
        family,
        user,
        obj("Secret", "adder-env", "ml"),
        obj("Secret", "racetrack-auth-key", "rt"),
    ]
    ordered = [restoreplan.describe(o) for o in restoreplan.restore_order(objects)]
    assert ordered == [
        "Secret ml/adder-env",
        "Secret rt/racetrack-auth-key",
        "User alice",
        "JobFamily ml/adder",
        "Secret rt/user-alice-token",
        "Job ml/adder-v1",
        "Secret ml/family-adder-token",
        "Permission ml/alice-call",
        "AuditEvent ml/e1",
        "Maintenance upgrade",
    ]
    position = {d: i for i, d in enumerate(ordered)}
    assert position["User alice"] < position["Secret rt/user-alice-token"]
    assert position["JobFamily ml/adder"] < position["Secret ml/family-adder-token"]


def test_owner_references_point_at_the_new_uids_and_unknown_owners_are_dropped() -> None:
    user = obj("User", "alice", uid="old-u1")
    secret = obj(
        "Secret",
        "user-alice-token",
        "rt",
        owners=[("User", "alice", "old-u1"), ("Thing", "gone", "old-x")],
    )
    old_uids = {"old-u1": restoreplan.key(user)}
    remapped = restoreplan.remap_owners(
        restoreplan.strip(secret), old_uids, {restoreplan.key(user): "new-u1"}
    )
    assert remapped.obj["metadata"]["ownerReferences"] == [
        {"apiVersion": API, "kind": "User", "name": "alice", "uid": "new-u1", "controller": True}
    ]
    assert remapped.dropped == ("Thing gone",)
    alone = restoreplan.remap_owners(restoreplan.strip(secret), {}, {})
    assert "ownerReferences" not in alone.obj["metadata"]


def test_an_owner_not_restored_yet_is_an_error_not_a_dangling_reference() -> None:
    user = obj("User", "alice", uid="old-u1")
    secret = obj("Secret", "user-alice-token", "rt", owners=[("User", "alice", "old-u1")])
    with pytest.raises(ValueError, match="not restored yet"):
        restoreplan.remap_owners(secret, {"old-u1": restoreplan.key(user)}, {})


def test_secrets_named_by_jobs() -> None:
    jobs: list[dict[str, Any]] = [
        {
            "metadata": {"name": "adder-v1", "namespace": "ml"},
            "spec": {
                "git": {"remote": "r", "credentials": {"name": "git-creds"}},
                "secretBuildEnv": {"name": "build-env"},
                "secretRuntimeEnv": {"name": "run-env"},
            },
        },
        {
            "metadata": {"name": "adder-v2", "namespace": "ml"},
            "spec": {"secretRuntimeEnv": {"name": "run-env"}},
        },
        {"metadata": {"name": "plain", "namespace": "ml"}, "spec": {"image": "x"}},
    ]
    assert restoreplan.secrets_named_by_jobs(jobs) == {
        ("ml", "git-creds"): "adder-v1",
        ("ml", "build-env"): "adder-v1",
        ("ml", "run-env"): "adder-v1",
    }


def test_same_content_compares_what_the_object_holds() -> None:
    a = obj("Secret", "s", "ml", data={"k": "dg=="}, type="Opaque")
    assert restoreplan.same_content({**a, "metadata": {"uid": "other"}}, a)
    assert not restoreplan.same_content({**a, "data": {"k": "dw=="}}, a)
    job = obj("Job", "j", "ml", spec={"version": "1.0.0"})
    assert restoreplan.same_content({**job, "status": {"x": 1}}, job)
    assert not restoreplan.same_content({**job, "spec": {"version": "2.0.0"}}, job)


def test_objects_being_deleted_are_not_backed_up() -> None:
    going = obj("Job", "j", "ml")
    going["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert not restoreplan.live(going)
    assert restoreplan.live(obj("Job", "k", "ml"))


def test_the_summary_counts_kinds_in_restore_order() -> None:
    objects = [
        obj("Job", "a", "ml"),
        obj("User", "u"),
        obj("Job", "b", "ml"),
        obj("Secret", "s", "ml"),
    ]
    assert restoreplan.summary(objects) == "1 Secret, 1 User, 2 Jobs"
    families = [obj("JobFamily", "adder", "ml"), obj("JobFamily", "scorer", "ml")]
    assert restoreplan.summary(families) == "2 JobFamilies"
    assert restoreplan.summary(families[:1]) == "1 JobFamily"
    assert restoreplan.summary([]) == "nothing"
