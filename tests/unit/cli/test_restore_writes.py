"""What ``racetrack restore`` writes, on the in-memory API: nothing on a conflict, owners'
new uids, and a token Secret an operator wrote mid-restore replaced by the backed-up one."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_kube import FakeKube  # type: ignore[import-not-found]
from racetrack_cli import backup
from racetrack_cli import restore as restore_command
from racetrack_cli.kubeargs import CommandError

USERS = "/apis/racetrack.io/v1alpha1/users"
PLATFORM_SECRETS = "/api/v1/namespaces/rt/secrets"


def backed_up() -> list[dict[str, Any]]:
    user = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "User",
        "metadata": {"name": "alice", "uid": "old-user", "resourceVersion": "7"},
        "spec": {"active": True},
        "status": {"token": {"hashes": ["abc"]}},
    }
    token = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "user-alice-token",
            "namespace": "rt",
            "uid": "old-secret",
            "labels": {"racetrack.io/token": "user", "racetrack.io/subject": "alice"},
            "ownerReferences": [
                {"apiVersion": "racetrack.io/v1alpha1", "kind": "User", "name": "alice",
                 "uid": "old-user", "controller": True}
            ],
        },
        "type": "Opaque",
        "data": {"token": "b2xk"},
    }  # fmt: skip
    key = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "racetrack-auth-key", "namespace": "rt", "uid": "old-key"},
        "type": "Opaque",
        "data": {"key": "a2V5"},
    }
    return [token, user, key]


def restore(kube: FakeKube, objects: list[dict[str, Any]]) -> None:
    from racetrack_cli import restoreplan

    asyncio.run(restore_command._restore(kube, restoreplan.restore_order(objects), dry_run=False))


def test_a_token_secret_is_owned_by_the_restored_users_new_uid() -> None:
    kube = FakeKube()
    kube.put("/api/v1/namespaces/rt", {"metadata": {"name": "rt"}})
    restore(kube, backed_up())
    user_uid = kube.obj(f"{USERS}/alice")["metadata"]["uid"]
    assert user_uid != "old-user"
    secret = kube.obj(f"{PLATFORM_SECRETS}/user-alice-token")
    assert [ref["uid"] for ref in secret["metadata"]["ownerReferences"]] == [user_uid]
    assert secret["data"] == {"token": "b2xk"}
    assert "status" not in kube.obj(f"{USERS}/alice")
    assert [path for _, path in kube.writes] == [
        f"{PLATFORM_SECRETS}/racetrack-auth-key",
        f"{USERS}/alice",
        f"{PLATFORM_SECRETS}/user-alice-token",
    ]


def racing_operator() -> Any:
    """An API on which a token is issued into the User's Secret as soon as the User exists,
    as a running operator would, before the restore gets to create the backed-up one."""
    kube = FakeKube()
    plain_create = kube.create

    async def create(collection: str, body: dict[str, Any]) -> dict[str, Any] | None:
        created: dict[str, Any] | None = await plain_create(collection, body)
        if collection == USERS and created is not None:
            kube.put(
                f"{PLATFORM_SECRETS}/user-alice-token",
                {
                    "metadata": {
                        "name": "user-alice-token",
                        "labels": {"racetrack.io/token": "user"},
                        "ownerReferences": [{"uid": created["metadata"]["uid"]}],
                    },
                    "data": {"token": "bmV3"},
                },
            )
        return created

    kube.create = create
    return kube


def test_a_token_the_operator_issued_meanwhile_is_replaced_by_the_backed_up_one() -> None:
    kube = racing_operator()
    kube.put("/api/v1/namespaces/rt", {"metadata": {"name": "rt"}})
    restore(kube, backed_up())
    assert kube.obj(f"{PLATFORM_SECRETS}/user-alice-token")["data"] == {"token": "b2xk"}


def test_a_conflict_writes_nothing_and_names_the_object() -> None:
    kube = FakeKube()
    kube.put("/api/v1/namespaces/rt", {"metadata": {"name": "rt"}})
    kube.put(
        f"{PLATFORM_SECRETS}/racetrack-auth-key",
        {"metadata": {"name": "racetrack-auth-key"}, "type": "Opaque", "data": {"key": "b3RoZXI="}},
    )
    with pytest.raises(CommandError) as error:
        restore(kube, backed_up())
    message = str(error.value)
    assert "other content: Secret rt/racetrack-auth-key. Nothing was restored." in message
    assert "The cluster has another auth key" in message
    assert kube.writes == []


def test_objects_already_there_with_the_same_content_are_left_alone() -> None:
    kube = FakeKube()
    kube.put("/api/v1/namespaces/rt", {"metadata": {"name": "rt"}})
    restore(kube, backed_up())
    writes = len(kube.writes)
    restore(kube, backed_up())
    assert len(kube.writes) == writes


def test_missing_namespaces_are_created_first() -> None:
    kube = FakeKube()
    restore(kube, backed_up())
    assert kube.writes[0] == ("POST", "/api/v1/namespaces/rt")


def test_a_backup_holds_racetrack_objects_and_the_projects_secrets_only() -> None:
    kube = FakeKube()
    jobs = "/apis/racetrack.io/v1alpha1/namespaces/ml/jobs"
    kube.put(
        f"{jobs}/adder-v1",
        {
            "apiVersion": "racetrack.io/v1alpha1",
            "kind": "Job",
            "metadata": {"name": "adder-v1", "managedFields": [{}]},
            "spec": {
                "name": "adder",
                "secretRuntimeEnv": {"name": "adder-env"},
                "secretBuildEnv": {"name": "gone"},
            },
        },
    )
    kube.put(
        f"{jobs}/leaving",
        {
            "metadata": {"name": "leaving", "deletionTimestamp": "2026-12-01T00:00:00Z"},
            "spec": {"name": "leaving"},
        },
    )
    secrets = "/api/v1/namespaces/ml/secrets"
    kube.put(f"{secrets}/adder-env", {"metadata": {"name": "adder-env"}, "data": {"A": "eA=="}})
    kube.put(f"{secrets}/database", {"metadata": {"name": "database"}, "data": {"P": "eA=="}})
    kube.put(
        f"{secrets}/family-adder-token",
        {
            "metadata": {
                "name": "family-adder-token",
                "labels": {"racetrack.io/token": "job_family"},
            }
        },
    )
    kube.put(f"{PLATFORM_SECRETS}/racetrack-auth-key", {"metadata": {"name": "racetrack-auth-key"}})

    objects, notes = asyncio.run(backup.collect(kube, "rt"))

    described = sorted(
        f"{o['kind']} {o['metadata']['namespace']}/{o['metadata']['name']}" for o in objects
    )
    assert described == [
        "Job ml/adder-v1",
        "Secret ml/adder-env",
        "Secret ml/family-adder-token",
        "Secret rt/racetrack-auth-key",
    ]
    assert all("managedFields" not in o["metadata"] for o in objects)
    assert all(o["apiVersion"] and o["kind"] for o in objects)
    assert notes == ["Job ml/adder-v1 names Secret gone, which does not exist"]


def test_a_backup_without_an_auth_key_says_so() -> None:
    _, notes = asyncio.run(backup.collect(FakeKube(), "rt"))
    assert notes == [
        "there is no auth key (Secret rt/racetrack-auth-key): tokens cannot be restored valid "
        "(is --platform-namespace right?)"
    ]


def test_an_api_server_lost_midway_says_what_was_and_was_not_restored() -> None:
    kube = FakeKube()
    kube.put("/api/v1/namespaces/rt", {"metadata": {"name": "rt"}})
    plain_create = kube.create

    async def create(collection: str, body: dict[str, Any]) -> dict[str, Any] | None:
        created: dict[str, Any] | None = await plain_create(collection, body)
        kube.unavailable = True  # the API server goes away after the first write
        return created

    kube.create = create
    with pytest.raises(CommandError) as error:
        restore(kube, backed_up())
    message = str(error.value)
    assert message.startswith("restoring User alice failed: ")
    assert "Connection refused" in message and "Max retries" not in message
    assert "Restored (1): Secret rt/racetrack-auth-key." in message
    assert "NOT restored (2): User alice, Secret rt/user-alice-token." in message
