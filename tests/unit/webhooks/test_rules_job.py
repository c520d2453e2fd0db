"""validate_job, as a table: maintenance, deploy permissions, claims and job types."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from webhook_objects import (  # type: ignore[import-not-found]
    actor,
    annotated,
    changed,
    family,
    job,
    maintenance,
    permission,
    user,
)

from racetrack_api.v1alpha1 import Job
from racetrack_webhooks.rules.identity import Actor, actor_of
from racetrack_webhooks.rules.job import validate_job
from racetrack_webhooks.rules.world import World

ALICE = user("alice", active=True)
ROOT = actor("cluster-admin")  # not a racetrack User: RBAC governs it


@dataclasses.dataclass
class Case:
    id: str
    world: list[dict[str, Any]]
    new: dict[str, Any] | None
    old: dict[str, Any] | None = None
    who: Actor | str = "alice"
    refused: str | None = None
    """A fragment of the refusal, or None when admitted."""
    code: int | None = None
    field: str | None = None


CASES = [
    Case("an identity that is not a User deploys a new family", [], job(), who=ROOT),
    Case(
        "maintenance refuses a create, with the original's words, reason and actor",
        [maintenance(message="DB upgrade until 14:00")],
        job(),
        who=ROOT,
        refused="Racetrack is currently in maintenance mode. Please try again later. "
        "Maintenance upgrade: DB upgrade until 14:00. Active since 2026-11-25T12:00:00Z",
        code=503,
    ),
    Case(
        "maintenance refuses a delete",
        [maintenance()],
        None,
        job(),
        who=ROOT,
        refused="maintenance mode",
        code=503,
    ),
    Case(
        "maintenance refuses a spec change",
        [maintenance()],
        changed(job(), replicas=3),
        job(),
        who=ROOT,
        refused="maintenance mode",
    ),
    Case(
        "maintenance refuses a move to another infrastructure target",
        [maintenance()],
        changed(job(), infrastructureTarget="eu-2"),
        job(),
        who=ROOT,
        refused="maintenance mode",
    ),
    Case(
        "maintenance refuses a redeploy",
        [maintenance()],
        annotated(job(), **{"racetrack.io/redeploy-at": "1"}),
        job(),
        who=ROOT,
        refused="maintenance mode",
    ),
    Case(
        "maintenance lets a label change through",
        [maintenance()],
        {**job(), "metadata": {**job()["metadata"], "labels": {"team": "ml"}}},
        job(),
        who=ROOT,
    ),
    Case("an inactive maintenance refuses nothing", [maintenance(active=False)], job(), who=ROOT),
    Case(
        "a User without grants may not deploy a new family",
        [ALICE],
        job(),
        refused='permission scope "deploy_new_family" is required to do this operation: auth '
        'subject "User alice" does not have permission to access resource "adder" in '
        'namespace ml with scope "deploy_new_family"',
        code=403,
    ),
    Case(
        "deploy_new_family lets a User deploy a new family",
        [ALICE, permission("p", "alice", "deploy_new_family")],
        job(),
    ),
    Case(
        "deploy_new_family is not enough once the family exists",
        [ALICE, permission("p", "alice", "deploy_new_family"), family()],
        job(version="1.0.1"),
        refused='scope "deploy_job"',
        code=403,
    ),
    Case(
        "a family with a Job but no JobFamily object yet exists too",
        [ALICE, permission("p", "alice", "deploy_new_family"), job()],
        job(version="1.0.1"),
        refused='resource "adder v1.0.1"',
    ),
    Case(
        "deploy_job on the family deploys another version",
        [ALICE, permission("p", "alice", "deploy_job", family="adder"), family()],
        job(version="1.0.1"),
    ),
    Case(
        "deploy_job narrowed to 1.x covers 1.0.1",
        [ALICE, permission("p", "alice", "deploy_job", family="adder", version="1.x"), family()],
        job(version="1.0.1"),
    ),
    Case(
        "deploy_job narrowed to 1.x does not cover 2.0.0",
        [ALICE, permission("p", "alice", "deploy_job", family="adder", version="1.x"), family()],
        job(version="2.0.0"),
        refused='resource "adder v2.0.0"',
    ),
    Case(
        "deploy_job on another family does not help",
        [ALICE, permission("p", "alice", "deploy_job", family="scorer"), family()],
        job(version="1.0.1"),
        refused='scope "deploy_job"',
    ),
    Case(
        "deploy_job from another namespace does not help",
        [ALICE, permission("p", "alice", "deploy_job", namespace="other"), family()],
        job(version="1.0.1"),
        refused='scope "deploy_job"',
    ),
    Case(
        "deploy_job from the platform namespace grants everywhere",
        [ALICE, permission("p", "alice", "deploy_job", namespace="racetrack-system"), family()],
        job(version="1.0.1"),
    ),
    Case(
        "full_access includes deploying",
        [ALICE, permission("p", "alice", "full_access"), family()],
        job(version="1.0.1"),
    ),
    Case(
        "a spec change needs deploy_job",
        [ALICE, job()],
        changed(job(), replicas=3),
        job(),
        refused='scope "deploy_job"',
    ),
    Case(
        "a redeploy needs deploy_job",
        [ALICE, job()],
        annotated(job(), **{"racetrack.io/redeploy-at": "now"}),
        job(),
        refused='scope "deploy_job"',
    ),
    Case(
        "metadata alone is not a Job change: no permission needed",
        [ALICE, job()],
        annotated(job(), note="x"),
        job(),
    ),
    Case(
        "deleting needs delete_job",
        [ALICE, permission("p", "alice", "deploy_job"), job()],
        None,
        job(),
        refused='scope "delete_job"',
        code=403,
    ),
    Case(
        "delete_job on the version deletes it",
        [ALICE, permission("p", "alice", "delete_job", family="adder", version="1.0.0"), job()],
        None,
        job(),
    ),
    Case(
        "an inactive User may do nothing",
        [user("alice", active=False), permission("p", "alice", "full_access")],
        job(),
        refused="User alice (Kubernetes user alice) is inactive",
        code=403,
    ),
    Case(
        "an admin User may do everything",
        [user("alice", active=True, admin=True)],
        job(),
    ),
    Case(
        "a Kubernetes identity maps to its User by kubernetesUsername",
        [user("alice", active=True, kubernetesUsername="alice@corp")],
        job(),
        who="alice@corp",
        refused='auth subject "User alice"',
    ),
    Case(
        "one Job per family and version in a namespace",
        [job(name="adder-first")],
        job(name="adder-second"),
        who=ROOT,
        refused="job adder v1.0.0 is already deployed in namespace ml as Job adder-first",
        code=409,
        field="spec.version",
    ),
    Case(
        "the same version in another namespace is another job",
        [job(name="adder-first", namespace="other")],
        job(),
        who=ROOT,
    ),
    Case(
        "a deleted version needs force",
        [family(deleted="0.9.0,1.0.0")],
        job(),
        who=ROOT,
        refused="job adder v1.0.0 has already been deployed and deleted in namespace ml",
        code=409,
        field="spec.version",
    ),
    Case(
        "force claims a deleted version",
        [family(deleted="1.0.0")],
        annotated(job(), **{"racetrack.io/force": "true"}),
        who=ROOT,
    ),
    Case(
        "python3 needs entrypoint_path, refused at apply",
        [],
        changed(job(), jobtypeExtra={"entrypoint_class": "Adder"}),
        who=ROOT,
        refused="job type python3:1.0.0 needs jobtype_extra.entrypoint_path",
        code=422,
        field="spec.jobtypeExtra",
    ),
    Case(
        "an unknown job type is refused at apply",
        [],
        changed(job(), jobtype="cobol:9.9.9"),
        who=ROOT,
        refused="job type cobol:9.9.9 is not supported",
        field="spec.jobtype",
    ),
    Case(
        "a job type problem of an existing Job does not block unrelated changes",
        [],
        changed(job(jobtypeExtra={}), replicas=0),
        job(jobtypeExtra={}),
        who=ROOT,
    ),
]


def _parse(body: dict[str, Any] | None) -> Job | None:
    return None if body is None else Job.model_validate(body)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_validate_job(case: Case) -> None:
    world = World.of(*case.world)
    who = case.who if isinstance(case.who, Actor) else actor_of({"username": case.who}, world)
    errors = validate_job(_parse(case.new), _parse(case.old), world, who)
    if case.refused is None:
        assert errors == []
        return
    assert errors, f"{case.id} was admitted"
    message = "; ".join(str(error) for error in errors)
    assert case.refused in message
    if case.code is not None:
        assert errors[0].code == case.code
    if case.field is not None:
        assert errors[0].field == case.field
