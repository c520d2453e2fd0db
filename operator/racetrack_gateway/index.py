"""The agent's in-memory view of the racetrack.io objects, fed by the informers' events.

Each event updates a small view (``model``) and marks the partitions of the tables it
touches; ``flush`` re-renders only those and returns what changed in the tables, which the
pusher turns into runtime-socket commands. Nothing here calls the API server or HAProxy.

Family names are what callers use (``/pub/job/<family>/...``), but JobFamilies are
namespaced: when two namespaces have a family of the same name, the oldest JobFamily is
served (ties: the namespace name first in order) and the others are logged as unreachable.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from collections import defaultdict
from typing import Any

from racetrack_api import jobphase
from racetrack_api.permissions import Grant
from racetrack_api.v1alpha1.permission import SubjectKind
from racetrack_gateway import model
from racetrack_gateway.model import Caller, Family, FamilyStatusView, JobView, MaintenanceView
from racetrack_gateway.partitions import Delta, PartitionId, Partitions
from racetrack_gateway.render import keys, tables
from racetrack_gateway.settings import Settings

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
Key = tuple[str, str]  # (namespace, name)

CALLER_KINDS = {
    "User": SubjectKind.USER,
    "ExternalServiceConsumer": SubjectKind.EXTERNAL_SERVICE_CONSUMER,
    "JobFamily": SubjectKind.JOB_FAMILY,
}
STATE: PartitionId = ("state",)


def _key(raw: JsonDict | None) -> Key:
    meta = (raw or {}).get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


@dataclasses.dataclass(frozen=True)
class ServerInfo:
    """Who a server is, for metrics and last call times."""

    namespace: str
    job: str
    family: str
    version: str


class Index:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.partitions = Partitions()
        self.callers: dict[PartitionId, Caller] = {}
        self.jobs: dict[Key, JobView] = {}
        self.family_status: dict[Key, FamilyStatusView] = {}
        self.services: dict[Key, str | None] = {}
        self.grants: dict[Key, Grant] = {}
        self.maintenances: dict[str, MaintenanceView] = {}
        self.routed: dict[str, Family] = {}
        self.servers: dict[str, ServerInfo] = {}
        self.last_calls: dict[Key, datetime.datetime] = {}
        """status.lastCallTime of each Job, as stored."""
        self.ready = False
        self._dirty: set[PartitionId] = {STATE}
        self._jobs_by_family: dict[str, set[Key]] = defaultdict(set)
        self._grants_by_family: dict[str, set[Key]] = defaultdict(set)
        self._conflicts_reported: set[str] = set()

    # -- events ------------------------------------------------------------------------------

    def on_change(self, kind: str, old: JsonDict | None, new: JsonDict | None) -> None:
        """One informer event (``old`` None: added; ``new`` None: deleted)."""
        key = _key(new if new is not None else old)
        if not self._watched(kind, key[0]):
            return
        if kind in CALLER_KINDS:
            self._caller(kind, key, new)
        if kind == "JobFamily":
            status = model.family_status(new) if new is not None else None
            self._replace(self.family_status, key, status)
            self._dirty.add(("family", key[1]))
        elif kind == "Job":
            self._job(key, model.job(new) if new is not None else None)
            self._replace(self.last_calls, key, jobphase.last_call(new) if new else None)
        elif kind == "Service":
            address = model.service_address(new) if new is not None else None
            self.services.pop(key, None)
            if new is not None:
                self.services[key] = address
            job = self.jobs.get(key)
            if job is not None:
                self._dirty.add(("family", job.family))
        elif kind == "Permission":
            self._grant(key, new)
        elif kind == "Maintenance":
            maintenance = model.maintenance(new) if new is not None else None
            self._replace(self.maintenances, key[1], maintenance)
            self._dirty.add(STATE)

    def set_ready(self, ready: bool) -> None:
        if ready != self.ready:
            self.ready = ready
            self._dirty.add(STATE)

    def mark_all(self) -> None:
        """Re-render everything at the next flush (after a full list, for instance)."""
        self._dirty |= {("family", name) for _, name in self.family_status}
        self._dirty |= {("family", job.family) for job in self.jobs.values()}
        self._dirty |= {("grant", *key) for key in self.grants}
        self._dirty |= set(self.callers) | {STATE}

    # -- rendering ---------------------------------------------------------------------------

    def flush(self, now: datetime.datetime) -> Delta:
        """Re-render the partitions marked since the last flush; what changed in the tables."""
        delta = Delta()
        self._dirty |= {part for part, caller in self.callers.items() if _expired(caller, now)}
        dirty, self._dirty = self._dirty, set()
        families = sorted(part for part in dirty if part[0] == "family")
        for part in families:
            if self._refresh_family(part[1]):
                dirty |= {("grant", *key) for key in self._grants_by_family.get(part[1], ())}
        buckets = self.settings.buckets
        for part in sorted(dirty):
            kind = part[0]
            entries: tables.Entries | None = None
            if kind == "caller":
                caller = self.callers.get(part)
                entries = tables.caller_entries(caller, now) if caller else None
            elif kind == "family":
                family = self.routed.get(part[1])
                entries = tables.family_entries(family, buckets) if family else None
            elif kind == "grant":
                grant = self.grants.get((part[1], part[2]))
                entries = tables.grant_entries(grant, self.routed) if grant else None
            elif kind == "state":
                entries = tables.state_entries(self.ready, self.maintenance_message())
            delta.extend(self.partitions.update(part, entries))
        return delta

    def world(self) -> tables.World:
        return tables.World(
            callers=tuple(self.callers.values()),
            families=dict(self.routed),
            grants=tuple(self.grants.values()),
            ready=self.ready,
            maintenance_message=self.maintenance_message(),
        )

    def maintenance_message(self) -> str | None:
        """The message of the oldest Maintenance blocking calls, or None when none does."""
        blocking = sorted(
            (m.created, m.name, m.message) for m in self.maintenances.values() if m.blocks_calls
        )
        return blocking[0][2] if blocking else None

    def next_expiry(self, now: datetime.datetime) -> datetime.datetime | None:
        future = [
            c.expires_at for c in self.callers.values() if c.expires_at and c.expires_at > now
        ]
        return min(future) if future else None

    # -- internals ---------------------------------------------------------------------------

    def _watched(self, kind: str, namespace: str) -> bool:
        allowed = self.settings.namespaces
        if not allowed or not namespace:
            return True
        if kind == "Permission" and namespace == self.settings.platform_namespace:
            return True
        return namespace in allowed

    def _caller(self, kind: str, key: Key, new: JsonDict | None) -> None:
        part: PartitionId = ("caller", kind, *key)
        view = model.caller(CALLER_KINDS[kind], new) if new is not None else None
        self._replace(self.callers, part, view)
        self._dirty.add(part)

    def _job(self, key: Key, view: JobView | None) -> None:
        old = self.jobs.get(key)
        if old == view:
            return  # only its status changed: nothing the tables hold
        if old is not None:
            self._jobs_by_family[old.family].discard(key)
            self._dirty.add(("family", old.family))
        self._replace(self.jobs, key, view)
        if view is not None:
            self._jobs_by_family[view.family].add(key)
            self._dirty.add(("family", view.family))

    def _grant(self, key: Key, new: JsonDict | None) -> None:
        old = self.grants.get(key)
        if old is not None and old.family is not None:
            self._grants_by_family[old.family].discard(key)
        grant = model.call_grant(new, self.settings.platform_namespace) if new else None
        self._replace(self.grants, key, grant)
        if grant is not None and grant.family is not None:
            self._grants_by_family[grant.family].add(key)
        self._dirty.add(("grant", *key))

    def _refresh_family(self, name: str) -> bool:
        """Recompute the routed view of a family name; whether it changed."""
        old = self.routed.get(name)
        new = self._route(name)
        if old is not None:
            for v in old.versions:
                self.servers.pop(keys.server_name(old.namespace, v.job), None)
        if new is None:
            self.routed.pop(name, None)
        else:
            self.routed[name] = new
            for v in new.versions:
                self.servers[keys.server_name(new.namespace, v.job)] = ServerInfo(
                    new.namespace, v.job, name, v.version
                )
        return old != new

    def _route(self, name: str) -> Family | None:
        namespaces = {ns for ns, family in self.family_status if family == name}
        namespaces |= {ns for ns, _ in self._jobs_by_family.get(name, ())}
        if not namespaces:
            return None

        def age(ns: str) -> tuple[int, str, str]:
            status = self.family_status.get((ns, name))
            return (0, status.created, ns) if status else (1, "", ns)

        namespace = min(namespaces, key=age)
        if len(namespaces) > 1 and name not in self._conflicts_reported:
            self._conflicts_reported.add(name)
            log.warning(
                "Job family %s exists in namespaces %s; serving the one in %s (the oldest).",
                name,
                ", ".join(sorted(namespaces)),
                namespace,
            )
        status = self.family_status.get((namespace, name))
        serving = (
            {version: (job, ready) for version, job, ready in status.versions} if status else {}
        )
        versions = []
        for ns, job_name in sorted(self._jobs_by_family.get(name, ())):
            job = self.jobs.get((ns, job_name))
            if ns != namespace or job is None:
                continue
            listed_job, ready = serving.get(job.version, (None, False))
            versions.append(
                model.Version(
                    version=job.version,
                    job=job.name,
                    serving=ready and listed_job == job.name,
                    upstream=self._upstream(job),
                    public_endpoints=job.public_endpoints,
                )
            )
        # Two Jobs claiming one version (the operator reports it): the older one serves.
        unique: dict[str, model.Version] = {}
        for v in sorted(versions, key=lambda v: (self.jobs[(namespace, v.job)].created, v.job)):
            unique.setdefault(v.version, v)
        return Family(namespace, name, tuple(sorted(unique.values(), key=lambda v: v.version)))

    def _upstream(self, job: JobView) -> str | None:
        if self.settings.allow_upstream_override and job.upstream_override:
            return job.upstream_override
        return self.services.get((job.namespace, job.name))

    @staticmethod
    def _replace(store: dict[Any, Any], key: Any, value: Any) -> None:
        if value is None:
            store.pop(key, None)
        else:
            store[key] = value


def _expired(caller: Caller, now: datetime.datetime) -> bool:
    return caller.expires_at is not None and caller.expires_at <= now
