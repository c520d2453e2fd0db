"""Permissions the operator grants and reports on, and the family token in a Job's pods,
against the in-memory API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml
from identity_world import (  # type: ignore[import-not-found]
    NS,
    PLATFORM,
    drain,
    events,
    fake,
    path,
    permission_path,
    put,
    secret_path,
    seen,
    status,
    world,
)

from racetrack_api import labels
from racetrack_api.v1alpha1 import Job, Permission
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_kube import paths
from racetrack_operator.reconcile import permissions
from racetrack_operator.reconcile.context import Context
from racetrack_operator.reconcile.job import family_token_changed, job_seen
from racetrack_operator.render.names import ANNOTATION_FAMILY_TOKEN

pytestmark = pytest.mark.asyncio
__all__ = ["world"]

ADDER = Path(__file__).resolve().parents[3] / "examples" / "adder.yaml"
JOB = paths.racetrack(Job, NS, "adder-v1-0-0")
DEPLOYMENT = paths.deployments(NS, "adder-v1-0-0")
USER = SubjectKind.USER


def user_permissions(ctx: Context) -> list[str]:
    prefix = paths.racetrack(Permission, PLATFORM) + "/"
    return sorted(p.removeprefix(prefix) for p in fake(ctx).objects if p.startswith(prefix))


async def apply_job(ctx: Context, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"]["namespace"] = NS
    raw["metadata"]["annotations"] = annotations or {}
    stored: dict[str, Any] = fake(ctx).put(JOB, raw)
    await job_seen(ctx, NS, "adder-v1-0-0", stored)
    return stored


def pod_env(ctx: Context) -> dict[str, Any]:
    container = fake(ctx).obj(DEPLOYMENT)["spec"]["template"]["spec"]["containers"][0]
    return {variable["name"]: variable for variable in container["env"]}


# -- a new User's defaults -----------------------------------------------------------------


async def test_a_new_user_gets_the_default_permissions_once(world: Context) -> None:
    put(world, USER, "alice")
    await seen(world, USER, "alice")
    expected = [f"user-alice-{s}" for s in ("call-job", "deploy-job", "deploy-new-family")]
    assert user_permissions(world) == sorted([*expected, "user-alice-read-job"])
    user = fake(world).obj(path(USER, "alice"))
    assert user["metadata"]["annotations"][labels.ANNOTATION_DEFAULT_PERMISSIONS] == (
        "read_job,call_job,deploy_job,deploy_new_family"
    )
    # An admin deletes one; the User changes; it does not come back.
    fake(world).remove(permission_path(PLATFORM, "user-alice-deploy-job"))
    put(world, USER, "alice", {"active": True}, user["metadata"]["annotations"])
    await seen(world, USER, "alice")
    assert "user-alice-deploy-job" not in user_permissions(world)


# -- a deployer's per-job grants -----------------------------------------------------------


async def test_the_user_who_deployed_a_job_may_read_call_redeploy_and_delete_it(
    world: Context,
) -> None:
    put(world, USER, "alice")
    permissions.presence_changed(world, USER, None, "alice", True)
    await apply_job(world, {labels.ANNOTATION_DEPLOYED_BY: "alice"})
    prefix = paths.racetrack(Permission, NS) + "/"
    made = sorted(p.removeprefix(prefix) for p in fake(world).objects if p.startswith(prefix))
    assert made == [
        f"adder-v1-0-0-deployer-{scope}"
        for scope in ("call-job", "delete-job", "deploy-job", "read-job")
    ]
    grant = fake(world).obj(prefix + "adder-v1-0-0-deployer-delete-job")
    assert grant["spec"]["resource"] == {"family": "adder", "version": "1.0.0"}
    assert grant["metadata"]["ownerReferences"][0]["uid"] == fake(world).obj(JOB)["metadata"]["uid"]


@pytest.mark.parametrize(
    "deployed_by", ["bob", "system:serviceaccount:argocd:argocd-application-controller", ""]
)
async def test_deployers_that_are_not_users_get_no_grants(world: Context, deployed_by: str) -> None:
    await apply_job(world, {labels.ANNOTATION_DEPLOYED_BY: deployed_by} if deployed_by else {})
    prefix = paths.racetrack(Permission, NS) + "/"
    assert not [p for p in fake(world).objects if p.startswith(prefix)]


async def test_grants_are_made_for_new_jobs_only(world: Context) -> None:
    put(world, USER, "alice")
    permissions.presence_changed(world, USER, None, "alice", True)
    raw = yaml.safe_load(ADDER.read_text())
    raw["metadata"].update(namespace=NS, annotations={labels.ANNOTATION_DEPLOYED_BY: "alice"})
    raw["status"] = {"observedGeneration": 1}  # reconciled before (an operator upgrade)
    stored = fake(world).put(JOB, raw)
    await job_seen(world, NS, "adder-v1-0-0", stored)
    prefix = paths.racetrack(Permission, NS) + "/"
    assert not [p for p in fake(world).objects if p.startswith(prefix)]


# -- Permission status ---------------------------------------------------------------------


async def apply_permission(ctx: Context, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    body = {
        "apiVersion": "racetrack.io/v1alpha1",
        "kind": "Permission",
        "metadata": {"name": name, "namespace": NS},
        "spec": spec,
    }
    stored: dict[str, Any] = fake(ctx).put(permission_path(NS, name), body)
    await permissions.permission_seen(ctx, (NS, name), stored)
    return stored


def permission_conditions(ctx: Context, name: str) -> dict[str, str]:
    found = fake(ctx).obj(permission_path(NS, name)).get("status") or {}
    return {cond["type"]: cond["reason"] for cond in found.get("conditions") or []}


async def test_permission_status_follows_its_subject_and_family_as_they_come_and_go(
    world: Context,
) -> None:
    spec = {
        "subject": {"kind": "ExternalServiceConsumer", "name": "billing"},
        "scope": "call_job",
        "resource": {"family": "scorer"},
    }
    await apply_permission(world, "billing-calls-scorer", spec)
    assert permission_conditions(world, "billing-calls-scorer") == {
        "SubjectFound": "SubjectNotFound",
        "FamilyFound": "FamilyNotFound",
        "Ready": "SubjectNotFound",
    }
    assert events(world).reasons("billing-calls-scorer") == ["SubjectNotFound"]
    before = len(fake(world).writes)
    permissions.presence_changed(world, SubjectKind.EXTERNAL_SERVICE_CONSUMER, NS, "billing", True)
    await drain(world)
    assert permission_conditions(world, "billing-calls-scorer")["Ready"] == "SubjectFound"
    assert events(world).reasons("billing-calls-scorer")[-1] == "SubjectFound"
    permissions.presence_changed(world, SubjectKind.JOB_FAMILY, NS, "scorer", True)
    await drain(world)
    assert permission_conditions(world, "billing-calls-scorer")["FamilyFound"] == "FamilyFound"
    # An ESC of the same name elsewhere changes nothing here.
    permissions.presence_changed(
        world, SubjectKind.EXTERNAL_SERVICE_CONSUMER, "other", "billing", False
    )
    await drain(world)
    assert len(fake(world).writes) == before + 2
    permissions.presence_changed(world, SubjectKind.EXTERNAL_SERVICE_CONSUMER, NS, "billing", False)
    await drain(world)
    assert permission_conditions(world, "billing-calls-scorer")["Ready"] == "SubjectNotFound"


async def test_a_permission_that_names_another_subject_is_reindexed(world: Context) -> None:
    spec = {"subject": {"kind": "User", "name": "alice"}, "scope": "read_job"}
    body = await apply_permission(world, "reader", spec)
    body["spec"]["subject"]["name"] = "bob"
    await permissions.permission_seen(world, (NS, "reader"), body)
    permissions.presence_changed(world, USER, None, "alice", True)
    await drain(world)
    assert permission_conditions(world, "reader")["Ready"] == "SubjectNotFound"
    permissions.presence_changed(world, USER, None, "bob", True)
    await drain(world)
    assert permission_conditions(world, "reader")["Ready"] == "SubjectFound"
    permissions.permission_deleted(world, (NS, "reader"))
    assert not world.identity.permissions_by_subject


# -- the family token in a Job's pods ------------------------------------------------------


async def test_a_jobs_pods_get_the_family_token_and_roll_when_it_is_reset(world: Context) -> None:
    world.identity.family_token_changed = lambda ns, family, token: family_token_changed(
        world, ns, family, token
    )
    await apply_job(world)
    family = SubjectKind.JOB_FAMILY
    assert pod_env(world)["AUTH_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "family-adder-token",
        "key": "token",
    }
    assert secret_path(family, "adder") in fake(world).objects
    template = fake(world).obj(DEPLOYMENT)["spec"]["template"]["metadata"]
    first = template["annotations"][ANNOTATION_FAMILY_TOKEN]
    put(world, family, "adder", annotations={labels.ANNOTATION_RESET_TOKEN_AT: "1"})
    await seen(world, family, "adder")

    def rolled() -> bool:
        template = fake(world).obj(DEPLOYMENT)["spec"]["template"]["metadata"]
        return bool(template["annotations"][ANNOTATION_FAMILY_TOKEN] != first)

    async with asyncio.timeout(10):
        while not rolled():  # noqa: ASYNC110 - the fake API has no events to wait on
            await asyncio.sleep(0.01)
    assert status(world, family, "adder")["token"]["hashes"]
