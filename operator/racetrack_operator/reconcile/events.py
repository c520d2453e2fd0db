"""Kubernetes events about our objects, behind a small interface so tests can read them.

In the operator, ``KopfRecorder`` hands each event to kopf, which posts it in the background
with the reporting component and instance configured at startup (``handlers.startup``).
kopf can only do that from within its own handlers; work that runs in our own background
tasks (a watch of Secrets, a key rotation re-issuing every token) posts the event itself, as
kopf would have written it.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any, Protocol, cast

import kopf

from racetrack_api import conditions
from racetrack_kube.client import Api

log = logging.getLogger(__name__)

SOURCE = "racetrack-operator"


class Recorder(Protocol):
    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        """Record an event about the object ``ref`` (apiVersion, kind, name, namespace, uid)."""


class KopfRecorder:
    def __init__(self) -> None:
        self._kube: Api | None = None
        self._posting: set[asyncio.Task[None]] = set()

    def bind(self, kube: Api) -> None:
        """The API to post through where kopf cannot (see the module's docstring)."""
        self._kube = kube

    def post(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        try:
            kopf.event(cast(kopf.Body, ref), type=type_, reason=reason, message=message)
        except LookupError:
            # Not inside a kopf handler: kopf's event queue is not reachable from here.
            if self._kube is None:
                return
            task = asyncio.get_running_loop().create_task(self._create(ref, type_, reason, message))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)

    async def _create(self, ref: dict[str, Any], type_: str, reason: str, message: str) -> None:
        meta = ref.get("metadata") or {}
        # Events of cluster-scoped objects go to "default", where kubectl describe looks.
        namespace = meta.get("namespace") or "default"
        now = conditions.now()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{SOURCE}-", "namespace": namespace},
            "involvedObject": {
                "apiVersion": ref.get("apiVersion"),
                "kind": ref.get("kind"),
                **{key: meta.get(key) for key in ("name", "namespace", "uid") if meta.get(key)},
            },
            "type": type_,
            "reason": reason,
            "message": message,
            "source": {"component": SOURCE, "host": socket.gethostname()},
            "reportingComponent": SOURCE,
            "reportingInstance": socket.gethostname(),
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        assert self._kube is not None
        try:
            await self._kube.create(f"/api/v1/namespaces/{namespace}/events", event)
        except Exception as error:  # an event is never worth failing the work it reports
            log.warning("Could not post event %s about %s: %s", reason, meta.get("name"), error)
