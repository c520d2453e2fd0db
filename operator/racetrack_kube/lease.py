"""A Lease (``coordination.k8s.io/v1``) that lets one replica at a time do a job: the
webhooks' auditor writing audit events, the operator reconciling.

The holder renews it every third of its duration; another replica takes it over once it has
not been renewed for a whole duration, or at once when the holder released it on shutdown.
Writes carry the Lease's resourceVersion, so two replicas never both believe they hold it
after the same read. A holder that cannot renew for two thirds of a duration steps down by
itself, before anyone may take over, unless it is asked to keep leading while the API server
is unreachable (then it steps down when a read shows another holder).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import urllib3

from racetrack_kube.client import ApiError, Kube

log = logging.getLogger(__name__)
MICRO_TIME = "%Y-%m-%dT%H:%M:%S.%fZ"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _parse(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value)
    except ValueError:
        return None


class LeaseElector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        identity: str,
        duration: float,
        on_lead: Callable[[], Awaitable[None]],
        on_lose: Callable[[], None],
        role: str,
        activity: str,
        step_down_when_unreachable: bool = True,
    ) -> None:
        self.kube = kube
        self.path = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}"
        self.collection = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
        self.name = name
        self.identity = identity
        self.duration = duration
        self.on_lead = on_lead
        self.on_lose = on_lose
        #: Who holds it, for the log: "the auditor's Lease".
        self.role = role
        #: What it stops doing when it steps down: "auditing".
        self.activity = activity
        #: False: keep leading while the API server cannot be reached (no one else can take
        #: the Lease then either) and look again every second, stepping down as soon as a
        #: read shows another holder.
        self.step_down_when_unreachable = step_down_when_unreachable
        self.leading = False
        self._renewed: datetime.datetime | None = None

    async def run(self) -> None:
        try:
            while True:
                interval = self.duration / 3
                try:
                    await self._round()
                except (ApiError, OSError, urllib3.exceptions.HTTPError) as error:
                    # No answer at all comes as urllib3's errors, which are not OSErrors.
                    log.warning("Renewing the %s's Lease failed: %s", self.role, str(error)[:200])
                    if not self.step_down_when_unreachable:
                        interval = min(interval, 1.0)
                if self.step_down_when_unreachable:
                    self._step_down_if_stale()
                await asyncio.sleep(interval)
        finally:
            if self.leading:
                self.leading = False
                self.on_lose()

    async def release(self) -> None:
        """Give the Lease up (on shutdown), so another replica takes over at once rather than
        after a whole duration."""
        if not self.leading:
            return
        self.leading = False
        self.on_lose()
        try:
            lease = await self.kube.get(self.path)
            if lease is None or (lease.get("spec") or {}).get("holderIdentity") != self.identity:
                return
            body = self._body(lease, _now(), int(lease["spec"].get("leaseTransitions") or 0))
            body["spec"]["holderIdentity"] = None
            body["spec"]["leaseDurationSeconds"] = 1
            await self.kube.replace(self.path, body)
            log.info("Released the %s's Lease %s.", self.role, self.name)
        except (ApiError, OSError, urllib3.exceptions.HTTPError) as error:
            log.warning("Releasing the %s's Lease failed: %s", self.role, str(error)[:200])

    async def _round(self) -> None:
        lease = await self.kube.get(self.path)
        now = _now()
        if lease is None:
            created = await self.kube.create(self.collection, self._body(None, now, 0))
            if created is not None:
                await self._won(now)
            return
        spec: dict[str, Any] = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        renewed = _parse(spec.get("renewTime")) or _parse(spec.get("acquireTime"))
        expired = (
            not holder
            or renewed is None
            or (now - renewed).total_seconds() > float(spec.get("leaseDurationSeconds") or 0)
        )
        if holder != self.identity and not expired:
            if self.leading:
                log.warning(
                    "%s holds the %s's Lease now; stopped %s.", holder, self.role, self.activity
                )
                self.leading = False
                self.on_lose()
            return
        transitions = int(spec.get("leaseTransitions") or 0) + (holder != self.identity)
        body = self._body(lease, now, transitions)
        if holder == self.identity and spec.get("acquireTime"):
            body["spec"]["acquireTime"] = spec["acquireTime"]
        await self.kube.replace(self.path, body)
        await self._won(now)

    async def _won(self, now: datetime.datetime) -> None:
        self._renewed = now
        if not self.leading:
            self.leading = True
            log.info("Took the %s's Lease %s as %s.", self.role, self.name, self.identity)
            await self.on_lead()

    def _step_down_if_stale(self) -> None:
        if not self.leading or self._renewed is None:
            return
        if (_now() - self._renewed).total_seconds() > self.duration * 2 / 3:
            # Before anyone else may take over (a whole duration), stop.
            log.warning("Could not renew the %s's Lease in time; stepping down.", self.role)
            self.leading = False
            self.on_lose()

    def _body(
        self, existing: dict[str, Any] | None, now: datetime.datetime, transitions: int
    ) -> dict[str, Any]:
        stamp = now.strftime(MICRO_TIME)
        metadata: dict[str, Any] = {"name": self.name}
        if existing is not None:
            metadata["resourceVersion"] = existing["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": max(1, round(self.duration)),
                "acquireTime": stamp,
                "renewTime": stamp,
                "leaseTransitions": transitions,
            },
        }
