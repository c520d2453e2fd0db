"""The auditor's work while it holds the Lease: transcribe stamps, settle pending events, prune.

- Transcribe: each stamped object the watches deliver (``racetrack.io/last-change``) becomes
  its AuditEvents. On taking the Lease (a start, a hand-over) every object is looked at once:
  stamps newer than the newest event less ``audit_catch_up_seconds`` are written if missing,
  so changes made while no auditor ran are recorded, and old ones whose events were pruned
  are not written again.
- Settle: pending events (an admitted deletion, an auth key rotation) are confirmed once the
  change is seen and dropped when it never happens (``audit.pending``); a confirmed Job
  deletion adds its version to the family's ``racetrack.io/deleted-versions``.
- Prune: retention (``audit.retention``) every ``audit_prune_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections import OrderedDict, defaultdict
from typing import Any

from racetrack_api.labels import (
    ANNOTATION_DELETED_VERSIONS,
    ANNOTATION_LAST_CHANGE,
    ANNOTATION_ROTATE_KEY_AT,
    AUTH_KEY_SECRET,
    LABEL_PENDING,
)
from racetrack_api.semver import semver_key
from racetrack_api.v1alpha1 import AuditEvent, JobFamily
from racetrack_api.v1alpha1.auditevent import AuditAction
from racetrack_kube import paths
from racetrack_kube.client import PARTIAL_METADATA, ApiError, JsonDict, Kube
from racetrack_webhooks import metrics
from racetrack_webhooks.audit import changes, pending, retention, transcribe
from racetrack_webhooks.feed import Feed
from racetrack_webhooks.rules.stamp import annotations_of
from racetrack_webhooks.rules.world import split_versions
from racetrack_webhooks.settings import Settings

log = logging.getLogger(__name__)

#: How many event names to remember as written (so a status update of a Job, which re-delivers
#: its stamp, never writes its event again, even after retention pruned it).
REMEMBERED = 200_000
WRITERS = 8
SETTLE_SECONDS = 1.0
#: A deleted object absent from the watch this long is taken as gone (the watch has had time
#: to show it, had it still existed).
ABSENT_SECONDS = 1.0


def _utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _time_of(event: JsonDict) -> datetime.datetime:
    spec = event.get("spec") or {}
    meta = event.get("metadata") or {}
    return (
        retention.parse_time(str(spec.get("time") or ""))
        or retention.parse_time(str(meta.get("creationTimestamp") or ""))
        or datetime.datetime.min.replace(tzinfo=datetime.UTC)
    )


class Auditor:
    def __init__(self, kube: Kube, feed: Feed, settings: Settings) -> None:
        self.kube = kube
        self.feed = feed
        self.settings = settings
        self.namespace = settings.platform_namespace
        self.leading = False
        self.cutoff = datetime.datetime.max.replace(tzinfo=datetime.UTC)
        self.queue: asyncio.Queue[JsonDict] = asyncio.Queue()
        self.written: OrderedDict[str, None] = OrderedDict()
        self._settle_now = asyncio.Event()
        self._deleted_to_record: dict[tuple[str, str], set[str]] = defaultdict(set)
        feed.listeners.append(self.on_change)

    # -- leadership ------------------------------------------------------------------------

    async def lead(self) -> None:
        await self.feed.wait_synced()
        times = [_time_of(event) for event in self.feed.store("AuditEvent").values()]
        newest = max(times) if times else _utcnow()
        self.cutoff = newest - datetime.timedelta(seconds=self.settings.audit_catch_up_seconds)
        self.leading = True
        for kind in changes.STAMPED_KINDS:
            for obj in list(self.feed.store(kind).values()):
                self._transcribe(kind, obj)
        self._settle_now.set()
        log.info("Auditing: catching up on changes since %s.", self.cutoff.isoformat())

    def lose(self) -> None:
        self.leading = False
        while not self.queue.empty():
            event = self.queue.get_nowait()
            self.written.pop(event["metadata"]["name"], None)

    # -- watching --------------------------------------------------------------------------

    def on_change(self, kind: str, old: JsonDict | None, new: JsonDict | None) -> None:
        if not self.leading:
            return
        if new is not None and kind in changes.STAMPED_KINDS and _stamp(new) != _stamp(old):
            # Status updates (most of a Job's events) carry the stamp they had: nothing new.
            self._transcribe(kind, new)
        deleting = new is not None and (new.get("metadata") or {}).get("deletionTimestamp")
        if new is None or deleting:
            self._settle_now.set()

    def _transcribe(self, kind: str, obj: JsonDict) -> None:
        store = self.feed.store("AuditEvent")
        for event in transcribe.stamped_events(kind, obj, self.feed.world):
            name = event["metadata"]["name"]
            if name in self.written or (self.namespace, name) in store:
                continue
            if _time_of(event) < self.cutoff:
                continue
            self._remember(name)
            self.queue.put_nowait(event)

    def _remember(self, name: str) -> None:
        self.written[name] = None
        while len(self.written) > REMEMBERED:
            self.written.popitem(last=False)

    # -- loops -----------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(
            *(self._write() for _ in range(WRITERS)), self._settle_loop(), self._prune_loop()
        )

    async def _write(self) -> None:
        while True:
            event = await self.queue.get()
            name = event["metadata"]["name"]
            failures = 0
            # Until it is written, or another replica audits (its catch-up writes it then).
            while self.leading:
                try:
                    created = await self.kube.create(
                        paths.racetrack(AuditEvent, self.namespace), event
                    )
                except (ApiError, OSError) as error:
                    if isinstance(error, ApiError) and _permanent(error.status):
                        log.error("The API server refused audit event %s: %s", name, error)
                        break
                    failures += 1
                    delay = min(30.0, 0.5 * 2**failures)
                    log.warning(
                        "Writing audit event %s failed (%s); retrying in %.0f s.",
                        name,
                        str(error)[:200],
                        delay,
                    )
                    await asyncio.sleep(delay)
                    continue
                if created is not None:
                    metrics.AUDIT_EVENTS_WRITTEN.labels(event["spec"]["action"]).inc()
                break
            else:
                self.written.pop(name, None)

    async def _settle_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settle_now.wait(), SETTLE_SECONDS)
            self._settle_now.clear()
            if not self.leading:
                continue
            try:
                await self.settle()
            except (ApiError, OSError) as error:
                log.warning("Settling pending audit events failed: %s", str(error)[:200])

    async def _prune_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.audit_prune_seconds)
            if self.leading:
                try:
                    await self.prune()
                except (ApiError, OSError) as error:
                    log.warning("Pruning audit events failed: %s", str(error)[:200])

    # -- settling and pruning --------------------------------------------------------------

    async def settle(self) -> None:
        now = _utcnow()
        waiting = [
            event
            for event in self.feed.store("AuditEvent").values()
            if (event["metadata"].get("labels") or {}).get(LABEL_PENDING) == "true"
        ]
        if waiting:
            happened = await self._what_happened(waiting, now)
            settlement = pending.settle(
                [self._pending(event) for event in waiting],
                lambda subject: happened.get(subject, False),
                now,
                datetime.timedelta(seconds=self.settings.audit_pending_grace_seconds),
            )
            by_name = {event["metadata"]["name"]: event for event in waiting}
            for name in settlement.confirm:
                await self._confirm(by_name[name])
            for name in settlement.drop:
                await self._delete(name, "refused")
        await self._record_deleted_versions()

    def _pending(self, event: JsonDict) -> pending.Pending:
        return pending.Pending(event["metadata"]["name"], _subject(event), _time_of(event))

    async def _what_happened(
        self, waiting: list[JsonDict], now: datetime.datetime
    ) -> dict[str, bool]:
        happened: dict[str, bool] = {}
        key_version: str | None = None
        if any((e.get("spec") or {}).get("kind") == "Secret" for e in waiting):
            secret = await self.kube.get(
                paths.secrets(self.namespace, AUTH_KEY_SECRET), accept=PARTIAL_METADATA
            )
            key_version = annotations_of(secret).get(ANNOTATION_ROTATE_KEY_AT)
        for event in waiting:
            spec = event.get("spec") or {}
            details = spec.get("details") or {}
            subject = _subject(event)
            if spec.get("kind") == "Secret":
                happened[subject] = key_version == details.get("rotateKeyAt")
                continue
            kind = str(spec.get("kind"))
            if kind not in self.feed.informers:
                happened[subject] = True  # not watched: nothing to wait for
                continue
            current = self.feed.store(kind).get(
                (str(spec.get("namespace") or ""), str(spec.get("name")))
            )
            if current is None:
                happened[subject] = (now - _time_of(event)).total_seconds() > ABSENT_SECONDS
            else:
                meta = current.get("metadata") or {}
                happened[subject] = meta.get("uid") != details.get("uid") or bool(
                    meta.get("deletionTimestamp")
                )
        return happened

    async def _confirm(self, event: JsonDict) -> None:
        name = event["metadata"]["name"]
        patch = {"metadata": {"labels": {LABEL_PENDING: None}}}
        try:
            await self.kube.merge_patch(paths.racetrack(AuditEvent, self.namespace, name), patch)
        except ApiError as error:
            if error.status != 404:
                raise
            return
        spec = event.get("spec") or {}
        if spec.get("action") == AuditAction.JOB_DELETED and spec.get("family"):
            key = (str(spec.get("namespace") or ""), str(spec["family"]))
            self._deleted_to_record[key].add(str(spec.get("version")))

    async def _record_deleted_versions(self) -> None:
        for key in list(self._deleted_to_record):
            family = self.feed.store("JobFamily").get(key)
            if family is None:
                del self._deleted_to_record[key]  # no family, nothing to remember it on
                continue
            meta = family.get("metadata") or {}
            known = split_versions(annotations_of(family).get(ANNOTATION_DELETED_VERSIONS))
            wanted = known | self._deleted_to_record[key]
            if wanted != known:
                value = ",".join(sorted(wanted, key=lambda v: (semver_key(v), v)))
                patch: dict[str, Any] = {
                    "metadata": {
                        "resourceVersion": meta.get("resourceVersion"),
                        "annotations": {ANNOTATION_DELETED_VERSIONS: value},
                    }
                }
                try:
                    await self.kube.merge_patch(paths.racetrack(JobFamily, key[0], key[1]), patch)
                except ApiError as error:
                    if error.status == 409:
                        continue  # the family changed meanwhile: next round, from its new state
                    if error.status != 404:
                        raise
            del self._deleted_to_record[key]

    async def prune(self) -> None:
        events = [
            retention.Stored(event["metadata"]["name"], _time_of(event))
            for event in self.feed.store("AuditEvent").values()
        ]
        max_age = self.settings.audit_max_age_days
        doomed = retention.to_prune(
            events,
            _utcnow(),
            self.settings.audit_max_events,
            datetime.timedelta(days=max_age) if max_age > 0 else None,
        )
        if doomed:
            log.info("Pruning %d audit events (retention).", len(doomed))
        for start in range(0, len(doomed), self.settings.api_concurrency):
            batch = doomed[start : start + self.settings.api_concurrency]
            await asyncio.gather(*(self._delete(name, "retention") for name in batch))

    async def _delete(self, name: str, why: str) -> None:
        try:
            await self.kube.request("DELETE", paths.racetrack(AuditEvent, self.namespace, name))
        except ApiError as error:
            if error.status != 404:
                raise
            return
        metrics.AUDIT_EVENTS_PRUNED.labels(why).inc()


def _permanent(status: int) -> bool:
    """The event itself is refused (malformed, invalid): it would be refused again. Anything
    else (RBAC, a missing namespace, an API server away) may be fixed: keep trying."""
    return status in (400, 422)


def _stamp(obj: JsonDict | None) -> str | None:
    return annotations_of(obj).get(ANNOTATION_LAST_CHANGE)


def _subject(event: JsonDict) -> str:
    spec = event.get("spec") or {}
    details = spec.get("details") or {}
    if spec.get("kind") == "Secret":
        return f"{details.get('uid')}@{details.get('rotateKeyAt')}"
    return str(details.get("uid") or event["metadata"]["name"])
