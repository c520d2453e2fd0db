"""What every reconciliation needs, built once at operator start and kept in kopf's memo."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Hashable
from typing import Any

from racetrack_kube.client import Api, JsonDict
from racetrack_kube.informer import Informer
from racetrack_operator.reconcile.build import BuildSlots
from racetrack_operator.reconcile.coalesce import Coalescer
from racetrack_operator.reconcile.events import KopfRecorder, Recorder
from racetrack_operator.reconcile.identity import IdentityState
from racetrack_operator.reconcile.jobqueue import JobQueue
from racetrack_operator.reconcile.jobstate import JobState
from racetrack_operator.reconcile.locks import KeyedLocks
from racetrack_operator.reconcile.requeue import Requeue
from racetrack_operator.render.family import Member
from racetrack_operator.settings import Settings


@dataclasses.dataclass
class Context:
    kube: Api
    settings: Settings
    recorder: Recorder = dataclasses.field(default_factory=KopfRecorder)
    locks: KeyedLocks = dataclasses.field(default_factory=KeyedLocks)
    # Families known to exist, so each is looked up once per process, not once per Job.
    known_families: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    # Deployment bodies waiting for a status refresh of their Job, by (namespace, job): a
    # newer event replaces the body instead of queueing one more refresh.
    waiting_refresh: dict[Hashable, dict[str, Any] | None] = dataclasses.field(default_factory=dict)
    # What the Deployment watch last said about each Job's Deployment (render.status's
    # deployment_view), so status refreshes and no-change checks need no GET.
    deployments: dict[tuple[str, str], dict[str, Any]] = dataclasses.field(default_factory=dict)
    # The watches of the Jobs' Services, by namespace (see reconcile.childwatch): a
    # reconciliation compares the Service with what they hold instead of reading it.
    services: list[Informer] = dataclasses.field(default_factory=list)
    # What the last reconciliation of each Job learnt (see reconcile.jobstate).
    jobs: dict[tuple[str, str], JobState] = dataclasses.field(default_factory=dict)
    # The Jobs of each family this process knows of (reconcile.family), and the families
    # whose Jobs it has listed once: from then on a sync reads its versions from ``jobs``.
    family_members: dict[tuple[str, str], set[str]] = dataclasses.field(default_factory=dict)
    families_listed: set[tuple[str, str]] = dataclasses.field(default_factory=set)
    # Jobs a family's list delivered that this process has not loaded yet, by (namespace,
    # name): until their own reconciliation loads them, a sync counts them as listed.
    family_listed_jobs: dict[tuple[str, str], Member] = dataclasses.field(default_factory=dict)
    # Reconciliations to run again later (waiting on the world, or after an error).
    requeue: Requeue = dataclasses.field(default_factory=Requeue)
    # Service writes in flight. The API server creates Services one after another (each
    # ClusterIP allocation is a write through its own rate-limited loopback client, about 50
    # a second), so a burst of them would hold every API thread while Deployments and status
    # writes of other Jobs wait behind them. A few at a time keep that queue in asyncio.
    service_writes: asyncio.Semaphore = dataclasses.field(
        default_factory=lambda: asyncio.Semaphore(4)
    )
    # The Job watch's events waiting for a worker (see reconcile.jobqueue); set at start-up.
    job_queue: JobQueue | None = None
    # The Job watches, by namespace (see reconcile.jobwatch): what a family's status needs of
    # every Job (render.family's member_view), and no more.
    job_watches: list[Informer] = dataclasses.field(default_factory=list)
    # Set once the Job watch has listed every Job: each has been handed to the job queue.
    jobs_listed: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    # Created on first use by ``racetrack_operator.reconcile.family.request_sync``.
    family_syncs: Coalescer | None = None
    # Image builds running in the cluster, and Jobs waiting for one to finish.
    builds: BuildSlots = dataclasses.field(default_factory=BuildSlots)
    # The auth key, token Secrets, subjects and Permissions (see reconcile.identity).
    identity: IdentityState = dataclasses.field(default_factory=IdentityState)
    # The child watches and the work their events start (see reconcile.childwatch).
    background: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)
    # Work that runs for as long as the operator does (the purge timer).
    timers: list[asyncio.Task[None]] = dataclasses.field(default_factory=list)
    # Set when a Job without a purge score appears or a version goes: the portfolio changed,
    # and the purge timer runs a pass soon instead of at its next interval.
    purge_due: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        if isinstance(self.recorder, KopfRecorder):
            self.recorder.bind(self.kube)

    def listed_service(self, namespace: str, name: str) -> JsonDict | None:
        """The Service as its watch last reported it (a slim view), or None."""
        return _watched(self.services, namespace, name)

    def listed_job(self, namespace: str, name: str) -> JsonDict | None:
        """The Job as its watch last reported it (a ``member_view``), or None."""
        return _watched(self.job_watches, namespace, name)


def _watched(watches: list[Informer], namespace: str, name: str) -> JsonDict | None:
    for watch in watches:
        found = watch.get(namespace, name)
        if found is not None:
            return found
    return None
