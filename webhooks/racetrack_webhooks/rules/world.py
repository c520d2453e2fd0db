"""The webhooks' view of the world: indexes over the objects the rules read.

Fed by watches (``racetrack_webhooks.feed``: every change calls :meth:`World.apply`), so an
admission request is answered from memory, never with an API call. Built from plain objects in
the unit tests (:meth:`World.of`). Objects are read as the API server stores them (dicts,
camelCase), leniently: a field this version does not know is ignored, and an object it cannot
read is skipped, so one odd object never stops admission.

What it answers: Users by name, Kubernetes user name and email; each subject's grants (through
``racetrack_api.permissions``, the matcher the gateway shares); active Maintenances; which Jobs
hold a family and version; whether a family exists; which versions of a family were deployed
and deleted before (the JobFamily's ``racetrack.io/deleted-versions``, and the ``job_deleted``
audit events not yet written there); which ExternalServiceConsumers exist.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar

import pydantic

from racetrack_api.labels import ANNOTATION_DELETED_VERSIONS, ANNOTATION_DEPLOYED_BY
from racetrack_api.permissions import DEFAULT_PLATFORM_NAMESPACE, Grant, SubjectRef, grant_of
from racetrack_api.v1alpha1 import Permission
from racetrack_api.v1alpha1.auditevent import AuditAction
from racetrack_webhooks.rules.stamp import LastChange, annotations_of, last_change_of

JsonDict = dict[str, Any]
Key = tuple[str, str]  # (namespace or "", name)


@dataclasses.dataclass(frozen=True)
class UserRecord:
    name: str
    active: bool = False
    admin: bool = False
    email: str | None = None
    kubernetes_username: str | None = None


@dataclasses.dataclass(frozen=True)
class MaintenanceRecord:
    name: str
    active: bool
    message: str
    created: str
    turned_on: LastChange | None
    """The stamp of the change that turned it on, when the webhooks saw it happen."""


@dataclasses.dataclass(frozen=True)
class JobRecord:
    namespace: str
    name: str
    family: str
    version: str
    created: str
    deployed_by: str | None
    last_change: LastChange | None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def key_of(obj: Mapping[str, Any]) -> Key:
    meta = _meta(obj)
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def split_versions(value: str | None) -> set[str]:
    return {item.strip() for item in (value or "").split(",") if item.strip()}


class World:
    def __init__(self, platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE) -> None:
        self.platform_namespace = platform_namespace
        self.users: dict[str, UserRecord] = {}
        self._users_by_kubernetes_name: dict[str, set[str]] = defaultdict(set)
        self._users_by_email: dict[str, set[str]] = defaultdict(set)
        self._grants: dict[Key, Grant] = {}
        self._grants_by_subject: dict[SubjectRef, dict[Key, Grant]] = defaultdict(dict)
        self.maintenances: dict[str, MaintenanceRecord] = {}
        self.jobs: dict[Key, JobRecord] = {}
        self._jobs_by_version: dict[tuple[str, str, str], set[str]] = defaultdict(set)
        self._jobs_by_family: dict[Key, set[str]] = defaultdict(set)
        self._families: dict[Key, set[str]] = {}
        # (namespace, family) -> version -> names of job_deleted events
        self._deleted_in_audit: dict[Key, dict[str, set[str]]] = defaultdict(
            lambda: defaultdict(set)
        )
        self._audit_deletions: dict[str, tuple[str, str, str]] = {}
        self._escs: set[Key] = set()

    @classmethod
    def of(cls, *objects: JsonDict, platform_namespace: str = DEFAULT_PLATFORM_NAMESPACE) -> World:
        """A world holding ``objects`` (each with its ``kind``), for tests and tools."""
        world = cls(platform_namespace)
        for obj in objects:
            world.apply(str(obj.get("kind")), None, obj)
        return world

    # -- feeding -------------------------------------------------------------------------

    def apply(self, kind: str, old: JsonDict | None, new: JsonDict | None) -> None:
        """Follow one watch event: ``old`` None for an addition, ``new`` None for a deletion."""
        method = self._HANDLERS.get(kind)
        if method is None:
            return
        handler: Callable[[JsonDict, bool], None] = getattr(self, method)
        if old is not None:
            handler(old, False)
        if new is not None:
            handler(new, True)

    def _user(self, obj: JsonDict, present: bool) -> None:
        name = key_of(obj)[1]
        previous = self.users.pop(name, None)
        if previous is not None:
            if previous.kubernetes_username:
                self._users_by_kubernetes_name[previous.kubernetes_username].discard(name)
            if previous.email:
                self._users_by_email[previous.email.lower()].discard(name)
        if not present:
            return
        spec = _spec(obj)
        record = UserRecord(
            name=name,
            active=spec.get("active") is True,
            admin=spec.get("admin") is True,
            email=str(spec["email"]) if spec.get("email") else None,
            kubernetes_username=(
                str(spec["kubernetesUsername"]) if spec.get("kubernetesUsername") else None
            ),
        )
        self.users[name] = record
        if record.kubernetes_username:
            self._users_by_kubernetes_name[record.kubernetes_username].add(name)
        if record.email:
            self._users_by_email[record.email.lower()].add(name)

    def _permission(self, obj: JsonDict, present: bool) -> None:
        key = key_of(obj)
        previous = self._grants.pop(key, None)
        if previous is not None:
            self._grants_by_subject[previous.subject].pop(key, None)
        if not present:
            return
        try:
            grant = grant_of(Permission.model_validate(obj), self.platform_namespace)
        except pydantic.ValidationError:
            return  # not a Permission this version can read: it grants nothing here
        self._grants[key] = grant
        self._grants_by_subject[grant.subject][key] = grant

    def _maintenance(self, obj: JsonDict, present: bool) -> None:
        name = key_of(obj)[1]
        self.maintenances.pop(name, None)
        if not present:
            return
        spec = _spec(obj)
        change = last_change_of(obj)
        turned_on = change if change and AuditAction.MAINTENANCE_ON in change.actions else None
        self.maintenances[name] = MaintenanceRecord(
            name=name,
            # The schema's default; an object stored before a default existed counts as on.
            active=spec.get("active", True) is not False,
            message=str(spec.get("message") or ""),
            created=str(_meta(obj).get("creationTimestamp") or ""),
            turned_on=turned_on,
        )

    def _job(self, obj: JsonDict, present: bool) -> None:
        key = key_of(obj)
        previous = self.jobs.pop(key, None)
        if previous is not None:
            self._jobs_by_version[(key[0], previous.family, previous.version)].discard(key[1])
            self._jobs_by_family[(key[0], previous.family)].discard(key[1])
        if not present:
            return
        spec = _spec(obj)
        family, version = str(spec.get("name") or ""), str(spec.get("version") or "")
        record = JobRecord(
            namespace=key[0],
            name=key[1],
            family=family,
            version=version,
            created=str(_meta(obj).get("creationTimestamp") or ""),
            deployed_by=annotations_of(obj).get(ANNOTATION_DEPLOYED_BY),
            last_change=last_change_of(obj),
        )
        self.jobs[key] = record
        self._jobs_by_version[(key[0], family, version)].add(key[1])
        self._jobs_by_family[(key[0], family)].add(key[1])

    def _family(self, obj: JsonDict, present: bool) -> None:
        key = key_of(obj)
        self._families.pop(key, None)
        if present:
            self._families[key] = split_versions(
                annotations_of(obj).get(ANNOTATION_DELETED_VERSIONS)
            )

    def _esc(self, obj: JsonDict, present: bool) -> None:
        key = key_of(obj)
        if present:
            self._escs.add(key)
        else:
            self._escs.discard(key)

    def _audit_event(self, obj: JsonDict, present: bool) -> None:
        name = key_of(obj)[1]
        previous = self._audit_deletions.pop(name, None)
        if previous is not None:
            namespace, family, version = previous
            self._deleted_in_audit[(namespace, family)][version].discard(name)
        if not present:
            return
        spec = _spec(obj)
        if spec.get("action") != AuditAction.JOB_DELETED or spec.get("kind") != "Job":
            return
        namespace, family = str(spec.get("namespace") or ""), str(spec.get("family"))
        version = str(spec.get("version"))
        self._audit_deletions[name] = (namespace, family, version)
        self._deleted_in_audit[(namespace, family)][version].add(name)

    _HANDLERS: ClassVar[dict[str, str]] = {
        "User": "_user",
        "Permission": "_permission",
        "Maintenance": "_maintenance",
        "Job": "_job",
        "JobFamily": "_family",
        "ExternalServiceConsumer": "_esc",
        "AuditEvent": "_audit_event",
    }

    # -- questions -------------------------------------------------------------------------

    def user(self, name: str) -> UserRecord | None:
        return self.users.get(name)

    def users_with_kubernetes_username(self, username: str) -> list[UserRecord]:
        names = sorted(self._users_by_kubernetes_name.get(username, ()))
        return [self.users[name] for name in names]

    def users_with_email(self, email: str) -> list[UserRecord]:
        names = sorted(self._users_by_email.get(email.lower(), ()))
        return [self.users[name] for name in names]

    def grants_of(self, subject: SubjectRef) -> Iterable[Grant]:
        return self._grants_by_subject.get(subject, {}).values()

    def active_maintenances(self) -> list[MaintenanceRecord]:
        return sorted((m for m in self.maintenances.values() if m.active), key=lambda m: m.created)

    def jobs_of_version(self, namespace: str, family: str, version: str) -> set[str]:
        """Names of the Jobs that hold this family and version in the namespace."""
        return set(self._jobs_by_version.get((namespace, family, version), ()))

    def jobs_of_family(self, namespace: str, family: str) -> list[JobRecord]:
        names = self._jobs_by_family.get((namespace, family), ())
        return sorted((self.jobs[(namespace, n)] for n in names), key=lambda j: j.created)

    def family_exists(self, namespace: str, family: str) -> bool:
        """A JobFamily of that name, or a Job of it (the operator makes the family soon)."""
        return (namespace, family) in self._families or bool(
            self._jobs_by_family.get((namespace, family))
        )

    def deleted_versions(self, namespace: str, family: str) -> set[str]:
        recorded = set(self._families.get((namespace, family), ()))
        in_audit = self._deleted_in_audit.get((namespace, family), {})
        return recorded | {version for version, events in in_audit.items() if events}

    def esc_exists(self, namespace: str, name: str) -> bool:
        return (namespace, name) in self._escs
