"""The watches that keep the world: one informer per kind the rules and the auditor read.

Every change goes first into the :class:`~racetrack_webhooks.rules.world.World` (so the next
admission request sees it), then to the listeners (the auditor). Until every informer has
listed once, the webhooks refuse admission requests (see ``server.app``): answering from a
half-filled world could miss an active Maintenance.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from racetrack_api.meta import CustomResource
from racetrack_api.v1alpha1 import (
    AuditEvent,
    ExternalServiceConsumer,
    Job,
    JobFamily,
    Maintenance,
    Permission,
    User,
)
from racetrack_kube import paths
from racetrack_kube.client import JsonDict, Kube
from racetrack_kube.informer import Informer
from racetrack_webhooks.rules.world import World

Listener = Callable[[str, JsonDict | None, JsonDict | None], None]

#: Every kind watched in every namespace, but the audit events: only the platform namespace's.
WATCHED: tuple[type[CustomResource], ...] = (
    User,
    Permission,
    Maintenance,
    Job,
    JobFamily,
    ExternalServiceConsumer,
)


class Feed:
    def __init__(self, kube: Kube, world: World) -> None:
        self.world = world
        self.listeners: list[Listener] = []
        self.informers: dict[str, Informer] = {
            kind.crd.kind: Informer(kube, kind.crd.kind, paths.racetrack(kind), self._changed)
            for kind in WATCHED
        }
        self.informers["AuditEvent"] = Informer(
            kube,
            "AuditEvent",
            paths.racetrack(AuditEvent, world.platform_namespace),
            self._changed,
        )

    def synced(self) -> bool:
        return all(informer.synced.is_set() for informer in self.informers.values())

    async def wait_synced(self) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self.informers.values()))

    def store(self, kind: str) -> dict[tuple[str, str], JsonDict]:
        return self.informers[kind].store

    async def run(self) -> None:
        await asyncio.gather(*(informer.run() for informer in self.informers.values()))

    def _changed(self, kind: str, old: JsonDict | None, new: JsonDict | None) -> None:
        self.world.apply(kind, old, new)
        for listener in self.listeners:
            listener(kind, old, new)
