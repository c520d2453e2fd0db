"""Permissions the operator writes, and what a Permission's status says (pure).

A Permission's status reports whether what it names exists: ``SubjectFound`` (the User, ESC
or JobFamily it grants to), ``FamilyFound`` (when it narrows to a family) and ``Ready``, which
follows the subject: a grant to nobody is not in effect, while a grant on a family that is
deployed later is (it applies to the family's versions once they exist). A missing subject is
a condition, never a refusal: GitOps tools apply objects in any order.

The operator creates two kinds of Permissions:
- a new User's defaults, the original's registration grants (read, call and deploy every job,
  deploy new families), in the platform namespace so they apply everywhere, owned by the User;
- a deployer's per-job grants (read, call, redeploy and delete that one version), for the User
  named by a Job's ``racetrack.io/deployed-by``, in the Job's namespace, owned by the Job.
"""

from __future__ import annotations

import hashlib
from typing import Any

from racetrack_api import conditions as c
from racetrack_api import labels
from racetrack_api.permissions import SubjectRef, grant_of
from racetrack_api.v1alpha1 import API_VERSION, Job, Permission
from racetrack_api.v1alpha1.common import ConditionStatus
from racetrack_api.v1alpha1.permission import PermissionStatus, Scope, SubjectKind

#: The original's registration grants, on every job.
USER_DEFAULT_SCOPES = (Scope.READ_JOB, Scope.CALL_JOB, Scope.DEPLOY_JOB, Scope.DEPLOY_NEW_FAMILY)
#: The original's grants to whoever deployed a job, on that job only.
DEPLOYER_SCOPES = (Scope.READ_JOB, Scope.CALL_JOB, Scope.DEPLOY_JOB, Scope.DELETE_JOB)


def subject_of(permission: Permission, platform_namespace: str) -> SubjectRef:
    return grant_of(permission, platform_namespace).subject


def family_scope(permission: Permission, platform_namespace: str) -> str | None:
    """The namespace a Permission's family is looked for in; None: every namespace."""
    return grant_of(permission, platform_namespace).namespace


def permission_status(
    permission: Permission,
    platform_namespace: str,
    subject_found: bool,
    family_found: bool | None,
    timestamp: str,
) -> PermissionStatus:
    """``family_found`` None: the Permission names no family (then there is no FamilyFound)."""
    subject = subject_of(permission, platform_namespace)
    generation = permission.generation
    conditions = list(permission.status.conditions)
    who = _subject_words(subject)
    if subject_found:
        found: tuple[ConditionStatus, str, str] = ("True", c.REASON_SUBJECT_FOUND, f"{who} exists.")
    else:
        found = (
            "False",
            c.REASON_SUBJECT_NOT_FOUND,
            f"{who} does not exist: this Permission grants nothing until it is created.",
        )
    conditions = c.set_condition(conditions, c.SUBJECT_FOUND, *found, generation, timestamp)
    family = permission.spec.resource.family
    if family is None or family_found is None:
        conditions = c.remove_conditions(conditions, c.FAMILY_FOUND)
    else:
        where = family_scope(permission, platform_namespace)
        place = f"in namespace {where}" if where else "in any namespace"
        if family_found:
            family_value: tuple[ConditionStatus, str, str] = (
                "True",
                c.REASON_FAMILY_FOUND,
                f"JobFamily {family} exists {place}.",
            )
        else:
            family_value = (
                "False",
                c.REASON_FAMILY_NOT_FOUND,
                f"No JobFamily {family} {place} yet: the grant applies to its versions once "
                "they are deployed.",
            )
        conditions = c.set_condition(
            conditions, c.FAMILY_FOUND, *family_value, generation, timestamp
        )
    if subject_found:
        ready: tuple[ConditionStatus, str, str] = (
            "True",
            c.REASON_SUBJECT_FOUND,
            f"Grants {permission.spec.scope} on {_resource_words(permission)} to {who}.",
        )
    else:
        ready = ("False", found[1], found[2])
    conditions = c.set_condition(conditions, c.READY, *ready, generation, timestamp)
    return PermissionStatus(observed_generation=generation, conditions=conditions)


def _subject_words(subject: SubjectRef) -> str:
    if subject.namespace is None:
        return f"{subject.kind} {subject.name}"
    return f"{subject.kind} {subject.name} in namespace {subject.namespace}"


def _resource_words(permission: Permission) -> str:
    resource = permission.spec.resource
    if resource.family is None:
        what = "every job"
    elif resource.version is None:
        what = f"every version of {resource.family}"
    else:
        what = f"{resource.family} {resource.version}"
    if resource.endpoint is not None:
        what += f" (endpoint {resource.endpoint})"
    return what


# -- Permissions the operator creates ------------------------------------------------------


def permission_name(prefix: str, scope: Scope) -> str:
    """``<prefix>-<scope>`` (``_`` as ``-``), shortened with a digest past 253 characters."""
    suffix = str(scope).replace("_", "-")
    name = f"{prefix}-{suffix}"
    if len(name) <= 253:
        return name
    digest = hashlib.sha256(prefix.encode()).hexdigest()[:10]
    return f"{prefix[:220]}-{digest}-{suffix}"


def user_default_permissions(user: str, uid: str, platform_namespace: str) -> list[dict[str, Any]]:
    owner = {"apiVersion": API_VERSION, "kind": "User", "name": user, "uid": uid}
    return [
        _permission(
            permission_name(f"user-{user}", scope),
            platform_namespace,
            user,
            scope,
            {},
            owner,
            {labels.LABEL_GRANT: labels.GRANT_USER_DEFAULT},
        )
        for scope in USER_DEFAULT_SCOPES
    ]


def deployer_permissions(job: Job, user: str) -> list[dict[str, Any]]:
    owner = {
        "apiVersion": API_VERSION,
        "kind": "Job",
        "name": job.name,
        "uid": str(job.metadata.get("uid") or ""),
    }
    extra_labels = {
        labels.LABEL_GRANT: labels.GRANT_DEPLOYER,
        labels.LABEL_FAMILY: job.spec.name,
        labels.LABEL_VERSION: job.spec.version,
        labels.LABEL_JOB: job.name,
    }
    resource = {"family": job.spec.name, "version": job.spec.version}
    return [
        _permission(
            permission_name(f"{job.name}-deployer", scope),
            str(job.namespace),
            user,
            scope,
            resource,
            owner,
            extra_labels,
        )
        for scope in DEPLOYER_SCOPES
    ]


def _permission(
    name: str,
    namespace: str,
    user: str,
    scope: Scope,
    resource: dict[str, str],
    owner: dict[str, str],
    extra_labels: dict[str, str],
) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": "Permission",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {labels.LABEL_MANAGED_BY: labels.MANAGED_BY, **extra_labels},
            # Not a controller reference: an admin owns what happens to a grant afterwards.
            "ownerReferences": [owner],
        },
        "spec": {
            "subject": {"kind": str(SubjectKind.USER), "name": user},
            "scope": str(scope),
            "resource": resource,
        },
    }
