"""The rules a schema cannot express, refused (or warned about) by the real API server."""

from __future__ import annotations

import json
import uuid

import pytest
from webhook_helpers import Identity, job, racetrack_object  # type: ignore[import-not-found]

from racetrack_devcluster.webhooks import DevWebhooks
from support import eventually  # type: ignore[import-not-found]

pytestmark = pytest.mark.cluster


def test_one_job_per_family_and_version_in_a_namespace(admin: Identity, namespace: str) -> None:
    assert admin.apply(job("adder-first", namespace)).returncode == 0
    second = admin.apply(job("adder-second", namespace))
    assert second.returncode != 0
    assert "Error from server (Conflict)" in second.stderr
    assert (
        f"spec.version: job adder v1.0.0 is already deployed in namespace {namespace} as Job "
        "adder-first"
    ) in second.stderr
    assert admin.apply(job("adder-second", namespace, version="1.0.1")).returncode == 0


def test_a_deleted_version_is_claimed_again_only_with_force(
    admin: Identity, namespace: str, webhooks: DevWebhooks
) -> None:
    family = racetrack_object("JobFamily", "adder", {}, namespace)
    assert admin.apply(family).returncode == 0
    assert admin.apply(job("adder-v1", namespace)).returncode == 0
    assert admin.kubectl("delete", "rtjob", "adder-v1", "-n", namespace).returncode == 0

    def remembered() -> bool:
        got = admin.kubectl("get", "jobfamily", "adder", "-n", namespace, "-o", "json").stdout
        notes = json.loads(got)["metadata"].get("annotations") or {}
        return notes.get("racetrack.io/deleted-versions") == "1.0.0"

    eventually(remembered, 30, "the family to remember the deleted version")
    again = admin.apply(job("adder-v1", namespace))
    assert again.returncode != 0
    assert (
        f"spec.version: job adder v1.0.0 has already been deployed and deleted in namespace "
        f"{namespace}: a version is not claimed again by accident; deploy the next version, or "
        'set the annotation racetrack.io/force: "true" to claim it on purpose'
    ) in again.stderr
    forced = admin.apply(job("adder-v1", namespace, annotations={"racetrack.io/force": "true"}))
    assert forced.returncode == 0, forced.stderr


def test_python3_without_entrypoint_path_is_refused_at_apply(
    admin: Identity, namespace: str
) -> None:
    result = admin.apply(job("adder-v1", namespace, jobtypeExtra={"entrypoint_class": "Adder"}))
    assert result.returncode != 0
    assert (
        "spec.jobtypeExtra: job type python3:1.0.0 needs jobtype_extra.entrypoint_path; add it "
        "to spec.jobtypeExtra"
    ) in result.stderr
    assert admin.kubectl("get", "rtjobs", "-n", namespace, "-o", "name").stdout == ""


def test_a_newcomer_registers_only_themselves_and_inactive(
    admin: Identity, person: Identity
) -> None:
    me = person.username
    try:
        active = person.apply(racetrack_object("User", me, {"active": True}))
        assert active.returncode != 0
        assert "spec.active: a User is registered inactive" in active.stderr
        someone = f"other-{uuid.uuid4().hex[:6]}"
        other = person.apply(racetrack_object("User", someone, {}))
        assert other.returncode != 0
        assert "you may register only yourself: this User would act for the Kubernetes " in (
            other.stderr
        )
        assert f'user "{someone}", and you are "{me}"' in other.stderr
        mine = person.apply(racetrack_object("User", me, {"email": f"{me}@example.org"}))
        assert mine.returncode == 0, mine.stderr
        # An admin (here: the cluster admin, whom RBAC lets update Users) activates it.
        activated = admin.kubectl(
            "patch", "user", me, "--type=merge", "-p", '{"spec": {"active": true}}'
        )
        assert activated.returncode == 0, activated.stderr
        # Now a racetrack User who is not an admin: no promoting oneself, even where RBAC
        # lets it update Users.
        admin.kubectl(
            "create", "clusterrolebinding", f"{me}-edits-users",
            "--clusterrole=racetrack-test-user-editor", f"--user={me}",
        )  # fmt: skip
        promoted = person.kubectl(
            "patch", "user", me, "--type=merge", "-p", '{"spec": {"admin": true}}'
        )
        assert promoted.returncode != 0
        assert "spec.admin: only a racetrack admin may change spec.admin" in promoted.stderr
    finally:
        admin.kubectl("delete", "user", me, "--ignore-not-found")
        admin.kubectl("delete", "clusterrolebinding", f"{me}-edits-users", "--ignore-not-found")


def test_two_users_with_one_email_are_refused_with_the_field_named(admin: Identity) -> None:
    first, second = (f"mail-{uuid.uuid4().hex[:6]}" for _ in range(2))
    email = f"{first}@example.org"
    try:
        assert admin.apply(racetrack_object("User", first, {"email": email})).returncode == 0
        result = admin.apply(racetrack_object("User", second, {"email": email.upper()}))
        assert result.returncode != 0
        assert f"spec.email: {email.upper()} is already the email of User {first}" in result.stderr
    finally:
        admin.kubectl("delete", "user", first, second, "--ignore-not-found")


def test_a_permission_naming_a_missing_subject_is_admitted_with_a_warning(
    admin: Identity, namespace: str
) -> None:
    ghost = f"ghost-{uuid.uuid4().hex[:6]}"
    spec = {"subject": {"kind": "User", "name": ghost}, "scope": "call_job"}
    result = admin.apply(racetrack_object("Permission", "early", spec, namespace))
    assert result.returncode == 0, result.stderr
    assert (
        f"Warning: spec.subject: User {ghost} does not exist (yet): the Permission is kept and "
        "grants nothing until it does"
    ) in result.stderr
    assert admin.kubectl("get", "permission", "early", "-n", namespace).returncode == 0
