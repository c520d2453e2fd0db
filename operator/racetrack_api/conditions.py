"""Condition types, reasons and the setter, in the cert-manager / apimachinery style.

Reasons are named constants so dashboards, tests and ``kubectl get rtjobs`` (its Reason column
is the Ready condition's reason) can rely on them; an ad-hoc string would drift.

The setter records ``observedGeneration`` on each condition and moves ``lastTransitionTime``
only when ``status`` flips, so "for how long has this Job been unready" stays answerable and a
message update does not look like a new event.

kstatus compatibility: ``Reconciling`` (True while work is under way) and ``Stalled`` (True when
the spec cannot progress without a change) are the "abnormal-true" conditions kstatus reads;
``Ready`` is what people and ``kubectl wait --for=condition=Ready`` read. As in Flux, the
abnormal-true ones are present only while True (``remove_conditions`` otherwise): a healthy Job
lists what is right with it, not two conditions saying nothing is wrong, and every status
write and watch event of a thousand Jobs is that much smaller.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from racetrack_api.v1alpha1.common import Condition, ConditionStatus

# -- condition types ---------------------------------------------------------------------
READY = "Ready"
BUILT = "Built"
DEPLOYED = "Deployed"
AVAILABLE = "Available"
RECONCILING = "Reconciling"
STALLED = "Stalled"

JOB_CONDITION_TYPES = (READY, BUILT, DEPLOYED, AVAILABLE, RECONCILING, STALLED)
# Permission
SUBJECT_FOUND = "SubjectFound"
FAMILY_FOUND = "FamilyFound"

# -- reasons -----------------------------------------------------------------------------
# Ready
REASON_JOB_READY = "JobReady"
# Built (Jobs built from spec.git or spec.source). Unknown while a build waits or runs:
REASON_BUILD_QUEUED = "BuildQueued"
REASON_BUILDING = "Building"
# True:
REASON_BUILD_SUCCEEDED = "BuildSucceeded"
# False, naming the step that failed (the builder reports the first four, see
# racetrack_builder.report); also Ready's reason, and Stalled's when retrying cannot help.
REASON_FETCH_FAILED = "FetchFailed"
REASON_DEPENDENCIES_FAILED = "DependenciesFailed"
REASON_IMAGE_BUILD_FAILED = "ImageBuildFailed"
REASON_PUSH_FAILED = "PushFailed"
REASON_BUILD_TIMED_OUT = "BuildTimedOut"
#: A build pod that failed without saying why (killed, out of memory, a builder bug).
REASON_BUILD_FAILED = "BuildFailed"
BUILD_FAILURE_REASONS = (
    REASON_FETCH_FAILED,
    REASON_DEPENDENCIES_FAILED,
    REASON_IMAGE_BUILD_FAILED,
    REASON_PUSH_FAILED,
    REASON_BUILD_TIMED_OUT,
    REASON_BUILD_FAILED,
)
# Deployed
REASON_DEPLOYMENT_UP_TO_DATE = "DeploymentUpToDate"
REASON_DEPLOYMENT_OUTDATED = "DeploymentOutdated"
REASON_DEPLOYMENT_MISSING = "DeploymentMissing"
# Available
REASON_REPLICAS_AVAILABLE = "ReplicasAvailable"
REASON_SCALED_TO_ZERO = "ScaledToZero"
REASON_ROLLOUT_IN_PROGRESS = "RolloutInProgress"
# Stalled (each one also becomes the Ready reason, so `kubectl get rtjobs` shows it)
REASON_SECRET_NOT_FOUND = "SecretNotFound"
REASON_UNKNOWN_JOB_TYPE = "UnknownJobType"
REASON_JOB_TYPE_UNAVAILABLE = "JobTypeUnavailable"
#: The operator lacks a setting builds need (its registry, the builder image).
REASON_BUILD_NOT_CONFIGURED = "BuildNotConfigured"
REASON_INVALID_SPEC = "InvalidSpec"
REASON_PROGRESS_DEADLINE_EXCEEDED = "ProgressDeadlineExceeded"
REASON_NAME_CONFLICT = "NameConflict"
# Tokens (Users, ExternalServiceConsumers, JobFamilies)
REASON_TOKEN_ISSUED = "TokenIssued"
REASON_INACTIVE = "Inactive"
REASON_AUTH_KEY_MISSING = "AuthKeyMissing"
REASON_TOKEN_EXPIRED = "TokenExpired"
REASON_TOKEN_SECRET_CONFLICT = "TokenSecretConflict"
# Permissions
REASON_SUBJECT_FOUND = "SubjectFound"
REASON_SUBJECT_NOT_FOUND = "SubjectNotFound"
REASON_FAMILY_FOUND = "FamilyFound"
REASON_FAMILY_NOT_FOUND = "FamilyNotFound"


def now() -> str:
    """The current time as Kubernetes writes it (RFC 3339, seconds, UTC)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Iterable[Condition],
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    timestamp: str,
) -> list[Condition]:
    """``conditions`` with ``type_`` set; the transition time moves only if status flipped."""
    out: list[Condition] = []
    found = False
    for existing in conditions:
        if existing.type != type_:
            out.append(existing)
            continue
        found = True
        since = existing.last_transition_time if existing.status == status else timestamp
        out.append(_condition(type_, status, reason, message, generation, since or timestamp))
    if not found:
        out.append(_condition(type_, status, reason, message, generation, timestamp))
    return out


def remove_conditions(conditions: Iterable[Condition], *types: str) -> list[Condition]:
    return [existing for existing in conditions if existing.type not in types]


def _condition(
    type_: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    since: str,
) -> Condition:
    return Condition(
        type=type_,
        status=status,
        reason=reason,
        message=message,
        observed_generation=generation,
        last_transition_time=since,
    )


def find(conditions: Iterable[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(conditions: Iterable[Condition], type_: str) -> bool:
    found = find(conditions, type_)
    return found is not None and found.status == "True"
