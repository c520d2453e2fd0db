"""A Permission's status, and the Permissions the operator grants (a new User's defaults, a
deployer's per-job grants)."""

from __future__ import annotations

from typing import Any

import pytest
from rtjob_fixtures import adder  # type: ignore[import-not-found]

from racetrack_api import conditions as c
from racetrack_api import labels
from racetrack_api.permissions import grant_of
from racetrack_api.v1alpha1 import API_VERSION, Permission
from racetrack_api.v1alpha1.permission import Scope
from racetrack_operator.render import permissions as render

PLATFORM = "racetrack-system"


def permission(namespace: str = "ml", **spec: Any) -> Permission:
    body = {
        "apiVersion": API_VERSION,
        "kind": "Permission",
        "metadata": {"name": "p", "namespace": namespace, "generation": 2},
        "spec": {"subject": {"kind": "User", "name": "alice"}, "scope": "call_job", **spec},
    }
    return Permission.model_validate(body)


def conditions(status: Any) -> dict[str, tuple[str, str, str]]:
    return {cond.type: (cond.status, cond.reason, cond.message) for cond in status.conditions}


def test_a_permission_whose_subject_exists_is_ready() -> None:
    status = render.permission_status(permission(), PLATFORM, True, None, "t")
    found = conditions(status)
    assert found[c.SUBJECT_FOUND] == ("True", c.REASON_SUBJECT_FOUND, "User alice exists.")
    assert found[c.READY][:2] == ("True", c.REASON_SUBJECT_FOUND)
    assert found[c.READY][2] == "Grants call_job on every job to User alice."
    assert c.FAMILY_FOUND not in found  # it names no family
    assert status.observed_generation == 2


def test_a_missing_subject_is_a_condition_saying_the_grant_does_nothing() -> None:
    status = render.permission_status(permission(), PLATFORM, False, None, "t")
    found = conditions(status)
    assert found[c.SUBJECT_FOUND][:2] == ("False", c.REASON_SUBJECT_NOT_FOUND)
    assert found[c.READY][:2] == ("False", c.REASON_SUBJECT_NOT_FOUND)
    assert "grants nothing until it is created" in found[c.READY][2]


@pytest.mark.parametrize(
    ("namespace", "found", "expected"),
    [
        ("ml", True, ("True", c.REASON_FAMILY_FOUND, "JobFamily adder exists in namespace ml.")),
        ("ml", False, ("False", c.REASON_FAMILY_NOT_FOUND, "No JobFamily adder in namespace ml")),
        (PLATFORM, True, ("True", c.REASON_FAMILY_FOUND, "exists in any namespace")),
    ],
)
def test_family_found_tells_whether_the_family_exists_where_the_grant_applies(
    namespace: str, found: bool, expected: tuple[str, str, str]
) -> None:
    narrowed = permission(namespace, resource={"family": "adder", "version": "1.x"})
    status = conditions(render.permission_status(narrowed, PLATFORM, True, found, "t"))
    assert status[c.FAMILY_FOUND][:2] == expected[:2]
    assert expected[2] in status[c.FAMILY_FOUND][2]
    # A family deployed later still gets the grant: Ready follows the subject alone.
    assert status[c.READY][0] == "True"
    assert "adder 1.x" in status[c.READY][2]


def test_an_esc_subject_is_described_with_its_namespace() -> None:
    esc = permission(subject={"kind": "ExternalServiceConsumer", "name": "billing"})
    status = conditions(render.permission_status(esc, PLATFORM, False, None, "t"))
    assert (
        "ExternalServiceConsumer billing in namespace ml does not exist"
        in (status[c.SUBJECT_FOUND][2])
    )


def test_transition_times_move_only_when_status_flips() -> None:
    first = render.permission_status(permission(), PLATFORM, False, None, "t1")
    again = permission()
    again.status = first
    same = render.permission_status(again, PLATFORM, False, None, "t2")
    assert {cond.last_transition_time for cond in same.conditions} == {"t1"}
    flipped = render.permission_status(again, PLATFORM, True, None, "t3")
    assert {cond.last_transition_time for cond in flipped.conditions} == {"t3"}


def test_a_new_user_gets_the_originals_registration_grants_everywhere() -> None:
    made = render.user_default_permissions("alice", "uid-1", PLATFORM)
    assert [p["spec"]["scope"] for p in made] == [
        "read_job",
        "call_job",
        "deploy_job",
        "deploy_new_family",
    ]
    for body in made:
        assert body["metadata"]["namespace"] == PLATFORM
        assert body["metadata"]["name"].startswith("user-alice-")
        assert body["metadata"]["labels"][labels.LABEL_GRANT] == labels.GRANT_USER_DEFAULT
        assert body["metadata"]["ownerReferences"] == [
            {"apiVersion": API_VERSION, "kind": "User", "name": "alice", "uid": "uid-1"}
        ]
        parsed = Permission.model_validate(body)
        grant = grant_of(parsed, PLATFORM)
        assert grant.namespace is None and grant.family is None  # every job, everywhere
    assert made[3]["metadata"]["name"] == "user-alice-deploy-new-family"


def test_a_deployer_gets_read_call_redeploy_and_delete_on_that_job_only() -> None:
    job = adder()
    made = render.deployer_permissions(job, "alice")
    assert [p["spec"]["scope"] for p in made] == [
        "read_job",
        "call_job",
        "deploy_job",
        "delete_job",
    ]
    for body in made:
        assert body["metadata"]["namespace"] == "ml"
        assert body["metadata"]["ownerReferences"][0]["kind"] == "Job"
        assert body["metadata"]["ownerReferences"][0]["uid"] == job.metadata["uid"]
        assert body["metadata"]["labels"][labels.LABEL_GRANT] == labels.GRANT_DEPLOYER
        assert body["metadata"]["labels"][labels.LABEL_JOB] == "adder-v1-0-0"
        grant = grant_of(Permission.model_validate(body), PLATFORM)
        assert (grant.namespace, grant.family, grant.version) == ("ml", "adder", "1.0.0")
    assert made[3]["metadata"]["name"] == "adder-v1-0-0-deployer-delete-job"


def test_permission_names_stay_valid_for_long_prefixes() -> None:
    name = render.permission_name("user-" + "a" * 250, Scope.DEPLOY_NEW_FAMILY)
    assert len(name) <= 253 and name.endswith("-deploy-new-family")
