"""What the schema cannot say about a Job: maintenance, deploy permissions, claims, job types.

- While a Maintenance is active, creating, changing (spec, or a redeploy) and deleting Jobs
  is refused. Moving is a change of ``spec.infrastructureTarget``; moving to another
  namespace is a delete and a create, each refused.
- A racetrack User needs, as in the original: ``deploy_new_family`` to create the first Job
  of a family in a namespace, ``deploy_job`` to create another version or to change or
  redeploy one, ``delete_job`` to delete one (``full_access`` includes them all; an admin
  User has them all). Grants narrow by namespace, family and version, matched by
  ``racetrack_api.permissions``, the matcher the gateway uses. An inactive User may do
  nothing. Other identities pass: RBAC governs them.
- One Job per family and version in a namespace; a version deployed and deleted before is
  claimed again only with ``racetrack.io/force: "true"`` (the original's trash rule).
- The job type must exist and get the ``jobtypeExtra`` keys it needs (python3's
  ``entrypoint_path``), checked when ``jobtype`` or ``jobtypeExtra`` is set or changed.

Changes of metadata alone (labels, other annotations) are not Job changes: they pass.
"""

from __future__ import annotations

from racetrack_api.jobtypes import JobTypeError, UnknownJobTypeError, resolve_job_type
from racetrack_api.labels import ANNOTATION_FORCE, ANNOTATION_REDEPLOY_AT
from racetrack_api.permissions import SubjectRef, allowed
from racetrack_api.v1alpha1 import Job
from racetrack_api.v1alpha1.permission import Scope, SubjectKind
from racetrack_webhooks.rules import maintenance
from racetrack_webhooks.rules.fielderrors import CONFLICT, FORBIDDEN, INVALID, FieldError
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.world import World


def validate_job(new: Job | None, old: Job | None, world: World, actor: Actor) -> list[FieldError]:
    if new is not None and old is not None and not is_job_change(new, old):
        return []
    blocked = maintenance.refusal(world)
    if blocked is not None:
        return [blocked]
    errors = permission_errors(new, old, world, actor)
    if new is not None:
        if old is None or _job_type_changed(new, old):
            errors += job_type_errors(new)
        if old is None:
            errors += claim_errors(new, world)
    return errors


def is_job_change(new: Job, old: Job) -> bool:
    """A change of the spec, or a redeploy (a new ``racetrack.io/redeploy-at``): what
    maintenance and permissions govern."""
    redeploy = _annotation(new, ANNOTATION_REDEPLOY_AT)
    redeployed = redeploy is not None and redeploy != _annotation(old, ANNOTATION_REDEPLOY_AT)
    return new.spec != old.spec or redeployed


def permission_errors(
    new: Job | None, old: Job | None, world: World, actor: Actor
) -> list[FieldError]:
    user = actor.user
    job = new or old
    if user is None or job is None or actor.is_racetrack_admin:
        return []
    namespace = job.namespace or ""
    family, version = job.spec.name, job.spec.version
    if not user.active:
        return [
            FieldError(
                "",
                f"User {user.name} (Kubernetes user {actor.username}) is inactive and may not "
                "deploy, change or delete jobs; ask a racetrack admin to activate it "
                f"(spec.active: true on User {user.name})",
                FORBIDDEN,
            )
        ]
    asked: str | None = version
    if new is None:
        scope = Scope.DELETE_JOB
    elif old is None and not world.family_exists(namespace, family):
        scope, asked = Scope.DEPLOY_NEW_FAMILY, None
    else:
        scope = Scope.DEPLOY_JOB
    subject = SubjectRef(SubjectKind.USER, user.name)
    if allowed(subject, scope, namespace, family, asked, None, world.grants_of(subject)):
        return []
    resource = family if asked is None else f"{family} v{version}"
    why = (
        f"family {family} has no Job in namespace {namespace} yet, so its first version needs "
        f'"{Scope.DEPLOY_NEW_FAMILY}"; '
        if scope == Scope.DEPLOY_NEW_FAMILY
        else ""
    )
    return [
        FieldError(
            "",
            f'permission scope "{scope}" is required to do this operation: auth subject '
            f'"{subject.describe()}" does not have permission to access resource "{resource}" '
            f'in namespace {namespace} with scope "{scope}"; {why}ask a racetrack admin for a '
            f"Permission granting it (subject kind User, name {user.name})",
            FORBIDDEN,
        )
    ]


def job_type_errors(job: Job) -> list[FieldError]:
    try:
        job_type = resolve_job_type(job.spec.jobtype)
    except UnknownJobTypeError as error:
        return [FieldError("spec.jobtype", str(error))]
    try:
        job_type.runtime_env(job.spec.jobtype_extra)
    except JobTypeError as error:
        return [FieldError("spec.jobtypeExtra", f"{error}; add it to spec.jobtypeExtra", INVALID)]
    return []


def claim_errors(job: Job, world: World) -> list[FieldError]:
    namespace = job.namespace or ""
    family, version = job.spec.name, job.spec.version
    holders = sorted(world.jobs_of_version(namespace, family, version) - {job.name})
    if holders:
        return [
            FieldError(
                "spec.version",
                f"job {family} v{version} is already deployed in namespace {namespace} as Job "
                f"{holders[0]}: a version is deployed once; deploy the next version, or "
                f"redeploy {holders[0]} with a new value of its {ANNOTATION_REDEPLOY_AT} "
                "annotation",
                CONFLICT,
            )
        ]
    forced = _annotation(job, ANNOTATION_FORCE) == "true"
    if version in world.deleted_versions(namespace, family) and not forced:
        return [
            FieldError(
                "spec.version",
                f"job {family} v{version} has already been deployed and deleted in namespace "
                f"{namespace}: a version is not claimed again by accident; deploy the next "
                f'version, or set the annotation {ANNOTATION_FORCE}: "true" to claim it on '
                "purpose",
                CONFLICT,
            )
        ]
    return []


def _job_type_changed(new: Job, old: Job) -> bool:
    return (new.spec.jobtype, new.spec.jobtype_extra) != (old.spec.jobtype, old.spec.jobtype_extra)


def _annotation(job: Job, key: str) -> str | None:
    value = (job.metadata.get("annotations") or {}).get(key)
    return None if value is None else str(value)
