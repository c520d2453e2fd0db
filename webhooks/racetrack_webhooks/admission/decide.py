"""One admission request through the rules: validation, or the mutating webhook's stamp.

Requests from the webhooks' own identity pass untouched (the configurations' matchConditions
already keep them away; this is the same rule, in case a configuration was edited).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pydantic

from racetrack_api.labels import (
    ANNOTATION_DEPLOYED_BY,
    ANNOTATION_LAST_CHANGE,
    AUTH_KEY_SECRET,
)
from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1 import (
    AuditEvent,
    ExternalServiceConsumer,
    Job,
    Maintenance,
    Permission,
    User,
)
from racetrack_webhooks.admission.patches import annotation_patch
from racetrack_webhooks.admission.review import Request
from racetrack_webhooks.audit import changes, transcribe
from racetrack_webhooks.audit.records import Who
from racetrack_webhooks.rules import others
from racetrack_webhooks.rules.fielderrors import FieldError, errors_only, warnings_only
from racetrack_webhooks.rules.identity import Actor
from racetrack_webhooks.rules.job import validate_job
from racetrack_webhooks.rules.maintenance import validate_maintenance
from racetrack_webhooks.rules.permission import validate_permission
from racetrack_webhooks.rules.stamp import LastChange, annotations_of, encode
from racetrack_webhooks.rules.user import validate_user
from racetrack_webhooks.rules.world import World

JsonDict = dict[str, Any]
Validator = Callable[[Any, Any, World, Actor], list[FieldError]]

VALIDATORS: dict[str, tuple[type[CustomResource], Validator]] = {
    "Job": (Job, validate_job),
    "User": (User, validate_user),
    "Permission": (Permission, validate_permission),
    "Maintenance": (Maintenance, validate_maintenance),
    "ExternalServiceConsumer": (
        ExternalServiceConsumer,
        others.validate_external_service_consumer,
    ),
    "AuditEvent": (AuditEvent, others.validate_audit_event),
}
_OPERATIONS = ("CREATE", "UPDATE", "DELETE")


@dataclasses.dataclass(frozen=True)
class Decision:
    errors: list[FieldError] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    patch: list[JsonDict] = dataclasses.field(default_factory=list)
    audit_event: JsonDict | None = None
    """A pending AuditEvent to write before allowing (a deletion, a key rotation)."""

    @property
    def allowed(self) -> bool:
        return not self.errors


ALLOW = Decision()


def needs_rbac_answer(request: Request, world: World, actor: Actor) -> bool:
    """Whether the User rules need to know if RBAC lets ``actor`` update Users: a create by
    an identity that is not a racetrack User (see ``rules.user``)."""
    return request.kind == "User" and request.operation == "CREATE" and actor.user is None


def validate(
    request: Request, world: World, actor: Actor, now: str, self_username: str
) -> Decision:
    if actor.username == self_username or request.operation not in _OPERATIONS:
        return ALLOW
    if request.kind == "Secret":
        return _key_rotation(request, world, actor, now)
    entry = VALIDATORS.get(request.kind)
    if entry is None:
        return ALLOW
    model, validator = entry
    new, old, unreadable = _parse(model, request)
    if unreadable is not None and request.operation != "DELETE":
        return Decision(errors=[unreadable])
    found = validator(new, old, world, actor) if unreadable is None else []
    decision = Decision(errors=errors_only(found), warnings=[str(w) for w in warnings_only(found)])
    if decision.allowed and request.operation == "DELETE" and not request.dry_run:
        event = transcribe.deletion_event(
            request.kind, request.old or {}, _who(actor), now, request.uid, world
        )
        decision = dataclasses.replace(decision, audit_event=event)
    return decision


def stamp(request: Request, world: World, actor: Actor, now: str, self_username: str) -> Decision:
    """The mutating webhook: stamp an audited change with its actor; keep the webhooks'
    annotations as the webhooks wrote them whatever the request says."""
    if (
        actor.username == self_username
        or request.kind not in changes.STAMPED_KINDS
        or request.operation not in ("CREATE", "UPDATE")
        or request.obj is None
    ):
        return ALLOW
    new = request.obj
    old = request.old if request.operation == "UPDATE" else None
    current = annotations_of(new)
    previous = annotations_of(old)
    desired = dict(current)
    change = changes.change_of(request.kind, old, new)
    if change:
        user = actor.user.name if actor.user else None
        stamp_ = LastChange(actor.username, now, tuple(change.actions), user, change.details)
        desired[ANNOTATION_LAST_CHANGE] = encode(stamp_)
    else:
        _restore(desired, previous, ANNOTATION_LAST_CHANGE)
    if request.kind == "Job":
        if old is None:
            desired[ANNOTATION_DEPLOYED_BY] = actor.display
        else:
            _restore(desired, previous, ANNOTATION_DEPLOYED_BY)
    return Decision(patch=annotation_patch(new, current, desired))


def _key_rotation(request: Request, world: World, actor: Actor, now: str) -> Decision:
    new, old = request.obj, request.old
    if (
        request.operation != "UPDATE"
        or new is None
        or old is None
        or request.name != AUTH_KEY_SECRET
        or request.namespace != world.platform_namespace
        or not changes.is_key_rotation(old, new)
        or request.dry_run
    ):
        return ALLOW
    # Nothing of the Secret but its metadata goes into the event: the key never leaves here.
    metadata_only = {"metadata": new.get("metadata") or {}}
    event = transcribe.rotation_event(metadata_only, _who(actor), now, request.uid, world)
    return Decision(audit_event=event)


def _parse(model: type[CustomResource], request: Request) -> tuple[Any, Any, FieldError | None]:
    parsed: list[Any] = []
    for body in (request.obj, request.old):
        if body is None:
            parsed.append(None)
            continue
        try:
            parsed.append(model.model_validate(body))
        except pydantic.ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            return (
                None,
                None,
                FieldError(
                    where,
                    f"this {request.kind} does not match the racetrack.io model these webhooks "
                    f"know ({first.get('msg')}); are the CRDs and the webhooks the same "
                    "version?",
                ),
            )
    new, old = parsed
    if request.operation == "DELETE":
        new = None
    return new, old, None


def _restore(desired: dict[str, str], previous: dict[str, str], key: str) -> None:
    if key in previous:
        desired[key] = previous[key]
    else:
        desired.pop(key, None)


def _who(actor: Actor) -> Who:
    return Who(actor.username, actor.user.name if actor.user else None)
