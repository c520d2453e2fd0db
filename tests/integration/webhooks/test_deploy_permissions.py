"""Permissions govern deploys, with two real identities: a racetrack User, whose Permissions
decide, and the cluster admin, who is not a racetrack User and whom RBAC alone governs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from webhook_helpers import ADMIN, Identity, job, racetrack_object  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


@pytest.fixture
def alice(admin: Identity, person: Identity) -> Iterator[Identity]:
    """``person`` registered by the admin as an active racetrack User (no Permissions)."""
    result = admin.apply(racetrack_object("User", person.username, {"active": True}))
    assert result.returncode == 0, result.stderr
    yield person
    admin.kubectl("delete", "user", person.username)


def grant(
    admin: Identity, namespace: str, name: str, user: str, scope: str, **resource: str
) -> None:
    spec: dict[str, Any] = {"subject": {"kind": "User", "name": user}, "scope": scope}
    if resource:
        spec["resource"] = resource
    result = admin.apply(racetrack_object("Permission", name, spec, namespace))
    assert result.returncode == 0, result.stderr


def job_annotations(identity: Identity, namespace: str, name: str) -> dict[str, str]:
    out = identity.kubectl("get", "rtjob", name, "-n", namespace, "-o", "json", check=True).stdout
    found: dict[str, str] = json.loads(out)["metadata"].get("annotations") or {}
    return found


def test_a_user_deploys_what_its_permissions_allow_and_nothing_else(
    admin: Identity, alice: Identity, namespace: str
) -> None:
    user = alice.username
    first = alice.apply(job("adder-v1", namespace))
    assert first.returncode != 0
    assert "Error from server (Forbidden)" in first.stderr
    assert (
        f'permission scope "deploy_new_family" is required to do this operation: auth subject '
        f'"User {user}" does not have permission to access resource "adder" in namespace '
        f'{namespace} with scope "deploy_new_family"'
    ) in first.stderr

    grant(admin, namespace, "new-families", user, "deploy_new_family")
    created = alice.apply(job("adder-v1", namespace))
    assert created.returncode == 0, created.stderr
    stamped = job_annotations(alice, namespace, "adder-v1")
    assert stamped["racetrack.io/deployed-by"] == user
    assert json.loads(stamped["racetrack.io/last-change"])["by"] == user

    # The family exists now: another version needs deploy_job, narrowed here to 1.x.
    second = alice.apply(job("adder-v1-1", namespace, version="1.1.0"))
    assert second.returncode != 0
    assert (
        f'resource "adder v1.1.0" in namespace {namespace} with scope "deploy_job"' in second.stderr
    )
    grant(admin, namespace, "adder-1x", user, "deploy_job", family="adder", version="1.x")
    assert alice.apply(job("adder-v1-1", namespace, version="1.1.0")).returncode == 0
    third = alice.apply(job("adder-v2", namespace, version="2.0.0"))
    assert third.returncode != 0 and 'resource "adder v2.0.0"' in third.stderr

    # Changing and redeploying need deploy_job too (granted for 1.x).
    changed = alice.kubectl(
        "patch",
        "rtjob",
        "adder-v1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"replicas": 2}}',
    )
    assert changed.returncode == 0, changed.stderr

    # Deleting needs delete_job.
    refused = alice.kubectl("delete", "rtjob", "adder-v1-1", "-n", namespace)
    assert refused.returncode != 0
    assert (
        f'"User {user}" does not have permission to access resource "adder v1.1.0"'
        in refused.stderr
    )
    assert 'with scope "delete_job"' in refused.stderr
    grant(admin, namespace, "delete-one", user, "delete_job", family="adder", version="1.1.0")
    deleted = alice.kubectl("delete", "rtjob", "adder-v1-1", "-n", namespace)
    assert deleted.returncode == 0, deleted.stderr


def test_the_cluster_admin_is_no_racetrack_user_and_rbac_alone_governs_it(
    admin: Identity, namespace: str
) -> None:
    created = admin.apply(job("adder-v1", namespace))
    assert created.returncode == 0, created.stderr
    assert job_annotations(admin, namespace, "adder-v1")["racetrack.io/deployed-by"] == ADMIN
    assert admin.kubectl("delete", "rtjob", "adder-v1", "-n", namespace).returncode == 0


def test_a_permission_in_the_platform_namespace_grants_everywhere(
    admin: Identity, alice: Identity, namespace: str
) -> None:
    name = f"{alice.username}-everywhere"
    grant(admin, "racetrack-system", name, alice.username, "full_access")
    try:
        created = alice.apply(job("adder-v1", namespace))
        assert created.returncode == 0, created.stderr
    finally:
        admin.kubectl("delete", "permission", name, "-n", "racetrack-system")


def test_an_inactive_user_may_do_nothing(admin: Identity, alice: Identity, namespace: str) -> None:
    grant(admin, namespace, "all", alice.username, "full_access")
    admin.kubectl(
        "patch", "user", alice.username, "--type=merge", "-p", '{"spec": {"active": false}}'
    )
    result = alice.apply(job("adder-v1", namespace))
    assert result.returncode != 0
    assert f"User {alice.username} (Kubernetes user {alice.username}) is inactive" in result.stderr


def test_a_users_own_permissions_are_not_its_to_grant(
    admin: Identity, alice: Identity, namespace: str
) -> None:
    spec = {"subject": {"kind": "User", "name": alice.username}, "scope": "full_access"}
    result = alice.apply(racetrack_object("Permission", "mine", spec, namespace))
    assert result.returncode != 0
    assert "only a racetrack admin may grant, change or revoke Permissions" in result.stderr


def test_a_deployer_cannot_be_forged(admin: Identity, alice: Identity, namespace: str) -> None:
    """The operator grants per-job permissions to racetrack.io/deployed-by: nobody writes it
    but the webhooks, on creation."""
    grant(admin, namespace, "all", alice.username, "full_access")
    forged = job("adder-v1", namespace, annotations={"racetrack.io/deployed-by": "someone-else"})
    assert alice.apply(forged).returncode == 0
    assert (
        job_annotations(alice, namespace, "adder-v1")["racetrack.io/deployed-by"] == alice.username
    )
    overwrite = alice.kubectl(
        "annotate", "--overwrite", "rtjob", "adder-v1", "-n", namespace,
        "racetrack.io/deployed-by=someone-else",
    )  # fmt: skip
    assert overwrite.returncode == 0  # admitted, and restored by the stamp
    assert (
        job_annotations(alice, namespace, "adder-v1")["racetrack.io/deployed-by"] == alice.username
    )
